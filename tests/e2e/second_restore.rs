//! A restore from the second destination: a strategy keeps its second copy on another `file://` share
//! directory; once a set and enough archive are copied, a RecoveryTask naming only the second destinations
//! restores the tenant — obsim reads the copied tree (the sets copied whole, the log up to the copy's
//! checkpoint), not what OceanBase wrote. A point the first destination can reach and the copy cannot is
//! refused before anything is sent, against the copy's own windows.

use ob_backup_operator::api::{
    BackupStrategy, BackupTask, RecoveryTask, RecoveryTaskPhase,
    common::{SecondCopyPhase, TimeWindow},
};
use serde_json::json;

use crate::support::{
    cluster::{eventually, eventually_seen},
    recovery::{recovery, restore_jobs, restores_of},
    second::{assert_root_carries, assert_same_tree, backed_up, copied},
    simulator,
    world::{GIB, WAIT, World, strategy},
};

const DATA: &str = "file:///offsite/copied/data";
const ARCHIVE: &str = "file:///offsite/copied/archive";

/// Waits until strategy `strategy`'s second copy can restore tenant1 to past `time` — a window of the
/// copy, as the strategy's status shows it, reaches there — which is what a RecoveryTask reading the copy
/// checks before it sends anything. The LogBackup's copy passing `time` comes first; the strategy's
/// overview, which its archives' checkpoints moving does not wake, follows on its minute's refresh: up to a
/// minute later, more on a loaded machine.
async fn copy_restorable_past(world: &World, strategy: &str, time: jiff::Timestamp) {
    eventually_seen("the copy restorable past the backup", 2 * WAIT, || async {
        let (_, copy) = both_windows(world, strategy).await.ok_or("no windows")?;
        if copy.iter().any(|w| w.to.0 > time) {
            return Ok(());
        }
        Err(format!("the copy's windows {copy:?}"))
    })
    .await;
}

/// The FROM and the set list of obsim's restore into `tenant`.
fn restore_of(world: &World, tenant: &str) -> (String, String) {
    restore_jobs(world, tenant)
        .into_iter()
        .next()
        .map(|j| (j.backup_dest, j.backup_set_list))
        .expect("the restore job")
}

#[tokio::test]
async fn a_recovery_task_restores_from_the_second_destination() {
    let Some((world, share)) =
        World::with_file_share("second-restore", &["tenant1"], GIB, 30.0).await
    else {
        return;
    };
    world
        .apply(strategy(
            "copied",
            json!({"secondBackup": {
                "dataDestination": {"uri": DATA},
                "logDestination": {"uri": ARCHIVE},
            }}),
        ))
        .await;
    world.archiving("copied", "tenant1").await;
    let (backup, _) = backed_up(&world, "now", "copied").await;
    copied(&world, "now").await;
    let ended = backup.ended_at.clone().expect("the backup's end").0;
    // The copied archive must reach past the set's end for the set to be restorable from the copy.
    copy_restorable_past(&world, "copied", ended).await;

    world
        .apply(recovery(
            "from-copy",
            "restored",
            json!({"latest": true}),
            json!({"source": {
                "tenant": "tenant1",
                "clusterName": "obcluster",
                "dataDestination": {"uri": format!("{DATA}/tenant1")},
                "logDestination": {"uri": format!("{ARCHIVE}/tenant1")},
            }}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("from-copy", RecoveryTaskPhase::Completed)
        .await;
    let (dest, sets) = restore_of(&world, "restored");
    // The copy keeps the strategy's layout: the tenant's own directories under the second destinations.
    assert_eq!(dest, format!("{DATA}/tenant1,{ARCHIVE}/tenant1"));
    assert_eq!(sets, backup.backup_set_id.expect("set").to_string());
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// Both destinations on a real S3 server: obsim's OBServers write the set and the archive through the S3
/// API, the operator copies them to another bucket, and a tenant is restored from that bucket.
#[tokio::test]
async fn a_tenant_backed_up_to_s3_is_restored_from_its_copy_in_another_bucket() {
    use crate::support::s3::{ACCESS_ID, ACCESS_KEY, S3Server};

    let Some(s3) = S3Server::start("first") else {
        return;
    };
    std::fs::create_dir_all(s3.root.join("offsite")).expect("the second bucket");
    let Some((world, share)) = World::with_file_share("second-s3", &["tenant1"], GIB, 30.0).await
    else {
        return;
    };
    simulator::secret(
        &world.admin,
        &world.namespace,
        "keys",
        &[("accessId", ACCESS_ID), ("accessKey", ACCESS_KEY)],
    )
    .await;
    let on = |bucket: &str, path: &str| json!({"uri": s3.uri(bucket, path), "credentialsSecret": "keys"});
    world
        .apply(strategy(
            "ons3",
            json!({
                "dataDestination": on("first", "ob/data"),
                "logDestination": on("first", "ob/archive"),
                "secondBackup": {
                    "dataDestination": on("offsite", "ob/data"),
                    "logDestination": on("offsite", "ob/archive"),
                },
            }),
        ))
        .await;
    world.archiving("ons3", "tenant1").await;
    let (backup, set) = backed_up(&world, "now", "ons3").await;
    assert!(
        s3.file(
            "first",
            &format!("ob/data/tenant1/{set}/single_backup_set_info")
        )
        .is_file(),
        "obsim wrote the set through the S3 API"
    );
    copied(&world, "now").await;
    assert_same_tree(
        &s3.file("first", &format!("ob/data/tenant1/{set}")),
        &s3.file("offsite", &format!("ob/data/tenant1/{set}")),
    );
    assert_root_carries(
        &s3.file("first", "ob/data/tenant1"),
        &s3.file("offsite", "ob/data/tenant1"),
        &set,
    );
    let ended = backup.ended_at.clone().expect("end").0;
    copy_restorable_past(&world, "ons3", ended).await;
    world
        .apply(recovery(
            "from-offsite",
            "restored",
            json!({"latest": true}),
            json!({"source": {
                "tenant": "tenant1",
                "clusterName": "obcluster",
                "dataDestination": on("offsite", "ob/data/tenant1"),
                "logDestination": on("offsite", "ob/archive/tenant1"),
            }}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("from-offsite", RecoveryTaskPhase::Completed)
        .await;
    let (dest, _) = restore_of(&world, "restored");
    assert!(dest.contains("s3://offsite/ob/data/tenant1"), "{dest}");
    assert!(!dest.contains(ACCESS_KEY), "{dest}");
    assert!(
        !world.everything_written().await.contains(ACCESS_KEY),
        "a key leaked"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// Waits until the second copy of BackupTask `task` is in `phase`.
async fn copy_is(world: &World, task: &str, phase: SecondCopyPhase) {
    eventually(&format!("the copy of {task} {phase:?}"), WAIT, || async {
        let copy = world
            .read::<BackupTask>(task)
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(phase)).then_some(())
    })
    .await;
}

/// The strategy's windows for tenant1: its own, and its second copy's.
async fn both_windows(world: &World, name: &str) -> Option<(Vec<TimeWindow>, Vec<TimeWindow>)> {
    let status = world.read::<BackupStrategy>(name).await?.status?;
    let own = status.tenants.first()?.recoverable_windows.clone();
    let copy = status
        .second_backup?
        .tenants
        .first()?
        .recoverable_windows
        .clone();
    Some((own, copy))
}

#[tokio::test]
async fn a_point_the_first_destination_reaches_but_the_copy_does_not_is_refused_before_anything_is_sent()
 {
    // 16 MiB of set data copied at 1 MiB/s: the first set's copy is canceled while it runs, so the copy
    // never holds that set; the second set is copied whole.
    let Some((world, share)) =
        World::with_file_share("second-window", &["tenant1"], 16 * GIB, 30.0).await
    else {
        return;
    };
    world
        .apply(strategy(
            "copied",
            json!({"secondBackup": {
                "dataDestination": {"uri": DATA},
                "logDestination": {"uri": ARCHIVE},
                "concurrency": 1,
                "bandwidthLimit": "1Mi",
            }}),
        ))
        .await;
    world.archiving("copied", "tenant1").await;
    backed_up(&world, "first", "copied").await;
    copy_is(&world, "first", SecondCopyPhase::InProgress).await;
    world
        .patch_spec("BackupTask", "first", json!({"cancel": true}))
        .await;
    copy_is(&world, "first", SecondCopyPhase::Canceled).await;
    let (second, _) = backed_up(&world, "second", "copied").await;
    copied(&world, "second").await;
    let ended = second.ended_at.clone().expect("the backup's end").0;
    copy_restorable_past(&world, "copied", ended).await;
    let (own, copy) = eventually("windows on both copies", WAIT, || async {
        let (own, copy) = both_windows(&world, "copied").await?;
        (own.len() == 1 && copy.len() == 1).then_some((own, copy))
    })
    .await;
    // The first destination reaches back to the first set; the copy starts at the second.
    assert!(own[0].from.0 < copy[0].from.0, "{own:?} {copy:?}");
    let point = own[0].from.0 + copy[0].from.0.duration_since(own[0].from.0) / 2;

    world
        .apply(recovery(
            "beyond-copy",
            "beyond",
            json!({"time": point.to_string()}),
            json!({"source": {
                "tenant": "tenant1",
                "clusterName": "obcluster",
                "dataDestination": {"uri": format!("{DATA}/tenant1")},
                "logDestination": {"uri": format!("{ARCHIVE}/tenant1")},
            }}),
        ))
        .await;
    let refused = world
        .reaches::<RecoveryTask>("beyond-copy", RecoveryTaskPhase::Failed)
        .await;
    let verified = refused
        .conditions
        .iter()
        .find(|c| c.type_ == "RecoveryPointVerified")
        .expect("RecoveryPointVerified");
    assert_eq!(verified.status, "False");
    let listed = format!("{} – {}", copy[0].from.0, copy[0].to.0);
    assert!(
        verified.message.contains(&listed),
        "{listed} not in {}",
        verified.message
    );
    assert!(
        verified
            .message
            .contains("tenant1 in the second copy of strategy copied"),
        "{}",
        verified.message
    );
    assert_eq!(
        restores_of(&world, "beyond"),
        0,
        "nothing reached OceanBase"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
