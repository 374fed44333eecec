//! The strategy's own record of its alerts (`status.alerts`), for `kubectl obbackup alerts` where no
//! Prometheus is at hand: each look finds which of the chart's alerts the status about to be written shows
//! firing ([`firing`]), and the record follows ([`record`]): an alert that starts firing is added (or, if
//! it recovered before, made active again and counted), one that stops is marked recovered. It changes
//! only when an alert starts or stops, so a settled strategy writes nothing more for it.
//!
//! What the status shows, per alert of the chart:
//!
//! - `OBBackupClusterUnreachable` (the cluster): `ClusterReachable` is False.
//! - `OBBackupLogArchiveInterrupted` (a tenant): `LogBackupHealthy` names its round INTERRUPTED.
//! - `OBBackupLogDelayHigh` (a tenant): `LogBackupHealthy` says its log delay is above
//!   `logBackup.delayAlertThreshold`; or, while its round is INTERRUPTED, the delay its line shows is (that
//!   delay is kept within a minute of the real one, so the record may notice the crossing that much late).
//! - `OBBackupRestoreDrillFailed` (a tenant): its last finished drill failed.
//! - `OBBackupTaskFailed` (a tenant): its newest finished data backup of the strategy failed; it recovers
//!   when a newer one of the tenant completes (the chart's alert, on a counter, ends 15 minutes after).
//! - `OBBackupTenantWithoutStrategy` (a tenant): `tenantsWithoutStrategy` names it (the chart's alert waits
//!   an hour; the record notes it at once).

use jiff::Timestamp;

use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus, BackupTask, BackupTaskPhase,
        alert::{AlertObjectKind, AlertRecord, AlertState},
        drill::DrillVerdict,
    },
    controller::{
        Context, Error,
        conditions::{CLUSTER_REACHABLE, api_time},
    },
};

use super::summary::LOG_BACKUP_HEALTHY;

/// The most alerts a strategy's record holds: the active ones first, then the most recently recovered.
pub const MAX_ALERTS: usize = 50;

/// The chart's alert names the record uses.
pub const CLUSTER_UNREACHABLE: &str = "OBBackupClusterUnreachable";
pub const ARCHIVE_INTERRUPTED: &str = "OBBackupLogArchiveInterrupted";
pub const LOG_DELAY_HIGH: &str = "OBBackupLogDelayHigh";
pub const DRILL_FAILED: &str = "OBBackupRestoreDrillFailed";
pub const TASK_FAILED: &str = "OBBackupTaskFailed";
pub const TENANT_WITHOUT_STRATEGY: &str = "OBBackupTenantWithoutStrategy";

/// An alert firing now: the chart's alert and the object it is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Firing {
    pub alert: &'static str,
    pub kind: AlertObjectKind,
    pub object: String,
}

impl Firing {
    fn tenant(alert: &'static str, tenant: &str) -> Self {
        Self {
            alert,
            kind: AlertObjectKind::Tenant,
            object: tenant.to_string(),
        }
    }

    fn is(&self, record: &AlertRecord) -> bool {
        record.alert == self.alert
            && record.object_kind == self.kind
            && record.object == self.object
    }
}

/// The hook into a look, after everything else wrote into `desired` and before it is written: the record
/// that follows the strategy's current one.
pub async fn note(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    desired: &mut BackupStrategyStatus,
    now: Timestamp,
) -> Result<(), Error> {
    let failed = failed_backups(ctx, namespace, strategy).await?;
    let now_firing = firing(strategy, desired, &failed);
    let previous = strategy
        .status
        .as_ref()
        .map(|s| s.alerts.as_slice())
        .unwrap_or_default();
    desired.alerts = record(previous, &now_firing, now);
    Ok(())
}

/// The tenants whose newest finished data backup through the strategy failed (from the controllers' cache,
/// a few fields of each task: a strategy looks often and holds hundreds of finished tasks).
async fn failed_backups(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<String>, Error> {
    let name = kube::ResourceExt::name_any(strategy);
    let own = |t: &BackupTask| {
        t.spec.strategy_ref.as_ref().is_some_and(|r| r.name == name)
            && t.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(BackupTaskPhase::is_terminal)
    };
    let finished = ctx
        .catalog
        .of_strategy_mapped(namespace, &name, own, Finished::of)
        .await?;
    Ok(newest_failed(finished))
}

/// What [`newest_failed`] reads of a finished task.
struct Finished {
    tenant: String,
    /// When it ended, then when it was made: the newer is the greater.
    order: (Option<Timestamp>, Option<Timestamp>),
    failed: bool,
}

impl Finished {
    fn of(task: &BackupTask) -> Self {
        let status = task.status.as_ref();
        Self {
            tenant: task.spec.tenant.clone(),
            order: (
                status.and_then(|s| s.ended_at.as_ref()).map(|at| at.0),
                task.metadata.creation_timestamp.as_ref().map(|at| at.0),
            ),
            failed: status.and_then(|s| s.phase) == Some(BackupTaskPhase::Failed),
        }
    }
}

/// Of `finished` tasks, the tenants whose newest (by end, then creation) failed, sorted.
fn newest_failed(finished: Vec<Finished>) -> Vec<String> {
    let mut newest: std::collections::BTreeMap<String, Finished> = Default::default();
    for task in finished {
        match newest.get(&task.tenant) {
            Some(seen) if seen.order >= task.order => {}
            _ => {
                newest.insert(task.tenant.clone(), task);
            }
        }
    }
    newest
        .into_values()
        .filter(|t| t.failed)
        .map(|t| t.tenant)
        .collect()
}

/// The chart's alerts that `status` (about to be written for `strategy`) shows firing, and one per tenant of
/// `failed_backups`; sorted.
pub fn firing(
    strategy: &BackupStrategy,
    status: &BackupStrategyStatus,
    failed_backups: &[String],
) -> Vec<Firing> {
    let mut found = Vec::new();
    let bad = |type_: &str| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_ && c.status == "False")
    };
    if bad(CLUSTER_REACHABLE).is_some() {
        found.push(Firing {
            alert: CLUSTER_UNREACHABLE,
            kind: AlertObjectKind::Cluster,
            object: strategy.spec.cluster.name.clone(),
        });
    }
    let log_health = bad(LOG_BACKUP_HEALTHY).map(|c| c.message.as_str());
    let threshold =
        crate::api::common::parse_duration(&strategy.spec.log_backup.delay_alert_threshold)
            .map(|d| d.as_secs());
    for tenant in &status.tenants {
        let says = |what: &str| {
            log_health.is_some_and(|m| m.contains(&format!("{}: {what}", tenant.name)))
        };
        let interrupted = says("archiving INTERRUPTED");
        if interrupted {
            found.push(Firing::tenant(ARCHIVE_INTERRUPTED, &tenant.name));
        }
        // The condition judges a running round's delay live; the line's delay is a minute's grain.
        let stuck_behind = interrupted
            && tenant
                .log_delay_seconds
                .zip(threshold)
                .is_some_and(|(delay, limit)| delay > limit);
        if says("log delay above") || stuck_behind {
            found.push(Firing::tenant(LOG_DELAY_HIGH, &tenant.name));
        }
    }
    for drills in &status.drills {
        if drills
            .last
            .as_ref()
            .is_some_and(|d| d.verdict == DrillVerdict::Failed)
        {
            found.push(Firing::tenant(DRILL_FAILED, &drills.name));
        }
    }
    for tenant in failed_backups {
        found.push(Firing::tenant(TASK_FAILED, tenant));
    }
    for tenant in &status.tenants_without_strategy {
        found.push(Firing::tenant(TENANT_WITHOUT_STRATEGY, tenant));
    }
    found.sort();
    found.dedup();
    found
}

/// The record after a look that found `firing` at `now`, following `previous`: at most [`MAX_ALERTS`],
/// active first (newest raised first), then recovered (newest recovered first).
pub fn record(previous: &[AlertRecord], firing: &[Firing], now: Timestamp) -> Vec<AlertRecord> {
    let at = api_time(now);
    let mut next: Vec<AlertRecord> = previous
        .iter()
        .map(|r| followed(r, firing.iter().any(|f| f.is(r)), &at))
        .collect();
    for alert in firing {
        if !next.iter().any(|r| alert.is(r)) {
            next.push(AlertRecord {
                alert: alert.alert.to_string(),
                object_kind: alert.kind,
                object: alert.object.clone(),
                generated_at: at.clone(),
                last_generated_at: at.clone(),
                recovered_at: None,
                count: 1,
                status: AlertState::Active,
            });
        }
    }
    next.sort_by(|a, b| order(a).cmp(&order(b)));
    next.truncate(MAX_ALERTS);
    next
}

/// One record after a look in which its alert fires (`bad`) or not.
fn followed(
    record: &AlertRecord,
    bad: bool,
    at: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> AlertRecord {
    let mut next = record.clone();
    match (record.status, bad) {
        (AlertState::Active, false) => {
            next.status = AlertState::Recovered;
            next.recovered_at = Some(at.clone());
        }
        (AlertState::Recovered, true) => {
            next.status = AlertState::Active;
            next.recovered_at = None;
            next.last_generated_at = at.clone();
            next.count += 1;
        }
        _ => {}
    }
    next
}

/// The order of the record: active before recovered, each newest first (raised, recovered), then by alert
/// and object so that equal times keep one order.
fn order(
    record: &AlertRecord,
) -> (
    bool,
    std::cmp::Reverse<Timestamp>,
    &str,
    AlertObjectKind,
    &str,
) {
    let changed = match &record.recovered_at {
        Some(at) if record.status == AlertState::Recovered => at.0,
        _ => record.last_generated_at.0,
    };
    (
        record.status == AlertState::Recovered,
        std::cmp::Reverse(changed),
        &record.alert,
        record.object_kind,
        &record.object,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        backup_strategy::TenantBackupStatus,
        drill::{DrillSummary, TenantDrills},
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    fn strategy() -> BackupStrategy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "s"},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["t1", "t2"],
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                "logBackup": {"delayAlertThreshold": "2m"},
            },
        }))
        .expect("strategy")
    }

    fn bad(type_: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: "False".into(),
            reason: "R".into(),
            message: message.into(),
            last_transition_time: Time(at("2026-11-24T00:00:00Z")),
            observed_generation: None,
        }
    }

    fn tenant(name: &str, delay: i64) -> TenantBackupStatus {
        TenantBackupStatus {
            name: name.into(),
            log_delay_seconds: Some(delay),
            ..Default::default()
        }
    }

    fn drilled(name: &str, verdict: DrillVerdict) -> TenantDrills {
        TenantDrills {
            name: name.into(),
            last: Some(DrillSummary {
                task: format!("s-{name}-drill"),
                verdict,
                ended_at: None,
                recovery_time: None,
                restore_seconds: None,
                lag_seconds: None,
                message: None,
            }),
            last_passed: None,
        }
    }

    #[test]
    fn the_status_names_each_alert_that_fires_and_on_what() {
        let status = BackupStrategyStatus {
            conditions: vec![
                bad(CLUSTER_REACHABLE, "cluster ob cannot be reached: refused"),
                bad(
                    LOG_BACKUP_HEALTHY,
                    "t1: archiving INTERRUPTED (-9070 can not connect)",
                ),
            ],
            // t1's delay grows while interrupted; t2's line shows one above the threshold, but its round runs
            // and the condition (which reads it live) finds it within.
            tenants: vec![tenant("t1", 121), tenant("t2", 150)],
            drills: vec![
                drilled("t1", DrillVerdict::Passed),
                drilled("t2", DrillVerdict::Failed),
            ],
            ..Default::default()
        };
        let found = firing(&strategy(), &status, &["t2".to_string()]);
        let named: Vec<(&str, &str)> = found.iter().map(|f| (f.alert, f.object.as_str())).collect();
        assert_eq!(
            named,
            vec![
                (CLUSTER_UNREACHABLE, "ob"),
                (ARCHIVE_INTERRUPTED, "t1"),
                (LOG_DELAY_HIGH, "t1"),
                (DRILL_FAILED, "t2"),
                (TASK_FAILED, "t2"),
            ]
        );
        assert_eq!(found[0].kind, AlertObjectKind::Cluster);
        // A running round's delay above the threshold, as the condition says.
        let lagging = BackupStrategyStatus {
            conditions: vec![bad(LOG_BACKUP_HEALTHY, "t1: log delay above 2m")],
            tenants: vec![tenant("t1", 30), tenant("t2", 500)],
            ..Default::default()
        };
        assert_eq!(
            firing(&strategy(), &lagging, &[]),
            vec![Firing::tenant(LOG_DELAY_HIGH, "t1")]
        );
        // Healthy conditions fire nothing.
        let healthy = BackupStrategyStatus {
            tenants: vec![tenant("t1", 3)],
            ..Default::default()
        };
        assert!(firing(&strategy(), &healthy, &[]).is_empty());
    }

    #[test]
    fn an_alert_is_raised_recovers_and_is_raised_again_counted() {
        let interrupted = vec![Firing::tenant(ARCHIVE_INTERRUPTED, "t1")];
        let raised = record(&[], &interrupted, at("2026-11-24T10:00:00.700Z"));
        assert_eq!(raised.len(), 1);
        let first = &raised[0];
        assert_eq!(
            (first.status, first.count, first.recovered_at.clone()),
            (AlertState::Active, 1, None)
        );
        assert_eq!(first.generated_at, Time(at("2026-11-24T10:00:00Z")));
        // Still firing: nothing changes, so nothing is written.
        assert_eq!(
            record(&raised, &interrupted, at("2026-11-24T10:05:00Z")),
            raised
        );
        let recovered = record(&raised, &[], at("2026-11-24T10:10:00Z"));
        assert_eq!(recovered[0].status, AlertState::Recovered);
        assert_eq!(
            recovered[0].recovered_at,
            Some(Time(at("2026-11-24T10:10:00Z")))
        );
        let again = record(&recovered, &interrupted, at("2026-11-24T11:00:00Z"));
        let again = &again[0];
        assert_eq!(
            (again.status, again.count, again.recovered_at.clone()),
            (AlertState::Active, 2, None)
        );
        assert_eq!(again.generated_at, Time(at("2026-11-24T10:00:00Z")));
        assert_eq!(again.last_generated_at, Time(at("2026-11-24T11:00:00Z")));
    }

    #[test]
    fn the_record_holds_at_most_fifty_active_first_then_the_newest() {
        // Sixty tenants each raised and recovered a minute apart, then one more raised.
        let mut held = Vec::new();
        let start = at("2026-11-24T00:00:00Z");
        for i in 0..60 {
            let minute = start + jiff::SignedDuration::from_mins(i);
            let alert = vec![Firing::tenant(LOG_DELAY_HIGH, &format!("t{i}"))];
            held = record(&held, &alert, minute);
            held = record(&held, &[], minute + jiff::SignedDuration::from_secs(30));
        }
        assert_eq!(held.len(), MAX_ALERTS);
        let late = start + jiff::SignedDuration::from_hours(2);
        held = record(&held, &[Firing::tenant(TASK_FAILED, "t0")], late);
        assert_eq!(held.len(), MAX_ALERTS);
        assert_eq!(
            (held[0].alert.as_str(), held[0].status),
            (TASK_FAILED, AlertState::Active)
        );
        // The recovered ones kept are the newest: t59 down to t11.
        let objects: Vec<&str> = held[1..].iter().map(|r| r.object.as_str()).collect();
        let newest: Vec<String> = (11..60).rev().map(|i| format!("t{i}")).collect();
        assert_eq!(objects, newest);
        // Active alerts are never dropped for recovered ones.
        let many: Vec<Firing> = (0..70)
            .map(|i| Firing::tenant(ARCHIVE_INTERRUPTED, &format!("u{i:02}")))
            .collect();
        let crowded = record(&held, &many, late);
        assert_eq!(crowded.len(), MAX_ALERTS);
        assert!(crowded.iter().all(|r| r.status == AlertState::Active));
    }

    #[test]
    fn a_tenants_newest_finished_backup_decides_whether_it_failed() {
        let task = |name: &str, tenant: &str, ended: &str, phase: BackupTaskPhase| -> BackupTask {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": name},
                "spec": {"tenant": tenant, "mode": "Full", "strategyRef": {"name": "s"}},
                "status": {"phase": phase, "endedAt": ended},
            }))
            .expect("task")
        };
        let tasks = [
            task("a", "t1", "2026-11-24T01:00:00Z", BackupTaskPhase::Failed),
            task(
                "b",
                "t1",
                "2026-11-24T02:00:00Z",
                BackupTaskPhase::Completed,
            ),
            task(
                "c",
                "t2",
                "2026-11-24T01:00:00Z",
                BackupTaskPhase::Completed,
            ),
            task("d", "t2", "2026-11-24T02:00:00Z", BackupTaskPhase::Failed),
        ];
        assert_eq!(
            newest_failed(tasks.iter().map(Finished::of).collect()),
            vec!["t2".to_string()]
        );
    }

    #[test]
    fn every_alert_the_record_names_is_an_alert_of_the_chart() {
        let rules =
            include_str!("../../../charts/ob-backup-operator/templates/prometheusrule.yaml");
        for alert in [
            CLUSTER_UNREACHABLE,
            ARCHIVE_INTERRUPTED,
            LOG_DELAY_HIGH,
            DRILL_FAILED,
            TASK_FAILED,
            TENANT_WITHOUT_STRATEGY,
        ] {
            assert!(
                rules.contains(&format!("- alert: {alert}\n")),
                "{alert} is no alert of the chart"
            );
        }
    }
}
