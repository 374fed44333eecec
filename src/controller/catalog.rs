//! The objects the controllers' watches already hold, for the decisions that need more than one object:
//! who owns a tenant's side effects ([`super::ownership`]) and which children a strategy wakes when its
//! spec changes. Reading the controllers' reflector caches costs no API request.
//!
//! A cache is read only once it is known to be synced, so "none" always means none, never "not read yet".
//! It is known synced when the watch stream feeding it has said `InitDone` for every watched namespace
//! (also for a kind with no objects); until then the objects are listed from the API. The cache's own
//! `wait_until_ready` is not used: it wakes only its last waiter, and the controller's runner waits on it
//! too, so a second waiter could stall either.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use kube::{
    Api, Client, ResourceExt, api::ListParams, core::DeserializeGuard, runtime::reflector::Store,
};

use super::Error;
use crate::readiness::Readiness;
use crate::sync::lock;

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
    readiness: Arc<Readiness>,
}

/// One kind's caches: one per watched namespace (or one over all).
type Stores<K> = Vec<Store<DeserializeGuard<K>>>;

impl Catalog {
    /// A catalog that lists from the API through `client` until a cache is known synced, and tells
    /// `readiness` when a kind's caches have all synced.
    pub fn new(client: Client, readiness: Arc<Readiness>) -> Self {
        Self {
            client,
            stores: Mutex::default(),
            synced: Mutex::default(),
            caches_synced: Mutex::default(),
            readiness,
        }
    }

    /// Records the caches of `K`'s controller.
    pub fn register<K: Cached>(&self, stores: Stores<K>) {
        lock(&self.stores).insert(TypeId::of::<K>(), Arc::new(stores));
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
        }
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
        let api: Api<DeserializeGuard<K>> = Api::namespaced(self.client.clone(), namespace);
        Ok(api.get_opt(name).await?.and_then(|o| o.0.ok()))
    }

    /// `K`'s caches, once all of them have synced.
    fn synced_stores<K: Cached>(&self) -> Option<Arc<Stores<K>>> {
        lock(&self.synced)
            .contains(&TypeId::of::<K>())
            .then(|| lock(&self.stores).get(&TypeId::of::<K>()).cloned())
            .flatten()
            .and_then(|s| s.downcast::<Stores<K>>().ok())
    }

    /// Every readable `K` in `namespace`: from the cache once it has synced, else from the API.
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
        let Some(stores) = self.synced_stores::<K>() else {
            let api: Api<DeserializeGuard<K>> = Api::namespaced(self.client.clone(), namespace);
            let listed = api.list(&ListParams::default()).await?.items;
            return Ok(listed
                .into_iter()
                .filter_map(|o| o.0.ok())
                .filter(|o| keep(o))
                .collect());
        };
        Ok(cached(&stores, |o: &K| {
            o.namespace().as_deref() == Some(namespace) && keep(o)
        }))
    }

    /// The readable `K` of every namespace the operator watches that `keep` accepts, from the caches; until
    /// they have synced, those of `namespace` from the API (a cluster-wide list may be beyond the RBAC of
    /// an operator that watches a list of namespaces).
    pub async fn list_everywhere<K: Cached>(
        &self,
        namespace: &str,
        keep: impl Fn(&K) -> bool,
    ) -> Result<Vec<K>, Error> {
        let Some(stores) = self.synced_stores::<K>() else {
            return self.list_where(namespace, keep).await;
        };
        Ok(cached(&stores, keep))
    }
}

/// The readable objects of `stores` that `keep` accepts, copied out.
fn cached<K: Cached>(stores: &Stores<K>, keep: impl Fn(&K) -> bool) -> Vec<K> {
    stores
        .iter()
        .flat_map(|store| store.state())
        .filter_map(|o| o.0.as_ref().ok().filter(|o| keep(o)).cloned())
        .collect()
}
