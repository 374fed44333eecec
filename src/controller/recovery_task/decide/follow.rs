//! Following a restore OceanBase lists (by the task's description): its progress, its end, and — for a
//! standby restore that should become primary — the activation. Pure, like [`super::decide`].

use crate::reason::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::facts::{Decision, Inputs, Step, decision, ended, interest};
use crate::{
    api::{RecoveryTaskPhase, RecoveryTaskStatus, common::Failure},
    controller::conditions::{Health, api_time},
    oceanbase::scn_time,
    oceanbase::{RestoreJobRow, Snapshot, TenantRole},
};

/// The status of a task whose restore OceanBase lists: what the job shows, then the stage it is at — ended
/// without success, running, or restored (and activated, when asked).
pub fn follow(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    snapshot: &Snapshot,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let base = shown(base, job);
    let succeeded = job.status.succeeded();
    if job.finished && !succeeded {
        return unsuccessful(inputs, base, job, reachable);
    }
    if !succeeded {
        return running(inputs, base, job, reachable);
    }
    restored(inputs, base, snapshot, job, reachable)
}

/// The status with what the job shows: its id, start, recovery point and progress.
pub(super) fn shown(base: RecoveryTaskStatus, job: &RestoreJobRow) -> RecoveryTaskStatus {
    let progress = if job.total_bytes > 0 {
        Some(i32::try_from((job.finish_bytes * 100 / job.total_bytes).clamp(0, 100)).unwrap_or(0))
    } else {
        base.progress
    };
    RecoveryTaskStatus {
        job_id: Some(job.job_id),
        submitted_at: None,
        started_at: job.start.map(api_time).or(base.started_at),
        restore_scn: i64::try_from(job.restore_scn).ok().filter(|s| *s > 0),
        recovery_time: (job.restore_scn > 0).then(|| api_time(scn_time(job.restore_scn))),
        progress,
        ..base
    }
}

/// A restore that ended without success: Canceled when the task asked for it, else Failed with
/// OceanBase's cause.
fn unsuccessful(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let canceled = inputs.task.spec.cancel;
    let status = RecoveryTaskStatus {
        phase: Some(if canceled {
            RecoveryTaskPhase::Canceled
        } else {
            RecoveryTaskPhase::Failed
        }),
        ended_at: job
            .finish
            .map(api_time)
            .or(Some(api_time(inputs.clock.now))),
        failure: (!canceled).then(|| Failure {
            code: None,
            message: if job.comment.is_empty() {
                format!(
                    "OceanBase ended restore job {} with {}",
                    job.job_id, job.status
                )
            } else {
                job.comment.clone()
            },
        }),
        ..base
    };
    let health = if canceled {
        Health::Ready {
            reason: Reason::Canceled,
            message: format!("restore job {} was canceled", job.job_id),
        }
    } else {
        let failure = status.failure.as_ref().map(|f| f.message.clone());
        Health::Stalled {
            reason: Reason::RestoreFailed,
            message: format!(
                "{}; increase spec.retry to try again",
                failure.unwrap_or_default()
            ),
        }
    };
    ended(status, health, reachable)
}

/// A restore under way (RESTORE_FAIL on the progress row is ending: its cause comes with the history row);
/// `cancel: true` cancels it.
fn running(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let cancel = inputs.task.spec.cancel && !job.status.failed();
    let health = Health::Progressing {
        reason: Reason::InProgress,
        message: format!(
            "restore job {} {}{}",
            job.job_id,
            job.status,
            base.progress.map(|p| format!(", {p}%")).unwrap_or_default()
        ),
    };
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::InProgress),
        ..base
    };
    let step = if cancel { Step::Cancel } else { Step::Wait };
    let interest = interest(inputs.task, true);
    decision(status, health, Some(vec![reachable]), step, interest)
}

/// A restore OceanBase finished: Completed once the tenant is what the task asked for (primary, or a
/// standby), else activating the standby or waiting for OceanBase to record the end.
fn restored(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    snapshot: &Snapshot,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let spec = &inputs.task.spec;
    let tenant = &spec.target.tenant;
    let role = snapshot.tenant(tenant).map(|t| &t.role);
    let done = !spec.activate || role == Some(&TenantRole::Primary);
    if done && job.finished {
        return completed(inputs, base, job, reachable);
    }
    let activating = spec.activate && role == Some(&TenantRole::Standby);
    let health = Health::Progressing {
        reason: if activating {
            Reason::Activating
        } else {
            Reason::Finishing
        },
        message: if activating {
            format!("promoting standby tenant {tenant} to primary")
        } else {
            format!(
                "restore job {} finished; waiting for OceanBase to record it",
                job.job_id
            )
        },
    };
    let status = RecoveryTaskStatus {
        phase: Some(if spec.activate {
            RecoveryTaskPhase::Activating
        } else {
            RecoveryTaskPhase::InProgress
        }),
        progress: Some(100),
        ..base
    };
    let step = if activating {
        Step::Activate
    } else {
        Step::Wait
    };
    let interest = interest(inputs.task, true);
    decision(status, health, Some(vec![reachable]), step, interest)
}

/// A restored tenant that is what the task asked for (primary, or a standby): Completed, no longer watched.
fn completed(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Completed),
        progress: Some(100),
        ended_at: job
            .finish
            .map(api_time)
            .or(Some(api_time(inputs.clock.now))),
        ..base
    };
    let spec = &inputs.task.spec;
    let how = if spec.activate {
        " and primary"
    } else {
        " as a standby"
    };
    let health = Health::Ready {
        reason: Reason::Completed,
        message: format!("tenant {} restored{how}", spec.target.tenant),
    };
    decision(status, health, Some(vec![reachable]), Step::Wait, None)
}
