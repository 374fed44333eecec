//! A second copy is the strategy's own business: what is wrong with it (its Secret missing, a directory
//! where other backups live) shows on `SecondBackupReady` and on the copies' statuses, never stops the first
//! backups or archiving, and never writes over backups that are not its own.

use std::path::Path;

use ob_backup_operator::api::{
    BackupStrategy, BackupTask, BackupTaskPhase, LogBackup, LogBackupPhase, StrategyPhase,
    backup_task::BackupMode, common::SecondCopyPhase,
};
use serde_json::json;

use crate::support::{
    cluster::eventually,
    s3::{ACCESS_ID, ACCESS_KEY, S3Server},
    second::{backed_up, copied},
    simulator,
    world::{GIB, WAIT, World, backup_task, log_backup, strategy},
};

const BUCKET: &str = "owners";

/// The strategy's `SecondBackupReady` condition once it is False: (reason, message).
async fn second_not_ready(world: &World, name: &str) -> (String, String) {
    eventually("SecondBackupReady to turn False", WAIT, || async {
        let status = world.read::<BackupStrategy>(name).await?.status?;
        let condition = status
            .conditions
            .iter()
            .find(|c| c.type_ == "SecondBackupReady" && c.status == "False")?;
        Some((condition.reason.clone(), condition.message.clone()))
    })
    .await
}

/// The second copy of `task` once it waits, with its message.
async fn copy_waits(world: &World, task: &str) -> String {
    eventually("the second copy to wait", WAIT, || async {
        let copy = world
            .read::<BackupTask>(task)
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(SecondCopyPhase::Pending)).then_some(copy.message?)
    })
    .await
}

#[tokio::test]
async fn a_second_copy_without_its_secret_holds_up_neither_archiving_nor_the_first_backup() {
    let Some(s3) = S3Server::start(BUCKET) else {
        return;
    };
    let Some((world, share)) =
        World::with_file_share("second-secret", &["tenant1"], GIB, 30.0).await
    else {
        return;
    };
    let second =
        |path: &str| json!({"uri": s3.uri(BUCKET, path), "credentialsSecret": "late-keys"});
    world
        .apply(strategy(
            "lone",
            json!({"secondBackup": {"dataDestination": second("ob/data"), "logDestination": second("ob/archive")}}),
        ))
        .await;
    world.archiving("lone", "tenant1").await;
    let (reason, message) = second_not_ready(&world, "lone").await;
    assert_eq!(reason, "SecretNotFound", "{message}");
    assert!(message.contains("late-keys"), "{message}");
    backed_up(&world, "now", "lone").await;
    let waits = copy_waits(&world, "now").await;
    assert!(
        waits.contains("BackupStrategy lone") && waits.contains("late-keys"),
        "{waits}"
    );
    let phase = world
        .read::<BackupStrategy>("lone")
        .await
        .and_then(|s| s.status?.phase);
    assert_ne!(
        phase,
        Some(StrategyPhase::Stalled),
        "the strategy itself is fine"
    );
    // The Secret arrives: the copy follows by itself.
    simulator::secret(
        &world.admin,
        &world.namespace,
        "late-keys",
        &[("accessId", ACCESS_ID), ("accessKey", ACCESS_KEY)],
    )
    .await;
    copied(&world, "now").await;
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// Every file under `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    crate::support::second::files(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).expect("a file");
            (f, bytes)
        })
        .collect()
}

/// Another tenant's ad-hoc backups live exactly where the strategy's second copy of tenant1 would go: the
/// strategy says whose they are and copies nothing; its own first backup completes; their files (format file
/// included) stay as they were.
#[tokio::test]
async fn a_second_copy_over_another_tenants_backups_is_refused_and_leaves_them_alone() {
    let Some((world, share)) =
        World::with_file_share("second-owner", &["tenant1", "tenant2"], GIB, 30.0).await
    else {
        return;
    };
    let theirs = "file:///backup/offsite/tenant1";
    let mut archive = log_backup("t2-log", "tenant2");
    archive.spec.log_destination = Some(ob_backup_operator::api::common::StorageDestination {
        uri: "file:///backup/t2/archive".into(),
        credentials_secret: None,
    });
    world.apply(archive).await;
    world
        .reaches::<LogBackup>("t2-log", LogBackupPhase::InProgress)
        .await;
    let mut adhoc = backup_task("adhoc", "tenant2", BackupMode::Full);
    adhoc.spec.data_destination = Some(ob_backup_operator::api::common::StorageDestination {
        uri: theirs.into(),
        credentials_secret: None,
    });
    world.apply(adhoc).await;
    world
        .reaches::<BackupTask>("adhoc", BackupTaskPhase::Completed)
        .await;
    let their_dir = share.join("backup/offsite/tenant1");
    let before = contents(&their_dir);
    assert!(
        before.iter().any(|(f, _)| f == "format.obbak"),
        "{before:?}"
    );

    let offsite = |path: &str| json!({"uri": format!("file:///backup/offsite{path}")});
    world
        .apply(strategy(
            "daily",
            json!({"secondBackup": {"dataDestination": offsite(""), "logDestination": offsite("-archive")}}),
        ))
        .await;
    world.archiving("daily", "tenant1").await;
    let (reason, message) = second_not_ready(&world, "daily").await;
    assert_eq!(reason, "StorageOwnedElsewhere", "{message}");
    assert!(
        message.contains("tenant2") && message.contains("the same directory as"),
        "{message}"
    );
    backed_up(&world, "now", "daily").await;
    let waits = copy_waits(&world, "now").await;
    assert!(waits.contains("BackupStrategy daily"), "{waits}");
    assert_eq!(
        contents(&their_dir),
        before,
        "tenant2's backups were touched"
    );
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
