//! BackupStrategy end to end on a simulated clock (SPEC §2.2, issue 6): obsim and the operator both run an
//! hour of simulated time per real second, so a week of schedules, an operator outage, a pause and the
//! delete policy's hourly cleanups happen in a few minutes on the real control plane.

use std::collections::BTreeSet;

use crate::support::{
    cluster::{api_for, eventually},
    simulator,
    world::{GIB, WAIT, World, cluster, condition},
};
use jiff::{SignedDuration, Timestamp, ToSpan, civil::Weekday};
use kube::api::ListParams;
use serde_json::{Value, json};

/// Simulated seconds per real second.
const SPEED: f64 = 3600.0;
const TENANTS: [&str; 3] = ["tenant1", "tenant2", "tenant3"];

/// A Saturday 16:00 UTC in the future: the simulated week starts there, nine hours before the first
/// scheduled run and fifteen after the last one it could have missed.
fn saturday_afternoon() -> Timestamp {
    let mut day = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date() + 1.day();
    while day.weekday() != Weekday::Saturday {
        day += 1.day();
    }
    day.at(16, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("UTC")
        .timestamp()
}

/// `days` days and `hours` hours after `from`.
fn after(from: Timestamp, days: i64, hours: i64) -> Timestamp {
    from + SignedDuration::from_hours(days * 24 + hours)
}

/// The strategy's BackupTasks as (tenant, mode, scheduled-at), and their phases.
async fn scheduled(
    world: &World,
    strategy: &str,
) -> (BTreeSet<(String, String, Timestamp)>, Vec<Value>) {
    let (api, _) = api_for(
        &world.admin,
        &world.namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask"}),
    );
    let tasks = api
        .list(&ListParams::default().labels(&format!("obbackup.dev/strategy={strategy}")))
        .await
        .expect("list tasks")
        .items;
    let runs = tasks
        .iter()
        .map(|t| {
            let at = t
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("obbackup.dev/scheduled-at"))
                .and_then(|v| v.parse().ok())
                .expect("scheduled-at annotation");
            (
                t.data["spec"]["tenant"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                t.data["spec"]["mode"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                at,
            )
        })
        .collect();
    let phases = tasks
        .iter()
        .map(|t| t.data["status"]["phase"].clone())
        .collect();
    (runs, phases)
}

/// Every tenant's run at `at`.
fn runs_at(mode: &str, at: Timestamp) -> Vec<(String, String, Timestamp)> {
    TENANTS
        .iter()
        .map(|t| (t.to_string(), mode.to_string(), at))
        .collect()
}

#[tokio::test]
async fn a_simulated_week_an_outage_and_a_pause_produce_exactly_the_scheduled_backups() {
    let start = saturday_afternoon();
    let Some(mut world) =
        World::simulated("week", &TENANTS, GIB, (start, SPEED), simulator::profile()).await
    else {
        return;
    };
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "week"},
            "spec": {
                "cluster": cluster(),
                "tenants": TENANTS,
                "dataDestination": {"uri": "file:///backup/week/data"},
                "logDestination": {"uri": "file:///backup/week/archive"},
                "schedule": {
                    "timeZone": "UTC",
                    "full": "0 1 * * 0",
                    "incremental": "0 1 * * 1-6",
                    "startingDeadlineSeconds": 12 * 3600,
                },
                "retention": {"recoveryWindow": "7d", "successfulTasksHistoryLimit": 100},
            },
        }))
        .await;
    for tenant in TENANTS {
        world
            .phase("LogBackup", &format!("week-{tenant}-log"), "InProgress")
            .await;
    }

    // A week: Sunday's full and Monday-to-Saturday's incrementals, for each tenant, and nothing else.
    let sunday = after(start, 0, 9);
    world.sim_until(after(start, 6, 11)).await;
    let mut expected: BTreeSet<_> = runs_at("Full", sunday).into_iter().collect();
    for day in 1..=6 {
        expected.extend(runs_at("Incremental", after(sunday, day, 0)));
    }
    let week = eventually("the week's 21 backups to complete", WAIT, || async {
        let (runs, phases) = scheduled(&world, "week").await;
        (runs == expected && phases.iter().all(|p| p == "Completed")).then_some(runs)
    })
    .await;
    assert_eq!(week.len(), 21);
    let overview = world.status("BackupStrategy", "week").await;
    assert_eq!(
        condition(&overview, "RecoverableWindowContinuous").as_deref(),
        Some("True"),
        "{overview}"
    );
    // The delete policy ran about hourly; its jobs are mirrored as CleanupTasks.
    let mirrors = eventually(
        "policy cleanups mirrored for every tenant",
        WAIT,
        || async {
            let (api, _) = api_for(
                &world.admin,
                &world.namespace,
                &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask"}),
            );
            let items = api
                .list(&ListParams::default().labels("obbackup.dev/strategy=week"))
                .await
                .expect("list cleanups")
                .items;
            let tenants: BTreeSet<String> = items
                .iter()
                .filter(|c| c.data["status"]["phase"] == "Completed")
                .map(|c| {
                    c.data["spec"]["tenant"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            (tenants.len() == TENANTS.len()).then_some(items)
        },
    )
    .await;
    assert!(
        mirrors.len() <= 100 + TENANTS.len(),
        "pruned to the history limit: {}",
        mirrors.len()
    );
    assert!(
        mirrors
            .iter()
            .all(|c| c.data["status"]["source"] == "External")
    );

    // The operator is down for a simulated day, across Sunday's full: one catch-up on restart.
    world.stop_operator().await;
    world.sim_until(after(start, 7, 14)).await;
    world.start_operator("b");
    let next_sunday = after(sunday, 7, 0);
    expected.extend(runs_at("Full", next_sunday));
    eventually("one catch-up full per tenant", WAIT, || async {
        let (runs, _) = scheduled(&world, "week").await;
        (runs == expected).then_some(())
    })
    .await;

    // Paused across Monday's incremental: no data backup, log archiving goes on.
    world
        .patch_spec("BackupStrategy", "week", json!({"suspend": true}))
        .await;
    world.phase("BackupStrategy", "week", "Paused").await;
    eventually("the catch-ups to finish", WAIT, || async {
        let (_, phases) = scheduled(&world, "week").await;
        phases.iter().all(|p| p == "Completed").then_some(())
    })
    .await;
    let jobs_before = simulator::backup_jobs(&world.node);
    world.sim_until(after(next_sunday, 1, 3)).await;
    let (runs, _) = scheduled(&world, "week").await;
    assert_eq!(runs, expected, "no backup is scheduled while paused");
    assert_eq!(
        simulator::backup_jobs(&world.node),
        jobs_before,
        "no backup job while paused"
    );
    for tenant in TENANTS {
        let log = world
            .status("LogBackup", &format!("week-{tenant}-log"))
            .await;
        assert_eq!(log["phase"], "InProgress", "{log}");
    }

    // Resumed within the starting deadline: Monday's incremental runs once, late.
    world
        .patch_spec("BackupStrategy", "week", json!({"suspend": false}))
        .await;
    expected.extend(runs_at("Incremental", after(next_sunday, 1, 0)));
    eventually("Monday's incrementals after the pause", WAIT, || async {
        let (runs, _) = scheduled(&world, "week").await;
        (runs == expected).then_some(())
    })
    .await;
    world.phase("BackupStrategy", "week", "InProgress").await;

    // A new recovery window replaces OceanBase's delete policy.
    world
        .patch_spec(
            "BackupStrategy",
            "week",
            json!({"retention": {"recoveryWindow": "3d"}}),
        )
        .await;
    eventually("the delete policy to follow the window", WAIT, || async {
        let cluster = simulator::cluster(&world.node);
        let windows: Vec<Option<String>> = TENANTS
            .iter()
            .map(|name| {
                cluster
                    .tenants
                    .iter()
                    .find(|t| t.name == *name)
                    .and_then(|t| t.clean.policy.as_ref())
                    .map(|p| p.recovery_window.clone())
            })
            .collect();
        windows
            .iter()
            .all(|w| w.as_deref() == Some("3d"))
            .then_some(())
    })
    .await;
    world.done().await;
}

fn strategy(name: &str, cluster: Value, tenant: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": name},
        "spec": {
            "cluster": cluster,
            "tenants": [tenant],
            "dataDestination": {"uri": format!("file:///backup/{name}/data")},
            "logDestination": {"uri": format!("file:///backup/{name}/archive")},
            "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            "deletionPolicy": "StopArchiving",
        },
    })
}

#[tokio::test]
async fn deletion_policy_stop_archiving_stops_archiving_and_drops_the_policy_before_letting_go() {
    let Some(world) = World::new("stoparchiving", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    world.apply(strategy("stopper", cluster(), "tenant1")).await;
    world
        .phase("LogBackup", "stopper-tenant1-log", "InProgress")
        .await;
    eventually("the finalizer and the delete policy", WAIT, || async {
        let object = world.get("BackupStrategy", "stopper").await?;
        let held = object
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"obbackup.dev/stop-archiving".to_string());
        let policy = simulator::cluster(&world.node)
            .tenant("tenant1")?
            .clean
            .policy
            .is_some();
        (held && policy).then_some(())
    })
    .await;
    // A second strategy for the same tenant is refused, names the first, and touches nothing.
    world.apply(strategy("second", cluster(), "tenant1")).await;
    let refused = eventually("the second strategy to be Stalled", WAIT, || async {
        let status = world.status("BackupStrategy", "second").await;
        (condition(&status, "Stalled").as_deref() == Some("True")).then_some(status)
    })
    .await;
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("already belongs to BackupStrategy stopper")),
        "{refused}"
    );
    assert!(world.get("LogBackup", "second-tenant1-log").await.is_none());
    let (strategies, _) = api_for(
        &world.admin,
        &world.namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy"}),
    );
    // Deleting it leaves OceanBase alone even though it asks to stop archiving: it was never in charge.
    strategies
        .delete("second", &kube::api::DeleteParams::background())
        .await
        .expect("delete");
    eventually("the refused strategy to be released", WAIT, || async {
        world
            .get("BackupStrategy", "second")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        simulator::cluster(&world.node)
            .tenant("tenant1")
            .is_some_and(|t| t.archive.log_mode_archive),
        "archiving untouched"
    );
    strategies
        .delete("stopper", &kube::api::DeleteParams::background())
        .await
        .expect("delete");
    eventually("the strategy to be released", WAIT, || async {
        world
            .get("BackupStrategy", "stopper")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    {
        let cluster = simulator::cluster(&world.node);
        let tenant = cluster.tenant("tenant1").expect("tenant");
        assert!(!tenant.archive.log_mode_archive, "archiving stopped");
        assert!(tenant.clean.policy.is_none(), "delete policy dropped");
    }

    // A cluster that cannot be reached holds the strategy, with a Warning; Retain lets it go untouched.
    simulator::secret(
        &world.admin,
        &world.namespace,
        "nowhere",
        &[
            ("host", "127.0.0.1"),
            ("port", "1"),
            ("user", "root@sys"),
            ("password", "x"),
        ],
    )
    .await;
    world
        .apply(strategy(
            "stuck",
            json!({"name": "gone", "connectionSecret": "nowhere"}),
            "tenant1",
        ))
        .await;
    eventually("the finalizer", WAIT, || async {
        let object = world.get("BackupStrategy", "stuck").await?;
        (!object.metadata.finalizers.unwrap_or_default().is_empty()).then_some(())
    })
    .await;
    strategies
        .delete("stuck", &kube::api::DeleteParams::background())
        .await
        .expect("delete");
    eventually("a Warning saying why it is held", WAIT, || async {
        world
            .everything_written()
            .await
            .contains("StopArchivingPending")
            .then_some(())
    })
    .await;
    assert!(world.get("BackupStrategy", "stuck").await.is_some());
    world
        .patch_spec(
            "BackupStrategy",
            "stuck",
            json!({"deletionPolicy": "Retain"}),
        )
        .await;
    eventually("the strategy to be released", WAIT, || async {
        world
            .get("BackupStrategy", "stuck")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    world.done().await;
}
