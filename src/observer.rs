//! One observer per OceanBase cluster (docs/contributing/design.md §3): it reads the cluster's
//! `CDB_` views in a constant number of queries per cycle, fast while anything it watches is active
//! and slow when idle, keeps the last snapshot, and wakes only the objects whose slice of that
//! snapshot changed. Controllers never poll OceanBase per object: they read the snapshot and send
//! statements only to change something.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use kube::Client;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

mod cadence;
mod change;
mod cluster_metrics;
mod connection;
mod history;
mod interest;
mod observation;

use change::{Fingerprints, changes_under_way, is_busy};
use history::Histories;
use interest::WantedRows;
pub use interest::{Interest, finished_rows_wanted};
pub use observation::{Observation, archive_lag};

use crate::{
    metrics::{ClusterLabels, Metrics},
    oceanbase::{Connect, OceanBase, Reach, Snapshot, SnapshotRequest},
    sync::lock,
};

/// How often to poll while something watched is active, and while everything is idle.
#[derive(Clone, Copy, Debug)]
pub struct PollIntervals {
    pub active: Duration,
    pub idle: Duration,
}

impl PollIntervals {
    /// How often, while a cluster is polled fast, what changes by itself without anyone waiting on it to
    /// the second is read too ([`crate::oceanbase::Reach::Changing`]): every few active polls, never later
    /// than the idle poll.
    pub fn changing(&self) -> Duration {
        (self.active * crate::timing::CHANGING_EVERY).min(self.idle)
    }
}

impl Default for PollIntervals {
    fn default() -> Self {
        Self {
            active: crate::timing::ACTIVE_POLL,
            idle: crate::timing::IDLE_POLL,
        }
    }
}

/// A cluster as the operator knows it: where its login comes from (a connection Secret or an ob-operator
/// OBCluster, in the namespace of the objects using it).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterKey {
    pub namespace: String,
    pub source: crate::api::common::ClusterSource,
}

impl ClusterKey {
    /// The key of `cluster` as objects in `namespace` reach it.
    pub fn of(namespace: &str, cluster: &crate::api::common::ClusterConnection) -> Self {
        Self {
            namespace: namespace.to_string(),
            source: cluster.source(),
        }
    }
}

/// An object that wants to be woken when its slice of a snapshot changes.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ObjectKey {
    /// The kind, e.g. `BackupTask`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// The observers of every cluster, and where they send wake-ups (one channel per kind).
pub struct Observers {
    client: Client,
    connector: Arc<dyn Connect>,
    metrics: Arc<Metrics>,
    intervals: PollIntervals,
    clusters: Mutex<HashMap<ClusterKey, Arc<ClusterObserver>>>,
    /// The cluster each watching object watches (one at most): when an object moves, only that one's
    /// observer is told to forget it, not every cluster's at every reconcile.
    watching: Mutex<HashMap<ObjectKey, ClusterKey>>,
    wakers: Mutex<HashMap<&'static str, mpsc::UnboundedSender<ObjectKey>>>,
    shutdown: CancellationToken,
    ob_operator: Mutex<crate::oboperator::ObOperator>,
}

impl Observers {
    /// A registry; observers start when first asked for and stop when nothing watches them.
    pub fn new(
        client: Client,
        connector: Arc<dyn Connect>,
        metrics: Arc<Metrics>,
        intervals: PollIntervals,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            connector,
            metrics,
            intervals,
            clusters: Mutex::default(),
            watching: Mutex::default(),
            wakers: Mutex::default(),
            shutdown,
            ob_operator: Mutex::default(),
        })
    }

    /// The wake-ups for objects of `kind`.
    pub fn wake_ups(&self, kind: &'static str) -> mpsc::UnboundedReceiver<ObjectKey> {
        let (sender, receiver) = mpsc::unbounded_channel();
        lock(&self.wakers).insert(kind, sender);
        receiver
    }

    /// The observer of a cluster, started if needed. `name` is its display name (metrics labels).
    pub fn observe(self: &Arc<Self>, key: ClusterKey, name: &str) -> Arc<ClusterObserver> {
        let mut clusters = lock(&self.clusters);
        if let Some(observer) = clusters.get(&key) {
            return observer.clone();
        }
        let observer = Arc::new(ClusterObserver {
            key: key.clone(),
            labels: ClusterLabels {
                namespace: key.namespace.clone(),
                cluster: name.to_string(),
            },
            latest: Mutex::new(Observation::Unknown),
            interests: Mutex::default(),
            poke: Notify::new(),
            backend: Mutex::default(),
            address: Mutex::default(),
            identity: Mutex::default(),
            refusal: Mutex::default(),
            histories: Mutex::default(),
            recorded: Mutex::default(),
            wanted: Mutex::default(),
        });
        clusters.insert(key, observer.clone());
        tokio::spawn(self.clone().poll_loop(observer.clone()));
        observer
    }

    /// The latest snapshot of every cluster observed, with the cluster's display name (`namespace/name`).
    pub fn snapshots(&self) -> Vec<(String, Arc<Snapshot>)> {
        let clusters: Vec<Arc<ClusterObserver>> = lock(&self.clusters).values().cloned().collect();
        clusters
            .iter()
            .filter_map(|observer| match observer.latest() {
                Observation::Seen { snapshot, .. } => Some((
                    format!("{}/{}", observer.labels.namespace, observer.labels.cluster),
                    snapshot,
                )),
                _ => None,
            })
            .collect()
    }

    /// Watches (or, with `None`, stops watching) `observer`'s cluster for `object`, and stops watching any
    /// other cluster for it: an object whose cluster changed (its Secret, its strategy's) follows the new
    /// one only, and the old one's observer stops once nothing else watches it.
    pub fn watch(&self, observer: &ClusterObserver, object: ObjectKey, interest: Option<Interest>) {
        let now = interest.is_some().then_some(&observer.key);
        if let Some(before) = self.moved(&object, now)
            && before != observer.key
        {
            self.forget_at(&before, &object);
        }
        observer.watch(object, interest);
    }

    /// Records that `object` now watches the cluster `now` (none: no cluster); returns the cluster it
    /// watched before when that changed.
    fn moved(&self, object: &ObjectKey, now: Option<&ClusterKey>) -> Option<ClusterKey> {
        let mut watching = lock(&self.watching);
        let Some(now) = now else {
            return watching.remove(object);
        };
        match watching.get_mut(object) {
            Some(at) if at == now => None,
            Some(at) => Some(std::mem::replace(at, now.clone())),
            None => {
                watching.insert(object.clone(), now.clone());
                None
            }
        }
    }

    /// Tells the observer of cluster `key`, if it runs, to forget `object`.
    fn forget_at(&self, key: &ClusterKey, object: &ObjectKey) {
        let observer = lock(&self.clusters).get(key).cloned();
        if let Some(observer) = observer {
            observer.forget(object);
        }
    }

    /// Stops watching every cluster for `object`.
    pub fn unwatch(&self, object: &ObjectKey) {
        if let Some(before) = self.moved(object, None) {
            self.forget_at(&before, object);
        }
    }

    /// Stops watching for every object of `kind` that `alive` says is gone. A deleted object gets no
    /// reconcile to unwatch itself; without this its interest (and the description every read searches for)
    /// stays for the life of the process. Returns how many were dropped.
    pub fn forget_missing(&self, kind: &str, alive: impl Fn(&ObjectKey) -> bool) -> usize {
        let all: Vec<Arc<ClusterObserver>> = lock(&self.clusters).values().cloned().collect();
        let mut forgotten = 0;
        for observer in all {
            let gone: Vec<ObjectKey> = lock(&observer.interests)
                .keys()
                .filter(|k| k.kind == kind && !alive(k))
                .cloned()
                .collect();
            forgotten += gone.len();
            for object in gone {
                observer.forget(&object);
                let mut watching = lock(&self.watching);
                if watching.get(&object) == Some(&observer.key) {
                    watching.remove(&object);
                }
            }
        }
        forgotten
    }

    /// How many objects of `kind` are watched, over every cluster.
    pub fn watched(&self, kind: &str) -> usize {
        lock(&self.clusters)
            .values()
            .map(|o| lock(&o.interests).keys().filter(|k| k.kind == kind).count())
            .sum()
    }

    /// Wakes `object`'s controller (as a change in its slice of a snapshot does).
    pub fn wake(&self, object: &ObjectKey) {
        if let Some(sender) = lock(&self.wakers).get(object.kind) {
            let _ = sender.send(object.clone());
        }
    }

    /// The observer's loop: read, wake whoever's slice changed, sleep, until nothing is watched.
    async fn poll_loop(self: Arc<Self>, observer: Arc<ClusterObserver>) {
        let mut failures = 0u32;
        let mut fingerprints = Fingerprints::default();
        let mut reported = (0u64, 0u64);
        let mut idle_cycles = 0;
        let mut cadence = cadence::Cadence::default();
        let mut poked = false;
        let mut under_way = false;
        loop {
            let interests = lock(&observer.interests).clone();
            if interests.is_empty() {
                idle_cycles += 1;
                if idle_cycles > 2 {
                    break;
                }
            } else {
                idle_cycles = 0;
            }
            let reading = tokio::time::Instant::now();
            let waited_on = under_way || interests.values().any(Interest::waits_on_changes);
            let (observation, reach) = self
                .read_cycle(&observer, &interests, &mut cadence, poked, waited_on)
                .await;
            let read_ms = reading.elapsed().as_millis();
            self.count_round_trips(&observer, &mut reported);
            let active = match &observation {
                Observation::Seen { snapshot, .. } => {
                    failures = 0;
                    // What the series show changes only in a read of what changes (the lags move by the
                    // clock: every few seconds is fresh enough for an alert measured in minutes).
                    if reach >= Reach::Changing {
                        lock(&observer.recorded).record(
                            &self.metrics,
                            &observer.labels,
                            snapshot,
                            crate::clock::now(),
                        );
                    }
                    under_way = changes_under_way(snapshot);
                    interests.values().any(|i| i.active) || is_busy(snapshot)
                }
                _ => {
                    failures = failures.saturating_add(1);
                    false
                }
            };
            self.metrics
                .cluster_reachable
                .get_or_create(&observer.labels)
                .set(i64::from(matches!(observation, Observation::Seen { .. })));
            *lock(&observer.latest) = observation.clone();
            let woken = fingerprints.changed(&observation, &interests, reach);
            for object in &woken {
                self.wake(object);
            }
            tracing::trace!(
                cluster = %observer.labels.cluster,
                ?reach,
                waited_on,
                read_ms,
                watched = interests.len(),
                woken = woken.len(),
                "cluster read"
            );
            let pause = self.pause(failures, active);
            match self.rest(&observer, pause, failures > 0).await {
                Some(was_poked) => poked = was_poked,
                None => break,
            }
        }
        lock(&self.clusters).remove(&observer.key);
        lock(&observer.recorded).forget_all(&self.metrics, &observer.labels);
        tracing::debug!(cluster = %observer.labels.cluster, "observer stopped");
    }

    /// Waits `pause` before the next read, or less if poked (an interest changed, a statement went out) —
    /// except while the cluster cannot be read (`failing`): then a poke waits for the backoff's end, so that
    /// a cluster still down sees one connection attempt per step however often its objects change, and the
    /// read after it is whole. Returns whether it was poked; `None` at shutdown.
    async fn rest(
        &self,
        observer: &ClusterObserver,
        pause: Duration,
        failing: bool,
    ) -> Option<bool> {
        let resume = tokio::time::Instant::now() + pause;
        let mut poked = false;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(resume) => return Some(poked),
                () = observer.poke.notified() => {
                    poked = true;
                    if !failing {
                        return Some(true);
                    }
                }
                () = self.shutdown.cancelled() => return None,
            }
        }
    }

    /// Adds the SQL round trips (and failed ones) the backend made since `reported` to the cluster's counters.
    fn count_round_trips(&self, observer: &ClusterObserver, reported: &mut (u64, u64)) {
        if let Some(backend) = lock(&observer.backend).clone() {
            let now = backend.round_trips();
            self.metrics
                .sql_round_trips
                .get_or_create(&observer.labels)
                .inc_by(now.0.saturating_sub(reported.0));
            self.metrics
                .sql_errors
                .get_or_create(&observer.labels)
                .inc_by(now.1.saturating_sub(reported.1));
            *reported = now;
        }
    }

    /// How long to wait before the next read: short while something is active, long while idle, backing
    /// off while the cluster cannot be read.
    fn pause(&self, failures: u32, active: bool) -> Duration {
        match failures {
            0 if active => self.intervals.active,
            0 => self.intervals.idle,
            n => crate::timing::unreachable_backoff(n),
        }
    }

    /// One cycle's read ([`cadence`]) of the reach due (after a poke, and while what changes by itself is
    /// `waited_on`, more), completed from the last reads, or followed by a whole read at once when it shows
    /// a change; and the reach it finally had.
    async fn read_cycle(
        &self,
        observer: &ClusterObserver,
        interests: &change::Watching,
        cadence: &mut cadence::Cadence,
        poked: bool,
        waited_on: bool,
    ) -> (Observation, Reach) {
        let mut reach = cadence.reach(
            poked,
            waited_on,
            &self.intervals,
            tokio::time::Instant::now(),
        );
        let observation = match self.read(observer, interests, reach).await {
            Observation::Seen { snapshot, at } if reach < Reach::Whole => {
                match cadence.complete(Arc::unwrap_or_clone(snapshot), reach) {
                    Some(completed) => Observation::Seen {
                        snapshot: Arc::new(completed),
                        at,
                    },
                    None => {
                        reach = Reach::Whole;
                        self.read(observer, interests, reach).await
                    }
                }
            }
            other => other,
        };
        match &observation {
            Observation::Seen { snapshot, .. } => {
                cadence.record(snapshot, reach, tokio::time::Instant::now());
            }
            _ => cadence.forget(),
        }
        (observation, reach)
    }

    async fn read(
        &self,
        observer: &ClusterObserver,
        interests: &change::Watching,
        reach: Reach,
    ) -> Observation {
        let now = crate::clock::now();
        let since = match &*lock(&observer.latest) {
            Observation::Unreachable { since, .. } => *since,
            _ => now,
        };
        let backend = match self.backend(observer).await {
            Ok(backend) => backend,
            Err(reason) => return Observation::Unreachable { reason, since },
        };
        let wanted = lock(&observer.wanted).of(interests, now);
        let (descriptions, jobs_ended_since) = (&wanted.0, wanted.1);
        let external = interests.values().any(|i| i.external);
        let (clean_since, external_since) = {
            let histories = lock(&observer.histories);
            (
                histories.clean_since(now),
                external.then(|| histories.external_since(now)),
            )
        };
        let request = SnapshotRequest {
            descriptions,
            jobs_ended_since,
            clean_since,
            restores: interests.values().any(|i| i.restore),
            external: external_since,
            reach,
        };
        match backend.snapshot(request).await {
            Ok(mut snapshot) => {
                lock(&observer.histories).fold(&mut snapshot, external);
                Observation::Seen {
                    snapshot: Arc::new(snapshot),
                    at: now,
                }
            }
            Err(error) => {
                // Read the Secret again next time: the password may have been rotated.
                *lock(&observer.backend) = None;
                Observation::Unreachable {
                    reason: error.to_string(),
                    since,
                }
            }
        }
    }
}

/// One cluster's observer.
pub struct ClusterObserver {
    key: ClusterKey,
    labels: ClusterLabels,
    latest: Mutex<Observation>,
    /// Shared with each read as it is (a read takes the map, not a copy of it); a change copies it only
    /// while a read still holds the old one.
    interests: Mutex<Arc<HashMap<ObjectKey, Interest>>>,
    poke: Notify,
    backend: Mutex<Option<Arc<dyn OceanBase>>>,
    /// `host:port` the backend connects to.
    address: Mutex<Option<String>>,
    /// Who the cluster said it is.
    identity: Mutex<Option<crate::oceanbase::ClusterIdentity>>,
    /// Why the cluster is not used (another cluster than its OBCluster says).
    refusal: Mutex<Option<String>>,
    /// The finished jobs it remembers between reads.
    histories: Mutex<Histories>,
    /// The tenants it exported series for.
    recorded: Mutex<cluster_metrics::Recorded>,
    /// The finished rows its watch list asks for.
    wanted: Mutex<WantedRows>,
}

impl ClusterObserver {
    /// Watches (or stops watching, with `None`) for an object; see [`Observers::watch`].
    fn watch(&self, object: ObjectKey, interest: Option<Interest>) {
        let Some(interest) = interest else {
            return self.forget(&object);
        };
        let mut interests = lock(&self.interests);
        if interests.get(&object) == Some(&interest) {
            return;
        }
        Arc::make_mut(&mut interests).insert(object, interest);
        drop(interests);
        self.poke();
    }

    /// Stops watching for `object`, if it watched for it (every reconcile asks this of every other cluster,
    /// so nothing is copied for a cluster that does not hold it).
    fn forget(&self, object: &ObjectKey) {
        let mut interests = lock(&self.interests);
        if !interests.contains_key(object) {
            return;
        }
        Arc::make_mut(&mut interests).remove(object);
        drop(interests);
        self.poke();
    }

    /// The latest observation.
    pub fn latest(&self) -> Observation {
        lock(&self.latest).clone()
    }

    /// Asks for a new read now (after a statement changed something).
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::change::fingerprint;
    use super::*;
    use crate::oceanbase::State;
    use crate::oceanbase::{ArchiveRound, BackupJobRow, TenantRow};

    fn snapshot(checkpoint: u64, job_status: &str) -> Observation {
        Observation::Seen {
            snapshot: Arc::new(Snapshot {
                tenants: vec![TenantRow {
                    id: 1002,
                    name: "tenant1".into(),
                    status: State::of("NORMAL"),
                    role: State::of("PRIMARY"),
                    archivelog: true,
                }],
                rounds: vec![ArchiveRound {
                    tenant_id: 1002,
                    round_id: 1,
                    status: State::of("DOING"),
                    start_scn: 1,
                    checkpoint_scn: checkpoint,
                    path: "file:///a".into(),
                    comment: String::new(),
                }],
                jobs: vec![BackupJobRow {
                    tenant_id: 1002,
                    job_id: 1,
                    backup_set_id: 1,
                    backup_type: State::of("FULL"),
                    status: State::of(job_status),
                    result: 0,
                    comment: String::new(),
                    description: "uid".into(),
                    path: String::new(),
                    start: None,
                    end: None,
                }],
                ..Snapshot::default()
            }),
            at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn only_a_change_in_the_objects_slice_changes_its_fingerprint() {
        let log = Interest {
            tenant: "tenant1".into(),
            ..Default::default()
        };
        let task = Interest {
            description: Some("uid".into()),
            ..log.clone()
        };
        let base = snapshot(60_000_000_000, "DOING");
        // The checkpoint moving, by a second or an hour, does not wake a log backup: it looks again when
        // the figures it shows are due (`timing::refresh_recheck`).
        for later in [60_000_000_001, 3_660_000_000_000] {
            assert_eq!(
                fingerprint(&base, &log),
                fingerprint(&snapshot(later, "DOING"), &log)
            );
        }
        // A job's state change wakes its task.
        assert_ne!(
            fingerprint(&base, &task),
            fingerprint(&snapshot(60_000_000_000, "COMPLETED"), &task)
        );
        // Reachability changes wake everyone.
        let gone = Observation::Unreachable {
            reason: "down".into(),
            since: Timestamp::UNIX_EPOCH,
        };
        assert_ne!(fingerprint(&base, &task), fingerprint(&gone, &task));
    }

    /// A task following its submitted job reads neither the archive checkpoint nor delete jobs: the
    /// checkpoint moving a minute does not wake it (it woke every running task once a minute), while its
    /// job's progress and the round stopping do.
    #[test]
    fn a_task_following_its_job_is_not_woken_by_the_checkpoint() {
        let following = Interest {
            tenant: "tenant1".into(),
            description: Some("uid".into()),
            active: true,
            since: Some(Timestamp::UNIX_EPOCH),
            ..Default::default()
        };
        assert!(following.follows_a_job());
        let base = snapshot(60_000_000_000, "DOING");
        let later = snapshot(180_000_000_000, "DOING");
        assert_eq!(
            fingerprint(&base, &following),
            fingerprint(&later, &following)
        );
        let Observation::Seen { snapshot: s, at } = &base else {
            unreachable!("snapshot() makes a seen observation")
        };
        let with = |edit: &dyn Fn(&mut Snapshot)| {
            let mut changed = (**s).clone();
            edit(&mut changed);
            Observation::Seen {
                snapshot: Arc::new(changed),
                at: *at,
            }
        };
        let stopped = with(&|s| s.rounds[0].status = State::of("STOP"));
        assert_ne!(
            fingerprint(&base, &following),
            fingerprint(&stopped, &following)
        );
        let moved = with(&|s| {
            s.progress.push(crate::oceanbase::BackupProgress {
                tenant_id: 1002,
                job_id: 1,
                input_bytes: 10,
                output_bytes: 5,
                tablet_count: 4,
                finish_tablet_count: 1,
                path: String::new(),
            })
        });
        assert_ne!(
            fingerprint(&base, &following),
            fingerprint(&moved, &following)
        );
        // A task not submitted yet still waits on the round as a whole, as a log backup does.
        let waiting = Interest {
            since: None,
            ..following.clone()
        };
        let commented = with(&|s| s.rounds[0].comment = "piece switched".into());
        assert_eq!(
            fingerprint(&base, &following),
            fingerprint(&commented, &following)
        );
        assert_ne!(
            fingerprint(&base, &waiting),
            fingerprint(&commented, &waiting)
        );
    }

    /// `observation` with its first tenant's archive round INTERRUPTED.
    fn interrupted(observation: Observation) -> Observation {
        let Observation::Seen { snapshot, at } = observation else {
            unreachable!("a seen observation")
        };
        let mut snapshot = (*snapshot).clone();
        snapshot.rounds[0].status = State::of("INTERRUPTED");
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at,
        }
    }

    /// `observation`, read `secs` after the epoch.
    fn read_at(observation: Observation, secs: i64) -> Observation {
        let Observation::Seen { snapshot, .. } = observation else {
            unreachable!("a seen observation")
        };
        Observation::Seen {
            snapshot,
            at: Timestamp::from_second(secs).expect("time"),
        }
    }

    /// An archive's watcher is woken when its tenant's lag crosses the alert, not while it moves on
    /// either side of it (a stuck archive's lag grows with every read).
    #[test]
    fn an_archive_lag_crossing_the_alert_wakes_its_watchers() {
        let alert = Some(jiff::SignedDuration::from_mins(10));
        let log = Interest {
            tenant: "tenant1".into(),
            lag_alert: alert,
            ..Default::default()
        };
        let strategy = Interest::overview(&["tenant1".into()], false).alerting_over(alert);
        // The checkpoint at 60 s; read 5, 9 and 11 minutes later.
        let lagging = |secs: i64| read_at(snapshot(60_000_000_000, "DOING"), 60 + secs);
        for watcher in [&log, &strategy] {
            assert_eq!(
                fingerprint(&lagging(300), watcher),
                fingerprint(&lagging(540), watcher)
            );
            assert_ne!(
                fingerprint(&lagging(540), watcher),
                fingerprint(&lagging(660), watcher)
            );
        }
        // Without an alert the lag wakes nothing.
        let plain = Interest {
            lag_alert: None,
            ..log.clone()
        };
        assert_eq!(
            fingerprint(&lagging(300), &plain),
            fingerprint(&lagging(660), &plain)
        );
    }

    /// Two tenants: tenant1 as [`snapshot`] makes it, and tenant2 whose checkpoint and newest backup set
    /// are given.
    fn two_tenants(
        tenant1_checkpoint: u64,
        tenant2_checkpoint: u64,
        tenant2_set: &str,
    ) -> Observation {
        let Observation::Seen { snapshot, at } = snapshot(tenant1_checkpoint, "DOING") else {
            unreachable!("snapshot() makes a seen observation")
        };
        let mut snapshot = (*snapshot).clone();
        snapshot.tenants.push(TenantRow {
            id: 1004,
            name: "tenant2".into(),
            ..snapshot.tenants[0].clone()
        });
        snapshot.rounds.push(ArchiveRound {
            tenant_id: 1004,
            checkpoint_scn: tenant2_checkpoint,
            ..snapshot.rounds[0].clone()
        });
        snapshot.sets.push(crate::oceanbase::BackupSetRow {
            tenant_id: 1004,
            backup_set_id: 1,
            backup_type: State::of("FULL"),
            status: State::of(tenant2_set),
            file_status: State::of("AVAILABLE"),
            input_bytes: 0,
            output_bytes: 0,
            end: None,
            path: String::new(),
            prev_full_backup_set_id: 0,
            prev_inc_backup_set_id: 0,
            start_replay_scn: 0,
            min_restore_scn: 0,
            data_version: "4.2.5.0".into(),
        });
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at,
        }
    }

    #[test]
    fn a_strategy_is_woken_by_its_own_tenants_only() {
        let minute = 60_000_000_000;
        let base = two_tenants(minute, minute, "DOING");
        let own = Interest::overview(&["TENANT1".into()], false);
        let every = Interest::overview(&[], false);
        // Another tenant's backup set ends: not this strategy's business (with 100 strategies on one
        // cluster, each change woke all of them).
        let other = two_tenants(minute, minute, "SUCCESS");
        assert_eq!(fingerprint(&base, &own), fingerprint(&other, &own));
        assert_ne!(fingerprint(&base, &every), fingerprint(&other, &every));
        // Its own tenant's checkpoint moving on does not (its lines are refreshed on a timer); its own
        // tenant's round changing does (names ignore case).
        let moved = two_tenants(2 * minute, minute, "DOING");
        assert_eq!(fingerprint(&base, &own), fingerprint(&moved, &own));
        let interrupted = interrupted(base.clone());
        assert_ne!(fingerprint(&base, &own), fingerprint(&interrupted, &own));
    }

    /// tenant1 with a usable full set restorable from `min_restore` (ns) and one archive piece whose log
    /// reaches `piece_checkpoint`.
    fn set_and_piece(min_restore: u64, piece_checkpoint: u64) -> Observation {
        let Observation::Seen { snapshot, at } = two_tenants(piece_checkpoint, 0, "SUCCESS") else {
            unreachable!("two_tenants() makes a seen observation")
        };
        let mut snapshot = (*snapshot).clone();
        snapshot.sets[0].tenant_id = 1002;
        snapshot.sets[0].min_restore_scn = min_restore;
        snapshot.pieces.push(crate::oceanbase::PieceRow {
            tenant_id: 1002,
            round_id: 1,
            piece_id: 1,
            status: State::of("ACTIVE"),
            start_scn: 1,
            checkpoint_scn: piece_checkpoint,
            file_status: State::of("AVAILABLE"),
            input_bytes: 0,
            output_bytes: 0,
            path: String::new(),
        });
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at,
        }
    }

    /// A new set becomes restorable (a recoverable window opens on it) when the archive's log reaches its
    /// restore point: that wakes the strategy showing the windows, once, and the log moving on either side
    /// of that point does not (its end is refreshed on a timer).
    #[test]
    fn the_log_reaching_a_sets_restore_point_wakes_its_strategy_once() {
        let minute = 60_000_000_000;
        let own = Interest::overview(&["tenant1".into()], false);
        let at = |checkpoint_minutes: u64| {
            fingerprint(
                &set_and_piece(10 * minute, checkpoint_minutes * minute),
                &own,
            )
        };
        assert_eq!(at(5), at(9), "short of the restore point");
        assert_ne!(at(9), at(10), "the log reaches it");
        assert_eq!(at(10), at(15), "past it");
    }

    /// Windows show in whole seconds: a log past a restore point that is not a whole second, but short of
    /// the next one, holds no time the status could show, so it wakes nothing yet — the next second does.
    #[test]
    fn the_log_wakes_the_strategy_when_the_window_holds_a_whole_second() {
        let second = 1_000_000_000;
        let restore_point = 10 * second + 400_000_000;
        let own = Interest::overview(&["tenant1".into()], false);
        let at = |checkpoint: u64| fingerprint(&set_and_piece(restore_point, checkpoint), &own);
        assert_eq!(
            at(restore_point - 1),
            at(restore_point + 500_000_000),
            "inside the restore point's second"
        );
        assert_ne!(
            at(11 * second - 1),
            at(11 * second),
            "the next whole second"
        );
    }

    #[test]
    fn a_read_of_the_jobs_alone_rehashes_no_overview_but_an_outage_wakes_all() {
        let key = |kind, name: &str| ObjectKey {
            kind,
            namespace: "ns".into(),
            name: name.into(),
        };
        let task = Interest {
            tenant: "tenant1".into(),
            description: Some("uid".into()),
            ..Default::default()
        };
        let watching: change::Watching = Arc::new(HashMap::from([
            (key("BackupTask", "a"), task),
            (
                key("BackupStrategy", "s"),
                Interest::overview(&["tenant1".into()], false),
            ),
        ]));
        let mut fingerprints = Fingerprints::default();
        let names = |woken: Vec<&ObjectKey>| {
            let mut names: Vec<&str> = woken.iter().map(|k| k.kind).collect();
            names.sort();
            names
        };
        let first = fingerprints.changed(&snapshot(0, "DOING"), &watching, Reach::Whole);
        assert_eq!(names(first), ["BackupStrategy", "BackupTask"]);
        // The strategy's slice differs here, but a read of the jobs alone cannot have changed it: it is
        // carried over (and is the next whole read's to show).
        let moved = interrupted(two_tenants(0, 0, "DOING"));
        let jobs = fingerprints.changed(&moved, &watching, Reach::Jobs);
        assert_eq!(names(jobs), ["BackupTask"], "the task's slice is hashed");
        let changing = fingerprints.changed(&moved, &watching, Reach::Changing);
        assert_eq!(names(changing), ["BackupStrategy"]);
        let gone = Observation::Unreachable {
            reason: "down".into(),
            since: Timestamp::UNIX_EPOCH,
        };
        let outage = fingerprints.changed(&gone, &watching, Reach::Jobs);
        assert_eq!(names(outage), ["BackupStrategy", "BackupTask"]);
    }

    #[tokio::test]
    async fn deleted_objects_are_forgotten_and_others_kept() {
        use http::{Request, Response};
        use kube::client::Body;

        let (service, _api) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let observers = Observers::new(
            Client::new(service, "ns"),
            Arc::new(crate::oceanbase::MysqlConnect),
            Arc::default(),
            PollIntervals::default(),
            CancellationToken::new(),
        );
        let observer = observers.observe(
            ClusterKey {
                namespace: "ns".into(),
                source: crate::api::common::ClusterSource::Secret("ob".into()),
            },
            "obcluster",
        );
        let key = |kind, name: &str| ObjectKey {
            kind,
            namespace: "ns".into(),
            name: name.into(),
        };
        let interest = |name: &str| Interest {
            tenant: "tenant1".into(),
            description: Some(format!("uid-{name}")),
            ..Default::default()
        };
        for (kind, name) in [("BackupTask", "a"), ("BackupTask", "b"), ("LogBackup", "a")] {
            observers.watch(&observer, key(kind, name), Some(interest(name)));
        }
        let alive = |k: &ObjectKey| *k == key("BackupTask", "b");
        assert_eq!(observers.forget_missing("BackupTask", alive), 1);
        assert_eq!(observers.watched("BackupTask"), 1, "BackupTask b stays");
        assert_eq!(
            observers.watched("LogBackup"),
            1,
            "another kind is left alone"
        );
        assert_eq!(observers.forget_missing("BackupTask", alive), 0);
    }

    #[tokio::test]
    async fn an_object_follows_its_new_cluster_only_and_a_read_keeps_the_list_it_took() {
        use http::{Request, Response};
        use kube::client::Body;

        let (service, _api) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let observers = Observers::new(
            Client::new(service, "ns"),
            Arc::new(crate::oceanbase::MysqlConnect),
            Arc::default(),
            PollIntervals::default(),
            CancellationToken::new(),
        );
        let cluster = |secret: &str| {
            observers.observe(
                ClusterKey {
                    namespace: "ns".into(),
                    source: crate::api::common::ClusterSource::Secret(secret.into()),
                },
                secret,
            )
        };
        let (old, new) = (cluster("ob1"), cluster("ob2"));
        let task = ObjectKey {
            kind: "BackupTask",
            namespace: "ns".into(),
            name: "a".into(),
        };
        let interest = Interest {
            tenant: "tenant1".into(),
            ..Default::default()
        };
        observers.watch(&old, task.clone(), Some(interest.clone()));
        // What a read took stays as it was while the list changes under it.
        let taken = lock(&old.interests).clone();
        observers.watch(&new, task.clone(), Some(interest.clone()));
        assert!(taken.contains_key(&task), "the read's list is its own");
        assert!(
            !lock(&old.interests).contains_key(&task),
            "the old cluster forgot it"
        );
        assert!(lock(&new.interests).contains_key(&task));
        assert_eq!(observers.watched("BackupTask"), 1);
        // Watching again for the same thing copies nothing: the list is the one a read holds.
        let held = lock(&new.interests).clone();
        observers.watch(&new, task.clone(), Some(interest.clone()));
        assert!(Arc::ptr_eq(&held, &lock(&new.interests)));
        observers.unwatch(&task);
        assert_eq!(observers.watched("BackupTask"), 0);
        assert!(lock(&observers.watching).is_empty(), "nothing left to find");
        // Back to the old cluster, then watching none: each time the cluster it left forgets it.
        observers.watch(&new, task.clone(), Some(interest.clone()));
        observers.watch(&old, task.clone(), Some(interest.clone()));
        assert!(!lock(&new.interests).contains_key(&task));
        observers.watch(&new, task.clone(), None);
        assert_eq!(
            observers.watched("BackupTask"),
            0,
            "the old one forgot it too"
        );
        // A deleted object's interest goes with the record of where it was.
        observers.watch(&old, task.clone(), Some(interest));
        assert_eq!(observers.forget_missing("BackupTask", |_| false), 1);
        assert!(lock(&observers.watching).is_empty());
    }
}
