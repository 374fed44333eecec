//! A BackupStrategy of method Logical on the real control plane, the operator as its ServiceAccount, against
//! a real OceanBase SQL engine (seekdb), on a simulated clock (20 simulated minutes a real second): its
//! scheduled runs are logical BackupTasks it owns, each a dump in the tenant's own directory; finished tasks
//! beyond the history limit are pruned; dumps that began more than the recovery window ago are deleted from
//! the destination with a `DumpExpired` event — never a tenant's newest, even long after the last run; a
//! failed dump's leftovers (no manifest, no task writing them) are deleted with a `DumpAbandoned` event, and
//! no dump being written ever is, nor another cluster's dump sharing the directory, however old; the
//! overview shows the newest dump's data version and the bytes kept; and `kubectl obbackup restore` loads
//! the newest dump into the tenant under new names.

use std::{path::Path, time::Duration};

use jiff::{SignedDuration, Timestamp};
use kube::api::{DynamicObject, ListParams};
use ob_backup_operator::logical::{
    layout::Manifest,
    retention::{KeptDump, finished_dumps},
};
use serde_json::{Value, json};

use crate::{
    logical_backup::{PASSWORD, assert_copy_equals_snapshot, engine, loader, secrets},
    support::{
        cluster::{api_for, eventually},
        logical_schema::Workload,
        plugin::{run, stderr, stdout},
        seekdb::Seekdb,
        world::World,
    },
};

/// Simulated seconds per real second.
const SPEED: f64 = 1200.0;
const PERIOD_HOURS: i64 = 4;
const WINDOW_HOURS: i64 = 8;

/// Planted dumps of another cluster sharing the destination: never the strategy's.
const STAGING: &str = "logical/staging-";

/// The finished dumps in a tenant's directory on the share, oldest first (another cluster's left out).
async fn dumps_on(dir: &Path) -> Vec<KeptDump> {
    std::fs::create_dir_all(dir).expect("the tenant's directory");
    let storage =
        opendal::Operator::new(opendal::services::Fs::default().root(&dir.to_string_lossy()))
            .expect("fs");
    let mut dumps = finished_dumps(&storage).await.expect("listed");
    dumps.retain(|d| !d.directory.starts_with(STAGING));
    dumps
}

/// Another cluster's dumps of tenant1 in the shared directory, begun `begun` (a day before the first
/// run): a finished one, and an unfinished one nothing was written to for a day. Both stay.
fn plant_staging_dumps(
    world: &World,
    tenant_dir: &Path,
    begun: Timestamp,
) -> Vec<std::path::PathBuf> {
    let owner = json!({"namespace": world.namespace, "task": "dumps-tenant1-full", "uid": "5ta61n6",
                       "cluster": "engine-staging", "tenant": "tenant1"});
    let record = json!({"formatVersion": 1, "snapshot": {"scn": 1, "time": begun.to_string()},
                        "serverVersion": "4.3.5.3", "startedAt": begun.to_string(), "owner": owner,
                        "databases": [], "objects": [], "rows": 0, "bytes": 0, "storedBytes": 7});
    let wall_day_ago = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
    let mut planted = Vec::new();
    for (name, finished) in [("finished", true), ("unfinished", false)] {
        let dir = tenant_dir.join(format!("{STAGING}{name}"));
        std::fs::create_dir_all(&dir).expect("a staging dump");
        let mut files = vec!["plan.json"];
        if finished {
            files.push("manifest.json");
        }
        for file in files {
            std::fs::write(dir.join(file), record.to_string()).expect("record");
            std::fs::File::options()
                .write(true)
                .open(dir.join(file))
                .and_then(|f| f.set_modified(wall_day_ago))
                .expect("a day old");
        }
        planted.push(dir);
    }
    planted
}

/// The events of the namespace with `reason` about objects whose name starts with `regarding`.
async fn events(world: &World, reason: &str, regarding: &str) -> Vec<DynamicObject> {
    let (events, _) = api_for(
        &world.admin,
        &world.namespace,
        &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"}),
    );
    let items = events
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    items
        .into_iter()
        .filter(|e| {
            e.data["reason"] == reason
                && e.data["regarding"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(regarding))
        })
        .collect()
}

fn time(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduled_dumps_are_taken_pruned_and_expired_by_the_recovery_window() {
    let Some(server) = engine().await else { return };
    let start = (Timestamp::now(), SPEED);
    let Some((world, share)) =
        World::with_file_share_at("logical-strategy", &["tenant1"], 0, start, true).await
    else {
        return;
    };
    secrets(&world, server, PASSWORD).await;
    let workload = Workload::create(server, "e2e_sched", 300).await;
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "dumps"},
            "spec": {
                "cluster": {"name": "engine", "connectionSecret": "engine"},
                "tenants": ["tenant1"],
                "method": "Logical",
                "logical": {"credentialsSecret": "dumper", "databases": workload.databases(), "parallel": 2},
                "dataDestination": {"uri": "file:///backup/dumps"},
                "schedule": {
                    "timeZone": "UTC",
                    "full": format!("0 */{PERIOD_HOURS} * * *"),
                    "startingDeadlineSeconds": 7200,
                },
                "retention": {"recoveryWindow": format!("{WINDOW_HOURS}h"), "successfulTasksHistoryLimit": 2},
            },
        }))
        .await;
    let tenant_dir = share.join("backup/dumps/tenant1");
    // A failed dump's leftovers: a plan begun a day ago and one chunk, no manifest, and no task writes it.
    let abandoned = tenant_dir.join("logical/gone-0badcafe");
    std::fs::create_dir_all(abandoned.join("data/db/t")).expect("the abandoned dump");
    let day_ago = world.sim_now() - SignedDuration::from_hours(24);
    std::fs::write(
        abandoned.join("plan.json"),
        json!({"formatVersion": 1, "snapshot": {"scn": 1, "time": day_ago.to_string()},
               "serverVersion": "4.3.5.3", "startedAt": day_ago.to_string(), "databases": [], "objects": []})
        .to_string(),
    )
    .expect("plan");
    std::fs::write(abandoned.join("data/db/t/0.sql.gz"), b"partial").expect("chunk");
    let staging = plant_staging_dumps(&world, &tenant_dir, day_ago);
    // A dump a task of another namespace is writing (written to just now): never touched.
    let elsewhere = tenant_dir.join("logical/elsewhere-0ddba11");
    std::fs::create_dir_all(&elsewhere).expect("the dump written elsewhere");
    std::fs::write(elsewhere.join("plan.json"), b"{}").expect("plan");
    // Written a day ago by the storage's clock too (the wall clock: nothing is written to it any more).
    let wall_day_ago = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
    for file in ["plan.json", "data/db/t/0.sql.gz"] {
        std::fs::File::options()
            .write(true)
            .open(abandoned.join(file))
            .and_then(|f| f.set_modified(wall_day_ago))
            .expect("a day old");
    }
    // Five runs (every 4 simulated hours): the first dumps have outlived the window by then. Repeated
    // expiries are one Event with a count (the recorder folds them into a series).
    let expired = eventually(
        "five dumps taken and one deleted for its age",
        Duration::from_secs(180),
        || async {
            let taken = events(&world, "Completed", "dumps-tenant1-full-")
                .await
                .len();
            let expired = events(&world, "DumpExpired", "dumps").await;
            (taken >= 5 && !expired.is_empty()).then_some(expired)
        },
    )
    .await;
    // The abandoned dump is deleted, and it is the only one: every dump being written was left alone.
    let gone = eventually(
        "the abandoned dump deleted",
        Duration::from_secs(30),
        || async {
            let said = events(&world, "DumpAbandoned", "dumps").await;
            (!abandoned.exists() && !said.is_empty()).then_some(said)
        },
    )
    .await;
    assert!(
        elsewhere.join("plan.json").exists(),
        "a dump written lately stays"
    );
    for dir in &staging {
        assert!(
            dir.join("plan.json").exists(),
            "another cluster's dump stays: {}",
            dir.display()
        );
    }
    for event in &gone {
        let note = event.data["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("file:///backup/dumps/tenant1/logical/gone-0badcafe (begun "),
            "{note}"
        );
    }
    for event in &expired {
        let note = event.data["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("file:///backup/dumps/tenant1/logical/dumps-tenant1-full-"),
            "{note}"
        );
        assert!(!note.contains(PASSWORD), "{note}");
    }
    // What is kept began within the window, give or take a run (the sweep follows each run).
    let kept = dumps_on(&tenant_dir).await;
    let oldest_allowed =
        world.sim_now() - SignedDuration::from_hours(WINDOW_HOURS + PERIOD_HOURS + 1);
    assert!(
        !kept.is_empty() && kept.len() <= 4,
        "{} dumps kept of 5 or more: {kept:?}",
        kept.len()
    );
    assert!(
        kept.iter().all(|d| d.started_at >= oldest_allowed),
        "{kept:?} (oldest allowed {oldest_allowed})"
    );
    assert!(
        !tenant_dir.join("tenant1").exists(),
        "a dump through the strategy lies in the tenant's directory once"
    );

    // The runs are the strategy's logical BackupTasks; finished ones beyond the history limit are pruned.
    let tasks = eventually(
        "finished tasks pruned to the limit",
        Duration::from_secs(60),
        || async {
            let tasks = world.list("BackupTask").await;
            let completed = tasks
                .iter()
                .filter(|t| t.data["status"]["phase"] == "Completed")
                .count();
            (1..=2).contains(&completed).then_some(tasks)
        },
    )
    .await;
    for task in &tasks {
        let spec = &task.data["spec"];
        assert_eq!(spec["method"], "Logical", "{spec}");
        assert_eq!(spec["strategyRef"]["name"], "dumps", "{spec}");
        assert_eq!(spec["logical"]["credentialsSecret"], "dumper", "{spec}");
        assert_eq!(
            spec["logical"]["databases"],
            json!(workload.databases()),
            "{spec}"
        );
        assert!(
            task.data["status"]["phase"] != "Failed",
            "{}",
            task.data["status"]
        );
    }

    // Paused, the strategy takes no more dumps; as time runs on, every dump but the newest expires, and the
    // newest stays however old it gets.
    world
        .patch_spec("BackupStrategy", "dumps", json!({"suspend": true}))
        .await;
    eventually(
        "the running dump to end",
        Duration::from_secs(60),
        || async {
            let tasks = world.list("BackupTask").await;
            tasks
                .iter()
                .all(|t| {
                    ["Completed", "Failed", "Canceled"]
                        .contains(&t.data["status"]["phase"].as_str().unwrap_or(""))
                })
                .then_some(())
        },
    )
    .await;
    let newest = dumps_on(&tenant_dir).await.pop().expect("a dump");
    let only = eventually(
        "only the newest dump left",
        Duration::from_secs(120),
        || async {
            let kept = dumps_on(&tenant_dir).await;
            (kept.len() == 1).then_some(kept)
        },
    )
    .await;
    assert_eq!(only[0].directory, newest.directory);
    world
        .sim_until(newest.started_at + SignedDuration::from_hours(2 * WINDOW_HOURS))
        .await;
    let status = eventually(
        "the overview of what is kept",
        Duration::from_secs(60),
        || async {
            let status = world.status("BackupStrategy", "dumps").await;
            let tenant = &status["tenants"][0];
            let matches = time(&tenant["lastDataBackupTime"])
                == Some(Timestamp::from_second(newest.snapshot_at.as_second()).expect("time"))
                && tenant["dataBackupBytes"] == json!(newest.stored_bytes);
            matches.then_some(status)
        },
    )
    .await;
    assert_eq!(status["phase"], "Paused", "{status}");
    assert_eq!(dumps_on(&tenant_dir).await, only, "the newest dump stays");
    assert!(
        staging[0].join("manifest.json").exists() && staging[1].join("plan.json").exists(),
        "another cluster's dumps stay however old they get"
    );
    assert_eq!(
        time(&status["lastDataBackupTime"]),
        time(&status["tenants"][0]["lastDataBackupTime"])
    );
    // The no-recent-backup alert's series: when the newest kept dump's data is as of.
    let series = r#"obbackup_last_dump_timestamp_seconds{namespace="NS",cluster="engine",tenant="tenant1",strategy="dumps"}"#
        .replace("NS", &world.namespace);
    assert_eq!(
        world.operator.metric(&series),
        Some(newest.snapshot_at.as_second() as f64),
        "{series}"
    );
    restore_through_the_plugin(server, &world, &workload, &tenant_dir, &newest, start.0).await;
    world.done().await;
}

/// `kubectl obbackup restore` of the logical strategy: a point before every dump is refused and nothing is
/// created; `latest` loads the newest dump, named by its BackupTask, into the tenant under new names, equal
/// to the source at the dump's snapshot.
async fn restore_through_the_plugin(
    server: &Seekdb,
    world: &World,
    workload: &Workload,
    tenant_dir: &Path,
    newest: &KeptDump,
    before_any: Timestamp,
) {
    // The timeline's points are the kept dumps' data versions.
    let timeline = stdout(&run(world, &["windows", "dumps"]).await);
    assert!(
        timeline.contains("◆ a kept dump's data version"),
        "{timeline}"
    );
    assert!(
        timeline
            .lines()
            .any(|l| !l.contains('—') && l.contains('◆')),
        "a dump on the week: {timeline}"
    );
    loader(server, world).await;
    let early = (before_any - SignedDuration::from_hours(1)).to_string();
    let restore = |to: &str, more: &[&str]| {
        let mut args = vec![
            "restore",
            "dumps",
            "--tenant",
            "tenant1",
            "--to",
            to,
            "--target-tenant",
            "tenant1",
            "--loader-secret",
            "loader",
        ];
        args.extend_from_slice(more);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let words = restore(&early, &["--dry-run"]);
    let refused = run(world, &words.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        stderr(&refused).contains("no dump of tenant tenant1 holds data as of"),
        "{refused:?}"
    );
    assert!(
        world.list("RecoveryTask").await.is_empty(),
        "nothing created"
    );
    // The BackupTask whose dump is the newest kept.
    let tasks = world.list("BackupTask").await;
    let newest_task = tasks
        .iter()
        .filter(|t| t.data["status"]["phase"] == "Completed")
        .max_by_key(|t| time(&t.data["status"]["logical"]["snapshotTime"]))
        .and_then(|t| t.metadata.name.clone())
        .expect("a completed dump");
    assert!(newest.directory.contains(&newest_task), "{newest:?}");
    let rename: Vec<String> = workload
        .databases()
        .iter()
        .map(|d| format!("{d}={d}_pl"))
        .collect();
    let words = restore("latest", &["--rename-database", &rename.join(",")]);
    let loaded = run(world, &words.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(loaded.status.success(), "{loaded:?}");
    assert!(
        stdout(&loaded).starts_with(&format!("dump: backuptask/{newest_task}, data as of ")),
        "{loaded:?}"
    );
    let done = world
        .phase("RecoveryTask", "dumps-tenant1-to-tenant1", "Completed")
        .await;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(tenant_dir.join(&newest.directory).join("manifest.json")).expect("manifest"),
    )
    .expect("a manifest");
    assert_eq!(done["restoreScn"], json!(manifest.snapshot.scn), "{done}");
    assert_copy_equals_snapshot(server, workload, &manifest, "_pl").await;
}
