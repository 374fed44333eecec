//! What a decision can read from its cluster's observation, for the kinds that talk to OceanBase: either a
//! snapshot with the user tenant the object is about, or the health to report while there is none.

use crate::controller::reason::Reason;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::conditions::{CLUSTER_REACHABLE, Health, condition};
use crate::{
    observer::Observation,
    oceanbase::{Snapshot, TenantRow},
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

/// Reads `tenant` of cluster `cluster` from an observation. An unreachable cluster is never a failure: it
/// only says why nothing moves.
pub fn read<'a>(
    observation: &'a Observation,
    cluster: &str,
    tenant: &str,
    generation: Option<i64>,
) -> Reading<'a> {
    let (snapshot, at) = match observation {
        Observation::Seen { snapshot, at } => (snapshot.as_ref(), *at),
        Observation::Unknown => {
            return Reading::Blocked {
                health: Health::Progressing {
                    reason: Reason::WaitingForCluster,
                    message: format!("reading cluster {cluster}"),
                },
                extra: None,
                active: true,
            };
        }
        Observation::Unreachable { reason, .. } => {
            let message = format!("cluster {cluster} cannot be reached: {reason}");
            let unreachable = condition(
                CLUSTER_REACHABLE,
                false,
                Reason::Unreachable,
                &message,
                generation,
            );
            return Reading::Blocked {
                health: Health::Progressing {
                    reason: Reason::ClusterUnreachable,
                    message,
                },
                extra: Some(vec![unreachable]),
                active: true,
            };
        }
    };
    let reachable = condition(
        CLUSTER_REACHABLE,
        true,
        Reason::Reachable,
        "the cluster answered",
        generation,
    );
    match snapshot.tenant(tenant) {
        Some(row) => Reading::Tenant {
            snapshot,
            at,
            tenant: row,
            reachable,
        },
        None => Reading::Blocked {
            health: Health::Stalled {
                reason: Reason::TenantNotFound,
                message: format!("cluster {cluster} has no user tenant {tenant}"),
            },
            extra: Some(vec![reachable]),
            active: false,
        },
    }
}
