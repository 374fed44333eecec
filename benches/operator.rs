//! The operator's cost and speed, printed as numbers (SPEC §7): SQL round trips per observer cycle for 1, 10
//! and 100 tenants with and without active tasks; Kubernetes API writes per minute when idle; latency from
//! an OceanBase state change to the BackupTask status (p50 / p99). Not a test: run it with
//! `scripts/bench.sh`, which starts the control plane first.

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ob_backup_operator::oceanbase::{ConnectionInfo, OceanBase, mysql::MysqlCluster, sql};
use obsim::{
    clock::Clock,
    model::{Cluster, Version},
    sim::{Node, Simulator},
};
use serde_json::json;
use support::{
    cluster::{ControlPlane, apply, eventually},
    simulator::{self, SYS_PASSWORD, connection_secret},
};

const WAIT: Duration = Duration::from_secs(120);

#[tokio::main]
async fn main() {
    round_trips_per_cycle().await;
    let Some(plane) = ControlPlane::get() else {
        println!("no control plane: run scripts/bench.sh for the API-write and latency figures");
        return;
    };
    api_writes_when_idle(&plane).await;
    status_latency(&plane).await;
}

async fn cluster_with(tenants: usize) -> Arc<Node> {
    let mut cluster = Cluster::new(
        "bench",
        Version::V4_4_1,
        SYS_PASSWORD,
        Clock::new(jiff::Timestamp::now(), 0.0),
    );
    for i in 1..=tenants {
        cluster
            .add_user_tenant(&format!("t{i}"), 100 << 30)
            .expect("tenant");
    }
    Simulator::new()
        .start(cluster, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("obsim")
}

/// One observer cycle is one snapshot; count its round trips.
async fn round_trips_per_cycle() {
    println!("SQL round trips per observer cycle (one snapshot):");
    println!("  tenants  idle  active (every tenant archiving and backing up, each task tracked)");
    for tenants in [1usize, 10, 100] {
        let node = cluster_with(tenants).await;
        let info = ConnectionInfo {
            host: "127.0.0.1".into(),
            port: node.addr.port(),
            user: "root@sys".into(),
            password: SYS_PASSWORD.into(),
            ca_cert: None,
        };
        let client = MysqlCluster::new(&info, []);
        // The first snapshot also reads ob_version(), once per client; measure a steady cycle.
        client
            .snapshot(ob_backup_operator::oceanbase::SnapshotRequest {
                descriptions: &[],
                clean_since: jiff::Timestamp::UNIX_EPOCH,
                restores: false,
            })
            .await
            .expect("first snapshot");
        let before = client.round_trips().0;
        client
            .snapshot(ob_backup_operator::oceanbase::SnapshotRequest {
                descriptions: &[],
                clean_since: jiff::Timestamp::UNIX_EPOCH,
                restores: false,
            })
            .await
            .expect("idle snapshot");
        let idle = client.round_trips().0 - before;

        let mut descriptions = Vec::new();
        for i in 1..=tenants {
            let tenant = format!("t{i}");
            client
                .execute(&[
                    sql::set_data_backup_dest(&tenant, "file:///bench/data").expect("sql"),
                    sql::set_log_archive_dest(&tenant, "file:///bench/archive", "OPTIONAL", "1d")
                        .expect("sql"),
                    sql::archive_mode(&tenant, true).expect("sql"),
                ])
                .await
                .expect("archiving");
        }
        node.cluster
            .lock()
            .expect("lock")
            .clock
            .step(jiff::SignedDuration::from_secs(10));
        for i in 1..=tenants {
            let description = format!("bench-{i}");
            client
                .execute(&[sql::backup(&format!("t{i}"), false, false, &description).expect("sql")])
                .await
                .expect("backup");
            descriptions.push(description);
        }
        let before = client.round_trips().0;
        let snapshot = client
            .snapshot(ob_backup_operator::oceanbase::SnapshotRequest {
                descriptions: &descriptions,
                clean_since: jiff::Timestamp::UNIX_EPOCH,
                restores: false,
            })
            .await
            .expect("active snapshot");
        let active = client.round_trips().0 - before;
        assert_eq!(snapshot.jobs.len(), tenants);
        println!("  {tenants:>7}  {idle:>4}  {active:>6}");
    }
}

/// An operator with finished tasks and running log archives, left alone for a minute.
async fn api_writes_when_idle(plane: &ControlPlane) {
    let admin = plane.admin().await;
    let namespace = plane.namespace("bench-idle").await;
    let node = simulator::start("obcluster", &["tenant1", "tenant2"], 1 << 30, 1.0).await;
    connection_secret(&admin, &namespace, "ob", &node).await;
    let operator = plane.start_operator_with(
        &namespace,
        &namespace,
        &format!("{namespace}-a"),
        None,
        (2, 30),
    );
    for tenant in ["tenant1", "tenant2"] {
        apply(&admin, &namespace, &json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": format!("{tenant}-archive")},
            "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"},
                     "logDestination": {"uri": format!("file:///b/{tenant}/archive")}, "tenant": tenant},
        }))
        .await
        .expect("log backup");
        apply(&admin, &namespace, &json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": format!("{tenant}-full")},
            "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"},
                     "dataDestination": {"uri": format!("file:///b/{tenant}/data")}, "tenant": tenant, "mode": "Full"},
        }))
        .await
        .expect("backup task");
    }
    // A strategy over the whole cluster (yearly, so nothing is due): its own LogBackups and the overview.
    apply(
        &admin,
        &namespace,
        &json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "yearly"},
            "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"},
                     "dataDestination": {"uri": "file:///b/strategy/data"},
                     "logDestination": {"uri": "file:///b/strategy/archive"},
                     "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"}},
        }),
    )
    .await
    .expect("strategy");
    let tasks = support::cluster::api_for(
        &admin,
        &namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask"}),
    )
    .0;
    eventually("both backups to complete", WAIT, || async {
        let items = tasks.list(&Default::default()).await.ok()?.items;
        items
            .iter()
            .all(|t| t.data["status"]["phase"] == "Completed")
            .then_some(())
    })
    .await;
    let writes = || {
        ["BackupTask", "LogBackup", "BackupStrategy"]
            .iter()
            .filter_map(|kind| {
                operator.metric(&format!(
                    "obbackup_status_writes_total{{controller=\"{kind}\"}}"
                ))
            })
            .sum::<f64>()
    };
    let round_trips = || {
        operator
            .get("/metrics")
            .map(|(_, body)| {
                body.lines()
                    .filter(|l| l.starts_with("obbackup_sql_round_trips_total{"))
                    .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>()
            })
            .unwrap_or_default()
    };
    // Let the strategy's LogBackups start and the first checkpoint refresh settle, then measure a quiet minute.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let (w0, r0) = (writes(), round_trips());
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (w1, r1) = (writes(), round_trips());
    println!(
        "Idle (1 strategy, 2 completed tasks, 4 archives In Progress, 1 cluster, clock at real speed), one minute:"
    );
    println!("  status writes: {}", w1 - w0);
    println!("  SQL round trips: {} (idle poll every 30 s)", r1 - r0);
    support::cluster::delete_namespace(&admin, &namespace).await;
}

/// From the moment a job ends in OceanBase to the moment the BackupTask says so.
async fn status_latency(plane: &ControlPlane) {
    let admin = plane.admin().await;
    let namespace = plane.namespace("bench-latency").await;
    let node = simulator::start("obcluster", &["tenant1"], 1 << 30, 0.0).await;
    connection_secret(&admin, &namespace, "ob", &node).await;
    let _operator = plane.start_operator_with(
        &namespace,
        &namespace,
        &format!("{namespace}-a"),
        None,
        (2, 30),
    );
    apply(
        &admin,
        &namespace,
        &json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": "archive"},
            "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"},
                     "logDestination": {"uri": "file:///b/archive"}, "tenant": "tenant1"},
        }),
    )
    .await
    .expect("log backup");
    let step = |seconds: i64| {
        node.cluster
            .lock()
            .expect("lock")
            .clock
            .step(jiff::SignedDuration::from_secs(seconds));
    };
    let tasks = support::cluster::api_for(
        &admin,
        &namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask"}),
    )
    .0;
    // Archiving DOING (the frozen clock moves only when stepped).
    let archives = support::cluster::api_for(
        &admin,
        &namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup"}),
    )
    .0;
    eventually("archiving to be In Progress", WAIT, || async {
        step(1);
        let archive = archives.get("archive").await.ok()?;
        (archive.data["status"]["phase"] == "InProgress").then_some(())
    })
    .await;
    let mut latencies = Vec::new();
    for i in 0..20 {
        let name = format!("t{i}");
        apply(&admin, &namespace, &json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": name},
            "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"},
                     "dataDestination": {"uri": "file:///b/data"}, "tenant": "tenant1", "mode": "Full"},
        }))
        .await
        .expect("task");
        eventually("the job to exist", WAIT, || async {
            let task = tasks.get(&name).await.ok()?;
            task.data["status"]["jobId"].is_number().then_some(())
        })
        .await;
        // The job ends in OceanBase now: 1 GiB at 200 MiB/s, plus INIT.
        step(10);
        let changed = Instant::now();
        eventually("the task to complete", WAIT, || async {
            let task = tasks.get(&name).await.ok()?;
            (task.data["status"]["phase"] == "Completed").then_some(())
        })
        .await;
        latencies.push(changed.elapsed());
        // Let the job move to history before the next one.
        step(2);
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "OceanBase state change → BackupTask status (active poll 2 s; {} samples; the check polls every 200 ms):",
        latencies.len()
    );
    println!(
        "  p50 {:.2}s  p99 {:.2}s  max {:.2}s",
        pick(0.5).as_secs_f64(),
        pick(0.99).as_secs_f64(),
        latencies[latencies.len() - 1].as_secs_f64()
    );
    support::cluster::delete_namespace(&admin, &namespace).await;
}
