//! What the logical BackupTask and RecoveryTask share: how the state of a dump or load running in the
//! background reads as the task's health.

use crate::reason::Reason;
use crate::timing::RETRY_TRANSIENT_AFTER;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::{
    api::{common::Failure, logical::TenantLogin},
    controller::conditions::{CLUSTER_REACHABLE, Health, condition},
    logical::{
        Progress, Refusal,
        jobs::{Finished, JobState},
    },
};

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
    /// Stopped by an outage (of the database when `database` is true, else of the storage); it starts
    /// again (a dump where it stopped) within [`RETRY_TRANSIENT_AFTER`].
    Interrupted {
        message: &'a str,
        database: bool,
    },
    /// Its user cannot log in or lacks a privilege: the user's Secret or grants must change.
    AccessDenied(&'a str),
    /// Refused before it wrote anything, for `reason`: it ends, and only a new task helps.
    Refused {
        reason: Reason,
        message: &'a str,
    },
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
            unreachable_database,
            ..
        } => Standing::Interrupted {
            message,
            database: *unreachable_database,
        },
        JobState::Failed {
            message,
            refusal: Some(refusal),
            ..
        } => match refusal {
            Refusal::AccessDenied => Standing::AccessDenied(message),
            Refusal::Invalid => Standing::Refused {
                reason: Reason::InvalidInput,
                message,
            },
            Refusal::Owned => Standing::Refused {
                reason: Reason::DumpDirectoryOwned,
                message,
            },
        },
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

/// The `ClusterReachable` condition where the work stands says something of the database: false while
/// an outage of it stops the work, true once the work has had an answer from it (or ended with one);
/// `None` keeps what the status said.
pub fn reachability(
    standing: &Standing,
    cluster: &str,
    generation: Option<i64>,
) -> Option<Vec<Condition>> {
    let (reachable, reason, message) = match standing {
        Standing::Interrupted {
            message,
            database: true,
        } => (
            false,
            Reason::Unreachable,
            format!("cluster {cluster} cannot be reached: {message}"),
        ),
        Standing::Running(progress) if progress.database_reached => {
            (true, Reason::Reachable, "the cluster answered".to_string())
        }
        Standing::Done(_) | Standing::AccessDenied(_) => {
            (true, Reason::Reachable, "the cluster answered".to_string())
        }
        _ => return None,
    };
    Some(vec![condition(
        CLUSTER_REACHABLE,
        reachable,
        reason,
        &message,
        generation,
    )])
}

/// The health of work whose user cannot do what it `needs`.
pub fn access_denied(needs: &str, message: &str, login: Option<TenantLogin<'_>>) -> Health {
    let fix = match login {
        Some(TenantLogin::Secret(secret)) => format!("fix Secret {secret} or the user's grants"),
        Some(TenantLogin::ObTenant(name)) => {
            format!("fix the root password of OBTenant {name} (the Secret its status names)")
        }
        None => "fix the login or the user's grants".to_string(),
    };
    Health::Stalled {
        reason: Reason::LogicalAccessDenied,
        message: format!("{needs}: {message}; {fix}"),
    }
}

/// The health of work refused before it wrote anything (`nothing`: what was left untouched).
pub fn refused(reason: Reason, message: &str, nothing: &str) -> Health {
    Health::Stalled {
        reason,
        message: format!("{message}; {nothing}"),
    }
}

/// Percent done, when there is a total.
pub fn percent(done: usize, total: usize) -> Option<i32> {
    (total > 0).then(|| i32::try_from(done * 100 / total).unwrap_or(100))
}
