//! A mirror of a restore started outside the operator (docs/guide/external-jobs.md): it shows the restore
//! OceanBase lists under its job id and ends as OceanBase ended it. It never acts: no cancel, activation,
//! retry or release.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::facts::{Decision, Inputs, Step, decision, interest};
use super::follow::shown;
use crate::{
    api::{RecoveryTaskPhase, RecoveryTaskStatus, common::Failure},
    controller::conditions::{Health, api_time},
    oceanbase::{RestoreJobRow, Snapshot},
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
        let message = format!(
            "restore job {job_id} is not listed by OceanBase: it ended over a day before this read"
        );
        let health = Health::Progressing {
            reason: Reason::LookingUpJob,
            message,
        };
        let watching = interest(task, false);
        return decision(base, health, Some(vec![reachable]), Step::Wait, watching);
    };
    let base = RecoveryTaskStatus {
        source_cluster_name: Some(job.backup_cluster_name.clone()).filter(|c| !c.is_empty()),
        ..shown(base, job)
    };
    // Only the history says when and why it ended; until it lists the row, the end waits.
    let Some((phase, health)) = ended(job).filter(|_| job.finished) else {
        let health = Health::Progressing {
            reason: Reason::InProgress,
            message: format!("restore job {} {}", job.job_id, job.status),
        };
        let status = RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::InProgress),
            ..base
        };
        let watching = interest(task, true);
        return decision(status, health, Some(vec![reachable]), Step::Wait, watching);
    };
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

/// How a restore ended, once it has: Completed, or Failed with OceanBase's comment.
fn ended(job: &RestoreJobRow) -> Option<(RecoveryTaskPhase, Health)> {
    if job.status.succeeded() {
        let message = format!("restore job {} succeeded", job.job_id);
        let health = Health::Ready {
            reason: Reason::Completed,
            message,
        };
        return Some((RecoveryTaskPhase::Completed, health));
    }
    if !job.status.failed() {
        return None;
    }
    let message = if job.comment.is_empty() {
        format!(
            "OceanBase ended restore job {} with {}",
            job.job_id, job.status
        )
    } else {
        job.comment.clone()
    };
    let health = Health::Stalled {
        reason: Reason::RestoreFailed,
        message,
    };
    Some((RecoveryTaskPhase::Failed, health))
}
