//! A drill's stages, decided: checks after the restore, the verdict, the drop, keepFailed and the timeout.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::tests::{at, restore, run, seen, task};
use super::*;
use crate::{
    api::drill::{CheckResult, DrillRun, DrillVerdict},
    drill::checks::{CheckState, Outcome},
    timing::Clock,
    windows::point::PointCheck,
};

fn drill(keep_failed: bool) -> RecoveryTask {
    let mut task = task(true);
    task.spec.drill = Some(DrillRun {
        credentials_secret: "app".into(),
        checks: Vec::new(),
        freshness: None,
        timeout: "1h".into(),
        keep_failed,
    });
    task.metadata.creation_timestamp = Some(Time(at(0)));
    task
}

fn with(mut task: RecoveryTask, status: RecoveryTaskStatus) -> RecoveryTask {
    task.status = Some(status);
    task
}

fn checked(task: &RecoveryTask, state: &CheckState, now: i64) -> Decision {
    let observation = seen(Vec::new(), None);
    decide(&Inputs {
        task,
        target_cluster: "ob",
        point: &PointCheck::Inside("ok".into()),
        observation: &observation,
        own_pool: Some("obrt_r_pool"),
        source_cluster: Some("ob"),
        storage_directory: None,
        checks: Some(state),
        clock: Clock::at(at(now)),
    })
    .settled(task.metadata.generation, at(now))
}

fn verifying() -> RecoveryTaskStatus {
    RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Verifying),
        job_id: Some(3),
        resource_pool: Some("obrt_r_pool".into()),
        observed_retry: Some(0),
        ..RecoveryTaskStatus::default()
    }
}

fn outcome(passed: bool) -> CheckState {
    CheckState::Ended(Outcome {
        results: vec![CheckResult {
            name: "opens".into(),
            passed,
            message: if passed { "ok" } else { "login refused" }.into(),
        }],
        data_as_of: None,
        lag_seconds: Some(2),
    })
}

#[test]
fn a_completed_restore_goes_on_to_the_checks_with_its_duration() {
    let task = with(
        drill(false),
        RecoveryTaskStatus {
            submitted_at: Some(Time(at(1))),
            resource_pool: Some("obrt_r_pool".into()),
            ..RecoveryTaskStatus::default()
        },
    );
    let primary = seen(vec![restore("SUCCESS", true, "")], Some("PRIMARY"));
    let restored = run(&task, PointCheck::Inside("ok".into()), primary);
    assert_eq!(restored.status.phase, Some(RecoveryTaskPhase::Verifying));
    assert_eq!(restored.status.ended_at, None, "the drill has not ended");
    let drill = restored.status.drill.clone().expect("drill status");
    assert_eq!(drill.restore_seconds, Some(30));
    assert_eq!(restored.status.source, Some(RestoreSource::Drill));
    assert_eq!(restored.step, Step::Wait);
}

#[test]
fn passed_checks_drop_the_scratch_tenant_then_the_drill_completes() {
    let task = with(drill(false), verifying());
    let passed = checked(&task, &outcome(true), 100);
    assert_eq!(passed.status.phase, Some(RecoveryTaskPhase::Dropping));
    assert_eq!(passed.step, Step::Drop);
    let verdict = passed.status.drill.clone().expect("drill");
    assert_eq!(verdict.verdict, Some(DrillVerdict::Passed));
    assert_eq!(verdict.lag_seconds, Some(2));
    let (after, next) = after_step(&task, Step::Drop, passed.status, Ok(()), at(101));
    assert_eq!(next, None);
    assert_eq!(after.phase, Some(RecoveryTaskPhase::Completed));
    assert_eq!(after.resource_pool, None);
    assert!(after.drill.as_ref().is_some_and(|d| d.dropped));
    let ready = after.conditions.iter().find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.reason.as_str()), Some("DrillPassed"));
    // A drop that failed (the cluster went away) is tried again: still Dropping.
    let task = with(drill(false), after_drop_failed(&task));
    assert_eq!(checked(&task, &outcome(true), 102).step, Step::Drop);
}

fn after_drop_failed(task: &RecoveryTask) -> RecoveryTaskStatus {
    let dropping = checked(task, &outcome(true), 100).status;
    let (after, _) = after_step(
        task,
        Step::Drop,
        dropping,
        Err(crate::oceanbase::ObError::Unreachable("gone".into())),
        at(101),
    );
    assert_eq!(after.phase, Some(RecoveryTaskPhase::Dropping));
    after
}

#[test]
fn failed_checks_fail_the_drill_and_keep_failed_keeps_the_tenant_and_pool() {
    let dropped = checked(&with(drill(false), verifying()), &outcome(false), 100);
    assert_eq!(dropped.status.phase, Some(RecoveryTaskPhase::Dropping));
    let message = dropped
        .status
        .drill
        .as_ref()
        .and_then(|d| d.message.clone());
    assert_eq!(
        message.as_deref(),
        Some("check opens failed: login refused")
    );
    let kept = checked(&with(drill(true), verifying()), &outcome(false), 100);
    assert_eq!(kept.status.phase, Some(RecoveryTaskPhase::Failed));
    assert_eq!(kept.step, Step::Wait);
    assert_eq!(kept.status.resource_pool, None, "kept with the tenant");
    let message = kept
        .status
        .drill
        .and_then(|d| d.message)
        .unwrap_or_default();
    assert!(message.contains("obrt_r_pool"), "{message}");
}

#[test]
fn a_failed_restore_fails_the_drill_and_drops_what_it_made() {
    let task = with(
        drill(true),
        RecoveryTaskStatus {
            job_id: Some(3),
            resource_pool: Some("obrt_r_pool".into()),
            observed_retry: Some(0),
            ..RecoveryTaskStatus::default()
        },
    );
    let failed = seen(vec![restore("FAIL", true, "backup file not exist")], None);
    let decided = run(&task, PointCheck::Inside("ok".into()), failed);
    // keepFailed keeps a tenant the restore made: OceanBase's failed restore leaves it.
    assert_eq!(decided.status.phase, Some(RecoveryTaskPhase::Failed));
    let message = decided
        .status
        .drill
        .and_then(|d| d.message)
        .unwrap_or_default();
    assert!(message.contains("backup file not exist"), "{message}");
    let task = with(drill(false), task.status.clone().unwrap_or_default());
    let failed = seen(vec![restore("FAIL", true, "backup file not exist")], None);
    let dropping = run(&task, PointCheck::Inside("ok".into()), failed);
    assert_eq!(dropping.status.phase, Some(RecoveryTaskPhase::Dropping));
    assert_eq!(dropping.step, Step::Drop);
}

#[test]
fn a_drill_past_its_timeout_cancels_its_restore_and_one_with_nothing_made_ends_at_once() {
    let mut task = with(
        drill(false),
        RecoveryTaskStatus {
            job_id: Some(3),
            observed_retry: Some(0),
            ..RecoveryTaskStatus::default()
        },
    );
    task.metadata.creation_timestamp = Some(Time(at(100 - 3600)));
    let running = seen(vec![restore("WAIT_TENANT_RESTORE_FINISH", false, "")], None);
    let late = run(&task, PointCheck::Inside("ok".into()), running);
    assert_eq!(late.step, Step::Cancel);
    let never = with(
        drill(false),
        RecoveryTaskStatus {
            observed_retry: Some(0),
            ..RecoveryTaskStatus::default()
        },
    );
    let outside = run(
        &never,
        PointCheck::Outside("no window".into()),
        seen(Vec::new(), None),
    );
    assert_eq!(outside.status.phase, Some(RecoveryTaskPhase::Failed));
    assert_eq!(outside.step, Step::Wait, "nothing of the drill's to drop");
}

#[test]
fn a_drill_whose_scratch_name_is_taken_sends_nothing_and_is_looked_at_again_by_its_deadline() {
    let task = with(
        drill(false),
        RecoveryTaskStatus {
            observed_retry: Some(0),
            ..RecoveryTaskStatus::default()
        },
    );
    // A tenant of the scratch tenant's name that no restore of this task made.
    let taken = run(
        &task,
        PointCheck::Inside("ok".into()),
        seen(Vec::new(), Some("PRIMARY")),
    );
    assert_eq!(
        taken.step,
        Step::Wait,
        "no restore into someone else's tenant"
    );
    assert_eq!(
        taken.recheck,
        Some(std::time::Duration::from_secs(3600 - 100)),
        "looked at again when its hour is up, not at the next safety look"
    );
    // Past the deadline: failed, and nothing dropped — no restore of its own was ever listed.
    let mut late = task.clone();
    late.metadata.creation_timestamp = Some(Time(at(100 - 3600)));
    let ended = run(
        &late,
        PointCheck::Inside("ok".into()),
        seen(Vec::new(), Some("PRIMARY")),
    );
    assert_eq!(ended.status.phase, Some(RecoveryTaskPhase::Failed));
    assert_eq!(
        ended.step,
        Step::Wait,
        "no DROP TENANT for a tenant it did not make"
    );
}

#[test]
fn a_drill_oceanbase_refuses_fails_as_a_drill_and_drops_its_pool_but_no_tenant() {
    let task = drill(false);
    let intent = RecoveryTaskStatus {
        resource_pool: Some("obrt_r_pool".into()),
        submitted_at: Some(Time(at(1))),
        observed_retry: Some(0),
        ..RecoveryTaskStatus::default()
    };
    let refused = Err(crate::oceanbase::ObError::Server {
        code: 5156,
        message: "tenant 'r1' already exist".into(),
    });
    let (status, next) = after_step(&task, Step::Submit, intent, refused, at(2));
    assert_eq!(
        next,
        Some(Step::Drop),
        "its pool and unit are dropped at once"
    );
    assert_eq!(status.phase, Some(RecoveryTaskPhase::Dropping));
    let drill = status.drill.clone().expect("a drill status");
    assert_eq!(drill.verdict, Some(DrillVerdict::Failed));
    assert!(
        drill.message.is_some_and(|m| m.contains("already exist")),
        "the cause is said"
    );
    assert_eq!(status.job_id, None, "no restore of its own: no DROP TENANT");
    let (ended, _) = after_step(&task, Step::Drop, status, Ok(()), at(3));
    assert_eq!(ended.phase, Some(RecoveryTaskPhase::Failed));
    assert_eq!(ended.resource_pool, None);
}
