//! Talking to OceanBase (docs/reference/oceanbase-interface.md §1–§4): a trait with the operator's
//! verbs and typed rows, and one implementation on `mysql_async` ([`mysql::MysqlCluster`]). The
//! operator connects to the sys tenant and reaches user tenants with `TENANT = name` clauses and
//! `CDB_` views (docs/contributing/design.md §2.1). A bare section number (§N) in this module's
//! comments is one of docs/reference/oceanbase-interface.md's sections.

pub mod codes;
pub mod connection;
mod error;
#[cfg(test)]
pub mod fake;
pub mod mysql;
pub mod paths;
mod redact;
mod rows;
mod snapshot_query;
pub mod sql;
pub mod views;
pub mod vocabulary;

use futures::future::BoxFuture;
use jiff::Timestamp;

pub use connection::ConnectionInfo;
pub use error::ObError;
pub use mysql::MysqlConnect;
pub use redact::{Redactor, strip_keys};
pub use rows::{
    ArchiveDest, ArchiveRound, BackupJobRow, BackupProgress, BackupSetRow, CleanJobRow,
    ClusterIdentity, PieceRow, RestoreJobRow, TenantRow,
};
pub use sql::AccessKeys;
pub use vocabulary::{
    BackupType, Binding, CleanJobType, DestState, FileStatus, JobStatus, PieceStatus,
    RestoreStatus, RoundStatus, SetStatus, State, TenantRole, TenantStatus,
};

/// What one observer cycle reads beyond the fixed views.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SnapshotRequest<'a> {
    /// Descriptions of jobs whose finished rows (backup and restore history) are wanted.
    pub descriptions: &'a [String],
    /// The finished backup jobs wanted all ended at or after this time: the history is read from here on,
    /// for the descriptions listed when there are few enough, else for all of them and matched in the
    /// operator, so the statement stays a few kilobytes for ten thousand tasks.
    pub jobs_ended_since: Timestamp,
    /// Finished delete jobs that ended at or after this time are read.
    pub clean_since: Timestamp,
    /// Whether to read restores (someone watches one).
    pub restores: bool,
    /// Also read the finished backup jobs and restores no object of ours started (a strategy mirrors
    /// them): those that ended at or after these times.
    pub external: Option<ExternalSince>,
    /// How much to read; the parts left out come back empty, for the caller to carry over from its last
    /// read that had them ([`Snapshot::carry_slow_parts`], [`Snapshot::carry_changing_parts`]).
    pub reach: Reach,
}

impl SnapshotRequest<'_> {
    /// Whether restores are read: at every read while someone watches one; with what changes by itself
    /// ([`Reach::Changing`]) while a strategy only mirrors those started elsewhere.
    pub fn reads_restores(&self) -> bool {
        self.restores || (self.external.is_some() && self.reach >= Reach::Changing)
    }
}

/// How much of a cluster a read asks for, by how a part changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// What moves while backup jobs run: the jobs, their progress, the finished ones looked for, and
    /// restores when read.
    Jobs,
    /// Also what changes by itself, but with no one waiting on it to the second: tenants, archive rounds,
    /// delete jobs.
    Changing,
    /// Everything, also what changes only by a statement or a job's end: destinations, delete policies,
    /// units, backup sets, archive pieces.
    Whole,
}

/// From when the finished jobs started elsewhere are read ([`SnapshotRequest::external`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalSince {
    pub jobs: Timestamp,
    pub restores: Timestamp,
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
    /// The servers holding each tenant's units: (tenant id, `SVR_IP`), from `DBA_OB_UNITS`.
    pub units: Vec<(i64, String)>,
    /// Unfinished delete jobs and the finished ones the observer still remembers, newest last per tenant.
    pub clean_jobs: Vec<CleanJobRow>,
    /// Running restores and the finished ones whose description was asked for (when restores were read).
    pub restores: Vec<RestoreJobRow>,
    /// The descriptions whose finished jobs (and, with [`Self::restores_read`], restores) this read looked
    /// for: only for these does absence mean "no such job" (a finished job is listed only when asked for).
    pub searched: std::collections::BTreeSet<String>,
    /// Whether restores were read at all.
    pub restores_read: bool,
    /// The newest end among the finished backup jobs this read returned, listed in `jobs` or not: the next
    /// read of the jobs started elsewhere need not look further back than shortly before it.
    pub newest_job_end: Option<Timestamp>,
}

impl Snapshot {
    /// Takes the parts a read that was not whole left empty ([`SnapshotRequest::whole`]) from `whole`, the
    /// last whole read.
    pub fn carry_slow_parts(&mut self, whole: &Snapshot) {
        self.archive_dests.clone_from(&whole.archive_dests);
        self.data_dests.clone_from(&whole.data_dests);
        self.sets.clone_from(&whole.sets);
        self.pieces.clone_from(&whole.pieces);
        self.delete_policies.clone_from(&whole.delete_policies);
        self.units.clone_from(&whole.units);
    }

    /// Takes the parts a read of [`Reach::Jobs`] left empty from `changing`, the last read that had them:
    /// also the restores when this read did not read them (only mirrored, no one following one). They
    /// stay unread ([`Self::restores_read`]): their absence proves nothing.
    pub fn carry_changing_parts(&mut self, changing: &Snapshot) {
        self.tenants.clone_from(&changing.tenants);
        self.rounds.clone_from(&changing.rounds);
        self.clean_jobs.clone_from(&changing.clean_jobs);
        if !self.restores_read {
            self.restores.clone_from(&changing.restores);
        }
    }

    /// Empties the parts a read of `reach` does not read (as the `carry_` methods fill them).
    pub fn drop_unread_parts(&mut self, reach: Reach) {
        let empty = Snapshot::default();
        if reach < Reach::Whole {
            self.carry_slow_parts(&empty);
        }
        if reach < Reach::Changing {
            self.carry_changing_parts(&empty);
        }
    }

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

    /// The IP addresses of the servers holding the tenant's units — those that archive its logs (the
    /// console's "Service Host IP") — sorted, each once, joined by ", ". `None` when no unit is listed.
    pub fn service_hosts(&self, tenant_id: i64) -> Option<String> {
        let hosts: std::collections::BTreeSet<&str> = self
            .units
            .iter()
            .filter(|(id, _)| *id == tenant_id)
            .map(|(_, ip)| ip.as_str())
            .collect();
        (!hosts.is_empty()).then(|| hosts.into_iter().collect::<Vec<_>>().join(", "))
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

/// The time of an SCN (nanoseconds since the epoch, docs/reference/oceanbase-interface.md §0.3).
pub fn scn_time(scn: u64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(scn)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Makes the client of a cluster from its connection details: [`MysqlConnect`] in production, a fake in the
/// in-process tests.
pub trait Connect: Send + Sync {
    /// A client for the cluster `info` describes (connections are made lazily).
    fn connect(&self, info: &ConnectionInfo) -> std::sync::Arc<dyn OceanBase>;
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
