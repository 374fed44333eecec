//! Running the controllers: one watch per kind and watched namespace (a paged list, a cache trimmed of what
//! is never read, the operator's own status writes not reconciled again), wake-ups from the cluster
//! observers, per-phase object counts, reconciles that survive objects that fail to parse, and the error
//! policy with per-object backoff.

use crate::controller::guarded::Guarded;
use crate::reason::Reason;
use std::{collections::HashSet, sync::Arc};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{Store, store::Writer};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    core::error_boundary::InvalidObject,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Reporter},
        watcher,
    },
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

mod caches;
mod shard_caches;

use caches::follow_caches;
#[cfg(test)]
use caches::forget_gone;

use super::{
    Context, Error, Reconcile, Settings, catalog,
    conditions::{Health, merge},
    namespace_of, status, write_budget,
};
use crate::{
    api::{BackupStrategy, BackupTask, CleanupTask, LogBackup, RecoveryTask},
    metrics::Metrics,
    observer::{ObjectKey, Observers},
};

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

/// What the controllers start with.
pub struct Start {
    pub client: Client,
    pub scope: WatchScope,
    pub metrics: Arc<Metrics>,
    pub reporter: Reporter,
    pub settings: Settings,
    /// Stops the controllers.
    pub shutdown: CancellationToken,
    /// Told as each kind's cache syncs.
    pub readiness: Arc<crate::readiness::Readiness>,
    /// Which namespaces' objects this replica reconciles.
    pub shards: Arc<crate::shards::Shards>,
}

/// Runs every controller until `shutdown` resolves, telling `readiness` as each kind's cache syncs.
pub async fn run_all(start: Start) {
    let Start {
        client,
        scope,
        metrics,
        reporter,
        settings,
        shutdown,
        readiness,
        shards,
    } = start;
    let observers = Observers::new(
        client.clone(),
        Arc::new(crate::oceanbase::MysqlConnect),
        metrics.clone(),
        settings.poll,
        shutdown.clone(),
    );
    if settings.ob_operator {
        let waker = Arc::downgrade(&observers);
        let changed: crate::oboperator::ServersChanged = Arc::new(move |namespace, cluster| {
            if let Some(observers) = waker.upgrade() {
                observers.servers_changed(namespace, cluster);
            }
        });
        let ob_operator = crate::oboperator::ObOperator::start(
            client.clone(),
            &scope.namespaces,
            changed,
            shutdown.clone(),
        )
        .await;
        observers.set_ob_operator(ob_operator);
    }
    let catalog = Arc::new(catalog::Catalog::new(client.clone(), readiness.clone()));
    let watching = match scope.apis(&client).into_iter().next() {
        Some(api) => settings.initial_list.resolve(api).await,
        None => watcher::Config::default(),
    };
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
        shards,
        readiness,
        watching,
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
    shards: Arc<crate::shards::Shards>,
    readiness: Arc<crate::readiness::Readiness>,
    /// How every watch lists what exists ([`super::initial_list`]).
    watching: watcher::Config,
}

/// Reconciles of one controller running at once. A cold start over thousands of objects then sends at most
/// this many requests per controller to the API at a time (instead of one per object), which keeps the
/// API server's flow control from rejecting them and the operator's memory from holding every reconcile
/// at once. Reconciles are short (a status write, a statement), so a few suffice.
pub const CONCURRENT_RECONCILES: u16 = 8;

/// Drops from a cached object what no reconcile reads: `managedFields` (often larger than the spec), the
/// annotations the kind does not read (kubectl's last-applied copy of the whole manifest among them), and
/// what the kind lets go once the object has settled ([`Reconcile::settle_cached`]).
pub fn trim_cached<K: Reconcile>(object: &mut Guarded<K>) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    // The shard's label selects the watch; nothing reads it from the cache.
    if let Some(labels) = &mut meta.labels
        && labels.remove(crate::shards::SHARD_LABEL).is_some()
        && labels.is_empty()
    {
        meta.labels = None;
    }
    // Decoded from the API's text, a list has room for four (no length is known ahead): a task's one owner
    // reference would keep three more.
    if let Some(owners) = &mut meta.owner_references {
        owners.shrink_to_fit();
    }
    if let Some(finalizers) = &mut meta.finalizers {
        finalizers.shrink_to_fit();
    }
    if let Some(mut annotations) = meta.annotations.take() {
        annotations.retain(|key, _| K::READ_ANNOTATIONS.contains(&key.as_str()));
        meta.annotations = (!annotations.is_empty()).then_some(annotations);
    }
    if let Ok(valid) = &mut object.0 {
        valid.settle_cached();
    }
}

/// What a change must touch to be reconciled: the spec (generation), labels, annotations, finalizers,
/// deletion, or whether the object parses at all. A change to the status alone is the operator's own write
/// coming back (nothing else writes it), so it is not reconciled again; a status a user breaks by hand
/// still is, as the object stops parsing.
fn reconcile_relevant<K: Reconcile>(object: &Guarded<K>) -> Option<u64> {
    let meta = object.meta();
    Some(crate::fingerprint::of((
        meta.generation,
        &meta.labels,
        &meta.annotations,
        &meta.finalizers,
        meta.deletion_timestamp.as_ref().map(|t| t.0),
        object.0.is_ok(),
    )))
}

/// Where the observers' wake-ups for objects of `K` go: the controllers of the namespace an object is in,
/// that whose cache holds it (with shards, a kind may have several caches per namespace; [`shard_caches`]).
type Routes<K> = Arc<std::sync::Mutex<Vec<Route<K>>>>;

struct Route<K: Reconcile> {
    /// The namespace of the controller (`None`: every namespace).
    namespace: Option<String>,
    store: Store<Guarded<K>>,
    sender: UnboundedSender<ObjectKey>,
}

async fn run<K: Reconcile>(shared: &Shared) {
    let kind = K::KIND;
    let mut ctx = Context::new(
        shared.client.clone(),
        shared.metrics.clone(),
        kind,
        shared.reporter.clone(),
        shared.observers.clone(),
        shared.settings,
        shared.catalog.clone(),
        shared.writes.clone(),
    );
    ctx.shards = shared.shards.clone();
    let ctx = Arc::new(ctx);
    let apis = shared.scope.apis::<Guarded<K>>(&shared.client);
    let routes: Routes<K> = Arc::default();
    let (mut controllers, mut stores) = (Vec::new(), Vec::new());
    let caches = apis.len();
    let config = shard_caches::base_config::<K>(&shared.watching, &shared.shards);
    for (index, api) in apis.into_iter().enumerate() {
        let (store, writer) = kube::runtime::reflector::store::<Guarded<K>>();
        let catalog = shared.catalog.clone();
        let listed = move || catalog.cache_synced::<K>(K::KIND, index, caches);
        let wake_ups = add_route(&routes, api.namespace(), &store);
        let watch = Watch {
            api,
            config: config.clone(),
            wake_ups,
            cache: (store.clone(), writer),
            listed: Box::new(listed),
        };
        stores.push(store);
        controllers.push(drive(controller::<K>(shared, watch), ctx.clone()));
    }
    shared.catalog.register::<K>(stores);
    let routing = tokio::spawn(route_wake_ups(
        shared.observers.wake_ups(kind),
        routes.clone(),
    ));
    tracing::info!(controller = kind, namespaces = ?shared.scope.namespaces, "controller started");
    let waking = tokio::spawn(wake_filled_shards::<K>(
        shared.catalog.clone(),
        shared.shards.clone(),
        shared.observers.clone(),
    ));
    let counting = tokio::spawn(follow_caches::<K>(
        shared.catalog.clone(),
        shared.metrics.clone(),
        shared.observers.clone(),
        shared.writes.clone(),
        shared.shutdown.clone(),
        shared.shards.clone(),
    ));
    tokio::join!(
        futures::future::join_all(controllers),
        shard_caches::cache_taken_shards::<K>(shared, ctx, routes),
    );
    counting.abort();
    waking.abort();
    routing.abort();
    tracing::info!(controller = kind, "controller stopped");
}

/// A new route to a controller of `namespace` whose cache is `store`; returns its wake-ups.
fn add_route<K: Reconcile>(
    routes: &Routes<K>,
    namespace: Option<&str>,
    store: &Store<Guarded<K>>,
) -> UnboundedReceiver<ObjectKey> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    crate::sync::lock(routes).push(Route {
        namespace: namespace.map(str::to_string),
        store: store.clone(),
        sender,
    });
    receiver
}

/// Runs `controller` until it shuts down.
async fn drive<K: Reconcile>(controller: Controller<Guarded<K>>, ctx: Arc<Context>) {
    controller
        .run(reconcile_guarded::<K>, error_policy::<K>, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(controller = K::KIND, %error, "reconcile did not complete");
            }
        })
        .await;
}

/// One watch of `K` and what its controller needs: the API and config it lists and watches with, the
/// observers' wake-ups for its objects, its cache, and what to tell each time the watch has listed.
struct Watch<K: Reconcile> {
    api: Api<Guarded<K>>,
    config: watcher::Config,
    wake_ups: UnboundedReceiver<ObjectKey>,
    cache: (Store<Guarded<K>>, Writer<Guarded<K>>),
    listed: Box<dyn FnMut() + Send>,
}

/// The controller of one watch of `K` ([`Watch`]), woken also by the observers. A paged or streaming list
/// ([`super::initial_list`]; never `any_semantic`, which the API answers in one piece from its watch cache,
/// held whole in memory), a cache trimmed of what the operator never reads, and reconciles only for
/// changes the operator did not make itself.
fn controller<K: Reconcile>(shared: &Shared, watch: Watch<K>) -> Controller<Guarded<K>> {
    let Watch {
        api,
        config,
        wake_ups,
        cache: (store, writer),
        mut listed,
    } = watch;
    let own_wake_ups = tokio_stream_of(wake_ups).map(|object: ObjectKey| {
        kube::runtime::reflector::ObjectRef::<Guarded<K>>::new(&object.name)
            .within(&object.namespace)
    });
    let catalog = shared.catalog.clone();
    let changes = watcher(api, config)
        .default_backoff()
        .modify(trim_cached::<K>)
        .reflect(writer)
        .inspect_ok(move |event| {
            catalog.follow::<K>(event, K::strategy_ref, K::ON_CLUSTER);
            if matches!(event, watcher::Event::InitDone) {
                listed();
            }
        })
        .applied_objects()
        .predicate_filter(
            reconcile_relevant::<K>,
            kube::runtime::utils::PredicateConfig::default(),
        );
    Controller::for_stream(changes, store)
        .with_config(
            kube::runtime::controller::Config::default().concurrency(CONCURRENT_RECONCILES),
        )
        .reconcile_on(own_wake_ups)
        .graceful_shutdown_on(shared.shutdown.clone().cancelled_owned())
}

/// The cluster observers wake objects whose slice of OceanBase's state changed: each wake-up goes to the
/// controller of its object's namespace whose cache holds it (the first of the namespace when none does
/// yet).
async fn route_wake_ups<K: Reconcile>(wake_ups: UnboundedReceiver<ObjectKey>, routes: Routes<K>) {
    let mut wake_ups = tokio_stream_of(wake_ups);
    while let Some(object) = wake_ups.next().await {
        let routes = crate::sync::lock(&routes);
        let reference = kube::runtime::reflector::ObjectRef::<Guarded<K>>::new(&object.name)
            .within(&object.namespace);
        let mut of_namespace = routes.iter().filter(|r| {
            r.namespace
                .as_deref()
                .is_none_or(|ns| ns == object.namespace)
        });
        let first = of_namespace.clone().next();
        let route = of_namespace
            .find(|r| r.store.get(&reference).is_some())
            .or(first);
        if let Some(route) = route {
            let _ = route.sender.send(object);
        }
    }
}

/// A stream of what an unbounded channel receives.
fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Each time a shard this replica took has its tasks cached, wakes the cached objects of `K` in it that
/// have work left ([`to_wake`]): their reconciles ran while another replica held the shard (or before its
/// tasks were cached) and waited for a change ([`reconcile_guarded`]).
async fn wake_filled_shards<K: Reconcile>(
    catalog: Arc<catalog::Catalog>,
    shards: Arc<crate::shards::Shards>,
    observers: Arc<Observers>,
) {
    let mut filled = shards.filled_changes();
    let mut woken: HashSet<u32> = shards.filled().into_iter().collect();
    while filled.changed().await.is_ok() {
        let new: HashSet<u32> = shards
            .filled()
            .into_iter()
            .filter(|s| !woken.contains(s))
            .collect();
        let stores = catalog.stores::<K>();
        let cached = stores.iter().flat_map(|store| store.state());
        let objects = to_wake(cached, |namespace| new.contains(&shards.of(namespace)));
        for object in &objects {
            observers.wake(object);
        }
        tracing::info!(controller = K::KIND, shards = ?new, objects = objects.len(), "woke the objects of shards taken");
        woken.extend(new);
    }
}

/// Of the `cached` objects, those of a namespace `taken` says was just taken whose reconcile has something
/// to do: not [`Reconcile::settled`] (a finished task's reconcile returns at once, and an estate's tasks
/// are mostly finished: waking them all would queue a taken shard's running tasks behind tens of thousands
/// of reconciles that do nothing). An object that does not parse is woken, to be reported.
fn to_wake<K: Reconcile>(
    cached: impl IntoIterator<Item = Arc<Guarded<K>>>,
    taken: impl Fn(&str) -> bool,
) -> Vec<ObjectKey> {
    cached
        .into_iter()
        .filter(|object| !matches!(&object.0, Ok(valid) if valid.settled()))
        .filter_map(|object| {
            let namespace = object.namespace().unwrap_or_default();
            taken(&namespace).then(|| ObjectKey {
                kind: K::KIND,
                namespace,
                name: object.name_any(),
            })
        })
        .collect()
}

fn object_key<K: Resource>(obj: &K) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

#[tracing::instrument(skip_all, fields(controller = ctx.controller, object = %object_key(obj.as_ref())))]
async fn reconcile_guarded<K: Reconcile>(
    obj: Arc<Guarded<K>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !ctx.shards.holds(&obj.namespace().unwrap_or_default()) {
        // Another replica's shard: it reconciles the object. Woken when this replica takes the shard.
        return Ok(Action::await_change());
    }
    let key = object_key(obj.as_ref());
    // With caches per shard, the object's turn and its newest cached copy; none when no cache holds it.
    let Some((_turn, obj)) = shard_caches::in_turn(&ctx, &key, obj).await else {
        return Ok(Action::await_change());
    };
    if ctx
        .own_writes
        .ahead_of(&key, obj.meta().resource_version.as_deref())
    {
        // The cache is behind this controller's own last status write: look once it has caught up.
        tracing::debug!(object = %key, "cached copy older than the last status write; looking again shortly");
        return Ok(Action::requeue(crate::timing::STALE_COPY_RECHECK));
    }
    let _timer = ctx.metrics.reconcile_started(ctx.controller);
    let started = tokio::time::Instant::now();
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
    obj: &Guarded<K>,
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
    let api: Api<Guarded<K>> = Api::namespaced(ctx.client.clone(), &namespace_of(obj)?);
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

fn error_policy<K: Reconcile>(obj: Arc<Guarded<K>>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(ctx.controller, error.reason());
    let delay = ctx.backoff(&object_key(obj.as_ref()));
    tracing::warn!(controller = ctx.controller, object = %object_key(obj.as_ref()), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn context() -> Context {
        let (mock, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        Context::for_tests(Client::new(mock, "default"), "BackupTask")
    }

    /// A copy older than this controller's own last status write is not reconciled: the watch has not
    /// brought the write back, and a wake-up spent deciding on it would be lost (the echo of the write does
    /// not wake the object again). It is looked at again shortly, sending nothing; a copy as new as the
    /// write is reconciled.
    #[tokio::test]
    async fn a_copy_behind_the_controllers_own_status_write_is_looked_at_again_shortly() {
        let ctx = Arc::new(context());
        ctx.own_writes.record("ns/t", Some("5"));
        let copy = |version: &str| {
            let mut task: crate::api::BackupTask = serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": "t", "namespace": "ns", "resourceVersion": version},
                "spec": {"tenant": "t1", "mode": "Full", "strategyRef": {"name": "s"}},
            }))
            .expect("a task");
            task.metadata.resource_version = Some(version.into());
            Arc::new(Guarded(Ok(task)))
        };
        let behind = reconcile_guarded::<crate::api::BackupTask>(copy("4"), ctx.clone()).await;
        assert_eq!(
            behind.expect("nothing asked of the API"),
            Action::requeue(crate::timing::STALE_COPY_RECHECK)
        );
        let caught_up = reconcile_guarded::<crate::api::BackupTask>(copy("5"), ctx.clone()).await;
        assert_ne!(
            caught_up.ok(),
            Some(Action::requeue(crate::timing::STALE_COPY_RECHECK)),
            "a copy as new as the write is reconciled"
        );
    }

    /// The write budget learns how many objects refresh their figures as soon as their cache has synced, not
    /// a count later: counted before, the cache is empty, and the one-minute floor of the grain would make
    /// the first looks of a restart rewrite every figure older than a minute.
    #[tokio::test(start_paused = true)]
    async fn the_budget_counts_the_refreshing_objects_as_soon_as_their_cache_has_synced() {
        let ctx = context();
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<BackupStrategy>>();
        ctx.catalog.register::<BackupStrategy>(vec![store]);
        let counting = tokio::spawn(follow_caches::<BackupStrategy>(
            ctx.catalog.clone(),
            ctx.metrics.clone(),
            ctx.observers.clone(),
            ctx.writes.clone(),
            CancellationToken::new(),
            ctx.shards.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        for n in 0..3_000 {
            let strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"name": format!("s{n}"), "namespace": "ns"},
                "spec": {"cluster": {"name": "c", "connectionSecret": "db"}, "tenants": ["t1"],
                         "dataDestination": {"uri": "file:///d"},
                         "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
            }))
            .expect("a strategy");
            writer.apply_watcher_event(&watcher::Event::Apply(Guarded(Ok(strategy))));
        }
        ctx.catalog
            .cache_synced::<BackupStrategy>("BackupStrategy", 0, 1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            ctx.writes.freshness(),
            write_budget::freshness_for(3_000),
            "counted a second after the sync, not {:?} later",
            crate::timing::PHASE_COUNT_INTERVAL
        );
        counting.abort();
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
        let parsed: kube::core::ObjectList<Guarded<BackupTask>> =
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

    fn guarded_task(status: serde_json::Value) -> Guarded<BackupTask> {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {
                "name": "t", "namespace": "ns", "generation": 1, "resourceVersion": "7",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"a whole\": \"manifest\"}",
                    "obbackup.dev/scheduled-at": "2026-11-26T01:00:00Z",
                },
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
            .labels
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
            ("a label", touched),
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
    fn the_cache_keeps_no_managed_fields_nor_shard_label_and_only_the_annotations_the_kind_reads() {
        let mut task = guarded_task(serde_json::json!({}));
        let labels = task.meta_mut().labels.get_or_insert_default();
        labels.insert(crate::shards::SHARD_LABEL.into(), "1-of-4".into());
        labels.insert(crate::names::STRATEGY_LABEL.into(), "demo".into());
        trim_cached(&mut task);
        assert_eq!(task.meta().managed_fields, None);
        let labels = task.meta().labels.clone().unwrap_or_default();
        assert_eq!(
            labels.keys().collect::<Vec<_>>(),
            [crate::names::STRATEGY_LABEL],
            "the shard's label only selects the watch"
        );
        assert_eq!(
            task.meta().annotations,
            None,
            "a BackupTask's are read from the API"
        );
        let mut drill: Guarded<crate::api::RecoveryTask> =
            serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
                "metadata": {"name": "d", "namespace": "ns", "annotations": {
                    crate::drill::DRILL_AT: "2026-11-26T01:00:00Z", "argocd.argoproj.io/tracking-id": "x",
                }},
                "spec": {"source": {"tenant": "t"}, "target": {"tenant": "r"}},
            }))
            .expect("a RecoveryTask");
        trim_cached(&mut drill);
        let kept = drill.meta().annotations.clone().unwrap_or_default();
        assert_eq!(kept.keys().collect::<Vec<_>>(), [crate::drill::DRILL_AT]);
    }

    /// A shard taken wakes its objects with work left, and only those: a settled task's reconcile would
    /// return at once, and an estate's tasks are mostly settled.
    #[test]
    fn a_shard_taken_wakes_its_tasks_with_work_left_and_not_its_settled_ones() {
        let task = |name: &str, namespace: &str, status: serde_json::Value| {
            let mut task = guarded_task(status);
            task.meta_mut().name = Some(name.into());
            task.meta_mut().namespace = Some(namespace.into());
            Arc::new(task)
        };
        let status = |phase: &str, observed: i64| serde_json::json!({"phase": phase, "observedGeneration": observed});
        let cached = [
            task("settled", "taken", status("Completed", 1)),
            task("failed", "taken", status("Failed", 1)),
            task("running", "taken", status("InProgress", 1)),
            task("new", "taken", serde_json::Value::Null),
            task("changed", "taken", status("Completed", 0)),
            task("malformed", "taken", serde_json::json!({"phase": 5})),
            task("elsewhere", "other", status("InProgress", 1)),
        ];
        assert!(cached[5].0.is_err(), "the malformed task does not parse");
        let woken: Vec<String> = to_wake(cached, |namespace| namespace == "taken")
            .into_iter()
            .map(|key| format!("{}/{}", key.namespace, key.name))
            .collect();
        assert_eq!(
            woken,
            [
                "taken/running",
                "taken/new",
                "taken/changed",
                "taken/malformed"
            ]
        );
    }

    #[test]
    fn a_settled_task_is_cached_without_its_conditions_and_a_task_with_work_left_whole() {
        let condition = |type_: &str, status: &str| {
            serde_json::json!({"type": type_, "status": status, "reason": "R", "message": "m",
                "lastTransitionTime": "2026-11-26T01:00:00Z"})
        };
        let conditions = [
            condition("Ready", "True"),
            condition("Stalled", "False"),
            condition(super::super::conditions::PROGRESSING, "False"),
        ];
        let status = |phase: &str, observed: i64| serde_json::json!({"phase": phase, "observedGeneration": observed, "conditions": conditions});
        let types = |task: &Guarded<BackupTask>| -> Vec<String> {
            let valid = task.0.as_ref().expect("valid");
            let status = valid.status.as_ref().expect("status");
            status.conditions.iter().map(|c| c.type_.clone()).collect()
        };
        let mut settled = guarded_task(status("Completed", 1));
        trim_cached(&mut settled);
        assert_eq!(types(&settled), [super::super::conditions::PROGRESSING]);
        let valid = settled.0.as_ref().expect("valid");
        assert!(
            valid.not_progressing(),
            "the count of tasks not progressing is unchanged"
        );
        assert_eq!(valid.phase_label(), Some("Completed"));
        for (what, status) in [
            ("running", status("InProgress", 1)),
            (
                "finished, with a spec it has not seen",
                status("Completed", 0),
            ),
        ] {
            let mut task = guarded_task(status);
            trim_cached(&mut task);
            assert_eq!(types(&task).len(), 3, "a task {what} is cached whole");
        }
    }

    #[tokio::test]
    async fn an_object_gone_from_the_cache_at_two_looks_in_a_row_is_forgotten_and_no_sooner() {
        let ctx = context();
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<BackupTask>>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(guarded_task(
            serde_json::json!({}),
        )));
        let observer = ctx.observers.observe(
            crate::observer::ClusterKey {
                namespace: "ns".into(),
                source: crate::api::common::ClusterSource::Secret("ob".into()),
            },
            "obcluster",
        );
        for name in ["t", "gone", "late"] {
            let key = ObjectKey {
                kind: "BackupTask",
                namespace: "ns".into(),
                name: name.into(),
            };
            let interest = crate::observer::Interest {
                tenant: "tenant1".into(),
                ..Default::default()
            };
            ctx.observers.watch(&observer, key, Some(interest));
        }
        let stores = [store];
        let look = |before: &HashSet<ObjectKey>| {
            forget_gone(&stores, &ctx.metrics, &ctx.observers, before)
        };
        let missing = look(&HashSet::new());
        assert_eq!(
            ctx.observers.watched("BackupTask"),
            3,
            "one look drops nothing"
        );
        assert_eq!(missing.len(), 2, "{missing:?}");
        let mut late = guarded_task(serde_json::json!({}));
        late.meta_mut().name = Some("late".into());
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(late));
        let missing = look(&missing);
        assert_eq!(
            ctx.observers.watched("BackupTask"),
            2,
            "gone twice: dropped; arrived in between: kept"
        );
        assert_eq!(missing.len(), 1);
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
