//! BackupStrategy — the console's "New Backup Strategy" and the cluster's Backup & Recovery overview.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{CRON_RULE, DURATION_RULE};
use super::common::{
    ClusterConnection, PasswordSecret, StorageDestination, TimeWindow, conditions_schema,
};

/// A backup strategy for one OceanBase cluster (optionally a subset of its tenants): where backups go,
/// when full and incremental backups run, how log archiving is configured, and how long backups are kept.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "obbackup.dev",
    version = "v1alpha1",
    kind = "BackupStrategy",
    plural = "backupstrategies",
    shortname = "obbs",
    category = "obbackup",
    selectable = ".spec.method",
    selectable = ".status.phase",
    namespaced,
    status = "BackupStrategyStatus",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.cluster.name"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Method", type_ = "string", json_path = ".spec.method"),
    printcolumn(
        name = "Last Data Backup",
        type_ = "string",
        json_path = ".status.lastDataBackupTime"
    ),
    printcolumn(
        name = "Log Checkpoint",
        type_ = "string",
        json_path = ".status.logCheckpointTime"
    ),
    printcolumn(
        name = "Log Delay(s)",
        type_ = "integer",
        json_path = ".status.logDelaySeconds"
    ),
    printcolumn(
        name = "Backup Size",
        type_ = "string",
        json_path = ".status.backupSize"
    ),
    printcolumn(
        name = "Restore Verified",
        type_ = "string",
        json_path = ".status.lastPassedDrillTime"
    ),
    printcolumn(
        name = "Next Full",
        type_ = "string",
        json_path = ".status.nextFullBackupTime",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("!has(self.logDestination) || self.dataDestination.uri != self.logDestination.uri")
    .message("dataDestination and logDestination must be different locations"))]
#[x_kube(validation = Rule::new("!has(self.secondBackup) || !has(self.logDestination) || [self.secondBackup.dataDestination.uri, self.secondBackup.logDestination.uri].map(u, (u.split('?')[0] + '/').replace('//', '/').replace('//', '/')).all(s, [self.dataDestination.uri, self.logDestination.uri].map(u, (u.split('?')[0] + '/').replace('//', '/').replace('//', '/')).all(f, !s.startsWith(f) && !f.startsWith(s)))")
    .message("secondBackup's destinations must lie apart from dataDestination and logDestination: neither the same directory (however spelled) nor one inside the other"))]
#[x_kube(validation = Rule::new("self.method == 'Logical' || has(self.logDestination)")
    .message("a Physical strategy needs logDestination (where OceanBase archives logs)"))]
#[x_kube(validation = Rule::new("self.method == 'Logical' || !has(self.logical)")
    .message("logical is for method Logical; remove it or set method: Logical"))]
#[x_kube(validation = Rule::new("self.method != 'Logical' || has(self.logical)")
    .message("method Logical needs logical: credentialsSecret (a user of the tenant the dumps read through) or obTenant"))]
#[x_kube(validation = Rule::new("!has(self.logical) || !has(self.logical.obTenant) || size(self.tenants) == 1")
    .message("logical.obTenant logs in as one tenant's root: list that one tenant in tenants"))]
#[x_kube(validation = Rule::new("self.method != 'Logical' || size(self.tenants) > 0")
    .message("method Logical needs tenants: the dumps read through a user of each listed tenant"))]
#[x_kube(validation = Rule::new("self.method != 'Logical' || !has(self.schedule.incremental)")
    .message("a logical backup is always whole: method Logical takes schedule.full only"))]
#[x_kube(validation = Rule::new("self.method != 'Logical' || !has(self.secondBackup) && !has(self.encryption)")
    .message("secondBackup and encryption are for physical backups; method Logical takes neither"))]
#[x_kube(validation = Rule::new("self.method != 'Logical' || !has(self.deletionPolicy) || self.deletionPolicy == 'Retain'")
    .message("deletionPolicy StopArchiving is for physical backups: a logical strategy never archives"))]
#[x_kube(validation = Rule::new("!has(self.logBackup) || !has(self.logBackup.stoppedTenants) || !has(self.tenants) || size(self.tenants) == 0 || self.logBackup.stoppedTenants.all(t, self.tenants.exists(u, u.lowerAscii() == t.lowerAscii()))")
    .message("logBackup.stoppedTenants must name tenants of the strategy (listed in tenants)"))]
#[x_kube(validation = Rule::new("!has(self.restoreDrill) || self.method == 'Logical' || has(self.restoreDrill.target.resources)")
    .message("restoreDrill.target.resources is required for a physical strategy: the unit and zones of the scratch tenant"))]
#[x_kube(validation = Rule::new("!has(self.restoreDrill) || self.method != 'Logical' || (!has(self.restoreDrill.target.resources) && !has(self.restoreDrill.checks) && !has(self.restoreDrill.freshness))")
    .message("a logical strategy's drill loads its newest dump into drill_ databases of an existing tenant and checks every table against the dump: set target.tenant if needed, not target.resources, checks or freshness"))]
#[x_kube(validation = Rule::new("!has(self.restoreDrill) || !has(self.restoreDrill.tenants) || size(self.tenants) == 0 || self.restoreDrill.tenants.all(t, self.tenants.exists(u, u.lowerAscii() == t.lowerAscii()))")
    .message("restoreDrill.tenants must name tenants of the strategy (listed in tenants)"))]
#[serde(rename_all = "camelCase")]
pub struct BackupStrategySpec {
    /// The OceanBase cluster to back up.
    pub cluster: ClusterConnection,
    /// User tenants covered by this strategy. Empty means every user tenant of the cluster (never sys or
    /// meta tenants). A tenant belongs to at most one strategy.
    #[serde(default)]
    #[schemars(length(max = 64), inner(length(min = 1, max = 128)))]
    #[x_kube(
        validation = Rule::new("self.all(t, t.matches('^[A-Za-z_][A-Za-z0-9_]*$'))")
            .message("each tenant must be an OceanBase tenant name: a letter or underscore, then letters, digits or underscores"),
        validation = Rule::new("self.all(t, t.lowerAscii() != 'sys')")
            .message("the sys tenant cannot be backed up; list user tenants only"),
        validation = Rule::new("self.all(t, self.exists_one(u, u.lowerAscii() == t.lowerAscii()))")
            .message("tenants must not list a tenant twice (OceanBase tenant names ignore case)")
    )]
    pub tenants: Vec<String>,
    /// Tenants of the cluster deliberately left without a backup strategy: they are not reported as
    /// `NoBackupStrategy` (status, metric and alert; docs/guide/cluster-overview.md). Names as in `tenants`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 128)))]
    #[x_kube(
        validation = Rule::new("self.all(t, t.matches('^[A-Za-z_][A-Za-z0-9_]*$'))")
            .message("each ignored tenant must be an OceanBase tenant name: a letter or underscore, then letters, digits or underscores")
    )]
    pub ignored_tenants: Vec<String>,
    /// Backup method. `Physical`: OceanBase's backup sets and archived logs. `Logical`: scheduled
    /// consistent dumps the operator takes through a user of each tenant (`logical`), kept on
    /// dataDestination for `retention.recoveryWindow`; no log archiving, no incremental backups.
    #[serde(default)]
    pub method: BackupMethod,
    /// Where data backups are written: OceanBase's `DATA_BACKUP_DEST` (each tenant in its own directory),
    /// or a logical strategy's dumps (`<tenant>/logical/<task>-<uid>` under it).
    pub data_destination: StorageDestination,
    /// Where archived logs are written: OceanBase's `LOG_ARCHIVE_DEST`. Must differ from dataDestination.
    /// Required for method Physical; a logical strategy has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_destination: Option<StorageDestination>,
    /// What the dumps of a logical strategy read, and as whom (method Logical only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<super::logical::LogicalBackupSpec>,
    /// When data backups run.
    pub schedule: BackupSchedule,
    /// Continuous log archiving, which makes point-in-time recovery possible.
    #[serde(default)]
    pub log_backup: LogBackupSettings,
    /// How long backups are kept, and how many finished task objects are kept in Kubernetes.
    #[serde(default)]
    pub retention: Retention,
    /// Encrypt data backups with a password. Restores then need the same password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<PasswordSecret>,
    /// Pause scheduling of data backups (the console's "Pause"). Log archiving keeps running, so the
    /// recoverable window never gets a silent gap.
    #[serde(default)]
    pub suspend: bool,
    /// What happens in OceanBase when this strategy is deleted. Backups already taken are never deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// A second copy of every backup set on other storage (the console's "Second Backup"), made by the
    /// operator itself and verified object by object: OceanBase 4.x has no statement that copies a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_backup: Option<SecondBackup>,
    /// Restore drills: on a schedule, each tenant is restored into a scratch tenant, checked, and dropped
    /// again (docs/guide/restore-drills.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_drill: Option<super::drill::RestoreDrill>,
}

/// Where and how the second copies are made.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[x_kube(validation = Rule::new("[self.dataDestination.uri, self.logDestination.uri].map(u, (u.split('?')[0] + '/').replace('//', '/').replace('//', '/')).all(s, [self.dataDestination.uri, self.logDestination.uri].map(u, (u.split('?')[0] + '/').replace('//', '/').replace('//', '/')).exists_one(f, s.startsWith(f) || f.startsWith(s)))")
    .message("secondBackup's dataDestination and logDestination must be different locations, neither inside the other"))]
#[serde(rename_all = "camelCase")]
pub struct SecondBackup {
    /// Where each backup set is copied once OceanBase finished it (same forms and Secret rules as
    /// dataDestination). The operator must reach both this and the first destination: for `file://`, the
    /// share mounted in its pod (see `--file-destination-root`).
    pub data_destination: StorageDestination,
    /// Where archive pieces are copied, as they grow and once more when they freeze.
    pub log_destination: StorageDestination,
    /// Objects copied at a time, per backup set.
    #[serde(default = "default_copy_concurrency")]
    #[schemars(range(min = 1, max = 32))]
    pub concurrency: i32,
    /// Most bytes per second one copy writes, e.g. `50Mi`; unlimited when absent. At least a megabyte per
    /// second (`1000000`, `1000Ki`, `1Mi`): below that a set of a few GiB takes days to copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new("self.matches('^([1-9][0-9]*(Mi|Gi)|[1-9][0-9]{3,}Ki|[1-9][0-9]{6,})$')").message("bandwidthLimit must be bytes per second, at least a megabyte: 1000000 or more, 1000Ki or more, or in Mi or Gi, e.g. 50Mi"))]
    pub bandwidth_limit: Option<String>,
    /// How often every copied backup set is read back from the second destination and checked against
    /// what was copied (an object damaged or lost there is copied again, with a Warning event), e.g. `7d`.
    /// The same pass copies sets the second destination lacks (those completed before `secondBackup` was
    /// set). Each pass reads the whole copy: mind the second storage's egress.
    #[serde(default = "default_verify_every")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new("self.matches('^[1-9][0-9]*(m|h|d)$')").message("verifyEvery must be minutes, hours or days, e.g. 30m, 12h or 7d"))]
    pub verify_every: String,
    /// Whether the copy follows the first destination's cleanups (the default): a backup set or archive
    /// piece OceanBase deletes there (by the retention policy or a CleanupTask) is deleted from the second
    /// destination too. `false` keeps everything copied, for a longer retention offsite (bound it with the
    /// second storage's own lifecycle rules); the copy's recoverable windows still count only what the first
    /// destination lists.
    #[serde(default = "default_true")]
    pub follow_cleanup: bool,
}

fn default_copy_concurrency() -> i32 {
    4
}

fn default_verify_every() -> String {
    "7d".into()
}

impl BackupStrategy {
    /// Whether the strategy claims `tenant`: an empty list claims every tenant but a drill's scratch tenant;
    /// names ignore case.
    pub fn claims(&self, tenant: &str) -> bool {
        let tenants = &self.spec.tenants;
        (tenants.is_empty() && !crate::names::is_scratch(tenant))
            || tenants.iter().any(|t| t.eq_ignore_ascii_case(tenant))
    }
}

impl SecondBackup {
    /// How often copies are verified (None: a value the schema would refuse).
    pub fn verify_interval(&self) -> Option<std::time::Duration> {
        let span = super::common::parse_duration(&self.verify_every)?;
        std::time::Duration::try_from(span)
            .ok()
            .filter(|d| !d.is_zero())
    }

    /// The bandwidth limit in bytes per second (None: unlimited, or a value the schema would refuse); a
    /// value past what 64 bits count is no limit.
    pub fn bandwidth(&self) -> Option<u64> {
        let text = self.bandwidth_limit.as_deref()?;
        let (digits, shift) = match text.strip_suffix("Gi") {
            Some(d) => (d, 30),
            None => match text.strip_suffix("Mi") {
                Some(d) => (d, 20),
                None => text.strip_suffix("Ki").map_or((text, 0), |d| (d, 10)),
            },
        };
        let value: u64 = digits.parse().ok()?;
        value.checked_mul(1 << shift)
    }
}

/// Backup method (the console's "Backup Method").
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum BackupMethod {
    /// Physical backup: backup sets plus archived logs, restorable to a point in time.
    #[default]
    Physical,
    /// Logical backup: a consistent dump of the tenant's databases through a user of the tenant.
    Logical,
}

/// When data backups run. Cron expressions have five fields (minute hour day-of-month month day-of-week) and
/// are evaluated in `timeZone`, including its daylight-saving changes.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSchedule {
    /// IANA time zone the cron expressions are evaluated in, e.g. `Asia/Shanghai`, `Europe/Berlin` or `UTC`.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = super::common::time_zone_rule("timeZone"))]
    pub time_zone: String,
    /// When full backups run, e.g. `0 1 * * 0` (Sundays at 01:00).
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new(CRON_RULE).message("full must be a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. '0 1 * * 0'"))]
    pub full: String,
    /// When incremental backups run, e.g. `0 1 * * 1-6`. Omit for full backups only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new(CRON_RULE).message("incremental must be a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. '0 1 * * 1-6'"))]
    pub incremental: Option<String>,
    /// A run missed (operator down, another backup still running) is started late only within this many
    /// seconds of its scheduled time; otherwise it is skipped and the next one waits for its own time.
    #[serde(default = "default_starting_deadline")]
    #[schemars(range(min = 60, max = 604800))]
    pub starting_deadline_seconds: i64,
}

fn default_starting_deadline() -> i64 {
    3600
}

/// Log archiving settings applied to every tenant of the strategy.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogBackupSettings {
    /// Keep log archiving running for every tenant. Turning it off leaves no way to restore to a point in
    /// time between data backups.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often OceanBase starts a new archive piece: between `1d` and `7d` (or `24h`..`168h`).
    #[serde(default = "default_piece_switch_interval")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(PIECE_SWITCH_RULE).message(PIECE_SWITCH_MESSAGE))]
    pub piece_switch_interval: String,
    /// `Optional` (default): transactions do not wait for archiving. `Mandatory`: they wait, so archiving
    /// can slow the tenant down but never falls behind.
    #[serde(default)]
    pub binding: ArchiveBinding,
    /// Log delay above which the `LogBackupHealthy` condition turns False and an alert fires, e.g. `10m`.
    #[serde(default = "default_delay_alert_threshold")]
    #[schemars(length(min = 2, max = 16))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("delayAlertThreshold must be a duration such as 90s, 10m or 1h"))]
    pub delay_alert_threshold: String,
    /// Tenants whose log archiving is stopped (the console's "Stop" on a tenant's log backup): their
    /// LogBackups ask for `Stopped`, the others for `Running`. Remove a tenant to start it again. While
    /// stopped, the tenant can be restored only to the end of a data backup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 128)))]
    #[x_kube(
        validation = Rule::new("self.all(t, t.matches('^[A-Za-z_][A-Za-z0-9_]*$'))")
            .message("each stopped tenant must be an OceanBase tenant name: a letter or underscore, then letters, digits or underscores")
    )]
    pub stopped_tenants: Vec<String>,
}

impl LogBackupSettings {
    /// Whether the tenant's archiving is stopped on request (tenant names ignore case).
    pub fn stopped(&self, tenant: &str) -> bool {
        self.stopped_tenants
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant))
    }
}

impl Default for LogBackupSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            piece_switch_interval: default_piece_switch_interval(),
            binding: ArchiveBinding::default(),
            delay_alert_threshold: default_delay_alert_threshold(),
            stopped_tenants: Vec::new(),
        }
    }
}

/// CEL: `1d`..`7d` or `24h`..`168h`.
pub const PIECE_SWITCH_RULE: &str =
    "self.matches('^([1-7]d|(2[4-9]|[3-9][0-9]|1[0-5][0-9]|16[0-8])h)$')";
/// Message shown when [`PIECE_SWITCH_RULE`] fails.
pub const PIECE_SWITCH_MESSAGE: &str =
    "pieceSwitchInterval must be between 1d and 7d, e.g. 1d or 36h";

fn default_true() -> bool {
    true
}

/// OceanBase's default piece switch interval.
pub fn default_piece_switch_interval() -> String {
    "1d".to_string()
}

/// Default log delay alert threshold.
pub fn default_delay_alert_threshold() -> String {
    "10m".to_string()
}

/// Whether transactions wait for log archiving (`LOG_ARCHIVE_DEST … BINDING=`).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ArchiveBinding {
    /// Transactions do not wait for archiving.
    #[default]
    Optional,
    /// Transactions wait until their logs are archived.
    Mandatory,
}

/// How long backups are kept.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// How far back a restore must stay possible, e.g. `7d`. OceanBase's `'default'` delete policy removes
    /// backup sets and archive pieces no longer needed for this window (about hourly).
    #[serde(default = "default_recovery_window")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new("self.matches('^[1-9][0-9]*(h|d)$')").message("recoveryWindow must be a number of days or hours, e.g. 7d or 36h"))]
    pub recovery_window: String,
    /// How many Completed BackupTasks, and how many Completed CleanupTasks, of this strategy to keep as
    /// objects (the newest cleanup of each tenant always stays).
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 0, max = 1000))]
    pub successful_tasks_history_limit: i32,
    /// How many Failed or Canceled BackupTasks, and how many such CleanupTasks, of this strategy to keep as
    /// objects.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 0, max = 1000))]
    pub failed_tasks_history_limit: i32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            recovery_window: default_recovery_window(),
            successful_tasks_history_limit: default_history_limit(),
            failed_tasks_history_limit: default_history_limit(),
        }
    }
}

fn default_recovery_window() -> String {
    "7d".to_string()
}

fn default_history_limit() -> i32 {
    10
}

/// What deleting the strategy does in OceanBase.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Leave OceanBase untouched: destinations, log archiving, the delete policy and every backup stay.
    /// Only the strategy's Kubernetes children are removed.
    #[default]
    Retain,
    /// Stop log archiving (`NOARCHIVELOG`) and drop the `'default'` delete policy of the strategy's tenants.
    /// Backup data already written is still never deleted. A finalizer holds the strategy until OceanBase
    /// has accepted both; while it cannot be reached a Warning event says so, and setting `Retain` again
    /// releases the strategy at once.
    StopArchiving,
}

/// Observed state of a BackupStrategy: the console's Backup & Recovery overview.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStrategyStatus {
    /// The console's strategy status: `PendingScheduling`, `InProgress`, `Paused`, `Failed`
    /// (invalid configuration only) or `Stalled` (waiting on something outside the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<StrategyPhase>,
    /// `Ready`, `Reconciling`, `Stalled`, `ClusterReachable`, `DestinationReady`,
    /// `LogBackupHealthy`, `RecoverableWindowContinuous`, `RetentionApplied`, `Scheduled`, with
    /// a second backup `SecondBackupReady`, and with restore drills `RestoreVerified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// A human-readable summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-tenant backup state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantBackupStatus>,
    /// The most recent successful data backup of any tenant (the console's "Last Data Backup").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_data_backup_time: Option<Time>,
    /// The oldest log checkpoint among the tenants (the console's "Log Backup Checkpoint").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_checkpoint_time: Option<Time>,
    /// The largest log delay among the tenants, in seconds (the console's "Log Delay").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_delay_seconds: Option<i64>,
    /// Total size of data and log backups, human-readable (the console's "Backup File").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size: Option<String>,
    /// When the next full backup is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_full_backup_time: Option<Time>,
    /// When the next incremental backup is scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_incremental_backup_time: Option<Time>,
    /// When the schedule last created a BackupTask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// The second copy (when `secondBackup` is set): its verification and how far its archive is behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_backup: Option<SecondBackupOverview>,
    /// Each drilled tenant's last drill and last passed drill (with `restoreDrill`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<super::drill::TenantDrills>,
    /// The oldest of the drilled tenants' last passed drills: every tenant restored and checked since then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_passed_drill_time: Option<Time>,
    /// The newest scheduled runs that were not started when due, newest first (at most 20): the console's
    /// scheduling history of what did not run (docs/guide/strategies.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_runs: Vec<SkippedRun>,
    /// Tenants of the cluster that no strategy covers and no strategy ignores (`ignoredTenants`): the
    /// console's "No Backup Strategy". Reported by one strategy per cluster, the first by namespace and
    /// name among those of the cluster (docs/guide/cluster-overview.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants_without_strategy: Vec<String>,
    /// When the drill schedule last created drills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill_schedule_time: Option<Time>,
    /// The alerts the strategy raised: each tenant's or the cluster's condition that went bad, as the
    /// chart's alert of the same name, active ones first, then the most recently recovered; at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<super::alert::AlertRecord>,
}

/// The strategy's second copy as a whole (the console's "Second Backup" of a strategy).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondBackupOverview {
    /// When the last pass over every copied backup set ended: each read back from the second destination,
    /// checked against what was copied, and anything damaged, lost or missing copied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_at: Option<Time>,
    /// Backup sets that pass found on the second destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_sets: Option<i64>,
    /// Objects found damaged or lost on the second destination, and copied again, since the strategy was
    /// created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired_objects: Option<i64>,
    /// Time up to which the second copy holds every tenant's archive (the end of what a restore from the
    /// copy can reach), the oldest of the tenants'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_checkpoint_time: Option<Time>,
    /// Seconds the second copy of the archive is behind the first, the most of the tenants'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_delay_seconds: Option<i64>,
    /// Each tenant's second copy: what a restore from it alone can reach, and what it holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<SecondTenantCopy>,
}

/// One tenant's second copy.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondTenantCopy {
    /// Tenant name.
    pub name: String,
    /// Time ranges a restore from the second copy can reach: built, like the tenant's own windows, on the
    /// backup sets known whole there (copied by their BackupTask, or found by the last verification pass)
    /// and the archive copied up to the copy's checkpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recoverable_windows: Vec<TimeWindow>,
    /// Bytes of the backup sets on the copy (as OceanBase reports each set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_backup_bytes: Option<i64>,
    /// Bytes of the archive pieces copied whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_bytes: Option<i64>,
}

/// The console's backup strategy states.
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
pub enum StrategyPhase {
    /// "Pending Backup Scheduling": configured, waiting for the first scheduled backup or for log archiving.
    PendingScheduling,
    /// "In Progress": backups are being scheduled.
    InProgress,
    /// "Paused": `suspend` is set; log archiving keeps running.
    Paused,
    /// The configuration is invalid; see `message`.
    Failed,
    /// Waiting on something outside the spec (a Secret, the cluster's connection, another object's claim on
    /// a tenant); see `message` and the `Stalled` condition.
    Stalled,
}

/// Backup state of one tenant.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantBackupStatus {
    /// Tenant name.
    pub name: String,
    /// The console's tenant backup status: `InProgress` (its backups run: archiving for a physical
    /// strategy, a completed dump for a logical one) or `PendingBackupScheduling` (covered, not yet
    /// backed up that way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TenantBackupState>,
    /// The console's "Backup Method" of the tenant: its strategy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<BackupMethod>,
    /// End of the last successful data backup (full or incremental).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_data_backup_time: Option<Time>,
    /// End of the last successful full backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_backup_time: Option<Time>,
    /// Time up to which logs are archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_checkpoint_time: Option<Time>,
    /// Seconds between now and the log checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_delay_seconds: Option<i64>,
    /// Time ranges the tenant can be restored to (the console's "Available Recovery Period").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recoverable_windows: Vec<TimeWindow>,
    /// Bytes of backup sets kept for this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_backup_bytes: Option<i64>,
    /// Bytes of archived logs kept for this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_backup_bytes: Option<i64>,
}

/// A scheduled run that was not started when it was due.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedRun {
    /// When the run was due.
    pub scheduled_at: Time,
    /// `Full`, `Incremental` (data backups) or `Drill` (a restore drill).
    pub run: ScheduledRun,
    /// The tenant whose run it was, when the run is per tenant (a drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Why it did not run.
    pub reason: SkipReason,
    /// When the strategy found it skipped.
    pub recorded_at: Time,
}

/// A kind of scheduled run.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ScheduledRun {
    /// A full data backup.
    Full,
    /// An incremental data backup.
    Incremental,
    /// A restore drill (`restoreDrill.schedule`).
    Drill,
}

/// Why a scheduled run did not run.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SkipReason {
    /// Found more than `schedule.startingDeadlineSeconds` after its time (the operator was down, or a
    /// later run of the same kind came first): it is not made late.
    Missed,
    /// Due while the strategy was suspended (`spec.suspend`).
    Paused,
    /// The tenant's previous run (a drill) still ran.
    Busy,
    /// A logical drill had no dump of the tenant to load yet.
    NoDump,
}

/// A tenant's backup status in the console's words (docs/guide/cluster-overview.md).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TenantBackupState {
    /// Covered by a strategy that does not back it up yet (archiving not running, or no dump yet).
    PendingBackupScheduling,
    /// Backed up: archiving runs (physical), or a dump completed (logical).
    InProgress,
    /// No strategy covers the tenant (shown in `status.tenantsWithoutStrategy` and by the plugin).
    NoBackupStrategy,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(limit: &str) -> SecondBackup {
        serde_json::from_value(serde_json::json!({
            "dataDestination": {"uri": "file:///offsite/data"},
            "logDestination": {"uri": "file:///offsite/archive"},
            "bandwidthLimit": limit,
        }))
        .expect("a second backup")
    }

    #[test]
    fn every_tenant_means_every_tenant_but_a_drills_scratch_tenant() {
        let strategy = |tenants: serde_json::Value| -> BackupStrategy {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"name": "all"},
                "spec": {
                    "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": tenants,
                    "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                    "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                },
            }))
            .expect("strategy")
        };
        let every = strategy(serde_json::json!([]));
        assert!(every.claims("tenant1"));
        assert!(!every.claims("drill_tenant1_20261126030000"));
        assert!(!every.claims("DRILL_tenant1_20261126030000"));
        // A strategy that names such a tenant claims it: the list is the user's word.
        assert!(strategy(serde_json::json!(["drill_x"])).claims("drill_x"));
    }

    #[test]
    fn a_bandwidth_limit_is_read_in_bytes_and_never_wraps_around() {
        assert_eq!(second("50Mi").bandwidth(), Some(50 << 20));
        assert_eq!(second("1000Ki").bandwidth(), Some(1_024_000));
        assert_eq!(second("1000000").bandwidth(), Some(1_000_000));
        assert_eq!(second("8Gi").bandwidth(), Some(8 << 30));
        // Past what 64 bits count: no limit, never a small number from a wrapped shift.
        assert_eq!(second("99999999999999Gi").bandwidth(), None);
        assert_eq!(second("17179869184Gi").bandwidth(), None);
    }
}
