//! The caches of ob-operator's objects: one watch per kind (per watched namespace, or one over all), started
//! when the integration is on and ob-operator's API group is served. Reading them costs no API request.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use futures::StreamExt;
use kube::{
    Api, Client, ResourceExt,
    api::DynamicObject,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};
use tokio_util::sync::CancellationToken;

use super::{
    Address, ClusterFacts, GROUP, Kind, PolicyClaim, TenantRoot, VERSION, addresses, claim_of,
    cluster_facts, tenant_root,
};

/// Called with `(namespace, OBCluster name)` when one of that cluster's OBServers changed.
pub type ServersChanged = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// ob-operator's objects as far as the operator reads them; `off` when the integration is off or
/// ob-operator is not installed.
#[derive(Clone, Default)]
pub struct ObOperator {
    caches: Option<Arc<Caches>>,
}

struct Caches {
    clusters: Vec<Store<DynamicObject>>,
    servers: Vec<Store<DynamicObject>>,
    tenants: Vec<Store<DynamicObject>>,
    policies: Vec<Store<DynamicObject>>,
    /// How many watch streams have listed their objects once, of `streams`.
    synced: AtomicUsize,
    streams: usize,
}

/// Every object of one kind's caches.
fn all(stores: &[Store<DynamicObject>]) -> Vec<Arc<DynamicObject>> {
    stores.iter().flat_map(Store::state).collect()
}

/// Why a question about ob-operator's objects has no answer yet.
pub const NOT_SYNCED: &str = "ob-operator's objects are still being read";

impl ObOperator {
    /// Nothing of ob-operator: every question answers "not ob-operator's".
    pub fn off() -> Self {
        Self::default()
    }

    /// Starts the caches over `namespaces` (every namespace when empty) when ob-operator's API group is
    /// served; `changed` hears of every OBServer change. Off (with the reason logged) otherwise.
    pub async fn start(
        client: Client,
        namespaces: &[String],
        changed: ServersChanged,
        shutdown: CancellationToken,
    ) -> Self {
        match client
            .list_api_group_resources(&format!("{GROUP}/{VERSION}"))
            .await
        {
            Ok(_) => {}
            Err(error) => {
                tracing::info!(%error, "ob-operator's API group is not served; working without it");
                return Self::off();
            }
        }
        // One watch per kind and watched namespace (a Role per namespace allows no cluster-wide list), or
        // one per kind over every namespace.
        let scopes: Vec<Option<&String>> = match namespaces {
            [] => vec![None],
            some => some.iter().map(Some).collect(),
        };
        let kinds = [
            Kind::ObCluster,
            Kind::ObServer,
            Kind::ObTenant,
            Kind::ObTenantBackupPolicy,
        ];
        let mut writers = Vec::new();
        let mut stores: [Vec<Store<DynamicObject>>; 4] = Default::default();
        for (index, kind) in kinds.into_iter().enumerate() {
            for scope in &scopes {
                let writer = reflector::store::Writer::new(kind.resource());
                stores[index].push(writer.as_reader());
                let api = match scope {
                    Some(namespace) => {
                        Api::namespaced_with(client.clone(), namespace, &kind.resource())
                    }
                    None => Api::all_with(client.clone(), &kind.resource()),
                };
                writers.push((kind, api, writer));
            }
        }
        let [clusters, servers, tenants, policies] = stores;
        let caches = Arc::new(Caches {
            clusters,
            servers,
            tenants,
            policies,
            synced: AtomicUsize::new(0),
            streams: writers.len(),
        });
        for (kind, api, writer) in writers {
            let changed = (kind == Kind::ObServer).then(|| changed.clone());
            spawn_watch(api, writer, caches.clone(), changed, shutdown.clone());
        }
        tracing::info!(
            "ob-operator's API group is served; watching its clusters, servers, tenants and backup policies"
        );
        let started = Self {
            caches: Some(caches),
        };
        // The controllers start once the policies are known (or after a while, then without them until
        // they are): a tenant a policy holds must not see a statement in the first seconds.
        let deadline = tokio::time::Instant::now() + crate::timing::OB_OPERATOR_SYNC;
        while started.synced().is_err() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(crate::timing::OB_OPERATOR_SYNC_POLL).await;
        }
        if started.synced().is_err() {
            tracing::warn!(
                "ob-operator's objects could not be read within {:?} (check the operator's RBAC for \
                 oceanbase.oceanbase.com); until they are, tenants its backup policies hold are not recognised",
                crate::timing::OB_OPERATOR_SYNC
            );
        }
        started
    }

    /// The caches once every watch has listed its objects; `Ok(None)` when ob-operator is off.
    fn synced(&self) -> Result<Option<&Caches>, &'static str> {
        match &self.caches {
            Some(caches) if caches.synced.load(Ordering::Acquire) >= caches.streams => {
                Ok(Some(caches))
            }
            Some(_) => Err(NOT_SYNCED),
            None => Ok(None),
        }
    }

    /// Every tenant a backup policy holds; none when ob-operator is off; an error until the caches synced.
    pub fn claims(&self) -> Result<Vec<PolicyClaim>, &'static str> {
        let Some(caches) = self.synced()? else {
            return Ok(Vec::new());
        };
        let policies = all(&caches.policies);
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let clusters = all(&caches.clusters);
        let tenants = all(&caches.tenants);
        Ok(policies
            .iter()
            .filter_map(|p| claim_of(p, &clusters, &tenants))
            .collect())
    }

    /// What OBCluster `name` of `namespace` says of the cluster, or why it cannot be used.
    pub fn facts(&self, namespace: &str, name: &str) -> Result<ClusterFacts, String> {
        let caches = self.caches_for(Kind::ObCluster, name)?;
        let cluster = find(&caches.clusters, Kind::ObCluster, namespace, name)
            .ok_or_else(|| format!("OBCluster {name} not found in namespace {namespace}"))?;
        cluster_facts(&cluster)
    }

    /// OBCluster `name` of `namespace`: its facts and its OBServers' addresses, or why it cannot be used.
    pub fn cluster(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<(ClusterFacts, Vec<Address>), String> {
        let facts = self.facts(namespace, name)?;
        let servers = all(&self.caches_for(Kind::ObCluster, name)?.servers);
        let servers = servers
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(namespace))
            .map(AsRef::as_ref);
        Ok((facts, addresses(servers, name)))
    }

    /// How to log in as the root of OBTenant `name` of `namespace` for `tenants` ([`tenant_root`]), or why
    /// it cannot be used.
    pub fn tenant_root(
        &self,
        namespace: &str,
        name: &str,
        tenants: &[String],
    ) -> Result<TenantRoot, String> {
        let caches = self.caches_for(Kind::ObTenant, name)?;
        let obtenant = find(&caches.tenants, Kind::ObTenant, namespace, name)
            .ok_or_else(|| format!("OBTenant {name} not found in namespace {namespace}"))?;
        tenant_root(&obtenant, tenants)
    }

    /// The synced caches, or why object `name` of `kind` cannot be read.
    fn caches_for(&self, kind: Kind, name: &str) -> Result<&Caches, String> {
        match self.synced() {
            Ok(Some(caches)) => Ok(caches),
            Ok(None) => Err(format!(
                "{} {name} cannot be read: ob-operator's CRDs are not installed, or the operator runs \
                 without its ob-operator integration (chart value obOperator.enabled)",
                kind.name()
            )),
            Err(why) => Err(why.to_string()),
        }
    }
}

/// The object `name` of `namespace` in one kind's caches.
fn find(
    stores: &[Store<DynamicObject>],
    kind: Kind,
    namespace: &str,
    name: &str,
) -> Option<Arc<DynamicObject>> {
    let key = reflector::ObjectRef::new_with(name, kind.resource()).within(namespace);
    stores.iter().find_map(|store| store.get(&key))
}

/// Runs one watch into `writer` until shutdown, counting its first listing as synced and telling `changed`
/// of every OBServer event.
fn spawn_watch(
    api: Api<DynamicObject>,
    writer: reflector::store::Writer<DynamicObject>,
    caches: Arc<Caches>,
    changed: Option<ServersChanged>,
    shutdown: CancellationToken,
) {
    let config = watcher::Config::default().any_semantic();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut listed = false;
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => break,
                event = stream.next() => match event { Some(event) => event, None => break },
            };
            match event {
                Ok(watcher::Event::InitDone) if !listed => {
                    listed = true;
                    caches.synced.fetch_add(1, Ordering::AcqRel);
                }
                Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => {
                    if let Some(changed) = &changed {
                        let cluster = object
                            .labels()
                            .get(super::CLUSTER_LABEL)
                            .cloned()
                            .unwrap_or_default();
                        changed(&object.namespace().unwrap_or_default(), &cluster);
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "watching ob-operator's objects failed; retrying")
                }
            }
        }
    });
}
