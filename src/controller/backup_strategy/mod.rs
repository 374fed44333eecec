//! BackupStrategy controller (docs/contributing/design.md §2.2). It validates what only the
//! operator can (time zone and cron expressions against real calendars, the Secrets it names),
//! keeps one LogBackup per tenant in scope, creates the scheduled BackupTasks ([`plan`]), prunes
//! finished ones beyond the history limits, and reports the cluster overview ([`summary`]).
//!
//! It also keeps each tenant's `'default'` delete policy at `retention.recoveryWindow` ([`retention`]).
//!
//! It sets each tenant's `DATA_BACKUP_DEST` ahead of the first backup and reports `DestinationReady`
//! ([`destinations`]).
//!
//! It mirrors the delete jobs OceanBase's policy starts as CleanupTasks ([`cleanups`]), and carries out
//! `deletionPolicy` when deleted ([`deletion`]).

use crate::reason::Reason;
pub mod children;
pub mod cleanups;
pub mod deletion;
pub mod destinations;
pub mod exclusive;
mod logical;
pub mod plan;
pub mod retention;
mod second_copy;
pub mod summary;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Reconcile, conditions::Health, error::Problem, namespace_of, next_action,
    references::ReferenceCheck, status,
};
use crate::{
    api::{BackupStrategy, BackupStrategySpec, BackupStrategyStatus, StrategyPhase},
    observer::{ClusterKey, Interest, ObjectKey, Observation},
    schedule::{parse_cron, time_zone},
};

impl Reconcile for BackupStrategy {
    const KIND: &'static str = "BackupStrategy";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    fn forget_all_but(
        metrics: &crate::metrics::Metrics,
        alive: &std::collections::HashSet<ObjectKey>,
    ) {
        metrics.retain_strategies(|namespace, name| {
            alive.contains(&ObjectKey {
                kind: Self::KIND,
                namespace: namespace.into(),
                name: name.into(),
            })
        });
    }

    async fn reconcile(strategy: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(strategy.as_ref())?;
        let spec = &strategy.spec;
        if let deletion::Next::Done(action) = deletion::handle(&ctx, &namespace, &strategy).await? {
            return Ok(action);
        }
        if strategy.status.as_ref().and_then(|s| s.observed_generation)
            != strategy.metadata.generation
        {
            // The spec changed (a Secret, a destination, the cluster): the objects working through it follow
            // now. Before the status write that records the generation, so a crash in between wakes them
            // again.
            children::wake_dependents(&ctx, &namespace, &strategy).await?;
        }
        if spec.method == crate::api::backup_strategy::BackupMethod::Logical {
            return logical::reconcile(strategy, ctx, namespace).await;
        }
        let mut check = first_checks(&ctx, &namespace, &strategy).await?;
        if let Some(log) = &spec.log_destination {
            check.destination(log).await?;
        }
        check.password(spec.encryption.as_ref()).await?;
        if !check.problems.is_empty() {
            let desired = desired_status(&strategy, &check.problems, crate::clock::now());
            status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
            return Ok(next_action(&check.problems));
        }
        let observer = ctx.observers.observe(
            ClusterKey::of(&namespace, &spec.cluster),
            &spec.cluster.name,
        );
        // Woken by a change in its tenants (in any tenant when it lists none).
        ctx.observers.watch(
            &observer,
            ObjectKey {
                kind: Self::KIND,
                namespace: namespace.clone(),
                name: strategy.name_any(),
            },
            Some(Interest::overview(&spec.tenants)),
        );
        let observation = observer.latest();
        let tenants: Vec<String> = match (&observation, spec.tenants.is_empty()) {
            (_, false) => spec.tenants.clone(),
            (Observation::Seen { snapshot, .. }, true) => {
                snapshot.tenants.iter().map(|t| t.name.clone()).collect()
            }
            _ => Vec::new(),
        };
        let now = crate::clock::now();
        if !tenants.is_empty() {
            children::sync_log_backups(&ctx, &namespace, &strategy, &tenants).await?;
        }
        // The second copy's problems are its own: the first backups go on whatever they are.
        let mut second_problem =
            second_copy::readiness(&ctx, &namespace, &strategy, &tenants).await?;
        let (policy_errors, destination_problems, second) = match &observation {
            Observation::Seen { snapshot, .. } => {
                cleanups::sync(&ctx, &namespace, &strategy, snapshot, &tenants).await?;
                let cleared = second_problem.is_none();
                if cleared {
                    second_copy::follow_cleanups(&ctx, &namespace, &strategy, snapshot, &tenants)
                        .await?;
                }
                let (second, failed) = second_copy::copy_overview(
                    &ctx, &namespace, &strategy, snapshot, &tenants, cleared,
                )
                .await?;
                second_problem = second_problem.or(failed);
                (
                    retention::apply(&ctx, &observer, &namespace, &strategy, snapshot, &tenants)
                        .await,
                    destinations::apply(&ctx, &observer, &namespace, &strategy, snapshot, &tenants)
                        .await?,
                    second,
                )
            }
            _ => (
                Vec::new(),
                Vec::new(),
                strategy
                    .status
                    .as_ref()
                    .and_then(|s| s.second_backup.clone()),
            ),
        };
        let owned = children::tasks(&ctx, &namespace, &strategy).await?;
        let plan = plan::plan(&strategy, &tenants, &owned, now);
        children::create_tasks(&ctx, &namespace, &strategy, &plan.create).await?;
        children::delete_tasks(&ctx, &namespace, &plan.prune).await?;
        let desired = summary::strategy_status(
            &strategy,
            &plan,
            &observation,
            &tenants,
            &summary::Findings {
                policy_errors,
                destination_problems,
                second,
                second_problem,
            },
            now,
        );
        second_copy::warn_when_not_ready(&ctx, &strategy, &desired).await;
        status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
        if second_copy::readiness_changed(&strategy, &desired) {
            // Its copies wait for this word on the current spec: they look again now, not at their recheck.
            children::wake_dependents(&ctx, &namespace, &strategy).await?;
        }
        record_metrics(&ctx, &namespace, &strategy, &desired);
        // Look again when the next run is due (and at least every few minutes, for pruning).
        let next = plan
            .next_full
            .into_iter()
            .chain(plan.next_incremental)
            .min()
            .and_then(|at| {
                Duration::try_from(at.duration_since(now))
                    .ok()
                    .map(crate::clock::real)
            })
            .unwrap_or(MAX_WAIT);
        // While a tenant archives, its delay must keep up even when nothing wakes the strategy (a stuck
        // archive's checkpoint does not move).
        let archiving = desired
            .tenants
            .iter()
            .any(|t| t.log_delay_seconds.is_some());
        let bound = if archiving {
            crate::clock::real(crate::timing::freshness_recheck())
        } else {
            MAX_WAIT
        };
        let floor = Duration::from_millis(200);
        let object = format!("{namespace}/{}", strategy.name_any());
        Ok(ctx
            .statements
            .requeue(&object, Some(next.clamp(floor, bound.max(floor)))))
    }
}

/// What every strategy is checked for first: its spec, its claim on its tenants, its cluster's connection
/// Secret and its data destination.
async fn first_checks<'a>(
    ctx: &'a Context,
    namespace: &'a str,
    strategy: &BackupStrategy,
) -> Result<ReferenceCheck<'a>, Error> {
    let mut check = ReferenceCheck::new(ctx, namespace);
    check.problems = spec_problems(strategy);
    check
        .problems
        .extend(exclusive::check(ctx, namespace, strategy).await?);
    if strategy.spec.method == crate::api::backup_strategy::BackupMethod::Physical {
        let spec = &strategy.spec;
        check
            .problems
            .extend(crate::controller::coexistence::problem(
                ctx,
                namespace,
                &spec.cluster,
                &spec.tenants,
            ));
    }
    check.cluster(&strategy.spec.cluster).await?;
    check.destination(&strategy.spec.data_destination).await?;
    Ok(check)
}

/// The overview as metrics: each tenant's newest recoverable window and storage, on the first destinations
/// and on the second copy, and the next scheduled run.
fn record_metrics(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    status: &BackupStrategyStatus,
) {
    use crate::metrics::{StrategyLabels, TenantLabels};
    let metrics = &ctx.metrics;
    let cluster = &strategy.spec.cluster.name;
    let record = |series: &crate::metrics::CopySeries,
                  tenant: &str,
                  windows: &[crate::api::common::TimeWindow],
                  bytes: [Option<i64>; 2]| {
        let labels = TenantLabels {
            namespace: namespace.to_string(),
            cluster: cluster.clone(),
            tenant: tenant.to_string(),
        };
        let newest = windows
            .last()
            .map(|w| (w.from.0.as_second(), w.to.0.as_second()));
        series.record(&labels, newest, bytes[0], bytes[1]);
    };
    for t in &status.tenants {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        record(&metrics.first_copy, &t.name, &t.recoverable_windows, bytes);
    }
    for t in status.second_backup.iter().flat_map(|s| &s.tenants) {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        record(&metrics.second_copy, &t.name, &t.recoverable_windows, bytes);
    }
    metrics.strategy_recorded(
        namespace,
        &strategy.name_any(),
        cluster,
        status.tenants.iter().map(|t| t.name.clone()).collect(),
    );
    let next = [
        &status.next_full_backup_time,
        &status.next_incremental_backup_time,
    ]
    .into_iter()
    .flatten()
    .map(|t| t.0.as_second())
    .min();
    if let Some(next) = next {
        metrics
            .next_backup
            .get_or_create(&StrategyLabels {
                namespace: namespace.to_string(),
                strategy: strategy.name_any(),
            })
            .set(next);
    }
}

/// The longest a strategy goes unlooked at.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// What is wrong with the strategy itself that the CRD schema cannot tell (unknown time zones, cron
/// expressions with impossible values), or that an older CRD let in (a name too long to be a label value,
/// a tenant listed twice in different case).
fn spec_problems(strategy: &BackupStrategy) -> Vec<Problem> {
    let spec: &BackupStrategySpec = &strategy.spec;
    let schedule = &spec.schedule;
    let mut problems = Vec::new();
    let name = strategy.name_any();
    if name.len() > crate::api::MAX_STRATEGY_NAME {
        problems.push(Problem::in_spec(
            Reason::NameTooLong,
            format!(
                "the name is {} characters; a BackupStrategy name is at most {} (it labels the strategy's \
                 children): recreate it under a shorter name",
                name.len(),
                crate::api::MAX_STRATEGY_NAME
            ),
        ));
    }
    if let Some(twice) = spec.tenants.iter().enumerate().find_map(|(i, t)| {
        spec.tenants[..i]
            .iter()
            .find(|u| u.eq_ignore_ascii_case(t))
            .map(|u| (u, t))
    }) {
        problems.push(Problem::in_spec(
            Reason::TenantListedTwice,
            format!(
                "tenants lists {} and {}, one OceanBase tenant (names ignore case): list it once",
                twice.0, twice.1
            ),
        ));
    }
    if spec.method == crate::api::backup_strategy::BackupMethod::Physical
        && spec.log_destination.is_none()
    {
        problems.push(Problem::in_spec(
            Reason::InvalidInput,
            "a Physical strategy needs logDestination (where OceanBase archives logs)".to_string(),
        ));
    }
    if let Err(e) = time_zone(&schedule.time_zone) {
        problems.push(Problem::in_spec(
            Reason::InvalidTimeZone,
            format!(
                "schedule.timeZone {} is not a known IANA time zone: {e}",
                schedule.time_zone
            ),
        ));
    }
    let crons = [
        ("full", Some(schedule.full.as_str())),
        ("incremental", schedule.incremental.as_deref()),
    ];
    for (field, expression) in crons {
        let Some(expression) = expression else {
            continue;
        };
        match parse_cron(expression) {
            Err(e) => problems.push(Problem::in_spec(
                Reason::InvalidSchedule,
                format!("schedule.{field} {expression:?} is not a valid cron expression: {e}"),
            )),
            // Without a year field a schedule that runs once runs every few years at least, so one
            // occurrence after any instant is enough to know it ever runs.
            Ok(cron)
                if crate::schedule::next(
                    &cron,
                    &jiff::tz::TimeZone::UTC,
                    Timestamp::UNIX_EPOCH,
                )
                .is_none() =>
            {
                problems.push(Problem::in_spec(
                    Reason::ScheduleNeverRuns,
                    format!(
                        "schedule.{field} {expression:?} names no date that exists (such as 31 February): \
                         it would never run"
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    problems
}

/// The status a strategy should have, given the problems found and what its status already records.
fn desired_status(
    strategy: &BackupStrategy,
    problems: &[Problem],
    now: Timestamp,
) -> BackupStrategyStatus {
    let previous = strategy.status.clone().unwrap_or_default();
    let invalid = problems.iter().any(|p| p.fix == super::error::Fix::Spec);
    let phase = if invalid {
        StrategyPhase::Failed
    } else if strategy.spec.suspend {
        StrategyPhase::Paused
    } else if !problems.is_empty() {
        StrategyPhase::Stalled
    } else {
        match previous.phase {
            Some(StrategyPhase::InProgress) => StrategyPhase::InProgress,
            _ => StrategyPhase::PendingScheduling,
        }
    };
    let (conditions, message) = crate::controller::summarize(
        &previous.conditions,
        strategy.metadata.generation,
        problems,
        Health::Progressing {
            reason: match phase {
                StrategyPhase::Paused => Reason::Paused,
                StrategyPhase::InProgress => Reason::InProgress,
                // Failed comes with a problem in the spec, whose reason wins.
                StrategyPhase::PendingScheduling
                | StrategyPhase::Failed
                | StrategyPhase::Stalled => Reason::PendingScheduling,
            },
            message: "waiting to configure OceanBase for this strategy".into(),
        },
        now,
    );
    BackupStrategyStatus {
        phase: Some(phase),
        conditions,
        observed_generation: strategy.metadata.generation,
        message,
        ..previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::backup_strategy::BackupStrategySpec;

    fn strategy(yaml: &str) -> BackupStrategy {
        let spec: BackupStrategySpec = serde_norway::from_str(yaml).expect("valid spec");
        BackupStrategy::new("demo", spec)
    }

    const SPEC: &str = r#"
cluster: {name: obcluster, connectionSecret: obcluster-sys}
dataDestination: {uri: "file:///backup/data"}
logDestination: {uri: "file:///backup/archive"}
schedule: {timeZone: Asia/Shanghai, full: "0 1 * * 0", incremental: "0 1 * * 1-6"}
"#;

    #[test]
    fn a_valid_schedule_has_no_problems() {
        assert_eq!(spec_problems(&strategy(SPEC)), vec![]);
    }

    #[test]
    fn an_unknown_time_zone_and_impossible_cron_values_are_spec_problems() {
        let bad = SPEC
            .replace("Asia/Shanghai", "Asia/Atlantis")
            .replace("0 1 * * 1-6", "0 25 * * *");
        let problems = spec_problems(&strategy(&bad));
        let reasons: Vec<_> = problems.iter().map(|p| p.reason).collect();
        assert_eq!(reasons, [Reason::InvalidTimeZone, Reason::InvalidSchedule]);
        assert!(
            problems[1]
                .message
                .contains("schedule.incremental \"0 25 * * *\""),
            "{}",
            problems[1].message
        );
        let status = desired_status(&strategy(&bad), &problems, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::Failed));
    }

    #[test]
    fn a_schedule_that_never_runs_is_a_spec_problem_and_29_february_is_not() {
        let never = SPEC.replace("0 1 * * 0", "0 0 31 2 *");
        let problems = spec_problems(&strategy(&never));
        let reasons: Vec<_> = problems.iter().map(|p| p.reason).collect();
        assert_eq!(reasons, [Reason::ScheduleNeverRuns]);
        assert!(problems[0].message.contains("schedule.full \"0 0 31 2 *\""));
        let leap = SPEC.replace("0 1 * * 0", "0 0 29 2 *");
        assert_eq!(spec_problems(&strategy(&leap)), vec![]);
        let status = desired_status(&strategy(&never), &problems, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::Failed));
    }

    #[test]
    fn a_name_too_long_for_a_label_and_a_tenant_twice_in_other_case_are_spec_problems() {
        // Issue 13, defect 6: both were accepted, then every reconcile failed with no status or Event.
        let mut bad = strategy(SPEC);
        bad.metadata.name = Some("s".repeat(64));
        bad.spec.tenants = vec!["tenant3".into(), "TENANT3".into()];
        let problems = spec_problems(&bad);
        let reasons: Vec<_> = problems.iter().map(|p| p.reason).collect();
        assert_eq!(reasons, [Reason::NameTooLong, Reason::TenantListedTwice]);
        assert!(
            problems
                .iter()
                .all(|p| p.fix == crate::controller::error::Fix::Spec)
        );
        assert!(problems[1].message.contains("tenant3 and TENANT3"));
        let status = desired_status(&bad, &problems, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::Failed));
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == "Stalled" && c.status == "True"),
            "{:?}",
            status.conditions
        );
    }

    #[test]
    fn suspend_pauses_and_resume_returns_to_pending_scheduling() {
        let mut paused = strategy(SPEC);
        paused.spec.suspend = true;
        let status = desired_status(&paused, &[], Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::Paused));
        paused.status = Some(status);
        paused.spec.suspend = false;
        assert_eq!(
            desired_status(&paused, &[], Timestamp::UNIX_EPOCH).phase,
            Some(StrategyPhase::PendingScheduling)
        );
    }

    #[test]
    fn a_missing_secret_shows_stalled_without_failing_the_strategy() {
        let problems = [Problem::elsewhere(
            Reason::SecretNotFound,
            "Secret obcluster-sys not found",
        )];
        let status = desired_status(&strategy(SPEC), &problems, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::Stalled));
        assert_eq!(
            status.message.as_deref(),
            Some("Secret obcluster-sys not found")
        );
    }
}
