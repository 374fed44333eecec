//! Backup cleanup of one tenant (docs/reference/oceanbase-interface.md §5): the `'default'` delete
//! policy and the obsolete-backup job it starts about every hour, manual deletes of backup sets and
//! archive pieces (4.4.1+), `CANCEL DELETE BACKUP`, and the delete jobs and tasks the
//! `*_OB_BACKUP_DELETE_*` views show.

use jiff::{SignedDuration, Timestamp};

use super::{
    archive::{Piece, TenantArchive, duration_us, scn},
    backup::{BackupSet, JobStatus, TenantBackups},
};
use crate::error::SqlError;

/// How often a policy starts an obsolete-backup job ("about every hour", §5.1).
pub const AUTO_CLEAN_INTERVAL: SignedDuration = SignedDuration::from_hours(1);
/// Time from INIT to DOING, from CANCELING to CANCELED, and from a final state to the history table.
const STEP: SignedDuration = SignedDuration::from_secs(1);
/// Time one delete task (one set or piece) takes.
const TASK_TIME: SignedDuration = SignedDuration::from_secs(2);
/// OB_CANCELED, the RESULT of canceled clean jobs (§5.4).
const CANCELED: i64 = -4072;
/// At most this many ids per manual delete (§5.2).
const MAX_IDS: usize = 32;

/// The tenant's delete policy (`DBA_OB_BACKUP_DELETE_POLICY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletePolicy {
    pub name: String,
    /// As given, e.g. `7d`.
    pub recovery_window: String,
    window_us: i64,
    /// When the policy was added; the first obsolete job follows an interval later.
    added: Timestamp,
}

impl DeletePolicy {
    /// As if the policy had been added `by` earlier: its next obsolete-backup job comes that much sooner (a
    /// test's way to have the hourly job start now).
    pub fn backdate(&mut self, by: SignedDuration) {
        self.added -= by;
    }
}

/// What a delete job removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanTarget {
    /// Everything the recovery window no longer needs (`DELETE OBSOLETE BACKUP`, or the policy).
    Obsolete,
    /// `DELETE BACKUPSET id[, id…]`.
    BackupSets(Vec<i64>),
    /// `DELETE ARCHIVELOG_PIECE id[, id…]`.
    Pieces(Vec<i64>),
}

/// One delete task: one backup set or archive piece (`DBA_OB_BACKUP_DELETE_TASKS`).
#[derive(Clone, Debug)]
pub struct DeleteTask {
    pub task_id: i64,
    /// `BACKUP SET` or `BACKUP PIECE`.
    pub task_type: &'static str,
    /// The set or piece id.
    pub id: i64,
    /// The piece's round (0 for sets).
    pub round_id: i64,
    pub dest_id: i64,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub status: JobStatus,
    pub path: String,
}

/// One delete job (`DBA_OB_BACKUP_DELETE_JOBS`).
#[derive(Clone, Debug)]
pub struct DeleteJob {
    pub job_id: i64,
    pub initiator_tenant_id: i64,
    pub initiator_job_id: i64,
    pub tenant_id: i64,
    /// The `TYPE` column.
    pub kind: &'static str,
    /// The raw `PARAMETER` (µs cut-off for obsolete cleanup, else the first id), shown through USEC_TO_TIME.
    pub parameter: i64,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub status: JobStatus,
    /// When the job entered its status.
    pub since: Timestamp,
    pub result: i64,
    pub comment: String,
    pub tasks: Vec<DeleteTask>,
}

/// A tenant's delete policy and jobs.
#[derive(Clone, Debug, Default)]
pub struct TenantClean {
    pub policy: Option<DeletePolicy>,
    pub jobs: Vec<DeleteJob>,
    pub history: Vec<DeleteJob>,
    /// A fault: running delete jobs make no progress (they still cancel).
    pub stalled: bool,
    /// When the policy last started a job.
    last_auto: Option<Timestamp>,
    next_job_id: i64,
    next_task_id: i64,
}

/// Who asked for a delete job.
pub struct CleanRequest {
    pub target: CleanTarget,
    /// `(1, sys job id)` when sent from sys, else `None` (the tenant itself).
    pub initiator: Option<(i64, i64)>,
}

impl TenantClean {
    /// `ADD DELETE BACKUP POLICY` (§5.1). Only `'default'` is a valid name; one policy per tenant. Errors from
    /// `ObBackupCleanScheduler::add_delete_policy_` (OB-clean, newest): an existing policy → OB_ENTRY_EXIST
    /// (−4017), another name → OB_INVALID_ARGUMENT.
    pub fn add_policy(
        &mut self,
        name: &str,
        window: Option<&str>,
        now: Timestamp,
    ) -> Result<(), SqlError> {
        if self.policy.is_some() {
            return Err(SqlError::oceanbase(4017, "Entry already exist"));
        }
        if name != "default" {
            return Err(SqlError::oceanbase(1210, "Invalid argument"));
        }
        let recovery_window = window.unwrap_or("0d").to_string();
        let window_us = duration_us(&recovery_window)
            .filter(|us| *us >= 0)
            .ok_or_else(|| SqlError::oceanbase(1210, "Invalid argument"))?;
        self.policy = Some(DeletePolicy {
            name: name.to_string(),
            recovery_window,
            window_us,
            added: now,
        });
        self.last_auto = None;
        Ok(())
    }

    /// `DROP DELETE BACKUP POLICY` (§5.1): a missing policy → OB_ENTRY_NOT_EXIST (−4018, OB-clean newest).
    /// A running job goes on.
    pub fn drop_policy(&mut self, name: &str) -> Result<(), SqlError> {
        match &self.policy {
            Some(policy) if policy.name == name => {
                self.policy = None;
                Ok(())
            }
            _ => Err(SqlError::oceanbase(4018, "Entry not exist")),
        }
    }

    /// Whether a delete job is unfinished.
    pub fn has_active_job(&self) -> bool {
        self.jobs.iter().any(|j| !j.status.is_final())
    }

    /// `CANCEL DELETE BACKUP`: INIT and DOING jobs go to CANCELING with RESULT −4072; others are untouched.
    pub fn cancel(&mut self, now: Timestamp) {
        for job in &mut self.jobs {
            if matches!(job.status, JobStatus::Init | JobStatus::Doing) {
                job.status = JobStatus::Canceling;
                job.result = CANCELED;
                job.since = now;
            }
        }
    }

    fn push_job(
        &mut self,
        tenant_id: i64,
        request: &CleanRequest,
        parameter: i64,
        at: Timestamp,
    ) -> &mut DeleteJob {
        self.next_job_id += 1;
        // TYPE strings of the newest source (§5.3); manual deletes exist only from 4.4.1, and policy jobs
        // are spelled the same in every version.
        let kind = match &request.target {
            CleanTarget::Obsolete => "DELETE OBSOLETE BACKUP",
            CleanTarget::BackupSets(_) => "DELETE BACKUPSET",
            CleanTarget::Pieces(_) => "DELETE ARCHIVELOG_PIECE",
        };
        let (initiator_tenant_id, initiator_job_id) = request.initiator.unwrap_or((tenant_id, 0));
        self.jobs.push(DeleteJob {
            job_id: self.next_job_id,
            initiator_tenant_id,
            initiator_job_id,
            tenant_id,
            kind,
            parameter,
            start: at,
            end: None,
            status: JobStatus::Init,
            since: at,
            result: 0,
            comment: String::new(),
            tasks: Vec::new(),
        });
        let last = self.jobs.len() - 1;
        &mut self.jobs[last]
    }
}

/// The parts of a tenant a delete job works on.
pub struct CleanScope<'a> {
    pub tenant_id: i64,
    pub clean: &'a mut TenantClean,
    pub backups: &'a mut TenantBackups,
    pub archive: &'a mut TenantArchive,
}

impl CleanScope<'_> {
    /// Starts a manual delete job after OceanBase's checks (§5.2, §5.4). Error codes are
    /// OceanBase's (−9044, −9045, −9046, −9069); which of them OceanBase returns for each refused
    /// id is inferred.
    pub fn submit(&mut self, request: CleanRequest, now: Timestamp) -> Result<i64, SqlError> {
        if self.clean.has_active_job() {
            return Err(SqlError::oceanbase(
                9044,
                "delete backup data is in progress",
            ));
        }
        let (parameter, tasks) = match &request.target {
            CleanTarget::Obsolete => {
                let Some(policy) = &self.clean.policy else {
                    // DELETE OBSOLETE needs a policy (DOC:10000000003454703); the code is inferred.
                    return Err(SqlError::oceanbase(4018, "Entry not exist"));
                };
                let cutoff = now - SignedDuration::from_micros(policy.window_us);
                (cutoff.as_microsecond(), self.obsolete(cutoff))
            }
            CleanTarget::BackupSets(ids) => (first(ids)?, self.sets_to_delete(ids)?),
            CleanTarget::Pieces(ids) => (first(ids)?, self.pieces_to_delete(ids)?),
        };
        let job = self
            .clean
            .push_job(self.tenant_id, &request, parameter, now);
        job.tasks = tasks;
        Ok(job.job_id)
    }

    /// The policy's hourly obsolete-backup job: one per interval since the policy was added or last ran,
    /// at most one catch-up, not while another delete job runs.
    fn auto_clean(&mut self, now: Timestamp) {
        let Some(policy) = &self.clean.policy else {
            return;
        };
        let due = self.clean.last_auto.unwrap_or(policy.added) + AUTO_CLEAN_INTERVAL;
        if now < due || self.clean.has_active_job() {
            return;
        }
        let cutoff = due - SignedDuration::from_micros(policy.window_us);
        let tasks = self.obsolete(cutoff);
        self.clean.last_auto = Some(due);
        let request = CleanRequest {
            target: CleanTarget::Obsolete,
            initiator: None,
        };
        let job = self
            .clean
            .push_job(self.tenant_id, &request, cutoff.as_microsecond(), due);
        job.tasks = tasks;
    }

    /// What the recovery window no longer needs at `cutoff`: every set older than the newest usable full
    /// set that can restore to the cut-off, and the frozen pieces that end before that set's replay start.
    fn obsolete(&mut self, cutoff: Timestamp) -> Vec<DeleteTask> {
        let cutoff_scn = scn(cutoff);
        let Some(anchor) = self
            .backups
            .sets
            .iter()
            .rev()
            .find(|s| usable(s) && !s.incremental && s.min_restore_scn <= cutoff_scn)
            .cloned()
        else {
            return Vec::new();
        };
        let sets: Vec<BackupSet> = self
            .backups
            .sets
            .iter()
            .filter(|s| s.backup_set_id < anchor.backup_set_id && deletable_set(s))
            .cloned()
            .collect();
        let mut tasks: Vec<DeleteTask> = sets.iter().map(|s| self.clean_task_for_set(s)).collect();
        let pieces: Vec<Piece> = self
            .archive
            .pieces()
            .into_iter()
            .filter(|p| {
                p.file_status == "AVAILABLE"
                    && p.status == "FROZEN"
                    && p.checkpoint_scn < anchor.start_replay_scn
            })
            .collect();
        tasks.extend(pieces.iter().map(|p| self.clean_task_for_piece(p)));
        tasks
    }

    /// A manual set delete keeps incremental dependencies and at least one restorable full set.
    fn sets_to_delete(&mut self, ids: &[i64]) -> Result<Vec<DeleteTask>, SqlError> {
        let mut tasks = Vec::new();
        for id in ids {
            let Some(set) = self
                .backups
                .sets
                .iter()
                .find(|s| s.backup_set_id == *id && s.file_status != "DELETED")
            else {
                return Err(SqlError::oceanbase(9046, "backup set id is not valid"));
            };
            let dependant = self.backups.sets.iter().any(|s| {
                usable(s)
                    && !ids.contains(&s.backup_set_id)
                    && (s.prev_full_backup_set_id == *id || s.prev_inc_backup_set_id == *id)
                    && s.backup_set_id != *id
            });
            let other_full = self
                .backups
                .sets
                .iter()
                .any(|s| usable(s) && !s.incremental && !ids.contains(&s.backup_set_id));
            if set.status == "DOING"
                || dependant
                || (!set.incremental && usable(set) && !other_full)
            {
                return Err(SqlError::oceanbase(9045, "delete backup set do not allow"));
            }
            tasks.push(self.clean_task_for_set(&set.clone()));
        }
        Ok(tasks)
    }

    /// Pieces go oldest first, frozen, and only when no retained backup set needs them for replay.
    fn pieces_to_delete(&mut self, ids: &[i64]) -> Result<Vec<DeleteTask>, SqlError> {
        let refused = || SqlError::oceanbase(9069, "deleting backup piece is not allowed");
        let available: Vec<Piece> = self
            .archive
            .pieces()
            .into_iter()
            .filter(|p| p.file_status == "AVAILABLE")
            .collect();
        let needed_from = self
            .backups
            .sets
            .iter()
            .filter(|s| usable(s))
            .map(|s| s.start_replay_scn)
            .min()
            .unwrap_or(u64::MAX);
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        let mut tasks = Vec::new();
        for (piece, id) in available.iter().zip(&sorted) {
            if piece.piece_id != *id
                || piece.status != "FROZEN"
                || piece.checkpoint_scn >= needed_from
            {
                return Err(refused());
            }
            tasks.push(self.clean_task_for_piece(piece));
        }
        if tasks.len() != sorted.len() {
            return Err(refused());
        }
        Ok(tasks)
    }

    fn next_task_id(&mut self) -> i64 {
        self.clean.next_task_id += 1;
        self.clean.next_task_id
    }

    fn clean_task_for_set(&mut self, set: &BackupSet) -> DeleteTask {
        DeleteTask {
            task_id: self.next_task_id(),
            task_type: "BACKUP SET",
            id: set.backup_set_id,
            round_id: 0,
            dest_id: set.dest_id,
            start: None,
            end: None,
            status: JobStatus::Init,
            path: set.path.clone(),
        }
    }

    fn clean_task_for_piece(&mut self, piece: &Piece) -> DeleteTask {
        DeleteTask {
            task_id: self.next_task_id(),
            task_type: "BACKUP PIECE",
            id: piece.piece_id,
            round_id: piece.round_id,
            dest_id: piece.dest_id,
            start: None,
            end: None,
            status: JobStatus::Init,
            path: piece.path.clone(),
        }
    }

    /// Moves the policy and the jobs along to `now`.
    pub fn advance(&mut self, now: Timestamp) {
        self.auto_clean(now);
        let mut jobs = std::mem::take(&mut self.clean.jobs);
        for job in &mut jobs {
            self.advance_job(job, now);
        }
        let (finished, running): (Vec<_>, Vec<_>) = jobs
            .into_iter()
            .partition(|j| j.status.is_final() && now.duration_since(j.end.unwrap_or(now)) >= STEP);
        self.clean.jobs = running;
        self.clean.history.extend(finished);
    }

    fn advance_job(&mut self, job: &mut DeleteJob, now: Timestamp) {
        if job.status == JobStatus::Init && now.duration_since(job.since) >= STEP {
            job.status = JobStatus::Doing;
            job.since += STEP;
            for task in &job.tasks {
                self.mark(task, "DELETING");
            }
        }
        if job.status == JobStatus::Canceling && now.duration_since(job.since) >= STEP {
            let at = job.since + STEP;
            for task in job.tasks.iter_mut().filter(|t| !t.status.is_final()) {
                task.status = JobStatus::Canceled;
                task.end = Some(at);
                self.mark(task, "AVAILABLE");
            }
            job.status = JobStatus::Canceled;
            job.since = at;
            job.end = Some(at);
            job.comment = "Operation canceled".into();
            return;
        }
        if job.status != JobStatus::Doing || self.clean.stalled {
            return;
        }
        // Tasks run one after another, each taking TASK_TIME.
        let mut at = job.since;
        for task in &mut job.tasks {
            let start = task.start.unwrap_or(at);
            if now < start {
                break;
            }
            task.start = Some(start);
            task.status = JobStatus::Doing;
            let end = start + TASK_TIME;
            if now < end {
                break;
            }
            if task.end.is_none() {
                task.end = Some(end);
                task.status = JobStatus::Completed;
                self.mark(task, "DELETED");
            }
            at = end;
        }
        if job.tasks.iter().all(|t| t.status == JobStatus::Completed) {
            job.status = JobStatus::Completed;
            job.since = at;
            job.end = Some(at);
        }
    }

    /// Sets the file status of the task's set or piece.
    fn mark(&mut self, task: &DeleteTask, file_status: &'static str) {
        if task.task_type == "BACKUP SET" {
            if let Some(set) = self
                .backups
                .sets
                .iter_mut()
                .find(|s| s.backup_set_id == task.id)
            {
                set.file_status = file_status;
            }
            return;
        }
        let deleting = &mut self.archive.deleting_pieces;
        deleting.retain(|id| *id != task.id);
        match file_status {
            "DELETING" => deleting.push(task.id),
            "DELETED" => {
                self.archive.deleted_below_piece = self.archive.deleted_below_piece.max(task.id + 1)
            }
            _ => {}
        }
    }
}

/// A set restore can use: finished and available (§8).
fn usable(set: &BackupSet) -> bool {
    set.status == "SUCCESS" && set.file_status == "AVAILABLE"
}

/// A finished set not yet deleted.
fn deletable_set(set: &BackupSet) -> bool {
    set.status != "DOING" && !matches!(set.file_status, "DELETED" | "DELETING")
}

fn first(ids: &[i64]) -> Result<i64, SqlError> {
    if ids.len() > MAX_IDS {
        return Err(SqlError::not_supported(
            "the number of ids to be deleted more than 32",
        ));
    }
    ids.first()
        .copied()
        .ok_or_else(|| SqlError::oceanbase(1210, "Invalid argument"))
}

impl super::Cluster {
    /// `ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' [RECOVERY_WINDOW 'w'] TENANT = t`; from sys exactly one
    /// tenant must be named (OB-clean `add_delete_policy`: OB_INVALID_ARGUMENT otherwise).
    pub fn add_delete_policy(
        &mut self,
        name: &str,
        window: Option<&str>,
        tenant: Option<&str>,
    ) -> Result<(), SqlError> {
        let now = self.now();
        let tenant = self.user_tenant(tenant)?;
        tenant.clean.add_policy(name, window, now)
    }

    /// `ALTER SYSTEM DROP DELETE BACKUP POLICY 'default' TENANT = t`.
    pub fn drop_delete_policy(&mut self, name: &str, tenant: Option<&str>) -> Result<(), SqlError> {
        self.user_tenant(tenant)?.clean.drop_policy(name)
    }

    /// `ALTER SYSTEM CANCEL DELETE BACKUP [TENANT = list]`; without a list, every tenant (§5.4).
    pub fn cancel_delete(&mut self, tenants: Option<&[String]>) -> Result<(), SqlError> {
        let now = self.now();
        for name in self.tenant_names(tenants) {
            self.target(Some(&name))?.clean.cancel(now);
        }
        Ok(())
    }

    /// `ALTER SYSTEM DELETE BACKUPSET … | ARCHIVELOG_PIECE … | OBSOLETE BACKUP [TENANT = t]` (§5.2): 4.4.1+
    /// only; from sys a set or piece delete names exactly one tenant. `inside_tenant`: sent by the tenant's
    /// own session, so the job is its own rather than initiated by sys.
    pub fn delete_backup(
        &mut self,
        target: CleanTarget,
        tenants: Option<&[String]>,
        inside_tenant: bool,
    ) -> Result<(), SqlError> {
        if self.version < super::Version::V4_4_1 {
            return Err(SqlError::not_supported("manual backup clean"));
        }
        if tenants.is_some_and(|t| t.len() > 1) {
            return Err(SqlError::not_supported(
                "Too many tenant names specified, only one tenant name can be specified",
            ));
        }
        let names = match (tenants, &target) {
            (Some(list), _) => list.to_vec(),
            (None, CleanTarget::Obsolete) => self
                .tenants
                .iter()
                .filter(|t| t.kind == super::TenantType::User && t.clean.policy.is_some())
                .map(|t| t.name.clone())
                .collect(),
            (None, _) => return Err(SqlError::not_supported("need to specify a tenant name")),
        };
        if names.is_empty() {
            return Err(SqlError::oceanbase(9040, "backup can not start"));
        }
        let now = self.now();
        let sys_job = if inside_tenant {
            None
        } else {
            self.next_sys_clean_job_id += 1;
            Some(self.next_sys_clean_job_id)
        };
        for name in names {
            let tenant = self.user_tenant(Some(&name))?;
            let request = CleanRequest {
                target: target.clone(),
                initiator: sys_job.map(|job| (1, job)),
            };
            tenant.clean_scope().submit(request, now)?;
        }
        Ok(())
    }
}
