//! CleanupTask controller. It checks what the cleanup refers to and reports `Pending`, or `Stalled` with the
//! reason; starting or mirroring OceanBase's delete jobs is the next step of its lifecycle.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile, conditions::Health, error::Problem, health, namespace_of,
    next_action, references::ReferenceCheck, status, summarize,
};
use crate::api::{CleanupTask, CleanupTaskPhase, CleanupTaskStatus, common::TaskSource};

impl Reconcile for CleanupTask {
    const KIND: &'static str = "CleanupTask";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    async fn reconcile(cleanup: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(cleanup.as_ref())?;
        let spec = &cleanup.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let cluster_name = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                None,
                &spec.tenant,
            )
            .await?
            .map(|p| p.cluster.name);
        let desired = desired_status(&cleanup, cluster_name, &check.problems, Timestamp::now());
        status::write(&ctx, cleanup.as_ref(), cleanup.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// The status a cleanup should have, given what was found and what its status already records.
fn desired_status(
    cleanup: &CleanupTask,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> CleanupTaskStatus {
    let previous = cleanup.status.clone().unwrap_or_default();
    let health = health(
        problems,
        Health::Progressing {
            reason: "Pending".into(),
            message: "waiting to be started in OceanBase".into(),
        },
    );
    let (conditions, message) = summarize(
        &previous.conditions,
        cleanup.metadata.generation,
        &health,
        now,
    );
    // A cleanup carrying OceanBase's job id mirrors a job OceanBase started from its delete policy.
    let source = if cleanup.spec.job_id.is_some() {
        TaskSource::External
    } else {
        TaskSource::Manual
    };
    CleanupTaskStatus {
        phase: Some(previous.phase.unwrap_or(CleanupTaskPhase::Pending)),
        conditions,
        observed_generation: cleanup.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        source: previous.source.or(Some(source)),
        job_id: previous.job_id.or(cleanup.spec.job_id),
        ..previous
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        CleanupTaskSpec,
        cleanup_task::CleanupTarget,
        common::{ClusterConnection, StrategyReference},
    };

    fn cleanup(job_id: Option<i64>) -> CleanupTask {
        CleanupTask::new(
            "c",
            CleanupTaskSpec {
                strategy_ref: job_id.is_none().then(|| StrategyReference {
                    name: "demo".into(),
                }),
                cluster: job_id.map(|_| ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: "obcluster-sys".into(),
                }),
                tenant: "tenant1".into(),
                target: CleanupTarget {
                    obsolete: Some(true),
                    backup_set_ids: None,
                    archivelog_piece_ids: None,
                },
                job_id,
                cancel: false,
            },
        )
    }

    #[test]
    fn a_requested_cleanup_is_manual_and_pending() {
        let status = desired_status(
            &cleanup(None),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.phase, Some(CleanupTaskPhase::Pending));
        assert_eq!(status.source, Some(TaskSource::Manual));
        assert_eq!(status.job_id, None);
    }

    #[test]
    fn a_mirror_of_an_oceanbase_job_is_external_and_carries_its_id() {
        let status = desired_status(
            &cleanup(Some(42)),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.source, Some(TaskSource::External));
        assert_eq!(status.job_id, Some(42));
    }
}
