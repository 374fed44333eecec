//! Data backup views: `*_OB_BACKUP_JOBS` / `_JOB_HISTORY`, `*_OB_BACKUP_TASKS` / `_TASK_HISTORY`,
//! `*_OB_BACKUP_SET_FILES` (docs/reference/oceanbase-interface.md §4.4), as `CDB_` tables with a
//! leading `TENANT_ID`.

use super::{TenantType, columns, scn_display, time};
use crate::{
    model::{
        Cluster, Version,
        backup::{BackupJob, phase},
    },
    sql::{
        expr::civil,
        value::{ColumnKind, Table, Value},
    },
};

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// An opaque digest standing in for the stored (encrypted) backup password.
fn passwd(password: Option<&str>) -> Value {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    match password {
        None => Value::Text(String::new()),
        Some(p) => Value::Text(format!(
            "{:016X}",
            BuildHasherDefault::<DefaultHasher>::default().hash_one(p)
        )),
    }
}

fn jobs_of(cluster: &Cluster, history: bool) -> impl Iterator<Item = &BackupJob> {
    cluster
        .tenants
        .iter()
        .filter(|t| t.kind != TenantType::Meta)
        .flat_map(move |t| {
            if history {
                &t.backups.history
            } else {
                &t.backups.jobs
            }
        })
}

/// `CDB_OB_BACKUP_JOBS` or `CDB_OB_BACKUP_JOB_HISTORY`.
pub fn jobs(cluster: &Cluster, history: bool) -> Table {
    use ColumnKind::{DateTime, Int, Text};
    let spec = [
        ("TENANT_ID", Int),
        ("JOB_ID", Int),
        ("INCARNATION", Int),
        ("BACKUP_SET_ID", Int),
        ("INITIATOR_TENANT_ID", Int),
        ("INITIATOR_JOB_ID", Int),
        ("EXECUTOR_TENANT_ID", Text),
        ("PLUS_ARCHIVELOG", Text),
        ("BACKUP_TYPE", Text),
        ("JOB_LEVEL", Text),
        ("ENCRYPTION_MODE", Text),
        ("PASSWD", Text),
        ("START_TIMESTAMP", DateTime),
        ("END_TIMESTAMP", DateTime),
        ("STATUS", Text),
        ("RESULT", Int),
        ("COMMENT", Text),
        ("DESCRIPTION", Text),
        ("PATH", Text),
    ];
    let rows = jobs_of(cluster, history)
        .map(|j| {
            vec![
                Value::Int(j.tenant_id),
                Value::Int(j.job_id),
                Value::Int(1),
                Value::Int(j.backup_set_id),
                Value::Int(j.initiator_tenant_id),
                Value::Int(j.initiator_job_id),
                Value::Text(j.executor_tenant_ids.clone()),
                Value::Text(if j.plus_archivelog { "ON" } else { "OFF" }.into()),
                Value::Text(if j.incremental { "INC" } else { "FULL" }.into()),
                Value::Text(j.level.into()),
                Value::Text(if j.encrypted { "PASSWORD" } else { "NONE" }.into()),
                passwd(j.password.as_deref()),
                time(Some(j.start)),
                time(j.end),
                Value::Text(j.status.as_str().into()),
                Value::Int(j.result),
                Value::Text(j.comment.clone()),
                Value::Text(j.description.clone()),
                Value::Text(j.path.clone()),
            ]
        })
        .collect();
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// `CDB_OB_BACKUP_TASKS` or `CDB_OB_BACKUP_TASK_HISTORY`: one task per job and backup set.
pub fn tasks(cluster: &Cluster, history: bool) -> Table {
    use ColumnKind::{DateTime, Int, Text, UInt};
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("TASK_ID", Int),
        ("JOB_ID", Int),
        ("INCARNATION", Int),
        ("BACKUP_SET_ID", Int),
        ("START_TIMESTAMP", DateTime),
        ("END_TIMESTAMP", DateTime),
        ("STATUS", Text),
        ("START_SCN", UInt),
        ("END_SCN", UInt),
        ("USER_LS_START_SCN", UInt),
        ("ENCRYPTION_MODE", Text),
        ("PASSWD", Text),
    ];
    spec.extend(PROGRESS_COLUMNS);
    spec.extend([
        ("RESULT", Int),
        ("COMMENT", Text),
        ("PATH", Text),
        ("MINOR_TURN_ID", Int),
        ("MAJOR_TURN_ID", Int),
    ]);
    let mut rows = Vec::new();
    for tenant in cluster
        .tenants
        .iter()
        .filter(|t| t.kind == TenantType::User)
    {
        let jobs = if history {
            &tenant.backups.history
        } else {
            &tenant.backups.jobs
        };
        for job in jobs {
            let Some(set) = tenant
                .backups
                .sets
                .iter()
                .find(|s| s.backup_set_id == job.backup_set_id)
            else {
                continue;
            };
            let elapsed = job
                .end
                .unwrap_or(job.start)
                .duration_since(job.start)
                .as_secs_f64();
            let rate = if job.end.is_some() && elapsed > 0.0 {
                set.output_bytes as f64 / elapsed
            } else {
                0.0
            };
            let mut row = vec![
                Value::Int(tenant.id),
                Value::Int(job.job_id),
                Value::Int(job.job_id),
                Value::Int(1),
                Value::Int(job.backup_set_id),
                time(Some(job.start)),
                time(job.end),
                Value::Text(phase(job).into()),
                Value::UInt(set.start_replay_scn),
                Value::UInt(set.min_restore_scn),
                Value::UInt(set.start_replay_scn),
                Value::Text(if job.encrypted { "PASSWORD" } else { "NONE" }.into()),
                passwd(job.password.as_deref()),
            ];
            row.extend(progress(set, rate));
            row.extend([
                Value::Int(job.result),
                Value::Text(job.comment.clone()),
                Value::Text(set.path.clone()),
                Value::Int(1),
                Value::Int(1),
            ]);
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// Columns tasks and set files share, `INPUT_BYTES` through `DATA_TURN_ID` (filled by [`progress`]).
const PROGRESS_COLUMNS: [(&str, ColumnKind); 11] = [
    ("INPUT_BYTES", ColumnKind::Int),
    ("OUTPUT_BYTES", ColumnKind::Int),
    ("OUTPUT_RATE_BYTES", ColumnKind::Decimal),
    ("EXTRA_META_BYTES", ColumnKind::Int),
    ("TABLET_COUNT", ColumnKind::Int),
    ("FINISH_TABLET_COUNT", ColumnKind::Int),
    ("MACRO_BLOCK_COUNT", ColumnKind::Int),
    ("FINISH_MACRO_BLOCK_COUNT", ColumnKind::Int),
    ("FILE_COUNT", ColumnKind::Int),
    ("META_TURN_ID", ColumnKind::Int),
    ("DATA_TURN_ID", ColumnKind::Int),
];

/// The values of [`PROGRESS_COLUMNS`].
fn progress(set: &crate::model::backup::BackupSet, rate: f64) -> [Value; 11] {
    [
        int(set.input_bytes),
        int(set.output_bytes),
        Value::Decimal((rate * 10_000.0).round() / 10_000.0),
        Value::Int(0),
        int(set.tablet_count),
        int(set.finish_tablet_count),
        int(set.tablet_count * 16),
        int(set.finish_tablet_count * 16),
        int(set.finish_tablet_count.div_ceil(8)),
        Value::Int(1),
        Value::Int(1),
    ]
}

/// `CDB_OB_BACKUP_SET_FILES`, with the real misspelled `ELAPSED_SECONDES`. `CLUSTER_VERSION`,
/// `CONSISTENT_SCN`, `MINOR_TURN_ID` and `MAJOR_TURN_ID` are newer: only the 4.4.1 profile has them.
pub fn set_files(cluster: &Cluster) -> Table {
    use ColumnKind::{DateTime, Decimal, Int, Text, UInt};
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("BACKUP_SET_ID", Int),
        ("DEST_ID", Int),
        ("INCARNATION", Int),
        ("BACKUP_TYPE", Text),
        ("PREV_FULL_BACKUP_SET_ID", Int),
        ("PREV_INC_BACKUP_SET_ID", Int),
        ("START_TIMESTAMP", DateTime),
        ("END_TIMESTAMP", Text),
        ("STATUS", Text),
        ("FILE_STATUS", Text),
        ("ELAPSED_SECONDES", Decimal),
        ("PLUS_ARCHIVELOG", Text),
        ("START_REPLAY_SCN", UInt),
        ("START_REPLAY_SCN_DISPLAY", Text),
        ("MIN_RESTORE_SCN", UInt),
        ("MIN_RESTORE_SCN_DISPLAY", Text),
    ];
    spec.extend(PROGRESS_COLUMNS);
    spec.extend([
        ("RESULT", Int),
        ("COMMENT", Text),
        ("ENCRYPTION_MODE", Text),
        ("PASSWD", Text),
        ("TENANT_COMPATIBLE", Text),
        ("BACKUP_COMPATIBLE", Int),
        ("PATH", Text),
    ]);
    let newer = cluster.version >= Version::V4_4_1;
    if newer {
        spec.extend([
            ("CLUSTER_VERSION", Text),
            ("CONSISTENT_SCN", UInt),
            ("MINOR_TURN_ID", Int),
            ("MAJOR_TURN_ID", Int),
        ]);
    }
    let text_display = |scn: u64| match scn_display(scn) {
        Value::DateTime(t) => Value::Text(t.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        other => other,
    };
    let mut rows = Vec::new();
    for tenant in cluster
        .tenants
        .iter()
        .filter(|t| t.kind == TenantType::User)
    {
        for set in &tenant.backups.sets {
            let elapsed = set.end.map_or(0.0, |end| {
                end.duration_since(set.start).as_secs_f64().round()
            });
            let rate = if elapsed > 0.0 {
                set.output_bytes as f64 / elapsed
            } else {
                0.0
            };
            let mut row = vec![
                Value::Int(tenant.id),
                Value::Int(set.backup_set_id),
                Value::Int(set.dest_id),
                Value::Int(1),
                Value::Text(if set.incremental { "INC" } else { "FULL" }.into()),
                Value::Int(set.prev_full_backup_set_id),
                Value::Int(set.prev_inc_backup_set_id),
                time(Some(set.start)),
                set.end.map_or(Value::Null, |e| {
                    Value::Text(civil(e).strftime("%Y-%m-%d %H:%M:%S%.6f").to_string())
                }),
                Value::Text(set.status.into()),
                Value::Text(set.file_status.into()),
                Value::Decimal(elapsed),
                Value::Text(if set.plus_archivelog { "ON" } else { "OFF" }.into()),
                Value::UInt(set.start_replay_scn),
                text_display(set.start_replay_scn),
                Value::UInt(set.min_restore_scn),
                text_display(set.min_restore_scn),
            ];
            row.extend(progress(set, rate));
            row.extend([
                Value::Int(set.result),
                Value::Text(set.comment.clone()),
                Value::Text(if set.encrypted { "PASSWORD" } else { "NONE" }.into()),
                Value::Text(String::new()),
                Value::Text(cluster.version.to_string()),
                Value::Int(1),
                Value::Text(set.path.clone()),
            ]);
            if newer {
                row.extend([
                    Value::Text(cluster.version.to_string()),
                    Value::UInt(set.min_restore_scn),
                    Value::Int(1),
                    Value::Int(1),
                ]);
            }
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}
