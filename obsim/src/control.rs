//! The control API for tests and the demo: JSON over HTTP on loopback. Create clusters and tenants, set the
//! simulated clock's speed or step it, inject and clear faults. `GET /` lists the routes.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};

use crate::{
    clock::Clock,
    error::SqlError,
    model::{Cluster, MAX_CLUSTER_ID, UserChange, Version},
    sim::{Node, Simulator},
};

/// What `GET /` answers: the routes.
const ROUTES: &str = "GET  /clusters                       clusters, cluster ids, addresses and tenants
POST /clusters                       {name, version, password, clusterId?, listen?, servers?, tenants:[{name, dataBytes}]}
     clusterId: GV$OB_PARAMETERS' cluster_id, 1..4294901759 (default: 1 + FNV-1a-64(name) mod 4294901759)
     servers: the observers as [\"ip:port\"], one zone each, where DBA_OB_UNITS puts every tenant's units
              (default: [\"127.0.0.1:2882\"])
POST /clusters/{cluster}/tenants     {name, dataBytes}
POST /clusters/{cluster}/listeners   {listen: \"127.0.0.3:2881\"}  answer on that address too (port 0: any); replies {address}
DELETE /clusters/{cluster}/listeners/{addr}   stop answering on addr and drop the sessions that came through it
PUT  /clusters/{cluster}/tenants/{tenant}/users/{user}   {password}  (creates or changes; log in as user@tenant)
POST /clock                          {speed} and/or {stepSeconds} (every cluster)
POST /clusters/{cluster}/faults      {kind, tenant?, code?, message?, seconds?, piece?}
     kinds: fail-next-backup, fail-next-restore, interrupt-archive, resume-archive, unreachable-dest,
            reachable-dest, stall, unstall, hold-archive, release-archive (its checkpoint stops while the
            round stays DOING), drop-connections, refuse-connections,
            lose-archive-piece (tenant, piece? default: the newest; its files vanish, the views keep it),
            break-archive-piece (tenant, piece? default: the newest; FILE_STATUS BROKEN, its files kept)
DELETE /clusters/{cluster}/faults    clear every fault (lost pieces stay lost, broken ones broken)
";

/// The control API's router.
pub fn router(simulator: Arc<Simulator>) -> Router {
    Router::new()
        .route("/", get(|| async { ROUTES }))
        .route("/clusters", get(list_clusters).post(create_cluster))
        .route("/clusters/{cluster}/tenants", post(create_tenant))
        .route("/clusters/{cluster}/listeners", post(add_listener))
        .route(
            "/clusters/{cluster}/listeners/{addr}",
            axum::routing::delete(remove_listener),
        )
        .route(
            "/clusters/{cluster}/tenants/{tenant}/users/{user}",
            put(set_user),
        )
        .route("/clock", post(clock))
        .route(
            "/clusters/{cluster}/faults",
            post(inject_fault).delete(clear_faults),
        )
        .with_state(simulator)
}

/// Serves the control API until the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    simulator: Arc<Simulator>,
) -> std::io::Result<()> {
    axum::serve(listener, router(simulator)).await
}

type Reply<T> = Result<Json<T>, (StatusCode, String)>;

fn bad(message: impl ToString) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, message.to_string())
}

fn node(simulator: &Simulator, name: &str) -> Result<Arc<Node>, (StatusCode, String)> {
    simulator
        .node(name)
        .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no cluster {name}")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterInfo {
    name: String,
    cluster_id: i64,
    version: String,
    address: String,
    /// Every address the cluster answers on (`address` first, unless it was removed).
    listeners: Vec<String>,
    now: String,
    tenants: Vec<TenantInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantInfo {
    id: i64,
    name: String,
    kind: &'static str,
    status: &'static str,
    role: &'static str,
    data_bytes: u64,
}

fn info(node: &Node) -> ClusterInfo {
    let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
    cluster.advance();
    ClusterInfo {
        name: node.name.clone(),
        cluster_id: cluster.cluster_id,
        version: cluster.version.to_string(),
        address: node.addr.to_string(),
        listeners: node.addresses().iter().map(ToString::to_string).collect(),
        now: cluster.now().to_string(),
        tenants: cluster
            .tenants
            .iter()
            .map(|t| TenantInfo {
                id: t.id,
                name: t.name.clone(),
                kind: t.kind.as_str(),
                status: t.status,
                role: t.role,
                data_bytes: t.data_bytes,
            })
            .collect(),
    }
}

async fn list_clusters(State(simulator): State<Arc<Simulator>>) -> Json<Vec<ClusterInfo>> {
    Json(simulator.nodes().iter().map(|n| info(n)).collect())
}

/// A tenant to create.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTenant {
    name: String,
    #[serde(default = "default_tenant_bytes")]
    data_bytes: u64,
}

fn default_tenant_bytes() -> u64 {
    10 << 30
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCluster {
    name: String,
    #[serde(default = "default_version")]
    version: String,
    password: String,
    #[serde(default)]
    tenants: Vec<NewTenant>,
    /// Where to listen (default: a free loopback port).
    #[serde(default)]
    listen: Option<SocketAddr>,
    /// The `cluster_id` parameter (default: [`crate::model::default_cluster_id`] of the name).
    #[serde(default)]
    cluster_id: Option<i64>,
    /// The observers, `ip:port` (default: one, [`crate::model::SERVER_ADDRESS`]).
    #[serde(default)]
    servers: Option<Vec<SocketAddr>>,
}

fn default_version() -> String {
    Version::V4_4_1.to_string()
}

async fn create_cluster(
    State(simulator): State<Arc<Simulator>>,
    Json(request): Json<NewCluster>,
) -> Result<(StatusCode, Json<ClusterInfo>), (StatusCode, String)> {
    let version = Version::parse(&request.version)
        .ok_or_else(|| bad(format!("unknown version {}", request.version)))?;
    // A new cluster's clock starts where the others are, at their speed.
    let (start, speed) = simulator
        .nodes()
        .first()
        .map(|n| {
            let cluster = n.cluster.lock().unwrap_or_else(|p| p.into_inner());
            (cluster.now(), cluster.clock.speed())
        })
        .unwrap_or((jiff::Timestamp::now(), 1.0));
    let mut cluster = Cluster::new(
        &request.name,
        version,
        &request.password,
        Clock::new(start, speed),
    );
    if let Some(id) = request.cluster_id {
        if !(1..=MAX_CLUSTER_ID).contains(&id) {
            return Err(bad(format!("clusterId must be 1..={MAX_CLUSTER_ID}")));
        }
        cluster.cluster_id = id;
    }
    if let Some(servers) = request.servers {
        if servers.is_empty() {
            return Err(bad("servers must name at least one observer"));
        }
        cluster.servers = servers.iter().map(ToString::to_string).collect();
    }
    for tenant in &request.tenants {
        cluster
            .add_user_tenant(&tenant.name, tenant.data_bytes)
            .map_err(bad)?;
    }
    let listen = request
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let node = simulator.start(cluster, listen).await.map_err(bad)?;
    Ok((StatusCode::CREATED, Json(info(&node))))
}

async fn create_tenant(
    State(simulator): State<Arc<Simulator>>,
    Path(name): Path<String>,
    Json(request): Json<NewTenant>,
) -> Reply<ClusterInfo> {
    let node = node(&simulator, &name)?;
    node.cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .add_user_tenant(&request.name, request.data_bytes)
        .map_err(bad)?;
    Ok(Json(info(&node)))
}

/// Another address for a cluster.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewListener {
    listen: SocketAddr,
}

/// The address a listener was bound to.
#[derive(Serialize)]
struct Bound {
    address: String,
}

async fn add_listener(
    State(simulator): State<Arc<Simulator>>,
    Path(name): Path<String>,
    Json(request): Json<NewListener>,
) -> Result<(StatusCode, Json<Bound>), (StatusCode, String)> {
    let node = node(&simulator, &name)?;
    let bound = simulator
        .add_listener(&node, request.listen)
        .await
        .map_err(|e| bad(format!("cannot listen on {}: {e}", request.listen)))?;
    Ok((
        StatusCode::CREATED,
        Json(Bound {
            address: bound.to_string(),
        }),
    ))
}

async fn remove_listener(
    State(simulator): State<Arc<Simulator>>,
    Path((name, addr)): Path<(String, String)>,
) -> Result<StatusCode, (StatusCode, String)> {
    let node = node(&simulator, &name)?;
    let addr: SocketAddr = addr.parse().map_err(bad)?;
    if Simulator::remove_listener(&node, addr).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err((
            StatusCode::NOT_FOUND,
            format!("cluster {name} does not listen on {addr}"),
        ))
    }
}

/// A tenant user's password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserPassword {
    password: String,
}

async fn set_user(
    State(simulator): State<Arc<Simulator>>,
    Path((name, tenant, user)): Path<(String, String, String)>,
    Json(request): Json<UserPassword>,
) -> Result<StatusCode, (StatusCode, String)> {
    let node = node(&simulator, &name)?;
    let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
    let change = if cluster.account(&user, &tenant).is_some() {
        UserChange::Alter
    } else {
        UserChange::Create {
            if_not_exists: false,
        }
    };
    cluster
        .set_user(&tenant, &user, &request.password, change)
        .map_err(bad)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockChange {
    speed: Option<f64>,
    step_seconds: Option<u64>,
}

async fn clock(
    State(simulator): State<Arc<Simulator>>,
    Json(change): Json<ClockChange>,
) -> Reply<Vec<ClusterInfo>> {
    if change.speed.is_some_and(|s| !s.is_finite() || s < 0.0) {
        return Err(bad("speed must be a finite number ≥ 0"));
    }
    let nodes = simulator.nodes();
    for node in &nodes {
        let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
        cluster.advance();
        if let Some(speed) = change.speed {
            cluster.clock.set_speed(speed);
        }
        if let Some(seconds) = change.step_seconds {
            let seconds = i64::try_from(seconds).map_err(bad)?;
            // Step in one-second increments so every state machine sees each step it passes through.
            for _ in 0..seconds.min(7 * 24 * 3600) {
                cluster.clock.step(jiff::SignedDuration::from_secs(1));
                cluster.advance();
            }
        }
    }
    Ok(Json(nodes.iter().map(|n| info(n)).collect()))
}

/// A fault to inject.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fault {
    kind: String,
    tenant: Option<String>,
    /// OceanBase error code (negative), for failures.
    code: Option<i64>,
    message: Option<String>,
    /// How long to refuse connections.
    seconds: Option<u64>,
    /// The archive piece `lose-archive-piece` takes away or `break-archive-piece` breaks (default: the
    /// tenant's newest).
    piece: Option<i64>,
}

async fn inject_fault(
    State(simulator): State<Arc<Simulator>>,
    Path(name): Path<String>,
    Json(fault): Json<Fault>,
) -> Reply<ClusterInfo> {
    let node = node(&simulator, &name)?;
    match fault.kind.as_str() {
        "drop-connections" => node.link.drop_connections(),
        "refuse-connections" => {
            node.link
                .refuse_for(Duration::from_secs(fault.seconds.unwrap_or(30)));
            node.link.drop_connections();
        }
        _ => apply(&node, &fault).map_err(bad)?,
    }
    Ok(Json(info(&node)))
}

fn apply(node: &Node, fault: &Fault) -> Result<(), String> {
    let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
    cluster.advance();
    let tenant = || fault.tenant.clone().ok_or("this fault needs a tenant");
    let code = fault.code.unwrap_or(-4016);
    let message = fault
        .message
        .clone()
        .unwrap_or_else(|| "Internal error".into());
    let sql = |r: Result<(), SqlError>| r.map_err(|e| e.to_string());
    match fault.kind.as_str() {
        "fail-next-backup" => {
            cluster.faults.next_backup_failure = Some((fault.tenant.clone(), code, message));
            Ok(())
        }
        "fail-next-restore" => {
            cluster.faults.next_restore_failure = Some((code, message));
            Ok(())
        }
        "interrupt-archive" => sql(cluster.interrupt_archive(&tenant()?, code, &message)),
        "resume-archive" => sql(cluster.resume_archive(&tenant()?)),
        "unreachable-dest" => sql(cluster.set_unreachable(&tenant()?, true)),
        "reachable-dest" => sql(cluster.set_unreachable(&tenant()?, false)),
        "stall" => sql(cluster.set_stalled(&tenant()?, true)),
        "unstall" => sql(cluster.set_stalled(&tenant()?, false)),
        "hold-archive" => sql(cluster.set_archive_held(&tenant()?, true)),
        "release-archive" => sql(cluster.set_archive_held(&tenant()?, false)),
        "lose-archive-piece" => sql(cluster
            .lose_archive_piece(&tenant()?, fault.piece)
            .map(|_| ())),
        "break-archive-piece" => sql(cluster
            .break_archive_piece(&tenant()?, fault.piece)
            .map(|_| ())),
        other => Err(format!("unknown fault kind {other}")),
    }
}

async fn clear_faults(
    State(simulator): State<Arc<Simulator>>,
    Path(name): Path<String>,
) -> Reply<ClusterInfo> {
    let node = node(&simulator, &name)?;
    {
        let mut cluster = node.cluster.lock().unwrap_or_else(|p| p.into_inner());
        let now = cluster.now();
        cluster.clear_faults(now);
    }
    node.link.refuse_for(Duration::ZERO);
    Ok(Json(info(&node)))
}
