//! ob-operator beside the operator: its real CRDs (installed by the control plane when
//! `tools/ob-operator/crds.sh` could fetch them) and objects whose status points at obsim, as ob-operator
//! would write them. An "observer" is obsim answering on `127.0.0.N:2881`, the real SQL port.

use std::net::SocketAddr;

use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams},
};
use ob_backup_operator::oboperator::Kind;
use serde_json::{Value, json};

use super::simulator::SYS_PASSWORD;

/// Whether ob-operator's CRDs are on the control plane; says why not (and fails when
/// `OBBACKUP_REQUIRE_OB_OPERATOR=1`) otherwise.
pub fn installed() -> bool {
    let crds = std::env::var("OBBACKUP_OB_OPERATOR_CRDS").unwrap_or_default();
    if !crds.is_empty() {
        return true;
    }
    let why = "SKIP: ob-operator's CRDs are not installed (tools/ob-operator/crds.sh could not fetch them)";
    assert!(
        std::env::var("OBBACKUP_REQUIRE_OB_OPERATOR").as_deref() != Ok("1"),
        "{why}"
    );
    eprintln!("{why}");
    false
}

/// Makes the world's cluster answer on a fresh loopback address at port 2881, as an OBServer pod would;
/// returns it. Served by the world's simulator, so that a restore sent there finds the backups of its
/// clusters.
pub async fn listen(world: &super::world::World) -> SocketAddr {
    let (simulator, node) = (&world.simulator, &world.node);
    for _ in 0..64 {
        let n = 2 + rand_byte() % 250;
        let addr: SocketAddr = format!("127.0.{}.{n}", 1 + rand_byte() % 250)
            .parse::<std::net::IpAddr>()
            .map(|ip| SocketAddr::new(ip, 2881))
            .expect("address");
        if let Ok(bound) = simulator.add_listener(node, addr).await {
            return bound;
        }
    }
    panic!("no free 127.x.y.z:2881")
}

fn rand_byte() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(std::time::SystemTime::now()) % 256) as u32
}

/// Creates `object` and then writes its status as ob-operator would.
pub async fn create_with_status(admin: &Client, namespace: &str, kind: Kind, object: Value) {
    let name = object["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    let status = object.get("status").cloned();
    let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), namespace, &kind.resource());
    api.patch(
        &name,
        &PatchParams::apply("e2e").force(),
        &Patch::Apply(&object),
    )
    .await
    .expect("ob-operator object admitted");
    if let Some(status) = status {
        set_status(admin, namespace, kind, &name, status).await;
    }
}

/// Merges `status` into the object's status.
pub async fn set_status(admin: &Client, namespace: &str, kind: Kind, name: &str, status: Value) {
    let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), namespace, &kind.resource());
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .expect("status written");
}

fn object(kind: Kind, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "oceanbase.oceanbase.com/v1alpha1", "kind": kind.name(),
        "metadata": {"name": name}, "spec": spec,
    })
}

fn storage() -> Value {
    json!({"dataStorage": {"size": "1Gi"}, "logStorage": {"size": "1Gi"}, "redoLogStorage": {"size": "1Gi"}})
}

/// An OBCluster `name` for OceanBase cluster `cluster_name`/`cluster_id`, its root Secret `<name>-root` holding
/// obsim's sys password.
pub async fn ob_cluster(
    admin: &Client,
    namespace: &str,
    name: &str,
    cluster_name: &str,
    cluster_id: i64,
) {
    let root = format!("{name}-root");
    super::simulator::secret(admin, namespace, &root, &[("password", SYS_PASSWORD)]).await;
    let template = json!({"image": "oceanbase/oceanbase-cloud-native:4.4.1", "resource": {"memory": "8Gi"}, "storage": storage()});
    let mut cluster = object(
        Kind::ObCluster,
        name,
        json!({"clusterName": cluster_name, "clusterId": cluster_id, "observer": template,
               "topology": [{"zone": "zone1", "replica": 1}], "userSecrets": {"root": root}}),
    );
    cluster["status"] = json!({"image": "oceanbase/oceanbase-cloud-native:4.4.1", "obzones": [],
                               "parameters": [], "status": "running"});
    create_with_status(admin, namespace, Kind::ObCluster, cluster).await;
}

/// An OBServer `name` of OBCluster `cluster` at `addr`'s IP, `running` or not.
pub async fn ob_server(
    admin: &Client,
    namespace: &str,
    name: &str,
    cluster: &str,
    addr: SocketAddr,
    running: bool,
) {
    let template = json!({"image": "oceanbase/oceanbase-cloud-native:4.4.1", "resource": {"memory": "8Gi"}, "storage": storage()});
    let mut server = object(
        Kind::ObServer,
        name,
        json!({"clusterName": cluster, "zone": "zone1", "observerTemplate": template}),
    );
    server["metadata"]["labels"] = json!({"ref-obcluster": cluster});
    server["status"] = server_status(addr, running);
    create_with_status(admin, namespace, Kind::ObServer, server).await;
}

/// An OBServer's status at `addr`'s IP.
pub fn server_status(addr: SocketAddr, running: bool) -> Value {
    json!({"image": "oceanbase/oceanbase-cloud-native:4.4.1", "nodeIp": "10.0.0.1", "podIp": addr.ip().to_string(),
           "podPhase": "Running", "ready": running, "status": if running { "running" } else { "restarting" }})
}

/// An OBTenantBackupPolicy `name` of OBCluster `cluster`, its tenant named by `tenant` (`tenantName` or
/// `tenantCRName`), as a user writes it (no status).
pub fn policy_object(name: &str, cluster: &str, tenant: Value) -> Value {
    let path = tenant
        .as_object()
        .and_then(|t| t.values().next())
        .and_then(Value::as_str)
        .unwrap_or("tenant")
        .to_string();
    let destination = |kind: &str| json!({"type": "NFS", "path": format!("{path}/{kind}")});
    let mut spec = json!({"obClusterName": cluster, "tenantSecret": format!("{cluster}-root"),
        "logArchive": {"destination": destination("archive"), "switchPieceInterval": "1d"},
        "dataBackup": {"destination": destination("data"),
                       "fullCrontab": "30 0 * * 6", "incrementalCrontab": "30 1 * * *"},
        "dataClean": {"recoveryWindow": "8d"}});
    if let (Some(spec), Some(tenant)) = (spec.as_object_mut(), tenant.as_object()) {
        spec.extend(tenant.clone());
    }
    object(Kind::ObTenantBackupPolicy, name, spec)
}

/// An OBTenantBackupPolicy `name` on tenant `tenant` of OBCluster `cluster`, in state `state`.
pub async fn policy(
    admin: &Client,
    namespace: &str,
    name: &str,
    cluster: &str,
    tenant: &str,
    state: &str,
) {
    let mut policy = policy_object(name, cluster, json!({"tenantName": tenant}));
    policy["status"] = json!({"status": state});
    create_with_status(admin, namespace, Kind::ObTenantBackupPolicy, policy).await;
}

/// An OBTenant `name` of tenant `tenant` on OBCluster `test`, running, its `spec.credentials` and
/// `status.credentials` as given (`{}`: none), as ob-operator writes them.
pub async fn ob_tenant(
    admin: &Client,
    namespace: &str,
    (name, tenant): (&str, &str),
    spec_credentials: Value,
    status_credentials: Value,
) {
    let unit = json!({"maxCPU": "1", "memorySize": "2Gi"});
    let replica = json!({"name": "Full", "replica": 1, "isActive": true});
    let mut obtenant = object(
        Kind::ObTenant,
        name,
        json!({"obcluster": "test", "tenantName": tenant, "unitNum": 1, "credentials": spec_credentials,
               "pools": [{"zone": "zone1", "type": replica, "resource": unit}]}),
    );
    obtenant["status"] = json!({"status": "running", "credentials": status_credentials,
        "resourcePool": [{"zoneList": "zone1", "unitNum": 1, "units": [], "priority": 1,
                          "type": replica, "unitConfig": unit}]});
    create_with_status(admin, namespace, Kind::ObTenant, obtenant).await;
}

/// A world beside ob-operator's CRDs (none when they are not installed), with OBCluster `test` naming the
/// world's OceanBase cluster by its real name and id.
pub async fn beside(
    prefix: &str,
    tenants: &[&str],
    bytes: u64,
    speed: f64,
    cluster_id: i64,
) -> Option<super::world::World> {
    if !installed() {
        return None;
    }
    let world = super::world::World::new(prefix, tenants, bytes, speed).await?;
    ob_cluster(
        &world.admin,
        &world.namespace,
        "test",
        "obcluster",
        cluster_id,
    )
    .await;
    Some(world)
}
