//! BackupStrategy end to end on a simulated clock (docs/contributing/design.md §2.2, issue 6):
//! obsim and the operator both run an hour of simulated time per real second, so a week of
//! schedules, an operator outage, a pause and the delete policy's hourly cleanups happen in a few
//! minutes on the real control plane. The week is told as given/when/then steps in the crate's own
//! types.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp, ToSpan, civil::Weekday};
use kube::ResourceExt;
use ob_backup_operator::api::{
    BackupStrategy, BackupStrategySpec, BackupTask, BackupTaskPhase, CleanupTask, CleanupTaskPhase,
    LogBackup, LogBackupPhase,
    backup_strategy::{BackupSchedule, Retention, StrategyPhase},
    backup_task::BackupMode,
    common::{ClusterConnection, StorageDestination, TaskSource},
};
use serde_json::{Value, json};

use crate::support::{
    cluster::{api_for, eventually},
    simulator,
    typed::phase,
    world::{GIB, WAIT, World, cluster, condition},
};

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

/// One scheduled run: a tenant's backup of a mode at the scheduled time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Run {
    tenant: String,
    incremental: bool,
    at: Timestamp,
}

/// The week-long scenario: its world, the simulated Saturday it starts on, and the runs owed so far.
struct Week {
    world: World,
    start: Timestamp,
    expected: BTreeSet<Run>,
}

const STRATEGY: &str = "week";

impl Week {
    /// The first Sunday's 01:00, when the full backups fall due.
    fn sunday(&self) -> Timestamp {
        after(self.start, 0, 9)
    }

    fn next_sunday(&self) -> Timestamp {
        after(self.sunday(), 7, 0)
    }

    /// Every tenant owes a run at `at`.
    fn owe(&mut self, incremental: bool, at: Timestamp) {
        self.expected.extend(TENANTS.iter().map(|tenant| Run {
            tenant: tenant.to_string(),
            incremental,
            at,
        }));
    }

    /// The runs the strategy made (from each task's scheduled-at annotation), and whether all completed.
    async fn runs(&self) -> (BTreeSet<Run>, bool) {
        let tasks: Vec<BackupTask> = self.world.children(STRATEGY).await;
        let runs = tasks
            .iter()
            .map(|task| Run {
                tenant: task.spec.tenant.clone(),
                incremental: task.spec.mode == BackupMode::Incremental,
                at: task
                    .annotations()
                    .get("obbackup.dev/scheduled-at")
                    .and_then(|v| v.parse().ok())
                    .expect("scheduled-at annotation"),
            })
            .collect();
        let completed = tasks
            .iter()
            .all(|t| phase(t) == Some(BackupTaskPhase::Completed));
        (runs, completed)
    }

    /// Waits until the runs made are exactly the runs owed (and, if asked, all completed).
    async fn runs_are_those_owed(&self, what: &str, completed: bool) {
        eventually(what, WAIT, || async {
            let (runs, all_completed) = self.runs().await;
            (runs == self.expected && (all_completed || !completed)).then_some(())
        })
        .await;
    }
}

/// A Saturday 16:00 UTC; a strategy over three tenants: fulls on Sundays at 01:00, incrementals on the
/// other days, a 12-hour starting deadline, a 7-day recovery window, 100 successful tasks kept.
async fn given_a_strategy_over_three_tenants_on_a_simulated_saturday() -> Option<Week> {
    let start = saturday_afternoon();
    let world = World::simulated(
        STRATEGY,
        &TENANTS,
        GIB,
        (start, SPEED),
        simulator::profile(),
    )
    .await?;
    let destination = |what: &str| StorageDestination {
        uri: format!("file:///backup/{STRATEGY}/{what}"),
        credentials_secret: None,
    };
    world
        .create(&BackupStrategy::new(
            STRATEGY,
            BackupStrategySpec {
                cluster: ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: Some("ob".into()),
                    ob_cluster: None,
                },
                tenants: TENANTS.map(String::from).to_vec(),
                ignored_tenants: Vec::new(),
                method: Default::default(),
                data_destination: destination("data"),
                log_destination: Some(destination("archive")),
                logical: None,
                schedule: BackupSchedule {
                    time_zone: "UTC".into(),
                    full: "0 1 * * 0".into(),
                    incremental: Some("0 1 * * 1-6".into()),
                    starting_deadline_seconds: 12 * 3600,
                },
                log_backup: Default::default(),
                retention: Retention {
                    recovery_window: "7d".into(),
                    successful_tasks_history_limit: 100,
                    ..Retention::default()
                },
                encryption: None,
                suspend: false,
                deletion_policy: Default::default(),
                second_backup: None,
                restore_drill: None,
            },
        ))
        .await;
    Some(Week {
        world,
        start,
        expected: BTreeSet::new(),
    })
}

async fn then_every_tenant_archives(week: &Week) {
    for tenant in TENANTS {
        week.world.archiving(STRATEGY, tenant).await;
    }
}

/// Up to Saturday 11:00: Sunday's full and Monday-to-Saturday's incrementals fall due.
async fn when_the_week_passes(week: &mut Week) {
    week.world.sim_until(after(week.start, 6, 11)).await;
    week.owe(false, week.sunday());
    for day in 1..=6 {
        week.owe(true, after(week.sunday(), day, 0));
    }
}

async fn then_each_tenant_has_exactly_its_scheduled_backups_completed(week: &Week) {
    week.runs_are_those_owed("the week's 21 backups to complete", true)
        .await;
    assert_eq!(week.expected.len(), 21);
    let overview = week
        .world
        .read::<BackupStrategy>(STRATEGY)
        .await
        .and_then(|s| s.status)
        .expect("the strategy's status");
    let continuous = overview
        .conditions
        .iter()
        .find(|c| c.type_ == "RecoverableWindowContinuous");
    assert_eq!(
        continuous.map(|c| c.status.as_str()),
        Some("True"),
        "{overview:?}"
    );
}

/// The delete policy ran about hourly; its jobs are mirrored as CleanupTasks, pruned to the history limit.
async fn then_the_policys_cleanups_are_mirrored_within_the_history_limit(week: &Week) {
    let mirrors = eventually(
        "policy cleanups mirrored for every tenant",
        WAIT,
        || async {
            let mirrors: Vec<CleanupTask> = week.world.children(STRATEGY).await;
            // A mirror just created has no status until its controller's first pass writes one.
            let all_observed = mirrors.iter().all(|c| c.status.is_some());
            let tenants: BTreeSet<&str> = mirrors
                .iter()
                .filter(|c| phase(*c) == Some(CleanupTaskPhase::Completed))
                .map(|c| c.spec.tenant.as_str())
                .collect();
            (all_observed && tenants.len() == TENANTS.len()).then_some(mirrors.clone())
        },
    )
    .await;
    assert!(
        mirrors.len() <= 100 + TENANTS.len(),
        "pruned to the history limit: {}",
        mirrors.len()
    );
    let sources: Vec<_> = mirrors
        .iter()
        .map(|c| c.status.as_ref().and_then(|s| s.source))
        .collect();
    assert!(
        sources.iter().all(|s| *s == Some(TaskSource::External)),
        "every mirror of a policy job is External: {sources:?}"
    );
}

/// The operator is down for a simulated day, across the next Sunday's full.
async fn when_the_operator_is_down_across_sunday(week: &mut Week) {
    week.world.stop_operator().await;
    week.world.sim_until(after(week.start, 7, 14)).await;
    week.world.start_operator("b");
    let next_sunday = week.next_sunday();
    week.owe(false, next_sunday);
}

/// Paused across Monday's incremental (once the catch-ups finished); returns the backup jobs before.
async fn when_the_strategy_is_paused_across_monday(week: &Week) -> usize {
    week.world
        .change_spec::<BackupStrategy>(STRATEGY, json!({"suspend": true}))
        .await;
    week.world
        .reaches::<BackupStrategy>(STRATEGY, StrategyPhase::Paused)
        .await;
    week.runs_are_those_owed("the catch-ups to finish", true)
        .await;
    let jobs_before = simulator::backup_jobs(&week.world.node);
    week.world.sim_until(after(week.next_sunday(), 1, 3)).await;
    jobs_before
}

async fn then_nothing_was_backed_up_while_archiving_went_on(week: &Week, jobs_before: usize) {
    assert_eq!(
        week.runs().await.0,
        week.expected,
        "no backup is scheduled while paused"
    );
    assert_eq!(
        simulator::backup_jobs(&week.world.node),
        jobs_before,
        "no backup job while paused"
    );
    for tenant in TENANTS {
        let log: Option<LogBackup> = week.world.read(&format!("{STRATEGY}-{tenant}-log")).await;
        assert_eq!(
            log.as_ref().and_then(phase),
            Some(LogBackupPhase::InProgress),
            "{log:?}"
        );
    }
    // The run due while paused is in the schedule's history, once.
    let monday = after(week.next_sunday(), 1, 0);
    let paused = eventually("Monday's incremental in the history", WAIT, || async {
        let runs = skipped_runs(week).await;
        let mondays: Vec<_> = runs.into_iter().filter(|(at, ..)| *at == monday).collect();
        (!mondays.is_empty()).then_some(mondays)
    })
    .await;
    assert_eq!(
        paused,
        [(monday, "Incremental".to_string(), "Paused".to_string())]
    );
}

/// The strategy's record of runs not made: (due, run, reason).
async fn skipped_runs(week: &Week) -> Vec<(Timestamp, String, String)> {
    let status = week.world.status("BackupStrategy", STRATEGY).await;
    let runs = status["skippedRuns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    runs.iter()
        .filter_map(|r| {
            let at = r["scheduledAt"].as_str()?.parse().ok()?;
            let run = r["run"].as_str()?.to_string();
            Some((at, run, r["reason"].as_str()?.to_string()))
        })
        .collect()
}

/// Resumed within the starting deadline: Monday's incremental is owed, late.
async fn when_it_is_resumed_within_the_deadline(week: &mut Week) {
    week.world
        .change_spec::<BackupStrategy>(STRATEGY, json!({"suspend": false}))
        .await;
    let monday = after(week.next_sunday(), 1, 0);
    week.owe(true, monday);
}

async fn then_the_delete_policy_follows_a_new_recovery_window(week: &Week) {
    week.world
        .change_spec::<BackupStrategy>(STRATEGY, json!({"retention": {"recoveryWindow": "3d"}}))
        .await;
    eventually("the delete policy to follow the window", WAIT, || async {
        let cluster = simulator::cluster(&week.world.node);
        TENANTS
            .iter()
            .all(|name| {
                cluster
                    .tenants
                    .iter()
                    .find(|t| t.name == *name)
                    .and_then(|t| t.clean.policy.as_ref())
                    .is_some_and(|p| p.recovery_window == "3d")
            })
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_simulated_week_an_outage_and_a_pause_produce_exactly_the_scheduled_backups() {
    let Some(mut week) = given_a_strategy_over_three_tenants_on_a_simulated_saturday().await else {
        return;
    };
    then_every_tenant_archives(&week).await;

    when_the_week_passes(&mut week).await;
    then_each_tenant_has_exactly_its_scheduled_backups_completed(&week).await;
    then_the_policys_cleanups_are_mirrored_within_the_history_limit(&week).await;

    when_the_operator_is_down_across_sunday(&mut week).await;
    week.runs_are_those_owed("one catch-up full per tenant", false)
        .await;

    let jobs_before = when_the_strategy_is_paused_across_monday(&week).await;
    then_nothing_was_backed_up_while_archiving_went_on(&week, jobs_before).await;

    when_it_is_resumed_within_the_deadline(&mut week).await;
    week.runs_are_those_owed("Monday's incrementals after the pause", false)
        .await;
    week.world
        .reaches::<BackupStrategy>(STRATEGY, StrategyPhase::InProgress)
        .await;
    // Made late after all: no longer a skipped run.
    let monday = after(week.next_sunday(), 1, 0);
    eventually("the history without Monday's incremental", WAIT, || async {
        let runs = skipped_runs(&week).await;
        (!runs.iter().any(|(at, ..)| *at == monday)).then_some(())
    })
    .await;

    then_the_delete_policy_follows_a_new_recovery_window(&week).await;
    week.world.done().await;
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
    world.archiving("stopper", "tenant1").await;
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
