//! Second backup end to end: a strategy whose sets are copied to a real S3 server (versitygw). obsim writes
//! each set's files on the OBServers' share, the operator (as its ServiceAccount) copies them after the
//! backup completes, verified, and the task's status shows the copy; archive pieces are copied as they
//! grow and freeze, the LogBackup showing how far the copy is behind; no credential of the second
//! destination appears in anything the operator writes.

use std::path::Path;

use ob_backup_operator::api::{
    BackupStrategy, BackupTask, BackupTaskPhase, LogBackup, LogBackupPhase, common::SecondCopyPhase,
};
use serde_json::json;

use crate::support::{
    cluster::eventually,
    s3::{ACCESS_ID, ACCESS_KEY, S3Server},
    second::{assert_root_carries, assert_same_tree, backed_up, completed, copied, files},
    simulator,
    world::{GIB, WAIT, World, strategy, strategy_backup_task},
};

const BUCKET: &str = "offsite";

/// An S3 server, a world whose OBServers write on a share, and a strategy `name` over tenant1 whose second
/// backup goes to the S3 server (`settings` added to its `secondBackup`), archiving: where every test here starts.
async fn given_a_strategy_with_a_second_copy(
    prefix: &str,
    bytes: u64,
    name: &str,
    settings: serde_json::Value,
) -> Option<(S3Server, World, std::path::PathBuf)> {
    given_a_fast_strategy_with_a_second_copy(prefix, bytes, name, settings, 30.0).await
}

/// The same on a clock running `speed` times faster than real time.
pub async fn given_a_fast_strategy_with_a_second_copy(
    prefix: &str,
    bytes: u64,
    name: &str,
    settings: serde_json::Value,
    speed: f64,
) -> Option<(S3Server, World, std::path::PathBuf)> {
    let s3 = S3Server::start(BUCKET)?;
    let (world, share) = World::with_file_share(prefix, &["tenant1"], bytes, speed).await?;
    simulator::secret(
        &world.admin,
        &world.namespace,
        "offsite-keys",
        &[("accessId", ACCESS_ID), ("accessKey", ACCESS_KEY)],
    )
    .await;
    let second =
        |path: &str| json!({"uri": s3.uri(BUCKET, path), "credentialsSecret": "offsite-keys"});
    let mut second_backup = json!({
        "dataDestination": second("ob/data"),
        "logDestination": second("ob/archive"),
    });
    if let (Some(base), Some(extra)) = (second_backup.as_object_mut(), settings.as_object()) {
        base.extend(extra.clone());
    }
    world
        .apply(strategy(name, json!({ "secondBackup": second_backup })))
        .await;
    world
        .reaches::<LogBackup>(&format!("{name}-tenant1-log"), LogBackupPhase::InProgress)
        .await;
    Some((s3, world, share))
}

#[tokio::test]
async fn a_completed_set_is_copied_to_the_second_destination_verified() {
    let Some((s3, world, share)) =
        given_a_strategy_with_a_second_copy("second", GIB, "twice", json!({"concurrency": 2}))
            .await
    else {
        return;
    };
    let (_, set) = backed_up(&world, "now", "twice").await;
    let copy = copied(&world, "now").await;
    assert_eq!(
        copy.storage_directory.as_deref(),
        Some(format!("s3://{BUCKET}/ob/data/tenant1/{set}").as_str())
    );
    // The copy holds the set file for file, byte for byte.
    let names = assert_same_tree(
        &share.join(format!("backup/twice/data/tenant1/{set}")),
        &s3.file(BUCKET, &format!("ob/data/tenant1/{set}")),
    );
    assert!(names.len() >= 4, "{names:?}");
    // With what the root holds for it, which a restore lists to find the set.
    let root = assert_root_carries(
        &share.join("backup/twice/data/tenant1"),
        &s3.file(BUCKET, "ob/data/tenant1"),
        &set,
    );
    assert_eq!(copy.objects, copy.total_objects);
    assert_eq!(copy.objects, Some((names.len() + root.len()) as i64));

    // An incremental set is copied the same way.
    let mut incremental = strategy_backup_task("inc", "twice", "tenant1");
    incremental.spec.mode = ob_backup_operator::api::backup_task::BackupMode::Incremental;
    world.apply(incremental).await;
    let (_, inc_set) = completed(&world, "inc").await;
    copied(&world, "inc").await;
    assert!(inc_set.ends_with("_inc"), "{inc_set}");
    assert_same_tree(
        &share.join(format!("backup/twice/data/tenant1/{inc_set}")),
        &s3.file(BUCKET, &format!("ob/data/tenant1/{inc_set}")),
    );
    assert_root_carries(
        &share.join("backup/twice/data/tenant1"),
        &s3.file(BUCKET, "ob/data/tenant1"),
        &inc_set,
    );
    let written = world.everything_written().await;
    assert!(
        !written.contains(ACCESS_KEY),
        "the second destination's key leaked"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// Each file under `dir` that is as long as its namesake under `first`, with when it was last written.
pub fn complete_files(dir: &Path, first: &Path) -> Vec<(String, std::time::SystemTime)> {
    files(dir)
        .into_iter()
        .filter_map(|name| {
            let copy = std::fs::metadata(dir.join(&name)).ok()?;
            let source = std::fs::metadata(first.join(&name)).ok()?;
            let written = copy.modified().ok()?;
            (copy.len() == source.len()).then_some((name, written))
        })
        .collect()
}

/// Each file under `dir` with its size.
pub fn sizes(dir: &Path) -> Vec<(String, u64)> {
    files(dir)
        .into_iter()
        .map(|name| {
            let size = std::fs::metadata(dir.join(&name)).map_or(0, |m| m.len());
            (name, size)
        })
        .collect()
}

/// A copy under way at 256 KiB/s, one object at a time: 4 GiB of tenant data make a 2 MiB set on the
/// share (eight 256 KiB data files), so the copy takes seconds and a test can cut it.
pub struct SlowCopy {
    /// Bind it for the whole test: dropped, the server stops.
    pub s3: S3Server,
    pub world: World,
    pub share: std::path::PathBuf,
    /// The set's directory on the first destination (the share).
    pub first: std::path::PathBuf,
    /// The same set on the second destination (the S3 server's files).
    pub copy: std::path::PathBuf,
}

/// Strategy `name` (`settings` added to its `secondBackup`) backs up tenant1 in BackupTask "now"; returns
/// once at least one object of its set is whole on the copy.
pub async fn a_slow_copy_under_way(
    prefix: &str,
    name: &str,
    settings: serde_json::Value,
) -> Option<SlowCopy> {
    // 8 MiB on the share at the smallest limit admitted: a copy of about 8 s.
    let mut slow = json!({"concurrency": 1, "bandwidthLimit": "1Mi"});
    if let (Some(base), Some(extra)) = (slow.as_object_mut(), settings.as_object()) {
        base.extend(extra.clone());
    }
    let (s3, world, share) =
        given_a_strategy_with_a_second_copy(prefix, 16 * GIB, name, slow).await?;
    let (_, set) = backed_up(&world, "now", name).await;
    let first = share.join(format!("backup/{name}/data/tenant1/{set}"));
    let copy = s3.file(BUCKET, &format!("ob/data/tenant1/{set}"));
    eventually("an object copied", WAIT, || async {
        (!complete_files(&copy, &first).is_empty()).then_some(())
    })
    .await;
    Some(SlowCopy {
        s3,
        world,
        share,
        first,
        copy,
    })
}

#[tokio::test]
async fn cancel_stops_a_running_copy_which_then_never_counts() {
    // Verification every simulated minute (2 s here): the passes after the cancel must leave the set alone.
    let Some(SlowCopy {
        world,
        share,
        first,
        copy,
        s3: _running,
    }) = a_slow_copy_under_way("second-cancel", "stop", json!({"verifyEvery": "1m"})).await
    else {
        return;
    };
    world
        .patch_spec("BackupTask", "now", json!({"cancel": true}))
        .await;
    let canceled = eventually("the copy to be canceled", WAIT, || async {
        let copy = world
            .read::<BackupTask>("now")
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(SecondCopyPhase::Canceled)).then_some(copy)
    })
    .await;
    let ended = canceled.ended_at.clone().expect("the cancel's time").0;
    let stopped = sizes(&copy);
    let task = world.read::<BackupTask>("now").await.expect("task");
    assert_eq!(
        task.status.and_then(|s| s.phase),
        Some(BackupTaskPhase::Completed),
        "the backup itself stays Completed"
    );
    // A verification pass after the cancel: it neither finishes the copy nor counts the set as on it.
    let overview = eventually("a verification pass after the cancel", 2 * WAIT, || async {
        let overview = world
            .read::<BackupStrategy>("stop")
            .await?
            .status?
            .second_backup?;
        let after = overview.last_verified_at.as_ref()?.0 > ended;
        after.then_some(overview)
    })
    .await;
    assert_eq!(sizes(&copy), stopped, "the copy went on after the cancel");
    assert!(
        complete_files(&copy, &first).len() < files(&first).len(),
        "the copy was not cut"
    );
    let tenant = overview.tenants.first().expect("tenant1 on the overview");
    assert_eq!(tenant.data_backup_bytes, Some(0), "{overview:?}");
    assert!(tenant.recoverable_windows.is_empty(), "{overview:?}");
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

#[tokio::test]
async fn a_copy_cut_by_a_killed_operator_goes_on_without_writing_finished_objects_again() {
    let Some(SlowCopy {
        mut world,
        share,
        first,
        copy,
        s3: _running,
    }) = a_slow_copy_under_way("second-kill", "slow", json!({})).await
    else {
        return;
    };
    // Once two objects are whole on the copy, the operator is killed and started again.
    let finished = eventually("two objects copied", WAIT, || async {
        let whole = complete_files(&copy, &first);
        (whole.len() >= 2).then_some(whole)
    })
    .await;
    assert!(
        finished.len() < files(&first).len(),
        "the copy was not cut: {finished:?}"
    );
    world.restart_operator("b");
    copied(&world, "now").await;
    for (name, written) in &finished {
        let now = std::fs::metadata(copy.join(name))
            .and_then(|m| m.modified())
            .expect("the copied object");
        assert_eq!(now, *written, "{name} was written again after the restart");
    }
    assert_same_tree(&first, &copy);
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

#[tokio::test]
async fn a_set_oceanbase_deletes_is_deleted_from_the_second_destination_too() {
    let Some((s3, world, share)) =
        given_a_strategy_with_a_second_copy("second-clean", GIB, "kept", json!({})).await
    else {
        return;
    };
    let mut sets = Vec::new();
    for name in ["older", "newer"] {
        let (done, _) = backed_up(&world, name, "kept").await;
        copied(&world, name).await;
        sets.push(done.backup_set_id.expect("a set"));
    }
    let (older, newer) = (sets[0], sets[1]);
    let on_copy = |id: i64| {
        s3.file(
            BUCKET,
            &format!("ob/data/tenant1/backup_set_{id}_full/single_backup_set_info"),
        )
    };
    assert!(on_copy(older).is_file() && on_copy(newer).is_file());

    // A CleanupTask deletes the older set in OceanBase; the copy follows.
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask",
            "metadata": {"name": "drop-older"},
            "spec": {"strategyRef": {"name": "kept"}, "tenant": "tenant1",
                     "target": {"backupSetIds": [older]}},
        }))
        .await;
    world
        .reaches::<ob_backup_operator::api::CleanupTask>(
            "drop-older",
            ob_backup_operator::api::CleanupTaskPhase::Completed,
        )
        .await;
    eventually(
        "the older set gone from the second destination",
        WAIT,
        || async { (!on_copy(older).exists()).then_some(()) },
    )
    .await;
    assert!(on_copy(newer).is_file(), "the newer set's copy stays");
    // Its placeholders went before its data (a restore lists them: none may name a set being deleted), so
    // none is left once its data is gone; the newer set's and the format file stay.
    let placeholders = files(&s3.file(BUCKET, "ob/data/tenant1/backup_sets"));
    assert!(
        !placeholders.is_empty()
            && placeholders
                .iter()
                .all(|n| n.starts_with(&format!("backup_set_{newer}_full_"))),
        "{placeholders:?}"
    );
    assert!(s3.file(BUCKET, "ob/data/tenant1/format.obbak").is_file());
    assert!(
        share
            .join(format!(
                "backup/kept/data/tenant1/backup_set_{newer}_full/single_backup_set_info"
            ))
            .is_file(),
        "the first destination keeps what OceanBase keeps"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// The piece directory `p{id}` under `archive` on the share (`piece_d1001r1p1`).
fn piece_dir(archive: &Path, id: i64) -> Option<String> {
    std::fs::read_dir(archive)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .find(|name| name.starts_with("piece_") && name.ends_with(&format!("p{id}")))
}

#[tokio::test]
async fn archive_pieces_are_copied_as_they_grow_and_freeze_and_the_lag_is_shown() {
    // A day's piece freezes after ~86 s at this speed.
    let Some((s3, world, share)) =
        given_a_fast_strategy_with_a_second_copy("second-log", GIB, "logs", json!({}), 1000.0)
            .await
    else {
        return;
    };
    let archive_name = "logs-tenant1-log";
    let archive = share.join("backup/logs/archive/tenant1");
    // While the first piece is active, its growing files are on the copy already.
    let active = eventually("the active piece on the copy", WAIT, || async {
        let tree = piece_dir(&archive, 1)?;
        let copy = s3.file(BUCKET, &format!("ob/archive/tenant1/{tree}"));
        copy.join("checkpoint/checkpoint_info.0.obarc")
            .is_file()
            .then_some(copy)
    })
    .await;
    assert!(
        !active.join("single_piece_info.obarc").exists(),
        "copied before it froze"
    );
    // Once frozen, it is copied whole, and the status says so.
    let copy = eventually("the first piece copied whole", 3 * WAIT, || async {
        let copy = world
            .read::<LogBackup>(archive_name)
            .await?
            .status?
            .second_backup?;
        (copy.copied_piece_id >= Some(1)).then_some(copy)
    })
    .await;
    let tree = piece_dir(&archive, 1).expect("the first piece on the share");
    let first = archive.join(&tree);
    let names = assert_same_tree(&first, &active);
    assert!(
        names.contains(&"single_piece_info.obarc".to_string()),
        "{names:?}"
    );
    // With what the archive's root holds for it: the format file, its round's start placeholder, its own
    // start and end placeholders — byte for byte.
    let copied_root = s3.file(BUCKET, "ob/archive/tenant1");
    let (round, _) = tree
        .rsplit_once('p')
        .expect("piece_d<dest>r<round>p<piece>");
    let mut root = vec!["format.obarc".to_string()];
    for (dir, prefix) in [
        ("rounds", round.replacen("piece_", "round_", 1)),
        ("pieces", tree.clone()),
    ] {
        root.extend(
            files(&archive.join(dir))
                .into_iter()
                .filter(|n| n.starts_with(&format!("{prefix}_")))
                .map(|n| format!("{dir}/{n}")),
        );
    }
    assert!(root.len() >= 4, "{root:?}");
    for name in &root {
        assert_eq!(
            std::fs::read(copied_root.join(name)).ok(),
            std::fs::read(archive.join(name)).ok(),
            "{name}"
        );
    }
    assert_eq!(copy.phase, Some(SecondCopyPhase::InProgress));
    assert_eq!(
        copy.storage_directory.as_deref(),
        Some(format!("s3://{BUCKET}/ob/archive/tenant1").as_str())
    );
    assert!(copy.bytes.is_some_and(|b| b > 0) && copy.started_at.is_some());
    // How far the copy is behind: the first destination's checkpoint minus the copy's, never negative,
    // and the same figure as a metric.
    let status = world
        .read::<LogBackup>(archive_name)
        .await
        .and_then(|l| l.status)
        .expect("status");
    let within =
        crate::support::typed::condition_of(&status.conditions, "SecondCopyWithinThreshold")
            .map(str::to_string);
    let second = status.second_backup.expect("second");
    let (Some(delay), Some(copied), Some(archived)) = (
        second.delay_seconds,
        second.checkpoint_time.clone(),
        status.checkpoint_time,
    ) else {
        panic!("no lag shown: {second:?}");
    };
    assert!(delay >= 0 && copied.0 <= archived.0, "{second:?}");
    // On this clock a 10 s pass is ~3 simulated hours: whether that is over the LogBackup's default
    // threshold (10m), the condition says so.
    let expected = if delay < 600 { "True" } else { "False" };
    assert_eq!(within.as_deref(), Some(expected), "{second:?}");
    eventually("the lag as a metric", WAIT, || async {
        world.operator.sample_with(
            "obbackup_second_log_copy_delay_seconds",
            "tenant=\"tenant1\"",
        )
    })
    .await;
    let written = world.everything_written().await;
    assert!(
        !written.contains(ACCESS_KEY),
        "the second destination's key leaked"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

#[tokio::test]
async fn an_outage_of_the_second_destination_never_fails_the_copy_and_the_copy_goes_on_after_it() {
    let Some(SlowCopy {
        mut s3,
        world,
        share,
        first,
        copy,
    }) = a_slow_copy_under_way("second-outage", "cut", json!({})).await
    else {
        return;
    };
    // The S3 server goes away mid-copy: the copy waits, saying for what, and nothing turns Failed.
    s3.stop();
    let waiting = eventually("the copy to say it waits for storage", WAIT, || async {
        let copy = world
            .read::<BackupTask>("now")
            .await?
            .status?
            .second_backup?;
        copy.message
            .as_deref()
            .is_some_and(|m| m.contains("waiting for storage"))
            .then_some(copy)
    })
    .await;
    assert_eq!(waiting.phase, Some(SecondCopyPhase::InProgress));
    let task = world.read::<BackupTask>("now").await.expect("task");
    assert_eq!(
        task.status.and_then(|s| s.phase),
        Some(BackupTaskPhase::Completed),
        "the backup itself stays Completed"
    );
    // Back again: the copy goes on by itself and completes, byte for byte.
    s3.resume();
    copied(&world, "now").await;
    assert_same_tree(&first, &copy);
    assert!(
        !world.everything_written().await.contains(ACCESS_KEY),
        "the second destination's key leaked"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
