//! Beside ob-operator (docs/guide/ob-operator.md), on its real CRDs: a cluster reached through its
//! OBCluster and OBServers follows a moving observer without a second job or a false failure; the
//! wrong cluster behind an OBCluster is refused; a tenant an OBTenantBackupPolicy holds gets
//! nothing from us, whichever came first; two strategies in two namespaces on one cluster keep one
//! owner per tenant.

use ob_backup_operator::reason::Reason;
use ob_backup_operator::{
    api::{BackupStrategy, BackupTask, BackupTaskPhase},
    controller::status::StatusView,
    oboperator::Kind,
};
use obsim::model::default_cluster_id;
use serde_json::{Value, json};

use crate::support::{
    cluster::eventually,
    ob_operator::{installed, listen, ob_cluster, ob_server, policy, server_status, set_status},
    simulator::{self, connection_secret},
    world::{GIB, WAIT, World, strategy, strategy_backup_task},
};

/// A strategy over tenant1 reaching the cluster through OBCluster `ob_cluster`.
fn through(name: &str, ob_cluster: &str) -> Value {
    strategy(
        name,
        json!({"cluster": {"name": "obcluster", "obCluster": {"name": ob_cluster}}}),
    )
}

/// A world beside ob-operator's CRDs (none when they are not installed), with OBCluster `test` naming the
/// world's OceanBase cluster by its real name and id.
async fn beside(
    prefix: &str,
    tenants: &[&str],
    bytes: u64,
    speed: f64,
    cluster_id: i64,
) -> Option<World> {
    if !installed() {
        return None;
    }
    let world = World::new(prefix, tenants, bytes, speed).await?;
    ob_cluster(
        &world.admin,
        &world.namespace,
        "test",
        "obcluster",
        cluster_id,
    )
    .await;
    Some(world)
}

#[tokio::test]
async fn a_strategy_through_an_obcluster_follows_its_observer_to_a_new_address_mid_backup() {
    let Some(world) = beside(
        "obo-move",
        &["tenant1"],
        4 * GIB,
        5.0,
        default_cluster_id("obcluster"),
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    let first = listen(&world.node).await;
    ob_server(admin, ns, "test-zone1-a", "test", first, true).await;
    world.apply(through("moving", "test")).await;
    world.archiving("moving", "tenant1").await;
    world
        .apply(strategy_backup_task("now", "moving", "tenant1"))
        .await;
    // Held in progress until the observer has moved: its end can only be read at the new address.
    simulator::cluster(&world.node)
        .set_stalled("tenant1", true)
        .expect("stall");
    world
        .reaches::<BackupTask>("now", BackupTaskPhase::InProgress)
        .await;
    // The pod is recreated: a new IP, the old one gone (and its sessions with it).
    let second = listen(&world.node).await;
    set_status(
        admin,
        ns,
        Kind::ObServer,
        "test-zone1-a",
        server_status(second, true),
    )
    .await;
    assert!(obsim::sim::Simulator::remove_listener(&world.node, first).await);
    simulator::cluster(&world.node)
        .set_stalled("tenant1", false)
        .expect("unstall");
    world
        .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
        .await;
    let description = world.uid("BackupTask", "now").await;
    assert_eq!(
        simulator::jobs_with_description(&world.node, &description),
        1,
        "exactly one job"
    );
    world.done().await;
}

#[tokio::test]
async fn the_wrong_cluster_behind_an_obcluster_is_refused_and_sent_nothing() {
    let Some(world) = beside(
        "obo-wrong",
        &["tenant1"],
        GIB,
        30.0,
        default_cluster_id("obcluster") + 1,
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    let addr = listen(&world.node).await;
    let other_id = default_cluster_id("obcluster") + 1;
    ob_server(admin, ns, "test-zone1-a", "test", addr, false).await;
    world.apply(through("wrong", "test")).await;
    let status = world
        .stalled_on::<BackupStrategy>("wrong", Reason::WrongCluster)
        .await;
    let message = status.message().unwrap_or_default().to_string();
    assert!(
        message.contains(&format!("cluster_id {other_id}")) && message.contains("OBCluster test"),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        0,
        "no archiving started"
    );
    world.done().await;
}

#[tokio::test]
async fn a_tenant_an_obtenantbackuppolicy_holds_gets_nothing_whichever_came_first() {
    let Some(world) = beside(
        "obo-policy",
        &["tenant1", "tenant2"],
        GIB,
        30.0,
        default_cluster_id("obcluster"),
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    // The strategy reaches the cluster through a plain Secret: the policy's OBCluster names the same
    // OceanBase cluster by cluster_id, which is what counts.
    policy(admin, ns, "t1-backup", "test", "tenant1", "RUNNING").await;
    world.apply(strategy("before", json!({}))).await;
    let status = world
        .stalled_on::<BackupStrategy>("before", Reason::TenantManagedByObOperator)
        .await;
    let message = status.message().unwrap_or_default().to_string();
    assert!(
        message.contains(&format!("OBTenantBackupPolicy {ns}/t1-backup")),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        0,
        "nothing sent"
    );
    // The policy stops (ob-operator says STOPPED): the tenant is free.
    set_status(
        admin,
        ns,
        Kind::ObTenantBackupPolicy,
        "t1-backup",
        json!({"status": "STOPPED"}),
    )
    .await;
    world.archiving("before", "tenant1").await;
    // A policy that appears after the strategy took tenant2 stops the strategy from driving it too.
    world
        .apply(strategy("later", json!({"tenants": ["tenant2"]})))
        .await;
    world.archiving("later", "tenant2").await;
    policy(admin, ns, "t2-backup", "test", "tenant2", "PAUSED").await;
    world
        .stalled_on::<BackupStrategy>("later", Reason::TenantManagedByObOperator)
        .await;
    // Counted for the chart's OBBackupTenantContested: "later" only, "before" being free again.
    let contested =
        r#"obbackup_objects_stalled{kind="BackupStrategy",reason="TenantManagedByObOperator"}"#;
    crate::support::cluster::eventually(
        "the contest counted",
        std::time::Duration::from_secs(40),
        || async { (world.operator.metric(contested) == Some(1.0)).then_some(()) },
    )
    .await;
    world.done().await;
}

#[tokio::test]
async fn two_strategies_in_two_namespaces_on_one_cluster_keep_one_owner_per_tenant() {
    let Some(mut world) = World::new("obo-twons", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    let other = world.plane.namespace("obo-twons-b").await;
    // Another team's Secret for the same cluster, under another name.
    connection_secret(&world.admin, &other, "sys-login", &world.node).await;
    world.stop_operator().await;
    let both = format!("{},{other}", world.namespace);
    let _operator = world.plane.start_operator(
        &both,
        &world.namespace,
        &format!("{}-both", world.namespace),
    );
    world.apply(strategy("first", json!({}))).await;
    world.archiving("first", "tenant1").await;
    let mut second = strategy(
        "second",
        json!({"cluster": {"name": "prod-copy", "connectionSecret": "sys-login"}}),
    );
    second["metadata"]["namespace"] = json!(other);
    crate::support::cluster::apply(&world.admin, &other, &second)
        .await
        .expect("applied");
    let message = eventually("the second strategy refused", WAIT, || async {
        let api: kube::Api<BackupStrategy> = kube::Api::namespaced(world.admin.clone(), &other);
        let status = api.get_opt("second").await.ok()??.status?;
        let stalled = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Stalled" && c.status == "True")?;
        (stalled.reason == "TenantClaimed").then(|| stalled.message.clone())
    })
    .await;
    assert!(
        message.contains(&format!("BackupStrategy {}/first", world.namespace)),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        1,
        "one archive round, the first's"
    );
    crate::support::cluster::delete_namespace(&world.admin, &other).await;
    world.done().await;
}
