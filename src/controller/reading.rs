//! What a decision can read from its cluster's observation, for the kinds that talk to OceanBase: either a
//! snapshot with the user tenant the object is about, or the health to report while there is none.

use crate::reason::Reason;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::conditions::{CLUSTER_REACHABLE, Health, condition};
use crate::{
    api::{BackupTaskPhase, CleanupTaskPhase, LogBackupPhase},
    observer::Observation,
    oceanbase::{JobStatus, RoundStatus, Snapshot, TenantRow},
};

/// The outcome of [`read`].
pub enum Reading<'a> {
    /// A snapshot read at `at`, the tenant in it, and the `ClusterReachable=True` condition.
    Tenant {
        snapshot: &'a Snapshot,
        at: Timestamp,
        tenant: &'a TenantRow,
        reachable: Condition,
    },
    /// Nothing to decide on: the health to report, extra conditions, and whether to keep watching closely.
    Blocked {
        health: Health,
        extra: Option<Vec<Condition>>,
        active: bool,
    },
}

/// What a decision sees of a cluster that answered: the snapshot read at `at`, and `ClusterReachable=True`.
pub struct Seen<'a> {
    pub snapshot: &'a Snapshot,
    pub at: Timestamp,
    pub reachable: Condition,
}

/// The outcome of [`cluster`].
pub enum ClusterReading<'a> {
    Seen(Seen<'a>),
    /// Nothing read yet, or the cluster unreachable: the health to show meanwhile, the condition beside it.
    Blocked(Health, Option<Condition>),
}

/// Reads cluster `cluster` (called `named` where it cannot be reached) from an observation. An unreachable
/// cluster is never a failure: it only says why nothing moves.
pub fn cluster<'a>(
    observation: &'a Observation,
    cluster: &str,
    named: &str,
    generation: Option<i64>,
) -> ClusterReading<'a> {
    let (snapshot, at) = match observation {
        Observation::Seen { snapshot, at } => (snapshot.as_ref(), *at),
        Observation::Unknown => {
            let health = Health::Progressing {
                reason: Reason::WaitingForCluster,
                message: format!("reading cluster {cluster}"),
            };
            return ClusterReading::Blocked(health, None);
        }
        Observation::Unreachable { reason, .. } => {
            let message = format!("{named} cannot be reached: {reason}");
            let unreachable = condition(
                CLUSTER_REACHABLE,
                false,
                Reason::Unreachable,
                &message,
                generation,
            );
            let health = Health::Progressing {
                reason: Reason::ClusterUnreachable,
                message,
            };
            return ClusterReading::Blocked(health, Some(unreachable));
        }
    };
    let reachable = condition(
        CLUSTER_REACHABLE,
        true,
        Reason::Reachable,
        "the cluster answered",
        generation,
    );
    ClusterReading::Seen(Seen {
        snapshot,
        at,
        reachable,
    })
}

/// Reads `tenant` of cluster `cluster` from an observation: [`cluster`], then the tenant in the snapshot.
pub fn read<'a>(
    observation: &'a Observation,
    cluster: &str,
    tenant: &str,
    generation: Option<i64>,
) -> Reading<'a> {
    let named = format!("cluster {cluster}");
    let seen = match self::cluster(observation, cluster, &named, generation) {
        ClusterReading::Seen(seen) => seen,
        ClusterReading::Blocked(health, unreachable) => {
            return Reading::Blocked {
                health,
                extra: unreachable.map(|c| vec![c]),
                active: true,
            };
        }
    };
    match seen.snapshot.tenant(tenant) {
        Some(row) => Reading::Tenant {
            snapshot: seen.snapshot,
            at: seen.at,
            tenant: row,
            reachable: seen.reachable,
        },
        None => Reading::Blocked {
            health: Health::Stalled {
                reason: Reason::TenantNotFound,
                message: format!("cluster {cluster} has no user tenant {tenant}"),
            },
            extra: Some(vec![seen.reachable]),
            active: false,
        },
    }
}

/// The console phase of a backup job STATUS (docs/reference/oceanbase-interface.md §10): every unfinished
/// status, phase strings included, is In Progress.
pub fn backup_task_phase(status: &JobStatus) -> BackupTaskPhase {
    match status {
        JobStatus::Completed => BackupTaskPhase::Completed,
        JobStatus::Failed => BackupTaskPhase::Failed,
        JobStatus::Canceled => BackupTaskPhase::Canceled,
        _ => BackupTaskPhase::InProgress,
    }
}

/// The console phase of a delete job STATUS (docs/reference/oceanbase-interface.md §10).
pub fn cleanup_task_phase(status: &JobStatus) -> CleanupTaskPhase {
    match status {
        JobStatus::Init => CleanupTaskPhase::Pending,
        JobStatus::Completed => CleanupTaskPhase::Completed,
        JobStatus::Failed => CleanupTaskPhase::Failed,
        JobStatus::Canceled => CleanupTaskPhase::Canceled,
        _ => CleanupTaskPhase::Executing,
    }
}

/// The console phase of a round STATUS (docs/reference/oceanbase-interface.md §10).
pub fn log_backup_phase(status: &RoundStatus) -> LogBackupPhase {
    match status {
        RoundStatus::Doing => LogBackupPhase::InProgress,
        RoundStatus::Stopping | RoundStatus::Suspending => LogBackupPhase::Stopping,
        RoundStatus::Stop | RoundStatus::Suspend => LogBackupPhase::Stopped,
        RoundStatus::Interrupted => LogBackupPhase::Failed,
        _ => LogBackupPhase::Starting,
    }
}
