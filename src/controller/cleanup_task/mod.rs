//! CleanupTask controller (SPEC §2.5). Decisions are pure ([`decide`]); this file reads what they need,
//! writes the status and sends the one statement a decision asks for: `DELETE …` (after recording the
//! intent) or `CANCEL DELETE BACKUP`. The strategy creates mirrors of the delete jobs OceanBase's policy
//! starts; those only follow their job.

use crate::controller::reason::Reason;
pub mod decide;

use std::sync::Arc;

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Gate, Kind, Reconcile, conditions::Health, error::Problem, health,
    namespace_of, next_action, references::ReferenceCheck, status, summarize,
};
use crate::{
    api::{CleanupTask, CleanupTaskPhase, CleanupTaskStatus, common::TaskSource},
    observer::{ClusterKey, ObjectKey},
    oceanbase::{ObError, Redactor, sql},
};
use decide::{Step, after_submit, decide, delete_target};

impl Reconcile for CleanupTask {
    const KIND: &'static str = "CleanupTask";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    async fn reconcile(cleanup: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        if status::finished_and_observed(cleanup.status.as_ref(), cleanup.metadata.generation) {
            // Nothing left to do or to show: no reference to read, no cluster to watch.
            return Ok(Action::await_change());
        }
        let namespace = namespace_of(cleanup.as_ref())?;
        let spec = &cleanup.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let placement = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                None,
                &spec.tenant,
            )
            .await?;
        check.problems.extend(job_id_problem(&cleanup));
        let terminal = cleanup
            .status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(decide::is_terminal);
        let (Some(placement), true) = (placement, check.problems.is_empty()) else {
            if terminal {
                return Ok(Action::await_change());
            }
            let desired = desired_status(&cleanup, None, &check.problems, crate::clock::now());
            status::write(&ctx, cleanup.as_ref(), cleanup.status.as_ref(), &desired).await?;
            return Ok(next_action(&check.problems));
        };
        let observer = ctx.observers.observe(
            ClusterKey {
                namespace: namespace.clone(),
                secret: placement.cluster.connection_secret.clone(),
            },
            &placement.cluster.name,
        );
        let mut decision = decide(
            &cleanup,
            &placement.cluster.name,
            &observer.latest(),
            crate::timing::Clock::current(),
        );
        decision.status.source = cleanup
            .status
            .as_ref()
            .and_then(|s| s.source)
            .or(Some(source_of(&cleanup)));
        ctx.observers.watch(
            &observer,
            ObjectKey {
                kind: Self::KIND,
                namespace: namespace.clone(),
                name: cleanup.name_any(),
            },
            decision.interest.clone(),
        );
        let key = format!("{namespace}/{}", cleanup.name_any());
        let attempt = format!("{:?}", decision.step);
        let current = cleanup.status.clone();
        let kind = if decision.step == Step::Cancel {
            Kind::OneShot
        } else {
            Kind::Repeatable
        };
        match ctx.statements.gate(&key, &attempt, kind) {
            Gate::Open => {}
            Gate::Refused(wait) => return Ok(Action::requeue(wait)),
            Gate::Settling(wait) => {
                status::write(&ctx, cleanup.as_ref(), current.as_ref(), &decision.status).await?;
                return Ok(Action::requeue(wait));
            }
        }
        let statement = match decision.step {
            Step::Wait => {
                status::write(&ctx, cleanup.as_ref(), current.as_ref(), &decision.status).await?;
                None
            }
            Step::Cancel => {
                status::write(&ctx, cleanup.as_ref(), current.as_ref(), &decision.status).await?;
                let outcome = ctx
                    .observers
                    .execute(
                        &observer,
                        vec![sql::cancel_delete(&spec.tenant)],
                        &Redactor::default(),
                    )
                    .await;
                if let Err(error) = &outcome {
                    tracing::warn!(%error, tenant = %spec.tenant, "CANCEL DELETE BACKUP failed; retrying on the next look");
                }
                Some(outcome.is_ok())
            }
            Step::Submit => {
                // The intent goes to the API server before the statement goes to OceanBase.
                let intent = CleanupTaskStatus {
                    submitted_at: Some(super::conditions::api_time(crate::clock::now())),
                    ..decision.status.clone()
                };
                status::write(&ctx, cleanup.as_ref(), current.as_ref(), &intent).await?;
                crate::crash::point("intent/CleanupTask/after");
                let statement = sql::delete_backup(&spec.tenant, &delete_target(&spec.target));
                let outcome = ctx
                    .observers
                    .execute(&observer, vec![statement], &Redactor::default())
                    .await;
                let went_through = outcome.as_ref().err().is_none_or(ObError::is_transient);
                let after = after_submit(&cleanup, intent.clone(), outcome, crate::clock::now());
                status::write(&ctx, cleanup.as_ref(), Some(&intent), &after).await?;
                Some(went_through)
            }
        };
        if let Some(went_through) = statement {
            super::statement_sent(&ctx, &observer, &key, &attempt, kind, went_through);
        }
        let grace = crate::timing::Clock::current()
            .grace_recheck(decision.status.submitted_at.as_ref().map(|t| t.0));
        let wait = decision.interest.as_ref().map(|_| {
            grace.map_or(crate::timing::TASK_SAFETY_RECHECK, |g| {
                g.min(crate::timing::TASK_SAFETY_RECHECK)
            })
        });
        Ok(ctx.statements.requeue(&key, wait))
    }
}

/// `spec.jobId` belongs to the mirrors a BackupStrategy makes of the delete jobs OceanBase starts by itself
/// (their controller is the strategy). On any other task it names a job nobody asked this task to follow.
fn job_id_problem(cleanup: &CleanupTask) -> Option<Problem> {
    let id = cleanup.spec.job_id?;
    let mirror = cleanup.owner_references().iter().any(|o| {
        o.controller == Some(true) && o.kind == <crate::api::BackupStrategy as Reconcile>::KIND
    });
    (!mirror).then(|| {
        Problem::in_spec(
            Reason::JobIdSetByUser,
            format!(
                "spec.jobId ({id}) is set only by the operator, on the CleanupTasks a BackupStrategy makes \
                 to mirror delete jobs OceanBase started itself; to request a cleanup, recreate this task \
                 without jobId (the field cannot be changed)"
            ),
        )
    })
}

/// A cleanup a strategy created (a mirror of a policy job) is `External`, any other `Manual`.
fn source_of(cleanup: &CleanupTask) -> TaskSource {
    if cleanup.spec.job_id.is_some() {
        TaskSource::External
    } else {
        TaskSource::Manual
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
            reason: Reason::Pending,
            message: "waiting to be started in OceanBase".into(),
        },
    );
    let (conditions, message) = summarize(
        &previous.conditions,
        cleanup.metadata.generation,
        &health,
        now,
    );
    let source = source_of(cleanup);
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

    #[test]
    fn a_job_id_is_the_operators_on_a_strategys_mirror_only() {
        assert_eq!(job_id_problem(&cleanup(None)), None);
        let by_hand = job_id_problem(&cleanup(Some(42))).expect("a user-set jobId");
        assert_eq!(by_hand.reason, Reason::JobIdSetByUser);
        let status = desired_status(&cleanup(Some(42)), None, &[by_hand], Timestamp::UNIX_EPOCH);
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
        assert_eq!(job_id_problem(&mirror), None);
    }
}
