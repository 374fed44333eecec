//! The caches of a kind cached by shard ([`Reconcile::CACHED_BY_SHARD`], BackupTasks: the bulk of an
//! estate; docs/operations/scaling.md). With more than one shard, the kind's own watch takes only the
//! objects no shard's label selects (made by hand, or before the count changed), and each shard this replica
//! takes gets a watch of its labelled objects, with its own cache and controller. A shard is filled — its
//! objects reconciled — once those watches have listed: a strategy that looked before would miss its tasks.
//! With one shard the kind's own watch takes every object and each shard is filled as it is taken.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use kube::{Api, runtime::watcher};

use super::{Routes, Shared, Watch, add_route, controller, drive};
use crate::{
    controller::{Context, Reconcile, guarded::Guarded},
    metrics::Metrics,
    readiness::Readiness,
    shards::Shards,
};

/// The config of `K`'s own watch: every object, or with shards of a kind cached by shard, those no
/// shard selects.
pub(super) fn base_config<K: Reconcile>(
    watching: &watcher::Config,
    shards: &Shards,
) -> watcher::Config {
    if by_shard::<K>(shards) {
        watching.clone().labels(&shards.stray_selector())
    } else {
        watching.clone()
    }
}

/// Whether `K` has caches per shard.
fn by_shard<K: Reconcile>(shards: &Shards) -> bool {
    K::CACHED_BY_SHARD && shards.count() > 1
}

/// For the kind cached by shard: each time this replica takes a shard, starts its watches (one per watched
/// namespace of the shard, or one over every namespace) and fills the shard once they have all listed; with
/// one shard, fills it at once. Returns once the controllers it started have shut down.
pub(super) async fn cache_taken_shards<K: Reconcile>(
    shared: &Shared,
    ctx: Arc<Context>,
    routes: Routes<K>,
) {
    if !K::CACHED_BY_SHARD {
        return;
    }
    let shards = &shared.shards;
    let filling = Arc::new(Filling {
        shards: shards.clone(),
        readiness: shared.readiness.clone(),
        metrics: shared.metrics.clone(),
    });
    let mut taken = shards.taken();
    let mut started = HashSet::new();
    let mut running = tokio::task::JoinSet::new();
    loop {
        for shard in shards.held() {
            if !started.insert(shard) {
                continue;
            }
            let apis = apis_of::<K>(shared, shard);
            if apis.is_empty() {
                filling.fill(shard);
            }
            let hooks = fill_hooks(&filling, shard, apis.len());
            for (api, listed) in apis.into_iter().zip(hooks) {
                let watch = shard_watch(shared, &routes, api, shard, listed);
                running.spawn(drive(controller::<K>(shared, watch), ctx.clone()));
            }
            tracing::info!(controller = K::KIND, shard, "caching the shard's objects");
        }
        shared.readiness.shards_filled(|| shards.all_filled());
        tokio::select! {
            changed = taken.changed() => if changed.is_err() { break },
            () = shared.shutdown.cancelled() => break,
        }
    }
    while running.join_next().await.is_some() {}
}

/// The APIs `shard`'s watches list: none with one shard (the kind's own watch takes every object), the
/// watched namespaces of the shard, or every namespace.
fn apis_of<K: Reconcile>(shared: &Shared, shard: u32) -> Vec<Api<Guarded<K>>> {
    if !by_shard::<K>(&shared.shards) {
        return Vec::new();
    }
    shared
        .scope
        .apis::<Guarded<K>>(&shared.client)
        .into_iter()
        .filter(|api| {
            api.namespace()
                .is_none_or(|namespace| shared.shards.of(namespace) == shard)
        })
        .collect()
}

/// The watch of `shard`'s labelled objects through `api`, telling `listed` at each list's end. Its cache
/// joins the catalog before it lists (the indexes file the listed objects at the list's end).
fn shard_watch<K: Reconcile>(
    shared: &Shared,
    routes: &Routes<K>,
    api: Api<Guarded<K>>,
    shard: u32,
    listed: Box<dyn FnMut() + Send>,
) -> Watch<K> {
    let (store, writer) = kube::runtime::reflector::store::<Guarded<K>>();
    shared.catalog.add_store::<K>(store.clone());
    let wake_ups = add_route(routes, api.namespace(), &store);
    let config = shared
        .watching
        .clone()
        .labels(&shared.shards.selector_of(shard));
    Watch {
        api,
        config,
        wake_ups,
        cache: (store, writer),
        listed,
    }
}

/// What each of `shard`'s `watches` watches tells at the end of each of its lists: the first list of the
/// last of them to list fills the shard (a re-list counts for nothing).
fn fill_hooks(filling: &Arc<Filling>, shard: u32, watches: usize) -> Vec<Box<dyn FnMut() + Send>> {
    let remaining = Arc::new(AtomicUsize::new(watches));
    (0..watches)
        .map(|_| {
            let (filling, remaining) = (filling.clone(), remaining.clone());
            let mut listed_once = false;
            let hook = move || {
                if !std::mem::replace(&mut listed_once, true)
                    && remaining.fetch_sub(1, Ordering::AcqRel) == 1
                {
                    filling.fill(shard);
                }
            };
            Box::new(hook) as Box<dyn FnMut() + Send>
        })
        .collect()
}

/// What records that a shard's caches have listed.
struct Filling {
    shards: Arc<Shards>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

impl Filling {
    /// Records that `shard`'s caches have listed: its objects are reconciled from now on.
    fn fill(&self, shard: u32) {
        self.shards.fill(shard);
        self.readiness.shards_filled(|| self.shards.all_filled());
        self.metrics.set_shards_filled(self.shards.filled().len());
        tracing::info!(
            shard,
            "the shard's caches have listed; reconciling its objects"
        );
    }
}

/// For a kind with caches per shard, waits for the object's turn (one reconcile at a time per object across
/// the kind's controllers: a task whose shard label changes is in two caches, and two controllers, for a
/// moment) and returns it with the newest copy the caches hold, which may carry what the reconcile before
/// wrote (its intent); `None` when no cache holds the object any more (moved: the other cache's watch
/// brings it back). Any other kind: no turn, and `obj` as it is.
pub(super) async fn in_turn<'c, K: Reconcile>(
    ctx: &'c Context,
    key: &str,
    obj: Arc<Guarded<K>>,
) -> Option<(Option<crate::sync::Turn<'c>>, Arc<Guarded<K>>)> {
    if !by_shard::<K>(&ctx.shards) {
        return Some((None, obj));
    }
    let turn = ctx.turns.take(key).await;
    let reference = kube::runtime::reflector::ObjectRef::from_obj(obj.as_ref());
    let copies: Vec<Arc<Guarded<K>>> = ctx
        .catalog
        .stores::<K>()
        .iter()
        .filter_map(|store| store.get(&reference))
        .collect();
    let newest = newest(copies)?;
    Some((Some(turn), newest))
}

/// The copy with the highest resourceVersion (the API server's are etcd revisions, integers; a copy whose
/// version does not read as one is never preferred).
fn newest<K: kube::Resource>(copies: Vec<Arc<K>>) -> Option<Arc<K>> {
    let version = |copy: &Arc<K>| {
        copy.meta()
            .resource_version
            .as_deref()
            .and_then(crate::controller::own_writes::number)
    };
    copies.into_iter().max_by_key(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(version: &str) -> Arc<crate::api::BackupTask> {
        let mut task: crate::api::BackupTask = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {"tenant": "t1", "mode": "Full", "strategyRef": {"name": "s"}},
        }))
        .expect("a task");
        task.metadata.resource_version = Some(version.into());
        Arc::new(task)
    }

    /// A shard taken over is reconciled only once every watch of its tasks has listed: a strategy that
    /// looked earlier would find none of its tasks. A watch that lists again before the others counts once.
    #[test]
    fn a_shard_is_filled_only_once_each_of_its_watches_has_listed() {
        let shards = Arc::new(Shards::new(2));
        let readiness = Arc::new(Readiness::new(0));
        readiness.set_role(crate::readiness::Role::Leading);
        shards.take(1);
        let metrics = Arc::new(Metrics::default());
        let filling = Arc::new(Filling {
            shards: shards.clone(),
            readiness: readiness.clone(),
            metrics: metrics.clone(),
        });
        let mut hooks = fill_hooks(&filling, 1, 2);
        hooks[0]();
        hooks[0]();
        assert!(
            !shards.is_filled(1) && !readiness.is_ready(),
            "one watch of two has listed, twice"
        );
        assert!(!metrics.render().contains("obbackup_shards_filled 1"));
        hooks[1]();
        assert!(shards.is_filled(1) && readiness.is_ready());
        assert!(metrics.render().contains("obbackup_shards_filled 1"));
    }

    #[test]
    fn of_two_cached_copies_the_newer_is_reconciled() {
        let version = |copy: Option<Arc<crate::api::BackupTask>>| {
            copy.and_then(|c| c.metadata.resource_version.clone())
        };
        assert_eq!(
            version(newest(vec![task("9"), task("12")])),
            Some("12".into())
        );
        assert_eq!(
            version(newest(vec![task("12"), task("x")])),
            Some("12".into())
        );
        assert_eq!(version(newest(vec![task("7")])), Some("7".into()));
        assert!(
            newest::<crate::api::BackupTask>(vec![]).is_none(),
            "no cache holds it"
        );
    }
}
