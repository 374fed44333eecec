//! What the logical BackupTask and RecoveryTask share: how the state of a dump or load running in the
//! background reads as the task's health.

use std::time::Duration;

use crate::{
    api::common::Failure,
    controller::{conditions::Health, reason::Reason},
    logical::{
        Progress,
        jobs::{Finished, JobState, RETRY_TRANSIENT_AFTER},
    },
};

/// A running dump's or load's status is written this often.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Work refused for its user's access is tried again this often (a fixed Secret or grant is seen then):
/// as often as a missing Secret is looked for again.
pub const ACCESS_RETRY: Duration = crate::timing::RECHECK_REFERENCES_AFTER;
/// MySQL's numbers for a user that cannot log in or lacks a privilege, which OceanBase answers with.
const ACCESS_DENIED: [u16; 5] = [1044, 1045, 1142, 1143, 1227];

/// Where a dump or load stands, as its task shows it.
pub enum Standing<'a> {
    Running(&'a Progress),
    Done(&'a Finished),
    Canceled,
    /// Stopped by an outage; it starts again (a dump where it stopped) within [`RETRY_TRANSIENT_AFTER`].
    Interrupted(&'a str),
    /// Its user cannot log in or lacks a privilege: the user's Secret or grants must change.
    AccessDenied(&'a str),
    /// Failed for good.
    Failed(Failure),
}

/// How `state` stands.
pub fn standing(state: &JobState) -> Standing<'_> {
    match state {
        JobState::Running(progress) => Standing::Running(progress),
        JobState::Done(finished) => Standing::Done(finished),
        JobState::Canceled => Standing::Canceled,
        JobState::Failed {
            message,
            transient: true,
            ..
        } => Standing::Interrupted(message),
        JobState::Failed {
            message,
            code: Some(code),
            ..
        } if ACCESS_DENIED.contains(code) => Standing::AccessDenied(message),
        JobState::Failed { message, code, .. } => Standing::Failed(Failure {
            code: code.map(i64::from),
            message: message.clone(),
        }),
    }
}

/// The health of work an outage stopped.
pub fn interrupted(what: &str, message: &str) -> Health {
    Health::Progressing {
        reason: Reason::ClusterUnreachable,
        message: format!(
            "the {what} stopped ({message}); it starts again within {} s",
            RETRY_TRANSIENT_AFTER.as_secs()
        ),
    }
}

/// The health of work whose user cannot do what it `needs`.
pub fn access_denied(needs: &str, message: &str, secret: &str) -> Health {
    Health::Stalled {
        reason: Reason::LogicalAccessDenied,
        message: format!("{needs}: {message}; fix Secret {secret} or the user's grants"),
    }
}

/// Percent done, when there is a total.
pub fn percent(done: usize, total: usize) -> Option<i32> {
    (total > 0).then(|| i32::try_from(done * 100 / total).unwrap_or(100))
}
