//! A destination that breaks after it was set (issue 37, item 7): a strategy backs up to a real S3 server
//! (versitygw); once `DestinationReady` is True, its bucket is taken away behind the S3 API. The operator's
//! periodic destination check (`--destination-check-seconds`, 10 s here) turns `DestinationReady` False with
//! a Warning event saying what to fix, without any backup running; the bucket back, it turns True again
//! (docs/guide/strategies.md).

use kube::api::ListParams;
use ob_backup_operator::api::BackupStrategy;
use serde_json::json;

use crate::support::{
    cluster::{api_for, eventually},
    s3::{ACCESS_ID, ACCESS_KEY, S3Server},
    simulator,
    world::{GIB, WAIT, World, strategy},
};

const READY: &str = "DestinationReady";

/// The strategy's `DestinationReady` (status, message).
async fn destination_ready(world: &World) -> Option<(String, String)> {
    let status = world.read::<BackupStrategy>("ons3").await?.status?;
    let said = status.conditions.iter().find(|c| c.type_ == READY)?;
    Some((said.status.clone(), said.message.clone()))
}

/// Waits until `DestinationReady` is `wanted`; its message.
async fn turns(world: &World, wanted: &str) -> String {
    eventually(&format!("{READY}={wanted}"), WAIT, || async {
        let (status, message) = destination_ready(world).await?;
        (status == wanted).then_some(message)
    })
    .await
}

/// The notes of the Warning events `DestinationUnusable` about the strategy.
async fn warnings(world: &World) -> Vec<String> {
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
        .iter()
        .filter(|e| e.data["reason"] == "DestinationUnusable" && e.data["type"] == "Warning")
        .filter(|e| e.data["regarding"]["name"] == "ons3")
        .filter_map(|e| e.data["note"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_bucket_taken_away_after_the_strategy_is_ready_turns_destination_ready_false_then_true() {
    let Some(s3) = S3Server::start("first") else {
        return;
    };
    let Some((mut world, share)) =
        World::with_file_share("dest-recheck", &["tenant1"], GIB, 30.0).await
    else {
        return;
    };
    world
        .operator_args
        .extend(["--destination-check-seconds".to_string(), "10".to_string()]);
    world.restart_operator("b");
    simulator::secret(
        &world.admin,
        &world.namespace,
        "keys",
        &[("accessId", ACCESS_ID), ("accessKey", ACCESS_KEY)],
    )
    .await;
    let on = |path: &str| json!({"uri": s3.uri("first", path), "credentialsSecret": "keys"});
    world
        .apply(strategy(
            "ons3",
            json!({"dataDestination": on("ob/data"), "logDestination": on("ob/archive")}),
        ))
        .await;
    world.archiving("ons3", "tenant1").await;
    turns(&world, "True").await;
    assert!(warnings(&world).await.is_empty());

    // The bucket goes (versitygw's POSIX backend: a bucket is a directory). No backup runs meanwhile.
    let away = s3.root.join("first-away");
    std::fs::rename(s3.root.join("first"), &away).expect("the bucket taken away");
    let message = turns(&world, "False").await;
    assert!(
        message.starts_with(
            "tenant tenant1: the data destination s3://first/ob/data/tenant1 cannot be used"
        ),
        "{message}"
    );
    assert!(message.contains("credentials Secret"), "{message}");
    let warned = eventually("a Warning event", WAIT, || async {
        let notes = warnings(&world).await;
        (!notes.is_empty()).then_some(notes)
    })
    .await;
    assert_eq!(warned[0], message, "the event says what the condition says");
    assert_eq!(
        simulator::backup_jobs(&world.node),
        0,
        "found without a backup failing"
    );

    // The bucket back: True again at the next check.
    std::fs::rename(&away, s3.root.join("first")).expect("the bucket back");
    let fixed = turns(&world, "True").await;
    assert_eq!(
        fixed,
        "every tenant backs up to the strategy's destinations"
    );
    let written = world.everything_written().await;
    assert!(!written.contains(ACCESS_KEY), "a key leaked");
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
