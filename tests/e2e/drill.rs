//! Restore drills end to end (docs/guide/restore-drills.md): the operator binary on the real control plane
//! drills a strategy's tenant in obsim on a schedule — restores it into a scratch tenant, logs in as the
//! tenant's own user, runs the checks (the heartbeat measures the data's freshness), drops the scratch tenant
//! and its pool — and reports the verdict on the task, the strategy and as metrics. A window with a lost
//! archive piece makes the drill fail and say why; a drill time zone that does not exist is said, not
//! silently never run.

use crate::support::typed::condition_of;
use crate::support::{
    cluster::eventually,
    drill::{drill_user, drilled, every_drill_clean, first_ended, next_minute, next_minute_at},
    recovery::{backed_up, restores_of},
    simulator,
    world::{GIB, WAIT, World},
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::{Value, json};

fn conditions(status: &Value) -> Vec<Condition> {
    serde_json::from_value(status["conditions"].clone()).unwrap_or_default()
}

/// The strategy's status once its drill line for tenant1 shows `field`.
async fn strategy_showing(world: &World, field: &str) -> Value {
    eventually(&format!("the strategy to show {field}"), WAIT, || async {
        let status = world.status("BackupStrategy", "src").await;
        status["drills"][0][field]["task"]
            .is_string()
            .then_some(status)
    })
    .await
}

fn metrics(world: &World) -> String {
    world
        .operator
        .get("/metrics")
        .map(|(_, body)| body)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_scheduled_drill_restores_checks_freshness_and_drops_its_scratch_tenant() {
    let Some(world) = World::new("drill", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    // Every tenant of the cluster: a scratch tenant, while it exists, is never one of them.
    drilled(&world, "* * * * *", "Latest", json!([])).await;
    let first = first_ended(&world).await;
    let status = &first.status;
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

    let strategy = strategy_showing(&world, "lastPassed").await;
    assert!(strategy["lastPassedDrillTime"].is_string(), "{strategy}");
    assert_eq!(
        condition_of(&conditions(&strategy), "RestoreVerified"),
        Some("True")
    );
    let metrics = metrics(&world);
    for series in [
        "obbackup_restore_drill_last_passed{",
        "obbackup_restore_drill_last_passed_timestamp_seconds{",
        "obbackup_restore_drill_lag_seconds{",
        "obbackup_restore_drill_max_age_seconds{",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    // Stopping the schedule (a minute that is not now) lets the drills under way end: one restore each,
    // nothing of theirs left.
    drilled(&world, &next_minute(3600), "Latest", json!([])).await;
    let drills = every_drill_clean(&world, "nightly").await;
    assert!(
        drills
            .iter()
            .all(|d| d.name.starts_with("src-tenant1-drill-")),
        "only tenant1 is drilled"
    );
    let log_backups: Vec<String> = world
        .list("LogBackup")
        .await
        .into_iter()
        .filter_map(|l| l.metadata.name)
        .collect();
    assert_eq!(
        log_backups,
        vec!["src-tenant1-log".to_string()],
        "no scratch tenant archives"
    );

    // A drill time zone of the right shape that does not exist: RestoreVerified says so, no drill is made
    // even every minute, and the strategy itself is not failed (its backups go on).
    let phase = world.status("BackupStrategy", "src").await["phase"].clone();
    world
        .patch_spec(
            "BackupStrategy",
            "src",
            json!({"restoreDrill": {"timeZone": "Asia/Beijing", "schedule": "* * * * *"}}),
        )
        .await;
    let status = eventually("RestoreVerified to name the time zone", WAIT, || async {
        let object = world.get("BackupStrategy", "src").await?;
        let status = object.data["status"].clone();
        let current = status["observedGeneration"] == json!(object.metadata.generation);
        let verified = conditions(&status)
            .into_iter()
            .find(|c| c.type_ == "RestoreVerified")?;
        (current && verified.reason == "InvalidTimeZone").then_some((status, verified))
    })
    .await;
    assert_eq!(status.1.status, "False");
    assert!(
        status
            .1
            .message
            .contains("restoreDrill.timeZone Asia/Beijing"),
        "{}",
        status.1.message
    );
    assert_eq!(status.0["phase"], phase, "the strategy goes on");
    assert_eq!(
        crate::support::drill::drills(&world).await.len(),
        drills.len(),
        "no drill made"
    );
}

#[tokio::test]
async fn a_lost_archive_piece_fails_the_drill_with_oceanbases_cause_and_leaves_nothing() {
    let Some(world) = World::new("drill-hole", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    // The metadata still lists the piece: the window looks whole, only a restore finds the hole.
    simulator::cluster(&world.node)
        .lose_archive_piece("tenant1", None)
        .expect("a piece to lose");
    drilled(&world, &next_minute(5), "Latest", json!(["tenant1"])).await;
    let drills = every_drill_clean(&world, "a lost piece").await;
    assert_eq!(drills.len(), 1, "one run");
    let status = &drills[0].status;
    assert_eq!(status["phase"], "Failed", "{status}");
    assert_eq!(status["drill"]["verdict"], "Failed");
    let message = status["drill"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("the restore failed") && message.contains("cannot find backup file"),
        "{message}"
    );
    let strategy = strategy_showing(&world, "last").await;
    let conditions = conditions(&strategy);
    let verified = conditions.iter().find(|c| c.type_ == "RestoreVerified");
    assert_eq!(
        verified.map(|c| (c.status.as_str(), c.reason.as_str())),
        Some(("False", "DrillFailed")),
        "{strategy}"
    );
    assert!(strategy["drills"][0]["lastPassed"].is_null());
    let metrics = metrics(&world);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("obbackup_restore_drill_last_passed{") && l.ends_with(" 0")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_drill_waits_while_a_users_restore_runs_into_its_cluster() {
    let Some(world) = World::new("drill-busy", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    // The user's restore into the same cluster makes no progress until canceled.
    simulator::cluster(&world.node).faults.stalled_restores = true;
    world
        .apply(crate::support::recovery::recovery(
            "users",
            "restored_by_user",
            json!({"latest": true}),
            json!({}),
        ))
        .await;
    world.phase("RecoveryTask", "users", "InProgress").await;
    let (schedule, at) = next_minute_at(5);
    drilled(&world, &schedule, "Latest", json!(["tenant1"])).await;
    // Well past the drill's time (a strategy look after it), no drill was made.
    let past = at + jiff::SignedDuration::from_secs(30);
    eventually("the drill's time to pass", WAIT * 2, || async {
        (jiff::Timestamp::now() >= past).then_some(())
    })
    .await;
    assert!(
        crate::support::drill::drills(&world).await.is_empty(),
        "no drill beside the user's restore"
    );
    // Canceled while it still stands (unstalled first, a cancel would race its end: a restore that finished
    // before the Cancel reached OceanBase ends Completed, rightly).
    world
        .patch_spec("RecoveryTask", "users", json!({"cancel": true}))
        .await;
    world.phase("RecoveryTask", "users", "Canceled").await;
    simulator::cluster(&world.node).faults.stalled_restores = false;
    // Within the starting deadline, the run is made once the restore ended.
    let drills = every_drill_clean(&world, "after the user's restore").await;
    assert_eq!(drills.len(), 1);
    assert_eq!(drills[0].status["drill"]["verdict"], "Passed");
}

#[tokio::test]
async fn a_simulated_night_ends_with_a_passed_drill_at_three_and_its_measured_recovery_point() {
    // 01:00 tomorrow on the operator's and obsim's clock, twenty times real time: the night's drill at
    // 03:00 comes after some six real minutes, the backup well before it.
    let tomorrow = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        + jiff::ToSpan::day(1);
    let start = tomorrow
        .at(1, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("tomorrow")
        .timestamp();
    let Some(world) = World::simulated(
        "drill-night",
        &["tenant1"],
        4 * GIB,
        (start, 20.0),
        simulator::profile(),
    )
    .await
    else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    drilled(&world, "0 3 * * *", "Random", json!(["tenant1"])).await;
    let three = tomorrow
        .at(3, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("03:00")
        .timestamp();
    world.sim_until(three).await;
    let drills = every_drill_clean(&world, "the night").await;
    assert_eq!(drills.len(), 1, "one drill in the night");
    let drill = &drills[0];
    let scheduled = ob_backup_operator::drill::task_name(
        "src",
        "tenant1",
        three,
        ob_backup_operator::drill::Asked::Schedule,
    );
    assert_eq!(drill.name, scheduled, "the run the schedule owes at 03:00");
    assert_eq!(
        drill.status["drill"]["verdict"], "Passed",
        "{}",
        drill.status
    );
    let lag = drill.status["drill"]["lagSeconds"]
        .as_i64()
        .expect("a measured lag");
    assert!((0..=1).contains(&lag), "lag {lag}");
    let strategy = strategy_showing(&world, "lastPassed").await;
    let last = &strategy["drills"][0]["lastPassed"];
    assert_eq!(last["task"], drill.name.as_str());
    assert!(
        last["recoveryTime"].is_string() && last["lagSeconds"].is_i64(),
        "{strategy}"
    );
}

#[tokio::test]
async fn a_drill_never_restores_into_nor_drops_a_tenant_that_has_its_scratch_name() {
    let Some(world) = World::new("drill-taken", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    drill_user(&world).await;
    backed_up(&world, false).await;
    drilled(&world, &next_minute(3600), "Latest", json!(["tenant1"])).await;
    let strategy: ob_backup_operator::api::BackupStrategy = serde_json::from_value(
        serde_json::to_value(
            world
                .get("BackupStrategy", "src")
                .await
                .expect("the strategy"),
        )
        .expect("json"),
    )
    .expect("a strategy");
    let at = jiff::Timestamp::now();
    let mut task = ob_backup_operator::drill::task(
        &strategy,
        "tenant1",
        at,
        ob_backup_operator::drill::Asked::Manual,
        None,
    )
    .expect("a drill");
    // Someone else's tenant already has the scratch name.
    let scratch = task.spec.target.tenant.clone();
    simulator::cluster(&world.node)
        .add_user_tenant(&scratch, GIB)
        .expect("a tenant of that name");
    if let Some(drill) = task.spec.drill.as_mut() {
        drill.timeout = "20s".into();
    }
    task.metadata.managed_fields = None;
    world.apply(&task).await;
    let name = task.metadata.name.clone().expect("a name");
    let failed = world.phase("RecoveryTask", &name, "Failed").await;
    assert_eq!(failed["drill"]["verdict"], "Failed", "{failed}");
    // Refused before anything was sent (its pre-flight saw the tenant), or by OceanBase (the pre-flight read
    // the cluster before the tenant came): either way the drill says why.
    let message = failed["drill"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("did not finish within its 20s") || message.contains("already exist"),
        "{failed}"
    );
    assert_eq!(failed["drill"]["dropped"], true, "{failed}");
    assert!(
        failed.get("resourcePool").is_none(),
        "its own pool is dropped"
    );
    assert!(
        simulator::cluster(&world.node).tenant(&scratch).is_some(),
        "the other tenant stays"
    );
    assert_eq!(restores_of(&world, &scratch), 0, "nothing restored into it");
    let pool = format!("obrt_{}_", name.replace('-', "_"));
    assert!(
        !simulator::cluster(&world.node)
            .restores
            .pools
            .iter()
            .any(|p| p.name.starts_with(&pool)),
        "the pool the drill made is gone"
    );
}
