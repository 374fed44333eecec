//! Data backup of one tenant: jobs (INIT → DOING → COMPLETED | FAILED, CANCELING → CANCELED, then
//! moved to history), their task with phase strings and tablet progress, and backup set files
//! (docs/reference/oceanbase-interface.md §4).

use jiff::{SignedDuration, Timestamp};

use super::archive::scn;

/// Simulated backup throughput (bytes read per second).
pub const BACKUP_BYTES_PER_SECOND: u64 = 200 * 1024 * 1024;
/// An incremental backup reads this share of the tenant's data.
const INCREMENTAL_SHARE: u64 = 10;
/// Time from INIT to DOING, from CANCELING to CANCELED, and from a final state to the history table.
const STEP: SignedDuration = SignedDuration::from_secs(1);
/// Tablets per GiB of data, for the progress columns.
const TABLETS_PER_GIB: u64 = 100;
/// OB_CANCELED, the RESULT of canceled jobs (docs/reference/oceanbase-interface.md §4.6, §12).
const CANCELED: i64 = -4072;

/// Job STATUS strings (docs/reference/oceanbase-interface.md §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Init,
    Doing,
    Completed,
    Failed,
    Canceling,
    Canceled,
}

impl JobStatus {
    /// The view's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Init => "INIT",
            JobStatus::Doing => "DOING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
            JobStatus::Canceling => "CANCELING",
            JobStatus::Canceled => "CANCELED",
        }
    }

    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Canceled
        )
    }
}

/// The task phases a running backup walks through (docs/reference/oceanbase-interface.md §4.6),
/// with the share of the work done when each begins.
const PHASES: [(&str, u64); 8] = [
    ("BACKUP_SYS_META", 0),
    ("BACKUP_USER_META", 2),
    ("BACKUP_META_FINISH", 5),
    ("BACKUP_DATA_SYS", 8),
    ("BACKUP_DATA_MINOR", 15),
    ("BACKUP_DATA_MAJOR", 30),
    ("BEFORE_BACKUP_LOG", 95),
    ("BACKUP_LOG", 97),
];

/// One data backup job of a tenant, with its single task and its backup set.
#[derive(Clone, Debug)]
pub struct BackupJob {
    pub job_id: i64,
    pub backup_set_id: i64,
    /// 1 when started from sys with a tenant list (the sys job spawned it), else the tenant itself.
    pub initiator_tenant_id: i64,
    /// The sys job's id, or 0 when self-initiated (docs/reference/oceanbase-interface.md §4.3).
    pub initiator_job_id: i64,
    pub tenant_id: i64,
    pub incremental: bool,
    pub plus_archivelog: bool,
    /// `ENCRYPTION_MODE`: `NONE` or `PASSWORD`.
    pub encrypted: bool,
    /// The password given with `SET ENCRYPTION` (the view shows it only as an opaque digest).
    pub password: Option<String>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    pub status: JobStatus,
    /// When the job entered its status.
    pub since: Timestamp,
    pub result: i64,
    pub comment: String,
    pub description: String,
    pub path: String,
    /// Bytes this backup reads in all.
    pub total_bytes: u64,
    /// Bytes read so far.
    pub done_bytes: u64,
    /// A fault to end with instead of completing: (code, message).
    pub fail_with: Option<(i64, String)>,
    /// Progress is frozen (a stalled job).
    pub stalled: bool,
    /// `JOB_LEVEL`: `USER_TENANT`, or `CLUSTER` for the sys job a backup from sys starts (§4.3).
    pub level: &'static str,
    /// `EXECUTOR_TENANT_ID`: the tenant ids the job backs up, comma-separated.
    pub executor_tenant_ids: String,
}

/// A backup set file (docs/reference/oceanbase-interface.md §4.4 `DBA_OB_BACKUP_SET_FILES`).
#[derive(Clone, Debug)]
pub struct BackupSet {
    pub backup_set_id: i64,
    pub dest_id: i64,
    pub incremental: bool,
    pub prev_full_backup_set_id: i64,
    pub prev_inc_backup_set_id: i64,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    /// `DOING`, `SUCCESS`, `FAILED`.
    pub status: &'static str,
    /// `AVAILABLE`, … (§4.5).
    pub file_status: &'static str,
    pub plus_archivelog: bool,
    pub start_replay_scn: u64,
    pub min_restore_scn: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub tablet_count: u64,
    pub finish_tablet_count: u64,
    pub result: i64,
    pub comment: String,
    pub encrypted: bool,
    pub path: String,
}

/// A tenant's backup jobs and sets.
#[derive(Clone, Debug, Default)]
pub struct TenantBackups {
    /// Unfinished jobs (and finished ones not yet moved).
    pub jobs: Vec<BackupJob>,
    /// Finished jobs.
    pub history: Vec<BackupJob>,
    /// Every backup set, oldest first.
    pub sets: Vec<BackupSet>,
    next_job_id: i64,
}

/// What a new backup job needs to know.
pub struct NewJob {
    pub tenant_id: i64,
    pub incremental: bool,
    pub plus_archivelog: bool,
    pub password: Option<String>,
    pub description: String,
    pub path: String,
    pub dest_id: i64,
    pub data_bytes: u64,
    pub initiator: Option<(i64, i64)>,
}

impl TenantBackups {
    /// Whether a job of this tenant is unfinished (a second one is refused with 9036).
    pub fn has_active_job(&self) -> bool {
        self.jobs.iter().any(|j| !j.status.is_final())
    }

    /// The next backup set id of the tenant (allocated with the job,
    /// docs/reference/oceanbase-interface.md §4.3).
    fn next_set_id(&self) -> i64 {
        self.sets.iter().map(|s| s.backup_set_id).max().unwrap_or(0) + 1
    }

    /// Inserts a job in INIT with its set (`DOING`). An incremental without a usable full set becomes full.
    pub fn submit(&mut self, job: NewJob, now: Timestamp) -> &BackupJob {
        let last_full = self
            .sets
            .iter()
            .rev()
            .find(|s| !s.incremental && s.status == "SUCCESS" && s.file_status == "AVAILABLE");
        let incremental = job.incremental && last_full.is_some();
        let prev_full = last_full.map_or(0, |s| s.backup_set_id);
        let prev_inc = if incremental {
            self.sets
                .iter()
                .rev()
                .find(|s| s.status == "SUCCESS" && s.backup_set_id > prev_full)
                .map_or(prev_full, |s| s.backup_set_id)
        } else {
            0
        };
        let total_bytes = if incremental {
            job.data_bytes / INCREMENTAL_SHARE
        } else {
            job.data_bytes
        }
        .max(1);
        self.next_job_id += 1;
        let backup_set_id = self.next_set_id();
        let tablets = (job.data_bytes / (1 << 30) * TABLETS_PER_GIB).max(10);
        self.sets.push(BackupSet {
            backup_set_id,
            dest_id: job.dest_id,
            incremental,
            prev_full_backup_set_id: if incremental { prev_full } else { 0 },
            prev_inc_backup_set_id: prev_inc,
            start: now,
            end: None,
            status: "DOING",
            file_status: "COPYING",
            plus_archivelog: job.plus_archivelog,
            start_replay_scn: scn(now),
            min_restore_scn: 0,
            input_bytes: 0,
            output_bytes: 0,
            tablet_count: tablets,
            finish_tablet_count: 0,
            result: 0,
            comment: String::new(),
            encrypted: job.password.is_some(),
            path: super::under(
                &job.path,
                &format!(
                    "backup_set_{backup_set_id}_{}",
                    if incremental { "inc" } else { "full" }
                ),
            ),
        });
        let (initiator_tenant_id, initiator_job_id) = job.initiator.unwrap_or((job.tenant_id, 0));
        self.jobs.push(BackupJob {
            job_id: self.next_job_id,
            backup_set_id,
            initiator_tenant_id,
            initiator_job_id,
            tenant_id: job.tenant_id,
            incremental,
            plus_archivelog: job.plus_archivelog,
            encrypted: job.password.is_some(),
            password: job.password,
            start: now,
            end: None,
            status: JobStatus::Init,
            since: now,
            result: 0,
            comment: String::new(),
            description: job.description,
            path: job.path,
            total_bytes,
            done_bytes: 0,
            fail_with: None,
            stalled: false,
            level: "USER_TENANT",
            executor_tenant_ids: job.tenant_id.to_string(),
        });
        self.jobs
            .last()
            .unwrap_or_else(|| unreachable!("just pushed"))
    }

    /// `CANCEL BACKUP`: unfinished jobs go to CANCELING (docs/reference/oceanbase-interface.md
    /// §4.6).
    pub fn cancel(&mut self, now: Timestamp) {
        for job in &mut self.jobs {
            if matches!(job.status, JobStatus::Init | JobStatus::Doing) {
                job.status = JobStatus::Canceling;
                job.since = now;
            }
        }
    }

    /// Moves jobs along to `now`.
    pub fn advance(&mut self, now: Timestamp, server: &str) {
        for job in &mut self.jobs {
            advance_job(job, &mut self.sets, now, server);
        }
        self.retire_finished(now);
    }

    /// Moves jobs that ended a step ago to the history table.
    pub fn retire_finished(&mut self, now: Timestamp) {
        let (finished, running): (Vec<_>, Vec<_>) = self
            .jobs
            .drain(..)
            .partition(|j| j.status.is_final() && now.duration_since(j.end.unwrap_or(now)) >= STEP);
        self.jobs = running;
        self.history.extend(finished);
    }
}

fn advance_job(job: &mut BackupJob, sets: &mut [BackupSet], now: Timestamp, server: &str) {
    let Some(set) = sets
        .iter_mut()
        .find(|s| s.backup_set_id == job.backup_set_id)
    else {
        return;
    };
    if job.status == JobStatus::Init && now.duration_since(job.since) >= STEP {
        job.status = JobStatus::Doing;
        job.since += STEP;
    }
    if job.status == JobStatus::Canceling && now.duration_since(job.since) >= STEP {
        let at = job.since + STEP;
        finish(
            job,
            set,
            JobStatus::Canceled,
            at,
            CANCELED,
            "Operation canceled".into(),
            server,
        );
        return;
    }
    if job.status != JobStatus::Doing {
        return;
    }
    if !job.stalled {
        let seconds = now.duration_since(job.since).as_secs_f64().max(0.0);
        job.done_bytes = ((seconds * BACKUP_BYTES_PER_SECOND as f64) as u64).min(job.total_bytes);
    }
    set.input_bytes = job.done_bytes;
    set.output_bytes = job.done_bytes / 2;
    set.finish_tablet_count = set.tablet_count * job.done_bytes / job.total_bytes;
    if let Some((code, message)) = job.fail_with.clone()
        && job.done_bytes * 2 >= job.total_bytes
    {
        // The failure strikes when half the data is read.
        let at = job.since + seconds_for(job.total_bytes / 2);
        job.done_bytes = job.total_bytes / 2;
        finish(
            job,
            set,
            JobStatus::Failed,
            at.min(now),
            code,
            message,
            server,
        );
        return;
    }
    if job.done_bytes >= job.total_bytes {
        let at = job.since + seconds_for(job.total_bytes);
        finish(
            job,
            set,
            JobStatus::Completed,
            at.min(now),
            0,
            String::new(),
            server,
        );
    }
}

/// How long reading `bytes` takes.
fn seconds_for(bytes: u64) -> SignedDuration {
    SignedDuration::from_secs(
        i64::try_from(bytes.div_ceil(BACKUP_BYTES_PER_SECOND)).unwrap_or(i64::MAX),
    )
}

fn finish(
    job: &mut BackupJob,
    set: &mut BackupSet,
    status: JobStatus,
    at: Timestamp,
    result: i64,
    message: String,
    server: &str,
) {
    job.status = status;
    job.since = at;
    job.end = Some(at);
    job.result = result;
    if result != 0 {
        // The comment format of ObHAResultInfo::get_comment_str
        // (docs/reference/oceanbase-interface.md §4.4).
        job.comment = format!(
            "(ROOTSERVICE)addr: {server}, result: {result}({message}), trace_id: Y0-0000000000000001-0-0"
        );
    }
    set.end = Some(at);
    set.result = result;
    set.comment = job.comment.clone();
    match status {
        JobStatus::Completed => {
            set.status = "SUCCESS";
            set.file_status = "AVAILABLE";
            set.min_restore_scn = scn(at);
            set.finish_tablet_count = set.tablet_count;
        }
        _ => {
            set.status = "FAILED";
            set.file_status = "INCOMPLETE";
        }
    }
}

impl BackupJob {
    /// The sys-side `CLUSTER` job of a backup started from sys: BACKUP_SET_ID 0, its own initiator (§4.3).
    pub fn cluster_job(
        job_id: i64,
        executors: &[i64],
        request: &super::BackupRequest,
        now: Timestamp,
    ) -> Self {
        Self {
            job_id,
            backup_set_id: 0,
            initiator_tenant_id: 1,
            initiator_job_id: job_id,
            tenant_id: 1,
            incremental: request.incremental,
            plus_archivelog: request.plus_archivelog,
            encrypted: request.password.is_some(),
            password: request.password.clone(),
            start: now,
            end: None,
            status: JobStatus::Init,
            since: now,
            result: 0,
            comment: String::new(),
            description: request.description.clone().unwrap_or_default(),
            path: String::new(),
            total_bytes: 0,
            done_bytes: 0,
            fail_with: None,
            stalled: false,
            level: "CLUSTER",
            executor_tenant_ids: executors
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// A cluster job follows the tenant jobs it spawned: DOING while any runs, CANCELING while any cancels,
    /// then FAILED if any failed, CANCELED if any was canceled, else COMPLETED, ending with the last of them.
    pub fn follow(&mut self, spawned: &[&BackupJob]) {
        if self.status.is_final() || spawned.is_empty() {
            return;
        }
        let any = |status: JobStatus| spawned.iter().any(|j| j.status == status);
        if spawned.iter().all(|j| j.status.is_final()) {
            let failed = spawned.iter().find(|j| j.status == JobStatus::Failed);
            self.status = match failed {
                Some(_) => JobStatus::Failed,
                None if any(JobStatus::Canceled) => JobStatus::Canceled,
                None => JobStatus::Completed,
            };
            if let Some(failed) = failed {
                self.result = failed.result;
                self.comment = failed.comment.clone();
            } else if self.status == JobStatus::Canceled {
                self.result = CANCELED;
            }
            self.end = spawned.iter().filter_map(|j| j.end).max();
            self.since = self.end.unwrap_or(self.since);
        } else if any(JobStatus::Canceling) {
            self.status = JobStatus::Canceling;
        } else if any(JobStatus::Doing) {
            self.status = JobStatus::Doing;
        }
    }
}

/// The backup phase string of a running job, from its progress.
pub fn phase(job: &BackupJob) -> &'static str {
    if job.status.is_final() {
        return job.status.as_str();
    }
    let percent = job.done_bytes * 100 / job.total_bytes.max(1);
    PHASES
        .iter()
        .rev()
        .find(|(_, from)| percent >= *from)
        .map_or("BACKUP_SYS_META", |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_763_600_000 + seconds).expect("time")
    }

    fn new_job(incremental: bool) -> NewJob {
        NewJob {
            tenant_id: 1002,
            incremental,
            plus_archivelog: false,
            password: None,
            description: "uid".into(),
            path: "file:///backup/data".into(),
            dest_id: 1,
            data_bytes: 2 * 1024 * 1024 * 1024,
            initiator: None,
        }
    }

    #[test]
    fn a_job_goes_init_doing_completed_then_to_history() {
        let mut backups = TenantBackups::default();
        backups.submit(new_job(false), at(0));
        assert_eq!(backups.jobs[0].status, JobStatus::Init);
        backups.advance(at(1), "127.0.0.1:2882");
        assert_eq!(backups.jobs[0].status, JobStatus::Doing);
        backups.advance(at(6), "127.0.0.1:2882");
        assert_eq!(phase(&backups.jobs[0]), "BACKUP_DATA_MAJOR");
        assert_eq!(backups.sets[0].status, "DOING");
        backups.advance(at(13), "127.0.0.1:2882");
        assert_eq!(backups.jobs.len(), 0);
        assert_eq!(backups.history[0].status, JobStatus::Completed);
        assert_eq!(
            backups.history[0].end,
            Some(at(12)),
            "2 GiB at 200 MiB/s: 11 s of DOING after 1 s of INIT"
        );
        assert_eq!(
            (backups.sets[0].status, backups.sets[0].file_status),
            ("SUCCESS", "AVAILABLE")
        );
    }

    #[test]
    fn incremental_without_a_full_set_becomes_full_and_chains_after_one() {
        let mut backups = TenantBackups::default();
        backups.submit(new_job(true), at(0));
        assert!(
            !backups.jobs[0].incremental,
            "§4.2: silently converted to FULL"
        );
        backups.advance(at(30), "s");
        backups.submit(new_job(true), at(40));
        let inc = backups.sets.last().expect("set");
        assert!(inc.incremental);
        assert_eq!(
            (inc.prev_full_backup_set_id, inc.prev_inc_backup_set_id),
            (1, 1)
        );
    }

    #[test]
    fn cancel_goes_through_canceling_with_result_4072() {
        let mut backups = TenantBackups::default();
        backups.submit(new_job(false), at(0));
        backups.advance(at(2), "s");
        backups.cancel(at(2));
        assert_eq!(backups.jobs[0].status, JobStatus::Canceling);
        backups.advance(at(3), "s");
        assert_eq!(
            (backups.jobs[0].status, backups.jobs[0].result),
            (JobStatus::Canceled, -4072)
        );
    }

    #[test]
    fn an_injected_failure_ends_failed_with_its_code_in_the_comment() {
        let mut backups = TenantBackups::default();
        backups.submit(new_job(false), at(0));
        backups.jobs[0].fail_with = Some((-9082, "backup device out of space".into()));
        backups.advance(at(10), "10.0.0.1:2882");
        let job = backups
            .jobs
            .first()
            .or(backups.history.first())
            .expect("job");
        assert_eq!((job.status, job.result), (JobStatus::Failed, -9082));
        assert!(
            job.comment
                .contains("result: -9082(backup device out of space)"),
            "{}",
            job.comment
        );
        assert_eq!(backups.sets[0].status, "FAILED");
    }
}
