//! What counts as news: whether a cluster is busy (polled fast) and the slice of an observation each
//! watching object reads, hashed, so that only the objects whose slice changed are woken. The slices are
//! hashed as they are, not formatted first: every watching object's slice is hashed at every read.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use super::{ObjectKey, interest::Interest, observation::Observation};
use jiff::{SignedDuration, Timestamp};

use crate::{
    oceanbase::{ArchiveRound, FileStatus, JobStatus, Reach, RoundStatus, Snapshot, TenantRow},
    windows::first_whole_second,
};

/// The objects an observer wakes, as one read finds them.
pub(super) type Watching = Arc<HashMap<ObjectKey, Interest>>;

/// The fingerprint of each watching object's slice at the last read.
#[derive(Default)]
pub(super) struct Fingerprints {
    seen: HashMap<ObjectKey, u64, foldhash::fast::RandomState>,
    /// The watch list they were taken for.
    watching: Option<Watching>,
}

impl Fingerprints {
    /// The objects whose slice of `observation`, a read of `reach`, changed since the last read; forgets
    /// those no longer watching. An overview's slice (tenants, rounds, sets, pieces, settings, delete jobs)
    /// cannot change in a read of the jobs alone, which carries all of that over from the read before:
    /// while the watch list is the one of the last read, overviews are not hashed again then.
    pub fn changed<'w>(
        &mut self,
        observation: &Observation,
        watching: &'w Watching,
        reach: Reach,
    ) -> Vec<&'w ObjectKey> {
        let same_list = self
            .watching
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, watching));
        let overviews_kept =
            same_list && reach == Reach::Jobs && matches!(observation, Observation::Seen { .. });
        if !same_list {
            self.seen.retain(|k, _| watching.contains_key(k));
            self.watching = Some(watching.clone());
        }
        let mut changed = Vec::new();
        for (object, interest) in watching.iter() {
            if overviews_kept && interest.tenant.is_empty() {
                continue;
            }
            let fingerprint = fingerprint(observation, interest);
            // The key is copied only for an object not seen before: this runs for every watching object at
            // every read.
            let new = match self.seen.get_mut(object) {
                Some(seen) => std::mem::replace(seen, fingerprint) != fingerprint,
                None => self.seen.insert(object.clone(), fingerprint).is_none(),
            };
            if new {
                changed.push(object);
            }
        }
        changed
    }
}

/// Whether the cluster has work under way that the operator should follow closely.
pub(super) fn is_busy(snapshot: &Snapshot) -> bool {
    changes_under_way(snapshot) || snapshot.restores.iter().any(|r| !r.finished)
}

/// Whether an archive round is starting or stopping, or a delete job runs: what changes by itself is then
/// read at every cycle ([`crate::oceanbase::Reach::Changing`]).
pub(super) fn changes_under_way(snapshot: &Snapshot) -> bool {
    snapshot.rounds.iter().any(|r| {
        !matches!(
            r.status,
            RoundStatus::Doing
                | RoundStatus::Stop
                | RoundStatus::Suspend
                | RoundStatus::Interrupted
        )
    }) || snapshot.clean_jobs.iter().any(|j| !j.status.is_final())
}

/// What of a tenant's delete jobs matters to the objects watching it.
fn clean_fingerprint(
    snapshot: &Snapshot,
    tenant_id: Option<i64>,
) -> Vec<(i64, i64, &JobStatus, i64)> {
    snapshot
        .clean_jobs
        .iter()
        .filter(|j| tenant_id.is_none_or(|t| t == j.tenant_id))
        .map(|j| (j.tenant_id, j.job_id, &j.status, j.success_task_count))
        .collect()
}

/// A hash of what an object's reconcile reads from the observation.
pub(super) fn fingerprint(observation: &Observation, interest: &Interest) -> u64 {
    let Observation::Seen { snapshot, at } = observation else {
        return crate::fingerprint::of(matches!(observation, Observation::Unknown));
    };
    if interest.tenant.is_empty() {
        overview_slice(snapshot, interest, *at)
    } else if interest.restore {
        restore_slice(snapshot, interest)
    } else {
        tenant_slice(snapshot, interest, *at)
    }
}

/// Of a round, what wakes its archive's watchers: not the checkpoint, which moves all the time (the
/// figures shown from it are refreshed on a timer instead), but whether the lag is over `alert`, read at
/// `at`.
fn over_alert(round: &ArchiveRound, at: Timestamp, alert: Option<SignedDuration>) -> Option<bool> {
    alert
        .zip(super::archive_lag(round, at))
        .map(|(alert, lag)| lag > alert)
}

/// An overview (a strategy's) of its tenants, coarsely: of its sets, also whether the log reaches the first
/// whole second each can be restored to (a window shows then, not when the set ends: the status shows
/// windows in whole seconds, `crate::windows::Window::whole_seconds`).
fn overview_slice(snapshot: &Snapshot, interest: &Interest, at: Timestamp) -> u64 {
    let covered: Vec<&TenantRow> = snapshot
        .tenants
        .iter()
        .filter(|t| {
            interest.overview.is_empty()
                || interest
                    .overview
                    .iter()
                    .any(|name| name.eq_ignore_ascii_case(&t.name))
        })
        .collect();
    let ids: HashSet<i64> = covered.iter().map(|t| t.id).collect();
    let rounds: Vec<_> = snapshot
        .rounds
        .iter()
        .filter(|r| ids.contains(&r.tenant_id))
        .map(|r| {
            (
                r.tenant_id,
                &r.status,
                over_alert(r, at, interest.lag_alert),
            )
        })
        .collect();
    let log_reach = log_reach(snapshot, &ids);
    let sets: Vec<_> = snapshot
        .sets
        .iter()
        .filter(|s| ids.contains(&s.tenant_id))
        .map(|s| {
            let restorable = log_reach
                .get(&s.tenant_id)
                .is_some_and(|reach| *reach >= first_whole_second(s.min_restore_scn));
            (
                (s.tenant_id, s.backup_set_id),
                (&s.status, &s.file_status, restorable),
            )
        })
        .collect();
    let pieces: Vec<_> = snapshot
        .pieces
        .iter()
        .filter(|p| ids.contains(&p.tenant_id))
        .map(|p| (p.tenant_id, p.piece_id, &p.status, &p.file_status))
        .collect();
    let settings: Vec<_> = covered
        .iter()
        .map(|t| {
            (
                snapshot.archive_dest(t.id),
                snapshot.data_dest(t.id),
                snapshot.delete_policy(t.id),
            )
        })
        .collect();
    let cleans: Vec<_> = clean_fingerprint(snapshot, None)
        .into_iter()
        .filter(|(tenant_id, ..)| ids.contains(tenant_id))
        .collect();
    crate::fingerprint::of((covered, rounds, sets, pieces, settings, cleans))
}

/// How far each of `tenants`' available archive pieces reach (the newest checkpoint). A set whose restore
/// point (rounded up to a whole second) it passes shows a recoverable window (or extends one to it): that
/// flips once per set, where the checkpoint itself moves at every read.
fn log_reach(snapshot: &Snapshot, tenants: &HashSet<i64>) -> HashMap<i64, u64> {
    let mut reach = HashMap::new();
    for piece in &snapshot.pieces {
        if tenants.contains(&piece.tenant_id) && piece.file_status == FileStatus::Available {
            let newest = reach.entry(piece.tenant_id).or_insert(0);
            *newest = piece.checkpoint_scn.max(*newest);
        }
    }
    reach
}

/// A restore: its job, and the tenant it creates (which turns PRIMARY on activation).
fn restore_slice(snapshot: &Snapshot, interest: &Interest) -> u64 {
    let restore = interest
        .description
        .as_deref()
        .and_then(|d| snapshot.restore_by_description(d));
    let tenant = snapshot.tenant(&interest.tenant);
    crate::fingerprint::of((restore, tenant))
}

/// A tenant's object (a log backup, a backup task): the tenant, its round, its destinations, its job and
/// whether another job runs, its delete jobs; of a task following its job, the round's state alone and no
/// delete jobs ([`Interest::follows_a_job`]).
fn tenant_slice(snapshot: &Snapshot, interest: &Interest, at: Timestamp) -> u64 {
    let Some(tenant) = snapshot.tenant(&interest.tenant) else {
        return crate::fingerprint::of("no such tenant");
    };
    // A task following its job reads nothing of the round but whether it runs, and no delete job.
    let following = interest.follows_a_job();
    let round = snapshot.round(tenant.id).map(|r| {
        if following {
            return crate::fingerprint::of((r.round_id, &r.status));
        }
        crate::fingerprint::of((
            r.round_id,
            &r.status,
            r.start_scn,
            over_alert(r, at, interest.lag_alert),
            &r.path,
            &r.comment,
        ))
    });
    let cleans = (!following).then(|| clean_fingerprint(snapshot, Some(tenant.id)));
    let job = interest
        .description
        .as_deref()
        .and_then(|d| snapshot.job_by_description(tenant.id, d));
    let progress = job.and_then(|j| snapshot.progress(tenant.id, j.job_id));
    let set = job.and_then(|j| snapshot.set(tenant.id, j.backup_set_id));
    let other_job = snapshot
        .active_job(tenant.id)
        .map(|j| (j.job_id, &j.status));
    crate::fingerprint::of((
        (tenant, round, snapshot.archive_dest(tenant.id)),
        snapshot.data_dest(tenant.id),
        (job, progress, set, other_job),
        cleans,
    ))
}
