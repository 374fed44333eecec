//! The crash matrix (issue 13): for every named crash point (`src/crash.rs`) on a flow that reaches it, the
//! operator binary — built with the `failpoints` feature — aborts exactly there, is restarted, and the test
//! checks the invariants: one OceanBase action per object (backup job per BackupTask, restore per
//! RecoveryTask, delete job per CleanupTask), archiving on exactly once when its owner wants it, every object at its right final phase.
//! Rows run a few at a time, each in its own namespace with its own obsim cluster and operator; the matrix and
//! its result are printed.

use futures::StreamExt;
use ob_backup_operator::api::{
    BackupTask, BackupTaskPhase, CleanupTask, CleanupTaskPhase, LogBackup, LogBackupPhase,
    RecoveryTask, RecoveryTaskPhase, backup_task::BackupMode,
};
use std::time::Instant;

use crate::support::{
    cluster::{ControlPlane, eventually},
    simulator,
    world::{GIB, WAIT, World, backup_task, cluster, log_backup, strategy, strategy_backup_task},
};
use obsim::model::Version;
use serde_json::json;

/// The flows the points are crossed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// An explicit LogBackup and an ad-hoc full BackupTask of tenant1.
    Backup,
    /// A strategy over tenant1 (StopArchiving: a finalizer) and a "Back up Now" through it.
    Strategy,
    /// A restore of tenant1 (backed up through a strategy) into a new tenant, activated.
    Recovery,
    /// A requested cleanup of tenant1's obsolete backups (its delete policy set).
    Cleanup,
    /// A running backup canceled.
    Cancel,
    /// A StopArchiving strategy deleted: its LogBackup goes, archiving stops, the policy is dropped.
    Deletion,
    /// An explicit LogBackup set to `Stopped`.
    StopLog,
    /// A strategy's scheduled full backup (a simulated clock just before its time).
    Scheduled,
    /// A delete job OceanBase's policy starts by itself, mirrored by the strategy as a CleanupTask.
    Mirror,
    /// A running restore canceled: the restore is canceled, the pool and unit the task made are dropped.
    CancelRestore,
    /// A running requested cleanup canceled.
    CancelCleanup,
    /// Someone sets an archiving tenant's destination to DEFER; its LogBackup enables it again.
    EnableDest,
    /// A "Back up Now" through a strategy with a second copy on the share: the set is copied.
    SecondCopy,
    /// A strategy's restore drill, run once: restored, checked, its scratch tenant, pool and unit dropped.
    Drill,
}

/// Every (point, flow) row. A point a flow never reaches fails its row, so the matrix stays honest.
/// `CRASH_MATRIX_ONLY=<substring>[,<substring>…]` runs only the rows whose point contains one of them.
const MATRIX: &[(&str, Flow)] = &[
    ("status/LogBackup/before", Flow::Backup),
    ("status/LogBackup/after", Flow::Backup),
    ("statement/set-archive-dest/before", Flow::Backup),
    ("statement/set-archive-dest/after", Flow::Backup),
    ("statement/start-archiving/before", Flow::Backup),
    ("statement/start-archiving/after", Flow::Backup),
    ("status/BackupTask/before", Flow::Backup),
    ("status/BackupTask/after", Flow::Backup),
    ("statement/set-data-dest/before", Flow::Backup),
    ("statement/set-data-dest/after", Flow::Backup),
    ("intent/BackupTask/after", Flow::Backup),
    ("statement/backup/before", Flow::Backup),
    ("statement/backup/after", Flow::Backup),
    ("status/BackupStrategy/before", Flow::Strategy),
    ("status/BackupStrategy/after", Flow::Strategy),
    ("finalizer/before", Flow::Strategy),
    ("finalizer/after", Flow::Strategy),
    ("child/LogBackup/before-create", Flow::Strategy),
    ("child/LogBackup/after-create", Flow::Strategy),
    ("statement/add-delete-policy/before", Flow::Strategy),
    ("statement/add-delete-policy/after", Flow::Strategy),
    ("statement/set-data-dest/after", Flow::Strategy),
    ("statement/backup/after", Flow::Strategy),
    ("status/RecoveryTask/before", Flow::Recovery),
    ("status/RecoveryTask/after", Flow::Recovery),
    ("intent/RecoveryTask/after", Flow::Recovery),
    ("statement/restore/before", Flow::Recovery),
    ("statement/restore/after", Flow::Recovery),
    ("statement/activate/before", Flow::Recovery),
    ("statement/activate/after", Flow::Recovery),
    ("status/CleanupTask/before", Flow::Cleanup),
    ("status/CleanupTask/after", Flow::Cleanup),
    ("intent/CleanupTask/after", Flow::Cleanup),
    ("statement/delete-backup/before", Flow::Cleanup),
    ("statement/delete-backup/after", Flow::Cleanup),
    ("statement/cancel-backup/before", Flow::Cancel),
    ("statement/cancel-backup/after", Flow::Cancel),
    ("child/before-delete", Flow::Deletion),
    ("child/after-delete", Flow::Deletion),
    ("statement/drop-delete-policy/before", Flow::Deletion),
    ("statement/drop-delete-policy/after", Flow::Deletion),
    ("finalizer/before", Flow::Deletion),
    ("finalizer/after", Flow::Deletion),
    ("statement/stop-archiving/before", Flow::StopLog),
    ("statement/stop-archiving/after", Flow::StopLog),
    ("child/BackupTask/before-create", Flow::Scheduled),
    ("child/BackupTask/after-create", Flow::Scheduled),
    ("child/CleanupTask/before-create", Flow::Mirror),
    ("child/CleanupTask/after-create", Flow::Mirror),
    ("statement/cancel-restore/before", Flow::CancelRestore),
    ("statement/cancel-restore/after", Flow::CancelRestore),
    ("statement/drop-resource/before", Flow::CancelRestore),
    ("statement/drop-resource/after", Flow::CancelRestore),
    ("statement/cancel-delete/before", Flow::CancelCleanup),
    ("statement/cancel-delete/after", Flow::CancelCleanup),
    ("statement/enable-archive-dest/before", Flow::EnableDest),
    ("statement/enable-archive-dest/after", Flow::EnableDest),
    ("copy/placeholders/before", Flow::SecondCopy),
    ("child/RecoveryTask/before-create", Flow::Drill),
    ("child/RecoveryTask/after-create", Flow::Drill),
    ("intent/RecoveryTask/after", Flow::Drill),
    ("statement/restore/after", Flow::Drill),
    ("statement/activate/after", Flow::Drill),
    ("statement/drop-resource/before", Flow::Drill),
    ("statement/drop-resource/after", Flow::Drill),
];

/// How many rows run at once: each mostly waits on its operator's and cluster's clocks, so the matrix takes
/// about its rows' sum over this. With 8, beside the older-schema pass's other tests and the image's build, a
/// drill row once ran out of its time on the suite's 2-core machine.
const PARALLEL: usize = 6;

/// Runs one row; returns what it checked, or panics with what broke.
async fn row(point: &'static str, flow: Flow) -> String {
    let prefix = format!("crash-{}", rows_index(point, flow));
    // A cancel needs a backup that outlasts two operator restarts (minutes, at the simulator's speed).
    let bytes = if flow == Flow::Cancel {
        4000 * GIB
    } else {
        GIB
    };
    // Requested cleanups (and so their cancels) are 4.4.1's: those rows run on the newest schema in both
    // passes.
    let version = if matches!(flow, Flow::Cleanup | Flow::CancelCleanup) {
        simulator::profile_at_least(Version::V4_4_1)
    } else {
        simulator::profile()
    };
    let mut world = if flow == Flow::Scheduled {
        // 01:00 tomorrow is the run (after the strategy's creation, which is real time); the clock gets there
        // in about 15 s, after the armed operator took its lease.
        let tomorrow = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            + jiff::ToSpan::day(1);
        let start = tomorrow
            .at(0, 59, 30, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("tomorrow")
            .timestamp();
        World::simulated(&prefix, &["tenant1"], bytes, (start, 2.0), version).await
    } else if flow == Flow::SecondCopy {
        let (world, share) = World::with_file_share(&prefix, &["tenant1"], bytes, 30.0)
            .await
            .expect("control plane");
        return second_copy_row(point, world, share).await;
    } else {
        World::running(&prefix, &["tenant1"], bytes, 30.0, version).await
    }
    .expect("control plane");
    let checked = match flow {
        Flow::Backup => {
            world.arm(point);
            world.apply(log_backup("archive", "tenant1")).await;
            world
                .apply(backup_task("full", "tenant1", BackupMode::Full))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world
                .reaches::<LogBackup>("archive", LogBackupPhase::InProgress)
                .await;
            world
                .reaches::<BackupTask>("full", BackupTaskPhase::Completed)
                .await;
            let uid = world.uid("BackupTask", "full").await;
            let jobs = simulator::jobs_with_description(&world.node, &uid);
            assert_eq!(jobs, 1, "{point}: backup jobs of the task");
            assert_eq!(
                simulator::rounds_started(&world.node, "tenant1"),
                1,
                "{point}: archive rounds"
            );
            "1 job, 1 archive round".to_string()
        }
        Flow::Strategy => {
            world.arm(point);
            world.apply(stop_archiving_strategy()).await;
            world
                .apply(strategy_backup_task("now", "demo", "tenant1"))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world.archiving("demo", "tenant1").await;
            world
                .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
                .await;
            let uid = world.uid("BackupTask", "now").await;
            assert_eq!(
                simulator::jobs_with_description(&world.node, &uid),
                1,
                "{point}"
            );
            assert_eq!(
                simulator::rounds_started(&world.node, "tenant1"),
                1,
                "{point}: archive rounds"
            );
            policy_and_finalizer(&world).await;
            "1 job, 1 archive round, policy and finalizer".to_string()
        }
        Flow::Recovery => {
            crate::support::recovery::backed_up(&world, false).await;
            world.arm(point);
            world
                .apply(crate::support::recovery::recovery(
                    "restore",
                    "restored",
                    json!({"latest": true}),
                    json!({}),
                ))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world
                .reaches::<RecoveryTask>("restore", RecoveryTaskPhase::Completed)
                .await;
            assert_eq!(
                crate::support::recovery::restores_of(&world, "restored"),
                1,
                "{point}: restores"
            );
            let role = simulator::cluster(&world.node)
                .tenant("restored")
                .map(|t| t.role);
            assert_eq!(role, Some("PRIMARY"), "{point}");
            "1 restore, tenant PRIMARY".to_string()
        }
        Flow::Cleanup => {
            simulator::cluster(&world.node)
                .add_delete_policy("default", Some("1d"), Some("tenant1"))
                .expect("policy");
            world.arm(point);
            world
                .apply(json!({
                    "apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask",
                    "metadata": {"name": "obsolete"},
                    "spec": {"cluster": cluster(), "tenant": "tenant1", "target": {"obsolete": true}},
                }))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world
                .reaches::<CleanupTask>("obsolete", CleanupTaskPhase::Completed)
                .await;
            assert_eq!(
                delete_jobs(&world).requested,
                1,
                "{point}: requested delete jobs"
            );
            "1 delete job".to_string()
        }
        Flow::Cancel => {
            world.apply(log_backup("archive", "tenant1")).await;
            world
                .apply(backup_task("long", "tenant1", BackupMode::Full))
                .await;
            world
                .reaches::<BackupTask>("long", BackupTaskPhase::InProgress)
                .await;
            world.arm(point);
            world
                .patch_spec("BackupTask", "long", json!({"cancel": true}))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world
                .reaches::<BackupTask>("long", BackupTaskPhase::Canceled)
                .await;
            let uid = world.uid("BackupTask", "long").await;
            assert_eq!(
                simulator::jobs_with_description(&world.node, &uid),
                1,
                "{point}"
            );
            "1 job, canceled".to_string()
        }
        Flow::Deletion => {
            world.apply(stop_archiving_strategy()).await;
            world.archiving("demo", "tenant1").await;
            policy_and_finalizer(&world).await;
            world.arm(point);
            world.delete("BackupStrategy", "demo").await;
            world.crashed(point).await;
            world.start_operator("after");
            eventually("the strategy released", WAIT, || async {
                world
                    .get("BackupStrategy", "demo")
                    .await
                    .is_none()
                    .then_some(())
            })
            .await;
            let (archiving, policy) = {
                let cluster = simulator::cluster(&world.node);
                let tenant = cluster.tenant("tenant1").expect("tenant1");
                (
                    tenant.archive.log_mode_archive,
                    tenant.clean.policy.is_some(),
                )
            };
            assert!(
                !archiving && !policy,
                "{point}: archiving {archiving}, policy {policy}"
            );
            "archiving stopped, policy dropped, released".to_string()
        }
        Flow::StopLog => {
            world.apply(log_backup("archive", "tenant1")).await;
            world
                .reaches::<LogBackup>("archive", LogBackupPhase::InProgress)
                .await;
            world.arm(point);
            world
                .patch_spec("LogBackup", "archive", json!({"desiredState": "Stopped"}))
                .await;
            world.crashed(point).await;
            world.start_operator("after");
            world
                .reaches::<LogBackup>("archive", LogBackupPhase::Stopped)
                .await;
            let archiving = simulator::cluster(&world.node)
                .tenant("tenant1")
                .is_some_and(|t| t.archive.log_mode_archive);
            assert!(!archiving, "{point}: still archiving");
            assert_eq!(
                simulator::rounds_started(&world.node, "tenant1"),
                1,
                "{point}: archive rounds"
            );
            "archiving stopped, 1 archive round".to_string()
        }
        Flow::Scheduled => scheduled(&mut world, point).await,
        Flow::Mirror => mirrored(&mut world, point).await,
        Flow::CancelRestore => canceled_restore(&mut world, point).await,
        Flow::Drill => drill(&mut world, point).await,
        Flow::CancelCleanup => canceled_cleanup(&mut world, point).await,
        Flow::SecondCopy => unreachable!("second-copy rows run in second_copy_row"),
        Flow::EnableDest => {
            world.apply(log_backup("archive", "tenant1")).await;
            world
                .reaches::<LogBackup>("archive", LogBackupPhase::InProgress)
                .await;
            world.arm(point);
            {
                let mut cluster = simulator::cluster(&world.node);
                let now = cluster.now();
                if let Some(tenant) = cluster.tenants.iter_mut().find(|t| t.name == "tenant1") {
                    tenant
                        .archive
                        .set_dest_state("DEFER", now)
                        .expect("defer the destination");
                }
            }
            world.crashed(point).await;
            world.start_operator("after");
            eventually("the destination enabled again", WAIT, || async {
                simulator::cluster(&world.node)
                    .tenant("tenant1")
                    .is_some_and(|t| t.archive.dest_enabled)
                    .then_some(())
            })
            .await;
            world
                .reaches::<LogBackup>("archive", LogBackupPhase::InProgress)
                .await;
            assert_eq!(
                simulator::rounds_started(&world.node, "tenant1"),
                1,
                "{point}: archive rounds"
            );
            "destination enabled, 1 archive round".to_string()
        }
    };
    let settled = crate::support::invariants::settled(&world).await;
    world.done().await;
    format!("{checked}; {settled}")
}

/// The strategy's 01:00 full backup, cut at `point`: one task for the run, one OceanBase job in all.
async fn scheduled(world: &mut World, point: &str) -> String {
    world.arm(point);
    world
        .apply(strategy(
            "nightly",
            json!({"schedule": {"timeZone": "UTC", "full": "0 1 * * *"}}),
        ))
        .await;
    world.crashed(point).await;
    world.start_operator("after");
    let tasks = world.all_in_phase("BackupTask", "Completed").await;
    assert_eq!(tasks.len(), 1, "{point}: tasks for the 01:00 run");
    let uid = tasks[0].metadata.uid.clone().expect("uid");
    assert_eq!(
        simulator::jobs_with_description(&world.node, &uid),
        1,
        "{point}: jobs of the run"
    );
    assert_eq!(
        simulator::backup_jobs(&world.node),
        1,
        "{point}: jobs in all"
    );
    "1 task, 1 job".to_string()
}

/// A delete job tenant1's policy starts by itself (the policy backdated an hour), mirrored with the crash at
/// `point`: one mirror per job, each Completed, and no delete job requested by the operator.
async fn mirrored(world: &mut World, point: &str) -> String {
    world
        .apply(strategy(
            "kept",
            json!({"retention": {"recoveryWindow": "1d"}}),
        ))
        .await;
    eventually("the delete policy", WAIT, || async {
        simulator::cluster(&world.node)
            .tenant("tenant1")
            .is_some_and(|t| t.clean.policy.is_some())
            .then_some(())
    })
    .await;
    world.arm(point);
    if let Some(policy) = simulator::cluster(&world.node)
        .tenants
        .iter_mut()
        .find(|t| t.name == "tenant1")
        .and_then(|t| t.clean.policy.as_mut())
    {
        policy.backdate(jiff::SignedDuration::from_hours(1));
    }
    world.crashed(point).await;
    world.start_operator("after");
    let mirrors = world.all_in_phase("CleanupTask", "Completed").await;
    let DeleteJobs {
        by_policy: policy_jobs,
        requested,
    } = delete_jobs(world);
    assert_eq!(
        mirrors.len(),
        policy_jobs,
        "{point}: one mirror per policy job"
    );
    assert_eq!(requested, 0, "{point}: delete jobs the operator requested");
    format!("{} mirror(s) of {policy_jobs} policy job(s)", mirrors.len())
}

/// A restore that makes no progress, canceled with the crash at `point`: one restore, the task Canceled,
/// no tenant, pool or unit left behind.
async fn canceled_restore(world: &mut World, point: &str) -> String {
    crate::support::recovery::backed_up(world, false).await;
    simulator::cluster(&world.node).faults.stalled_restores = true;
    world
        .apply(crate::support::recovery::recovery(
            "restore",
            "restored",
            json!({"latest": true}),
            json!({}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("restore", RecoveryTaskPhase::InProgress)
        .await;
    world.arm(point);
    world
        .patch_spec("RecoveryTask", "restore", json!({"cancel": true}))
        .await;
    world.crashed(point).await;
    world.start_operator("after");
    world
        .reaches::<RecoveryTask>("restore", RecoveryTaskPhase::Canceled)
        .await;
    eventually("the task released its pool", WAIT, || async {
        let status = world.status("RecoveryTask", "restore").await;
        status.get("resourcePool").is_none().then_some(())
    })
    .await;
    eventually("the tenant, pool and unit gone", WAIT, || async {
        let cluster = simulator::cluster(&world.node);
        let left = cluster.tenant("restored").is_some()
            || !cluster.restores.pools.is_empty()
            || !cluster.restores.units.is_empty();
        (!left).then_some(())
    })
    .await;
    assert_eq!(
        crate::support::recovery::restores_of(world, "restored"),
        1,
        "{point}: restores"
    );
    "1 restore, canceled, nothing left behind".to_string()
}

/// A strategy's drill, run once, with the crash at `point`: one drill, one restore, passed, and nothing of
/// it left in OceanBase.
async fn drill(world: &mut World, point: &str) -> String {
    use crate::support::drill::{drill_user, drilled, every_drill_clean, next_minute};
    drill_user(world).await;
    crate::support::recovery::backed_up(world, false).await;
    world.arm(point);
    drilled(world, &next_minute(10), "Latest", json!(["tenant1"])).await;
    world.crashed(point).await;
    world.start_operator("after");
    let drills = every_drill_clean(world, point).await;
    assert_eq!(drills.len(), 1, "{point}: one run");
    assert_eq!(drills[0].status["drill"]["verdict"], "Passed", "{point}");
    "1 drill, 1 restore, passed, nothing left behind".to_string()
}

/// A requested cleanup whose job makes no progress, canceled with the crash at `point`: one requested
/// delete job, the task Canceled.
async fn canceled_cleanup(world: &mut World, point: &str) -> String {
    {
        let mut cluster = simulator::cluster(&world.node);
        cluster
            .add_delete_policy("default", Some("1d"), Some("tenant1"))
            .expect("policy");
        if let Some(tenant) = cluster.tenants.iter_mut().find(|t| t.name == "tenant1") {
            tenant.clean.stalled = true;
        }
    }
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask",
            "metadata": {"name": "obsolete"},
            "spec": {"cluster": cluster(), "tenant": "tenant1", "target": {"obsolete": true}},
        }))
        .await;
    world
        .reaches::<CleanupTask>("obsolete", CleanupTaskPhase::Executing)
        .await;
    world.arm(point);
    world
        .patch_spec("CleanupTask", "obsolete", json!({"cancel": true}))
        .await;
    world.crashed(point).await;
    world.start_operator("after");
    world
        .reaches::<CleanupTask>("obsolete", CleanupTaskPhase::Canceled)
        .await;
    assert_eq!(
        delete_jobs(world).requested,
        1,
        "{point}: requested delete jobs"
    );
    "1 delete job, canceled".to_string()
}

/// tenant1's delete jobs: those its policy started by itself (initiated by the tenant) and those someone
/// requested (initiated by sys).
struct DeleteJobs {
    by_policy: usize,
    requested: usize,
}

fn delete_jobs(world: &World) -> DeleteJobs {
    let cluster = simulator::cluster(&world.node);
    let Some(tenant) = cluster.tenant("tenant1") else {
        return DeleteJobs {
            by_policy: 0,
            requested: 0,
        };
    };
    let (requested, by_policy): (Vec<_>, Vec<_>) = tenant
        .clean
        .jobs
        .iter()
        .chain(&tenant.clean.history)
        .partition(|j| j.initiator_tenant_id != j.tenant_id);
    DeleteJobs {
        by_policy: by_policy.len(),
        requested: requested.len(),
    }
}

/// Waits until tenant1 has its delete policy and strategy `demo` its StopArchiving finalizer.
async fn policy_and_finalizer(world: &World) {
    eventually("the delete policy and the finalizer", WAIT, || async {
        let policy = simulator::cluster(&world.node)
            .tenant("tenant1")
            .is_some_and(|t| t.clean.policy.is_some());
        let finalizer = world
            .get("BackupStrategy", "demo")
            .await?
            .metadata
            .finalizers
            .is_some_and(|f| f.iter().any(|f| f == "obbackup.dev/stop-archiving"));
        (policy && finalizer).then_some(())
    })
    .await;
}

/// A strategy over tenant1 that stops archiving when deleted.
/// The SecondCopy row: the operator dies as the set's data is on the copy and its placeholders are not (a
/// restore listing the copy then finds no set, never a half one); after a restart the copy completes, the
/// data as on the first destination and the placeholders after it.
async fn second_copy_row(point: &str, mut world: World, share: std::path::PathBuf) -> String {
    use crate::support::second::{assert_root_carries, assert_same_tree, copied, files};
    let offsite = |path: &str| json!({"uri": format!("file:///backup/offsite/{path}")});
    world.arm(point);
    world
        .apply(strategy(
            "demo",
            json!({"secondBackup": {"dataDestination": offsite("data"), "logDestination": offsite("archive")}}),
        ))
        .await;
    world
        .apply(strategy_backup_task("now", "demo", "tenant1"))
        .await;
    world.crashed(point).await;
    let copy = share.join("backup/offsite/data/tenant1");
    let placeholders = files(&copy.join("backup_sets"));
    assert!(
        placeholders.is_empty(),
        "{point}: placeholders before the data was whole: {placeholders:?}"
    );
    world.start_operator("after");
    copied(&world, "now").await;
    let first = share.join("backup/demo/data/tenant1");
    let set = "backup_set_1_full";
    assert_same_tree(&first.join(set), &copy.join(set));
    let carried = assert_root_carries(&first, &copy, set);
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
    format!("copy whole, then {} root objects", carried.len())
}

fn stop_archiving_strategy() -> serde_json::Value {
    strategy("demo", json!({"deletionPolicy": "StopArchiving"}))
}

fn rows_index(point: &str, flow: Flow) -> usize {
    MATRIX
        .iter()
        .position(|(p, f)| *p == point && *f == flow)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_keeps_one_action_per_object() {
    if ControlPlane::get().is_none() {
        return;
    }
    let started = Instant::now();
    let only = std::env::var("CRASH_MATRIX_ONLY").unwrap_or_default();
    let rows: Vec<(&'static str, Flow)> = MATRIX
        .iter()
        .copied()
        .filter(|(point, _)| only.split(',').any(|part| point.contains(part)))
        .collect();
    // A row starts as soon as one ends (no batch waits for its slowest row), `PARALLEL` at once; the
    // results keep the matrix's order.
    let results: Vec<_> = futures::stream::iter(rows.iter().copied())
        .map(|(point, flow)| async move {
            let outcome = tokio::spawn(async move {
                let t0 = Instant::now();
                let checked = row(point, flow).await;
                (checked, t0.elapsed())
            })
            .await;
            (point, flow, outcome.map_err(|e| e.to_string()))
        })
        .buffered(PARALLEL)
        .collect()
        .await;
    println!("crash matrix: {} points × flows", rows.len());
    println!("{:<40} {:<9} result", "point", "flow");
    for (point, flow, outcome) in &results {
        match outcome {
            Ok((checked, took)) => println!(
                "{point:<40} {:<9} ok ({checked}; {:.0} s)",
                format!("{flow:?}"),
                took.as_secs_f64()
            ),
            Err(e) => println!("{point:<40} {:<9} FAILED: {e}", format!("{flow:?}")),
        }
    }
    println!("crash matrix took {:.0} s", started.elapsed().as_secs_f64());
    let failed = results.iter().filter(|(_, _, o)| o.is_err()).count();
    assert_eq!(failed, 0, "{failed} of {} rows failed", results.len());
}
