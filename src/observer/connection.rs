//! How the observers reach their clusters: each observer's client, made from the connection Secret or
//! from an OBCluster's OBServers, and the statements controllers send through it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{ClusterKey, ClusterObserver, Observers};
use crate::{
    api::common::ClusterSource,
    oceanbase::{ConnectionInfo, ObError, OceanBase, Redactor},
    sync::lock,
};

impl Observers {
    /// The observer's client, built when missing: from the connection Secret, or from an OBCluster's
    /// OBServers (the first whose identity answers; refused when it is another cluster's).
    pub async fn backend(&self, observer: &ClusterObserver) -> Result<Arc<dyn OceanBase>, String> {
        if let Some(backend) = lock(&observer.backend).clone() {
            return Ok(backend);
        }
        let (backend, address) = match &observer.key.source {
            ClusterSource::Secret(name) => {
                let info = self.secret_login(&observer.key.namespace, name).await?;
                let backend = self.connector.connect(&info);
                // Known when readable (ownership across namespaces compares it); a cluster that does not
                // say is still usable through its Secret. One that cannot be reached gets no client, so
                // the read does not try it a second time: a cluster still down sees one connection
                // attempt per backoff step.
                let identity = backend.identity().await;
                *lock(&observer.identity) = identity.as_ref().ok().cloned();
                if let Err(error) = identity
                    && error.is_transient()
                {
                    return Err(error.to_string());
                }
                (backend, format!("{}:{}", info.host, info.port))
            }
            ClusterSource::ObCluster(name) => self.ob_cluster_backend(observer, name).await?,
        };
        *lock(&observer.address) = Some(address);
        *lock(&observer.backend) = Some(backend.clone());
        Ok(backend)
    }

    /// The sys login a connection Secret holds.
    async fn secret_login(&self, namespace: &str, name: &str) -> Result<ConnectionInfo, String> {
        ConnectionInfo::from_secret_data(&self.secret_data(namespace, name).await?)
            .map_err(|e| format!("Secret {name}: {e}"))
    }

    /// The data of Secret `name`, or why it cannot be had (never a value).
    async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, k8s_openapi::ByteString>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read Secret {name}: {e}"))?
            .ok_or_else(|| format!("Secret {name} not found"))?;
        Ok(secret.data.unwrap_or_default())
    }

    /// A client of OBCluster `name`: its OBServers tried in ob-operator's order (running first) until one
    /// answers, as root of sys with the root Secret's password; refused (and remembered as refused) when
    /// OceanBase says it is another cluster than the OBCluster.
    async fn ob_cluster_backend(
        &self,
        observer: &ClusterObserver,
        name: &str,
    ) -> Result<(Arc<dyn OceanBase>, String), String> {
        let namespace = &observer.key.namespace;
        let (facts, addresses) = self.ob_operator().cluster(namespace, name)?;
        let password = self.password(namespace, &facts.root_secret).await?;
        let mut last = format!("OBCluster {name} has no OBServer with an address");
        for address in addresses {
            let info = ConnectionInfo {
                host: address.host.clone(),
                port: address.port,
                user: crate::oceanbase::connection::DEFAULT_USER.into(),
                password: password.clone(),
                ca_cert: None,
            };
            let backend = self.connector.connect(&info);
            let at = format!("{}:{}", address.host, address.port);
            match backend.identity().await {
                Ok(identity) if identity == facts.identity => {
                    *lock(&observer.identity) = Some(identity);
                    *lock(&observer.refusal) = None;
                    return Ok((backend, at));
                }
                Ok(identity) => {
                    let refusal = format!(
                        "OBCluster {name} is cluster {} but the OBServer at {at} belongs to cluster {identity}: \
                         fix the OBCluster or its OBServers",
                        facts.identity
                    );
                    *lock(&observer.refusal) = Some(refusal.clone());
                    return Err(refusal);
                }
                Err(error) => last = format!("OBServer at {at}: {error}"),
            }
        }
        Err(last)
    }

    /// The `password` key of Secret `name`.
    async fn password(&self, namespace: &str, name: &str) -> Result<String, String> {
        self.secret_data(namespace, name)
            .await?
            .get("password")
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("Secret {name}: key password is missing"))
    }

    /// ob-operator's objects, as far as they are read.
    pub fn ob_operator(&self) -> crate::oboperator::ObOperator {
        lock(&self.ob_operator).clone()
    }

    /// Reads ob-operator's objects from `ob_operator` from now on.
    pub fn set_ob_operator(&self, ob_operator: crate::oboperator::ObOperator) {
        *lock(&self.ob_operator) = ob_operator;
    }

    /// An OBServer of OBCluster `cluster` in `namespace` changed: its observer leaves the address it uses
    /// when no OBServer has it any more (a pod recreated with a new IP), and reads again at once from the
    /// first one they give. An address still listed is kept: a change of status alone reconnects nothing.
    pub fn servers_changed(&self, namespace: &str, cluster: &str) {
        let key = ClusterKey {
            namespace: namespace.to_string(),
            source: ClusterSource::ObCluster(cluster.to_string()),
        };
        let Some(observer) = lock(&self.clusters).get(&key).cloned() else {
            return;
        };
        let listed: Vec<String> = self
            .ob_operator()
            .cluster(namespace, cluster)
            .map(|(_, addresses)| addresses)
            .unwrap_or_default()
            .into_iter()
            .map(|a| format!("{}:{}", a.host, a.port))
            .collect();
        let used = lock(&observer.address).clone();
        if used.is_some_and(|used| !listed.contains(&used)) {
            *lock(&observer.backend) = None;
            observer.poke();
        }
    }

    /// Why the cluster of `key` is refused (it is not the cluster its OBCluster says), if it is.
    pub fn refusal(&self, key: &ClusterKey) -> Option<String> {
        let observer = lock(&self.clusters).get(key).cloned()?;
        lock(&observer.refusal).clone()
    }

    /// Who the cluster of `key` is, once its observer has connected and the cluster said.
    pub fn identity(&self, key: &ClusterKey) -> Option<crate::oceanbase::ClusterIdentity> {
        let observer = lock(&self.clusters).get(key).cloned()?;
        lock(&observer.identity).clone()
    }

    /// Runs statements on the observer's cluster, on one session, with `redactor`'s secrets hidden from any
    /// error. A statement that could not be built fails the batch before anything is sent.
    pub async fn execute(
        &self,
        observer: &ClusterObserver,
        statements: Vec<Result<String, ObError>>,
        redactor: &Redactor,
    ) -> Result<(), ObError> {
        let statements: Vec<String> = statements.into_iter().collect::<Result<_, _>>()?;
        let backend = self.backend(observer).await.map_err(ObError::Unreachable)?;
        let main = statements.last().map_or("", String::as_str);
        crate::crash::statement(main, false);
        let outcome = backend.execute(&statements).await;
        crate::crash::statement(main, true);
        outcome.map_err(|e| e.redacted(redactor))
    }
}
