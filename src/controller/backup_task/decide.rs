//! What a BackupTask should look like and do next, as a pure function of its spec, its status, the last
//! observation of its cluster and the time (SPEC §2.3, reference §4 and §10).
//!
//! Exactly once: the job is submitted with `DESCRIPTION` = the task's UID, and the intent (`submittedAt`)
//! is written before the statement is sent. A task whose intent is recorded but whose job OceanBase does not
//! list is submitted again only once a snapshot read well after the intent shows no such job — by then a
//! statement sent before a crash has either created the job or failed.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::{
    api::{BackupTask, BackupTaskPhase, BackupTaskStatus, common::Failure},
    controller::conditions::{CLUSTER_REACHABLE, Health, PROGRESSING, condition, with_extra},
    observer::{Interest, Observation},
    oceanbase::{BackupJobRow, ObError, Snapshot, is_final_job_status},
};

/// How long after the recorded intent a missing job means the statement never created one: longer than a
/// statement may run (the client's query timeout) plus a margin.
pub const SUBMIT_GRACE: SignedDuration = SignedDuration::from_secs(45);

/// What the reconcile must do after writing the status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: wait for OceanBase or for a change.
    Wait,
    /// Set the tenant's `DATA_BACKUP_DEST` (no job of the tenant is running).
    SetDataDest,
    /// Record the intent, then send `BACKUP … DESCRIPTION = uid`.
    Submit,
    /// Send `CANCEL BACKUP` for the tenant.
    Cancel,
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: BackupTaskStatus,
    pub step: Step,
    /// What to watch in the observer (`None` once the task has ended).
    pub interest: Option<Interest>,
    /// When to look again even if nothing changes (to notice a stuck job).
    pub recheck: Option<Duration>,
}

/// What the decision reads.
pub struct Inputs<'a> {
    pub task: &'a BackupTask,
    pub cluster_name: &'a str,
    /// The data destination the tenant must have, without access keys.
    pub data_uri: &'a str,
    pub observation: &'a Observation,
    pub now: Timestamp,
    /// A running job without progress for this long gets `Progressing=False`.
    pub stall_timeout: SignedDuration,
}

/// Decides the task's status and next step.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let task = inputs.task;
    let previous = task.status.clone().unwrap_or_default();
    let uid = task.metadata.uid.clone().unwrap_or_default();
    let base = BackupTaskStatus {
        observed_generation: task.metadata.generation,
        cluster_name: Some(inputs.cluster_name.to_string()),
        ..previous.clone()
    };
    let interest = |active: bool| {
        Some(Interest {
            tenant: task.spec.tenant.clone(),
            description: Some(uid.clone()),
            active,
        })
    };
    if previous.phase.is_some_and(is_terminal) {
        return Decision {
            status: BackupTaskStatus {
                observed_generation: task.metadata.generation,
                ..previous
            },
            step: Step::Wait,
            interest: None,
            recheck: None,
        };
    }
    let (snapshot, at) = match inputs.observation {
        Observation::Seen { snapshot, at } => (snapshot.as_ref(), *at),
        Observation::Unknown => {
            let health = Health::Progressing {
                reason: "WaitingForCluster".into(),
                message: format!("reading cluster {}", inputs.cluster_name),
            };
            return Decision {
                status: with_health(base, task, &health, None, inputs.now),
                step: Step::Wait,
                interest: interest(true),
                recheck: None,
            };
        }
        Observation::Unreachable { reason, .. } => {
            // Never a failure by itself: keep the phase, say why nothing moves.
            let message = format!(
                "cluster {} cannot be reached: {reason}",
                inputs.cluster_name
            );
            let health = Health::Progressing {
                reason: "ClusterUnreachable".into(),
                message: message.clone(),
            };
            let reachable = condition(
                CLUSTER_REACHABLE,
                false,
                "Unreachable",
                &message,
                task.metadata.generation,
            );
            return Decision {
                status: with_health(base, task, &health, Some(vec![reachable]), inputs.now),
                step: Step::Wait,
                interest: interest(true),
                recheck: None,
            };
        }
    };
    let reachable = condition(
        CLUSTER_REACHABLE,
        true,
        "Reachable",
        "the cluster answered",
        task.metadata.generation,
    );
    let Some(tenant) = snapshot.tenant(&task.spec.tenant) else {
        let health = Health::Stalled {
            reason: "TenantNotFound".into(),
            message: format!(
                "cluster {} has no user tenant {}",
                inputs.cluster_name, task.spec.tenant
            ),
        };
        return Decision {
            status: with_health(base, task, &health, Some(vec![reachable]), inputs.now),
            step: Step::Wait,
            interest: interest(false),
            recheck: None,
        };
    };
    if let Some(job) = snapshot.job_by_description(tenant.id, &uid) {
        return follow_job(inputs, base, snapshot, job, reachable);
    }
    // No job yet.
    let submitted = previous.submitted_at.as_ref().map(|t| t.0);
    if let Some(submitted) = submitted
        && at < submitted + SUBMIT_GRACE
    {
        let health = Health::Progressing {
            reason: "Submitted".into(),
            message: "submitted; waiting for OceanBase to list the job".into(),
        };
        return pending(inputs, base, health, reachable, Step::Wait, interest(true));
    }
    if task.spec.cancel {
        let health = Health::Ready {
            reason: "Canceled".into(),
            message: "canceled before a backup job was started".into(),
        };
        let status = BackupTaskStatus {
            phase: Some(BackupTaskPhase::Canceled),
            submitted_at: None,
            ended_at: Some(Time(inputs.now)),
            ..base
        };
        return Decision {
            status: with_health(status, task, &health, Some(vec![reachable]), inputs.now),
            step: Step::Wait,
            interest: None,
            recheck: None,
        };
    }
    let base = BackupTaskStatus {
        submitted_at: None,
        ..base
    };
    let wait = |reason: &str, message: String| Health::Progressing {
        reason: reason.into(),
        message,
    };
    if tenant.status != "NORMAL" {
        let health = wait(
            "TenantNotReady",
            format!(
                "tenant {} is {}; a backup needs it NORMAL",
                tenant.name, tenant.status
            ),
        );
        return pending(inputs, base, health, reachable, Step::Wait, interest(false));
    }
    let archive = snapshot
        .round(tenant.id)
        .map_or("not running", |r| r.status.as_str());
    if archive != "DOING" {
        let health = wait(
            "WaitingForLogArchive",
            format!(
                "log archiving of tenant {} is {archive}; OceanBase starts a backup only while it is DOING",
                tenant.name
            ),
        );
        return pending(inputs, base, health, reachable, Step::Wait, interest(true));
    }
    if let Some(other) = snapshot.active_job(tenant.id) {
        let health = wait(
            "AnotherBackupRunning",
            format!(
                "backup job {} of tenant {} is {}; OceanBase runs one backup per tenant at a time",
                other.job_id, tenant.name, other.status
            ),
        );
        return pending(inputs, base, health, reachable, Step::Wait, interest(true));
    }
    if snapshot.data_dest(tenant.id) != Some(inputs.data_uri) {
        let health = wait(
            "SettingDestination",
            format!(
                "setting DATA_BACKUP_DEST of tenant {} to {}",
                tenant.name, inputs.data_uri
            ),
        );
        return pending(
            inputs,
            base,
            health,
            reachable,
            Step::SetDataDest,
            interest(true),
        );
    }
    let health = wait("Submitting", "submitting the backup job".into());
    pending(
        inputs,
        base,
        health,
        reachable,
        Step::Submit,
        interest(true),
    )
}

fn pending(
    inputs: &Inputs<'_>,
    base: BackupTaskStatus,
    health: Health,
    reachable: Condition,
    step: Step,
    interest: Option<Interest>,
) -> Decision {
    let status = BackupTaskStatus {
        phase: Some(BackupTaskPhase::Pending),
        ..base
    };
    Decision {
        status: with_health(
            status,
            inputs.task,
            &health,
            Some(vec![reachable]),
            inputs.now,
        ),
        step,
        interest,
        recheck: None,
    }
}

/// The status of a task whose job OceanBase lists.
fn follow_job(
    inputs: &Inputs<'_>,
    base: BackupTaskStatus,
    snapshot: &Snapshot,
    job: &BackupJobRow,
    reachable: Condition,
) -> Decision {
    let task = inputs.task;
    let progress = snapshot.progress(job.tenant_id, job.job_id);
    let set = snapshot.set(job.tenant_id, job.backup_set_id);
    let phase = phase_of(&job.status);
    let percent = match (phase, progress) {
        (BackupTaskPhase::Completed, _) => Some(100),
        (_, Some(p)) if p.tablet_count > 0 => Some(
            i32::try_from((p.finish_tablet_count * 100 / p.tablet_count).clamp(0, 100))
                .unwrap_or(0),
        ),
        _ => base.progress,
    };
    let (input, output) = match (progress, set) {
        (Some(p), _) if !is_final_job_status(&job.status) => {
            (Some(p.input_bytes), Some(p.output_bytes))
        }
        (_, Some(s)) => (Some(s.input_bytes), Some(s.output_bytes)),
        _ => (base.input_bytes, base.output_bytes),
    };
    let moved = percent != base.progress || input != base.input_bytes;
    let last_progress = if moved || base.last_progress_time.is_none() {
        Time(inputs.now)
    } else {
        base.last_progress_time.clone().unwrap_or(Time(inputs.now))
    };
    let directory = set
        .map(|s| s.path.clone())
        .or_else(|| progress.map(|p| p.path.clone()))
        .filter(|p| !p.is_empty())
        .or_else(|| Some(job.path.clone()).filter(|p| !p.is_empty()));
    let failure = (phase == BackupTaskPhase::Failed).then(|| Failure {
        code: Some(job.result),
        message: if job.comment.is_empty() {
            format!(
                "OceanBase ended job {} with result {}",
                job.job_id, job.result
            )
        } else {
            job.comment.clone()
        },
    });
    let running = !is_terminal(phase);
    let mut extra = vec![reachable];
    let mut recheck = None;
    if running {
        let quiet = inputs.now.duration_since(last_progress.0);
        let stuck = quiet >= inputs.stall_timeout;
        extra.push(condition(
            PROGRESSING,
            !stuck,
            if stuck { "NoProgress" } else { "Progressing" },
            &if stuck {
                format!(
                    "job {} has made no progress for {}s",
                    job.job_id,
                    quiet.as_secs()
                )
            } else {
                format!("job {} is {}", job.job_id, job.status)
            },
            task.metadata.generation,
        ));
        if !stuck {
            recheck = Duration::try_from(inputs.stall_timeout - quiet).ok();
        }
    }
    let health = match phase {
        BackupTaskPhase::Completed => Health::Ready {
            reason: "Completed".into(),
            message: format!("backup set {} completed", job.backup_set_id),
        },
        BackupTaskPhase::Canceled => Health::Ready {
            reason: "Canceled".into(),
            message: format!("job {} was canceled", job.job_id),
        },
        BackupTaskPhase::Failed => Health::Stalled {
            reason: "BackupFailed".into(),
            message: failure
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        },
        _ => Health::Progressing {
            reason: "InProgress".into(),
            message: format!(
                "job {} {}{}",
                job.job_id,
                job.status,
                percent.map(|p| format!(", {p}%")).unwrap_or_default()
            ),
        },
    };
    let status = BackupTaskStatus {
        phase: Some(phase),
        job_id: Some(job.job_id),
        backup_set_id: Some(job.backup_set_id).filter(|id| *id > 0),
        started_at: job.start.map(Time),
        ended_at: job.end.map(Time),
        progress: percent,
        input_bytes: input,
        output_bytes: output,
        storage_directory: directory,
        failure,
        last_progress_time: running.then_some(last_progress),
        ..base
    };
    let cancel = task.spec.cancel && !is_final_job_status(&job.status) && job.status != "CANCELING";
    Decision {
        status: with_health(status, task, &health, Some(extra), inputs.now),
        step: if cancel { Step::Cancel } else { Step::Wait },
        interest: running.then(|| Interest {
            tenant: task.spec.tenant.clone(),
            description: Some(job.description.clone()),
            active: true,
        }),
        recheck,
    }
}

/// The console phase of a job STATUS (reference §10): every unfinished status, phase strings included, is
/// In Progress.
pub fn phase_of(status: &str) -> BackupTaskPhase {
    match status {
        "COMPLETED" => BackupTaskPhase::Completed,
        "FAILED" => BackupTaskPhase::Failed,
        "CANCELED" => BackupTaskPhase::Canceled,
        _ => BackupTaskPhase::InProgress,
    }
}

/// Whether a phase never changes again.
pub fn is_terminal(phase: BackupTaskPhase) -> bool {
    matches!(
        phase,
        BackupTaskPhase::Completed | BackupTaskPhase::Failed | BackupTaskPhase::Canceled
    )
}

/// The status after the `BACKUP` statement: submitted, refused for a reason that passes (stays Pending),
/// refused for good (Failed), or unknown (the cluster did not answer: the intent stays, the lookup by
/// description decides later).
pub fn after_submit(
    task: &BackupTask,
    status: BackupTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> BackupTaskStatus {
    let (health, status) = match outcome {
        Ok(()) => (
            Health::Progressing {
                reason: "Submitted".into(),
                message: "submitted; waiting for OceanBase to list the job".into(),
            },
            status,
        ),
        Err(ObError::Unreachable(reason)) => (
            Health::Progressing {
                reason: "ClusterUnreachable".into(),
                message: format!(
                    "the cluster did not answer while submitting ({reason}); the job will be looked up by its description"
                ),
            },
            status,
        ),
        Err(ObError::Server { code, message }) if matches!(code, 9036 | 9040 | 9044 | 9070) => (
            Health::Progressing {
                reason: "BackupCannotStart".into(),
                message: format!(
                    "OceanBase refused the backup for now ({code}: {message}); retrying"
                ),
            },
            BackupTaskStatus {
                submitted_at: None,
                ..status
            },
        ),
        Err(ObError::Server { code, message }) => (
            Health::Stalled {
                reason: "BackupFailed".into(),
                message: format!("OceanBase refused the backup ({code}): {message}"),
            },
            BackupTaskStatus {
                phase: Some(BackupTaskPhase::Failed),
                submitted_at: None,
                ended_at: Some(Time(now)),
                // The error number the client saw (OceanBase's code for its own errors, reference §0.3).
                failure: Some(Failure {
                    code: Some(i64::from(code)),
                    message,
                }),
                ..status
            },
        ),
        Err(other) => (
            Health::Stalled {
                reason: "InvalidInput".into(),
                message: other.to_string(),
            },
            BackupTaskStatus {
                submitted_at: None,
                ..status
            },
        ),
    };
    let extra = status
        .conditions
        .iter()
        .filter(|c| c.type_ == CLUSTER_REACHABLE)
        .cloned()
        .collect();
    with_health(status, task, &health, Some(extra), now)
}

/// The status with conditions for `health` plus `extra` (see [`with_extra`]) and the health's message.
pub fn with_health(
    status: BackupTaskStatus,
    task: &BackupTask,
    health: &Health,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> BackupTaskStatus {
    BackupTaskStatus {
        conditions: with_extra(
            &status.conditions,
            health,
            extra,
            task.metadata.generation,
            now,
        ),
        message: Some(health.message().to_string()),
        ..status
    }
}
