//! The strategy's verification of its second copy, on a real S3 server: the sets completed before
//! `secondBackup` was set are copied by the first pass; an object damaged on the second destination is
//! found by a later pass and copied again, with a Warning event and a metric, and never touches the first.

use ob_backup_operator::api::BackupStrategy;
use serde_json::json;

use crate::support::{
    cluster::eventually,
    s3::{ACCESS_ID, ACCESS_KEY, S3Server},
    second::backed_up,
    simulator,
    world::{GIB, WAIT, World, strategy},
};

const BUCKET: &str = "offsite";

#[tokio::test]
async fn a_pass_copies_older_sets_and_repairs_an_object_damaged_on_the_copy() {
    let Some(s3) = S3Server::start(BUCKET) else {
        return;
    };
    let Some((world, share)) =
        World::with_file_share("second-verify", &["tenant1"], GIB, 30.0).await
    else {
        return;
    };
    simulator::secret(
        &world.admin,
        &world.namespace,
        "offsite-keys",
        &[("accessId", ACCESS_ID), ("accessKey", ACCESS_KEY)],
    )
    .await;
    // A set taken before the strategy had a second backup.
    world.apply(strategy("late", json!({}))).await;
    world.archiving("late", "tenant1").await;
    let (_, set) = backed_up(&world, "before", "late").await;

    let second =
        |path: &str| json!({"uri": s3.uri(BUCKET, path), "credentialsSecret": "offsite-keys"});
    world
        .apply(strategy(
            "late",
            json!({"secondBackup": {
                "dataDestination": second("ob/data"),
                "logDestination": second("ob/archive"),
                "verifyEvery": "1m",
            }}),
        ))
        .await;
    let first = share.join(format!("backup/late/data/tenant1/{set}"));
    let copied = s3.file(BUCKET, &format!("ob/data/tenant1/{set}"));
    let overview = eventually("the first pass to copy the older set", 2 * WAIT, || async {
        let overview = world
            .read::<BackupStrategy>("late")
            .await?
            .status?
            .second_backup?;
        (overview.last_verified_at.is_some() && overview.verified_sets >= Some(1))
            .then_some(overview)
    })
    .await;
    assert_eq!(overview.repaired_objects, None, "nothing was damaged yet");
    // The older set, found whole by the pass, and the archive copied past it: a restore from the copy
    // alone reaches from where the tenant's own window starts, never past the first destination.
    let (own, copy) = eventually("a recoverable window on the copy", 2 * WAIT, || async {
        let status = world.read::<BackupStrategy>("late").await?.status?;
        let own = status.tenants.first()?.recoverable_windows.first()?.clone();
        let copy = status.second_backup?.tenants.into_iter().next()?;
        (!copy.recoverable_windows.is_empty()).then_some((own, copy))
    })
    .await;
    assert_eq!(copy.name, "tenant1");
    assert_eq!(copy.recoverable_windows[0].from, own.from);
    assert!(
        copy.recoverable_windows[0].to.0 <= own.to.0,
        "{copy:?} past {own:?}"
    );
    assert!(copy.data_backup_bytes > Some(0), "{copy:?}");
    // The metric follows within the same reconcile (set just after the status is written).
    eventually("the copy's window as a metric", WAIT, || async {
        world.operator.sample_with(
            "obbackup_second_recoverable_window_end_timestamp_seconds",
            "tenant=\"tenant1\"",
        )
    })
    .await;
    let data = "logstream_1/major_data/macro_block_data.0";
    let good = std::fs::read(first.join(data)).expect("the first destination's object");
    assert_eq!(std::fs::read(copied.join(data)).expect("the copy"), good);

    // Bit rot on the second destination, same size: a later pass finds it and copies it again.
    let mut rotten = good.clone();
    rotten[good.len() / 2] ^= 0xff;
    std::fs::write(copied.join(data), &rotten).expect("damage the copy");
    let overview = eventually("a pass to repair the copy", 3 * WAIT, || async {
        let overview = world
            .read::<BackupStrategy>("late")
            .await?
            .status?
            .second_backup?;
        (overview.repaired_objects >= Some(1)).then_some(overview)
    })
    .await;
    assert_eq!(overview.repaired_objects, Some(1));
    assert_eq!(std::fs::read(copied.join(data)).expect("the copy"), good);
    assert_eq!(
        std::fs::read(first.join(data)).expect("first"),
        good,
        "the first destination is never written"
    );
    let written = world.everything_written().await;
    assert!(written.contains("SecondCopyRepaired"), "no Warning event");
    assert!(
        !written.contains(ACCESS_KEY),
        "the second destination's key leaked"
    );
    let repaired = world.operator.sample_with(
        "obbackup_second_copy_repaired_objects_total",
        "tenant=\"tenant1\"",
    );
    assert_eq!(repaired, Some(1.0));
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
