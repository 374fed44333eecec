//! Talking to OceanBase (docs/reference/oceanbase-interface.md §1–§4): a trait with the operator's
//! verbs and typed rows, and one implementation on `mysql_async` ([`mysql::MysqlCluster`]). The
//! operator connects to the sys tenant and reaches user tenants with `TENANT = name` clauses and
//! `CDB_` views (docs/contributing/design.md §2.1). A bare section number (§N) in this module's
//! comments is one of docs/reference/oceanbase-interface.md's sections.

pub mod codes;
pub mod connection;
#[cfg(test)]
pub mod fake;
pub mod mysql;
pub mod paths;
pub mod sql;
pub mod views;
pub mod vocabulary;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use connection::ConnectionInfo;
pub use sql::{AccessKeys, Redactor};
pub use vocabulary::{
    BackupType, Binding, CleanJobType, DestState, FileStatus, JobStatus, PieceStatus,
    RestoreStatus, RoundStatus, SetStatus, State, TenantRole, TenantStatus,
};

/// Why talking to OceanBase failed. Messages are redacted before they are built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObError {
    /// The cluster could not be reached (connect, I/O, timeout): transient, never a task failure.
    #[error("cannot reach OceanBase: {0}")]
    Unreachable(String),
    /// OceanBase answered with an error.
    #[error("OceanBase error {code}: {message}")]
    Server { code: u16, message: String },
    /// OceanBase answered with something the operator cannot read.
    #[error("unexpected answer from OceanBase: {0}")]
    Protocol(String),
    /// A name that is not an OceanBase identifier.
    #[error("{0:?} is not a valid OceanBase name")]
    InvalidIdentifier(String),
    /// A value the operator refuses to send.
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

impl ObError {
    /// The server's error number, if OceanBase answered with an error.
    pub fn code(&self) -> Option<u16> {
        match self {
            ObError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The same error with `redactor`'s secrets hidden from its text.
    pub fn redacted(self, redactor: &Redactor) -> Self {
        match self {
            ObError::Unreachable(m) => ObError::Unreachable(redactor.redact(&m)),
            ObError::Server { code, message } => ObError::Server {
                code,
                message: redactor.redact(&message),
            },
            ObError::Protocol(m) => ObError::Protocol(redactor.redact(&m)),
            other => other,
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, ObError::Unreachable(_))
    }
}

/// A user tenant (`DBA_OB_TENANTS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRow {
    pub id: i64,
    pub name: String,
    pub status: TenantStatus,
    pub role: TenantRole,
    /// LOG_MODE is `ARCHIVELOG`.
    pub archivelog: bool,
}

/// The time of an SCN (nanoseconds since the epoch, docs/reference/oceanbase-interface.md §0.3).
pub fn scn_time(scn: u64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(scn)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A tenant's current archive round (`CDB_OB_ARCHIVELOG`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveDest {
    pub path: String,
    pub binding: Binding,
    pub piece_switch_interval: String,
    pub state: DestState,
}

/// A data backup job of a user tenant (`CDB_OB_BACKUP_JOBS` / `_HISTORY`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSetRow {
    pub tenant_id: i64,
    pub backup_set_id: i64,
    pub backup_type: BackupType,
    pub status: SetStatus,
    pub file_status: FileStatus,
    pub input_bytes: i64,
    pub output_bytes: i64,
    pub end: Option<Timestamp>,
    /// The set's own directory, `…/backup_set_<id>_<full|inc>` ([`paths`]).
    pub path: String,
    pub prev_full_backup_set_id: i64,
    pub prev_inc_backup_set_id: i64,
    /// Where log replay must begin for a restore from this set.
    pub start_replay_scn: u64,
    /// The earliest point this set restores to.
    pub min_restore_scn: u64,
}

impl BackupSetRow {
    /// Whether a restore can use the set: it succeeded and its files are all there
    /// (docs/reference/oceanbase-interface.md §4.5).
    pub fn usable(&self) -> bool {
        self.status == SetStatus::Success && self.file_status == FileStatus::Available
    }
}

/// An archive piece (`CDB_OB_ARCHIVELOG_PIECE_FILES`).
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The piece's own directory, `…/piece_d<dest>r<round>p<piece>` ([`paths`]).
    pub path: String,
}

/// A delete job of a user tenant (`CDB_OB_BACKUP_DELETE_JOBS` / `_JOB_HISTORY`,
/// docs/reference/oceanbase-interface.md §5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreJobRow {
    pub job_id: i64,
    pub tenant_name: String,
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

/// What one observer cycle reads beyond the fixed views.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotRequest<'a> {
    /// Descriptions of jobs whose finished rows (backup and restore history) are wanted.
    pub descriptions: &'a [String],
    /// The finished backup jobs wanted all ended at or after this time: the history is read from here on
    /// and matched by description in the operator, so the statement is the same size for one task or ten
    /// thousand.
    pub jobs_ended_since: Timestamp,
    /// Finished delete jobs that ended at or after this time are read.
    pub clean_since: Timestamp,
    /// Whether to read restores (someone watches one).
    pub restores: bool,
}

/// Everything one observer cycle reads, in a constant number of queries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// `ob_version()`.
    pub version: String,
    pub tenants: Vec<TenantRow>,
    pub rounds: Vec<ArchiveRound>,
    /// Per tenant id.
    pub archive_dests: Vec<(i64, ArchiveDest)>,
    /// `data_backup_dest` per tenant id, without access keys.
    pub data_dests: Vec<(i64, String)>,
    /// Unfinished jobs and the finished jobs whose description was asked for.
    pub jobs: Vec<BackupJobRow>,
    pub progress: Vec<BackupProgress>,
    pub sets: Vec<BackupSetRow>,
    pub pieces: Vec<PieceRow>,
    /// The delete policy per tenant id: (name, recovery window as given).
    pub delete_policies: Vec<(i64, String, String)>,
    /// Unfinished delete jobs and the finished ones the observer still remembers, newest last per tenant.
    pub clean_jobs: Vec<CleanJobRow>,
    /// Running restores and the finished ones whose description was asked for (when restores were read).
    pub restores: Vec<RestoreJobRow>,
    /// The descriptions whose finished jobs (and, with [`Self::restores_read`], restores) this read looked
    /// for: only for these does absence mean "no such job" (a finished job is listed only when asked for).
    pub searched: std::collections::BTreeSet<String>,
    /// Whether restores were read at all.
    pub restores_read: bool,
}

impl Snapshot {
    /// The user tenant of that name (OceanBase resolves names case-insensitively).
    pub fn tenant(&self, name: &str) -> Option<&TenantRow> {
        self.tenants
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The tenant's current round.
    pub fn round(&self, tenant_id: i64) -> Option<&ArchiveRound> {
        self.rounds.iter().find(|r| r.tenant_id == tenant_id)
    }

    /// The tenant's log archive destination.
    pub fn archive_dest(&self, tenant_id: i64) -> Option<&ArchiveDest> {
        self.archive_dests
            .iter()
            .find(|(id, _)| *id == tenant_id)
            .map(|(_, d)| d)
    }

    /// The tenant's data backup destination.
    pub fn data_dest(&self, tenant_id: i64) -> Option<&str> {
        self.data_dests
            .iter()
            .find(|(id, _)| *id == tenant_id)
            .map(|(_, d)| d.as_str())
    }

    /// The job a task submitted, found by its description (the task's UID,
    /// docs/contributing/design.md §2.3).
    pub fn job_by_description(&self, tenant_id: i64, description: &str) -> Option<&BackupJobRow> {
        self.jobs
            .iter()
            .find(|j| j.tenant_id == tenant_id && j.description == description)
    }

    /// Whether this read looked for the finished backup job with `description`: if not, its absence proves
    /// nothing (docs/contributing/design.md §2.3, exactly once from durable evidence).
    pub fn searched_for(&self, description: &str) -> bool {
        self.searched.contains(description)
    }

    /// Whether this read looked for the restore with `description`, finished or not.
    pub fn searched_for_restore(&self, description: &str) -> bool {
        self.restores_read && self.searched.contains(description)
    }

    /// Whether the tenant has an unfinished backup job.
    pub fn active_job(&self, tenant_id: i64) -> Option<&BackupJobRow> {
        self.jobs
            .iter()
            .find(|j| j.tenant_id == tenant_id && !j.status.is_final())
    }

    /// Progress of a running job.
    pub fn progress(&self, tenant_id: i64, job_id: i64) -> Option<&BackupProgress> {
        self.progress
            .iter()
            .find(|p| p.tenant_id == tenant_id && p.job_id == job_id)
    }

    /// The tenant's delete policy: (name, recovery window).
    pub fn delete_policy(&self, tenant_id: i64) -> Option<(&str, &str)> {
        self.delete_policies
            .iter()
            .find(|(id, _, _)| *id == tenant_id)
            .map(|(_, name, window)| (name.as_str(), window.as_str()))
    }

    /// A backup set.
    pub fn set(&self, tenant_id: i64, backup_set_id: i64) -> Option<&BackupSetRow> {
        self.sets
            .iter()
            .find(|s| s.tenant_id == tenant_id && s.backup_set_id == backup_set_id)
    }
}

impl Snapshot {
    /// Whether the cluster runs at least this version (`ob_version()` like `4.4.1.0`); an unreadable version
    /// counts as older.
    pub fn version_at_least(&self, wanted: [u32; 4]) -> bool {
        let mut parts = [0u32; 4];
        for (slot, part) in parts.iter_mut().zip(self.version.trim().split('.')) {
            match part.parse() {
                Ok(n) => *slot = n,
                Err(_) => return false,
            }
        }
        !self.version.trim().is_empty() && parts >= wanted
    }

    /// The restore started with this description: its history row once finished, else its progress row.
    pub fn restore_by_description(&self, description: &str) -> Option<&RestoreJobRow> {
        let mut rows = self
            .restores
            .iter()
            .filter(|r| r.description == description);
        let first = rows.next()?;
        Some(
            std::iter::once(first)
                .chain(rows)
                .find(|r| r.finished)
                .unwrap_or(first),
        )
    }

    /// A delete job by id.
    pub fn clean_job(&self, tenant_id: i64, job_id: i64) -> Option<&CleanJobRow> {
        self.clean_jobs
            .iter()
            .find(|j| j.tenant_id == tenant_id && j.job_id == job_id)
    }

    /// The tenant's delete jobs, oldest first.
    pub fn clean_jobs_of(&self, tenant_id: i64) -> impl Iterator<Item = &CleanJobRow> {
        let mut jobs: Vec<&CleanJobRow> = self
            .clean_jobs
            .iter()
            .filter(|j| j.tenant_id == tenant_id)
            .collect();
        jobs.sort_by_key(|j| j.job_id);
        jobs.into_iter()
    }
}

/// Makes the client of a cluster from its connection details: [`MysqlConnect`] in production, a fake in the
/// in-process tests.
pub trait Connect: Send + Sync {
    /// A client for the cluster `info` describes (connections are made lazily).
    fn connect(&self, info: &ConnectionInfo) -> std::sync::Arc<dyn OceanBase>;
}

/// Connects with [`mysql::MysqlCluster`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MysqlConnect;

impl Connect for MysqlConnect {
    fn connect(&self, info: &ConnectionInfo) -> std::sync::Arc<dyn OceanBase> {
        std::sync::Arc::new(mysql::MysqlCluster::new(info, []))
    }
}

/// The operator's verbs on one OceanBase cluster. Every statement runs on the sys tenant.
pub trait OceanBase: Send + Sync {
    /// Reads a [`Snapshot`]: tenants, rounds, destinations, unfinished jobs plus the finished jobs with the
    /// request's descriptions, progress, sets, delete jobs and (when asked) restores — a constant number of
    /// queries whatever the number of tenants.
    fn snapshot<'a>(
        &'a self,
        request: SnapshotRequest<'a>,
    ) -> BoxFuture<'a, Result<Snapshot, ObError>>;

    /// Runs administrative statements, in order, on one session.
    fn execute<'a>(&'a self, statements: &'a [String]) -> BoxFuture<'a, Result<(), ObError>>;

    /// SQL round trips made so far, and how many failed.
    fn round_trips(&self) -> (u64, u64);

    /// The cluster's identity: its `cluster` and `cluster_id` parameters
    /// (docs/reference/oceanbase-interface.md §0.4).
    fn identity(&self) -> BoxFuture<'_, Result<ClusterIdentity, ObError>>;
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
