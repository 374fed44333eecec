//! What every stage of a RecoveryTask's decision reads and gives: the inputs, the step, the decision with
//! its health (the recovery point's verdict kept); what an observation gives is read by
//! [`crate::controller::reading::cluster`].
//! Below both [`super::preflight`] and [`super::follow`], so neither imports the other nor the face.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::timing::Clock;
use crate::{
    api::{RecoveryTask, RecoveryTaskStatus},
    controller::conditions::Health,
    observer::{Interest, Observation},
    windows::point::PointCheck,
};

/// Condition type: the recovery point lies inside a recoverable window.
pub const RECOVERY_POINT_VERIFIED: &str = "RecoveryPointVerified";

/// What the reconcile must do after writing the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: wait for OceanBase or for a change.
    Wait,
    /// Record the intent, then create the unit and pool (if the task makes them) and send RESTORE.
    Submit,
    /// Send `CANCEL RESTORE`.
    Cancel,
    /// Send `ACTIVATE STANDBY`.
    Activate,
    /// Drop the pool and unit the task created (after a failure or a cancel).
    Release,
    /// Drop a drill's scratch tenant (when its restore made it), then the pool and unit it created.
    Drop,
}

/// The outcome of [`super::decide`].
pub type Decision = crate::controller::task::Decision<RecoveryTaskStatus, Step>;

/// What the decision reads.
pub struct Inputs<'a> {
    pub task: &'a RecoveryTask,
    pub target_cluster: &'a str,
    pub point: &'a PointCheck,
    pub observation: &'a Observation,
    /// The pool this task creates, if it creates one.
    pub own_pool: Option<&'a str>,
    /// The cluster the backups come from, as the status shows it.
    pub source_cluster: Option<&'a str>,
    /// Where the backup set restored from lies (the data destination), without credentials.
    pub storage_directory: Option<&'a str>,
    /// Where a drill's checks stand in this process (`None`: not started here).
    pub checks: Option<&'a crate::drill::checks::CheckState>,
    pub clock: Clock,
}

/// The description of the current attempt's RESTORE.
pub fn description(task: &RecoveryTask) -> String {
    format!(
        "{}-{}",
        task.metadata.uid.as_deref().unwrap_or_default(),
        task.spec.retry
    )
}

/// What the task watches in the observer: the target tenant and its restore, by description (a mirror's
/// by job id, among the restores started elsewhere).
pub fn interest(task: &RecoveryTask, active: bool) -> Option<Interest> {
    let mirror = task.spec.job_id.is_some();
    Some(Interest {
        tenant: task.spec.target.tenant.clone(),
        description: (!mirror).then(|| description(task)),
        active,
        restore: true,
        since: None,
        overview: Vec::new(),
        external: mirror,
        lag_alert: None,
    })
}

/// A decision for `status`, showing `health` beside `extra`; the recovery point's verdict stays, as in
/// [`with_health`].
pub fn decision(
    status: RecoveryTaskStatus,
    health: Health,
    extra: Option<Vec<Condition>>,
    step: Step,
    interest: Option<Interest>,
) -> Decision {
    let extra = verdict_kept(&status, extra);
    Decision::new(status, step, interest).health(health, extra)
}

/// A decision to wait for `status`, showing `health` beside `extra`.
pub fn wait(
    status: RecoveryTaskStatus,
    health: Health,
    extra: Option<Condition>,
    interest: Option<Interest>,
) -> Decision {
    decision(status, health, extra.map(|c| vec![c]), Step::Wait, interest)
}

/// A task that has just ended Failed or Canceled: release what it created.
pub fn ended(status: RecoveryTaskStatus, health: Health, reachable: Condition) -> Decision {
    let release = status.resource_pool.is_some();
    let step = if release { Step::Release } else { Step::Wait };
    decision(status, health, Some(vec![reachable]), step, None)
}

/// The status with `health` as its Ready/Reconciling/Stalled conditions and message. The recovery point's
/// verdict, given before the restore started, stays.
pub fn with_health(
    status: RecoveryTaskStatus,
    task: &RecoveryTask,
    health: &Health,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> RecoveryTaskStatus {
    let extra = verdict_kept(&status, extra);
    crate::controller::status::with_health(status, task.metadata.generation, health, extra, now)
}

/// `extra`, with the recovery point's verdict `status` shows when `extra` gives none.
fn verdict_kept(
    status: &RecoveryTaskStatus,
    extra: Option<Vec<Condition>>,
) -> Option<Vec<Condition>> {
    extra.map(|mut extra| {
        let verdict = status
            .conditions
            .iter()
            .find(|c| c.type_ == RECOVERY_POINT_VERIFIED);
        if let Some(verdict) = verdict
            && !extra.iter().any(|c| c.type_ == RECOVERY_POINT_VERIFIED)
        {
            extra.push(verdict.clone());
        }
        extra
    })
}
