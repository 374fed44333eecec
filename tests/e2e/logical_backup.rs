//! Logical BackupTasks on the real control plane, the operator as its ServiceAccount, against a real
//! OceanBase SQL engine (seekdb): a dump taken while a writer runs restores equal to the source at the
//! snapshot the status shows; an operator killed mid-dump resumes the same dump (same snapshot, finished
//! chunks kept); `cancel` stops it and deletes what it wrote; wrong credentials stall the task with the
//! engine's error and no password anywhere, and fixing the Secret lets it finish.
//!
//! seekdb has one tenant, `sys`, and takes `user@sys` logins: the tests' Secrets name the user that way (a
//! `user` without `@` would become `user@<task's tenant>`, as on OceanBase).

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use mysql_async::prelude::Queryable;
use ob_backup_operator::{
    api::{
        BackupTask, BackupTaskSpec,
        backup_strategy::BackupMethod,
        backup_task::BackupMode,
        common::{ClusterConnection, StorageDestination},
        logical::LogicalBackupSpec,
    },
    logical::{self, LoadRequest, layout::Manifest},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{
    cluster::eventually,
    logical_schema::{Fidelity, Workload, done_records, table_rows},
    seekdb::{self, Seekdb},
    simulator::secret,
    world::{WAIT, World},
};

pub(crate) const PASSWORD: &str = "dumper-pw-Xq3";

/// The shared engine with a tenant user `dumper` allowed to read everything (and nothing more).
pub(crate) async fn engine() -> Option<&'static Seekdb> {
    let server = seekdb::server("e2e")?;
    let mut conn = server.conn().await;
    for statement in [
        format!("CREATE USER IF NOT EXISTS dumper IDENTIFIED BY '{PASSWORD}'"),
        "GRANT SELECT, SHOW VIEW ON *.* TO dumper".to_string(),
    ] {
        conn.query_drop(&statement).await.expect("the dump user");
    }
    Some(server)
}

/// The Secrets a logical task needs: the cluster's (host and port of the engine) and the tenant user's.
pub(crate) async fn secrets(world: &World, server: &Seekdb, password: &str) {
    let port = server.port.to_string();
    secret(
        &world.admin,
        &world.namespace,
        "engine",
        &[
            ("host", "127.0.0.1"),
            ("port", &port),
            ("user", "root@sys"),
            ("password", "unused"),
        ],
    )
    .await;
    secret(
        &world.admin,
        &world.namespace,
        "dumper",
        &[("user", "dumper@sys"), ("password", password)],
    )
    .await;
}

fn logical_task(name: &str, databases: &[&str], chunk_rows: i64) -> BackupTask {
    BackupTask::new(
        name,
        BackupTaskSpec {
            strategy_ref: None,
            cluster: Some(Box::new(ClusterConnection {
                name: "engine".into(),
                connection_secret: Some("engine".into()),
                ob_cluster: None,
            })),
            data_destination: Some(StorageDestination {
                uri: "file:///backup/logical".into(),
                credentials_secret: None,
            }),
            tenant: "tenant1".into(),
            mode: BackupMode::Full,
            plus_archivelog: false,
            method: BackupMethod::Logical,
            logical: Some(Box::new(LogicalBackupSpec {
                credentials_secret: Some("dumper".into()),
                ob_tenant: None,
                databases: databases.iter().map(|d| d.to_string()).collect(),
                tables: Vec::new(),
                parallel: 3,
                chunk_rows,
                compression: Default::default(),
            })),
            cancel: false,
            second_copy: None,
            job_id: None,
        },
    )
}

/// The dump's directory on the share, from the status.
pub(crate) fn dump_dir(share: &Path, status: &Value) -> std::path::PathBuf {
    let directory = status["storageDirectory"]
        .as_str()
        .expect("storageDirectory");
    let path = directory
        .strip_prefix("file://")
        .expect("a file:// directory");
    share.join(path.trim_start_matches('/'))
}

/// Restores the finished dump in `dir` under renamed databases on the engine and checks every table equals
/// the source at the dump's snapshot.
async fn assert_dump_restores(
    server: &Seekdb,
    workload: &Workload,
    dir: &Path,
    suffix: &str,
) -> Manifest {
    let storage =
        opendal::Operator::new(opendal::services::Fs::default().root(&dir.to_string_lossy()))
            .expect("fs");
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    let rename = workload
        .databases()
        .iter()
        .map(|d| (d.to_string(), format!("{d}{suffix}")))
        .collect();
    let request = LoadRequest {
        connection: server.connection("root", ""),
        rename,
        parallel: 3,
        database_prefix: None,
    };
    logical::load(&request, &storage, "", &CancellationToken::new(), &|_| {})
        .await
        .expect("restore");
    assert_copy_equals_snapshot(server, workload, &manifest, suffix).await;
    manifest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logical_backup_task_dumps_at_one_snapshot_while_writers_run() {
    let Some(server) = engine().await else { return };
    let Some((world, share)) = World::with_file_share("logical", &["tenant1"], 0, 1.0).await else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    let workload = Workload::create(server, "e2e_dump", 3000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(workload.clone().write_until(
        server.port,
        stop.clone(),
        writes.clone(),
    ));
    world
        .apply(logical_task("dump", &workload.databases(), 1000))
        .await;
    let status = world.phase("BackupTask", "dump", "Completed").await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert!(
        writes.load(Ordering::Relaxed) > 0,
        "the writer ran during the dump"
    );
    let logical = &status["logical"];
    assert_eq!(logical["rowsDone"], logical["rowsTotal"], "{status}");
    assert_eq!(logical["tablesDone"], json!(6), "{status}");
    assert!(logical["chunksTotal"].as_i64().unwrap_or(0) > 3, "{status}");
    assert!(logical["snapshotTime"].is_string(), "{status}");
    assert_eq!(status["progress"], json!(100));
    let dir = dump_dir(&share, &status);
    assert!(
        dir.to_string_lossy()
            .contains("/logical/tenant1/logical/dump-"),
        "{}",
        dir.display()
    );
    let manifest = assert_dump_restores(server, &workload, &dir, "_from_task").await;
    assert_eq!(
        logical["snapshotScn"],
        json!(manifest.snapshot.scn.to_string())
    );
    assert_eq!(status["dataVersion"], logical["snapshotScn"], "{status}");
    assert_eq!(logical["rowsDone"], json!(manifest.rows));
    restore_through_recovery_tasks(server, &world, &share, &workload, &manifest).await;
    // `cancel` set on finished tasks changes nothing: the dump stays, the load is not run again.
    world
        .patch_spec("BackupTask", "dump", json!({"cancel": true}))
        .await;
    world
        .patch_spec("RecoveryTask", "load", json!({"cancel": true}))
        .await;
    for (kind, name) in [("BackupTask", "dump"), ("RecoveryTask", "load")] {
        let status = eventually(&format!("{kind} {name} sees the cancel"), WAIT, || async {
            let object = world.get(kind, name).await?;
            let seen =
                object.data["status"]["observedGeneration"] == json!(object.metadata.generation);
            seen.then(|| object.data["status"].clone())
        })
        .await;
        assert_eq!(status["phase"], "Completed", "{kind} {name}: {status}");
    }
    assert!(
        dir.join("manifest.json").exists(),
        "the finished dump is still there"
    );
    world.done().await;
}

/// RecoveryTasks load the dump of BackupTask `dump` into the tenant under other database names (equal to the
/// source at the dump's snapshot, which is their recovery time), refuse to load it again over itself, and
/// load a plain SQL script from the destination.
async fn restore_through_recovery_tasks(
    server: &Seekdb,
    world: &World,
    share: &Path,
    workload: &Workload,
    manifest: &Manifest,
) {
    loader(server, world).await;
    let rename = renamed(workload, "_rt");
    world
        .apply(logical_recovery(
            "load",
            json!({"backupTask": "dump"}),
            &rename,
        ))
        .await;
    let restored = world.phase("RecoveryTask", "load", "Completed").await;
    assert_eq!(
        restored["restoreScn"],
        json!(manifest.snapshot.scn),
        "{restored}"
    );
    assert!(restored["recoveryTime"].is_string(), "{restored}");
    assert_copy_equals_snapshot(server, workload, manifest, "_rt").await;
    let mut conn = server.conn().await;
    // The same load again is refused: the target holds what the dump creates.
    world
        .apply(logical_recovery(
            "again",
            json!({"backupTask": "dump"}),
            &rename,
        ))
        .await;
    let refused = world.phase("RecoveryTask", "again", "Failed").await;
    let message = refused["failure"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already has") && message.contains("_rt.orders"),
        "{refused}"
    );
    // A rename the dump does not fit (a key naming no database of it) is refused before anything is
    // written: Failed, Stalled with InvalidInput naming the key, none of the targets created.
    let mut misfit: serde_json::Map<String, Value> = workload
        .databases()
        .iter()
        .enumerate()
        .map(|(i, d)| (d.to_string(), json!(format!("e2e_misfit_{i}"))))
        .collect();
    misfit.insert("nothere".into(), json!("e2e_misfit_x"));
    world
        .apply(logical_recovery(
            "misfit",
            json!({"backupTask": "dump"}),
            &misfit,
        ))
        .await;
    let refused = world.phase("RecoveryTask", "misfit", "Failed").await;
    let stalled = refused["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Stalled" && c["status"] == "True")
        .cloned()
        .unwrap_or_default();
    let message = stalled["message"].as_str().unwrap_or_default();
    assert_eq!(stalled["reason"], "InvalidInput", "{refused}");
    assert!(
        message.contains("renameDatabases names nothere, which the dump does not hold")
            && message.ends_with("nothing was written to tenant tenant1"),
        "{refused}"
    );
    let created: Vec<String> = conn
        .query(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'e2e_misfit%'",
        )
        .await
        .expect("schemata");
    assert_eq!(created, Vec::<String>::new(), "nothing was written");
    // A plain SQL script on the destination loads through the same kind of task.
    let script = share.join("backup/scripts/small.sql");
    std::fs::create_dir_all(script.parent().expect("parent")).expect("script directory");
    std::fs::write(
        &script,
        "CREATE DATABASE e2e_script;\nUSE e2e_script;\nCREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));\n\
         INSERT INTO t VALUES (1, 'a;b'), (2, 'it''s');\n",
    )
    .expect("script");
    let from = json!({"destination": {"uri": "file:///backup"}, "path": "scripts/small.sql"});
    world
        .apply(logical_recovery("script", from, &serde_json::Map::new()))
        .await;
    world.phase("RecoveryTask", "script", "Completed").await;
    let count: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM e2e_script.t")
        .await
        .expect("count");
    assert_eq!(count, Some(2));
}

/// Every table of the workload, in its databases renamed with `suffix`, equals the source at the dump's
/// snapshot.
pub async fn assert_copy_equals_snapshot(
    server: &Seekdb,
    workload: &Workload,
    manifest: &Manifest,
    suffix: &str,
) {
    let mut conn = server.conn().await;
    for table in workload.tables() {
        let at_snapshot = table_rows(
            &mut conn,
            &table,
            Some(manifest.snapshot.scn),
            Fidelity::Exact,
        )
        .await;
        let (database, name) = table.split_once('.').expect("database.table");
        let copy = table_rows(
            &mut conn,
            &format!("{database}{suffix}.{name}"),
            None,
            Fidelity::Exact,
        )
        .await;
        assert!(
            copy == at_snapshot,
            "{table}: the copy{suffix} differs from the source at the dump's snapshot"
        );
    }
}

/// A user of the target tenant that may create and load (seekdb's one tenant is `sys`).
pub async fn loader(server: &Seekdb, world: &World) {
    let mut conn = server.conn().await;
    for statement in [
        format!("CREATE USER IF NOT EXISTS loader IDENTIFIED BY '{PASSWORD}'"),
        "GRANT ALL PRIVILEGES ON *.* TO loader".to_string(),
    ] {
        conn.query_drop(&statement).await.expect("the load user");
    }
    secret(
        &world.admin,
        &world.namespace,
        "loader",
        &[("user", "loader@sys"), ("password", PASSWORD)],
    )
    .await;
}

/// A RecoveryTask loading the dump `source` names into tenant1 of the engine.
/// Each of the workload's databases restored as `<database><suffix>` (a RecoveryTask's `renameDatabases`).
pub(crate) fn renamed(workload: &Workload, suffix: &str) -> serde_json::Map<String, Value> {
    workload
        .databases()
        .iter()
        .map(|d| (d.to_string(), json!(format!("{d}{suffix}"))))
        .collect()
}

fn logical_recovery(name: &str, source: Value, rename: &serde_json::Map<String, Value>) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1",
        "kind": "RecoveryTask",
        "metadata": {"name": name},
        "spec": {
            "source": {"tenant": "tenant1", "logical": source},
            "target": {
                "cluster": {"name": "engine", "connectionSecret": "engine"},
                "tenant": "tenant1",
                "logical": {"credentialsSecret": "loader", "renameDatabases": rename, "parallel": 2},
            },
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_killed_mid_dump_resumes_the_same_dump() {
    let Some(server) = engine().await else { return };
    let Some((mut world, share)) =
        World::with_file_share("logical-kill", &["tenant1"], 0, 1.0).await
    else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    let workload = Workload::create(server, "e2e_kill", 5000).await;
    // The operator aborts right after writing its third chunk (before that chunk's record). One worker,
    // so the first two chunks' records are on the share by then: with three, all three chunks could be
    // written before either record (CI once saw none).
    world.arm("logical/chunk/written=2*off->return");
    let mut task = logical_task("killed", &workload.databases(), 1000);
    if let Some(logical) = task.spec.logical.as_mut() {
        logical.parallel = 1;
    }
    world.apply(task).await;
    world.crashed("logical/chunk/written").await;
    let status = world.status("BackupTask", "killed").await;
    let dir = dump_dir(&share, &status);
    let plan: Value = serde_json::from_slice(&std::fs::read(dir.join("plan.json")).expect("plan"))
        .expect("plan JSON");
    // The first two chunks' records, written in full before the abort.
    let records_before = done_records(&dir);
    assert_eq!(
        records_before.len(),
        2,
        "the first two chunks' records before the abort: {records_before:?}"
    );
    world.start_operator("after-kill");
    let status = world.phase("BackupTask", "killed", "Completed").await;
    assert_eq!(
        status["logical"]["snapshotScn"],
        json!(plan["snapshot"]["scn"].to_string()),
        "the same snapshot"
    );
    for (path, modified) in &records_before {
        let now = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("record");
        assert_eq!(&now, modified, "{} was written again", path.display());
    }
    assert_dump_restores(server, &workload, &dir, "_after_kill").await;
    world.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_dump_and_deletes_what_it_wrote() {
    let Some(server) = engine().await else { return };
    let Some((mut world, share)) =
        World::with_file_share("logical-cancel", &["tenant1"], 0, 1.0).await
    else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    let workload = Workload::create(server, "e2e_cancel", 12_000).await;
    // Each chunk takes a second, so the dump is still running when it is canceled.
    world.arm("logical/chunk/written=sleep(1000)");
    world
        .apply(logical_task("canceled", &workload.databases(), 1000))
        .await;
    let status = world.phase("BackupTask", "canceled", "InProgress").await;
    let dir = dump_dir(&share, &status);
    eventually("a chunk dumped", WAIT, || async {
        (!done_records(&dir).is_empty()).then_some(())
    })
    .await;
    assert!(dir.join("plan.json").exists());
    assert!(
        !dir.join("manifest.json").exists(),
        "the dump is still running"
    );
    world
        .patch_spec("BackupTask", "canceled", json!({"cancel": true}))
        .await;
    let status = world.phase("BackupTask", "canceled", "Canceled").await;
    assert!(status["endedAt"].is_string(), "{status}");
    eventually(
        "the dump's directory deleted",
        Duration::from_secs(30),
        || async { (!dir.exists()).then_some(()) },
    )
    .await;
    world.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_credentials_stall_the_task_with_the_engines_error_until_the_secret_is_fixed() {
    let Some(server) = engine().await else { return };
    let Some((world, _share)) = World::with_file_share("logical-auth", &["tenant1"], 0, 1.0).await
    else {
        return;
    };
    let wrong = "wrong-pw-Kd82";
    secrets(&world, server, wrong).await;
    let workload = Workload::create(server, "e2e_auth", 200).await;
    world
        .apply(logical_task("auth", &workload.databases(), 1000))
        .await;
    let status = eventually("Stalled for access", WAIT, || async {
        let status = world.status("BackupTask", "auth").await;
        let stalled = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| {
                c["type"] == "Stalled"
                    && c["status"] == "True"
                    && c["reason"] == "LogicalAccessDenied"
            });
        stalled.then_some(status)
    })
    .await;
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1045") && message.contains("Secret dumper"),
        "{message}"
    );
    assert_ne!(status["phase"], "Failed");
    let everything = world.everything_written().await;
    assert!(
        !everything.contains(wrong),
        "the password appears in what the operator wrote"
    );
    secret(
        &world.admin,
        &world.namespace,
        "dumper",
        &[("user", "dumper@sys"), ("password", PASSWORD)],
    )
    .await;
    world.phase("BackupTask", "auth", "Completed").await;
    world.done().await;
}
