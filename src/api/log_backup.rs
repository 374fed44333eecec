//! LogBackup — continuous log archiving for one tenant (the console's "Log Backup" tab, Start / Stop).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema, core::Rule};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup_strategy::{
    ArchiveBinding, DURATION_RULE, PIECE_SWITCH_MESSAGE, PIECE_SWITCH_RULE,
    default_delay_alert_threshold, default_piece_switch_interval,
};
use super::common::{
    ClusterConnection, Failure, SecondCopyPhase, StorageDestination, StrategyReference,
    conditions_schema, strategy_or_cluster_rule, tenant_name_rule, unchanged_optional,
    user_tenant_rule,
};

/// Log archiving of one tenant. Change `desiredState` to start or stop it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "obbackup.dev",
    version = "v1alpha1",
    kind = "LogBackup",
    plural = "logbackups",
    shortname = "oblb",
    category = "obbackup",
    selectable = ".spec.tenant",
    selectable = ".status.phase",
    selectable = ".status.clusterName",
    namespaced,
    status = "LogBackupStatus",
    printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenant"),
    printcolumn(name = "Desired", type_ = "string", json_path = ".spec.desiredState"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Latest Backup Time",
        type_ = "string",
        json_path = ".status.checkpointTime"
    ),
    printcolumn(
        name = "Latency(s)",
        type_ = "integer",
        json_path = ".status.delaySeconds"
    ),
    printcolumn(name = "Started", type_ = "string", json_path = ".status.startTime"),
    printcolumn(
        name = "Second Latency(s)",
        type_ = "integer",
        json_path = ".status.secondBackup.delaySeconds"
    ),
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".status.clusterName",
        priority = 1
    ),
    printcolumn(
        name = "Service Host IP",
        type_ = "string",
        json_path = ".status.serviceHosts",
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
    validation = Rule::new("!has(self.cluster) || has(self.logDestination)")
        .message("logDestination is required when cluster is set"),
    validation = Rule::new("!has(self.strategyRef) || !has(self.logDestination)")
        .message("logDestination comes from the strategy: do not set it together with strategyRef"),
    validation = identity_is_fixed_rule()
)]
#[serde(rename_all = "camelCase")]
pub struct LogBackupSpec {
    /// The BackupStrategy whose cluster and log destination this archiving uses. Set this or `cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_ref: Option<StrategyReference>,
    /// The cluster, for archiving managed outside any strategy. Needs `logDestination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConnection>,
    /// Where archived logs are written (`LOG_ARCHIVE_DEST`), with `cluster`. OceanBase moves no
    /// running archive: a change takes effect once archiving is stopped and started again, in a new
    /// round (`DestinationApplied=False` until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_destination: Option<StorageDestination>,
    /// The user tenant whose logs are archived.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = tenant_name_rule(), validation = user_tenant_rule())]
    pub tenant: String,
    /// `Running` starts archiving (`ALTER SYSTEM ARCHIVELOG`), `Stopped` stops it (`NOARCHIVELOG`): the
    /// console's Start and Stop actions.
    #[serde(default)]
    pub desired_state: DesiredArchiveState,
    /// How often OceanBase starts a new archive piece: between `1d` and `7d` (or `24h`..`168h`).
    #[serde(default = "default_piece_switch_interval")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(PIECE_SWITCH_RULE).message(PIECE_SWITCH_MESSAGE))]
    pub piece_switch_interval: String,
    /// `Optional` (default) or `Mandatory`: whether transactions wait for archiving.
    #[serde(default)]
    pub binding: ArchiveBinding,
    /// Log delay above which `DelayWithinThreshold` turns False, e.g. `10m`.
    #[serde(default = "default_delay_alert_threshold")]
    #[schemars(length(min = 2, max = 16))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("delayAlertThreshold must be a duration such as 90s, 10m or 1h"))]
    pub delay_alert_threshold: String,
    /// `Running` (default) copies the archive to the strategy's second log destination; `Paused` stops
    /// that copy while archiving goes on, and `Running` again resumes it where it stopped (the console's
    /// pause and resume of a second log backup). The strategy never sets it, so a pause made here
    /// stays (docs/guide/second-backup.md).
    #[serde(default)]
    pub second_copy: DesiredCopyState,
}

/// Whether the archive's second copy runs.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DesiredCopyState {
    /// Copy the archive as it grows.
    #[default]
    Running,
    /// Copy nothing more until `Running` again.
    Paused,
}

/// Rule: the tenant and where it lives never change; everything else may.
fn identity_is_fixed_rule() -> Rule {
    let optional = ["strategyRef", "cluster"]
        .map(unchanged_optional)
        .join(" && ");
    Rule::new(format!("self.tenant == oldSelf.tenant && {optional}"))
        .message("tenant, strategyRef and cluster are immutable: create a new LogBackup instead")
}

/// The console's Start / Stop actions for log backup.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DesiredArchiveState {
    /// Archive logs continuously.
    #[default]
    Running,
    /// Do not archive logs.
    Stopped,
}

/// Observed state of a LogBackup.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogBackupStatus {
    /// The console's log backup status: `Starting`, `InProgress`, `Stopping`, `Stopped` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<LogBackupPhase>,
    /// `Ready`, `Reconciling`, `Stalled`, `DelayWithinThreshold`, `ClusterReachable`,
    /// `DestinationApplied` while archiving runs, and with a second backup
    /// `SecondCopyWithinThreshold`.
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
    /// Time up to which logs are archived (the console's "Latest Backup Time").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_time: Option<Time>,
    /// Seconds between now and the checkpoint (the console's "Latency").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i64>,
    /// When the current archive round started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// OceanBase's archive ROUND_ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_id: Option<i64>,
    /// Where logs are archived, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_directory: Option<String>,
    /// The IP addresses of the servers holding the tenant's units, which archive its logs (the console's
    /// "Service Host IP"), e.g. `10.0.0.1, 10.0.0.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_hosts: Option<String>,
    /// Why archiving failed, e.g. INTERRUPTED with OceanBase's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// The copy of the archive on the strategy's second log destination (the console's "Second Log
    /// Backup"), when the strategy keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_backup: Option<SecondLogCopy>,
}

/// The second copy of a tenant's archive: every piece copied as it grows and once more when it freezes.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondLogCopy {
    /// `Pending` (nothing to copy yet, or a Secret missing), `InProgress` (copying as archiving runs, also
    /// while a storage is unreachable), `Paused` (`spec.secondCopy: Paused`), `Completed` (archiving
    /// stopped and every piece is copied) or `Failed` (a copy read back differs; see `message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SecondCopyPhase>,
    /// Where the copy is, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_directory: Option<String>,
    /// When the operator started copying this archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Time up to which the copy holds the logs, verified (the console's "Last Backed up At").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_time: Option<Time>,
    /// Seconds the copy is behind the first destination's checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<i64>,
    /// The newest frozen piece copied whole; every earlier piece is copied too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_piece_id: Option<i64>,
    /// Bytes of the frozen pieces copied whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    /// Why the copy waits or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the copy started, paused, resumed and stopped, and why: the newest 20, oldest first (the
    /// console's scheduling history of a second log backup).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub history: Vec<CopyScheduling>,
}

/// How many scheduling entries a second log copy keeps.
pub const COPY_HISTORY: usize = 20;

/// One change in how the archive's second copy runs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyScheduling {
    /// When the operator saw the change.
    pub at: Time,
    /// `Started`, `Paused`, `Resumed` or `Stopped`.
    pub action: CopyAction,
    /// Why, in words.
    pub message: String,
}

/// What happened to the archive's second copy.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CopyAction {
    /// The copy began (first, or again after it stopped).
    Started,
    /// `spec.secondCopy: Paused`.
    Paused,
    /// `spec.secondCopy: Running` after a pause.
    Resumed,
    /// The copy ended: archiving stopped and every piece is copied, or a copy failed (see `message`).
    Stopped,
}

/// The console's log backup states.
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
pub enum LogBackupPhase {
    /// "Starting": a round is being prepared.
    Starting,
    /// "In Progress": logs are being archived.
    InProgress,
    /// "Stopping".
    Stopping,
    /// "Stopped".
    Stopped,
    /// "Failed": archiving was interrupted; see `failure`.
    Failed,
}
