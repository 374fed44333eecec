use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::api::drill::DrillStatus;

fn strategy(created: &str) -> BackupStrategy {
    let mut strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "nightly", "namespace": "ns"},
        "spec": {
            "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["t1", "t2"],
            "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
            "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            "restoreDrill": {
                "schedule": "0 3 * * *", "timeZone": "UTC", "credentialsSecret": "app",
                "target": {"resources": {"unitName": "small", "zones": ["zone1"]}},
                "historyLimit": 2, "maxAge": "2d",
            },
        },
    }))
    .expect("strategy");
    strategy.metadata.creation_timestamp = Some(Time(at(created)));
    strategy
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("time")
}

fn drill_of(strategy: &BackupStrategy) -> RestoreDrill {
    strategy.spec.restore_drill.clone().expect("a drill")
}

fn ended(name: &str, tenant: &str, when: &str, verdict: DrillVerdict) -> Drill {
    let phase = match verdict {
        DrillVerdict::Passed => RecoveryTaskPhase::Completed,
        DrillVerdict::Failed => RecoveryTaskPhase::Failed,
    };
    Drill {
        name: name.into(),
        tenant: tenant.into(),
        at: Some(at(when)),
        status: Some(RecoveryTaskStatus {
            phase: Some(phase),
            ended_at: Some(Time(at(when))),
            drill: Some(DrillStatus {
                verdict: Some(verdict),
                message: Some(format!("{verdict:?}")),
                ..DrillStatus::default()
            }),
            ..RecoveryTaskStatus::default()
        }),
    }
}

fn tenants() -> Vec<String> {
    vec!["t1".into(), "t2".into()]
}

#[test]
fn a_night_owes_one_drill_per_tenant_and_a_restart_owes_nothing_more() {
    let strategy = strategy("2026-11-25T00:00:00Z");
    let drill = drill_of(&strategy);
    let now = at("2026-11-26T03:00:30Z");
    let first = plan(&strategy, &drill, &tenants(), &[], false, now);
    let owed = at("2026-11-26T03:00:00Z");
    assert_eq!(first.create, vec![("t1".into(), owed), ("t2".into(), owed)]);
    assert_eq!(first.last_schedule, Some(owed));
    assert_eq!(first.next_run, Some(at("2026-11-27T03:00:00Z")));
    // The runs made (not yet recorded in the status): nothing is owed again.
    let made: Vec<Drill> = ["t1", "t2"]
        .iter()
        .map(|t| Drill {
            name: crate::drill::task_name("nightly", t, owed, crate::drill::Asked::Schedule),
            tenant: (*t).into(),
            at: Some(owed),
            status: None,
        })
        .collect();
    let again = plan(&strategy, &drill, &tenants(), &made, false, now);
    assert!(again.create.is_empty(), "{again:?}");
}

#[test]
fn a_busy_target_holds_the_run_within_the_deadline_and_a_running_drill_skips_its_tenant() {
    let strategy = strategy("2026-11-25T00:00:00Z");
    let drill = drill_of(&strategy);
    let now = at("2026-11-26T03:10:00Z");
    let held = plan(&strategy, &drill, &tenants(), &[], true, now);
    assert!(held.create.is_empty());
    assert_eq!(held.last_schedule, None, "the run stays owed");
    let running = Drill {
        name: "nightly-t1-drill-20261125-030000".into(),
        tenant: "t1".into(),
        at: Some(at("2026-11-25T03:00:00Z")),
        status: None,
    };
    let made = plan(&strategy, &drill, &tenants(), &[running], false, now);
    assert_eq!(made.create, vec![("t2".into(), at("2026-11-26T03:00:00Z"))]);
    let skipped: Vec<&str> = made.skipped.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(skipped, ["t1"]);
    // Past the starting deadline (an hour): the run is skipped.
    let late = plan(
        &strategy,
        &drill,
        &tenants(),
        &[],
        false,
        at("2026-11-26T05:00:00Z"),
    );
    assert!(late.create.is_empty());
}

#[test]
fn each_tenants_finished_drills_beyond_the_limit_are_pruned_oldest_first() {
    let strategy = strategy("2026-11-20T00:00:00Z");
    let drill = drill_of(&strategy);
    let drills = vec![
        ended("a1", "t1", "2026-11-21T03:00:00Z", DrillVerdict::Passed),
        ended("a2", "t1", "2026-11-22T03:00:00Z", DrillVerdict::Failed),
        ended("a3", "t1", "2026-11-23T03:00:00Z", DrillVerdict::Passed),
        ended("b1", "t2", "2026-11-23T03:00:00Z", DrillVerdict::Passed),
    ];
    let result = plan(
        &strategy,
        &drill,
        &tenants(),
        &drills,
        false,
        at("2026-11-23T04:00:00Z"),
    );
    assert_eq!(result.prune, vec!["a1".to_string()]);
}

#[test]
fn lines_keep_the_newest_and_newest_passed_drill_also_once_pruned() {
    let drills = vec![
        ended("a2", "t1", "2026-11-22T03:00:00Z", DrillVerdict::Passed),
        ended("a3", "t1", "2026-11-23T03:00:00Z", DrillVerdict::Failed),
    ];
    let lines = lines(&["t1".to_string()], &drills, &[]);
    assert_eq!(lines[0].last.as_ref().map(|s| s.task.as_str()), Some("a3"));
    assert_eq!(
        lines[0].last_passed.as_ref().map(|s| s.task.as_str()),
        Some("a2")
    );
    // a2 pruned: the previous line still knows it.
    let kept = super::lines(&["t1".to_string()], &drills[1..], &lines);
    assert_eq!(
        kept[0].last_passed.as_ref().map(|s| s.task.as_str()),
        Some("a2")
    );
}

#[test]
fn restore_is_verified_only_while_every_last_drill_passed_within_the_max_age() {
    let max_age = SignedDuration::from_hours(48);
    let passed = ended("a", "t1", "2026-11-23T03:00:00Z", DrillVerdict::Passed);
    let failed = ended("b", "t2", "2026-11-23T03:00:00Z", DrillVerdict::Failed);
    let now = at("2026-11-24T03:00:00Z");
    let both = lines(&tenants(), std::slice::from_ref(&passed), &[]);
    assert_eq!(verified(&both, max_age, now).1, Reason::NoDrillYet);
    assert_eq!(
        verified(&[], max_age, now).1,
        Reason::NoDrillYet,
        "no tenant drilled verifies nothing"
    );
    let one = lines(&tenants()[..1], std::slice::from_ref(&passed), &[]);
    assert!(verified(&one, max_age, now).0);
    assert_eq!(
        oldest_passed(&one).map(|t| t.0),
        Some(at("2026-11-23T03:00:00Z"))
    );
    let overdue = verified(&one, max_age, at("2026-11-25T03:00:01Z"));
    assert_eq!((overdue.0, overdue.1), (false, Reason::DrillOverdue));
    let broken = lines(&tenants(), &[passed, failed], &[]);
    let (ok, reason, message) = verified(&broken, max_age, now);
    assert_eq!((ok, reason), (false, Reason::DrillFailed));
    assert!(message.contains("tenant t2"), "{message}");
    assert_eq!(oldest_passed(&broken), None);
}

#[test]
fn a_drill_schedule_that_can_never_run_says_why_and_plans_nothing() {
    let strategy = strategy("2026-11-01T00:00:00Z");
    assert_eq!(schedule_problem(&drill_of(&strategy)), None);
    let with = |zone: &str, schedule: &str| {
        let mut drill = drill_of(&strategy);
        drill.time_zone = zone.into();
        drill.schedule = schedule.into();
        drill
    };
    let cases = [
        (
            with("Asia/Beijing", "0 3 * * *"),
            Reason::InvalidTimeZone,
            "restoreDrill.timeZone Asia/Beijing",
        ),
        (
            with("PRC", "0 3 31 2 *"),
            Reason::ScheduleNeverRuns,
            "restoreDrill.schedule \"0 3 31 2 *\"",
        ),
        (
            with("UTC", "0 25 * * *"),
            Reason::InvalidSchedule,
            "restoreDrill.schedule \"0 25 * * *\"",
        ),
    ];
    for (drill, reason, says) in cases {
        let (found, message) = schedule_problem(&drill).expect("a problem");
        assert_eq!(found, reason, "{message}");
        assert!(message.starts_with(says), "{message}");
        let planned = plan(
            &strategy,
            &drill,
            &tenants(),
            &[],
            false,
            at("2026-11-20T03:00:00Z"),
        );
        assert!(planned.create.is_empty(), "{:?}", planned.create);
    }
}
