//! The objects the controllers' watches already hold, for the decisions that need more than one object:
//! who owns a tenant's side effects ([`super::ownership`]) and which children a strategy wakes when its
//! spec changes. Reading the controllers' reflector caches costs no API request.
//!
//! A cache is read only once it is known to be synced, so "none" always means none, never "not read yet".
//! It is known synced when the watch stream feeding it has said `InitDone` for every watched namespace
//! (also for a kind with no objects). A list asked for before that waits for the sync however long it takes,
//! and never lists from the API instead: at a cold start over 100 000 tasks the caches take longer than any
//! fixed wait, and every strategy asks at once, so a fallback list each (a timed fallback did that) costs the
//! API server and the operator far more than the wait (the start took 108 s and peaked at 750 MiB). Only a
//! kind no controller caches is listed from the API. The cache's own
//! `wait_until_ready` is not used: it wakes only its last waiter, and the controller's runner waits on it
//! too, so a second waiter could stall either.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use kube::{
    Api, Client,
    api::ListParams,
    runtime::{reflector::Store, watcher},
};

use super::Error;
use crate::controller::guarded::Guarded;
use crate::readiness::Readiness;

mod by_cluster;
mod by_strategy;

use crate::{api::common::ClusterConnection, sync::lock};
use by_cluster::ByCluster;
pub use by_cluster::OnCluster;
use by_strategy::ByStrategy;
pub use by_strategy::Named;

/// A kind the catalog caches: any namespaced resource the controllers read.
pub trait Cached:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// The reflector caches of every controller, by kind.
pub struct Catalog {
    client: Client,
    stores: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    synced: Mutex<HashSet<TypeId>>,
    /// Per kind, the caches (by index) that have listed their objects once.
    caches_synced: Mutex<HashMap<TypeId, HashSet<usize>>>,
    /// Bumped each time a kind's caches have all synced, for the lists waiting on it.
    kinds_synced: tokio::sync::watch::Sender<usize>,
    /// Per kind, which cached objects name each strategy.
    by_strategy: Mutex<HashMap<TypeId, ByStrategy>>,
    /// Per kind that says its objects' cluster ([`OnCluster`]), which cached objects are on each cluster.
    by_cluster: Mutex<HashMap<TypeId, ByCluster>>,
    readiness: Arc<Readiness>,
}

/// One kind's caches: one per watched namespace (or one over all).
type Stores<K> = Vec<Store<Guarded<K>>>;

/// The caches of `K` in the catalog's entry for it, if that is one.
fn downcast<K: Cached>(entry: Option<&Arc<dyn Any + Send + Sync>>) -> Option<Arc<Stores<K>>> {
    entry.cloned()?.downcast::<Stores<K>>().ok()
}

impl Catalog {
    /// A catalog that lists through `client` only the kinds no controller caches, and tells `readiness` when
    /// a kind's caches have all synced.
    pub fn new(client: Client, readiness: Arc<Readiness>) -> Self {
        Self {
            client,
            stores: Mutex::default(),
            synced: Mutex::default(),
            caches_synced: Mutex::default(),
            kinds_synced: tokio::sync::watch::channel(0).0,
            by_strategy: Mutex::default(),
            by_cluster: Mutex::default(),
            readiness,
        }
    }

    /// Records the caches of `K`'s controller.
    pub fn register<K: Cached>(&self, stores: Stores<K>) {
        lock(&self.stores).insert(TypeId::of::<K>(), Arc::new(stores));
    }

    /// Adds a cache of `K` (a shard's, taken while the operator runs) before its watch lists: the indexes
    /// file its objects at that list's end, and nothing reads them before (no reconcile of the shard runs
    /// until its caches have listed). Readers holding the caches as they were keep reading those.
    pub fn add_store<K: Cached>(&self, store: Store<Guarded<K>>) {
        let mut all = lock(&self.stores);
        let mut stores: Stores<K> = downcast::<K>(all.get(&TypeId::of::<K>()))
            .map(|s| s.as_ref().clone())
            .unwrap_or_default();
        stores.push(store);
        all.insert(TypeId::of::<K>(), Arc::new(stores));
    }

    /// `K`'s caches as registered now, synced or not (none for a kind no controller caches).
    pub fn stores<K: Cached>(&self) -> Arc<Stores<K>> {
        self.registered::<K>().unwrap_or_default()
    }

    /// Whether one of `K`'s caches still holds `object`: an object whose labels move it from one watch to
    /// another is deleted from the first and applied to the second in either order, and the indexes must
    /// keep it whichever comes last.
    fn still_cached<K: Cached>(&self, object: &K) -> bool {
        let Some(namespace) = object.meta().namespace.as_deref() else {
            return false;
        };
        let name = object.meta().name.as_deref().unwrap_or_default();
        let reference = kube::runtime::reflector::ObjectRef::new(name).within(namespace);
        self.stores::<K>()
            .iter()
            .any(|store| store.get(&reference).is_some())
    }

    /// Records that cache `index` of `K` (named `kind`; of `of`, one per watched namespace) has listed its objects; once
    /// all of them have, the kind is synced. Later re-lists change nothing.
    pub fn cache_synced<K: Cached>(&self, kind: &'static str, index: usize, of: usize) {
        let all = {
            let mut caches = lock(&self.caches_synced);
            let synced = caches.entry(TypeId::of::<K>()).or_default();
            synced.insert(index);
            synced.len() >= of
        };
        if all && lock(&self.synced).insert(TypeId::of::<K>()) {
            self.readiness.kind_synced(kind);
            self.kinds_synced.send_modify(|n| *n += 1);
        }
    }

    /// Follows a watch event of `K` that has reached its cache in the indexes: of which objects name which
    /// strategy (`named`: the strategy an object works through) and, for a kind that says, of which are on
    /// which cluster (`on_cluster`). An object applied or deleted is filed or taken out; a finished
    /// (re-)list rebuilds the kind's indexes from its caches.
    pub fn follow<K: Cached>(
        &self,
        event: &watcher::Event<Guarded<K>>,
        named: Named<K>,
        on_cluster: Option<OnCluster<K>>,
    ) {
        if let watcher::Event::Delete(Guarded(Ok(object))) = event
            && self.still_cached(object)
        {
            return;
        }
        self.follow_strategies(event, named);
        if let Some(on_cluster) = on_cluster {
            self.follow_clusters(event, on_cluster);
        }
    }

    fn follow_strategies<K: Cached>(&self, event: &watcher::Event<Guarded<K>>, named: Named<K>) {
        let mut indexes = lock(&self.by_strategy);
        match event {
            watcher::Event::Apply(Guarded(Ok(object))) => indexes
                .entry(TypeId::of::<K>())
                .or_default()
                .insert(object, named(object)),
            watcher::Event::Delete(Guarded(Ok(object))) => indexes
                .entry(TypeId::of::<K>())
                .or_default()
                .remove(object, named(object)),
            watcher::Event::InitDone => {
                if let Some(stores) = self.registered::<K>() {
                    indexes.insert(TypeId::of::<K>(), ByStrategy::of(&stores, named));
                }
            }
            _ => {}
        }
    }

    fn follow_clusters<K: Cached>(
        &self,
        event: &watcher::Event<Guarded<K>>,
        on_cluster: OnCluster<K>,
    ) {
        let mut indexes = lock(&self.by_cluster);
        match event {
            watcher::Event::Apply(Guarded(Ok(object))) => indexes
                .entry(TypeId::of::<K>())
                .or_default()
                .insert(object, on_cluster(object)),
            watcher::Event::Delete(Guarded(Ok(object))) => {
                indexes.entry(TypeId::of::<K>()).or_default().remove(object)
            }
            watcher::Event::InitDone => {
                if let Some(stores) = self.registered::<K>() {
                    indexes.insert(TypeId::of::<K>(), ByCluster::of(&stores, on_cluster));
                }
            }
            _ => {}
        }
    }

    /// The readable `K` in `namespace` on `cluster` (by display name or source) that `keep` accepts: through
    /// the index of a kind that keeps one, once its caches have synced; by a scan of the cache, or from the
    /// API, otherwise.
    pub async fn on_cluster<K: Cached>(
        &self,
        namespace: &str,
        cluster: &ClusterConnection,
        on_cluster: OnCluster<K>,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        let on = |o: &K| on_cluster(o).is_some_and(|c| c.same_cluster(cluster));
        let Some(stores) = self.stores_once_synced::<K>().await else {
            return self.listed_from_api(namespace, |o| on(o) && keep(o)).await;
        };
        let names = lock(&self.by_cluster)
            .get(&TypeId::of::<K>())
            .map(|index| index.names(namespace, cluster));
        let Some(names) = names else {
            return Ok(cached(&stores, |o: &K| {
                o.meta().namespace.as_deref() == Some(namespace) && on(o) && keep(o)
            }));
        };
        Ok(named_in(&stores, namespace, names, |o: &K| {
            on(o) && keep(o)
        }))
    }

    /// The readable `K` of every watched namespace filed under a cluster that `matches` accepts — asked
    /// once for each namespace and each source its objects reach a cluster through, with one of their
    /// connections — and that `keep` accepts; without an index, every cached object's cluster is asked
    /// (for a kind no controller caches, those of `namespace` from the API).
    pub async fn on_matching_clusters<K: Cached>(
        &self,
        namespace: &str,
        on_cluster: OnCluster<K>,
        matches: impl Fn(&str, &ClusterConnection) -> bool,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        let on = |o: &K| {
            let theirs = o.meta().namespace.as_deref().unwrap_or_default();
            on_cluster(o).is_some_and(|c| matches(theirs, c))
        };
        let Some(stores) = self.stores_once_synced::<K>().await else {
            return self.listed_from_api(namespace, |o| on(o) && keep(o)).await;
        };
        let filed: Option<Vec<(String, HashSet<String>)>> =
            lock(&self.by_cluster).get(&TypeId::of::<K>()).map(|index| {
                index
                    .sources()
                    .filter(|(theirs, connection, _)| matches(theirs, connection))
                    .map(|(theirs, _, names)| (theirs.to_string(), names.clone()))
                    .collect()
            });
        let Some(filed) = filed else {
            return Ok(cached(&stores, |o| on(o) && keep(o)));
        };
        Ok(filed
            .into_iter()
            // Not asked again per object: the index follows each event after the cache took it, so a
            // name filed under a source is on that source as cached (but for the moment between the two).
            .flat_map(|(theirs, names)| named_in(&stores, &theirs, names, &keep))
            .collect())
    }

    /// `K`'s caches as registered, synced or not.
    fn registered<K: Cached>(&self) -> Option<Arc<Stores<K>>> {
        downcast::<K>(lock(&self.stores).get(&TypeId::of::<K>()))
    }

    /// The readable `K` in `namespace` that name `strategy` (by its label or their `strategyRef`) and that
    /// `keep` accepts: from the cache through the index once it has synced (from the API for a kind no
    /// controller caches). `keep` must test the strategy itself: the index only narrows the search.
    pub async fn of_strategy<K: Cached>(
        &self,
        namespace: &str,
        strategy: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        self.of_strategy_mapped(namespace, strategy, keep, K::clone)
            .await
    }

    /// What `map` takes from each readable `K` in `namespace` that names `strategy` and that `keep`
    /// accepts, without copying the objects ([`Self::of_strategy`] copies them): a strategy's look reads a
    /// few fields of each of its hundreds of tasks.
    pub async fn of_strategy_mapped<K: Cached, T>(
        &self,
        namespace: &str,
        strategy: &str,
        keep: impl Fn(&K) -> bool,
        map: impl Fn(&K) -> T,
    ) -> Result<Vec<T>, Error> {
        let Some(stores) = self.stores_once_synced::<K>().await else {
            let listed = self.listed_from_api(namespace, keep).await?;
            return Ok(listed.iter().map(map).collect());
        };
        let names = lock(&self.by_strategy)
            .get(&TypeId::of::<K>())
            .map(|index| index.names(namespace, strategy))
            .unwrap_or_default();
        Ok(mapped_in(&stores, namespace, names, keep, map))
    }

    /// The readable `K` named `name` in `namespace`: from the cache once it has synced; from the API when the
    /// cache has not synced or does not hold it (an object created a moment ago may not have reached the
    /// cache yet, and "not found" must never be a guess).
    pub async fn get<K: Cached>(&self, namespace: &str, name: &str) -> Result<Option<K>, Error> {
        let cached = self.synced_stores::<K>().and_then(|stores| {
            stores.iter().find_map(|store| {
                store.get(&kube::runtime::reflector::ObjectRef::new(name).within(namespace))
            })
        });
        if let Some(object) = cached {
            return Ok(object.0.as_ref().ok().cloned());
        }
        let api: Api<Guarded<K>> = Api::namespaced(self.client.clone(), namespace);
        Ok(api.get_opt(name).await?.and_then(|o| o.0.ok()))
    }

    /// `K`'s caches once all of them have synced, waiting for a kind whose controller registered them however
    /// long their first list takes; `None` when no controller caches `K`.
    async fn stores_once_synced<K: Cached>(&self) -> Option<Arc<Stores<K>>> {
        let mut synced = self.kinds_synced.subscribe();
        loop {
            if let Some(stores) = self.synced_stores::<K>() {
                return Some(stores);
            }
            if !lock(&self.stores).contains_key(&TypeId::of::<K>()) {
                return None;
            }
            if synced.changed().await.is_err() {
                return self.synced_stores::<K>();
            }
        }
    }

    /// Waits until `K`'s caches have synced (not at all when no controller caches `K`).
    pub async fn synced<K: Cached>(&self) {
        self.stores_once_synced::<K>().await;
    }

    /// `K`'s caches, once all of them have synced.
    fn synced_stores<K: Cached>(&self) -> Option<Arc<Stores<K>>> {
        if !lock(&self.synced).contains(&TypeId::of::<K>()) {
            return None;
        }
        self.registered::<K>()
    }

    /// Every readable `K` in `namespace`: from the cache once it has synced (from the API for a kind no
    /// controller caches).
    pub async fn list<K: Cached>(&self, namespace: &str) -> Result<Vec<K>, Error> {
        self.list_where(namespace, |_: &K| true).await
    }

    /// The readable `K` in `namespace` that `keep` accepts; only those are copied out of the cache (a
    /// namespace may hold thousands of tasks).
    pub async fn list_where<K: Cached>(
        &self,
        namespace: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        self.list_everywhere(namespace, |o: &K| {
            o.meta().namespace.as_deref() == Some(namespace) && keep(o)
        })
        .await
    }

    /// The readable `K` of every namespace the operator watches that `keep` accepts, from the caches once
    /// they have synced; for a kind no controller caches, those of `namespace` from the API (a cluster-wide
    /// list may be beyond the RBAC of an operator that watches a list of namespaces).
    pub async fn list_everywhere<K: Cached>(
        &self,
        namespace: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        let Some(stores) = self.stores_once_synced::<K>().await else {
            return self.listed_from_api(namespace, keep).await;
        };
        Ok(cached(&stores, keep))
    }

    /// The readable `K` in `namespace` that `keep` accepts, listed from the API.
    async fn listed_from_api<K: Cached>(
        &self,
        namespace: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        let api: Api<Guarded<K>> = Api::namespaced(self.client.clone(), namespace);
        let listed = api.list(&ListParams::default()).await?.items;
        Ok(listed
            .into_iter()
            .filter_map(|o| o.0.ok())
            .filter(|o| keep(o))
            .collect())
    }
}

/// The readable objects named `names` in `namespace` that `keep` accepts, copied out of `stores`.
fn named_in<K: Cached>(
    stores: &Stores<K>,
    namespace: &str,
    names: impl IntoIterator<Item = String>,
    keep: impl Fn(&K) -> bool,
) -> Vec<K> {
    mapped_in(stores, namespace, names, keep, K::clone)
}

/// What `map` takes from each readable object named `names` in `namespace` that `keep` accepts.
fn mapped_in<K: Cached, T>(
    stores: &Stores<K>,
    namespace: &str,
    names: impl IntoIterator<Item = String>,
    keep: impl Fn(&K) -> bool,
    map: impl Fn(&K) -> T,
) -> Vec<T> {
    names
        .into_iter()
        .filter_map(|name| {
            let reference = kube::runtime::reflector::ObjectRef::new(&name).within(namespace);
            stores.iter().find_map(|store| store.get(&reference))
        })
        .filter_map(|o| o.0.as_ref().ok().filter(|o| keep(o)).map(&map))
        .collect()
}

/// The readable objects of `stores` that `keep` accepts, copied out.
fn cached<K: Cached>(stores: &Stores<K>, keep: impl Fn(&K) -> bool) -> Vec<K> {
    stores
        .iter()
        .flat_map(|store| store.state())
        .filter_map(|o| o.0.as_ref().ok().filter(|o| keep(o)).cloned())
        .collect()
}

/// What tests cache: objects as a synced watch leaves them in the catalog, indexes included.
#[cfg(test)]
impl Catalog {
    pub fn cache_for_tests<K: Cached>(
        &self,
        objects: impl IntoIterator<Item = K>,
        named: Named<K>,
        on_cluster: Option<OnCluster<K>>,
    ) {
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<K>>();
        self.register::<K>(vec![store]);
        for object in objects {
            let event = watcher::Event::Apply(Guarded(Ok(object)));
            writer.apply_watcher_event(&event);
            self.follow(&event, named, on_cluster);
        }
        self.cache_synced::<K>("test", 0, 1);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{api::BackupTask, controller::fixtures::FakeApi, oceanbase::fake::Journal};

    const TASKS: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks";

    /// A catalog over an API server that holds one BackupTask.
    fn catalog() -> (Catalog, FakeApi) {
        let api = FakeApi::new(Journal::default());
        api.put(
            &format!("{TASKS}/listed"),
            json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": "listed", "namespace": "ns", "uid": "u", "resourceVersion": "1"},
                "spec": {"tenant": "t1", "mode": "Full", "cluster": {"name": "c", "connectionSecret": "db"},
                         "dataDestination": {"uri": "file:///d"}, "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
            }),
        );
        let catalog = Catalog::new(api.client(), Arc::new(Readiness::new(1)));
        (catalog, api)
    }

    /// A start over 100 000 tasks takes minutes to list them: a list asked for meanwhile keeps waiting (a
    /// fallback list from the API after a fixed wait, once per strategy, made that start far slower).
    #[tokio::test(start_paused = true)]
    async fn a_list_before_the_cache_synced_waits_for_it_instead_of_listing_the_api() {
        let (catalog, api) = catalog();
        let (store, _writer) = kube::runtime::reflector::store::<Guarded<BackupTask>>();
        catalog.register::<BackupTask>(vec![store]);
        let catalog = Arc::new(catalog);
        let waiting = tokio::spawn({
            let catalog = catalog.clone();
            async move { catalog.list::<BackupTask>("ns").await }
        });
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        assert!(
            !waiting.is_finished(),
            "it waits for the cache, an hour too"
        );
        assert!(api.requests().is_empty(), "{:?}", api.requests());
        catalog.cache_synced::<BackupTask>("BackupTask", 0, 1);
        let listed = waiting.await.expect("joined").expect("listed");
        assert!(
            listed.is_empty(),
            "read from the (empty) cache, not the API: {listed:?}"
        );
    }

    /// Strategies `(namespace, name, display name, Secret)`, cached and indexed by cluster.
    fn strategies(catalog: &Catalog, all: &[(&str, &str, &str, &str)]) {
        let strategies = all.iter().map(|(namespace, name, display, secret)| {
            serde_json::from_value::<crate::api::BackupStrategy>(json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"cluster": {"name": display, "connectionSecret": secret}, "tenants": ["t1"],
                     "dataDestination": {"uri": "file:///d"}, "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
            }))
            .expect("a strategy")
        });
        let on = crate::controller::backup_strategy::on_cluster;
        catalog.cache_for_tests(strategies, |_| None, Some(on));
    }

    /// Who a cluster is, across namespaces, is asked once per namespace and source, not once per strategy:
    /// an estate holds thousands of strategies on hundreds of clusters, and every strategy's look asks.
    #[tokio::test]
    async fn matching_clusters_are_asked_once_per_namespace_and_source() {
        use crate::api::BackupStrategy;
        let (catalog, _api) = catalog();
        strategies(
            &catalog,
            &[
                ("a", "one", "east", "east-db"),
                ("a", "two", "east-renamed", "east-db"),
                ("a", "three", "west", "west-db"),
                ("b", "four", "anything", "b-east-db"),
                ("b", "five", "west", "b-west-db"),
            ],
        );
        let asked = Mutex::new(Vec::new());
        let east = |namespace: &str, cluster: &ClusterConnection| {
            let source = cluster.source_parts().1.to_string();
            lock(&asked).push((namespace.to_string(), source.clone()));
            source.ends_with("east-db")
        };
        let on = crate::controller::backup_strategy::on_cluster;
        let mut found: Vec<String> = catalog
            .on_matching_clusters("a", on, east, |_: &BackupStrategy| true)
            .await
            .expect("found")
            .iter()
            .map(|s| s.metadata.name.clone().unwrap_or_default())
            .collect();
        found.sort();
        assert_eq!(found, ["four", "one", "two"]);
        let mut asked = lock(&asked).clone();
        asked.sort();
        assert_eq!(
            asked,
            [
                ("a".into(), "east-db".into()),
                ("a".into(), "west-db".into()),
                ("b".into(), "b-east-db".into()),
                ("b".into(), "b-west-db".into())
            ],
            "once per namespace and source"
        );
    }

    /// A strategy's look takes a few fields of each of its objects, through the index and without a copy
    /// of any object; what `keep` refuses is left out.
    #[tokio::test]
    async fn the_objects_of_a_strategy_are_mapped_where_they_are_cached() {
        let (catalog, _api) = catalog();
        let tasks = [("a", "s", "t1"), ("b", "s", "t2"), ("c", "other", "t1")].map(
            |(name, strategy, tenant)| {
                serde_json::from_value::<BackupTask>(json!({
                    "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                    "metadata": {"name": name, "namespace": "ns"},
                    "spec": {"tenant": tenant, "mode": "Full", "strategyRef": {"name": strategy}},
                }))
                .expect("a task")
            },
        );
        catalog.cache_for_tests(
            tasks,
            <BackupTask as crate::controller::Reconcile>::strategy_ref,
            None,
        );
        let mut tenants = catalog
            .of_strategy_mapped(
                "ns",
                "s",
                |t: &BackupTask| t.metadata.name.as_deref() != Some("b"),
                |t| {
                    (
                        t.metadata.name.clone().unwrap_or_default(),
                        t.spec.tenant.clone(),
                    )
                },
            )
            .await
            .expect("mapped");
        tenants.sort();
        assert_eq!(tenants, [("a".to_string(), "t1".to_string())]);
    }

    /// A task whose label moves it from one watch to another (from the strays to its shard's, say) is
    /// deleted from the first cache and applied to the second, in either order: whichever comes last, the
    /// index still finds it under its strategy. Before, a delete arriving after the apply took it out of
    /// the index while the second cache held it, and the strategy's looks missed the task.
    #[tokio::test]
    async fn a_task_moving_between_two_caches_stays_in_the_index_whichever_event_comes_last() {
        use kube::runtime::watcher::Event;
        let named = <BackupTask as crate::controller::Reconcile>::strategy_ref;
        let task: Guarded<BackupTask> = serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "moving", "namespace": "ns", "labels": {"obbackup.dev/strategy": "s"}},
            "spec": {"tenant": "t1", "mode": "Full", "strategyRef": {"name": "s"}},
        }))
        .expect("a task");
        for delete_first in [false, true] {
            let (catalog, _api) = catalog();
            let (strays, mut strays_writer) = kube::runtime::reflector::store();
            let (shard, mut shard_writer) = kube::runtime::reflector::store();
            catalog.register::<BackupTask>(vec![strays]);
            catalog.cache_synced::<BackupTask>("BackupTask", 0, 1);
            let applied = Event::Apply(task.clone());
            strays_writer.apply_watcher_event(&applied);
            catalog.follow(&applied, named, None);
            catalog.add_store(shard);
            shard_writer.apply_watcher_event(&Event::InitDone);
            catalog.follow::<BackupTask>(&Event::InitDone, named, None);
            let deleted = Event::Delete(task.clone());
            let mut events = [
                (&mut strays_writer, deleted),
                (&mut shard_writer, applied.clone()),
            ];
            if !delete_first {
                events.reverse();
            }
            for (writer, event) in events {
                writer.apply_watcher_event(&event);
                catalog.follow(&event, named, None);
            }
            let found = catalog
                .of_strategy("ns", "s", |_: &BackupTask| true)
                .await
                .expect("read");
            assert_eq!(found.len(), 1, "delete first: {delete_first}");
        }
    }

    #[tokio::test]
    async fn a_kind_no_controller_caches_is_listed_from_the_api() {
        let (catalog, _api) = catalog();
        let listed = catalog.list::<BackupTask>("ns").await.expect("listed");
        assert_eq!(listed.len(), 1);
    }
}
