//! `status`: the console's Backup & Recovery overview — each strategy's status, method, backup size, last
//! data backup, log checkpoint and delay; each tenant's; the conditions that are not healthy, with their
//! reasons; and the second copy where one is configured.

use kube::ResourceExt;
use ob_backup_operator::api::{
    BackupStrategy,
    backup_strategy::{BackupStrategyStatus, TenantBackupState},
};

use crate::render::{Table, TimeFormat, or_dash};

/// Whether a condition says something is wrong: `Stalled` true, or any condition but `Reconciling` false
/// (`Ready` false included: the strategy is not as declared).
fn unhealthy(type_: &str, status: &str) -> bool {
    match type_ {
        "Stalled" => status == "True",
        "Reconciling" => false,
        _ => status == "False",
    }
}

/// The strategies' table: the console's cluster overview.
pub const STRATEGY_HEADERS: &[&str] = &[
    "STRATEGY",
    "CLUSTER",
    "STATUS",
    "METHOD",
    "BACKUP SIZE",
    "LAST DATA BACKUP",
    "LOG CHECKPOINT",
    "LOG DELAY(S)",
    "NEXT FULL",
];

/// A tenant's backup status as the console words it.
fn console_words(state: TenantBackupState) -> String {
    match state {
        TenantBackupState::PendingBackupScheduling => "Pending Backup Scheduling",
        TenantBackupState::InProgress => "In Progress",
        TenantBackupState::NoBackupStrategy => "No Backup Strategy",
    }
    .to_string()
}

/// The overview of `strategies` as text: up to four tables, each after a blank line.
pub fn overview(strategies: &[BackupStrategy], clock: &TimeFormat, colour: bool) -> String {
    let mut overview = Overview::new();
    for strategy in strategies {
        overview.add(strategy, clock);
    }
    overview.add_uncovered(strategies);
    overview.render(colour)
}

/// The overview's tables: the strategies, their tenants, their unhealthy conditions, their second copies.
struct Overview {
    clusters: Table,
    tenants: Table,
    problems: Table,
    copies: Table,
    skipped: Table,
}

impl Overview {
    fn new() -> Self {
        Self {
            clusters: Table::new(STRATEGY_HEADERS),
            tenants: Table::new(&[
                "STRATEGY",
                "TENANT",
                "STATUS",
                "METHOD",
                "LAST DATA BACKUP",
                "LAST FULL BACKUP",
                "LOG CHECKPOINT",
                "LOG DELAY(S)",
                "DATA BYTES",
                "LOG BYTES",
                "RECOVERABLE FROM",
            ]),
            problems: Table::new(&["STRATEGY", "CONDITION", "STATUS", "REASON", "MESSAGE"]),
            skipped: Table::new(&[
                "STRATEGY",
                "SKIPPED RUN DUE",
                "RUN",
                "TENANT",
                "REASON",
                "RECORDED",
            ]),
            copies: Table::new(&[
                "STRATEGY",
                "LAST VERIFIED",
                "VERIFIED SETS",
                "REPAIRED OBJECTS",
                "LOG CHECKPOINT",
                "LOG DELAY(S)",
            ]),
        }
    }

    /// A strategy's rows in each table.
    fn add(&mut self, strategy: &BackupStrategy, clock: &TimeFormat) {
        let name = strategy.name_any();
        let status = strategy.status.clone().unwrap_or_default();
        self.clusters.push(vec![
            name.clone(),
            strategy.spec.cluster.name.clone(),
            or_dash(status.phase.map(|p| format!("{p:?}"))),
            format!("{:?}", strategy.spec.method),
            or_dash(status.backup_size.clone()),
            clock.show(status.last_data_backup_time.as_ref()),
            clock.show(status.log_checkpoint_time.as_ref()),
            or_dash(status.log_delay_seconds),
            clock.show(status.next_full_backup_time.as_ref()),
        ]);
        self.add_tenants(&name, &status, clock);
        self.add_problems(&name, &status);
        for run in &status.skipped_runs {
            self.skipped.push(vec![
                name.clone(),
                clock.show(Some(&run.scheduled_at)),
                format!("{:?}", run.run),
                or_dash(run.tenant.clone()),
                format!("{:?}", run.reason),
                clock.show(Some(&run.recorded_at)),
            ]);
        }
        if let Some(second) = &status.second_backup {
            self.copies.push(vec![
                name.clone(),
                clock.show(second.last_verified_at.as_ref()),
                or_dash(second.verified_sets),
                or_dash(second.repaired_objects),
                clock.show(second.log_checkpoint_time.as_ref()),
                or_dash(second.log_delay_seconds),
            ]);
        }
    }

    fn add_tenants(&mut self, name: &str, status: &BackupStrategyStatus, clock: &TimeFormat) {
        for tenant in &status.tenants {
            self.tenants.push(vec![
                name.to_string(),
                tenant.name.clone(),
                or_dash(tenant.status.map(console_words)),
                or_dash(tenant.method.map(|m| format!("{m:?}"))),
                clock.show(tenant.last_data_backup_time.as_ref()),
                clock.show(tenant.last_full_backup_time.as_ref()),
                clock.show(tenant.log_checkpoint_time.as_ref()),
                or_dash(tenant.log_delay_seconds),
                or_dash(tenant.data_backup_bytes),
                or_dash(tenant.log_backup_bytes),
                clock.show(tenant.recoverable_windows.first().map(|w| &w.from)),
            ]);
        }
    }

    /// A row per tenant that no strategy covers (each once, whichever strategy reports it).
    fn add_uncovered(&mut self, strategies: &[BackupStrategy]) {
        let mut seen: Vec<(String, String)> = Vec::new();
        for strategy in strategies {
            let status = strategy.status.as_ref();
            for tenant in status.iter().flat_map(|s| &s.tenants_without_strategy) {
                let key = (strategy.spec.cluster.name.clone(), tenant.to_lowercase());
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let mut row = vec![
                    "-".to_string(),
                    tenant.clone(),
                    console_words(TenantBackupState::NoBackupStrategy),
                ];
                row.resize(self.tenants.headers.len(), "-".to_string());
                self.tenants.push(row);
            }
        }
    }

    fn add_problems(&mut self, name: &str, status: &BackupStrategyStatus) {
        for condition in &status.conditions {
            if unhealthy(&condition.type_, &condition.status) {
                self.problems.push(vec![
                    name.to_string(),
                    condition.type_.clone(),
                    condition.status.clone(),
                    condition.reason.clone(),
                    condition.message.clone(),
                ]);
            }
        }
    }

    /// The strategies' table, then each other table that has rows, after a blank line.
    fn render(&self, colour: bool) -> String {
        let mut text = self.clusters.render(colour);
        let tables = [&self.tenants, &self.problems, &self.copies, &self.skipped];
        let rest = crate::render::sections(tables, colour);
        if !rest.is_empty() {
            text.push('\n');
            text.push_str(&rest);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_shows_strategies_tenants_and_only_unhealthy_conditions() {
        let strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo"},
            "spec": {
                "cluster": {"name": "obcluster", "connectionSecret": "ob"},
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
            "status": {
                "phase": "InProgress", "backupSize": "1.0 GiB", "logDelaySeconds": 2,
                "lastDataBackupTime": "2026-11-24T19:28:14Z",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Scheduling", "message": "ok",
                     "lastTransitionTime": "2026-11-24T19:00:00Z"},
                    {"type": "Reconciling", "status": "False", "reason": "Scheduling", "message": "ok",
                     "lastTransitionTime": "2026-11-24T19:00:00Z"},
                    {"type": "LogBackupHealthy", "status": "False", "reason": "DelayOverThreshold",
                     "message": "tenant1 lags 900 s", "lastTransitionTime": "2026-11-24T19:00:00Z"},
                ],
                "tenantsWithoutStrategy": ["sandbox"],
                "skippedRuns": [{"scheduledAt": "2026-11-24T01:00:00Z", "run": "Full", "reason": "Missed",
                                 "recordedAt": "2026-11-24T03:00:00Z"}],
                "tenants": [{"name": "tenant1", "status": "InProgress", "method": "Physical",
                             "dataBackupBytes": 1073741824,
                             "recoverableWindows": [{"from": "2026-11-24T19:00:00Z", "to": "2026-11-24T19:30:00Z"}]}],
            },
        }))
        .expect("strategy");
        let text = overview(&[strategy], &TimeFormat::new(true), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("STRATEGY   CLUSTER     STATUS       METHOD"),
            "{text}"
        );
        assert!(
            lines[1].contains("InProgress   Physical   1.0 GiB       2026-11-24 19:28:14 UTC"),
            "{text}"
        );
        assert!(
            text.contains("tenant1   In Progress          Physical"),
            "{text}"
        );
        assert!(
            text.contains("-          sandbox   No Backup Strategy   -"),
            "the tenant no strategy covers: {text}"
        );
        assert!(text.contains("2026-11-24 19:00:00 UTC"), "{text}");
        assert!(
            text.contains("LogBackupHealthy   False    DelayOverThreshold   tenant1 lags 900 s"),
            "{text}"
        );
        assert!(
            text.contains(
                "demo       2026-11-24 01:00:00 UTC   Full   -        Missed   2026-11-24 03:00:00 UTC"
            ),
            "the skipped run: {text}"
        );
        assert!(
            !text.contains("Reconciling"),
            "healthy conditions are left out: {text}"
        );
        assert!(
            !text.contains("LAST VERIFIED"),
            "no second copy configured: {text}"
        );
    }
}
