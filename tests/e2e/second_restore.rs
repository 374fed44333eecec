//! A restore from the second destination: a strategy keeps its second copy on another `file://` share
//! directory; once a set and enough archive are copied, a RecoveryTask naming only the second destinations
//! restores the tenant — obsim reads the copied tree (the sets copied whole, the log up to the copy's
//! checkpoint), not what OceanBase wrote.

use ob_backup_operator::api::{
    BackupTask, BackupTaskPhase, LogBackup, LogBackupPhase, RecoveryTask, RecoveryTaskPhase,
    common::SecondCopyPhase,
};
use serde_json::json;

use crate::support::{
    cluster::eventually,
    recovery::recovery,
    simulator,
    world::{GIB, WAIT, World, strategy, strategy_backup_task},
};

const DATA: &str = "file:///offsite/copied/data";
const ARCHIVE: &str = "file:///offsite/copied/archive";

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
    world
        .reaches::<LogBackup>("copied-tenant1-log", LogBackupPhase::InProgress)
        .await;
    world
        .apply(strategy_backup_task("now", "copied", "tenant1"))
        .await;
    let backup = world
        .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
        .await;
    let ended = backup.ended_at.expect("the backup's end").0;
    eventually("the set copied", WAIT, || async {
        let copy = world
            .read::<BackupTask>("now")
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(SecondCopyPhase::Completed)).then_some(())
    })
    .await;
    // The copied archive must reach past the set's end for the set to be restorable from the copy.
    eventually("the archive copied past the backup", WAIT, || async {
        let copy = world
            .read::<LogBackup>("copied-tenant1-log")
            .await?
            .status?
            .second_backup?;
        (copy.checkpoint_time?.0 > ended).then_some(())
    })
    .await;

    world
        .apply(recovery(
            "from-copy",
            "restored",
            json!({"latest": true}),
            json!({"source": {
                "tenant": "tenant1",
                "clusterName": "obcluster",
                "dataDestination": {"uri": DATA},
                "logDestination": {"uri": ARCHIVE},
            }}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("from-copy", RecoveryTaskPhase::Completed)
        .await;
    let (dest, sets) = {
        let cluster = simulator::cluster(&world.node);
        let job = cluster
            .restores
            .jobs
            .iter()
            .chain(&cluster.restores.history)
            .find(|j| j.tenant_name == "restored")
            .expect("the restore job");
        (job.backup_dest.clone(), job.backup_set_list.clone())
    };
    assert_eq!(dest, format!("{DATA},{ARCHIVE}"));
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
    world
        .reaches::<LogBackup>("ons3-tenant1-log", LogBackupPhase::InProgress)
        .await;
    world
        .apply(strategy_backup_task("now", "ons3", "tenant1"))
        .await;
    let backup = world
        .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
        .await;
    let set_id = backup.backup_set_id.expect("set");
    let set = format!("ob/data/backup_set_{set_id}_full/single_backup_set_info");
    assert!(
        s3.file("first", &set).is_file(),
        "obsim wrote the set through the S3 API"
    );
    eventually("the set copied to the second bucket", WAIT, || async {
        let copy = world
            .read::<BackupTask>("now")
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(SecondCopyPhase::Completed)).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read(s3.file("offsite", &set)).expect("copy"),
        std::fs::read(s3.file("first", &set)).expect("first")
    );
    let ended = backup.ended_at.expect("end").0;
    eventually("the archive copied past the backup", WAIT, || async {
        let copy = world
            .read::<LogBackup>("ons3-tenant1-log")
            .await?
            .status?
            .second_backup?;
        (copy.checkpoint_time?.0 > ended).then_some(())
    })
    .await;
    world
        .apply(recovery(
            "from-offsite",
            "restored",
            json!({"latest": true}),
            json!({"source": {
                "tenant": "tenant1",
                "clusterName": "obcluster",
                "dataDestination": on("offsite", "ob/data"),
                "logDestination": on("offsite", "ob/archive"),
            }}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("from-offsite", RecoveryTaskPhase::Completed)
        .await;
    let dest = {
        let cluster = simulator::cluster(&world.node);
        cluster
            .restores
            .jobs
            .iter()
            .chain(&cluster.restores.history)
            .find(|j| j.tenant_name == "restored")
            .map(|j| j.backup_dest.clone())
            .expect("the restore job")
    };
    assert!(dest.contains("s3://offsite/ob/data"), "{dest}");
    assert!(!dest.contains(ACCESS_KEY), "{dest}");
    assert!(
        !world.everything_written().await.contains(ACCESS_KEY),
        "a key leaked"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
