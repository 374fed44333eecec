//! RecoveryTask — restore a tenant to a point in time (the console's "Initiate Recovery" and
//! "Recovery Tasks").

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema, core::Rule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::resources::{TenantResources, UnitSpec};
use super::{
    common::{
        ClusterConnection, Failure, PasswordSecret, StorageDestination, StrategyReference,
        cancel_is_final_rule, conditions_schema, tenant_name_rule, unchanged_optional,
        user_tenant_rule,
    },
    logical::{LogicalRecoverySource, LogicalRecoveryTarget},
};

/// Restores a backed-up tenant into a new tenant of a target cluster, up to a point in time. Everything but
/// `cancel` and `retry` is fixed once created.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "obbackup.dev",
    version = "v1alpha1",
    kind = "RecoveryTask",
    plural = "recoverytasks",
    shortname = "obrt",
    category = "obbackup",
    selectable = ".spec.source.tenant",
    selectable = ".spec.target.tenant",
    selectable = ".status.phase",
    selectable = ".spec.target.cluster.name",
    namespaced,
    status = "RecoveryTaskStatus",
    printcolumn(
        name = "Backup Tenant",
        type_ = "string",
        json_path = ".spec.source.tenant"
    ),
    printcolumn(
        name = "Target Cluster",
        type_ = "string",
        json_path = ".spec.target.cluster.name"
    ),
    printcolumn(
        name = "Target Tenant",
        type_ = "string",
        json_path = ".spec.target.tenant"
    ),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Source", type_ = "string", json_path = ".status.source"),
    printcolumn(name = "Drill", type_ = "string", json_path = ".status.drill.verdict"),
    printcolumn(name = "Progress", type_ = "integer", json_path = ".status.progress"),
    printcolumn(
        name = "Recovery Time",
        type_ = "string",
        json_path = ".status.recoveryTime"
    ),
    printcolumn(name = "Started", type_ = "string", json_path = ".status.startedAt"),
    printcolumn(name = "Ended", type_ = "string", json_path = ".status.endedAt"),
    printcolumn(
        name = "Backup Cluster",
        type_ = "string",
        json_path = ".status.sourceClusterName",
        priority = 1
    ),
    printcolumn(
        name = "Job ID",
        type_ = "integer",
        json_path = ".status.jobId",
        priority = 1
    ),
    printcolumn(
        name = "Backup Method",
        type_ = "string",
        json_path = ".status.method",
        priority = 1
    ),
    printcolumn(
        name = "Storage Directory",
        type_ = "string",
        json_path = ".status.storageDirectory",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = immutable_rule(),
    validation = cancel_is_final_rule(),
    validation = Rule::new("self.retry >= oldSelf.retry").message("retry can only be increased"),
    validation = Rule::new("!has(self.jobId) || (!self.cancel && self.retry == 0)")
        .message("this task mirrors a restore started outside the operator and is never acted upon: cancel or retry that restore where it was started"),
    validation = Rule::new("!has(self.drill) || self.retry == 0")
        .message("a drill runs once: start another one (kubectl obbackup drill) instead of retrying it"),
    validation = Rule::new("!has(self.drill) || has(self.source.logical) || (has(self.target.resources) && !has(self.target.resources.poolName))")
        .message("a drill restores a physical backup into a pool of its own: set target.resources.unit or unitName"),
    validation = Rule::new("!has(self.drill) || !has(self.source.logical) || (has(self.target.logical.databasePrefix) && self.target.logical.databasePrefix.startsWith('drill_'))")
        .message("a drill loads a logical dump into scratch databases: set target.logical.databasePrefix, starting with drill_"),
    validation = Rule::new("has(self.source.logical) == has(self.target.logical)")
        .message("source.logical and target.logical go together: a dump loads through a user of the target tenant"),
    validation = Rule::new("has(self.jobId) || has(self.source.logical) || (has(self.target.resources) && has(self.until))")
        .message("target.resources and until are required to restore a physical backup"),
    validation = Rule::new("!has(self.source.logical) || (!has(self.target.resources) && !has(self.until) && !has(self.decryption))")
        .message("a logical restore loads the dump as taken, into an existing tenant: do not set target.resources, until or decryption")
)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTaskSpec {
    /// The backup to restore from.
    pub source: RecoverySource,
    /// The new tenant to create.
    pub target: RecoveryTarget,
    /// The point to restore to: exactly one of `time`, `scn` or `latest`. Required for a physical backup;
    /// a logical dump restores to its snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<RecoveryPoint>,
    /// The password the backup was encrypted with (`SET DECRYPTION IDENTIFIED BY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<PasswordSecret>,
    /// Promote the restored tenant to primary when the restore finishes (`ACTIVATE STANDBY`). Set false to
    /// keep it a standby tenant.
    #[serde(default = "default_true")]
    pub activate: bool,
    /// Set to true to cancel the restore (`ALTER SYSTEM CANCEL RESTORE`) and remove what the task created.
    #[serde(default)]
    pub cancel: bool,
    /// Increase by one to retry a Failed task: leftovers of the failed attempt are removed and the restore
    /// starts again (the console's actions on failed recovery tasks).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub retry: i32,
    /// Set by a strategy's restore drill: after the restore, the checks run in the restored tenant, which
    /// is then dropped with its pool (docs/guide/restore-drills.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<super::drill::DrillRun>,
    /// OceanBase's restore JOB_ID. Set only by the operator, on mirrors of restores started outside it (by
    /// SQL, OCP or another tool); such a task only shows its restore and cannot be canceled or retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub job_id: Option<i64>,
}

fn default_true() -> bool {
    true
}

/// Rule: every field but `cancel` and `retry` keeps its value (and presence) across updates.
fn immutable_rule() -> Rule {
    let optional = ["decryption", "until", "drill", "jobId"]
        .map(unchanged_optional)
        .join(" && ");
    Rule::new(format!(
        "self.source == oldSelf.source && self.target == oldSelf.target \
         && self.activate == oldSelf.activate && {optional}"
    ))
    .message("spec is immutable except cancel and retry: create a new RecoveryTask instead")
}

/// Where the backup comes from: a BackupStrategy in this namespace, or explicit destinations.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.logical) || has(self.strategyRef) != (has(self.dataDestination) || has(self.logDestination))")
        .message("set either source.strategyRef or source.dataDestination with source.logDestination, not both"),
    validation = Rule::new("has(self.logical) || has(self.strategyRef) || (has(self.dataDestination) && has(self.logDestination))")
        .message("source.dataDestination and source.logDestination are both required without source.strategyRef"),
    validation = Rule::new("!has(self.logical) || !(has(self.strategyRef) || has(self.dataDestination) || has(self.logDestination))")
        .message("source.logical names the dump: do not set source.strategyRef, dataDestination or logDestination with it")
)]
pub struct RecoverySource {
    /// The BackupStrategy that backed the tenant up; its destinations are used, and its recoverable windows
    /// are checked before anything is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_ref: Option<StrategyReference>,
    /// The backed-up tenant (the console's "Backup Tenant").
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = tenant_name_rule(), validation = user_tenant_rule())]
    pub tenant: String,
    /// Display name of the backed-up cluster (the console's "Backup Cluster").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub cluster_name: Option<String>,
    /// Where the backup sets are, without a strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_destination: Option<StorageDestination>,
    /// Where the archived logs are, without a strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_destination: Option<StorageDestination>,
    /// A logical dump to load instead of a physical backup (with `target.logical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<LogicalRecoverySource>,
}

impl RecoverySource {
    /// The dump of the logical BackupTask `dump`, of `tenant`.
    pub fn of_dump(tenant: &str, dump: &str) -> Self {
        Self {
            strategy_ref: None,
            tenant: tenant.to_string(),
            cluster_name: None,
            data_destination: None,
            log_destination: None,
            logical: Some(LogicalRecoverySource {
                backup_task: Some(dump.to_string()),
                destination: None,
                path: None,
            }),
        }
    }
}

/// The tenant to create and the resources it gets.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTarget {
    /// The cluster to restore into (the console's "Destination Cluster"). Its sys tenant runs the restore.
    pub cluster: ClusterConnection,
    /// Name of the new tenant; it must not exist yet (the console's "Destination Tenant"). For a logical
    /// restore, the existing tenant to load into; it must not hold the tables and views the dump creates.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = tenant_name_rule(), validation = user_tenant_rule())]
    pub tenant: String,
    /// The resource pool the new tenant runs on (a physical restore creates the tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<TenantResources>,
    /// A logical restore loads the dump into the existing tenant `tenant` through one of its users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<LogicalRecoveryTarget>,
    /// Primary zone(s) of the new tenant, e.g. `zone1` or `zone1;zone2,zone3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_;,]+$')").message("primaryZone must list zone names separated by ';' or ','"))]
    pub primary_zone: Option<String>,
    /// Locality of the new tenant, e.g. `F@zone1,F@zone2,R@zone3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_@{},]+$')").message("locality must look like F@zone1,F@zone2"))]
    pub locality: Option<String>,
}

/// The point in time to restore to.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.time), has(self.scn), has(self.latest)].filter(x, x).size() == 1")
        .message("set exactly one of until.time, until.scn or until.latest"),
    validation = Rule::new("!has(self.latest) || self.latest")
        .message("until.latest must be true when set")
)]
pub struct RecoveryPoint {
    /// An RFC 3339 time, e.g. `2026-11-20T08:30:00Z` (fractions of a second allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 40))]
    #[x_kube(validation = Rule::new(
        "self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$')"
    ).message("until.time must be an RFC 3339 time such as 2026-11-20T08:30:00Z"))]
    pub time: Option<String>,
    /// An OceanBase SCN (nanoseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub scn: Option<i64>,
    /// `true`: restore everything that was archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<bool>,
}

/// Observed state of a RecoveryTask.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTaskStatus {
    /// The console's recovery status: `Pending`, `InProgress`, `Activating`, `Completed`, `Failed` or
    /// `Canceled`; a drill also passes through `Verifying` and `Dropping`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RecoveryTaskPhase>,
    /// `Ready`, `Reconciling`, `Stalled`, `RecoveryPointVerified`, `ClusterReachable`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A human-readable summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Display name of the backed-up cluster (from the source or its strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cluster_name: Option<String>,
    /// The `retry` value the current attempt belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_retry: Option<i32>,
    /// When the operator sent this attempt's RESTORE (its intent, recorded first so that a restart never
    /// sends it twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Time>,
    /// The resource pool this task created for the new tenant (dropped again if the restore fails or is
    /// canceled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_pool: Option<String>,
    /// OceanBase's restore JOB_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// The SCN the tenant is restored to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_scn: Option<i64>,
    /// The time the tenant is restored to (the console's "Recovery Time").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time: Option<Time>,
    /// Percent done, from finished over total bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub progress: Option<i32>,
    /// When the restore started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the restore ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// Why the restore failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The console's "Backup Method": `Physical` (a backup set and archived logs) or `Logical` (a dump).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<super::backup_strategy::BackupMethod>,
    /// The console's "Storage Directory": where the backup restored from lies, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_directory: Option<String>,
    /// `Drill` for a strategy's restore drill, `External` for a mirror of a restore started elsewhere,
    /// `Manual` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RestoreSource>,
    /// A drill's checks and verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<super::drill::DrillStatus>,
}

/// Who started a restore.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RestoreSource {
    /// A user (the console's "Initiate Recovery", `kubectl obbackup restore`).
    Manual,
    /// A strategy's restore drill.
    Drill,
    /// Mirrors a restore someone started outside this operator (by SQL, OCP or another tool).
    External,
}

/// The console's recovery task states.
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
pub enum RecoveryTaskPhase {
    /// Checks before the restore (target reachable, tenant name free, point inside a recoverable window).
    Pending,
    /// "In Progress": OceanBase is restoring.
    InProgress,
    /// Restored; promoting the standby tenant to primary.
    Activating,
    /// A drill's checks run in the restored tenant.
    Verifying,
    /// A drill's scratch tenant, pool and unit are dropped.
    Dropping,
    /// "Completed".
    Completed,
    /// "Failed": see `failure`; increase `retry` to try again.
    Failed,
    /// Canceled through `cancel`.
    Canceled,
}

impl RecoveryTaskPhase {
    /// Whether the phase never changes again (a Failed task changes when `retry` is increased).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}
