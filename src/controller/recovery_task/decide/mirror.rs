//! A mirror of a restore started outside the operator (docs/guide/external-jobs.md): it shows the restore
//! OceanBase lists under its job id and ends as OceanBase ended it. It never acts: no cancel, activation,
//! retry or release.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::facts::{Decision, Inputs, Step, decision, interest};
use super::follow::shown;
use crate::{
    api::{RecoveryTaskPhase, RecoveryTaskStatus, common::Failure},
    controller::conditions::{Health, api_time},
    oceanbase::Snapshot,
    reason::Reason,
};

/// The status of a mirror of restore job `job_id`.
pub fn follow(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    snapshot: &Snapshot,
    job_id: i64,
    reachable: Condition,
) -> Decision {
    let task = inputs.task;
    let Some(job) = snapshot.restores.iter().find(|r| r.job_id == job_id) else {
        let health = Health::Progressing {
            reason: Reason::LookingUpJob,
            message: format!(
                "restore job {job_id} is not listed by OceanBase: it ended over a day before this read"
            ),
        };
        return decision(
            base,
            health,
            Some(vec![reachable]),
            Step::Wait,
            interest(task, false),
        );
    };
    let base = RecoveryTaskStatus {
        source_cluster_name: Some(job.backup_cluster_name.clone()).filter(|c| !c.is_empty()),
        ..shown(base, job)
    };
    let (phase, health) = if job.status.succeeded() {
        let message = format!("restore job {} succeeded", job.job_id);
        (
            RecoveryTaskPhase::Completed,
            Health::Ready {
                reason: Reason::Completed,
                message,
            },
        )
    } else if job.status.failed() {
        let message = if job.comment.is_empty() {
            format!(
                "OceanBase ended restore job {} with {}",
                job.job_id, job.status
            )
        } else {
            job.comment.clone()
        };
        (
            RecoveryTaskPhase::Failed,
            Health::Stalled {
                reason: Reason::RestoreFailed,
                message,
            },
        )
    } else {
        let health = Health::Progressing {
            reason: Reason::InProgress,
            message: format!("restore job {} {}", job.job_id, job.status),
        };
        let status = RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::InProgress),
            ..base
        };
        return decision(
            status,
            health,
            Some(vec![reachable]),
            Step::Wait,
            interest(task, true),
        );
    };
    // Only the history says when and why it ended; until it lists the row, the end waits.
    if !job.finished {
        let health = Health::Progressing {
            reason: Reason::InProgress,
            message: format!(
                "restore job {} {}: waiting for its end",
                job.job_id, job.status
            ),
        };
        return decision(
            base,
            health,
            Some(vec![reachable]),
            Step::Wait,
            interest(task, true),
        );
    }
    let failure = match &health {
        Health::Stalled { message, .. } => Some(Failure {
            code: None,
            message: message.clone(),
        }),
        _ => None,
    };
    let status = RecoveryTaskStatus {
        phase: Some(phase),
        ended_at: job
            .finish
            .map(api_time)
            .or(Some(api_time(inputs.clock.now))),
        failure,
        ..base
    };
    decision(status, health, Some(vec![reachable]), Step::Wait, None)
}
