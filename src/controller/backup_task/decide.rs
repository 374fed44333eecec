//! What a BackupTask should look like and do next, as a pure function of its spec, its status, the
//! last observation of its cluster and the time (docs/contributing/design.md §2.3,
//! docs/reference/oceanbase-interface.md §4 and §10).
//!
//! Exactly once: the job is submitted with `DESCRIPTION` = the task's UID, and the intent (`submittedAt`)
//! is written before the statement is sent. A task whose intent is recorded but whose job OceanBase does not
//! list is submitted again only once a snapshot read well after the intent shows no such job — by then a
//! statement sent before a crash has either created the job or failed.

use crate::reason::Reason;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::controller::submit::{Submitted, job_failure, submitted};
use crate::timing::Clock;
use crate::{
    api::{
        BackupTask, BackupTaskPhase, BackupTaskStatus,
        common::{Failure, TaskSource},
    },
    controller::{
        conditions::{CLUSTER_REACHABLE, Health, PROGRESSING, api_time, condition},
        error::Problem,
        reading::{self, Reading},
    },
    observer::{Interest, Observation},
    oceanbase::{
        BackupJobRow, JobStatus, ObError, RoundStatus, Snapshot, TenantRow, TenantStatus, codes,
        paths,
    },
};

/// What the reconcile must do after writing the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: wait for OceanBase or for a change.
    Wait,
    /// Set the tenant's `DATA_BACKUP_DEST` (no job of the tenant is running).
    SetDataDest,
    /// Record the intent, then send `BACKUP … DESCRIPTION = uid`.
    Submit,
    /// Send `CANCEL BACKUP` for the tenant.
    Cancel,
}

/// The outcome of [`decide`].
pub type Decision = crate::controller::task::Decision<BackupTaskStatus, Step>;

/// What the decision reads.
pub struct Inputs<'a> {
    pub task: &'a BackupTask,
    pub cluster_name: &'a str,
    /// The data destination the tenant must have, without access keys.
    pub data_uri: &'a str,
    pub observation: &'a Observation,
    pub clock: Clock,
    /// A running job without progress for this long gets `Progressing=False`.
    pub stall_timeout: SignedDuration,
}

/// Decides the task's status and next step: the facts of the observation, then the task's stage — ended,
/// following its job, or on its way to one.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let task = inputs.task;
    let previous = task.status.clone().unwrap_or_default();
    let source = previous.source.or(Some(source_of(task)));
    if previous.phase.is_some_and(BackupTaskPhase::is_terminal) {
        let status = BackupTaskStatus {
            observed_generation: task.metadata.generation,
            source,
            ..previous
        };
        return Decision::new(status, Step::Wait, None);
    }
    let watch = Watch {
        task,
        uid: task.metadata.uid.clone().unwrap_or_default(),
        since: history_since(&previous),
    };
    let base = BackupTaskStatus {
        phase: previous.phase.or(Some(BackupTaskPhase::Pending)),
        observed_generation: task.metadata.generation,
        cluster_name: Some(inputs.cluster_name.to_string()),
        source,
        ..previous
    };
    let seen = match reading::read(
        inputs.observation,
        inputs.cluster_name,
        &task.spec.tenant,
        task.metadata.generation,
    ) {
        Reading::Tenant {
            snapshot,
            at,
            tenant,
            reachable,
        } => Seen {
            snapshot,
            at,
            tenant,
            reachable,
        },
        Reading::Blocked {
            health,
            extra,
            active,
        } => return Decision::new(base, Step::Wait, watch.interest(active)).health(health, extra),
    };
    if let Some(job_id) = task.spec.job_id {
        return mirror(inputs, &watch, base, seen, job_id);
    }
    match seen.snapshot.job_by_description(seen.tenant.id, &watch.uid) {
        Some(job) => follow_job(inputs, base, seen, job),
        None => before_job(inputs, &watch, base, &seen),
    }
}

/// A mirror of a backup started elsewhere (docs/guide/external-jobs.md): it shows its job, found by id,
/// and never acts. A job OceanBase no longer lists (the observer remembers finished ones for a day) leaves
/// the mirror as it was, saying so.
fn mirror(
    inputs: &Inputs<'_>,
    watch: &Watch<'_>,
    base: BackupTaskStatus,
    seen: Seen<'_>,
    job_id: i64,
) -> Decision {
    let listed = seen
        .snapshot
        .jobs
        .iter()
        .find(|j| j.tenant_id == seen.tenant.id && j.job_id == job_id);
    if let Some(job) = listed {
        return follow_job(inputs, base, seen, job);
    }
    let health = Health::Progressing {
        reason: Reason::LookingUpJob,
        message: format!(
            "backup job {job_id} of tenant {} is not listed by OceanBase: it ended over a day before this \
             read, or it is not this tenant's",
            seen.tenant.name
        ),
    };
    Decision::new(base, Step::Wait, watch.interest(false))
        .health(health, Some(vec![seen.reachable]))
}

/// What the task watches in the observer: its tenant, its job by description, finished jobs since `since`.
struct Watch<'a> {
    task: &'a BackupTask,
    uid: String,
    since: Option<Timestamp>,
}

impl Watch<'_> {
    fn interest(&self, active: bool) -> Option<Interest> {
        let mirror = self.task.spec.job_id.is_some();
        Some(Interest {
            tenant: self.task.spec.tenant.clone(),
            description: (!mirror).then(|| self.uid.clone()),
            active,
            restore: false,
            since: self.since,
            overview: Vec::new(),
            external: mirror,
            lag_alert: None,
        })
    }
}

/// What an observation of the task's cluster says: the snapshot read at `at`, the task's tenant in it, and
/// `ClusterReachable=True`.
struct Seen<'a> {
    snapshot: &'a Snapshot,
    at: Timestamp,
    tenant: &'a TenantRow,
    reachable: Condition,
}

/// A task whose job OceanBase does not list: its submission still on its way, canceled before it went, or the
/// step towards a submission.
fn before_job(
    inputs: &Inputs<'_>,
    watch: &Watch<'_>,
    base: BackupTaskStatus,
    seen: &Seen<'_>,
) -> Decision {
    let pending = |status: BackupTaskStatus, health: Health, step: Step, active: bool| {
        let status = BackupTaskStatus {
            phase: Some(BackupTaskPhase::Pending),
            ..status
        };
        Decision::new(status, step, watch.interest(active))
            .health(health, Some(vec![seen.reachable.clone()]))
    };
    // No job listed. After an intent, that means "no job" only if this read looked for the task's
    // description: finished jobs are listed only when asked for, so a job that ended while the operator was
    // down is missing from any read that did not ask.
    let submitted = base.submitted_at.as_ref().map(|t| t.0);
    if submitted.is_some() && !seen.snapshot.searched_for(&watch.uid) {
        let health = Health::Progressing {
            reason: Reason::LookingUpJob,
            message: "submitted; looking up the job by its description".into(),
        };
        return pending(base, health, Step::Wait, true);
    }
    if let Some(submitted) = submitted
        && inputs.clock.in_flight(submitted, seen.at)
    {
        let health = Health::Progressing {
            reason: Reason::Submitted,
            message: "submitted; waiting for OceanBase to list the job".into(),
        };
        return pending(base, health, Step::Wait, true);
    }
    if inputs.task.spec.cancel {
        let health = Health::Ready {
            reason: Reason::Canceled,
            message: "canceled before a backup job was started".into(),
        };
        let status = BackupTaskStatus {
            phase: Some(BackupTaskPhase::Canceled),
            submitted_at: None,
            ended_at: Some(api_time(inputs.clock.now)),
            ..base
        };
        let reachable = seen.reachable.clone();
        return Decision::new(status, Step::Wait, None).health(health, Some(vec![reachable]));
    }
    let base = BackupTaskStatus {
        submitted_at: None,
        ..base
    };
    let (health, step, active) = towards_submission(inputs, seen);
    pending(base, health, step, active)
}

/// What a task that may be submitted waits for — its tenant, archiving, another backup — or the step that
/// brings the submission closer, and whether to watch closely meanwhile.
fn towards_submission(inputs: &Inputs<'_>, seen: &Seen<'_>) -> (Health, Step, bool) {
    let (snapshot, tenant) = (seen.snapshot, seen.tenant);
    let wait = |reason: Reason, message: String| Health::Progressing { reason, message };
    if tenant.status != TenantStatus::Normal {
        let message = format!(
            "tenant {} is {}; a backup needs it NORMAL",
            tenant.name, tenant.status
        );
        return (wait(Reason::TenantNotReady, message), Step::Wait, false);
    }
    let round = snapshot.round(tenant.id);
    if round.is_none_or(|r| r.status != RoundStatus::Doing) {
        let archive = round.map_or_else(|| "not running".to_string(), |r| r.status.to_string());
        let message = format!(
            "log archiving of tenant {} is {archive}; OceanBase starts a backup only while it is DOING",
            tenant.name
        );
        return (
            wait(Reason::WaitingForLogArchive, message),
            Step::Wait,
            true,
        );
    }
    if let Some(other) = snapshot.active_job(tenant.id) {
        let message = format!(
            "backup job {} of tenant {} is {}; OceanBase runs one backup per tenant at a time",
            other.job_id, tenant.name, other.status
        );
        return (
            wait(Reason::AnotherBackupRunning, message),
            Step::Wait,
            true,
        );
    }
    if snapshot.data_dest(tenant.id) != Some(inputs.data_uri) {
        let message = format!(
            "setting DATA_BACKUP_DEST of tenant {} to {}",
            tenant.name, inputs.data_uri
        );
        return (
            wait(Reason::SettingDestination, message),
            Step::SetDataDest,
            true,
        );
    }
    let health = wait(Reason::Submitting, "submitting the backup job".into());
    (health, Step::Submit, true)
}

/// The status of a task whose job OceanBase lists: what the job shows, then the phase and health it gives.
fn follow_job(
    inputs: &Inputs<'_>,
    base: BackupTaskStatus,
    seen: Seen<'_>,
    job: &BackupJobRow,
) -> Decision {
    let task = inputs.task;
    let phase = crate::controller::reading::backup_task_phase(&job.status);
    let shown = JobShows::read(inputs, &base, seen.snapshot, job, phase);
    let failure = (phase == BackupTaskPhase::Failed)
        .then(|| job_failure("job", job.job_id, job.result, &job.comment));
    let running = !phase.is_terminal();
    let mut extra = vec![seen.reachable];
    let mut recheck = None;
    if running {
        let (progressing, next) = progressing(inputs, job, &shown.last_progress);
        extra.push(progressing);
        recheck = next;
    }
    let health = job_health(phase, job, shown.percent, failure.as_ref());
    let status = BackupTaskStatus {
        phase: Some(phase),
        job_id: Some(job.job_id),
        backup_set_id: Some(job.backup_set_id).filter(|id| *id > 0),
        started_at: job.start.map(api_time),
        ended_at: job.end.map(api_time),
        progress: shown.percent,
        input_bytes: shown.input,
        output_bytes: shown.output,
        storage_directory: shown.directory,
        data_version: seen
            .snapshot
            .set(job.tenant_id, job.backup_set_id)
            .map(|s| s.data_version.clone())
            .filter(|v| !v.is_empty())
            .or(base.data_version.clone()),
        failure,
        last_progress_time: running.then_some(shown.last_progress),
        ..base
    };
    // A mirror is never acted upon (its cancel is refused at admission, and ignored here).
    let mirror = task.spec.job_id.is_some();
    let cancel =
        task.spec.cancel && !mirror && !job.status.is_final() && job.status != JobStatus::Canceling;
    let since = history_since(&status).or(Some(inputs.clock.now));
    let interest = running.then(|| Interest {
        tenant: task.spec.tenant.clone(),
        description: (!mirror).then(|| job.description.clone()),
        active: true,
        restore: false,
        since,
        overview: Vec::new(),
        external: mirror,
        lag_alert: None,
    });
    let step = if cancel { Step::Cancel } else { Step::Wait };
    Decision::new(status, step, interest)
        .health(health, Some(extra))
        .recheck(recheck)
}

/// What a listed job shows of itself, its task row and its set: how far it is, what it moved, where the set
/// lies, and when it last moved.
struct JobShows {
    percent: Option<i32>,
    input: Option<i64>,
    output: Option<i64>,
    directory: Option<String>,
    last_progress: Time,
}

impl JobShows {
    fn read(
        inputs: &Inputs<'_>,
        base: &BackupTaskStatus,
        snapshot: &Snapshot,
        job: &BackupJobRow,
        phase: BackupTaskPhase,
    ) -> Self {
        let progress = snapshot.progress(job.tenant_id, job.job_id);
        let set = snapshot.set(job.tenant_id, job.backup_set_id);
        let percent = match (phase, progress) {
            (BackupTaskPhase::Completed, _) => Some(100),
            (_, Some(p)) if p.tablet_count > 0 => Some(
                i32::try_from((p.finish_tablet_count * 100 / p.tablet_count).clamp(0, 100))
                    .unwrap_or(0),
            ),
            _ => base.progress,
        };
        let (input, output) = match (progress, set) {
            (Some(p), _) if !job.status.is_final() => (Some(p.input_bytes), Some(p.output_bytes)),
            (_, Some(s)) => (Some(s.input_bytes), Some(s.output_bytes)),
            _ => (base.input_bytes, base.output_bytes),
        };
        let moved = percent != base.progress || input != base.input_bytes;
        let last_progress = if moved || base.last_progress_time.is_none() {
            api_time(inputs.clock.now)
        } else {
            base.last_progress_time
                .clone()
                .unwrap_or_else(|| api_time(inputs.clock.now))
        };
        // The set's own directory: its row's path, else the task's or job's, which may name only the
        // destination (`backup_set_<id>_<full|inc>` under it).
        let directory = set
            .map(|s| s.path.clone())
            .or_else(|| progress.map(|p| p.path.clone()))
            .filter(|p| !p.is_empty())
            .or_else(|| Some(job.path.clone()).filter(|p| !p.is_empty()))
            .map(
                |path| match paths::set_dir_name(job.backup_set_id, &job.backup_type) {
                    Some(name) => paths::directory_named(&path, &name),
                    None => path,
                },
            );
        Self {
            percent,
            input,
            output,
            directory,
            last_progress,
        }
    }
}

/// `Progressing` for a running job last seen moving at `last_progress`, and when to look again to notice
/// it stop (none once it is stuck).
fn progressing(
    inputs: &Inputs<'_>,
    job: &BackupJobRow,
    last_progress: &Time,
) -> (Condition, Option<Duration>) {
    let quiet = inputs.clock.now.duration_since(last_progress.0);
    let stuck = quiet >= inputs.stall_timeout;
    let condition = condition(
        PROGRESSING,
        !stuck,
        if stuck {
            Reason::NoProgress
        } else {
            Reason::Progressing
        },
        &if stuck {
            format!(
                "job {} has made no progress for {}s",
                job.job_id,
                quiet.as_secs()
            )
        } else {
            format!("job {} is {}", job.job_id, job.status)
        },
        inputs.task.metadata.generation,
    );
    let recheck = if stuck {
        None
    } else {
        Duration::try_from(inputs.stall_timeout - quiet).ok()
    };
    (condition, recheck)
}

/// The health a job's phase gives its task.
fn job_health(
    phase: BackupTaskPhase,
    job: &BackupJobRow,
    percent: Option<i32>,
    failure: Option<&Failure>,
) -> Health {
    match phase {
        BackupTaskPhase::Completed => Health::Ready {
            reason: Reason::Completed,
            message: format!("backup set {} completed", job.backup_set_id),
        },
        BackupTaskPhase::Canceled => Health::Ready {
            reason: Reason::Canceled,
            message: format!("job {} was canceled", job.job_id),
        },
        BackupTaskPhase::Failed => Health::Stalled {
            reason: Reason::BackupFailed,
            message: failure.map(|f| f.message.clone()).unwrap_or_default(),
        },
        _ => Health::Progressing {
            reason: Reason::InProgress,
            message: format!(
                "job {} {}{}",
                job.job_id,
                job.status,
                percent.map(|p| format!(", {p}%")).unwrap_or_default()
            ),
        },
    }
}

/// The earliest time the task's job can have ended: when it was submitted, or (a task without an intent on
/// record) when the job it follows started. `None` while it has no job to look for among the finished ones.
fn history_since(status: &BackupTaskStatus) -> Option<Timestamp> {
    status
        .submitted_at
        .as_ref()
        .or(status.started_at.as_ref())
        .map(|t| t.0)
}

/// A mirror of a backup started elsewhere is `External`, a task a strategy created `Schedule`, any other
/// `Manual`.
pub fn source_of(task: &BackupTask) -> TaskSource {
    if task.spec.job_id.is_some() {
        return TaskSource::External;
    }
    let owned_by_strategy = task
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "BackupStrategy" && o.controller == Some(true));
    if owned_by_strategy {
        TaskSource::Schedule
    } else {
        TaskSource::Manual
    }
}

/// The status after a step's statements: a submission's outcome; a refused destination says why; a cancel
/// changes nothing until OceanBase is read again.
pub fn after_step(
    task: &BackupTask,
    step: Step,
    sent: BackupTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> BackupTaskStatus {
    match (step, outcome) {
        (Step::Submit, outcome) => after_submit(task, sent, outcome, now),
        (Step::SetDataDest, Err(error)) => {
            let health = Health::Progressing {
                reason: Reason::DestinationRefused,
                message: format!("setting DATA_BACKUP_DEST failed: {error}"),
            };
            with_health(sent, task, &health, None, now)
        }
        _ => sent,
    }
}

/// The status of a task whose references are wrong: Stalled with the reason, phase kept.
pub fn stalled(
    task: &BackupTask,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> BackupTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let (conditions, message) = crate::controller::summarize(
        &previous.conditions,
        task.metadata.generation,
        problems,
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting to be submitted to OceanBase".into(),
        },
        now,
    );
    BackupTaskStatus {
        phase: Some(previous.phase.unwrap_or(BackupTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        source: previous.source.or(Some(source_of(task))),
        ..previous
    }
}

/// The status after the `BACKUP` statement: submitted, refused for a reason that passes (stays Pending),
/// refused for good (Failed), or unknown (the cluster did not answer: the intent stays, the lookup by
/// description decides later).
pub fn after_submit(
    task: &BackupTask,
    status: BackupTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> BackupTaskStatus {
    let (health, status) = match submitted(outcome, "job", codes::BACKUP_REFUSED_FOR_NOW) {
        Submitted::Waiting(health) => (health, status),
        Submitted::RefusedForNow(health) | Submitted::Invalid(health) => (
            health,
            BackupTaskStatus {
                submitted_at: None,
                ..status
            },
        ),
        Submitted::Refused(failure) => (
            Health::Stalled {
                reason: Reason::BackupFailed,
                message: format!(
                    "OceanBase refused the backup ({}): {}",
                    failure.code.unwrap_or_default(),
                    failure.message
                ),
            },
            BackupTaskStatus {
                phase: Some(BackupTaskPhase::Failed),
                submitted_at: None,
                ended_at: Some(api_time(now)),
                failure: Some(failure),
                ..status
            },
        ),
    };
    let extra = status
        .conditions
        .iter()
        .filter(|c| c.type_ == CLUSTER_REACHABLE)
        .cloned()
        .collect();
    with_health(status, task, &health, Some(extra), now)
}

/// The status with conditions for `health` plus `extra` (see [`with_extra`]) and the health's message.
pub fn with_health(
    status: BackupTaskStatus,
    task: &BackupTask,
    health: &Health,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> BackupTaskStatus {
    crate::controller::status::with_health(status, task.metadata.generation, health, extra, now)
}

#[cfg(test)]
mod tests {
    use crate::oceanbase::State;
    use std::sync::Arc;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::oceanbase::{BackupProgress, BackupSetRow, fake};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    fn task() -> BackupTask {
        let mut task = super::super::sample_task(None);
        task.metadata.uid = Some("uid-1".into());
        task
    }

    /// tenant1 (1002) archiving in `round`, DATA_BACKUP_DEST set, with `jobs`.
    fn seen(round: &str, jobs: Vec<BackupJobRow>, taken: Timestamp) -> Observation {
        let snapshot = fake::snapshot()
            .tenant(fake::tenant(1002, "tenant1"))
            .round(fake::round(1002, round))
            .data_dest(1002, "file:///data")
            .progress(BackupProgress {
                tenant_id: 1002,
                job_id: 7,
                input_bytes: 100,
                output_bytes: 50,
                tablet_count: 10,
                finish_tablet_count: 4,
                path: "file:///data/backup_set_3_full".into(),
            })
            .set(BackupSetRow {
                tenant_id: 1002,
                backup_set_id: 3,
                backup_type: State::of("FULL"),
                status: State::of("SUCCESS"),
                file_status: State::of("AVAILABLE"),
                input_bytes: 1000,
                output_bytes: 500,
                end: None,
                path: "file:///data/backup_set_3_full".into(),
                prev_full_backup_set_id: 0,
                prev_inc_backup_set_id: 0,
                start_replay_scn: 1,
                min_restore_scn: 2,
                data_version: "4.2.5.0".into(),
            })
            .jobs(jobs)
            .searched("uid-1")
            .build();
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at: taken,
        }
    }

    /// The same read, but one that did not ask for the task's description (so a finished job is missing).
    fn seen_without_asking(round: &str, taken: Timestamp) -> Observation {
        let Observation::Seen { snapshot, at } = seen(round, vec![], taken) else {
            unreachable!("seen is a snapshot")
        };
        let mut snapshot = (*snapshot).clone();
        snapshot.searched.clear();
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at,
        }
    }

    fn job(description: &str, status: &str) -> BackupJobRow {
        BackupJobRow {
            tenant_id: 1002,
            job_id: 7,
            backup_set_id: 3,
            backup_type: State::of("FULL"),
            status: State::of(status),
            result: if status == "FAILED" { -9082 } else { 0 },
            comment: if status == "FAILED" {
                "result: -9082(backup device out of space)".into()
            } else {
                String::new()
            },
            description: description.into(),
            path: "file:///data".into(),
            start: Some(at(0)),
            end: JobStatus::of(status).is_final().then(|| at(60)),
        }
    }

    /// The decision, its status with the health the driver gives it.
    fn settled(inputs: &Inputs<'_>) -> Decision {
        decide(inputs).settled(inputs.task.metadata.generation, inputs.clock.now)
    }

    fn decide_at(task: &BackupTask, observation: &Observation, now: Timestamp) -> Decision {
        settled(&Inputs {
            task,
            cluster_name: "obcluster",
            data_uri: "file:///data",
            observation,
            clock: Clock::at(now),
            stall_timeout: SignedDuration::try_from(crate::timing::BACKUP_STALL_TIMEOUT)
                .expect("fits"),
        })
    }

    fn reason(status: &BackupTaskStatus) -> String {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == "Reconciling" || c.type_ == "Ready" && c.status == "True")
            .map(|c| c.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_backup_waits_for_archiving_and_for_other_jobs_then_submits() {
        let task = task();
        let waiting = decide_at(&task, &seen("BEGINNING", vec![], at(1)), at(1));
        assert_eq!(
            (waiting.step, reason(&waiting.status).as_str()),
            (Step::Wait, "WaitingForLogArchive")
        );
        assert_eq!(waiting.status.phase, Some(BackupTaskPhase::Pending));
        let busy = decide_at(
            &task,
            &seen("DOING", vec![job("someone-else", "DOING")], at(1)),
            at(1),
        );
        assert_eq!(
            (busy.step, reason(&busy.status).as_str()),
            (Step::Wait, "AnotherBackupRunning")
        );
        let go = decide_at(&task, &seen("DOING", vec![], at(1)), at(1));
        assert_eq!(go.step, Step::Submit);
        let elsewhere = settled(&Inputs {
            data_uri: "file:///other",
            ..Inputs {
                task: &task,
                cluster_name: "obcluster",
                data_uri: "",
                observation: &seen("DOING", vec![], at(1)),
                clock: Clock::at(at(1)),
                stall_timeout: SignedDuration::try_from(crate::timing::BACKUP_STALL_TIMEOUT)
                    .expect("fits"),
            }
        });
        assert_eq!(elsewhere.step, Step::SetDataDest);
    }

    #[test]
    fn a_recorded_intent_is_not_submitted_again_until_the_grace_has_passed() {
        let mut task = task();
        task.status = Some(BackupTaskStatus {
            submitted_at: Some(Time(at(100))),
            ..BackupTaskStatus::default()
        });
        // A snapshot read before the grace ran out may predate the job: wait.
        let early = decide_at(&task, &seen("DOING", vec![], at(120)), at(121));
        assert_eq!(
            (early.step, reason(&early.status).as_str()),
            (Step::Wait, "Submitted")
        );
        // Read after the grace and still no job: the statement never made one.
        let late = decide_at(&task, &seen("DOING", vec![], at(150)), at(151));
        assert_eq!(late.step, Step::Submit);
        assert_eq!(
            late.status.submitted_at, None,
            "the new intent is written by the submit itself"
        );
        // Found by its description: follow it, never submit again.
        let found = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "DOING")], at(120)),
            at(121),
        );
        assert_eq!(found.step, Step::Wait);
        assert_eq!(found.status.phase, Some(BackupTaskPhase::InProgress));
    }

    #[test]
    fn absence_from_a_read_that_did_not_look_for_the_job_is_no_evidence() {
        // Issue 13, defect 4: after a long restart the first read did not ask for the task's description, so
        // its finished job was missing; the task took that for "no job" and sent a second BACKUP.
        let mut task = task();
        task.status = Some(BackupTaskStatus {
            submitted_at: Some(Time(at(100))),
            ..BackupTaskStatus::default()
        });
        let blind = decide_at(&task, &seen_without_asking("DOING", at(500)), at(501));
        assert_eq!(
            (blind.step, reason(&blind.status).as_str()),
            (Step::Wait, "LookingUpJob")
        );
        assert_eq!(
            blind
                .interest
                .as_ref()
                .and_then(|i| i.description.as_deref()),
            Some("uid-1"),
            "the next read asks for it"
        );
        assert!(blind.status.submitted_at.is_some(), "the intent stays");
        // A task that never recorded an intent sent nothing, so it may submit from any read.
        let fresh = decide_at(
            &self::task(),
            &seen_without_asking("DOING", at(500)),
            at(501),
        );
        assert_eq!(fresh.step, Step::Submit);
    }

    #[test]
    fn a_job_is_followed_to_its_end_with_progress_and_cause() {
        let task = task();
        let running = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "BACKUP_DATA_MINOR")], at(5)),
            at(5),
        );
        let status = &running.status;
        assert_eq!(
            status.phase,
            Some(BackupTaskPhase::InProgress),
            "phase strings are In Progress"
        );
        assert_eq!(
            (status.job_id, status.progress, status.input_bytes),
            (Some(7), Some(40), Some(100))
        );
        assert_eq!(
            status.storage_directory.as_deref(),
            Some("file:///data/backup_set_3_full")
        );
        // With neither the set's nor the task's row yet, the job's path names only the destination: the
        // directory is the set's under it, never the destination itself.
        let Observation::Seen {
            snapshot,
            at: taken,
        } = seen("DOING", vec![job("uid-1", "BACKUP_DATA_MINOR")], at(5))
        else {
            unreachable!("seen is a snapshot")
        };
        let mut only_the_job = (*snapshot).clone();
        only_the_job.sets.clear();
        only_the_job.progress.clear();
        let early = Observation::Seen {
            snapshot: Arc::new(only_the_job),
            at: taken,
        };
        assert_eq!(
            decide_at(&task, &early, at(5))
                .status
                .storage_directory
                .as_deref(),
            Some("file:///data/backup_set_3_full")
        );
        let done = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "COMPLETED")], at(70)),
            at(70),
        );
        assert_eq!(done.status.phase, Some(BackupTaskPhase::Completed));
        assert_eq!(
            (
                done.status.backup_set_id,
                done.status.progress,
                done.status.input_bytes
            ),
            (Some(3), Some(100), Some(1000))
        );
        assert_eq!(done.interest, None, "an ended task is no longer watched");
        let failed = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "FAILED")], at(70)),
            at(70),
        );
        assert_eq!(failed.status.phase, Some(BackupTaskPhase::Failed));
        let failure = failed.status.failure.expect("failure");
        assert_eq!(failure.code, Some(-9082));
        assert!(failure.message.contains("backup device out of space"));
    }

    #[test]
    fn an_unreachable_cluster_keeps_the_phase() {
        let mut task = task();
        task.status = Some(
            decide_at(
                &task,
                &seen("DOING", vec![job("uid-1", "DOING")], at(5)),
                at(5),
            )
            .status,
        );
        let gone = Observation::Unreachable {
            reason: "connection refused".into(),
            since: at(6),
        };
        let decision = decide_at(&task, &gone, at(7));
        assert_eq!(decision.status.phase, Some(BackupTaskPhase::InProgress));
        assert_eq!(decision.step, Step::Wait);
        let reachable = decision
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == CLUSTER_REACHABLE)
            .expect("condition");
        assert_eq!(reachable.status, "False");
    }

    #[test]
    fn cancel_before_submission_ends_at_once_and_after_sends_cancel() {
        let mut task = task();
        task.spec.cancel = true;
        let early = decide_at(&task, &seen("DOING", vec![], at(1)), at(1));
        assert_eq!(
            (early.status.phase, early.step),
            (Some(BackupTaskPhase::Canceled), Step::Wait)
        );
        let running = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "DOING")], at(1)),
            at(1),
        );
        assert_eq!(running.step, Step::Cancel);
        let canceling = decide_at(
            &task,
            &seen("DOING", vec![job("uid-1", "CANCELING")], at(1)),
            at(1),
        );
        assert_eq!(canceling.step, Step::Wait, "CANCEL BACKUP is sent once");
    }

    #[test]
    fn a_job_without_progress_is_flagged_not_failed_and_the_status_is_stable() {
        let mut task = task();
        let observation = seen("DOING", vec![job("uid-1", "DOING")], at(5));
        task.status = Some(decide_at(&task, &observation, at(5)).status);
        let same = decide_at(&task, &observation, at(60));
        assert_eq!(
            Some(same.status.clone()),
            task.status,
            "nothing changed, nothing to write"
        );
        let stuck = decide_at(&task, &observation, at(5 + 31 * 60));
        let progressing = stuck
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == PROGRESSING)
            .expect("condition");
        assert_eq!(
            (progressing.status.as_str(), progressing.reason.as_str()),
            ("False", "NoProgress")
        );
        assert_eq!(stuck.status.phase, Some(BackupTaskPhase::InProgress));
    }

    #[test]
    fn refusals_that_pass_keep_the_task_pending_and_others_fail_it() {
        let task = task();
        let pending = BackupTaskStatus {
            phase: Some(BackupTaskPhase::Pending),
            submitted_at: Some(Time(at(1))),
            ..BackupTaskStatus::default()
        };
        let busy = after_submit(
            &task,
            pending.clone(),
            Err(ObError::Server {
                code: 9036,
                message: "Backup is in progress".into(),
            }),
            at(2),
        );
        assert_eq!(
            (busy.phase, busy.submitted_at.clone()),
            (Some(BackupTaskPhase::Pending), None)
        );
        let unknown = after_submit(
            &task,
            pending.clone(),
            Err(ObError::Unreachable("reset".into())),
            at(2),
        );
        assert!(
            unknown.submitted_at.is_some(),
            "the lookup by description decides later"
        );
        let refused = after_submit(
            &task,
            pending,
            Err(ObError::Server {
                code: 1235,
                message: "x not supported".into(),
            }),
            at(2),
        );
        assert_eq!(refused.phase, Some(BackupTaskPhase::Failed));
        assert_eq!(refused.failure.and_then(|f| f.code), Some(1235));
    }
}
