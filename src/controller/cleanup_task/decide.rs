//! What a CleanupTask should look like and do next, as a pure function of its spec, its status, the
//! last observation of its cluster and the time (docs/contributing/design.md §2.5,
//! docs/reference/oceanbase-interface.md §5 and §10).
//!
//! A mirror (`spec.jobId` set by the strategy) only follows OceanBase's job. A requested cleanup records its
//! intent (`submittedAt`) before sending `DELETE …`, then finds its job: the delete statements take no
//! `DESCRIPTION`, so the job is the tenant's first one of the right `TYPE`, sent from sys, started after the
//! intent (for set and piece deletes also carrying the first id as `PARAMETER`). OceanBase runs one delete
//! job per tenant at a time, so nothing else can match. A job still missing well after the intent means the
//! statement never created one, and it is sent again.

use crate::reason::Reason;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::controller::submit::{Submitted, job_failure, submitted};
use crate::timing::Clock;
use crate::{
    api::{
        CleanupTask, CleanupTaskPhase, CleanupTaskStatus,
        cleanup_task::CleanupTarget,
        common::{Failure, TaskSource},
    },
    controller::{
        conditions::{Health, api_time},
        error::Problem,
        reading::{self, Reading},
    },
    observer::{Interest, Observation},
    oceanbase::{CleanJobRow, JobStatus, ObError, Snapshot, TenantRow, codes, sql::DeleteTarget},
};

/// Manual deletes exist from this version on (docs/reference/oceanbase-interface.md §5.2).
pub const MANUAL_CLEAN_VERSION: [u32; 4] = [4, 4, 1, 0];

/// What the reconcile must do after writing the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: wait for OceanBase or for a change.
    Wait,
    /// Record the intent, then send `DELETE …`.
    Submit,
    /// Send `CANCEL DELETE BACKUP` for the tenant.
    Cancel,
}

/// The outcome of [`decide`].
pub type Decision = crate::controller::task::Decision<CleanupTaskStatus, Step>;

/// What the decision reads.
pub struct Inputs<'a> {
    pub cleanup: &'a CleanupTask,
    pub cluster_name: &'a str,
    pub observation: &'a Observation,
    pub clock: Clock,
}

/// The delete statement's target for a spec's `target`.
pub fn delete_target(target: &CleanupTarget) -> DeleteTarget {
    match (&target.backup_set_ids, &target.archivelog_piece_ids) {
        (Some(ids), _) => DeleteTarget::BackupSets(ids.clone()),
        (None, Some(ids)) => DeleteTarget::ArchivelogPieces(ids.clone()),
        (None, None) => DeleteTarget::Obsolete,
    }
}

/// Decides the cleanup's status and next step: the facts of the observation, then the cleanup's stage —
/// ended, following its job, or on its way to one.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let Inputs {
        cleanup,
        cluster_name,
        observation,
        ..
    } = *inputs;
    let spec = &cleanup.spec;
    let previous = cleanup.status.clone().unwrap_or_default();
    let source = previous.source.or(Some(source_of(cleanup)));
    if previous.phase.is_some_and(CleanupTaskPhase::is_terminal) {
        let status = CleanupTaskStatus {
            observed_generation: cleanup.metadata.generation,
            source,
            ..previous
        };
        return Decision::new(status, Step::Wait, None);
    }
    let base = CleanupTaskStatus {
        phase: previous.phase.or(Some(CleanupTaskPhase::Pending)),
        observed_generation: cleanup.metadata.generation,
        cluster_name: Some(cluster_name.to_string()),
        job_id: previous.job_id.or(spec.job_id),
        source,
        ..previous
    };
    let seen = match reading::read(
        observation,
        cluster_name,
        &spec.tenant,
        cleanup.metadata.generation,
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
            extra: Some(vec![reachable]),
        },
        Reading::Blocked {
            health,
            extra,
            active,
        } => {
            return Decision::new(base, Step::Wait, interest(cleanup, active))
                .health(health, extra);
        }
    };
    match listed_job(&base, &seen, &spec.target) {
        Some(job) => follow_job(cleanup, base, job, seen.extra),
        None => before_job(inputs, base, &seen),
    }
}

/// The cleanup's job as OceanBase lists it: a mirror's by its id, a requested one's by its submission.
fn listed_job<'a>(
    base: &CleanupTaskStatus,
    seen: &Seen<'a>,
    target: &CleanupTarget,
) -> Option<&'a CleanJobRow> {
    match base.job_id {
        Some(id) => seen.snapshot.clean_job(seen.tenant.id, id),
        None => base.submitted_at.as_ref().and_then(|t| {
            let after = base.after_job_id.unwrap_or(0);
            find_submitted(seen.snapshot, seen.tenant.id, target, t.0, after)
        }),
    }
}

/// What the cleanup watches in the observer: its tenant's delete jobs.
fn interest(cleanup: &CleanupTask, active: bool) -> Option<Interest> {
    Some(Interest {
        tenant: cleanup.spec.tenant.clone(),
        description: None,
        active,
        restore: false,
        since: None,
        overview: Vec::new(),
        external: false,
        lag_alert: None,
    })
}

/// What an observation of the cleanup's cluster says: the snapshot read at `at`, the cleanup's tenant in it,
/// and the conditions beside the health (`ClusterReachable=True`).
struct Seen<'a> {
    snapshot: &'a Snapshot,
    at: Timestamp,
    tenant: &'a TenantRow,
    extra: Option<Vec<Condition>>,
}

/// A cleanup whose job OceanBase does not list: a mirror whose job is gone, a submission still on its way,
/// canceled before it went, or what a submission waits for.
fn before_job(inputs: &Inputs<'_>, base: CleanupTaskStatus, seen: &Seen<'_>) -> Decision {
    let (cleanup, tenant) = (inputs.cleanup, seen.tenant);
    let wait = |status: CleanupTaskStatus, health: Health, step: Step, active: bool| {
        Decision::new(status, step, interest(cleanup, active)).health(health, seen.extra.clone())
    };
    if let Some(id) = base.job_id {
        let health = Health::Stalled {
            reason: Reason::JobNotFound,
            message: format!(
                "OceanBase lists no delete job {id} of tenant {} (finished jobs are remembered for a day)",
                tenant.name
            ),
        };
        return wait(base, health, Step::Wait, false);
    }
    if let Some(submitted) = base.submitted_at.as_ref().map(|t| t.0)
        && inputs.clock.in_flight(submitted, seen.at)
    {
        let health = Health::Progressing {
            reason: Reason::Submitted,
            message: "submitted; waiting for OceanBase to list the delete job".into(),
        };
        return wait(base, health, Step::Wait, true);
    }
    let base = CleanupTaskStatus {
        submitted_at: None,
        ..base
    };
    if cleanup.spec.cancel {
        let status = CleanupTaskStatus {
            phase: Some(CleanupTaskPhase::Canceled),
            ended_at: Some(api_time(inputs.clock.now)),
            ..base
        };
        let health = Health::Ready {
            reason: Reason::Canceled,
            message: "canceled before a delete job was started".into(),
        };
        return Decision::new(status, Step::Wait, None).health(health, seen.extra.clone());
    }
    towards_submission(inputs, base, seen)
}

/// A cleanup that may be submitted: failed at once on a version without manual deletes, waiting for another
/// delete job, or submitting (after the newest job known now).
fn towards_submission(inputs: &Inputs<'_>, base: CleanupTaskStatus, seen: &Seen<'_>) -> Decision {
    let (snapshot, tenant) = (seen.snapshot, seen.tenant);
    if !snapshot.version_at_least(MANUAL_CLEAN_VERSION) {
        let version = if snapshot.version.is_empty() {
            "an unknown version"
        } else {
            &snapshot.version
        };
        let message = format!(
            "deleting backups on request needs OceanBase 4.4.1 or later and cluster {} runs {version}; \
             older versions only clean up through the delete policy (the strategy's retention.recoveryWindow)",
            inputs.cluster_name
        );
        let failure = Failure {
            code: None,
            message,
        };
        return failed(base, failure, seen.extra.clone(), inputs.clock.now);
    }
    let (health, step, status) = match snapshot
        .clean_jobs_of(tenant.id)
        .find(|j| !j.status.is_final())
    {
        Some(other) => {
            let health = Health::Progressing {
                reason: Reason::AnotherCleanupRunning,
                message: format!(
                    "delete job {} of tenant {} is {}; OceanBase runs one delete job per tenant at a time",
                    other.job_id, tenant.name, other.status
                ),
            };
            (health, Step::Wait, base)
        }
        None => {
            let health = Health::Progressing {
                reason: Reason::Submitting,
                message: "submitting the delete job".into(),
            };
            let newest = snapshot.clean_jobs_of(tenant.id).map(|j| j.job_id).max();
            let status = CleanupTaskStatus {
                after_job_id: Some(newest.unwrap_or(0)),
                ..base
            };
            (health, Step::Submit, status)
        }
    };
    Decision::new(status, step, interest(inputs.cleanup, true)).health(health, seen.extra.clone())
}

/// The job a requested cleanup started: the tenant's first delete job after the newest one known when it
/// was submitted, of the target's type, sent from sys, started after the intent (allowing for clock skew),
/// with the first id as parameter for set and piece deletes.
fn find_submitted<'a>(
    snapshot: &'a Snapshot,
    tenant_id: i64,
    target: &CleanupTarget,
    submitted: Timestamp,
    after_job_id: i64,
) -> Option<&'a CleanJobRow> {
    let target = delete_target(target);
    let first_id = match &target {
        DeleteTarget::Obsolete => None,
        DeleteTarget::BackupSets(ids) | DeleteTarget::ArchivelogPieces(ids) => ids.first().copied(),
    };
    snapshot.clean_jobs_of(tenant_id).find(|j| {
        j.job_id > after_job_id
            && j.initiator_tenant_id != j.tenant_id
            && j.kind == target.job_type()
            && j.start
                .is_some_and(|s| s >= submitted - crate::timing::CLOCK_SKEW)
            && first_id.is_none_or(|id| j.parameter == id)
    })
}

/// A cleanup a strategy created (a mirror of a policy job) is `External`, any other `Manual`.
pub fn source_of(cleanup: &CleanupTask) -> TaskSource {
    if cleanup.spec.job_id.is_some() {
        TaskSource::External
    } else {
        TaskSource::Manual
    }
}

/// The status of a cleanup that cannot go on: Stalled with the reason, phase kept.
pub fn stalled(
    cleanup: &CleanupTask,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> CleanupTaskStatus {
    let previous = cleanup.status.clone().unwrap_or_default();
    let (conditions, message) = crate::controller::summarize(
        &previous.conditions,
        cleanup.metadata.generation,
        problems,
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting to be started in OceanBase".into(),
        },
        now,
    );
    CleanupTaskStatus {
        phase: Some(previous.phase.unwrap_or(CleanupTaskPhase::Pending)),
        conditions,
        observed_generation: cleanup.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        source: previous.source.or(Some(source_of(cleanup))),
        job_id: previous.job_id.or(cleanup.spec.job_id),
        ..previous
    }
}

/// The status of a cleanup whose job OceanBase lists.
fn follow_job(
    cleanup: &CleanupTask,
    base: CleanupTaskStatus,
    job: &CleanJobRow,
    extra: Option<Vec<Condition>>,
) -> Decision {
    let phase = crate::controller::reading::cleanup_task_phase(&job.status);
    let failure = (phase == CleanupTaskPhase::Failed)
        .then(|| job_failure("delete job", job.job_id, job.result, &job.comment));
    let health = job_health(phase, job, failure.as_ref());
    let running = !phase.is_terminal();
    let status = CleanupTaskStatus {
        phase: Some(phase),
        job_id: Some(job.job_id),
        submitted_at: None,
        started_at: job.start.map(api_time),
        ended_at: job.end.map(api_time),
        task_count: Some(job.task_count),
        succeeded_task_count: Some(job.success_task_count),
        failure,
        ..base
    };
    // A mirror is never acted upon (its cancel is refused at admission, and ignored here).
    let cancel = cleanup.spec.cancel
        && cleanup.spec.job_id.is_none()
        && !job.status.is_final()
        && job.status != JobStatus::Canceling;
    let step = if cancel { Step::Cancel } else { Step::Wait };
    let interest = if running {
        interest(cleanup, true)
    } else {
        None
    };
    Decision::new(status, step, interest).health(health, extra)
}

/// The health a delete job's phase gives its cleanup.
fn job_health(phase: CleanupTaskPhase, job: &CleanJobRow, failure: Option<&Failure>) -> Health {
    match phase {
        CleanupTaskPhase::Completed => Health::Ready {
            reason: Reason::Completed,
            message: format!(
                "delete job {} deleted {} of {} backup sets and pieces",
                job.job_id, job.success_task_count, job.task_count
            ),
        },
        CleanupTaskPhase::Canceled => Health::Ready {
            reason: Reason::Canceled,
            message: format!("delete job {} was canceled", job.job_id),
        },
        CleanupTaskPhase::Failed => Health::Stalled {
            reason: Reason::CleanupFailed,
            message: failure.map(|f| f.message.clone()).unwrap_or_default(),
        },
        _ => Health::Progressing {
            reason: Reason::InProgress,
            message: format!("delete job {} is {}", job.job_id, job.status),
        },
    }
}

fn failed(
    base: CleanupTaskStatus,
    failure: Failure,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> Decision {
    let health = Health::Stalled {
        reason: Reason::CleanupFailed,
        message: failure.message.clone(),
    };
    let status = CleanupTaskStatus {
        phase: Some(CleanupTaskPhase::Failed),
        submitted_at: None,
        ended_at: Some(api_time(now)),
        failure: Some(failure),
        ..base
    };
    Decision::new(status, Step::Wait, None).health(health, extra)
}

/// The status after the `DELETE` statement: submitted; refused because another delete runs (stays Pending,
/// tried again later); refused for good (Failed with OceanBase's code and message); or unknown (the cluster
/// did not answer: the intent stays and the lookup decides later).
pub fn after_submit(
    cleanup: &CleanupTask,
    status: CleanupTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> CleanupTaskStatus {
    let (health, status) = match submitted(outcome, "delete job", codes::DELETE_REFUSED_FOR_NOW) {
        Submitted::Waiting(health) => (health, status),
        Submitted::RefusedForNow(health) | Submitted::Invalid(health) => (
            health,
            CleanupTaskStatus {
                submitted_at: None,
                ..status
            },
        ),
        Submitted::Refused(mut failure) => {
            if failure.code == Some(i64::from(codes::NOT_SUPPORTED)) {
                failure
                    .message
                    .push_str(" (docs/reference/oceanbase-interface.md §5.2: manual deletes need OceanBase 4.4.1 or later)");
            }
            return failed(status, failure, None, now)
                .settled(cleanup.metadata.generation, now)
                .status;
        }
    };
    with_health(status, cleanup, &health, None, now)
}

/// The status with `health` as its Ready/Reconciling/Stalled conditions and message.
pub fn with_health(
    status: CleanupTaskStatus,
    cleanup: &CleanupTask,
    health: &Health,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> CleanupTaskStatus {
    crate::controller::status::with_health(status, cleanup.metadata.generation, health, extra, now)
}

#[cfg(test)]
mod tests {
    use crate::oceanbase::State;
    use std::sync::Arc;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn decide(
        cleanup: &CleanupTask,
        cluster_name: &str,
        observation: &Observation,
        clock: Clock,
    ) -> Decision {
        super::decide(&Inputs {
            cleanup,
            cluster_name,
            observation,
            clock,
        })
        .settled(cleanup.metadata.generation, clock.now)
    }
    use crate::{
        api::{CleanupTaskSpec, common::StrategyReference},
        oceanbase::fake,
    };

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("time")
    }

    fn cleanup(target: CleanupTarget, job_id: Option<i64>) -> CleanupTask {
        let mut cleanup = CleanupTask::new(
            "c",
            CleanupTaskSpec {
                strategy_ref: Some(StrategyReference {
                    name: "demo".into(),
                }),
                cluster: None,
                tenant: "tenant1".into(),
                target,
                job_id,
                cancel: false,
            },
        );
        cleanup.metadata.generation = Some(1);
        cleanup
    }

    fn sets(ids: &[i64]) -> CleanupTarget {
        CleanupTarget {
            obsolete: None,
            backup_set_ids: Some(ids.to_vec()),
            archivelog_piece_ids: None,
        }
    }

    fn job(job_id: i64, initiator: i64, parameter: i64, status: &str, start: i64) -> CleanJobRow {
        CleanJobRow {
            tenant_id: 1002,
            job_id,
            initiator_tenant_id: initiator,
            kind: State::of("DELETE BACKUPSET"),
            parameter,
            status: State::of(status),
            task_count: 2,
            success_task_count: i64::from(status == "COMPLETED") * 2,
            result: if status == "FAILED" { -9045 } else { 0 },
            comment: String::new(),
            start: Some(at(start)),
            end: JobStatus::of(status).is_final().then(|| at(start + 4)),
        }
    }

    fn seen(version: &str, jobs: Vec<CleanJobRow>, read_at: i64) -> Observation {
        let snapshot = fake::snapshot()
            .version(version)
            .tenant(fake::tenant(1002, "tenant1"))
            .clean_jobs(jobs)
            .build();
        Observation::Seen {
            snapshot: Arc::new(snapshot),
            at: at(read_at),
        }
    }

    #[test]
    fn a_requested_delete_fails_at_once_before_4_4_1() {
        let decision = decide(
            &cleanup(sets(&[3]), None),
            "ob",
            &seen("4.3.5.0", vec![], 100),
            Clock::at(at(100)),
        );
        assert_eq!(decision.step, Step::Wait);
        assert_eq!(decision.status.phase, Some(CleanupTaskPhase::Failed));
        let failure = decision.status.failure.expect("failure");
        assert!(failure.message.contains("4.4.1"), "{}", failure.message);
        assert!(failure.message.contains("4.3.5.0"), "{}", failure.message);
        assert!(decision.interest.is_none());
    }

    #[test]
    fn a_requested_delete_waits_for_a_running_one_then_submits() {
        let task = cleanup(sets(&[3]), None);
        let busy = decide(
            &task,
            "ob",
            &seen("4.4.1.0", vec![job(7, 1002, 0, "DOING", 50)], 100),
            Clock::at(at(100)),
        );
        assert_eq!(busy.step, Step::Wait);
        assert_eq!(busy.status.phase, Some(CleanupTaskPhase::Pending));
        assert!(
            busy.status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("one delete job per tenant"))
        );
        let free = decide(
            &task,
            "ob",
            &seen("4.4.1.0", vec![job(7, 1002, 0, "COMPLETED", 50)], 100),
            Clock::at(at(100)),
        );
        assert_eq!(free.step, Step::Submit);
        assert_eq!(
            free.status.after_job_id,
            Some(7),
            "the newest job it must come after"
        );
    }

    #[test]
    fn a_submitted_delete_finds_its_job_or_is_sent_again_after_the_grace() {
        let mut task = cleanup(sets(&[3, 4]), None);
        task.status = Some(CleanupTaskStatus {
            phase: Some(CleanupTaskPhase::Pending),
            submitted_at: Some(Time(at(1_000))),
            after_job_id: Some(2),
            ..CleanupTaskStatus::default()
        });
        // Not listed yet, shortly after the intent: wait.
        let early = decide(
            &task,
            "ob",
            &seen("4.4.1.0", vec![], 1_010),
            Clock::at(at(1_010)),
        );
        assert_eq!(early.step, Step::Wait);
        // Jobs that are not ours: known when it was submitted, another first id, a policy job.
        let others = vec![
            job(1, 1, 3, "COMPLETED", 100),
            job(2, 1, 3, "COMPLETED", 999),
            job(3, 1, 5, "COMPLETED", 1_001),
            job(4, 1002, 3, "COMPLETED", 1_001),
        ];
        let late = decide(
            &task,
            "ob",
            &seen("4.4.1.0", others.clone(), 1_100),
            Clock::at(at(1_100)),
        );
        assert_eq!(late.step, Step::Submit);
        assert_eq!(late.status.submitted_at, None);
        // Ours: sent from sys, first id 3, after the intent.
        let mut jobs = others;
        jobs.push(job(5, 1, 3, "DOING", 1_001));
        let found = decide(
            &task,
            "ob",
            &seen("4.4.1.0", jobs, 1_020),
            Clock::at(at(1_020)),
        );
        assert_eq!(found.step, Step::Wait);
        assert_eq!(found.status.phase, Some(CleanupTaskPhase::Executing));
        assert_eq!(found.status.job_id, Some(5));
        assert_eq!(found.status.submitted_at, None);
    }

    #[test]
    fn a_mirror_follows_its_job_to_the_end_and_never_cancels_it() {
        let obsolete = CleanupTarget {
            obsolete: Some(true),
            backup_set_ids: None,
            archivelog_piece_ids: None,
        };
        let mut task = cleanup(obsolete, Some(9));
        let running = decide(
            &task,
            "ob",
            &seen("4.2.1.0", vec![job(9, 1002, 0, "DOING", 10)], 20),
            Clock::at(at(20)),
        );
        assert_eq!(running.status.phase, Some(CleanupTaskPhase::Executing));
        assert_eq!(running.step, Step::Wait);
        task.spec.cancel = true;
        let cancel = decide(
            &task,
            "ob",
            &seen("4.2.1.0", vec![job(9, 1002, 0, "DOING", 10)], 20),
            Clock::at(at(20)),
        );
        assert_eq!(cancel.step, Step::Wait, "a mirror is never acted upon");
        task.spec.cancel = false;
        let done = decide(
            &task,
            "ob",
            &seen("4.2.1.0", vec![job(9, 1002, 0, "COMPLETED", 10)], 30),
            Clock::at(at(30)),
        );
        assert_eq!(done.status.phase, Some(CleanupTaskPhase::Completed));
        assert_eq!(done.status.succeeded_task_count, Some(2));
        assert_eq!(done.status.ended_at, Some(Time(at(14))));
        assert!(done.interest.is_none());
        let failed = decide(
            &task,
            "ob",
            &seen("4.2.1.0", vec![job(9, 1002, 0, "FAILED", 10)], 30),
            Clock::at(at(30)),
        );
        assert_eq!(failed.status.phase, Some(CleanupTaskPhase::Failed));
        assert_eq!(failed.status.failure.and_then(|f| f.code), Some(-9045));
    }

    #[test]
    fn refusals_after_submit_fail_or_wait() {
        let task = cleanup(sets(&[3]), None);
        let intent = CleanupTaskStatus {
            phase: Some(CleanupTaskPhase::Pending),
            submitted_at: Some(Time(at(1))),
            ..CleanupTaskStatus::default()
        };
        let busy = after_submit(
            &task,
            intent.clone(),
            Err(ObError::Server {
                code: 9044,
                message: "delete backup data is in progress".into(),
            }),
            at(2),
        );
        assert_eq!(busy.phase, Some(CleanupTaskPhase::Pending));
        assert_eq!(busy.submitted_at, None);
        let refused = after_submit(
            &task,
            intent.clone(),
            Err(ObError::Server {
                code: 9045,
                message: "delete backup set do not allow".into(),
            }),
            at(2),
        );
        assert_eq!(refused.phase, Some(CleanupTaskPhase::Failed));
        assert_eq!(refused.failure.and_then(|f| f.code), Some(9045));
        let unknown = after_submit(
            &task,
            intent,
            Err(ObError::Unreachable("reset".into())),
            at(2),
        );
        assert_eq!(unknown.phase, Some(CleanupTaskPhase::Pending));
        assert_eq!(unknown.submitted_at, Some(Time(at(1))));
    }
}
