//! A restore drill's stages around its restore (docs/guide/restore-drills.md): a completed restore goes on
//! to the checks (`Verifying`), their verdict to the drop of the scratch tenant, its pool and unit
//! (`Dropping`), and only then does the task end — Completed when the drill passed, Failed when it did
//! not. A restore that failed, or a drill past its timeout, fails the drill and drops what it made. The
//! scratch tenant is dropped only when OceanBase listed this task's restore (so it was this restore that
//! created it); with `keepFailed` a failed drill keeps it for inspection. Pure, like [`super::decide`].

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::facts::{Decision, Inputs, Step, decision, description, interest};
use crate::{
    api::{
        RecoveryTaskPhase, RecoveryTaskStatus,
        drill::{DrillRun, DrillStatus, DrillVerdict},
    },
    controller::{
        conditions::{Health, api_time},
        reading::Seen,
    },
    drill::checks::{CheckState, Outcome},
    reason::Reason,
};

/// The decision at a drill's own stage (checks, drop) or past its timeout; `None` when the restore's own
/// decision applies (then [`after_restore`] turns it into the drill's).
pub fn stage(inputs: &Inputs<'_>, base: &RecoveryTaskStatus, seen: &Seen<'_>) -> Option<Decision> {
    let drill = inputs.task.spec.drill.as_ref()?;
    let reachable = seen.reachable.clone();
    match base.phase {
        Some(RecoveryTaskPhase::Verifying) => {
            Some(verifying(inputs, drill, base.clone(), reachable))
        }
        Some(RecoveryTaskPhase::Dropping) => Some(dropping(inputs, base.clone(), Some(reachable))),
        _ if crate::drill::deadline(inputs.task).is_some_and(|d| inputs.clock.now >= d) => {
            timed_out(inputs, drill, base.clone(), seen)
        }
        _ => None,
    }
}

/// The restore's decision, for a drill: a restore that completed goes on to the checks, one that failed
/// or was canceled fails the drill.
pub fn after_restore(inputs: &Inputs<'_>, restore: Decision) -> Decision {
    if inputs.task.spec.drill.is_none() {
        return restore;
    }
    let status = restore.status;
    match status.phase {
        Some(RecoveryTaskPhase::Completed) => checking(inputs, status),
        Some(RecoveryTaskPhase::Failed | RecoveryTaskPhase::Canceled) => {
            let message = status.failure.as_ref().map_or_else(
                || "the restore ended without success".to_string(),
                |f| format!("the restore failed: {}", f.message),
            );
            failed(inputs, status, message)
        }
        // Still before its end: looked at again by its deadline at the latest, whatever it waits for.
        _ => {
            let recheck = restore
                .recheck
                .into_iter()
                .chain(until_deadline(inputs))
                .min();
            Decision {
                status,
                recheck,
                ..restore
            }
        }
    }
}

/// A restore that completed: the checks start.
fn checking(inputs: &Inputs<'_>, status: RecoveryTaskStatus) -> Decision {
    let status = to_verify(status);
    let health = verifying_health(inputs, None);
    decision(
        status,
        health,
        None,
        Step::Wait,
        interest(inputs.task, false),
    )
}

/// The status of a drill whose restore (or load) completed: Verifying, the restore's own end kept as its
/// duration.
pub fn to_verify(status: RecoveryTaskStatus) -> RecoveryTaskStatus {
    let restore_seconds = match (&status.started_at, &status.ended_at) {
        (Some(start), Some(end)) => Some(end.0.duration_since(start.0).as_secs()),
        _ => None,
    };
    RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Verifying),
        ended_at: None,
        drill: Some(DrillStatus {
            restore_seconds,
            ..status.drill.clone().unwrap_or_default()
        }),
        ..status
    }
}

/// The checks under way, or their verdict.
fn verifying(
    inputs: &Inputs<'_>,
    drill: &DrillRun,
    base: RecoveryTaskStatus,
    reachable: Condition,
) -> Decision {
    if crate::drill::deadline(inputs.task).is_some_and(|d| inputs.clock.now >= d) {
        let message = format!(
            "the checks did not finish within the drill's {}",
            drill.timeout
        );
        return failed(inputs, base, message);
    }
    match inputs.checks {
        Some(CheckState::Ended(outcome)) => verdict(inputs, base, outcome),
        state => {
            let unreachable = match state {
                Some(CheckState::Unreachable(why)) => Some(why.as_str()),
                _ => None,
            };
            let health = verifying_health(inputs, unreachable);
            let mut decided = decision(
                base,
                health,
                Some(vec![reachable]),
                Step::Wait,
                interest(inputs.task, false),
            );
            decided.recheck = until_deadline(inputs);
            decided
        }
    }
}

fn verifying_health(inputs: &Inputs<'_>, unreachable: Option<&str>) -> Health {
    let tenant = &inputs.task.spec.target.tenant;
    Health::Progressing {
        reason: Reason::Verifying,
        message: match unreachable {
            Some(why) => {
                format!("the checks could not reach tenant {tenant} ({why}); trying again")
            }
            None => format!("running the drill's checks in tenant {tenant}"),
        },
    }
}

/// How long until the deadline, to look again then.
fn until_deadline(inputs: &Inputs<'_>) -> Option<std::time::Duration> {
    let left = crate::drill::deadline(inputs.task)?.duration_since(inputs.clock.now);
    std::time::Duration::try_from(left.max(SignedDuration::ZERO)).ok()
}

/// The checks' verdict: every check passed, or the first that did not.
fn verdict(inputs: &Inputs<'_>, base: RecoveryTaskStatus, outcome: &Outcome) -> Decision {
    let drill = DrillStatus {
        checks: outcome.results.clone(),
        data_as_of: outcome.data_as_of.map(api_time),
        lag_seconds: outcome.lag_seconds,
        ..base.drill.clone().unwrap_or_default()
    };
    let base = RecoveryTaskStatus {
        drill: Some(drill),
        ..base
    };
    match outcome.failure() {
        Some(message) => failed(inputs, base, message),
        None => {
            let message = format!(
                "restored and every check passed ({} checks{})",
                outcome.results.len(),
                outcome
                    .lag_seconds
                    .map(|s| format!("; the data is as of the point minus {s} s"))
                    .unwrap_or_default()
            );
            to_drop(inputs, base, DrillVerdict::Passed, message)
        }
    }
}

/// A failed drill: its tenant dropped, or kept when the drill asks and its restore made one.
fn failed(inputs: &Inputs<'_>, base: RecoveryTaskStatus, message: String) -> Decision {
    let made = base.job_id.is_some();
    let pool = base.resource_pool.clone();
    let tenant = &inputs.task.spec.target.tenant;
    let kept = format!(
        "tenant {tenant} is kept for inspection (keepFailed): drop it with DROP TENANT … FORCE{}",
        pool.map(|p| format!(", then its pool {p} and its unit"))
            .unwrap_or_default()
    );
    match failed_status(inputs.task, base, message, made, &kept, inputs.clock.now) {
        (status, Some(health)) => decision(status, health, None, Step::Wait, None),
        (status, None) => dropping(inputs, status, None),
    }
}

/// The status of a drill that failed with `message`: kept (Failed, with `kept` saying what to drop by
/// hand, and its health) when the drill asks and it `made` something; else Dropping (no health: the drop's).
pub fn failed_status(
    task: &crate::api::RecoveryTask,
    base: RecoveryTaskStatus,
    message: String,
    made: bool,
    kept: &str,
    now: Timestamp,
) -> (RecoveryTaskStatus, Option<Health>) {
    let keep = task.spec.drill.as_ref().is_some_and(|d| d.keep_failed) && made;
    if !keep {
        return (judged(base, DrillVerdict::Failed, message), None);
    }
    let message = format!("{message}; {kept}");
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Failed),
        ended_at: Some(api_time(now)),
        // Kept with the tenant: the task no longer releases it.
        resource_pool: None,
        drill: Some(DrillStatus {
            verdict: Some(DrillVerdict::Failed),
            message: Some(message.clone()),
            ..base.drill.clone().unwrap_or_default()
        }),
        ..base
    };
    let health = Health::Stalled {
        reason: Reason::DrillFailed,
        message,
    };
    (status, Some(health))
}

/// The status of a drill whose RESTORE OceanBase refused (`status` Failed with its cause): failed as a
/// drill, moving on to the drop of the pool and unit it made (it made no tenant).
pub fn refused(
    task: &crate::api::RecoveryTask,
    status: RecoveryTaskStatus,
    now: Timestamp,
) -> RecoveryTaskStatus {
    let cause = status
        .failure
        .as_ref()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    let message = format!("OceanBase refused the restore: {cause}");
    let status = RecoveryTaskStatus {
        ended_at: None,
        ..judged(status, DrillVerdict::Failed, message.clone())
    };
    let health = Health::Progressing {
        reason: Reason::DroppingScratch,
        message: format!("{message}; dropping what the drill made"),
    };
    super::with_health(status, task, &health, None, now)
}

/// The status with the drill's verdict, moving on to the drop of what it made.
pub fn judged(
    base: RecoveryTaskStatus,
    verdict: DrillVerdict,
    message: String,
) -> RecoveryTaskStatus {
    RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Dropping),
        drill: Some(DrillStatus {
            verdict: Some(verdict),
            message: Some(message),
            ..base.drill.clone().unwrap_or_default()
        }),
        ..base
    }
}

/// The verdict recorded; what the drill made is dropped next.
fn to_drop(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    verdict: DrillVerdict,
    message: String,
) -> Decision {
    dropping(inputs, judged(base, verdict, message), None)
}

/// Dropping the scratch tenant, pool and unit; with nothing of the drill's to drop, ended at once.
fn dropping(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    reachable: Option<Condition>,
) -> Decision {
    if base.job_id.is_none() && base.resource_pool.is_none() {
        let status = dropped(base, inputs.clock.now);
        let health = ended_health(&status);
        return decision(status, health, reachable.map(|r| vec![r]), Step::Wait, None);
    }
    let health = Health::Progressing {
        reason: Reason::DroppingScratch,
        message: format!(
            "dropping the drill's scratch tenant {}{}",
            inputs.task.spec.target.tenant,
            base.resource_pool
                .as_ref()
                .map(|p| format!(", pool {p}"))
                .unwrap_or_default()
        ),
    };
    let extra = reachable.map(|r| vec![r]);
    decision(
        base,
        health,
        extra,
        Step::Drop,
        interest(inputs.task, false),
    )
}

/// The status once what the drill made is gone: Completed when it passed, Failed when not.
pub fn dropped(base: RecoveryTaskStatus, now: Timestamp) -> RecoveryTaskStatus {
    let passed = base.drill.as_ref().and_then(|d| d.verdict) == Some(DrillVerdict::Passed);
    RecoveryTaskStatus {
        phase: Some(if passed {
            RecoveryTaskPhase::Completed
        } else {
            RecoveryTaskPhase::Failed
        }),
        ended_at: Some(api_time(now)),
        resource_pool: None,
        drill: Some(DrillStatus {
            dropped: true,
            ..base.drill.clone().unwrap_or_default()
        }),
        ..base
    }
}

/// The health of an ended drill.
pub fn ended_health(status: &RecoveryTaskStatus) -> Health {
    let drill = status.drill.clone().unwrap_or_default();
    let message = drill.message.unwrap_or_default();
    match drill.verdict {
        Some(DrillVerdict::Passed) => Health::Ready {
            reason: Reason::DrillPassed,
            message,
        },
        _ => Health::Stalled {
            reason: Reason::DrillFailed,
            message,
        },
    }
}

/// A drill past its timeout before its checks: its restore canceled if it runs, then failed. A restore
/// whose submission is still being looked up is waited for (it may have made the tenant).
fn timed_out(
    inputs: &Inputs<'_>,
    drill: &DrillRun,
    base: RecoveryTaskStatus,
    seen: &Seen<'_>,
) -> Option<Decision> {
    let message = format!("the drill did not finish within its {}", drill.timeout);
    let job = seen
        .snapshot
        .restore_by_description(&description(inputs.task));
    // A restore OceanBase lists made the scratch tenant: it is this drill's to drop.
    let base = RecoveryTaskStatus {
        job_id: job.map(|j| j.job_id).or(base.job_id),
        ..base
    };
    match job {
        Some(job) if !job.finished => {
            let health = Health::Progressing {
                reason: Reason::DrillFailed,
                message: format!("{message}: canceling restore job {}", job.job_id),
            };
            let extra = Some(vec![seen.reachable.clone()]);
            Some(decision(
                base,
                health,
                extra,
                Step::Cancel,
                interest(inputs.task, true),
            ))
        }
        None if base.submitted_at.is_some() => None,
        _ => Some(failed(inputs, base, message)),
    }
}
