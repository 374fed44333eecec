//! One controller per kind. They share what is here: the [`Context`], the watch loop (which survives
//! objects that fail to parse), the error policy with per-object backoff, and status writing.

use crate::controller::reason::Reason;
pub mod backup_strategy;
pub mod backup_task;
pub mod catalog;
pub mod cleanup_task;
pub mod conditions;
pub mod error;
#[cfg(test)]
pub mod fixtures;
#[cfg(test)]
mod in_process;
pub mod log_backup;
pub mod observed;
pub mod overview;
pub mod ownership;
pub mod reason;
pub mod recovery_task;
pub mod references;
pub mod status;
pub mod submit;
pub mod write_budget;

use std::{
    collections::{HashMap, HashSet},
    fmt::Debug,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    core::{DeserializeGuard, error_boundary::InvalidObject},
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
        watcher,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::sync::CancellationToken;

use crate::timing::{ACTED_RECHECK, RETRY_REFUSED_AFTER, SENT_SETTLE};
use crate::{
    api::{BackupStrategy, BackupTask, CleanupTask, LogBackup, RecoveryTask},
    metrics::Metrics,
    observer::{ObjectKey, Observers, PollIntervals},
};
use conditions::{Health, merge};
pub use error::Error;

/// Field manager of every status the operator writes.
pub const FIELD_MANAGER: &str = "ob-backup-operator";

/// What every reconcile of one controller shares.
pub struct Context {
    /// Kubernetes client, authenticated as the operator.
    pub client: Client,
    /// Exported metrics.
    pub metrics: Arc<Metrics>,
    /// The kind this controller reconciles, e.g. `BackupTask`.
    pub controller: &'static str,
    /// The observers of the OceanBase clusters.
    pub observers: Arc<Observers>,
    /// Operator-wide settings.
    pub settings: Settings,
    /// Every controller's cache of its objects.
    pub catalog: Arc<catalog::Catalog>,
    /// Outcomes of recent Secret checks, so that objects naming one Secret share a GET.
    pub secret_checks: references::SecretChecks,
    /// The operator's write rate to the API, shared by every controller.
    pub writes: Arc<write_budget::WriteBudget>,
    recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
    /// Malformed objects already reported, with the generation reported: the report is a status write, which
    /// is itself a watch event, so without this every report would trigger the next one.
    malformed: Mutex<HashMap<String, Option<i64>>>,
    /// Statements OceanBase refused, per object: (what, when). The refusal is written to the status, which
    /// is a watch event; this keeps that event from retrying the statement at once.
    refused: Mutex<HashMap<String, Refusal>>,
    /// One-shot statements (cancel, activate) sent per object: (what, when). Until the observer has read
    /// the cluster again, the status write that follows would otherwise send them a second time.
    sent: Mutex<HashMap<String, (String, std::time::Instant)>>,
    /// When a statement last went out for an object (recorded with its outcome): its next decision must come
    /// soon after, to take in the intent it wrote and what OceanBase made of the statement.
    acted: Mutex<HashMap<String, std::time::Instant>>,
}

/// What [`Context::gate`] says about sending a statement now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Open,
    /// OceanBase refused it lately: write nothing (the status says why), look again after this.
    Refused(Duration),
    /// It went through a moment ago: write the status, look again after this.
    Settling(Duration),
}

/// A statement OceanBase refused for an object: what, when, and OceanBase's reason (redacted).
struct Refusal {
    what: String,
    at: std::time::Instant,
    reason: String,
}

/// Operator-wide settings the controllers read.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How often observers poll OceanBase while something is active, and while idle.
    pub poll: PollIntervals,
    /// A running backup without progress for this long gets `Progressing=False`.
    pub backup_stall_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll: PollIntervals::default(),
            backup_stall_timeout: crate::timing::BACKUP_STALL_TIMEOUT,
        }
    }
}

impl Context {
    /// A context for the controller of `controller`, publishing Events as `reporter`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        controller: &'static str,
        reporter: Reporter,
        observers: Arc<Observers>,
        settings: Settings,
        catalog: Arc<catalog::Catalog>,
        writes: Arc<write_budget::WriteBudget>,
    ) -> Self {
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            controller,
            observers,
            settings,
            catalog,
            secret_checks: references::SecretChecks::default(),
            writes,
            failures: Mutex::default(),
            malformed: Mutex::default(),
            refused: Mutex::default(),
            sent: Mutex::default(),
            acted: Mutex::default(),
        }
    }

    /// Whether `what` may be sent for `object` now. A refused statement waits [`RETRY_REFUSED_AFTER`]; a
    /// one-shot statement (cancel, activate) that went through waits [`SENT_SETTLE`], until the observer has
    /// read the cluster again.
    pub fn gate(&self, object: &str, what: &str, one_shot: bool) -> Gate {
        if let Some((wait, _)) = self.refused_recently(object, what) {
            return Gate::Refused(wait);
        }
        match self.sent_recently(object, what) {
            Some(wait) if one_shot => Gate::Settling(wait),
            _ => Gate::Open,
        }
    }

    /// Records that `what` was sent for `object` and whether it went through (OceanBase's reason is already
    /// in the status; the gate only needs to know).
    pub fn sent(&self, object: &str, what: &str, one_shot: bool, went_through: bool) {
        if one_shot && went_through {
            self.mark_sent(object, what);
        }
        let outcome = if went_through {
            Ok(())
        } else {
            Err(String::new())
        };
        self.record_attempt(object, what, outcome);
    }

    /// Whether `what` went through for `object` within [`SENT_SETTLE`]; if so, how long until it may be
    /// sent again.
    fn sent_recently(&self, object: &str, what: &str) -> Option<Duration> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let (sent_what, at) = sent.get(object)?;
        if sent_what != what {
            return None;
        }
        SENT_SETTLE
            .checked_sub(at.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// Records that the one-shot statement `what` went through for `object`.
    fn mark_sent(&self, object: &str, what: &str) {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).insert(
            object.to_string(),
            (what.to_string(), std::time::Instant::now()),
        );
    }

    /// If OceanBase refused `what` for `object` recently: how long to wait before sending it again, and
    /// OceanBase's reason (so that a status can keep saying it).
    pub fn refused_recently(&self, object: &str, what: &str) -> Option<(Duration, String)> {
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        let refusal = refused.get(object).filter(|r| r.what == what)?;
        let wait = RETRY_REFUSED_AFTER
            .checked_sub(refusal.at.elapsed())
            .filter(|d| !d.is_zero())?;
        Some((wait, refusal.reason.clone()))
    }

    /// Records the outcome of sending `what` for `object`: `Err` holds OceanBase's (redacted) reason.
    pub fn record_attempt(&self, object: &str, what: &str, outcome: Result<(), String>) {
        tracing::trace!(object, what, sent = outcome.is_ok(), "statement outcome");
        {
            let mut acted = self.acted.lock().unwrap_or_else(|p| p.into_inner());
            acted.retain(|_, at| at.elapsed() < ACTED_RECHECK);
            acted.insert(object.to_string(), std::time::Instant::now());
        }
        let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(()) => {
                refused.remove(object);
            }
            Err(reason) => {
                refused.insert(
                    object.to_string(),
                    Refusal {
                        what: what.to_string(),
                        at: std::time::Instant::now(),
                        reason,
                    },
                );
            }
        }
    }

    /// When to look again at `object` (or at the parts of it keyed `object/…`, a strategy's tenants) because
    /// of a statement: one went out (decide again after [`ACTED_RECHECK`]; a one-shot statement's settling
    /// is then the gate's) or OceanBase refused one (retry after [`RETRY_REFUSED_AFTER`], for the kinds that
    /// retry without the gate). The status write recording it is not reconciled again (see
    /// `reconcile_relevant`), so the requeue must ask for it.
    pub fn look_again(&self, object: &str) -> Option<Duration> {
        let nested = format!("{object}/");
        let concerns = |key: &str| key == object || key.starts_with(&nested);
        let refused = soonest(&self.refused, concerns, |r| {
            RETRY_REFUSED_AFTER.checked_sub(r.at.elapsed())
        });
        let acted = soonest(&self.acted, concerns, |at| {
            ACTED_RECHECK.checked_sub(at.elapsed())
        });
        refused
            .into_iter()
            .chain(acted)
            .min()
            .map(|d| d.max(Duration::from_millis(100)))
    }

    /// `wait` (or waiting for a change, with `None`), shortened to [`Self::look_again`] for `object`.
    pub fn requeue(&self, object: &str, wait: Option<Duration>) -> Action {
        match wait.into_iter().chain(self.look_again(object)).min() {
            Some(wait) => Action::requeue(wait),
            None => Action::await_change(),
        }
    }

    /// A context for unit tests, on a mocked API.
    #[cfg(test)]
    pub fn for_tests(client: Client, controller: &'static str) -> Self {
        Self::for_tests_on(client, controller, Arc::new(crate::oceanbase::MysqlConnect))
    }

    /// A context for unit tests, on a mocked API, reaching clusters through `connector`.
    #[cfg(test)]
    pub fn for_tests_on(
        client: Client,
        controller: &'static str,
        connector: Arc<dyn crate::oceanbase::Connect>,
    ) -> Self {
        let observers = Observers::new(
            client.clone(),
            connector,
            Arc::default(),
            PollIntervals::default(),
            CancellationToken::new(),
        );
        let catalog = Arc::new(catalog::Catalog::new(
            client.clone(),
            Arc::new(crate::readiness::Readiness::new(0)),
        ));
        Self::new(
            client,
            Arc::default(),
            controller,
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: None,
            },
            observers,
            Settings::default(),
            catalog,
            Arc::default(),
        )
    }

    /// Publishes an Event about `obj`, within the write budget. Events accompany transitions (a phase, a
    /// stall): news, so urgent. A failure to publish is logged, never fatal.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: Event) {
        self.writes.acquire(write_budget::Priority::Urgent).await;
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason = %event.reason, object = %obj.name_any(), "could not publish event");
        }
    }

    /// The delay before retrying an object that failed `attempt` times in a row: 2 s doubling to 5 min,
    /// with up to 10% jitter so that many failing objects do not retry in step.
    fn backoff(&self, key: &str) -> Duration {
        let attempt = {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let n = failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let base = Duration::from_secs(2).saturating_mul(1 << attempt.min(10).saturating_sub(1));
        let capped = base.min(Duration::from_secs(300));
        capped + capped.mul_f64(jitter_fraction(key, attempt) * 0.1)
    }

    fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Whether this generation of a malformed object is yet to be reported (and records it as reported).
    fn first_report(&self, key: &str, generation: Option<i64>) -> bool {
        let mut reported = self.malformed.lock().unwrap_or_else(|p| p.into_inner());
        reported.insert(key.to_string(), generation) != Some(generation)
    }

    /// Forgets a malformed report once the object parses again.
    fn parsed(&self, key: &str) {
        self.malformed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// The least time left, by `left`, among the entries of `map` whose key `concerns` accepts.
fn soonest<V>(
    map: &Mutex<HashMap<String, V>>,
    concerns: impl Fn(&str) -> bool,
    left: impl Fn(&V) -> Option<Duration>,
) -> Option<Duration> {
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(key, _)| concerns(key))
        .filter_map(|(_, value)| left(value))
        .min()
}

/// A number in [0, 1) that differs between objects and attempts, without a random number generator.
fn jitter_fraction(key: &str, attempt: u32) -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let hash = RandomState::new().hash_one((key, attempt));
    (hash % 1000) as f64 / 1000.0
}

/// A kind with a controller.
pub trait Reconcile:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The kind's name, used as the controller label in logs and metrics.
    const KIND: &'static str;

    /// The phase the object's status shows, if any (for the per-phase object counts).
    fn phase_label(&self) -> Option<String>;

    /// Whether the object's `Progressing` condition is False (for `obbackup_objects_not_progressing`).
    fn not_progressing(&self) -> bool {
        false
    }

    /// Drops what the operator exports about objects of this kind not in `alive` (a deleted object gets no
    /// last reconcile).
    fn forget_all_but(_metrics: &Metrics, _alive: &HashSet<ObjectKey>) {}

    /// Brings the world one step closer to the object's spec and records what was observed.
    fn reconcile(
        obj: Arc<Self>,
        ctx: Arc<Context>,
    ) -> impl Future<Output = Result<Action, Error>> + Send;
}

/// Which namespaces the operator watches.
#[derive(Clone, Debug, Default)]
pub struct WatchScope {
    /// The namespaces; every namespace when empty.
    pub namespaces: Vec<String>,
}

impl WatchScope {
    /// The scope of a `--namespace` value: empty for every namespace, else one name or a comma-separated list.
    pub fn parse(value: &str) -> Self {
        let mut namespaces: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        namespaces.sort();
        namespaces.dedup();
        Self { namespaces }
    }

    /// An API for `K` per watched namespace (one API over every namespace when all are watched).
    pub fn apis<K>(&self, client: &Client) -> Vec<Api<K>>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        if self.namespaces.is_empty() {
            return vec![Api::all(client.clone())];
        }
        self.namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}

/// The kinds with a controller, as many as [`run_all`] runs (readiness waits for all their caches).
pub const KINDS: usize = 5;

/// Runs every controller until `shutdown` resolves, telling `readiness` as each kind's cache syncs.
pub async fn run_all(
    client: Client,
    scope: WatchScope,
    metrics: Arc<Metrics>,
    reporter: Reporter,
    settings: Settings,
    shutdown: CancellationToken,
    readiness: Arc<crate::readiness::Readiness>,
) {
    let observers = Observers::new(
        client.clone(),
        Arc::new(crate::oceanbase::MysqlConnect),
        metrics.clone(),
        settings.poll,
        shutdown.clone(),
    );
    let catalog = Arc::new(catalog::Catalog::new(client.clone(), readiness));
    let shared = Shared {
        client,
        scope,
        metrics,
        reporter,
        observers,
        settings,
        shutdown,
        catalog,
        writes: Arc::default(),
    };
    tokio::join!(
        run::<BackupStrategy>(&shared),
        run::<BackupTask>(&shared),
        run::<LogBackup>(&shared),
        run::<CleanupTask>(&shared),
        run::<RecoveryTask>(&shared),
    );
}

/// What every controller is started with.
struct Shared {
    client: Client,
    scope: WatchScope,
    metrics: Arc<Metrics>,
    reporter: Reporter,
    observers: Arc<Observers>,
    settings: Settings,
    shutdown: CancellationToken,
    catalog: Arc<catalog::Catalog>,
    writes: Arc<write_budget::WriteBudget>,
}

/// How often the per-phase object counts are refreshed from the controllers' caches.
const PHASE_COUNT_INTERVAL: Duration = Duration::from_secs(15);

/// Reconciles of one controller running at once. A cold start over thousands of objects then sends at most
/// this many requests per controller to the API at a time (instead of one per object), which keeps the
/// API server's flow control from rejecting them and the operator's memory from holding every reconcile
/// at once. Reconciles are short (a status write, a statement), so a few suffice.
pub const CONCURRENT_RECONCILES: u16 = 8;

/// Drops from a cached object what no reconcile reads: `managedFields` (often larger than the spec) and the
/// last-applied annotation kubectl writes (a copy of the whole manifest).
fn trim_cached<K: Reconcile>(object: &mut DeserializeGuard<K>) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// kubectl's copy of the last applied manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What a change must touch to be reconciled: the spec (generation), labels, annotations, finalizers,
/// deletion, or whether the object parses at all. A change to the status alone is the operator's own write
/// coming back (nothing else writes it), so it is not reconciled again; a status a user breaks by hand
/// still is, as the object stops parsing.
fn reconcile_relevant<K: Reconcile>(object: &DeserializeGuard<K>) -> Option<u64> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let meta = object.meta();
    Some(BuildHasherDefault::<DefaultHasher>::default().hash_one((
        meta.generation,
        &meta.labels,
        &meta.annotations,
        &meta.finalizers,
        meta.deletion_timestamp.as_ref().map(|t| t.0),
        object.0.is_ok(),
    )))
}

async fn run<K: Reconcile>(shared: &Shared) {
    let kind = K::KIND;
    let ctx = Arc::new(Context::new(
        shared.client.clone(),
        shared.metrics.clone(),
        kind,
        shared.reporter.clone(),
        shared.observers.clone(),
        shared.settings,
        shared.catalog.clone(),
        shared.writes.clone(),
    ));
    let apis = shared.scope.apis::<DeserializeGuard<K>>(&shared.client);
    // The cluster observers wake objects whose slice of OceanBase's state changed; with several watched
    // namespaces each wake-up goes to the controller of its object's namespace.
    let mut wake_ups = tokio_stream_of(shared.observers.wake_ups(kind));
    let mut routes: Vec<(
        Option<String>,
        tokio::sync::mpsc::UnboundedSender<ObjectKey>,
    )> = Vec::new();
    let mut controllers = Vec::new();
    let mut stores = Vec::new();
    let caches = apis.len();
    for (index, api) in apis.into_iter().enumerate() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        routes.push((api.namespace().map(str::to_string), sender));
        let own_wake_ups = tokio_stream_of(receiver).map(|object: ObjectKey| {
            kube::runtime::reflector::ObjectRef::<DeserializeGuard<K>>::new(&object.name)
                .within(&object.namespace)
        });
        let (store, writer) = kube::runtime::reflector::store::<DeserializeGuard<K>>();
        let catalog = shared.catalog.clone();
        // A paged list (not `any_semantic`, which the API answers in one piece from its watch cache), a
        // cache trimmed of what the operator never reads, and reconciles only for changes the operator did
        // not make itself.
        let changes = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(trim_cached::<K>)
            .reflect(writer)
            .inspect_ok(move |event| {
                if matches!(event, watcher::Event::InitDone) {
                    catalog.cache_synced::<K>(index, caches);
                }
            })
            .applied_objects()
            .predicate_filter(
                reconcile_relevant::<K>,
                kube::runtime::utils::PredicateConfig::default(),
            );
        let controller = Controller::for_stream(changes, store)
            .with_config(
                kube::runtime::controller::Config::default().concurrency(CONCURRENT_RECONCILES),
            )
            .reconcile_on(own_wake_ups)
            .graceful_shutdown_on(shared.shutdown.clone().cancelled_owned());
        stores.push(controller.store());
        let ctx = ctx.clone();
        controllers.push(async move {
            controller
                .run(reconcile_guarded::<K>, error_policy::<K>, ctx)
                .for_each(|result| async move {
                    if let Err(error) = result {
                        tracing::debug!(controller = kind, %error, "reconcile did not complete");
                    }
                })
                .await;
        });
    }
    shared.catalog.register::<K>(stores.clone());
    let routing = tokio::spawn(async move {
        while let Some(object) = wake_ups.next().await {
            let route = routes
                .iter()
                .find(|(ns, _)| ns.as_deref().is_none_or(|ns| ns == object.namespace));
            if let Some((_, sender)) = route {
                let _ = sender.send(object);
            }
        }
    });
    tracing::info!(controller = kind, namespaces = ?shared.scope.namespaces, "controller started");
    let counting = tokio::spawn(follow_caches::<K>(
        stores,
        shared.metrics.clone(),
        shared.observers.clone(),
        shared.shutdown.clone(),
    ));
    futures::future::join_all(controllers).await;
    counting.abort();
    routing.abort();
    tracing::info!(controller = kind, "controller stopped");
}

/// A stream of what an unbounded channel receives.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Every [`PHASE_COUNT_INTERVAL`], follows the controller cache: keeps `obbackup_objects{kind, phase}` equal to
/// its counts, and drops what is kept for objects it no longer holds — their observer interests and their
/// series (a deleted object gets no last reconcile). An object is dropped once gone from two looks in a row:
/// one look could race an object that just arrived.
async fn follow_caches<K: Reconcile>(
    stores: Vec<kube::runtime::reflector::Store<DeserializeGuard<K>>>,
    metrics: Arc<Metrics>,
    observers: Arc<Observers>,
    shutdown: CancellationToken,
) {
    let mut known: HashSet<String> = HashSet::new();
    let mut seen_before: HashSet<ObjectKey> = HashSet::new();
    loop {
        let mut counts: HashMap<String, i64> = known.iter().map(|p| (p.clone(), 0)).collect();
        let mut not_progressing = 0;
        let mut alive = HashSet::new();
        for object in stores.iter().flat_map(|store| store.state()) {
            alive.insert(ObjectKey {
                kind: K::KIND,
                namespace: object.namespace().unwrap_or_default(),
                name: object.name_any(),
            });
            if let Ok(valid) = &object.0 {
                let phase = valid.phase_label().unwrap_or_else(|| "Unknown".into());
                *counts.entry(phase).or_default() += 1;
                not_progressing += i64::from(valid.not_progressing());
            }
        }
        metrics
            .not_progressing
            .get_or_create(&crate::metrics::KindLabels {
                kind: K::KIND.into(),
            })
            .set(not_progressing);
        for (phase, count) in counts {
            metrics
                .phases
                .get_or_create(&crate::metrics::PhaseLabels {
                    kind: K::KIND.into(),
                    phase: phase.clone(),
                })
                .set(count);
            known.insert(phase);
        }
        let now_or_before: HashSet<ObjectKey> = alive.union(&seen_before).cloned().collect();
        let forgotten = observers.forget_missing(K::KIND, &now_or_before);
        if forgotten > 0 {
            tracing::debug!(
                kind = K::KIND,
                forgotten,
                "stopped watching deleted objects"
            );
        }
        K::forget_all_but(&metrics, &now_or_before);
        seen_before = alive;
        metrics
            .watched_objects
            .get_or_create(&crate::metrics::KindLabels {
                kind: K::KIND.into(),
            })
            .set(i64::try_from(observers.watched(K::KIND)).unwrap_or(i64::MAX));
        tokio::select! {
            () = tokio::time::sleep(PHASE_COUNT_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

fn object_key<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

#[tracing::instrument(skip_all, fields(controller = ctx.controller, object = %object_key(obj.as_ref())))]
async fn reconcile_guarded<K: Reconcile>(
    obj: Arc<DeserializeGuard<K>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(ctx.controller);
    let started = tokio::time::Instant::now();
    let key = object_key(obj.as_ref());
    let action = match &obj.0 {
        Ok(valid) => {
            ctx.parsed(&key);
            K::reconcile(Arc::new(valid.clone()), ctx.clone()).await?
        }
        Err(invalid) if ctx.first_report(&key, invalid.metadata.generation) => {
            report_malformed(obj.as_ref(), invalid, &ctx).await?
        }
        Err(_) => Action::await_change(),
    };
    ctx.succeeded(&key);
    tracing::trace!(
        controller = ctx.controller,
        object = %key,
        elapsed_ms = started.elapsed().as_millis(),
        "reconciled"
    );
    Ok(action)
}

/// An object the operator cannot parse (e.g. its status was edited by hand into a wrong shape): say so on
/// the object, once per generation, and wait for it to change, leaving every other object's reconciles
/// untouched.
async fn report_malformed<K: Reconcile>(
    obj: &DeserializeGuard<K>,
    invalid: &InvalidObject,
    ctx: &Context,
) -> Result<Action, Error> {
    let message = format!("the operator cannot read this object: {}", invalid.error);
    tracing::warn!(error = %invalid.error, "malformed object");
    ctx.metrics
        .reconcile_failed(ctx.controller, Reason::MalformedObject);
    let health = Health::Stalled {
        reason: Reason::MalformedObject,
        message: message.clone(),
    };
    let conditions = merge(
        &[],
        health.conditions(invalid.metadata.generation),
        crate::clock::now(),
    );
    let api: Api<DeserializeGuard<K>> = Api::namespaced(ctx.client.clone(), &namespace_of(obj)?);
    ctx.writes.acquire(write_budget::Priority::Urgent).await;
    // A merge patch of the conditions only: whatever else the status holds (a job id, say) is kept.
    let patch = serde_json::json!({ "status": { "conditions": conditions } });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    ctx.publish(
        obj,
        Event {
            type_: EventType::Warning,
            reason: Reason::MalformedObject.into(),
            note: Some(status::truncate(&message)),
            action: "Reconcile".into(),
            secondary: None,
        },
    )
    .await;
    Ok(Action::await_change())
}

fn error_policy<K: Reconcile>(
    obj: Arc<DeserializeGuard<K>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics.reconcile_failed(ctx.controller, error.reason());
    let delay = ctx.backoff(&object_key(obj.as_ref()));
    tracing::warn!(controller = ctx.controller, object = %object_key(obj.as_ref()), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// The health an object has given the problems found: stalled on the first problem, else `otherwise`.
pub fn health(problems: &[error::Problem], otherwise: Health) -> Health {
    match problems.first() {
        Some(p) => Health::Stalled {
            reason: p.reason,
            message: p.message.clone(),
        },
        None => otherwise,
    }
}

/// When to look at an object again: only after a spec change when its spec is wrong, after a while when
/// something it refers to is missing, and otherwise when something changes.
pub fn next_action(problems: &[error::Problem]) -> Action {
    if problems.is_empty() || problems.iter().any(|p| p.fix == error::Fix::Spec) {
        Action::await_change()
    } else {
        Action::requeue(error::RECHECK_REFERENCES_AFTER)
    }
}

/// Refuses to act for an object that does not own the side effect it would change: writes `desired` (its
/// status Stalled on `problems`), stops watching any cluster for it, and says when to look again.
pub async fn refuse<K, S>(
    ctx: &Context,
    obj: &K,
    object: &ObjectKey,
    current: Option<&S>,
    desired: &S,
    problems: &[error::Problem],
) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: status::StatusView,
{
    ctx.observers.unwatch(object);
    status::write(ctx, obj, current, desired).await?;
    Ok(next_action(problems))
}

/// The conditions and message of a status with the given health, keeping unchanged conditions' times.
pub fn summarize(
    previous: &[Condition],
    generation: Option<i64>,
    health: &Health,
    now: jiff::Timestamp,
) -> (Vec<Condition>, Option<String>) {
    (
        merge(previous, health.conditions(generation), now),
        Some(health.message().to_string()),
    )
}

/// The namespace of a namespaced object.
pub fn namespace_of<K: Resource>(obj: &K) -> Result<String, Error> {
    obj.namespace()
        .ok_or_else(|| Error::MissingNamespace(obj.name_any()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let (mock, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        Context::for_tests(Client::new(mock, "default"), "BackupTask")
    }

    #[tokio::test]
    async fn backoff_doubles_per_failure_is_capped_and_resets_on_success() {
        let ctx = context();
        let delays: Vec<_> = (0..12).map(|_| ctx.backoff("ns/a")).collect();
        assert!(
            delays[0] >= Duration::from_secs(2) && delays[0] < Duration::from_millis(2200),
            "{delays:?}"
        );
        assert!(
            delays[1] >= Duration::from_secs(4) && delays[1] < Duration::from_millis(4400),
            "{delays:?}"
        );
        assert!(
            delays.iter().all(|d| *d <= Duration::from_secs(330)),
            "{delays:?}"
        );
        assert!(delays[11] >= Duration::from_secs(300), "{delays:?}");
        assert!(
            ctx.backoff("ns/b") < Duration::from_millis(2200),
            "other objects keep their own count"
        );
        ctx.succeeded("ns/a");
        assert!(
            ctx.backoff("ns/a") < Duration::from_millis(2200),
            "success resets the count"
        );
    }

    #[test]
    fn a_list_with_a_malformed_object_still_yields_every_object() {
        let task = |name: &str, mode: &str| {
            serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {"strategyRef": {"name": "demo"}, "tenant": "tenant1", "mode": mode},
            })
        };
        let list = serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTaskList", "metadata": {},
            "items": [task("good", "Full"), task("bad", "Sometimes"), task("also-good", "Incremental")],
        });
        let parsed: kube::core::ObjectList<DeserializeGuard<BackupTask>> =
            serde_json::from_value(list).expect("the list parses although one item does not");
        let outcome: Vec<_> = parsed
            .items
            .iter()
            .map(|g| (g.name_any(), g.0.is_ok()))
            .collect();
        assert_eq!(
            outcome,
            [
                ("good".into(), true),
                ("bad".into(), false),
                ("also-good".into(), true)
            ]
        );
        let Err(invalid) = &parsed.items[1].0 else {
            unreachable!("checked above")
        };
        assert!(invalid.error.contains("Sometimes"), "{}", invalid.error);
    }

    #[tokio::test]
    async fn a_refused_statement_waits_and_keeps_its_reason() {
        let ctx = context();
        ctx.record_attempt("ns/a", "SetDest", Err("9070: can not connect".into()));
        let (wait, reason) = ctx.refused_recently("ns/a", "SetDest").expect("gated");
        assert!(wait <= RETRY_REFUSED_AFTER && !wait.is_zero());
        assert_eq!(reason, "9070: can not connect");
        assert!(
            ctx.refused_recently("ns/a", "ArchiveMode(true)").is_none(),
            "another statement is not gated"
        );
        assert!(
            ctx.refused_recently("ns/b", "SetDest").is_none(),
            "another object is not gated"
        );
        ctx.record_attempt("ns/a", "SetDest", Ok(()));
        assert!(
            ctx.refused_recently("ns/a", "SetDest").is_none(),
            "success clears it"
        );
    }

    fn guarded_task(status: serde_json::Value) -> DeserializeGuard<BackupTask> {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {
                "name": "t", "namespace": "ns", "generation": 1, "resourceVersion": "7",
                "annotations": {LAST_APPLIED: "{\"a whole\": \"manifest\"}", "note": "kept"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
            "spec": {"strategyRef": {"name": "demo"}, "tenant": "tenant1", "mode": "Full"},
            "status": status,
        }))
        .expect("a task")
    }

    #[test]
    fn the_operators_own_status_write_is_not_reconciled_again_but_a_users_change_is() {
        let before = guarded_task(serde_json::json!({"phase": "Pending"}));
        let mut written = guarded_task(serde_json::json!({"phase": "InProgress", "jobId": 3}));
        written.meta_mut().resource_version = Some("8".into());
        assert_eq!(
            reconcile_relevant(&before),
            reconcile_relevant(&written),
            "a status write (and its new resourceVersion) alone"
        );
        let mut touched = written.clone();
        touched
            .meta_mut()
            .annotations
            .get_or_insert_default()
            .insert("touch".into(), "1".into());
        let mut respecced = written.clone();
        respecced.meta_mut().generation = Some(2);
        let mut deleting = written.clone();
        deleting.meta_mut().deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        let broken = guarded_task(serde_json::json!({"phase": "Sometimes"}));
        assert!(broken.0.is_err());
        for (what, changed) in [
            ("an annotation", touched),
            ("the spec", respecced),
            ("a deletion", deleting),
            ("a status broken by hand", broken),
        ] {
            assert_ne!(
                reconcile_relevant(&written),
                reconcile_relevant(&changed),
                "{what} is reconciled"
            );
        }
    }

    #[test]
    fn the_cache_keeps_no_managed_fields_and_no_copy_of_the_manifest() {
        let mut task = guarded_task(serde_json::json!({}));
        trim_cached(&mut task);
        assert_eq!(task.meta().managed_fields, None);
        let annotations = task.meta().annotations.clone().unwrap_or_default();
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["note"]);
    }

    #[tokio::test]
    async fn a_refused_or_one_shot_statement_asks_to_be_looked_at_again() {
        let ctx = context();
        assert_eq!(ctx.look_again("ns/a"), None);
        ctx.sent("ns/a", "Cancel", true, true);
        let soon = ctx.look_again("ns/a").expect("a cancel that went through");
        assert!(soon <= ACTED_RECHECK, "decided again soon after: {soon:?}");
        ctx.record_attempt("ns/s/tenant1", "policy", Err("refused".into()));
        let look = ctx
            .look_again("ns/s")
            .expect("a strategy's tenant was refused");
        assert!(look <= ACTED_RECHECK, "looked at again soon: {look:?}");
        // …where the refusal holds the statement back until its retry time.
        let (retry, _) = ctx
            .refused_recently("ns/s/tenant1", "policy")
            .expect("refused");
        assert!(
            retry <= RETRY_REFUSED_AFTER && retry > SENT_SETTLE,
            "{retry:?}"
        );
        assert_eq!(ctx.look_again("ns/b"), None, "another object");
        assert_eq!(ctx.look_again("ns/s2"), None, "a name sharing a prefix");
        assert!(format!("{:?}", ctx.requeue("ns/b", None)).contains("None"));
    }

    #[tokio::test]
    async fn a_one_shot_statement_is_not_sent_again_until_it_settles() {
        let ctx = context();
        assert_eq!(ctx.gate("ns/a", "Cancel", true), Gate::Open);
        ctx.sent("ns/a", "Cancel", true, true);
        let Gate::Settling(wait) = ctx.gate("ns/a", "Cancel", true) else {
            panic!("a cancel that went through settles");
        };
        assert!(wait <= SENT_SETTLE && !wait.is_zero());
        assert_eq!(ctx.gate("ns/a", "Activate", true), Gate::Open);
        assert_eq!(ctx.gate("ns/b", "Cancel", true), Gate::Open);
        // A refused one waits the refusal time, one-shot or not.
        ctx.sent("ns/c", "Submit", false, false);
        assert!(matches!(
            ctx.gate("ns/c", "Submit", false),
            Gate::Refused(_)
        ));
        ctx.sent("ns/c", "Submit", false, true);
        assert_eq!(
            ctx.gate("ns/c", "Submit", false),
            Gate::Open,
            "success clears it"
        );
    }

    #[tokio::test]
    async fn a_malformed_object_is_reported_once_per_generation() {
        let ctx = context();
        assert!(ctx.first_report("ns/a", Some(1)));
        assert!(
            !ctx.first_report("ns/a", Some(1)),
            "the report's own status write must not report again"
        );
        assert!(
            ctx.first_report("ns/a", Some(2)),
            "a new generation is reported"
        );
        assert!(
            ctx.first_report("ns/b", Some(2)),
            "objects are tracked separately"
        );
        ctx.parsed("ns/a");
        assert!(
            ctx.first_report("ns/a", Some(2)),
            "once it parsed again, a later breakage is new"
        );
    }
}
