//! Every tenant of a cluster (docs/guide/cluster-overview.md): a cluster with three tenants and a strategy
//! over one of them, ignoring another, reports the third as "No Backup Strategy" in its status and as a
//! metric, shows its own tenant In Progress, and stops reporting the third once a strategy covers it.

use crate::support::{
    cluster::eventually,
    world::{GIB, WAIT, World, strategy},
};
use serde_json::{Value, json};

const UNCOVERED: &str = "obbackup_tenant_without_strategy";

fn without_strategy(status: &Value) -> Vec<String> {
    status["tenantsWithoutStrategy"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_tenant_no_strategy_covers_is_reported_once_until_one_does() {
    let tenants = ["tenant1", "tenant2", "sandbox"];
    let Some(world) = World::new("coverage", &tenants, GIB, 10.0).await else {
        return;
    };
    world
        .apply(strategy("main", json!({"ignoredTenants": ["SANDBOX"]})))
        .await;
    let status = eventually("tenant2 reported without a strategy", WAIT, || async {
        let status = world.status("BackupStrategy", "main").await;
        let archiving = status["tenants"][0]["status"] == "InProgress";
        (archiving && without_strategy(&status) == ["tenant2"]).then_some(status)
    })
    .await;
    assert_eq!(status["tenants"][0]["method"], "Physical");
    let labels = "tenant=\"tenant2\"";
    let reported = eventually("the metric of tenant2", WAIT, || async {
        world.operator.sample_with(UNCOVERED, labels)
    })
    .await;
    assert_eq!(reported, 1.0);
    let series = world.operator.samples(UNCOVERED);
    assert_eq!(series.len(), 1, "only tenant2, once: {series:?}");

    // A second strategy takes tenant2: nothing is left to report, and the series goes.
    world
        .apply(strategy(
            "second",
            json!({"tenants": ["tenant2"], "dataDestination": {"uri": "file:///backup/second/data"}}),
        ))
        .await;
    eventually("no tenant left without a strategy", WAIT, || async {
        let status = world.status("BackupStrategy", "main").await;
        let gone = world.operator.samples(UNCOVERED).is_empty();
        (without_strategy(&status).is_empty() && gone).then_some(())
    })
    .await;
    let second = world.status("BackupStrategy", "second").await;
    assert!(
        without_strategy(&second).is_empty(),
        "only the first strategy of the cluster reports: {second}"
    );
    world.done().await;
}
