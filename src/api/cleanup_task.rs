//! CleanupTask — one backup-data cleanup job (the console's "Cleanup Tasks").

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema, core::Rule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    ClusterConnection, Failure, StrategyReference, TaskSource, cancel_is_final_rule,
    conditions_schema, mirror_is_read_only_rule, strategy_or_cluster_rule, tenant_name_rule,
    unchanged_optional, user_tenant_rule,
};

/// One cleanup of a tenant's backup data. The operator also creates these, carrying `jobId`, to mirror
/// the delete jobs that OceanBase's `'default'` delete policy starts about hourly. Everything but `cancel` is
/// fixed once created.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "obbackup.dev",
    version = "v1alpha1",
    kind = "CleanupTask",
    plural = "cleanuptasks",
    shortname = "obct",
    category = "obbackup",
    selectable = ".spec.tenant",
    selectable = ".status.phase",
    selectable = ".status.clusterName",
    namespaced,
    status = "CleanupTaskStatus",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenant"),
    printcolumn(name = "Job ID", type_ = "integer", json_path = ".status.jobId"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Started", type_ = "string", json_path = ".status.startedAt"),
    printcolumn(name = "Ended", type_ = "string", json_path = ".status.endedAt"),
    printcolumn(
        name = "Source",
        type_ = "string",
        json_path = ".status.source",
        priority = 1
    ),
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".status.clusterName",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = strategy_or_cluster_rule(),
    validation = immutable_rule(),
    validation = cancel_is_final_rule(),
    validation = mirror_is_read_only_rule()
)]
#[serde(rename_all = "camelCase")]
pub struct CleanupTaskSpec {
    /// The BackupStrategy whose cluster this cleanup runs on. Set this or `cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_ref: Option<StrategyReference>,
    /// The cluster, for a cleanup outside any strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConnection>,
    /// The user tenant whose backup data is cleaned up.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = tenant_name_rule(), validation = user_tenant_rule())]
    pub tenant: String,
    /// What to delete. Manual deletes need OceanBase 4.4.1 or later; on older clusters the task fails at once
    /// and says so.
    pub target: CleanupTarget,
    /// OceanBase's delete JOB_ID. Set only by the operator, on mirrors of delete jobs started outside it (by
    /// the delete policy or by hand); such a task only shows its job and cannot be canceled. Leave it unset
    /// to request a cleanup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub job_id: Option<i64>,
    /// Set to true to cancel the cleanup (`ALTER SYSTEM CANCEL DELETE BACKUP`); the task then ends Canceled.
    #[serde(default)]
    pub cancel: bool,
}

/// Rule: every field but `cancel` keeps its value (and presence) across updates.
fn immutable_rule() -> Rule {
    let optional = ["strategyRef", "cluster", "jobId"]
        .map(unchanged_optional)
        .join(" && ");
    Rule::new(format!(
        "self.tenant == oldSelf.tenant && self.target == oldSelf.target && {optional}"
    ))
    .message("spec is immutable except cancel: create a new CleanupTask instead")
}

/// What a cleanup deletes: exactly one of the three.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.obsolete), has(self.backupSetIds), has(self.archivelogPieceIds)].filter(x, x).size() == 1")
        .message("set exactly one of target.obsolete, target.backupSetIds or target.archivelogPieceIds"),
    validation = Rule::new("!has(self.obsolete) || self.obsolete")
        .message("target.obsolete must be true when set")
)]
pub struct CleanupTarget {
    /// `true`: delete every backup set and archive piece outside the recovery window of the tenant's
    /// delete policy (`DELETE OBSOLETE BACKUP`; needs the policy to exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obsolete: Option<bool>,
    /// Delete these backup sets (`DELETE BACKUPSET`). OceanBase keeps what later incrementals and the
    /// last restorable full set depend on. At most 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(range(min = 1)))]
    pub backup_set_ids: Option<Vec<i64>>,
    /// Delete these archive pieces (`DELETE ARCHIVELOG_PIECE`), oldest first. At most 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), inner(range(min = 1)))]
    pub archivelog_piece_ids: Option<Vec<i64>>,
}

/// Observed state of a CleanupTask.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CleanupTaskStatus {
    /// The console's cleanup status: `Pending`, `Executing`, `Failed`, `Completed` or `Canceled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<CleanupTaskPhase>,
    /// `Ready`, `Reconciling`, `Stalled`, `ClusterReachable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A human-readable summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Display name of the cluster (from `cluster` or the strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Whether a user asked for this cleanup or it mirrors a job OceanBase started from its delete policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TaskSource>,
    /// OceanBase's delete JOB_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// When the operator sent the delete statement (its intent, recorded first so that a restart never
    /// sends it twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Time>,
    /// The tenant's newest delete job when this cleanup was submitted: its own job is a later one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_job_id: Option<i64>,
    /// When the job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the job ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// How many backup sets and pieces the job deletes (TASK_COUNT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i64>,
    /// How many of those are deleted (SUCCESS_TASK_COUNT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded_task_count: Option<i64>,
    /// Why the cleanup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// The console's cleanup task states.
#[derive(
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    JsonSchema,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum CleanupTaskPhase {
    /// "Pending": not started yet.
    Pending,
    /// "Executing": OceanBase is deleting.
    Executing,
    /// "Failed": see `failure`.
    Failed,
    /// "Completed".
    Completed,
    /// Canceled through `cancel` (or by someone else in OceanBase).
    Canceled,
}

impl CleanupTaskPhase {
    /// Whether the phase never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}
