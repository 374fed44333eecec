//! RecoveryTask controller. It checks the restore's references (source strategy or destinations, target
//! cluster, decryption password) and its recovery point, and reports `Pending`, or `Stalled` with the reason;
//! the pre-flight against OceanBase and the restore itself are the next steps of its lifecycle.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile, conditions::Health, error::Problem, health, namespace_of,
    next_action, references::ReferenceCheck, status, summarize,
};
use crate::api::{RecoveryTask, RecoveryTaskPhase, RecoveryTaskSpec, RecoveryTaskStatus};

impl Reconcile for RecoveryTask {
    const KIND: &'static str = "RecoveryTask";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(task.as_ref())?;
        let spec = &task.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        check.problems = spec_problems(spec);
        let source_cluster = match &spec.source.strategy_ref {
            Some(reference) => check
                .strategy(reference)
                .await?
                .map(|s| s.spec.cluster.name),
            None => {
                for destination in [&spec.source.data_destination, &spec.source.log_destination]
                    .into_iter()
                    .flatten()
                {
                    check.destination(destination).await?;
                }
                spec.source.cluster_name.clone()
            }
        };
        check.cluster(&spec.target.cluster).await?;
        check.password(spec.decryption.as_ref()).await?;
        let desired = desired_status(&task, source_cluster, &check.problems, crate::clock::now());
        status::write(&ctx, task.as_ref(), task.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// What is wrong with the spec that the CRD schema cannot tell: a recovery time that is not a real instant.
fn spec_problems(spec: &RecoveryTaskSpec) -> Vec<Problem> {
    spec.until
        .time
        .as_deref()
        .and_then(|time| time.parse::<Timestamp>().err().map(|e| (time, e)))
        .map(|(time, e)| {
            Problem::in_spec(
                "InvalidRecoveryPoint",
                format!("until.time {time} is not a valid time: {e}"),
            )
        })
        .into_iter()
        .collect()
}

/// The status a restore should have, given what was found and what its status already records.
fn desired_status(
    task: &RecoveryTask,
    source_cluster: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> RecoveryTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let health = health(
        problems,
        Health::Progressing {
            reason: "Pending".into(),
            message: "waiting for the pre-flight checks against OceanBase".into(),
        },
    );
    let (conditions, message) =
        summarize(&previous.conditions, task.metadata.generation, &health, now);
    RecoveryTaskStatus {
        phase: Some(previous.phase.unwrap_or(RecoveryTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        source_cluster_name: source_cluster.or(previous.source_cluster_name),
        observed_retry: previous.observed_retry.or(Some(task.spec.retry)),
        ..previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(until: &str) -> RecoveryTask {
        let spec: RecoveryTaskSpec = serde_norway::from_str(&format!(
            r#"
source: {{strategyRef: {{name: demo}}, tenant: tenant1}}
target:
  cluster: {{name: obcluster, connectionSecret: obcluster-sys}}
  tenant: restored1
  resources: {{unit: {{maxCpu: 2, memorySize: 4G}}, zones: [zone1]}}
until: {until}
"#
        ))
        .expect("valid spec");
        RecoveryTask::new("r", spec)
    }

    #[test]
    fn a_real_instant_is_accepted_and_an_impossible_date_is_not() {
        assert_eq!(
            spec_problems(&task("{time: '2026-11-20T08:30:00.5+08:00'}").spec),
            vec![]
        );
        assert_eq!(spec_problems(&task("{latest: true}").spec), vec![]);
        let problems = spec_problems(&task("{time: '2026-02-30T08:30:00Z'}").spec);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "InvalidRecoveryPoint");
    }

    #[test]
    fn a_new_restore_is_pending_and_remembers_its_attempt() {
        let status = desired_status(
            &task("{latest: true}"),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(status.observed_retry, Some(0));
        assert_eq!(status.source_cluster_name.as_deref(), Some("obcluster"));
    }
}
