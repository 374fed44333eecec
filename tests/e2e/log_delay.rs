//! The log delay as status shows it (issue 14, issue 38): it keeps up with OceanBase while archiving runs and
//! while it is stuck, and a delay crossing the alert threshold is shown within seconds, both ways.

use std::time::Duration;

use ob_backup_operator::api::{LogBackup, LogBackupPhase};
use serde_json::{Value, json};

use crate::support::{
    cluster::eventually_seen,
    simulator,
    world::{GIB, WAIT, World, condition, strategy},
};

/// tenant1's series, among a metric's.
const TENANT1: &str = r#"tenant="tenant1""#;

/// tenant1's archive checkpoint as obsim holds it.
fn checkpoint(world: &World) -> jiff::Timestamp {
    let cluster = simulator::cluster(&world.node);
    let tenant = cluster.tenant("tenant1").expect("tenant1");
    let scn = tenant
        .archive
        .round
        .as_ref()
        .map(|r| r.checkpoint_scn)
        .expect("round");
    jiff::Timestamp::from_nanosecond(i128::from(scn)).expect("an SCN is a time")
}

/// The status rule for the log checkpoint and delay (issue 14): what status shows is never more than a
/// minute (plus one poll) from OceanBase — while archiving runs, and while it is stuck, when the checkpoint
/// stops and only the delay moves. Also prints what the rule costs in status writes. A simulated clock at
/// 10× makes ten minutes one.
#[tokio::test]
async fn the_log_delay_shown_keeps_up_while_archiving_runs_and_while_it_is_stuck() {
    const SPEED: f64 = 10.0;
    // A minute, plus an idle poll (3 s real) and a reconcile, in simulated seconds.
    const SLACK: i64 = 60 + 3 * 10 + 10;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48);
    let Some(world) = World::simulated(
        "fresh",
        &["tenant1"],
        GIB,
        (start, SPEED),
        simulator::profile(),
    )
    .await
    else {
        return;
    };
    world.apply(strategy("s", json!({}))).await;
    world.archiving("s", "tenant1").await;
    let writes = |kind: &str| world.operator.status_writes(kind);
    let before = (writes("LogBackup"), writes("BackupStrategy"));
    let from = world.sim_now();
    world
        .sim_until(from + jiff::SignedDuration::from_mins(10))
        .await;
    let after = (writes("LogBackup"), writes("BackupStrategy"));
    let (log_writes, strategy_writes) = (after.0 - before.0, after.1 - before.1);
    println!(
        "steady archiving, 10 simulated minutes: {log_writes} LogBackup and {strategy_writes} BackupStrategy \
         status writes"
    );
    // The rule's cost: about one write a minute each (the checkpoint moves a minute a minute), never one a poll.
    assert!(
        log_writes <= 12.0 && strategy_writes <= 12.0,
        "{log_writes} LogBackup and {strategy_writes} strategy writes in 10 minutes"
    );
    let shown_checkpoint = |status: &Value| {
        status["checkpointTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    let status = world.status("LogBackup", "s-tenant1-log").await;
    let lag = world
        .sim_now()
        .duration_since(shown_checkpoint(&status).expect("a checkpoint"));
    assert!(lag.as_secs() < SLACK, "checkpoint shown {lag:?} behind");

    // Stuck: the archive is interrupted, the checkpoint stops, the delay must keep up.
    simulator::cluster(&world.node)
        .interrupt_archive("tenant1", -9070, "can not connect to backup destination")
        .expect("interrupt");
    world
        .reaches::<LogBackup>("s-tenant1-log", LogBackupPhase::Failed)
        .await;
    let frozen = checkpoint(&world);
    for minutes in [3, 6] {
        world
            .sim_until(world.sim_now() + jiff::SignedDuration::from_mins(minutes))
            .await;
        let real = world.sim_now().duration_since(frozen).as_secs();
        let log = world.status("LogBackup", "s-tenant1-log").await["delaySeconds"]
            .as_i64()
            .unwrap_or(0);
        let strategy = world.status("BackupStrategy", "s").await["logDelaySeconds"]
            .as_i64()
            .unwrap_or(0);
        assert!(real - log < SLACK, "LogBackup shows {log} s, {real} s real");
        assert!(
            real - strategy < SLACK,
            "strategy shows {strategy} s, {real} s real"
        );
        let metric = world
            .operator
            .sample_with("obbackup_log_backup_delay_seconds", TENANT1)
            .unwrap_or(0.0);
        assert!(
            real as f64 - metric < SLACK as f64,
            "the delay metric shows {metric} s, {real} s real"
        );
    }
    // What the alerts compare: the tenant's threshold (the LogBackup's default 10m) and the interruption.
    let sample = |name: &str| world.operator.sample_with(name, TENANT1);
    assert_eq!(
        sample("obbackup_log_backup_delay_threshold_seconds"),
        Some(600.0)
    );
    assert_eq!(sample("obbackup_log_archive_interrupted"), Some(1.0));
    world.done().await;
}

/// When each of the two objects that show tenant1's delay against the threshold — the LogBackup's
/// `DelayWithinThreshold` and the strategy's `LogBackupHealthy` — was first seen `want`, polling every 200 ms
/// until both are, for at most `timeout`.
async fn first_shown(world: &World, want: &str, timeout: Duration) -> [jiff::Timestamp; 2] {
    let seen = std::cell::Cell::new([None; 2]);
    eventually_seen(&format!("both conditions {want}"), timeout, || async {
        // Taken before the reads: a condition is never dated later than it was shown.
        let now = jiff::Timestamp::now();
        let shown = [
            condition(
                &world.status("LogBackup", "s-tenant1-log").await,
                "DelayWithinThreshold",
            ),
            condition(
                &world.status("BackupStrategy", "s").await,
                "LogBackupHealthy",
            ),
        ];
        let mut first = seen.get();
        for (at, shown) in first.iter_mut().zip(&shown) {
            if at.is_none() && shown.as_deref() == Some(want) {
                *at = Some(now);
            }
        }
        seen.set(first);
        match first {
            [Some(log), Some(strategy)] => Ok([log, strategy]),
            _ => Err(format!("LogBackup {:?}, strategy {:?}", shown[0], shown[1])),
        }
    })
    .await
}

/// A delay crossing the alert threshold is shown within seconds, both ways (issue 38): the observer's next
/// read after the crossing wakes the LogBackup and the strategy that watch the tenant, which would otherwise
/// wait for their one-minute status refresh or their next delay check. obsim holds tenant1's checkpoint while
/// its round stays DOING (a slow destination), then lets it catch up. The operator reads an idle cluster
/// every 2 s here, so that a read follows each crossing at once.
#[tokio::test]
async fn a_delay_crossing_the_alert_threshold_is_shown_within_seconds_both_ways() {
    // The slack after a crossing: a read (2 s), a reconcile and a status write, on a loaded machine.
    const SHOWN_WITHIN: Duration = Duration::from_secs(12);
    let Some(mut world) = World::new("crossing", &["tenant1"], GIB, 1.0).await else {
        return;
    };
    world.operator_args = vec!["--idle-poll-seconds".into(), "2".into()];
    world.restart_operator("b");
    let threshold = jiff::SignedDuration::from_secs(20);
    world
        .apply(strategy(
            "s",
            json!({"logBackup": {"delayAlertThreshold": "20s"}}),
        ))
        .await;
    world.archiving("s", "tenant1").await;
    first_shown(&world, "True", WAIT).await;

    simulator::cluster(&world.node)
        .set_archive_held("tenant1", true)
        .expect("hold");
    let crossing = checkpoint(&world) + threshold;
    let late = Duration::try_from(crossing.duration_since(jiff::Timestamp::now()))
        .unwrap_or_default()
        + SHOWN_WITHIN;
    let over = first_shown(&world, "False", late).await;
    for (object, at) in ["LogBackup", "strategy"].iter().zip(over) {
        let after = at.duration_since(crossing);
        println!(
            "{object}: shown over the threshold {:+.1} s from the crossing",
            after.as_secs_f64()
        );
        // obsim's clock is this host's: a second covers the reads' timing. Earlier would be a false alarm.
        assert!(
            after >= -jiff::SignedDuration::from_secs(1),
            "the {object} showed the delay over the threshold {:.1} s before it reached it",
            -after.as_secs_f64()
        );
    }

    simulator::cluster(&world.node)
        .set_archive_held("tenant1", false)
        .expect("release");
    let released = jiff::Timestamp::now();
    let within = first_shown(&world, "True", SHOWN_WITHIN).await;
    for (object, at) in ["LogBackup", "strategy"].iter().zip(within) {
        println!(
            "{object}: shown within the threshold again {:.1} s after the release",
            at.duration_since(released).as_secs_f64()
        );
    }
    world.done().await;
}
