//! `drill list`: a strategy's restore drills, newest first — who asked (the schedule or a user), where each
//! stands, its verdict, the point it restored to, how long the restore took, the measured recovery point
//! (`T − 12 s`: the newest write found lay 12 s before the point T) and, for a failed one, the check that
//! failed. And the points passed drills verified, which `windows` marks.

use jiff::Timestamp;
use kube::{Api, ResourceExt};
use ob_backup_operator::{
    api::{BackupStrategy, RecoveryTask, drill::DrillVerdict, recovery_task::RecoveryTaskPhase},
    drill::DRILL_AT,
};

use crate::{
    drill::{ListArgs, declared, drills_of},
    render::{Format, Table, TimeFormat, or_dash},
};

const HEADERS: &[&str] = &[
    "TASK", "TENANT", "SOURCE", "STATUS", "VERDICT", "POINT", "RESTORE", "LAG", "STARTED", "ENDED",
    "MESSAGE",
];

/// Who asked for a drill, from its name: `-drill-now-` is a user's (`drill run`), else the schedule's.
pub fn source(task: &RecoveryTask) -> &'static str {
    if task.name_any().contains("-drill-now-") {
        "Manual"
    } else {
        "Schedule"
    }
}

/// When a drill was asked for: its `drill-at` annotation, else its creation.
fn asked_at(task: &RecoveryTask) -> Option<Timestamp> {
    task.annotations()
        .get(DRILL_AT)
        .and_then(|at| at.parse().ok())
        .or_else(|| task.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// `12m 3s`, `1h 2m`, `45s`.
pub fn duration(seconds: i64) -> String {
    let (hours, minutes, secs) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, _) => format!("{minutes}m {secs}s"),
        _ => format!("{hours}h {minutes}m"),
    }
}

/// The measured recovery point: `T − 12 s` (the newest write 12 s before the point), `T + 3 s` (after it).
pub fn lag(seconds: i64) -> String {
    if seconds < 0 {
        format!("T + {} s", seconds.unsigned_abs())
    } else {
        format!("T − {seconds} s")
    }
}

/// What a drill says: the first check that failed, else its verdict's message, else its status message.
fn message(task: &RecoveryTask) -> String {
    let status = task.status.clone().unwrap_or_default();
    let drill = status.drill.unwrap_or_default();
    let failed = drill
        .checks
        .iter()
        .find(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.message));
    or_dash(failed.or(drill.message).or(status.message))
}

fn row(task: &RecoveryTask, clock: &TimeFormat) -> Vec<String> {
    let status = task.status.clone().unwrap_or_default();
    let drill = status.drill.clone().unwrap_or_default();
    let started = status
        .started_at
        .as_ref()
        .or(task.metadata.creation_timestamp.as_ref());
    vec![
        task.name_any(),
        task.spec.source.tenant.clone(),
        source(task).into(),
        or_dash(status.phase.map(|p| format!("{p:?}"))),
        or_dash(drill.verdict.map(|v| format!("{v:?}"))),
        clock.show(status.recovery_time.as_ref()),
        or_dash(drill.restore_seconds.map(duration)),
        or_dash(drill.lag_seconds.map(lag)),
        clock.show(started),
        clock.show(status.ended_at.as_ref()),
        message(task),
    ]
}

/// The drills of `tenant` (any case; every tenant's without one) among `drills`, newest first, as a table.
pub fn table(
    drills: &[RecoveryTask],
    tenant: Option<&str>,
    clock: &TimeFormat,
) -> (Table, Vec<RecoveryTask>) {
    let mut shown: Vec<RecoveryTask> = drills
        .iter()
        .filter(|t| tenant.is_none_or(|name| t.spec.source.tenant.eq_ignore_ascii_case(name)))
        .cloned()
        .collect();
    shown.sort_by_key(|t| std::cmp::Reverse((asked_at(t), t.name_any())));
    let mut table = Table::new(HEADERS);
    for task in &shown {
        table.push(row(task, clock));
    }
    (table, shown)
}

/// Runs `drill list`.
pub async fn show(
    client: &kube::Client,
    namespace: &str,
    strategy: &BackupStrategy,
    args: &ListArgs,
    clock: &TimeFormat,
    format: Format,
    colour: bool,
) -> Result<String, String> {
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    let drills = drills_of(&api, &strategy.name_any()).await?;
    let (table, shown) = table(&drills, args.tenant.as_deref(), clock);
    match format {
        Format::Table if shown.is_empty() => {
            let of = args
                .tenant
                .as_ref()
                .map(|t| format!(" of tenant {t}"))
                .unwrap_or_default();
            let hint = declared(strategy)
                .err()
                .map(|_| " (it declares no spec.restoreDrill)")
                .unwrap_or_default();
            Ok(format!(
                "No drills{of} of BackupStrategy {} in namespace {namespace}{hint}.\n",
                strategy.name_any()
            ))
        }
        Format::Table => Ok(table.render(colour)),
        format => crate::render::list(&shown, format),
    }
}

/// A point a passed drill restored to, and the drill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub at: Timestamp,
    pub task: String,
}

/// The points `tenant`'s passed drills restored to (its Completed drills among `recoveries`, and the last
/// passed drill the strategy's status keeps), oldest first, each once.
pub fn verified(
    strategy: &BackupStrategy,
    recoveries: &[RecoveryTask],
    tenant: &str,
) -> Vec<Verified> {
    let name = strategy.name_any();
    let ours = |t: &&RecoveryTask| {
        t.spec.drill.is_some()
            && t.spec.source.strategy_ref.as_ref().map(|r| r.name.as_str()) == Some(name.as_str())
            && t.spec.source.tenant.eq_ignore_ascii_case(tenant)
    };
    let from_tasks = recoveries.iter().filter(ours).filter_map(|t| {
        let status = t.status.as_ref()?;
        let passed = status.phase == Some(RecoveryTaskPhase::Completed)
            && status.drill.as_ref().and_then(|d| d.verdict) == Some(DrillVerdict::Passed);
        passed.then_some(Verified {
            at: status.recovery_time.as_ref()?.0,
            task: t.name_any(),
        })
    });
    let from_status = strategy
        .status
        .iter()
        .flat_map(|s| &s.drills)
        .filter(|d| d.name.eq_ignore_ascii_case(tenant))
        .filter_map(|d| d.last_passed.as_ref())
        .filter_map(|s| {
            Some(Verified {
                at: s.recovery_time.as_ref()?.0,
                task: s.task.clone(),
            })
        });
    let mut points: Vec<Verified> = from_tasks.chain(from_status).collect();
    points.sort_by_key(|v| (v.at, v.task.clone()));
    points.dedup_by(|a, b| a.task == b.task);
    points
}

#[cfg(test)]
mod tests {
    use ob_backup_operator::drill::Asked;
    use serde_json::json;

    use super::*;
    use crate::fixtures::{FakeApi, drill_strategy, drill_task, recovery_path};

    fn passed(point: &str) -> serde_json::Value {
        json!({"phase": "Completed", "source": "Drill", "recoveryTime": point,
               "startedAt": "2026-11-25T03:00:05Z", "endedAt": "2026-11-25T03:20:00Z",
               "drill": {"verdict": "Passed", "lagSeconds": 12, "restoreSeconds": 723, "dropped": true,
                         "message": "restored and every check passed (2 checks; the data is as of the point minus 12 s)",
                         "checks": [{"name": "opens", "passed": true, "message": "SELECT 1 answered"}]}})
    }

    fn failed() -> serde_json::Value {
        json!({"phase": "Failed", "source": "Drill", "recoveryTime": "2026-11-26T02:59:00Z",
               "startedAt": "2026-11-26T03:00:04Z", "endedAt": "2026-11-26T03:31:00Z",
               "drill": {"verdict": "Failed", "restoreSeconds": 4000, "lagSeconds": 3600, "dropped": true,
                         "message": "check orders failed: returned 0, expected 1",
                         "checks": [{"name": "opens", "passed": true, "message": "SELECT 1 answered"},
                                    {"name": "orders", "passed": false, "message": "returned 0, expected 1"}]}})
    }

    /// Tenant1's scheduled drill that passed on the 25th and manual one that failed on the 26th.
    fn tenant1_drills(strategy: &BackupStrategy) -> [RecoveryTask; 2] {
        [
            drill_task(
                strategy,
                "tenant1",
                "2026-11-25T03:00:00Z",
                Asked::Schedule,
                passed("2026-11-25T02:59:30Z"),
            ),
            drill_task(
                strategy,
                "tenant1",
                "2026-11-26T03:00:00Z",
                Asked::Manual,
                failed(),
            ),
        ]
    }

    #[tokio::test]
    async fn list_shows_passed_and_failed_drills_newest_first() {
        let strategy = drill_strategy(json!({}));
        let api = FakeApi::default();
        let [passed_one, failed_one] = tenant1_drills(&strategy);
        let drills = [
            passed_one,
            failed_one,
            drill_task(
                &strategy,
                "Tenant2",
                "2026-11-26T04:00:00Z",
                Asked::Manual,
                json!({"phase": "InProgress"}),
            ),
        ];
        for task in &drills {
            let value = serde_json::to_value(task).expect("JSON");
            api.put(&recovery_path(&task.name_any()), value);
        }
        // A restore of the strategy's that is not a drill, and a drill of another strategy: not listed.
        api.put(&recovery_path("by-hand"), json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
            "metadata": {"name": "by-hand", "labels": {"obbackup.dev/strategy": "demo"}},
            "spec": {"source": {"tenant": "tenant1", "strategyRef": {"name": "demo"}},
                     "target": {"tenant": "t2", "cluster": {"name": "ob", "connectionSecret": "ob"}}}}));
        let mut other = drills[0].clone();
        other.metadata.name = Some("other-tenant1-drill-20261125-030000".into());
        other
            .labels_mut()
            .insert("obbackup.dev/strategy".into(), "other".into());
        api.put(
            &recovery_path(&other.name_any()),
            serde_json::to_value(&other).expect("JSON"),
        );
        let args = ListArgs {
            strategy: "demo".into(),
            tenant: Some("TENANT1".into()),
        };
        let clock = TimeFormat::new(true);
        let text = show(
            &api.client(),
            "ns",
            &strategy,
            &args,
            &clock,
            Format::Table,
            false,
        )
        .await
        .expect("listed");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let cells = |line: &str| {
            line.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cells(lines[1]),
            [
                "demo-tenant1-drill-now-20261126-030000",
                "tenant1",
                "Manual",
                "Failed",
                "Failed",
                "2026-11-26 02:59:00 UTC",
                "1h 6m",
                "T − 3600 s",
                "2026-11-26 03:00:04 UTC",
                "2026-11-26 03:31:00 UTC",
                "orders: returned 0, expected 1"
            ]
        );
        assert_eq!(
            cells(lines[2]),
            [
                "demo-tenant1-drill-20261125-030000",
                "tenant1",
                "Schedule",
                "Completed",
                "Passed",
                "2026-11-25 02:59:30 UTC",
                "12m 3s",
                "T − 12 s",
                "2026-11-25 03:00:05 UTC",
                "2026-11-25 03:20:00 UTC",
                "restored and every check passed (2 checks; the data is as of the point minus 12 s)"
            ]
        );
        let every = ListArgs {
            strategy: "demo".into(),
            tenant: None,
        };
        let json = show(
            &api.client(),
            "ns",
            &strategy,
            &every,
            &clock,
            Format::Json,
            false,
        )
        .await
        .expect("listed");
        let list: serde_json::Value = serde_json::from_str(&json).expect("parses");
        assert_eq!(
            list["items"][0]["metadata"]["name"],
            "demo-tenant2-drill-now-20261126-040000"
        );
        assert_eq!(list["items"].as_array().map(Vec::len), Some(3));
        let none = ListArgs {
            strategy: "demo".into(),
            tenant: Some("tenant9".into()),
        };
        let empty = show(
            &api.client(),
            "ns",
            &strategy,
            &none,
            &clock,
            Format::Table,
            false,
        )
        .await
        .expect("listed");
        assert_eq!(
            empty,
            "No drills of tenant tenant9 of BackupStrategy demo in namespace ns.\n"
        );
    }

    #[test]
    fn passed_drills_verify_their_points_once_each() {
        let mut strategy = drill_strategy(json!({}));
        let [passed_one, failed_one] = tenant1_drills(&strategy);
        let drills = [
            passed_one,
            failed_one,
            drill_task(
                &strategy,
                "Tenant2",
                "2026-11-26T03:00:00Z",
                Asked::Schedule,
                passed("2026-11-26T02:00:00Z"),
            ),
        ];
        // The strategy keeps the last passed drill: one whose task is gone, and the one above.
        strategy.status = serde_json::from_value(json!({"drills": [
            {"name": "tenant1",
             "lastPassed": {"task": "demo-tenant1-drill-20261124-030000", "verdict": "Passed",
                            "recoveryTime": "2026-11-24T02:59:00Z"}},
            {"name": "Tenant2",
             "lastPassed": {"task": "demo-tenant2-drill-20261126-030000", "verdict": "Passed",
                            "recoveryTime": "2026-11-26T02:00:00Z"}}]}))
        .expect("a status");
        let points = verified(&strategy, &drills, "TENANT1");
        let shown: Vec<(String, &str)> = points
            .iter()
            .map(|v| (v.at.to_string(), v.task.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "2026-11-24T02:59:00Z".to_string(),
                    "demo-tenant1-drill-20261124-030000"
                ),
                (
                    "2026-11-25T02:59:30Z".to_string(),
                    "demo-tenant1-drill-20261125-030000"
                ),
            ]
        );
        assert_eq!(
            verified(&strategy, &drills, "tenant2").len(),
            1,
            "one drill, seen twice"
        );
        assert_eq!(duration(45), "45s");
        assert_eq!(lag(-3), "T + 3 s");
    }
}
