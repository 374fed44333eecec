//! obsim in the test process, reached by the operator over the MySQL protocol like a real cluster, and the
//! connection Secret that points at it.

use std::sync::{Arc, MutexGuard};

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use obsim::{
    clock::Clock,
    model::{Cluster, Version},
    sim::{Node, Simulator},
};

/// The sys password of test clusters. Tests scan logs, statuses and events for it.
pub const SYS_PASSWORD: &str = "obsim-sys-Pa55-never-logged";

/// The OceanBase version the integration tests' clusters run: `OBSIM_VERSION` (`scripts/test.sh` runs the
/// operator's integration tests once with the newest schema, 4.4.1, and once with the older one, 4.2.5), else
/// 4.4.1.
pub fn profile() -> Version {
    match std::env::var("OBSIM_VERSION") {
        Ok(text) => Version::parse(&text)
            .unwrap_or_else(|| panic!("OBSIM_VERSION={text} is not a version such as 4.2.5")),
        Err(_) => Version::V4_4_1,
    }
}

/// The profile, or `needed` when a test exercises what only `needed` and later have (manual cleanup: 4.4.1).
pub fn profile_at_least(needed: Version) -> Version {
    profile().max(needed)
}

/// A simulated cluster named `name` with user tenants of `bytes` each, its clock at `speed`, running
/// [`profile`].
pub async fn start(name: &str, tenants: &[&str], bytes: u64, speed: f64) -> Arc<Node> {
    start_with(
        name,
        tenants,
        bytes,
        Clock::new(jiff::Timestamp::now(), speed),
        profile(),
    )
    .await
}

/// Like [`start`], with a clock and a version of its own.
pub async fn start_with(
    name: &str,
    tenants: &[&str],
    bytes: u64,
    clock: Clock,
    version: Version,
) -> Arc<Node> {
    start_in(&Simulator::new(), name, tenants, bytes, clock, version).await
}

/// Like [`start_with`], as one more cluster of `simulator`: its restores read the backups any cluster of
/// `simulator` wrote, as clusters sharing a backup storage do.
pub async fn start_in(
    simulator: &Arc<Simulator>,
    name: &str,
    tenants: &[&str],
    bytes: u64,
    clock: Clock,
    version: Version,
) -> Arc<Node> {
    let mut cluster = Cluster::new(name, version, SYS_PASSWORD, clock);
    for tenant in tenants {
        cluster.add_user_tenant(tenant, bytes).expect("tenant");
    }
    simulator
        .start(cluster, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("obsim listens")
}

/// Locks the simulated cluster (to inject faults or look at its jobs).
pub fn cluster(node: &Node) -> MutexGuard<'_, Cluster> {
    node.cluster.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many backup jobs (active and finished) of user tenants carry this description.
pub fn jobs_with_description(node: &Node, description: &str) -> usize {
    let cluster = cluster(node);
    cluster
        .tenants
        .iter()
        .flat_map(|t| t.backups.jobs.iter().chain(&t.backups.history))
        .filter(|j| j.level == "USER_TENANT" && j.description == description)
        .count()
}

/// Creates (or updates) a Secret with string data.
pub async fn secret(client: &Client, namespace: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    let manifest = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    });
    api.patch(
        name,
        &PatchParams::apply("integration-test").force(),
        &Patch::Apply(&manifest),
    )
    .await
    .expect("secret");
}

/// The connection Secret for a node.
pub async fn connection_secret(client: &Client, namespace: &str, name: &str, node: &Node) {
    let port = node.addr.port().to_string();
    secret(
        client,
        namespace,
        name,
        &[
            ("host", "127.0.0.1"),
            ("port", &port),
            ("user", "root@sys"),
            ("password", SYS_PASSWORD),
        ],
    )
    .await;
}

/// Archive rounds a tenant has started so far (the current one and finished ones).
/// How many backup jobs OceanBase has seen (running and finished) across the user tenants (a BACKUP sent
/// from sys also leaves a CLUSTER-level row in sys, not counted).
pub fn backup_jobs(node: &Node) -> usize {
    cluster(node)
        .tenants
        .iter()
        .flat_map(|t| t.backups.jobs.iter().chain(&t.backups.history))
        .filter(|j| j.level == "USER_TENANT")
        .count()
}

pub fn rounds_started(node: &Node, tenant: &str) -> usize {
    cluster(node).tenant(tenant).map_or(0, |t| {
        t.archive.history.len() + usize::from(t.archive.round.is_some())
    })
}
