//! Restore drills end to end (docs/guide/restore-drills.md): the operator binary on the real control plane,
//! on a simulated clock, drills a strategy's tenant in obsim on a schedule — restores it into a scratch
//! tenant, logs in as the tenant's own user, runs the checks (the heartbeat measures the data's freshness),
//! drops the scratch tenant and its pool — and reports the verdict on the task, the strategy and as metrics.

use crate::support::typed::condition_of;
use crate::support::{
    cluster::eventually,
    recovery::{backed_up, restores_of},
    simulator,
    world::{GIB, WAIT, World, cluster},
};
use serde_json::{Value, json};

/// The source tenant's user the drill logs in as, and its Secret.
async fn drill_user(world: &World) {
    {
        let mut cluster = simulator::cluster(&world.node);
        let tenant = cluster
            .tenants
            .iter_mut()
            .find(|t| t.name == "tenant1")
            .expect("tenant1");
        tenant.users.insert("app".into(), "app-password".into());
    }
    simulator::secret(
        &world.admin,
        &world.namespace,
        "tenant1-app",
        &[("user", "app"), ("password", "app-password")],
    )
    .await;
}

/// The strategy `src` of [`backed_up`], drilled every simulated minute.
async fn drilled(world: &World, point: &str, max_lag: &str) {
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "src"},
            "spec": {
                "cluster": cluster(),
                "tenants": ["tenant1"],
                "dataDestination": {"uri": "file:///backup/src/data"},
                "logDestination": {"uri": "file:///backup/src/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
                "restoreDrill": {
                    "schedule": "* * * * *", "timeZone": "UTC", "point": point,
                    "target": {"resources": {"unit": {"maxCpu": 1, "memorySize": "2G"}, "zones": ["zone1"]}},
                    "credentialsSecret": "tenant1-app",
                    "checks": [
                        {"name": "heartbeat", "query": "SELECT COUNT(*) FROM HEARTBEAT", "expect": "1"},
                    ],
                    "freshness": {"query": "SELECT MAX(TS) FROM HEARTBEAT", "maxLag": max_lag},
                    "timeout": "2h",
                    "historyLimit": 2,
                },
            },
        }))
        .await;
}

/// The first drill of the strategy to end, as listed.
async fn first_ended_drill(world: &World) -> (String, Value) {
    eventually("a drill to end", WAIT * 3, || async {
        world
            .list("RecoveryTask")
            .await
            .into_iter()
            .find_map(|task| {
                let status = task.data["status"].clone();
                let ended = ["Completed", "Failed"].contains(&status["phase"].as_str()?);
                let name = task.metadata.name.clone()?;
                (ended && task.data["spec"]["drill"].is_object()).then_some((name, status))
            })
    })
    .await
}

/// Whether obsim holds a tenant or a pool a drill made.
fn scratch_left(world: &World) -> Vec<String> {
    let cluster = simulator::cluster(&world.node);
    let tenants = cluster
        .tenants
        .iter()
        .map(|t| t.name.clone())
        .filter(|n| n.starts_with("drill_"));
    let pools = cluster
        .restores
        .pools
        .iter()
        .map(|p| p.name.clone())
        .filter(|n| n.starts_with("obrt_src_tenant1_drill"));
    tenants.chain(pools).collect()
}

#[tokio::test]
async fn a_scheduled_drill_restores_checks_freshness_and_drops_its_scratch_tenant() {
    let Some(world) = World::new("drill", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    drilled(&world, "Latest", "5s").await;
    let (name, status) = first_ended_drill(&world).await;
    assert_eq!(status["phase"], "Completed", "{status}");
    assert_eq!(status["source"], "Drill");
    let drill = &status["drill"];
    assert_eq!(drill["verdict"], "Passed", "{drill}");
    assert_eq!(drill["dropped"], true);
    let checks: Vec<(&str, bool)> = drill["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?, c["passed"].as_bool()?)))
        .collect();
    assert_eq!(
        checks,
        vec![("opens", true), ("heartbeat", true), ("freshness", true)]
    );
    // obsim's restored heartbeat is the last whole second at or before the point restored to.
    let lag = drill["lagSeconds"].as_i64().expect("a measured lag");
    assert!((0..=1).contains(&lag), "lag {lag}");
    assert!(drill["dataAsOf"].is_string() && status["recoveryTime"].is_string());
    let scratch = world
        .get("RecoveryTask", &name)
        .await
        .and_then(|t| {
            t.data["spec"]["target"]["tenant"]
                .as_str()
                .map(String::from)
        })
        .expect("the scratch tenant");
    assert_eq!(restores_of(&world, &scratch), 1, "one restore per drill");
    eventually("nothing of the drills left once they end", WAIT, || async {
        let running = world.list("RecoveryTask").await.into_iter().any(|t| {
            !["Completed", "Failed"].contains(&t.data["status"]["phase"].as_str().unwrap_or(""))
        });
        (!running && scratch_left(&world).is_empty()).then_some(())
    })
    .await;

    let strategy = eventually("the strategy to show the passed drill", WAIT, || async {
        let status = world.status("BackupStrategy", "src").await;
        status["drills"][0]["lastPassed"]["task"]
            .is_string()
            .then_some(status)
    })
    .await;
    assert!(strategy["lastPassedDrillTime"].is_string(), "{strategy}");
    let conditions: Vec<_> =
        serde_json::from_value(strategy["conditions"].clone()).unwrap_or_default();
    assert_eq!(condition_of(&conditions, "RestoreVerified"), Some("True"));
    let metrics = world
        .operator
        .get("/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default();
    for series in [
        "obbackup_restore_drill_last_passed{",
        "obbackup_restore_drill_last_passed_timestamp_seconds{",
        "obbackup_restore_drill_lag_seconds{",
        "obbackup_restore_drill_max_age_seconds{",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}
