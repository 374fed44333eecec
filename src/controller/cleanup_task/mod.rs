//! CleanupTask controller (docs/contributing/design.md §2.5), driven by [`task::drive`]. Decisions
//! are pure ([`decide`]); this file says what a cleanup refers to and which statements each step
//! sends: `DELETE …` (after the intent) or `CANCEL DELETE BACKUP`. The strategy creates mirrors of
//! the delete jobs started outside the operator; those only follow their job.

pub mod decide;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Kind, Reconcile,
    error::Problem,
    references::{Placement, ReferenceCheck},
    status::StatusView,
    task::{self, Batch, Effect, Prepared, References, Task},
};
use crate::{
    api::{CleanupTask, CleanupTaskPhase, CleanupTaskStatus, common::ClusterConnection},
    observer::Observation,
    oceanbase::{ObError, sql},
    timing::Clock,
};
use decide::{Decision, Inputs, Step, after_submit, delete_target};

super::status::status_view!(
    crate::api::CleanupTaskStatus,
    crate::api::CleanupTaskPhase::is_terminal
);
super::task::submission!(crate::api::CleanupTaskStatus);

impl Reconcile for CleanupTask {
    const KIND: &'static str = "CleanupTask";
    const READ_ANNOTATIONS: &'static [&'static str] = &[];

    fn strategy_ref(&self) -> Option<&str> {
        self.spec.strategy_ref.as_ref().map(|r| r.name.as_str())
    }

    fn phase_label(&self) -> Option<&'static str> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.status.as_ref().map_or(&[], StatusView::conditions)
    }

    async fn reconcile(cleanup: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        task::drive(cleanup, ctx).await
    }
}

impl Task for CleanupTask {
    type Step = Step;
    type Refs = Placement;
    const SAFETY_RECHECK: Duration = crate::timing::TASK_SAFETY_RECHECK;

    fn done(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(CleanupTaskPhase::is_terminal)
    }

    async fn dereference(
        &self,
        ctx: &Context,
        namespace: &str,
    ) -> Result<References<Placement>, Error> {
        let spec = &self.spec;
        let mut check = ReferenceCheck::new(ctx, namespace);
        let placement = check
            .placement(
                crate::api::backup_strategy::BackupMethod::Physical,
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                None,
                &spec.tenant,
            )
            .await?;
        check
            .problems
            .extend(super::references::job_id_problem(self, self.spec.job_id));
        Ok(References::of(placement, check.problems))
    }

    fn cluster(placement: &Placement) -> &ClusterConnection {
        &placement.cluster
    }

    fn stalled(
        &self,
        cluster: Option<String>,
        problems: &[Problem],
        now: Timestamp,
    ) -> CleanupTaskStatus {
        decide::stalled(self, cluster, problems, now)
    }

    fn decide(
        &self,
        _ctx: &Context,
        placement: &Placement,
        observation: &Observation,
        clock: Clock,
    ) -> Decision {
        decide::decide(&Inputs {
            cleanup: self,
            cluster_name: &placement.cluster.name,
            observation,
            clock,
        })
    }

    /// A tenant ob-operator's backup policy holds is cleaned by it, not here.
    async fn conflict(
        &self,
        ctx: &Context,
        namespace: &str,
        placement: &Placement,
        step: Step,
    ) -> Result<Option<Problem>, Error> {
        if step != Step::Submit {
            return Ok(None);
        }
        let tenants = [self.spec.tenant.clone()];
        Ok(crate::controller::coexistence::problem(
            ctx,
            namespace,
            &placement.cluster,
            &tenants,
        ))
    }

    fn effect(step: Step) -> Effect {
        match step {
            Step::Wait => Effect::None,
            Step::Submit => Effect::Submit,
            Step::Cancel => Effect::Send(Kind::OneShot),
        }
    }

    async fn prepare(
        &self,
        _ctx: &Context,
        _namespace: &str,
        _placement: &Placement,
        step: Step,
        status: &CleanupTaskStatus,
    ) -> Result<Prepared<CleanupTaskStatus>, Error> {
        let tenant = &self.spec.tenant;
        Ok(match step {
            Step::Wait => Prepared::Hold(status.clone()),
            Step::Submit => Prepared::Send(Batch::plain(vec![sql::delete_backup(
                tenant,
                &delete_target(&self.spec.target),
            )])),
            Step::Cancel => Prepared::Send(Batch::plain(vec![sql::cancel_delete(tenant)])),
        })
    }

    fn after(
        &self,
        step: Step,
        sent: CleanupTaskStatus,
        outcome: Result<(), ObError>,
        now: Timestamp,
    ) -> (CleanupTaskStatus, Option<Step>) {
        match step {
            Step::Submit => (after_submit(self, sent, outcome, now), None),
            // A cancel changes nothing until OceanBase is read again.
            Step::Wait | Step::Cancel => (sent, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CleanupTaskPhase, common::TaskSource};
    use crate::api::{
        CleanupTaskSpec,
        cleanup_task::CleanupTarget,
        common::{ClusterConnection, StrategyReference},
    };
    use crate::controller::references::job_id_problem;
    use crate::reason::Reason;

    fn cleanup(job_id: Option<i64>) -> CleanupTask {
        CleanupTask::new(
            "c",
            CleanupTaskSpec {
                strategy_ref: job_id.is_none().then(|| StrategyReference {
                    name: "demo".into(),
                }),
                cluster: job_id.map(|_| ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: Some("obcluster-sys".into()),
                    ob_cluster: None,
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
        let status = decide::stalled(
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
        let status = decide::stalled(
            &cleanup(Some(42)),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.source, Some(TaskSource::External));
        assert_eq!(status.job_id, Some(42));
    }

    #[test]
    fn a_job_id_is_the_operators_on_a_strategys_mirror_only() {
        assert_eq!(job_id_problem(&cleanup(None), None), None);
        let by_hand = job_id_problem(&cleanup(Some(42)), Some(42)).expect("a user-set jobId");
        assert_eq!(by_hand.reason, Reason::JobIdSetByUser);
        let status = decide::stalled(&cleanup(Some(42)), None, &[by_hand], Timestamp::UNIX_EPOCH);
        let stalled = status.conditions.iter().find(|c| c.type_ == "Stalled");
        assert_eq!(stalled.map(|c| c.status.as_str()), Some("True"));
        let mut mirror = cleanup(Some(42));
        mirror.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "obbackup.dev/v1alpha1".into(),
                kind: "BackupStrategy".into(),
                name: "demo".into(),
                uid: "u".into(),
                controller: Some(true),
                ..Default::default()
            },
        ]);
        assert_eq!(job_id_problem(&mirror, Some(42)), None);
    }
}
