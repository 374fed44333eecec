//! The console's Second Data Backup and Second Log Backup tabs: each BackupTask's copy of its backup set
//! and each LogBackup's copy of its archive on the strategy's second destination, newest first, filtered
//! as the other tabs are — by the copy's own start and status.

use kube::ResourceExt;
use ob_backup_operator::api::{BackupTask, LogBackup};

use crate::{
    render::{Table, TimeFormat, or_dash},
    tasks::{Filter, Row, label},
};

/// The Second Data Backup tab's columns.
pub const SECOND_DATA_HEADERS: &[&str] = &[
    "NAME",
    "CLUSTER",
    "TENANT",
    "MODE",
    "BACKUP SET",
    "START",
    "END",
    "STORAGE DIRECTORY",
    "STATUS",
];

/// The Second Log Backup tab's columns.
pub const SECOND_LOG_HEADERS: &[&str] = &[
    "NAME",
    "CLUSTER",
    "TENANT",
    "START",
    "LAST BACKED UP AT",
    "DELAY(S)",
    "STORAGE DIRECTORY",
    "STATUS",
];

/// The copies of backup sets `filter` admits, newest first; tasks without a copy have no row.
pub fn second_data(tasks: &[BackupTask], filter: &Filter, clock: &TimeFormat) -> Table {
    let mut rows: Vec<(Option<jiff::Timestamp>, Vec<String>)> = tasks
        .iter()
        .filter_map(|task| {
            let status = task.status.as_ref()?;
            let copy = status.second_backup.as_ref()?;
            let started = copy.started_at.as_ref().map(|t| t.0);
            let row = Row {
                started,
                phase: label(copy.phase),
                tenant: &task.spec.tenant,
                clusters: status.cluster_name.clone().into_iter().collect(),
                backup_set: status.backup_set_id,
            };
            filter.admits_row(&row).then(|| {
                let cells = vec![
                    task.name_any(),
                    or_dash(status.cluster_name.clone()),
                    task.spec.tenant.clone(),
                    format!("{:?}", task.spec.mode),
                    or_dash(status.backup_set_id),
                    clock.show(copy.started_at.as_ref()),
                    clock.show(copy.ended_at.as_ref()),
                    or_dash(copy.storage_directory.clone()),
                    or_dash(label(copy.phase)),
                ];
                (started, cells)
            })
        })
        .collect();
    newest_first(&mut rows, SECOND_DATA_HEADERS)
}

/// The copies of archives `filter` admits, newest first; LogBackups without a copy have no row.
pub fn second_log(logs: &[LogBackup], filter: &Filter, clock: &TimeFormat) -> Table {
    let mut rows: Vec<(Option<jiff::Timestamp>, Vec<String>)> = logs
        .iter()
        .filter_map(|log| {
            let status = log.status.as_ref()?;
            let copy = status.second_backup.as_ref()?;
            let started = copy.started_at.as_ref().map(|t| t.0);
            let row = Row {
                started,
                phase: label(copy.phase),
                tenant: &log.spec.tenant,
                clusters: status.cluster_name.clone().into_iter().collect(),
                backup_set: None,
            };
            filter.admits_row(&row).then(|| {
                let cells = vec![
                    log.name_any(),
                    or_dash(status.cluster_name.clone()),
                    log.spec.tenant.clone(),
                    clock.show(copy.started_at.as_ref()),
                    clock.show(copy.checkpoint_time.as_ref()),
                    or_dash(copy.delay_seconds),
                    or_dash(copy.storage_directory.clone()),
                    or_dash(label(copy.phase)),
                ];
                (started, cells)
            })
        })
        .collect();
    newest_first(&mut rows, SECOND_LOG_HEADERS)
}

fn newest_first(
    rows: &mut [(Option<jiff::Timestamp>, Vec<String>)],
    headers: &[&'static str],
) -> Table {
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1[0].cmp(&b.1[0])));
    let mut table = Table::new(headers);
    for (_, cells) in rows.iter() {
        table.push(cells.clone());
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, copy: serde_json::Value) -> BackupTask {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": name},
            "spec": {"strategyRef": {"name": "s"}, "tenant": "tenant1", "mode": "Full"},
            "status": {"phase": "Completed", "clusterName": "ob", "backupSetId": 4, "secondBackup": copy},
        }))
        .expect("a task")
    }

    #[test]
    fn the_second_data_tab_shows_each_copy_by_its_own_start_and_status() {
        let tasks = [
            task(
                "old",
                serde_json::json!({"phase": "Completed", "startedAt": "2026-11-24T01:00:00Z",
                "endedAt": "2026-11-24T01:10:00Z", "storageDirectory": "s3://copy/tenant1/backup_set_4_full"}),
            ),
            task(
                "new",
                serde_json::json!({"phase": "Canceled", "startedAt": "2026-11-25T01:00:00Z"}),
            ),
        ];
        let clock = TimeFormat::new(true);
        let all = second_data(&tasks, &Filter::default(), &clock);
        let names: Vec<&str> = all.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["new", "old"]);
        assert_eq!(all.rows[1][7], "s3://copy/tenant1/backup_set_4_full");
        let canceled = Filter {
            status: Some("canceled".into()),
            ..Filter::default()
        };
        let shown = second_data(&tasks, &canceled, &clock);
        assert_eq!(shown.rows.len(), 1);
        assert_eq!(shown.rows[0][8], "Canceled");
    }
}
