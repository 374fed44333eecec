//! BackupTask controller. It checks what the task refers to (its strategy, or its cluster's Secrets) and
//! reports `Pending`, or `Stalled` with the reason; submitting the job to OceanBase is the next step of its
//! lifecycle.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile,
    conditions::Health,
    error::Problem,
    health, namespace_of, next_action,
    references::ReferenceCheck,
    status::{self},
    summarize,
};
use crate::api::{BackupTask, BackupTaskPhase, BackupTaskStatus, common::TaskSource};

impl Reconcile for BackupTask {
    const KIND: &'static str = "BackupTask";

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(task.as_ref())?;
        let spec = &task.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let cluster_name = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.data_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        let desired = desired_status(&task, cluster_name, &check.problems, Timestamp::now());
        status::write(&ctx, task.as_ref(), task.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// The status a task should have, given what was found and what its status already records.
fn desired_status(
    task: &BackupTask,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> BackupTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let health = health(
        problems,
        Health::Progressing {
            reason: "Pending".into(),
            message: "waiting to be submitted to OceanBase".into(),
        },
    );
    let (conditions, message) =
        summarize(&previous.conditions, task.metadata.generation, &health, now);
    BackupTaskStatus {
        phase: Some(previous.phase.unwrap_or(BackupTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        source: previous.source.or(Some(source_of(task))),
        ..previous
    }
}

/// A task a strategy created is `Schedule`, any other `Manual`.
fn source_of(task: &BackupTask) -> TaskSource {
    let owned_by_strategy = task
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "BackupStrategy" && o.controller == Some(true));
    if owned_by_strategy {
        TaskSource::Schedule
    } else {
        TaskSource::Manual
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;
    use crate::{
        api::{BackupTaskSpec, backup_task::BackupMode, common::StrategyReference},
        controller::conditions::{READY, RECONCILING, STALLED},
    };

    fn task() -> BackupTask {
        let mut task = BackupTask::new(
            "t",
            BackupTaskSpec {
                strategy_ref: Some(StrategyReference {
                    name: "demo".into(),
                }),
                cluster: None,
                data_destination: None,
                tenant: "tenant1".into(),
                mode: BackupMode::Full,
                plus_archivelog: false,
                cancel: false,
            },
        );
        task.metadata.generation = Some(1);
        task
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    fn condition<'a>(status: &'a BackupTaskStatus, type_: &str) -> &'a str {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map_or("missing", |c| c.status.as_str())
    }

    #[test]
    fn a_new_task_is_pending_and_reconciling() {
        let status = desired_status(&task(), Some("obcluster".into()), &[], at(10));
        assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
        assert_eq!(status.source, Some(TaskSource::Manual));
        assert_eq!(status.cluster_name.as_deref(), Some("obcluster"));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(
            (
                condition(&status, READY),
                condition(&status, RECONCILING),
                condition(&status, STALLED)
            ),
            ("False", "True", "False")
        );
    }

    #[test]
    fn a_missing_reference_stalls_the_task_with_its_reason() {
        let problems = [Problem::elsewhere(
            "StrategyNotFound",
            "BackupStrategy demo not found",
        )];
        let status = desired_status(&task(), None, &problems, at(10));
        assert_eq!(condition(&status, STALLED), "True");
        assert_eq!(
            status.message.as_deref(),
            Some("BackupStrategy demo not found")
        );
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.reason == "StrategyNotFound")
        );
    }

    #[test]
    fn recomputing_an_unchanged_task_gives_the_same_status() {
        let mut task = task();
        task.status = Some(desired_status(&task, Some("obcluster".into()), &[], at(10)));
        let again = desired_status(&task, Some("obcluster".into()), &[], at(99));
        assert_eq!(
            Some(again),
            task.status,
            "nothing changed, so nothing is written"
        );
    }

    #[test]
    fn a_task_created_by_a_strategy_comes_from_its_schedule() {
        let mut task = task();
        task.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "obbackup.dev/v1alpha1".into(),
            kind: "BackupStrategy".into(),
            name: "demo".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        assert_eq!(
            desired_status(&task, None, &[], at(1)).source,
            Some(TaskSource::Schedule)
        );
    }
}
