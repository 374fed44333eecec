//! BackupTask — one data backup (the console's "Data Backup Tasks" and "Back up Now").

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema, core::Rule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    backup_strategy::BackupMethod,
    common::{
        ClusterConnection, Failure, SecondCopy, StorageDestination, StrategyReference, TaskSource,
        cancel_is_final_rule, conditions_schema, mirror_is_read_only_rule,
        strategy_or_cluster_rule, tenant_name_rule, unchanged_optional, user_tenant_rule,
    },
    logical::{LogicalBackupSpec, LogicalDumpStatus},
};

/// One full or incremental data backup of one tenant. Everything but `cancel` and `secondCopy` is fixed once
/// created.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "obbackup.dev",
    version = "v1alpha1",
    kind = "BackupTask",
    plural = "backuptasks",
    shortname = "obbt",
    category = "obbackup",
    selectable = ".spec.tenant",
    selectable = ".spec.method",
    selectable = ".status.phase",
    selectable = ".status.clusterName",
    selectable = ".status.backupSetId",
    namespaced,
    status = "BackupTaskStatus",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenant"),
    printcolumn(name = "Method", type_ = "string", json_path = ".spec.method"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(
        name = "Backup Set",
        type_ = "integer",
        json_path = ".status.backupSetId"
    ),
    printcolumn(name = "Source", type_ = "string", json_path = ".status.source"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Progress", type_ = "integer", json_path = ".status.progress"),
    printcolumn(name = "Started", type_ = "string", json_path = ".status.startedAt"),
    printcolumn(name = "Ended", type_ = "string", json_path = ".status.endedAt"),
    printcolumn(
        name = "Second Backup",
        type_ = "string",
        json_path = ".status.secondBackup.phase"
    ),
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".status.clusterName",
        priority = 1
    ),
    printcolumn(
        name = "Job ID",
        type_ = "integer",
        json_path = ".status.jobId",
        priority = 1
    ),
    printcolumn(
        name = "Data Version",
        type_ = "string",
        json_path = ".status.dataVersion",
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
    validation = strategy_or_cluster_rule(),
    validation = Rule::new("!has(self.cluster) || has(self.dataDestination)")
        .message("dataDestination is required when cluster is set"),
    validation = Rule::new("!has(self.strategyRef) || !has(self.dataDestination)")
        .message("dataDestination comes from the strategy: do not set it together with strategyRef"),
    validation = Rule::new("self.method != 'Logical' || has(self.logical)")
        .message("method Logical needs logical: the Secret of a user of the tenant, and what to dump"),
    validation = Rule::new("self.method == 'Logical' || !has(self.logical)")
        .message("logical is for method Logical only"),
    validation = Rule::new("self.method != 'Logical' || (self.mode == 'Full' && !self.plusArchivelog)")
        .message("a logical backup is a whole dump: mode Full, plusArchivelog false"),
    validation = immutable_rule(),
    validation = cancel_is_final_rule(),
    validation = mirror_is_read_only_rule(),
    validation = Rule::new("!self.cancel || !has(self.secondCopy) || (has(oldSelf.secondCopy) && self.secondCopy == oldSelf.secondCopy)")
        .message("cancel: true is final, also for the set's second copy: secondCopy cannot change on a canceled BackupTask"),
    validation = Rule::new("!has(oldSelf.secondCopy) || has(self.secondCopy)")
        .message("secondCopy cannot be removed once set: set secondCopy.cancel to false instead")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupTaskSpec {
    /// The BackupStrategy whose cluster and data destination this backup uses. Set this or `cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_ref: Option<StrategyReference>,
    /// The cluster to back up, for an ad hoc backup outside any strategy. Needs `dataDestination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Box<ClusterConnection>>,
    /// Where to write the backup set, for an ad hoc backup (with `cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_destination: Option<StorageDestination>,
    /// The user tenant to back up.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = tenant_name_rule(), validation = user_tenant_rule())]
    pub tenant: String,
    /// `Full` or `Incremental`. OceanBase turns an incremental backup without an earlier full one into a full
    /// backup.
    pub mode: BackupMode,
    /// Also copy the archived logs needed to restore this backup set on its own (`PLUS ARCHIVELOG`).
    #[serde(default)]
    pub plus_archivelog: bool,
    /// `Physical` (an OceanBase backup set, the default) or `Logical` (a consistent dump of the tenant's
    /// databases, read through a user of the tenant and written by the operator: see `logical`).
    #[serde(default)]
    pub method: BackupMethod,
    /// What a logical backup dumps, and as whom. Required with method Logical, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<Box<LogicalBackupSpec>>,
    /// OceanBase's backup JOB_ID. Set only by the operator, on mirrors of backups started outside it (by
    /// SQL, OCP or another tool); such a task only shows its job and cannot be canceled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub job_id: Option<i64>,
    /// Set to true to cancel the backup (`ALTER SYSTEM CANCEL BACKUP`); the task then ends Canceled.
    #[serde(default)]
    pub cancel: bool,
    /// Actions on the completed set's second copy alone (the console's actions on a second backup task):
    /// cancel it, or copy again a set whose copy was canceled or failed. The backup itself is untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_copy: Option<SecondCopyActions>,
}

/// What the user asks of a set's second copy (docs/guide/second-backup.md).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.retry >= oldSelf.retry").message("secondCopy.retry can only be increased"),
    validation = Rule::new("!self.cancel || self.retry == oldSelf.retry")
        .message("secondCopy.retry copies the set again: set secondCopy.cancel to false with it")
)]
pub struct SecondCopyActions {
    /// Set to true to stop the copy (it ends `Canceled`; what was copied stays and the copy does not
    /// count). Unlike the task's `cancel` it may be set back to false, and a retry copies the set again.
    #[serde(default)]
    pub cancel: bool,
    /// Increase by one to copy the set again after its copy ended `Canceled` or `Failed`: the copy
    /// resumes from what it verified before and ends `Completed` once the whole set is verified. A
    /// retry of a copy that runs or completed does nothing.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub retry: i32,
}

impl BackupTaskSpec {
    /// The copy actions asked for (none: no cancel, retry 0).
    pub fn copy_actions(&self) -> SecondCopyActions {
        self.second_copy.clone().unwrap_or_default()
    }
}

/// Rule: every field but `cancel` and `secondCopy` keeps its value (and presence) across updates.
fn immutable_rule() -> Rule {
    let optional = [
        "strategyRef",
        "cluster",
        "dataDestination",
        "logical",
        "jobId",
    ]
    .map(unchanged_optional)
    .join(" && ");
    Rule::new(format!(
        "self.tenant == oldSelf.tenant && self.mode == oldSelf.mode && self.plusArchivelog == oldSelf.plusArchivelog && self.method == oldSelf.method && {optional}"
    ))
    .message("spec is immutable except cancel and secondCopy: create a new BackupTask instead")
}

/// Data backup mode (the console's "Data Backup Mode").
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum BackupMode {
    /// A full backup set.
    Full,
    /// An incremental backup set on top of the latest full or incremental set.
    Incremental,
}

/// Observed state of a BackupTask.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupTaskStatus {
    /// The console's task status: `Pending`, `InProgress`, `Completed`, `Failed` or `Canceled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupTaskPhase>,
    /// `Ready`, `Reconciling`, `Stalled`, `Progressing`, `ClusterReachable`.
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
    /// Whether a schedule, a user or OceanBase itself started this backup (the console's "Backup Task Source").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TaskSource>,
    /// OceanBase's JOB_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// OceanBase's BACKUP_SET_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_set_id: Option<i64>,
    /// When the operator recorded its intent to submit the job, before sending the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Time>,
    /// When the job's progress last changed (for the `Progressing` condition of a stuck backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress_time: Option<Time>,
    /// When OceanBase started the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When OceanBase finished the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// Percent done, from finished over total tablets (or macro blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub progress: Option<i32>,
    /// Bytes read so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<i64>,
    /// Bytes written so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<i64>,
    /// Where the backup set was written, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_directory: Option<String>,
    /// The console's "Data Version": for a backup set, the tenant's data version it was taken at
    /// (OceanBase's `TENANT_COMPATIBLE`, e.g. `4.2.5.0`); for a logical dump, the SCN it read every table at
    /// (`logical.snapshotScn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_version: Option<String>,
    /// Why the backup failed (the console's "View Cause").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The set's second copy, when the strategy keeps one (the console's "Second Backup").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_backup: Option<Box<SecondCopy>>,
    /// A logical backup's snapshot (the console's "Data Version") and what it dumped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<Box<LogicalDumpStatus>>,
}

/// The console's data backup task states.
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
pub enum BackupTaskPhase {
    /// Waiting to be submitted (another backup of the tenant is running, or log archiving is not running yet).
    Pending,
    /// "In Progress": OceanBase is running the job.
    InProgress,
    /// "Completed".
    Completed,
    /// "Failed": see `failure`.
    Failed,
    /// Canceled through `cancel`.
    Canceled,
}

impl BackupTask {
    /// The tenant's directory a logical dump lies under: a strategy's placement names it already; a task's
    /// own destination gets the tenant's directory under it, as a strategy's would.
    pub fn dump_root(&self, destination: StorageDestination) -> StorageDestination {
        if self.spec.strategy_ref.is_some() {
            destination
        } else {
            destination.for_tenant(&self.spec.tenant)
        }
    }

    /// A logical dump's directory under the tenant's destination: the task's name, and its uid so that a
    /// task made again under the same name never resumes (or reports) the dump of the one before.
    pub fn dump_directory(&self) -> String {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let uid = self.metadata.uid.as_deref().unwrap_or_default();
        let short: String = uid.chars().filter(|c| *c != '-').take(8).collect();
        format!("logical/{name}-{short}")
    }
}

impl BackupTaskPhase {
    /// Whether the phase never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}
