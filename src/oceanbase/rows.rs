//! The typed rows the operator reads from OceanBase's views (docs/reference/oceanbase-interface.md), one
//! type per view, their states parsed into [`super::vocabulary`]'s types; and the cluster's identity.

use jiff::Timestamp;

use super::vocabulary::{
    BackupType, Binding, CleanJobType, DestState, FileStatus, JobStatus, PieceStatus,
    RestoreStatus, RoundStatus, SetStatus, TenantRole, TenantStatus,
};

/// A user tenant (`DBA_OB_TENANTS`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct TenantRow {
    pub id: i64,
    pub name: String,
    pub status: TenantStatus,
    pub role: TenantRole,
    /// LOG_MODE is `ARCHIVELOG`.
    pub archivelog: bool,
}

/// A tenant's current archive round (`CDB_OB_ARCHIVELOG`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ArchiveRound {
    pub tenant_id: i64,
    pub round_id: i64,
    pub status: RoundStatus,
    pub start_scn: u64,
    pub checkpoint_scn: u64,
    /// Without access keys.
    pub path: String,
    pub comment: String,
}

/// A tenant's log archive destination (`CDB_OB_ARCHIVE_DEST`), without access keys.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct ArchiveDest {
    pub path: String,
    pub binding: Binding,
    pub piece_switch_interval: String,
    pub state: DestState,
}

/// A data backup job of a user tenant (`CDB_OB_BACKUP_JOBS` / `_HISTORY`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct BackupJobRow {
    pub tenant_id: i64,
    pub job_id: i64,
    pub backup_set_id: i64,
    pub backup_type: BackupType,
    pub status: JobStatus,
    pub result: i64,
    pub comment: String,
    pub description: String,
    pub path: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

/// Progress of a running backup (`CDB_OB_BACKUP_TASKS`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct BackupProgress {
    pub tenant_id: i64,
    pub job_id: i64,
    pub input_bytes: i64,
    pub output_bytes: i64,
    pub tablet_count: i64,
    pub finish_tablet_count: i64,
    pub path: String,
}

/// A backup set (`CDB_OB_BACKUP_SET_FILES`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct BackupSetRow {
    pub tenant_id: i64,
    pub backup_set_id: i64,
    pub backup_type: BackupType,
    pub status: SetStatus,
    pub file_status: FileStatus,
    pub input_bytes: i64,
    pub output_bytes: i64,
    pub end: Option<Timestamp>,
    /// The set's own directory, `…/backup_set_<id>_<full|inc>` ([`super::paths`]).
    pub path: String,
    pub prev_full_backup_set_id: i64,
    pub prev_inc_backup_set_id: i64,
    /// Where log replay must begin for a restore from this set.
    pub start_replay_scn: u64,
    /// The earliest point this set restores to.
    pub min_restore_scn: u64,
    /// The tenant's data version when the set was taken (`TENANT_COMPATIBLE`, e.g. `4.2.5.0`): the
    /// console's "Data Version".
    pub data_version: String,
}

impl BackupSetRow {
    /// Whether a restore can use the set: it succeeded and its files are all there
    /// (docs/reference/oceanbase-interface.md §4.5).
    pub fn usable(&self) -> bool {
        self.status == SetStatus::Success && self.file_status == FileStatus::Available
    }
}

/// An archive piece (`CDB_OB_ARCHIVELOG_PIECE_FILES`).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PieceRow {
    pub tenant_id: i64,
    pub round_id: i64,
    pub piece_id: i64,
    pub status: PieceStatus,
    pub start_scn: u64,
    pub checkpoint_scn: u64,
    pub file_status: FileStatus,
    pub input_bytes: i64,
    pub output_bytes: i64,
    /// The piece's own directory, `…/piece_d<dest>r<round>p<piece>` ([`super::paths`]).
    pub path: String,
}

/// A delete job of a user tenant (`CDB_OB_BACKUP_DELETE_JOBS` / `_JOB_HISTORY`,
/// docs/reference/oceanbase-interface.md §5.3).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct CleanJobRow {
    pub tenant_id: i64,
    pub job_id: i64,
    /// The tenant that asked: the job's own tenant for policy jobs, 1 (sys) for deletes sent from sys.
    pub initiator_tenant_id: i64,
    /// `TYPE`.
    pub kind: CleanJobType,
    /// `PARAMETER` in microseconds: the cut-off of an obsolete cleanup, the first id of a set or piece delete.
    pub parameter: i64,
    pub status: JobStatus,
    pub task_count: i64,
    pub success_task_count: i64,
    pub result: i64,
    pub comment: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
}

impl CleanJobRow {
    /// Whether OceanBase's delete policy started this job (the tenant initiated an obsolete cleanup itself).
    pub fn from_policy(&self) -> bool {
        self.initiator_tenant_id == self.tenant_id && self.kind == CleanJobType::DeleteObsolete
    }
}

/// A restore as the sys tenant sees it (`CDB_OB_RESTORE_PROGRESS` / `_HISTORY`, the `TENANT_ID = 1` row,
/// docs/reference/oceanbase-interface.md §6.3).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RestoreJobRow {
    pub job_id: i64,
    pub tenant_name: String,
    /// The tenant whose backups are restored (`BACKUP_TENANT_NAME`).
    pub backup_tenant_name: String,
    /// The cluster those backups were taken on (`BACKUP_CLUSTER_NAME`).
    pub backup_cluster_name: String,
    pub status: RestoreStatus,
    pub restore_scn: u64,
    pub start: Option<Timestamp>,
    /// Only in the history.
    pub finish: Option<Timestamp>,
    pub total_bytes: i64,
    pub finish_bytes: i64,
    pub description: String,
    /// Only in the history: why it failed.
    pub comment: String,
    /// Whether the row comes from the history.
    pub finished: bool,
}

/// Who a cluster is, by OceanBase's own parameters: the name (`cluster`) and number (`cluster_id`) it was
/// deployed with. Two connections reach the same cluster when both match; a display name or a Secret's name
/// says nothing.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClusterIdentity {
    pub name: String,
    pub id: i64,
}

impl std::fmt::Display for ClusterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (cluster_id {})", self.name, self.id)
    }
}
