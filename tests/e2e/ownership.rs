//! One owner per tenant side effect (issue 13, defects 1, 2 and 5), on the real control plane with obsim:
//! objects that would fight a strategy over a tenant's archiving or data backup destination are Stalled
//! naming the owner and send nothing; a strategy's spec change reaches its children at once.

use ob_backup_operator::reason::Reason;
use ob_backup_operator::{
    api::{BackupStrategy, BackupTask, BackupTaskPhase, LogBackup, backup_task::BackupMode},
    controller::status::StatusView,
};
use std::time::Duration;

use crate::support::{
    cluster::eventually,
    simulator::{self, connection_secret},
    world::{GIB, WAIT, World, cluster, condition},
};
use serde_json::{Value, json};

fn strategy(name: &str, tenants: &[&str], secret: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": name},
        "spec": {
            "cluster": {"name": "obcluster", "connectionSecret": secret},
            "tenants": tenants,
            "dataDestination": {"uri": format!("file:///backup/{name}/data")},
            "logDestination": {"uri": format!("file:///backup/{name}/archive")},
            "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
        },
    })
}

#[tokio::test]
async fn a_log_backup_cannot_fight_the_strategy_over_archiving() {
    let Some(world) = World::new("archiveowner", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    world.apply(strategy("demo", &["tenant1"], "ob")).await;
    world.archiving("demo", "tenant1").await;
    // Before the fix this LogBackup stopped the strategy's archiving and the two flipped it on and off.
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": "stop-it"},
            "spec": {
                "cluster": cluster(),
                "logDestination": {"uri": "file:///backup/elsewhere/archive"},
                "tenant": "tenant1",
                "desiredState": "Stopped",
            },
        }))
        .await;
    let status = world
        .stalled_on::<LogBackup>("stop-it", Reason::ArchivingOwned)
        .await;
    assert!(
        status
            .message()
            .is_some_and(|m| m.contains("BackupStrategy demo")),
        "{status:?}"
    );
    let version = |o: Option<kube::api::DynamicObject>| o.and_then(|o| o.metadata.resource_version);
    let before = (
        simulator::rounds_started(&world.node, "tenant1"),
        version(world.get("LogBackup", "stop-it").await),
    );
    // A window long enough for several fights (one took ~2 s) and for the 30 s recheck.
    tokio::time::sleep(Duration::from_secs(35)).await;
    let after = (
        simulator::rounds_started(&world.node, "tenant1"),
        version(world.get("LogBackup", "stop-it").await),
    );
    assert_eq!(
        before, after,
        "no archive round started, no status rewritten"
    );
    let (archiving, dest) = {
        let cluster_state = simulator::cluster(&world.node);
        let tenant = cluster_state.tenant("tenant1").expect("tenant1");
        (
            tenant.archive.log_mode_archive,
            tenant.archive.dest.as_ref().map(|d| d.path.clone()),
        )
    };
    assert!(archiving, "archiving stays on");
    assert_eq!(dest.as_deref(), Some("file:///backup/demo/archive/tenant1"));
    let owner = world.status("LogBackup", "demo-tenant1-log").await;
    assert_eq!(owner["phase"], "InProgress", "{owner}");
    world.done().await;
}

#[tokio::test]
async fn a_task_through_a_strategy_that_does_not_own_the_tenant_sends_nothing() {
    let Some(world) = World::new("backupowner", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    world.apply(strategy("owner", &["tenant1"], "ob")).await;
    world.archiving("owner", "tenant1").await;
    world.apply(strategy("rogue", &["tenant1"], "ob")).await;
    world
        .stalled_on::<BackupStrategy>("rogue", Reason::TenantClaimed)
        .await;
    // The contest is counted for the chart's OBBackupTenantContested (the caches are counted every 15 s).
    let contested = r#"obbackup_objects_stalled{kind="BackupStrategy",reason="TenantClaimed"}"#;
    crate::support::cluster::eventually("the contest counted", Duration::from_secs(40), || async {
        (world.operator.metric(contested) == Some(1.0)).then_some(())
    })
    .await;
    let through_rogue = json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": "through-rogue"},
        "spec": {"strategyRef": {"name": "rogue"}, "tenant": "tenant1", "mode": "Full"},
    });
    world.apply(through_rogue).await;
    let mut elsewhere =
        crate::support::world::backup_task("elsewhere", "tenant1", BackupMode::Full);
    if let Some(destination) = elsewhere.spec.data_destination.as_mut() {
        destination.uri = "file:///backup/elsewhere/data".into();
    }
    world.apply(elsewhere).await;
    let status = world
        .stalled_on::<BackupTask>("through-rogue", Reason::TenantOwnedElsewhere)
        .await;
    assert!(
        status
            .message()
            .is_some_and(|m| m.contains("belongs to BackupStrategy owner, not rogue")),
        "{status:?}"
    );
    world
        .stalled_on::<BackupTask>("elsewhere", Reason::DestinationOwned)
        .await;
    // The owner's own "Back up Now" still runs, to the owner's destination.
    world
        .apply(crate::support::world::strategy_backup_task(
            "now", "owner", "tenant1",
        ))
        .await;
    world
        .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
        .await;
    for task in ["through-rogue", "elsewhere"] {
        let uid = world.uid("BackupTask", task).await;
        assert_eq!(
            simulator::jobs_with_description(&world.node, &uid),
            0,
            "{task} made no backup job"
        );
        assert_eq!(world.status("BackupTask", task).await["phase"], "Pending");
    }
    let dest = simulator::cluster(&world.node)
        .tenant("tenant1")
        .and_then(|t| t.archive.data_backup_dest.clone());
    assert_eq!(dest.as_deref(), Some("file:///backup/owner/data/tenant1"));
    world.done().await;
}

#[tokio::test]
async fn children_follow_their_strategy_to_another_connection_secret_at_once() {
    let Some(world) = World::new("followparent", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    // A second Secret for the same cluster, and a third that reaches nothing.
    connection_secret(&world.admin, &world.namespace, "ob-again", &world.node).await;
    simulator::secret(
        &world.admin,
        &world.namespace,
        "nowhere",
        &[("host", "127.0.0.1"), ("port", "1"), ("password", "x")],
    )
    .await;
    world
        .apply(strategy("moving", &["tenant1"], "nowhere"))
        .await;
    eventually("the LogBackup sees no cluster", WAIT, || async {
        let status = world.status("LogBackup", "moving-tenant1-log").await;
        (condition(&status, "ClusterReachable").as_deref() == Some("False")).then_some(())
    })
    .await;
    // Before the fix the LogBackup kept the unreachable Secret's state until something touched it (its own
    // recheck is ten minutes).
    world
        .patch_spec(
            "BackupStrategy",
            "moving",
            json!({"cluster": {"name": "obcluster", "connectionSecret": "ob-again"}}),
        )
        .await;
    eventually(
        "the LogBackup archiving through the new Secret",
        Duration::from_secs(60),
        || async {
            let status = world.status("LogBackup", "moving-tenant1-log").await;
            (status["phase"] == "InProgress"
                && condition(&status, "ClusterReachable").as_deref() == Some("True"))
            .then_some(())
        },
    )
    .await;
    world.done().await;
}
