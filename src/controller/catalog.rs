//! The objects the controllers' watches already hold, for the decisions that need more than one object:
//! who owns a tenant's side effects ([`super::ownership`]) and which children a strategy wakes when its
//! spec changes. Reading the controllers' reflector caches costs no API request.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex},
};

use kube::{ResourceExt, core::DeserializeGuard, runtime::reflector::Store};

use super::{Error, Reconcile};

/// The reflector caches of every controller, by kind.
#[derive(Default)]
pub struct Catalog {
    stores: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

/// One kind's caches: one per watched namespace (or one over all).
type Stores<K> = Vec<Store<DeserializeGuard<K>>>;

impl Catalog {
    /// Records the caches of `K`'s controller.
    pub fn register<K: Reconcile>(&self, stores: Stores<K>) {
        self.stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(TypeId::of::<K>(), Arc::new(stores));
    }

    /// Every readable `K` in `namespace`, once its cache has synced (so "none" means none, never "not
    /// read yet"). Errors when `K` has no controller.
    pub async fn list<K: Reconcile>(&self, namespace: &str) -> Result<Vec<K>, Error> {
        let stores = self
            .stores
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&TypeId::of::<K>())
            .cloned()
            .and_then(|s| s.downcast::<Stores<K>>().ok())
            .ok_or(Error::CacheUnavailable(K::KIND))?;
        let mut objects = Vec::new();
        for store in stores.iter() {
            store
                .wait_until_ready()
                .await
                .map_err(|_| Error::CacheUnavailable(K::KIND))?;
            objects.extend(
                store
                    .state()
                    .into_iter()
                    .filter(|o| o.namespace().as_deref() == Some(namespace))
                    .filter_map(|o| o.0.as_ref().ok().cloned()),
            );
        }
        Ok(objects)
    }
}
