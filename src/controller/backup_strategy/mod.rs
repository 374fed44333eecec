//! BackupStrategy controller. It validates what only the operator can (time zone and cron expressions
//! against real calendars, the Secrets it names) and reports `PendingScheduling` or `Paused`, `Failed` for
//! an invalid configuration; configuring OceanBase and scheduling backups is the next step of its lifecycle.

pub mod plan;

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile, conditions::Health, error::Problem, health, namespace_of,
    next_action, references::ReferenceCheck, status, summarize,
};
use crate::{
    api::{BackupStrategy, BackupStrategySpec, BackupStrategyStatus, StrategyPhase},
    schedule::{parse_cron, time_zone},
};

impl Reconcile for BackupStrategy {
    const KIND: &'static str = "BackupStrategy";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    async fn reconcile(strategy: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(strategy.as_ref())?;
        let spec = &strategy.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        check.problems = spec_problems(spec);
        check.cluster(&spec.cluster).await?;
        check.destination(&spec.data_destination).await?;
        check.destination(&spec.log_destination).await?;
        check.password(spec.encryption.as_ref()).await?;
        let desired = desired_status(&strategy, &check.problems, Timestamp::now());
        status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// What is wrong with the spec itself that the CRD schema cannot tell: unknown time zones and cron
/// expressions with impossible values.
fn spec_problems(spec: &BackupStrategySpec) -> Vec<Problem> {
    let schedule = &spec.schedule;
    let mut problems = Vec::new();
    if let Err(e) = time_zone(&schedule.time_zone) {
        problems.push(Problem::in_spec(
            "InvalidTimeZone",
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
        if let Some(expression) = expression
            && let Err(e) = parse_cron(expression)
        {
            problems.push(Problem::in_spec(
                "InvalidSchedule",
                format!("schedule.{field} {expression:?} is not a valid cron expression: {e}"),
            ));
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
    } else {
        match previous.phase {
            Some(StrategyPhase::InProgress) => StrategyPhase::InProgress,
            _ => StrategyPhase::PendingScheduling,
        }
    };
    let health = health(
        problems,
        Health::Progressing {
            reason: format!("{phase:?}"),
            message: "waiting to configure OceanBase for this strategy".into(),
        },
    );
    let (conditions, message) = summarize(
        &previous.conditions,
        strategy.metadata.generation,
        &health,
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
        assert_eq!(spec_problems(&strategy(SPEC).spec), vec![]);
    }

    #[test]
    fn an_unknown_time_zone_and_impossible_cron_values_are_spec_problems() {
        let bad = SPEC
            .replace("Asia/Shanghai", "Asia/Atlantis")
            .replace("0 1 * * 1-6", "0 25 * * *");
        let problems = spec_problems(&strategy(&bad).spec);
        let reasons: Vec<_> = problems.iter().map(|p| p.reason).collect();
        assert_eq!(reasons, ["InvalidTimeZone", "InvalidSchedule"]);
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
    fn a_missing_secret_stalls_without_failing_the_strategy() {
        let problems = [Problem::elsewhere(
            "SecretNotFound",
            "Secret obcluster-sys not found",
        )];
        let status = desired_status(&strategy(SPEC), &problems, Timestamp::UNIX_EPOCH);
        assert_eq!(status.phase, Some(StrategyPhase::PendingScheduling));
        assert_eq!(
            status.message.as_deref(),
            Some("Secret obcluster-sys not found")
        );
    }
}
