//! What a RecoveryTask should look like and do next, as a pure function of its spec, its status,
//! the check of its recovery point, the last observation of the target cluster and the time
//! (docs/contributing/design.md §2.6, docs/reference/oceanbase-interface.md §6 and §10).
//!
//! Exactly once: each attempt's RESTORE carries `DESCRIPTION = '<uid>-<retry>'`, the intent is recorded
//! before the statement is sent, and the job is found by that description (progress, then history). A
//! task whose job OceanBase does not list is submitted again only once a snapshot read well after the
//! intent still shows none. Nothing is sent before the pre-flight passes: the target reachable, the tenant
//! name free, the point inside a recoverable window (or said to be unverifiable).
//!
//! The stages: what every stage reads and gives ([`facts`]), a task without a listed restore
//! ([`preflight`]), one whose restore OceanBase lists ([`follow`]); here the decision that picks the stage,
//! and the statuses after the statements.

pub mod drill;
mod facts;
pub mod follow;
mod mirror;
mod preflight;

use crate::reason::Reason;
use jiff::Timestamp;

use crate::controller::submit::{Submitted, submitted};
use crate::{
    api::{RecoveryTask, RecoveryTaskPhase, RecoveryTaskStatus, recovery_task::RestoreSource},
    controller::{
        conditions::{Health, api_time},
        error::Problem,
        reading::{self, ClusterReading},
    },
    oceanbase::{ObError, codes},
};
use facts::interest;
pub use facts::{Decision, Inputs, RECOVERY_POINT_VERIFIED, Step, description, with_health};

/// Decides the task's status and next step: the attempt, then the task's stage — ended, blocked on its
/// cluster, following its restore, or before one.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let task = inputs.task;
    let base = attempt(inputs);
    if let Some(phase) = base.phase.filter(|p| p.is_terminal()) {
        let release = phase != RecoveryTaskPhase::Completed && base.resource_pool.is_some();
        return Decision::new(base, if release { Step::Release } else { Step::Wait }, None);
    }
    let target = inputs.target_cluster;
    let named = format!("target cluster {target}");
    let generation = task.metadata.generation;
    let seen = match reading::cluster(inputs.observation, target, &named, generation) {
        ClusterReading::Seen(seen) => seen,
        ClusterReading::Blocked(health, extra) => {
            return facts::wait(base, health, extra, interest(task, true));
        }
    };
    if let Some(job_id) = task.spec.job_id {
        return mirror::follow(inputs, base, seen.snapshot, job_id, seen.reachable);
    }
    if let Some(stage) = drill::stage(inputs, &base, &seen) {
        return stage;
    }
    let restore = match seen.snapshot.restore_by_description(&description(task)) {
        Some(job) => follow::follow(inputs, base, seen.snapshot, job, seen.reachable),
        None => preflight::before_restore(inputs, base, &seen),
    };
    drill::after_restore(inputs, restore)
}

/// The status of the current attempt: the previous one's, unless a retry (a higher `spec.retry` after a
/// failure) starts a new attempt, which keeps only the conditions, the source cluster and the pool.
fn attempt(inputs: &Inputs<'_>) -> RecoveryTaskStatus {
    let task = inputs.task;
    let spec = &task.spec;
    let mut previous = task.status.clone().unwrap_or_default();
    let retried = previous.phase == Some(RecoveryTaskPhase::Failed)
        && previous.observed_retry.unwrap_or(0) < spec.retry;
    if retried {
        // A new attempt: the failed one's job, times and failure are history.
        previous = RecoveryTaskStatus {
            conditions: previous.conditions,
            source_cluster_name: previous.source_cluster_name,
            // Still held if its release failed: the new attempt reuses it (created IF NOT EXISTS).
            resource_pool: previous.resource_pool,
            ..RecoveryTaskStatus::default()
        };
    }
    let source = if spec.job_id.is_some() {
        RestoreSource::External
    } else if spec.drill.is_some() {
        RestoreSource::Drill
    } else {
        RestoreSource::Manual
    };
    RecoveryTaskStatus {
        phase: previous.phase.or(Some(RecoveryTaskPhase::Pending)),
        source: Some(source),
        observed_generation: task.metadata.generation,
        observed_retry: Some(spec.retry),
        source_cluster_name: inputs.source_cluster.map(str::to_string),
        method: Some(crate::api::backup_strategy::BackupMethod::Physical),
        storage_directory: inputs
            .storage_directory
            .map(crate::oceanbase::strip_keys)
            .or(previous.storage_directory.clone()),
        ..previous
    }
}

/// The status after the RESTORE batch: submitted; refused because another restore of that name runs
/// (stays Pending, tried again later); refused for good (Failed with OceanBase's code and message, and what
/// the task created released); or unknown (the cluster did not answer: the intent stays and the lookup by
/// description decides later).
pub fn after_submit(
    task: &RecoveryTask,
    status: RecoveryTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> (RecoveryTaskStatus, Step) {
    let (health, status, step) = match submitted(outcome, "restore", codes::RESTORE_REFUSED_FOR_NOW)
    {
        Submitted::Waiting(health) => (health, status, Step::Wait),
        Submitted::RefusedForNow(health) | Submitted::Invalid(health) => (
            health,
            RecoveryTaskStatus {
                submitted_at: None,
                ..status
            },
            Step::Wait,
        ),
        Submitted::Refused(failure) => {
            let health = Health::Stalled {
                reason: Reason::RestoreRefused,
                message: format!(
                    "OceanBase refused the restore ({}): {}; increase spec.retry to try again",
                    failure.code.unwrap_or_default(),
                    failure.message
                ),
            };
            let status = RecoveryTaskStatus {
                phase: Some(RecoveryTaskPhase::Failed),
                submitted_at: None,
                ended_at: Some(api_time(now)),
                failure: Some(failure),
                ..status
            };
            let step = if status.resource_pool.is_some() {
                Step::Release
            } else {
                Step::Wait
            };
            (health, status, step)
        }
    };
    (with_health(status, task, &health, None, now), step)
}

/// The status after a step's statements, and a step that must follow at once: a refused RESTORE releases
/// what the task created; a released pool is forgotten; a cancel or an activation changes nothing until
/// OceanBase is read again.
pub fn after_step(
    task: &RecoveryTask,
    step: Step,
    sent: RecoveryTaskStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> (RecoveryTaskStatus, Option<Step>) {
    match (step, outcome) {
        (Step::Submit, outcome) => {
            let (status, next) = after_submit(task, sent, outcome, now);
            if task.spec.drill.is_some() && status.phase == Some(RecoveryTaskPhase::Failed) {
                // A drill refused by OceanBase fails as a drill, and drops what it made: no retry.
                return (drill::refused(task, status, now), Some(Step::Drop));
            }
            (status, (next == Step::Release).then_some(Step::Release))
        }
        (Step::Release, Ok(())) => (
            RecoveryTaskStatus {
                resource_pool: None,
                ..sent
            },
            None,
        ),
        (Step::Drop, Ok(())) => {
            let status = drill::dropped(sent, now);
            let health = drill::ended_health(&status);
            (with_health(status, task, &health, None, now), None)
        }
        _ => (sent, None),
    }
}

/// The status of a restore that cannot go on: Stalled with the reason, phase kept.
pub fn stalled(
    task: &RecoveryTask,
    source_cluster: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> RecoveryTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let (conditions, message) = crate::controller::summarize(
        &previous.conditions,
        task.metadata.generation,
        problems,
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting for the pre-flight checks against OceanBase".into(),
        },
        now,
    );
    RecoveryTaskStatus {
        phase: Some(previous.phase.unwrap_or(RecoveryTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        source_cluster_name: source_cluster.or(previous.source_cluster_name),
        observed_retry: previous.observed_retry.or(Some(task.spec.retry)),
        ..previous
    }
}

#[cfg(test)]
mod drill_tests;

#[cfg(test)]
mod tests {
    use crate::oceanbase::State;
    use std::sync::Arc;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::{
        api::RecoveryTaskSpec,
        oceanbase::{RestoreJobRow, Snapshot, TenantRow, fake},
    };
    use crate::{
        observer::Observation, timing::Clock, timing::POINT_RECHECK, windows::point::PointCheck,
    };

    pub(super) fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    pub(super) fn task(activate: bool) -> RecoveryTask {
        let spec: RecoveryTaskSpec = serde_norway::from_str(&format!(
            "source: {{strategyRef: {{name: demo}}, tenant: tenant1}}\n\
             target:\n  cluster: {{name: ob, connectionSecret: ob}}\n  tenant: r1\n  \
             resources: {{unit: {{maxCpu: 2, memorySize: 4G}}, zones: [zone1]}}\n\
             until: {{latest: true}}\nactivate: {activate}\n"
        ))
        .expect("spec");
        let mut task = RecoveryTask::new("r", spec);
        task.metadata.uid = Some("uid".into());
        task.metadata.generation = Some(1);
        task
    }

    pub(super) fn restore(status: &str, finished: bool, comment: &str) -> RestoreJobRow {
        RestoreJobRow {
            job_id: 3,
            tenant_name: "r1".into(),
            backup_tenant_name: "tenant1".into(),
            backup_cluster_name: "obcluster".into(),
            status: State::of(status),
            restore_scn: 1_800_000_000_000_000_000,
            start: Some(at(0)),
            finish: finished.then(|| at(30)),
            total_bytes: 100,
            finish_bytes: 40,
            description: "uid-0".into(),
            comment: comment.into(),
            finished,
        }
    }

    pub(super) fn seen(restores: Vec<RestoreJobRow>, role: Option<&str>) -> Observation {
        let mut snapshot = fake::snapshot()
            .restores(restores)
            .searched("uid-0")
            .restores_read();
        if let Some(role) = role {
            snapshot = snapshot.tenant(TenantRow {
                role: State::of(role),
                archivelog: false,
                ..fake::tenant(1010, "r1")
            });
        }
        Observation::Seen {
            snapshot: Arc::new(snapshot.build()),
            at: at(100),
        }
    }

    pub(super) fn run(
        task: &RecoveryTask,
        point: PointCheck,
        observation: Observation,
    ) -> Decision {
        decide(&Inputs {
            task,
            target_cluster: "ob",
            point: &point,
            observation: &observation,
            own_pool: Some("obrt_r_pool"),
            source_cluster: Some("ob"),
            storage_directory: None,
            checks: None,
            clock: Clock::at(at(100)),
        })
        .settled(task.metadata.generation, at(100))
    }

    #[test]
    fn a_mirror_shows_its_restore_and_never_acts_on_it() {
        let mut mirror = task(true);
        mirror.spec.job_id = Some(3);
        let external = |status: &str, finished: bool| RestoreJobRow {
            description: "by hand".into(),
            ..restore(status, finished, "disk full")
        };
        let unverified = || PointCheck::Unverified("a mirror".into());
        let running = run(
            &mirror,
            unverified(),
            seen(vec![external("RESTORING", false)], None),
        );
        assert_eq!(running.status.phase, Some(RecoveryTaskPhase::InProgress));
        assert_eq!(running.status.source, Some(RestoreSource::External));
        assert_eq!(
            running.status.source_cluster_name.as_deref(),
            Some("obcluster")
        );
        // Restored as a standby with activate true: still never activated.
        let done = run(
            &mirror,
            unverified(),
            seen(vec![external("SUCCESS", true)], Some("STANDBY")),
        );
        assert_eq!(
            (done.status.phase, done.step),
            (Some(RecoveryTaskPhase::Completed), Step::Wait)
        );
        let failed = run(
            &mirror,
            unverified(),
            seen(vec![external("FAIL", true)], None),
        );
        assert_eq!(
            (failed.status.phase, failed.step),
            (Some(RecoveryTaskPhase::Failed), Step::Wait)
        );
        assert_eq!(
            failed.status.failure.map(|f| f.message).as_deref(),
            Some("disk full")
        );
        // Not listed any more: waits, saying so.
        let gone = run(&mirror, unverified(), seen(vec![], None));
        assert_eq!(gone.step, Step::Wait);
        assert!(
            gone.status
                .message
                .unwrap_or_default()
                .contains("not listed"),
            "the message says why"
        );
    }

    #[test]
    fn a_point_outside_every_window_fails_before_anything_is_sent() {
        let decision = run(
            &task(true),
            PointCheck::Outside("too early".into()),
            seen(vec![], None),
        );
        assert_eq!(decision.step, Step::Wait);
        assert_eq!(decision.status.phase, Some(RecoveryTaskPhase::Failed));
        assert_eq!(decision.status.resource_pool, None, "nothing was created");
    }

    #[test]
    fn pre_flight_then_submit_records_the_pool_it_creates() {
        let taken = run(
            &task(true),
            PointCheck::Inside("ok".into()),
            seen(vec![], Some("PRIMARY")),
        );
        assert_eq!(taken.step, Step::Wait);
        assert!(
            taken
                .status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("already has a tenant r1"))
        );
        let go = run(
            &task(true),
            PointCheck::Unverified("no strategy".into()),
            seen(vec![], None),
        );
        assert_eq!(go.step, Step::Submit);
        assert_eq!(go.status.resource_pool.as_deref(), Some("obrt_r_pool"));
        let verified = go
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == RECOVERY_POINT_VERIFIED)
            .expect("condition");
        assert_eq!(verified.status, "False");
        let later = run(
            &task(true),
            PointCheck::NotYet("wait".into()),
            seen(vec![], None),
        );
        assert_eq!(later.step, Step::Wait);
        assert_eq!(later.status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(
            later.recheck,
            Some(POINT_RECHECK),
            "archiving reaching the point changes no object: look again soon"
        );
        assert_eq!(later.status.source_cluster_name.as_deref(), Some("ob"));
    }

    #[test]
    fn a_read_that_did_not_look_for_the_restore_never_restores_again() {
        let mut task = task(true);
        task.status = Some(RecoveryTaskStatus {
            submitted_at: Some(Time(at(1))),
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        let Observation::Seen { snapshot, at } = seen(vec![], None) else {
            unreachable!("seen is a snapshot")
        };
        for blind in [
            Snapshot {
                restores_read: false,
                ..(*snapshot).clone()
            },
            Snapshot {
                searched: Default::default(),
                ..(*snapshot).clone()
            },
        ] {
            let observation = Observation::Seen {
                snapshot: Arc::new(blind),
                at,
            };
            let decision = run(&task, PointCheck::Inside("ok".into()), observation);
            assert_eq!(
                decision.step,
                Step::Wait,
                "long past the grace, still no RESTORE"
            );
            assert!(decision.status.submitted_at.is_some(), "the intent stays");
            assert!(decision.interest.as_ref().is_some_and(|i| i.restore));
        }
    }

    #[test]
    fn a_restore_with_a_recorded_job_missing_from_a_blind_read_is_neither_canceled_nor_started_again()
     {
        let mut task = task(true);
        task.spec.cancel = true;
        task.status = Some(RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::InProgress),
            job_id: Some(7),
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        let Observation::Seen { snapshot, at } = seen(vec![], Some("RESTORE")) else {
            unreachable!("seen is a snapshot")
        };
        let blind = Observation::Seen {
            snapshot: Arc::new(Snapshot {
                restores_read: false,
                ..(*snapshot).clone()
            }),
            at,
        };
        let decision = run(&task, PointCheck::Inside("ok".into()), blind);
        assert_eq!(decision.step, Step::Wait);
        assert_eq!(decision.status.phase, Some(RecoveryTaskPhase::InProgress));
        assert!(decision.interest.as_ref().is_some_and(|i| i.restore));
        // A read that looked and found nothing: Stalled, never a second RESTORE.
        task.spec.cancel = false;
        let looked = run(&task, PointCheck::Inside("ok".into()), seen(vec![], None));
        assert_eq!(looked.step, Step::Wait);
        assert_eq!(
            looked
                .status
                .conditions
                .iter()
                .find(|c| c.type_ == "Stalled")
                .map(|c| c.reason.as_str()),
            Some("RestoreNotFound")
        );
    }

    #[test]
    fn a_restore_is_followed_then_activated_then_completed() {
        let mut task = task(true);
        task.status = Some(RecoveryTaskStatus {
            submitted_at: Some(Time(at(1))),
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        let running = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(
                vec![restore("WAIT_TENANT_RESTORE_FINISH", false, "")],
                Some("RESTORE"),
            ),
        );
        assert_eq!(running.status.phase, Some(RecoveryTaskPhase::InProgress));
        assert_eq!(running.status.progress, Some(40));
        assert_eq!(running.status.job_id, Some(3));
        assert_eq!(running.status.submitted_at, None);
        let standby = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(vec![restore("SUCCESS", true, "")], Some("STANDBY")),
        );
        assert_eq!(standby.status.phase, Some(RecoveryTaskPhase::Activating));
        assert_eq!(standby.step, Step::Activate);
        let primary = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(vec![restore("SUCCESS", true, "")], Some("PRIMARY")),
        );
        assert_eq!(primary.status.phase, Some(RecoveryTaskPhase::Completed));
        assert_eq!(
            primary.status.resource_pool.as_deref(),
            Some("obrt_r_pool"),
            "kept: the tenant uses it"
        );
        assert!(primary.interest.is_none());
        let standby_only = run(
            &self::task(false),
            PointCheck::Inside("ok".into()),
            seen(vec![restore("SUCCESS", true, "")], Some("STANDBY")),
        );
        assert_eq!(
            standby_only.status.phase,
            Some(RecoveryTaskPhase::Completed)
        );
    }

    #[test]
    fn a_failed_restore_releases_its_pool_and_retry_starts_a_new_attempt() {
        let mut task = task(true);
        task.status = Some(RecoveryTaskStatus {
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        let failed = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(vec![restore("FAIL", true, "restore source broken")], None),
        );
        assert_eq!(failed.status.phase, Some(RecoveryTaskPhase::Failed));
        assert_eq!(failed.step, Step::Release);
        assert_eq!(
            failed.status.failure.as_ref().map(|f| f.message.as_str()),
            Some("restore source broken")
        );
        // Released; then the user bumps retry: a new attempt with a new description.
        task.status = Some(RecoveryTaskStatus {
            resource_pool: None,
            ..failed.status
        });
        task.spec.retry = 1;
        let again = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(vec![restore("FAIL", true, "old")], None),
        );
        assert_eq!(again.step, Step::Submit);
        assert_eq!(again.status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(again.status.failure, None);
        assert_eq!(again.status.observed_retry, Some(1));
        assert_eq!(description(&task), "uid-1");
        // A pool whose release failed is still tracked by the new attempt (and reused).
        task.status = Some(RecoveryTaskStatus {
            phase: Some(RecoveryTaskPhase::Failed),
            observed_retry: Some(1),
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        task.spec.retry = 2;
        let refused = run(
            &task,
            PointCheck::Outside("too early".into()),
            seen(vec![], None),
        );
        assert_eq!(refused.step, Step::Release, "the leftover pool is released");
    }

    #[test]
    fn cancel_sends_cancel_restore_and_ends_canceled() {
        let mut task = task(true);
        task.spec.cancel = true;
        task.status = Some(RecoveryTaskStatus {
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        });
        let running = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(
                vec![restore("WAIT_TENANT_RESTORE_FINISH", false, "")],
                Some("RESTORE"),
            ),
        );
        assert_eq!(running.step, Step::Cancel);
        let canceled = run(
            &task,
            PointCheck::Inside("ok".into()),
            seen(
                vec![restore("FAIL", true, "physical restore is canceled")],
                None,
            ),
        );
        assert_eq!(canceled.status.phase, Some(RecoveryTaskPhase::Canceled));
        assert_eq!(canceled.step, Step::Release);
        assert_eq!(canceled.status.failure, None);
    }

    #[test]
    fn refusals_fail_with_oceanbase_code_and_release() {
        let task = task(true);
        let intent = RecoveryTaskStatus {
            resource_pool: Some("obrt_r_pool".into()),
            submitted_at: Some(Time(at(1))),
            ..RecoveryTaskStatus::default()
        };
        let (status, step) = after_submit(
            &task,
            intent.clone(),
            Err(ObError::Server {
                code: 9047,
                message: "invalid password for backup".into(),
            }),
            at(2),
        );
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Failed));
        assert_eq!(status.failure.and_then(|f| f.code), Some(9047));
        assert_eq!(step, Step::Release);
        let (unknown, step) = after_submit(
            &task,
            intent,
            Err(ObError::Unreachable("reset".into())),
            at(2),
        );
        assert_eq!(unknown.submitted_at, Some(Time(at(1))));
        assert_eq!(step, Step::Wait);
    }
}
