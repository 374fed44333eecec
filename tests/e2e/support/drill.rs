//! A restore drill's ingredients, shared by the drill tests and the crash matrix: the drilled tenant's user,
//! a strategy with a drill over tenant1 (backed up by [`super::recovery::backed_up`]), and the invariant
//! every drill keeps: one restore per drill, nothing of an ended drill left in OceanBase.

use serde_json::{Value, json};

use super::{
    cluster::eventually,
    recovery::restores_of,
    simulator,
    world::{WAIT, World, cluster},
};

/// Gives tenant1 the user `app` the drill logs in as, and its Secret `tenant1-app`.
pub async fn drill_user(world: &World) {
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

/// The strategy `src` of `backed_up`, drilled on `schedule` (UTC) to `point`, checking the heartbeat; over
/// `tenants` (`[]`: every tenant of the cluster).
pub async fn drilled(world: &World, schedule: &str, point: &str, tenants: Value) {
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "src"},
            "spec": {
                "cluster": cluster(),
                "tenants": tenants,
                "dataDestination": {"uri": "file:///backup/src/data"},
                "logDestination": {"uri": "file:///backup/src/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
                "restoreDrill": {
                    "schedule": schedule, "timeZone": "UTC", "point": point,
                    "target": {"resources": {"unit": {"maxCpu": 1, "memorySize": "2G"}, "zones": ["zone1"]}},
                    "credentialsSecret": "tenant1-app",
                    "checks": [
                        {"name": "heartbeat", "query": "SELECT COUNT(*) FROM HEARTBEAT", "expect": "1"},
                    ],
                    "freshness": {"query": "SELECT MAX(TS) FROM HEARTBEAT", "maxLag": "5s"},
                    "timeout": "2h",
                    "historyLimit": 2,
                },
            },
        }))
        .await;
}

/// The cron expression of the next whole minute of real time at least `lead` seconds away (UTC): a drill
/// that runs once, soon.
pub fn next_minute(lead: i64) -> String {
    next_minute_at(lead).0
}

/// [`next_minute`], and the time it names.
pub fn next_minute_at(lead: i64) -> (String, jiff::Timestamp) {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(lead + 60);
    let zoned = at.to_zoned(jiff::tz::TimeZone::UTC);
    let cron = format!("{} {} * * *", zoned.minute(), zoned.hour());
    let start = jiff::Timestamp::from_second(at.as_second() - at.as_second().rem_euclid(60))
        .expect("a minute");
    (cron, start)
}

/// A drill of the strategy as listed: its name, scratch tenant, status.
pub struct Listed {
    pub name: String,
    pub scratch: String,
    pub status: Value,
}

impl Listed {
    pub fn ended(&self) -> bool {
        ["Completed", "Failed"].contains(&self.status["phase"].as_str().unwrap_or(""))
    }
}

/// The strategy's drills.
pub async fn drills(world: &World) -> Vec<Listed> {
    world
        .list("RecoveryTask")
        .await
        .into_iter()
        .filter(|t| t.data["spec"]["drill"].is_object())
        .filter_map(|t| {
            Some(Listed {
                name: t.metadata.name.clone()?,
                scratch: t.data["spec"]["target"]["tenant"].as_str()?.to_string(),
                status: t.data["status"].clone(),
            })
        })
        .collect()
}

/// The first drill to end.
pub async fn first_ended(world: &World) -> Listed {
    eventually("a drill to end", WAIT * 3, || async {
        drills(world).await.into_iter().find(Listed::ended)
    })
    .await
}

/// What obsim holds of a drill: its scratch tenant, and pools named after its task.
fn left_of(world: &World, drill: &Listed) -> Vec<String> {
    let cluster = simulator::cluster(&world.node);
    let pool = format!("obrt_{}_", drill.name.replace('-', "_"));
    let tenant = cluster.tenant(&drill.scratch).map(|t| t.name.clone());
    let pools = cluster
        .restores
        .pools
        .iter()
        .map(|p| p.name.clone())
        .filter(|n| n.starts_with(&pool));
    tenant.into_iter().chain(pools).collect()
}

/// Waits until every drill listed has ended, then checks: at most one restore per drill, and nothing of an
/// ended drill left (its scratch tenant, its pool). Returns the drills.
pub async fn every_drill_clean(world: &World, context: &str) -> Vec<Listed> {
    let drills = eventually("every drill to end", WAIT * 3, || async {
        let drills = drills(world).await;
        (!drills.is_empty() && drills.iter().all(Listed::ended)).then_some(drills)
    })
    .await;
    for drill in &drills {
        let restores = restores_of(world, &drill.scratch);
        assert!(
            restores <= 1,
            "{context}: {} restores for {}",
            restores,
            drill.name
        );
    }
    eventually(
        &format!("{context}: nothing of the ended drills left"),
        WAIT,
        || async {
            let left: Vec<String> = drills.iter().flat_map(|d| left_of(world, d)).collect();
            left.is_empty().then_some(())
        },
    )
    .await;
    drills
}
