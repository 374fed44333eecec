//! What every strategy is checked for before it does anything, whichever its method (physical or
//! logical): its spec ([`spec_problems`]: what the CRD schema cannot tell), its claim on its tenants, its
//! cluster's connection Secret and its data destination ([`first_checks`]), and the status a strategy
//! shows while those checks find problems ([`desired_status`], written by [`stop_on_problems`]).

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::exclusive;
use crate::{
    api::{BackupStrategy, BackupStrategySpec, BackupStrategyStatus, StrategyPhase},
    controller::{
        Context, Error,
        conditions::Health,
        error::{Fix, Problem},
        next_action,
        references::ReferenceCheck,
        status,
    },
    reason::Reason,
};

/// What every strategy is checked for first: its spec, its claim on its tenants against `same` (the
/// strategies on its cluster, [`exclusive::on_same_cluster`]), its cluster's connection Secret and its data
/// destination.
pub(super) async fn first_checks<'a>(
    ctx: &'a Context,
    namespace: &'a str,
    strategy: &BackupStrategy,
    same: &[BackupStrategy],
) -> Result<ReferenceCheck<'a>, Error> {
    let mut check = ReferenceCheck::new(ctx, namespace);
    check.problems = spec_problems(strategy);
    check.problems.extend(exclusive::check(strategy, same));
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

/// When the checks found `problems`: writes the status they give the strategy and returns when to look
/// again. `None` when there are none and the strategy goes on.
pub(super) async fn stop_on_problems(
    ctx: &Context,
    strategy: &BackupStrategy,
    problems: &[Problem],
) -> Result<Option<Action>, Error> {
    if problems.is_empty() {
        return Ok(None);
    }
    let desired = desired_status(strategy, problems, crate::clock::now());
    status::write(ctx, strategy, strategy.status.as_ref(), &desired).await?;
    Ok(Some(next_action(problems)))
}

/// What is wrong with the strategy itself that the CRD schema cannot tell (unknown time zones, cron
/// expressions with impossible values), or that an older CRD let in (a name too long to be a label value,
/// a tenant listed twice in different case).
pub(super) fn spec_problems(strategy: &BackupStrategy) -> Vec<Problem> {
    let spec: &BackupStrategySpec = &strategy.spec;
    let mut problems: Vec<Problem> = [
        name_too_long(strategy),
        tenant_listed_twice(spec),
        log_destination_missing(spec),
    ]
    .into_iter()
    .flatten()
    .collect();
    problems.extend(schedule_problems(spec));
    problems
}

/// A name too long to label the strategy's children.
fn name_too_long(strategy: &BackupStrategy) -> Option<Problem> {
    let name = strategy.name_any();
    (name.len() > crate::api::MAX_STRATEGY_NAME).then(|| {
        Problem::in_spec(
            Reason::NameTooLong,
            format!(
                "the name is {} characters; a BackupStrategy name is at most {} (it labels the strategy's \
                 children): recreate it under a shorter name",
                name.len(),
                crate::api::MAX_STRATEGY_NAME
            ),
        )
    })
}

/// The first tenant listed twice (OceanBase's tenant names ignore case).
fn tenant_listed_twice(spec: &BackupStrategySpec) -> Option<Problem> {
    let twice = spec.tenants.iter().enumerate().find_map(|(i, t)| {
        spec.tenants[..i]
            .iter()
            .find(|u| u.eq_ignore_ascii_case(t))
            .map(|u| (u, t))
    })?;
    Some(Problem::in_spec(
        Reason::TenantListedTwice,
        format!(
            "tenants lists {} and {}, one OceanBase tenant (names ignore case): list it once",
            twice.0, twice.1
        ),
    ))
}

/// A Physical strategy without `logDestination`.
fn log_destination_missing(spec: &BackupStrategySpec) -> Option<Problem> {
    (spec.method == crate::api::backup_strategy::BackupMethod::Physical
        && spec.log_destination.is_none())
    .then(|| {
        Problem::in_spec(
            Reason::InvalidInput,
            "a Physical strategy needs logDestination (where OceanBase archives logs)".to_string(),
        )
    })
}

/// The schedule's time zone and cron expressions that can never run ([`crate::schedule::faults`]).
fn schedule_problems(spec: &BackupStrategySpec) -> Vec<Problem> {
    let schedule = &spec.schedule;
    let crons: Vec<(&str, &str)> = [
        ("full", Some(schedule.full.as_str())),
        ("incremental", schedule.incremental.as_deref()),
    ]
    .into_iter()
    .filter_map(|(field, expression)| Some((field, expression?)))
    .collect();
    crate::schedule::faults("schedule.", &schedule.time_zone, &crons)
        .into_iter()
        .map(|(reason, message)| Problem::in_spec(reason, message))
        .collect()
}

/// The status a strategy should have, given the problems found and what its status already records.
pub(super) fn desired_status(
    strategy: &BackupStrategy,
    problems: &[Problem],
    now: Timestamp,
) -> BackupStrategyStatus {
    let previous = strategy.status.clone().unwrap_or_default();
    let invalid = problems.iter().any(|p| p.fix == Fix::Spec);
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
