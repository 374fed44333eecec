//! Following a restore OceanBase lists (by the task's description): its progress, its end, and — for a
//! standby restore that should become primary — the activation. Pure, like [`super::decide`].

use crate::reason::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::decide::{Decision, Inputs, Step, decision, description};
use crate::{
    api::{RecoveryTaskPhase, RecoveryTaskStatus, common::Failure},
    controller::conditions::{Health, api_time},
    observer::Interest,
    oceanbase::scn_time,
    oceanbase::{RestoreJobRow, Snapshot, TenantRole},
};

/// A task that has just ended Failed or Canceled: release what it created.
pub(super) fn ended(status: RecoveryTaskStatus, health: Health, reachable: Condition) -> Decision {
    let release = status.resource_pool.is_some();
    let step = if release { Step::Release } else { Step::Wait };
    decision(status, health, Some(vec![reachable]), step, None)
}

/// The status of a task whose restore OceanBase lists.
pub(super) fn follow(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    snapshot: &Snapshot,
    job: &RestoreJobRow,
    reachable: Condition,
) -> Decision {
    let task = inputs.task;
    let spec = &task.spec;
    let progress = if job.total_bytes > 0 {
        Some(i32::try_from((job.finish_bytes * 100 / job.total_bytes).clamp(0, 100)).unwrap_or(0))
    } else {
        base.progress
    };
    let base = RecoveryTaskStatus {
        job_id: Some(job.job_id),
        submitted_at: None,
        started_at: job.start.map(api_time).or(base.started_at),
        restore_scn: i64::try_from(job.restore_scn).ok().filter(|s| *s > 0),
        recovery_time: (job.restore_scn > 0).then(|| api_time(scn_time(job.restore_scn))),
        progress,
        ..base
    };
    let succeeded = job.status.succeeded();
    let failed = job.finished && !succeeded;
    if failed {
        let canceled = spec.cancel;
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
            Health::Stalled {
                reason: Reason::RestoreFailed,
                message: format!(
                    "{}; increase spec.retry to try again",
                    status
                        .failure
                        .as_ref()
                        .map(|f| f.message.clone())
                        .unwrap_or_default()
                ),
            }
        };
        return ended(status, health, reachable);
    }
    let keep_watching = Some(Interest {
        tenant: spec.target.tenant.clone(),
        description: Some(description(task)),
        active: true,
        restore: true,
        since: None,
        overview: Vec::new(),
    });
    if !succeeded {
        // RESTORE_FAIL on the progress row: ending, its cause comes with the history row.
        let cancel = spec.cancel && !job.status.failed();
        let health = Health::Progressing {
            reason: Reason::InProgress,
            message: format!(
                "restore job {} {}{}",
                job.job_id,
                job.status,
                progress.map(|p| format!(", {p}%")).unwrap_or_default()
            ),
        };
        let status = RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::InProgress),
            ..base
        };
        let step = if cancel { Step::Cancel } else { Step::Wait };
        return decision(status, health, Some(vec![reachable]), step, keep_watching);
    }
    let tenant = snapshot.tenant(&spec.target.tenant);
    let role = tenant.map(|t| &t.role);
    let done = !spec.activate || role == Some(&TenantRole::Primary);
    if done && job.finished {
        let status = RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::Completed),
            progress: Some(100),
            ended_at: job
                .finish
                .map(api_time)
                .or(Some(api_time(inputs.clock.now))),
            ..base
        };
        let health = Health::Ready {
            reason: Reason::Completed,
            message: format!(
                "tenant {} restored{}",
                spec.target.tenant,
                if spec.activate {
                    " and primary"
                } else {
                    " as a standby"
                }
            ),
        };
        return decision(status, health, Some(vec![reachable]), Step::Wait, None);
    }
    let activating = spec.activate && role == Some(&TenantRole::Standby);
    let health = Health::Progressing {
        reason: if activating {
            Reason::Activating
        } else {
            Reason::Finishing
        },
        message: if activating {
            format!("promoting standby tenant {} to primary", spec.target.tenant)
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
    decision(status, health, Some(vec![reachable]), step, keep_watching)
}
