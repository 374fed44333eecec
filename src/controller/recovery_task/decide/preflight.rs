//! A RecoveryTask whose restore OceanBase does not list: its submission still on its way or lost, canceled
//! before it went, or the pre-flight — the target tenant name free, no other restore creating it, the
//! recovery point inside a recoverable window (or said to be unverifiable) — before the RESTORE.

use crate::reason::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::facts::{
    Decision, Inputs, RECOVERY_POINT_VERIFIED, Step, decision, description, ended, interest, wait,
};
use crate::timing::POINT_RECHECK;
use crate::{
    api::{RecoveryTaskPhase, RecoveryTaskStatus, common::Failure},
    controller::{
        conditions::{Health, api_time, condition},
        reading::Seen,
    },
    windows::point::PointCheck,
};

/// What a task without a listed restore does: waits for its submission to show (never restoring twice),
/// ends canceled, or goes through the pre-flight.
pub fn before_restore(inputs: &Inputs<'_>, base: RecoveryTaskStatus, seen: &Seen<'_>) -> Decision {
    let task = inputs.task;
    let reachable = || Some(seen.reachable.clone());
    // After an intent or a recorded job (the intent is cleared once the job is seen), a restore missing
    // from a read that did not look for it (restores unread, or its description not asked for) proves
    // nothing.
    let evidence = base.submitted_at.is_some() || base.job_id.is_some();
    if evidence && !seen.snapshot.searched_for_restore(&description(task)) {
        let health = Health::Progressing {
            reason: Reason::LookingUpRestore,
            message: "submitted; looking up the restore by its description".into(),
        };
        return wait(base, health, reachable(), interest(task, true));
    }
    if let Some(id) = base.job_id {
        // It ran, but OceanBase lists it nowhere any more: never restore again, say so.
        let health = Health::Stalled {
            reason: Reason::RestoreNotFound,
            message: format!(
                "OceanBase lists restore job {id} neither in progress nor in its history; check the target \
                 tenant {} by hand",
                task.spec.target.tenant
            ),
        };
        return wait(base, health, reachable(), interest(task, false));
    }
    if let Some(submitted) = base.submitted_at.as_ref().map(|t| t.0)
        && inputs.clock.in_flight(submitted, seen.at)
    {
        let health = Health::Progressing {
            reason: Reason::Submitted,
            message: "submitted; waiting for OceanBase to list the restore".into(),
        };
        return wait(base, health, reachable(), interest(task, true));
    }
    let base = RecoveryTaskStatus {
        submitted_at: None,
        ..base
    };
    if task.spec.cancel {
        let status = RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::Canceled),
            ended_at: Some(api_time(inputs.clock.now)),
            ..base
        };
        let health = Health::Ready {
            reason: Reason::Canceled,
            message: "canceled before the restore was started".into(),
        };
        return ended(status, health, seen.reachable.clone());
    }
    preflight(inputs, base, seen)
}

/// The pre-flight: the target tenant name free, no other restore creating it, then the recovery point.
fn preflight(inputs: &Inputs<'_>, base: RecoveryTaskStatus, seen: &Seen<'_>) -> Decision {
    let task = inputs.task;
    let target = &task.spec.target.tenant;
    let reachable = Some(seen.reachable.clone());
    if seen.snapshot.tenant(target).is_some() {
        let health = Health::Stalled {
            reason: Reason::TargetTenantExists,
            message: format!(
                "cluster {} already has a tenant {target}: choose another target tenant name",
                inputs.target_cluster
            ),
        };
        return wait(base, health, reachable, interest(task, false));
    }
    if let Some(other) = seen
        .snapshot
        .restores
        .iter()
        .find(|r| !r.finished && r.tenant_name.eq_ignore_ascii_case(target))
    {
        let health = Health::Progressing {
            reason: Reason::AnotherRestoreRunning,
            message: format!(
                "restore job {} is already creating tenant {target}",
                other.job_id
            ),
        };
        return wait(base, health, reachable, interest(task, true));
    }
    point(inputs, base, seen.reachable.clone())
}

/// The recovery point's verdict: outside every window fails the task before anything is sent; not yet
/// archived waits (looking again soon: archiving reaching it changes no object); inside, or unverifiable,
/// submits the restore with the pool the task creates.
fn point(inputs: &Inputs<'_>, base: RecoveryTaskStatus, reachable: Condition) -> Decision {
    let generation = inputs.task.metadata.generation;
    let verdict = |verified: bool, reason: Reason, message: &str| {
        condition(
            RECOVERY_POINT_VERIFIED,
            verified,
            reason,
            message,
            generation,
        )
    };
    let (verified, health) = match inputs.point {
        PointCheck::Outside(message) => {
            let point = verdict(false, Reason::OutsideWindow, message);
            return outside(inputs, base, message, vec![reachable, point]);
        }
        PointCheck::NotYet(message) => {
            let point = verdict(false, Reason::NotYetArchived, message);
            let health = Health::Progressing {
                reason: Reason::WaitingForArchive,
                message: message.clone(),
            };
            let extra = Some(vec![reachable, point]);
            let interest = interest(inputs.task, false);
            return decision(base, health, extra, Step::Wait, interest)
                .recheck(Some(POINT_RECHECK));
        }
        PointCheck::Inside(message) => (
            verdict(true, Reason::InsideWindow, message),
            Health::Progressing {
                reason: Reason::Submitting,
                message: "starting the restore".into(),
            },
        ),
        PointCheck::Unverified(message) => (
            verdict(false, Reason::Unverified, message),
            Health::Progressing {
                reason: Reason::Submitting,
                message: format!("starting the restore ({message})"),
            },
        ),
    };
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Pending),
        resource_pool: inputs.own_pool.map(str::to_string),
        ..base
    };
    let extra = Some(vec![reachable, verified]);
    decision(
        status,
        health,
        extra,
        Step::Submit,
        interest(inputs.task, true),
    )
}

/// A recovery point outside every window: Failed before anything is sent.
fn outside(
    inputs: &Inputs<'_>,
    base: RecoveryTaskStatus,
    message: &str,
    extra: Vec<Condition>,
) -> Decision {
    let status = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Failed),
        ended_at: Some(api_time(inputs.clock.now)),
        failure: Some(Failure {
            code: None,
            message: message.to_string(),
        }),
        ..base
    };
    let health = Health::Stalled {
        reason: Reason::RecoveryPointOutsideWindow,
        message: format!("{message}; nothing was sent to OceanBase"),
    };
    // Nothing was created for this attempt; a pool left from an earlier one is released.
    let step = if status.resource_pool.is_some() {
        Step::Release
    } else {
        Step::Wait
    };
    decision(status, health, Some(extra), step, None)
}
