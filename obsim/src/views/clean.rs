//! Cleanup views (docs/reference/oceanbase-interface.md §5.3), as `CDB_` tables with a leading
//! `TENANT_ID`: `*_OB_BACKUP_DELETE_POLICY`, `*_OB_BACKUP_DELETE_JOBS` / `_JOB_HISTORY`,
//! `*_OB_BACKUP_DELETE_TASKS` / `_TASK_HISTORY`.

use super::{columns, time, user_tenants};
use crate::{
    model::{Cluster, clean::DeleteJob},
    sql::value::{ColumnKind, Table, Value},
};

/// `CDB_OB_BACKUP_DELETE_POLICY`: `TENANT_ID, POLICY_NAME, RECOVERY_WINDOW`.
pub fn policy(cluster: &Cluster) -> Table {
    let rows = user_tenants(cluster)
        .filter_map(|t| {
            let policy = t.clean.policy.as_ref()?;
            Some(vec![
                Value::Int(t.id),
                Value::Text(policy.name.clone()),
                Value::Text(policy.recovery_window.clone()),
            ])
        })
        .collect();
    Table {
        columns: columns(&[
            ("TENANT_ID", ColumnKind::Int),
            ("POLICY_NAME", ColumnKind::Text),
            ("RECOVERY_WINDOW", ColumnKind::Text),
        ]),
        rows,
    }
}

fn jobs_of(cluster: &Cluster, history: bool) -> impl Iterator<Item = &DeleteJob> {
    user_tenants(cluster).flat_map(move |t| {
        if history {
            &t.clean.history
        } else {
            &t.clean.jobs
        }
    })
}

/// `CDB_OB_BACKUP_DELETE_JOBS` or `_JOB_HISTORY`. `PARAMETER` goes through `USEC_TO_TIME` like the view
/// definition, so a set or piece id shows as a 1970 time (§5.3).
pub fn jobs(cluster: &Cluster, history: bool) -> Table {
    use ColumnKind::{DateTime, Int, Text};
    let spec = [
        ("TENANT_ID", Int),
        ("JOB_ID", Int),
        ("INCARNATION", Int),
        ("INITIATOR_TENANT_ID", Int),
        ("INITIATOR_JOB_ID", Int),
        ("EXECUTOR_TENANT_ID", Text),
        ("TYPE", Text),
        ("PARAMETER", DateTime),
        ("JOB_LEVEL", Text),
        ("START_TIMESTAMP", DateTime),
        ("END_TIMESTAMP", DateTime),
        ("STATUS", Text),
        ("TASK_COUNT", Int),
        ("SUCCESS_TASK_COUNT", Int),
        ("RESULT", Int),
        ("COMMENT", Text),
    ];
    let rows = jobs_of(cluster, history)
        .map(|j| {
            let succeeded = j
                .tasks
                .iter()
                .filter(|t| t.status.as_str() == "COMPLETED")
                .count();
            vec![
                Value::Int(j.tenant_id),
                Value::Int(j.job_id),
                Value::Int(1),
                Value::Int(j.initiator_tenant_id),
                Value::Int(j.initiator_job_id),
                Value::Text(j.tenant_id.to_string()),
                Value::Text(j.kind.into()),
                parameter(cluster, j.parameter),
                Value::Text("USER_TENANT".into()),
                time(Some(j.start)),
                time(j.end),
                Value::Text(j.status.as_str().into()),
                Value::Int(j.tasks.len() as i64),
                Value::Int(succeeded as i64),
                Value::Int(j.result),
                Value::Text(j.comment.clone()),
            ]
        })
        .collect();
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// `CDB_OB_BACKUP_DELETE_TASKS` or `_TASK_HISTORY`: the tasks of the jobs in the matching job table.
pub fn tasks(cluster: &Cluster, history: bool) -> Table {
    use ColumnKind::{DateTime, Int, Text};
    let spec = [
        ("TENANT_ID", Int),
        ("TASK_ID", Int),
        ("INCARNATION", Int),
        ("JOB_ID", Int),
        ("TASK_TYPE", Text),
        ("ID", Int),
        ("ROUND_ID", Int),
        ("DEST_ID", Int),
        ("START_TIMESTAMP", DateTime),
        ("END_TIMESTAMP", DateTime),
        ("STATUS", Text),
        ("TOTAL_LS_COUNT", Int),
        ("FINISH_LS_COUNT", Int),
        ("RESULT", Int),
        ("COMMENT", Text),
        ("PATH", Text),
    ];
    let mut rows = Vec::new();
    for job in jobs_of(cluster, history) {
        for task in &job.tasks {
            let done = task.status.as_str() == "COMPLETED";
            rows.push(vec![
                Value::Int(job.tenant_id),
                Value::Int(task.task_id),
                Value::Int(1),
                Value::Int(job.job_id),
                Value::Text(task.task_type.into()),
                Value::Int(task.id),
                Value::Int(task.round_id),
                Value::Int(task.dest_id),
                time(task.start),
                time(task.end),
                Value::Text(task.status.as_str().into()),
                Value::Int(1),
                Value::Int(i64::from(done)),
                Value::Int(if task.status.as_str() == "CANCELED" {
                    -4072
                } else {
                    0
                }),
                Value::Text(String::new()),
                Value::Text(task.path.clone()),
            ]);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// A delete job's `PARAMETER`: the older schema's view shows `USEC_TO_TIME(PARAMETER)` (a time,
/// also for a set or piece id), the newest's is a varchar (docs/reference/oceanbase-interface.md
/// §14), where obsim writes the stored number — what a real server writes there is not in the
/// ground truth.
fn parameter(cluster: &Cluster, stored: i64) -> Value {
    match super::schema_of(cluster.version) {
        crate::schema::Schema::Older => time(jiff::Timestamp::from_microsecond(stored).ok()),
        crate::schema::Schema::Newest => Value::Text(stored.to_string()),
    }
}
