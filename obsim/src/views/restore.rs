//! Restore and resource views (reference §6.1, §6.3). `CDB_OB_RESTORE_PROGRESS` / `_HISTORY` have two rows
//! per restore: the sys initiator job (TENANT_ID 1) and the job inside the new tenant; their `DBA_` forms in
//! sys show the sys rows. The progress view is a key/value pivot, so ids and SCNs are strings there.

use super::{bytes_display, columns, scn_display, time};
use crate::{
    model::{
        Cluster, Version,
        restore::{RestoreJob, RestorePhase},
    },
    sql::value::{ColumnKind, Table, Value},
};

fn text(v: impl ToString) -> Value {
    Value::Text(v.to_string())
}

fn int(v: u64) -> Value {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// (TENANT_ID, STATUS) of the rows a job shows: the sys row always, the tenant row once the tenant exists.
fn rows_of(job: &RestoreJob, history: bool) -> Vec<(i64, &'static str)> {
    let mut rows = vec![(
        1,
        if history {
            job.phase.history_status()
        } else {
            job.phase.sys_status()
        },
    )];
    if job.phase != RestorePhase::CreateTenant {
        rows.push((
            job.tenant_id,
            if history {
                job.phase.history_status()
            } else {
                job.phase.tenant_status()
            },
        ));
    }
    rows
}

/// `CDB_OB_RESTORE_PROGRESS` (`RESTORE_TYPE` in the 4.4.1 profile only — first version unconfirmed).
pub fn progress(cluster: &Cluster) -> Table {
    use ColumnKind::{DateTime, Int, Text};
    let newer = cluster.version >= Version::V4_4_1;
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("JOB_ID", Int),
        ("RESTORE_TENANT_NAME", Text),
        ("RESTORE_TENANT_ID", Text),
        ("BACKUP_TENANT_NAME", Text),
        ("BACKUP_TENANT_ID", Text),
        ("BACKUP_CLUSTER_NAME", Text),
        ("BACKUP_DEST", Text),
        ("RESTORE_OPTION", Text),
    ];
    if newer {
        spec.push(("RESTORE_TYPE", Text));
    }
    spec.extend([
        ("RESTORE_SCN", Text),
        ("RESTORE_SCN_DISPLAY", DateTime),
        ("STATUS", Text),
        ("START_TIMESTAMP", DateTime),
        ("BACKUP_SET_LIST", Text),
        ("BACKUP_PIECE_LIST", Text),
        ("TOTAL_BYTES", Int),
        ("TOTAL_BYTES_DISPLAY", Text),
        ("FINISH_BYTES", Int),
        ("FINISH_BYTES_DISPLAY", Text),
        ("DESCRIPTION", Text),
    ]);
    let mut rows = Vec::new();
    for job in &cluster.restores.jobs {
        for (tenant_id, status) in rows_of(job, false) {
            let mut row = vec![
                Value::Int(tenant_id),
                Value::Int(job.job_id),
                text(&job.tenant_name),
                text(job.tenant_id),
                text(&job.backup_tenant_name),
                text(job.backup_tenant_id),
                text(&job.backup_cluster_name),
                text(&job.backup_dest),
                text(&job.restore_option),
            ];
            if newer {
                row.push(text("FULL"));
            }
            row.extend([
                text(job.restore_scn),
                scn_display(job.restore_scn),
                text(status),
                time(Some(job.start)),
                text(&job.backup_set_list),
                text(&job.backup_piece_list),
                int(job.total_bytes),
                text(bytes_display(job.total_bytes)),
                int(job.finish_bytes),
                text(bytes_display(job.finish_bytes)),
                text(&job.description),
            ]);
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// `CDB_OB_RESTORE_HISTORY`: STATUS `SUCCESS` or `FAIL`, the reason in COMMENT.
pub fn history(cluster: &Cluster) -> Table {
    use ColumnKind::{DateTime, Int, Text, UInt};
    let newer = cluster.version >= Version::V4_4_1;
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("JOB_ID", Int),
        ("RESTORE_TENANT_NAME", Text),
        ("RESTORE_TENANT_ID", Int),
        ("BACKUP_TENANT_NAME", Text),
        ("BACKUP_TENANT_ID", Int),
        ("BACKUP_CLUSTER_NAME", Text),
        ("BACKUP_DEST", Text),
        ("RESTORE_SCN", UInt),
        ("RESTORE_SCN_DISPLAY", DateTime),
        ("RESTORE_OPTION", Text),
    ];
    if newer {
        spec.push(("RESTORE_TYPE", Text));
    }
    spec.extend([
        ("START_TIMESTAMP", DateTime),
        ("FINISH_TIMESTAMP", DateTime),
        ("STATUS", Text),
        ("BACKUP_PIECE_LIST", Text),
        ("BACKUP_SET_LIST", Text),
        ("BACKUP_CLUSTER_VERSION", Text),
        ("LS_COUNT", Int),
        ("FINISH_LS_COUNT", Int),
        ("TABLET_COUNT", Int),
        ("FINISH_TABLET_COUNT", Int),
        ("TOTAL_BYTES", Int),
        ("TOTAL_BYTES_DISPLAY", Text),
        ("FINISH_BYTES", Int),
        ("FINISH_BYTES_DISPLAY", Text),
        ("DESCRIPTION", Text),
        ("COMMENT", Text),
    ]);
    let mut rows = Vec::new();
    for job in &cluster.restores.history {
        let success = job.phase == RestorePhase::Success;
        let tablets = (job.total_bytes / (1 << 30) * 100).max(10);
        let finished_tablets = tablets * job.finish_bytes / job.total_bytes.max(1);
        for (tenant_id, status) in rows_of(job, true) {
            let mut row = vec![
                Value::Int(tenant_id),
                Value::Int(job.job_id),
                text(&job.tenant_name),
                Value::Int(job.tenant_id),
                text(&job.backup_tenant_name),
                Value::Int(job.backup_tenant_id),
                text(&job.backup_cluster_name),
                text(&job.backup_dest),
                Value::UInt(job.restore_scn),
                scn_display(job.restore_scn),
                text(&job.restore_option),
            ];
            if newer {
                row.push(text("FULL"));
            }
            row.extend([
                time(Some(job.start)),
                time(job.finish),
                text(status),
                text(&job.backup_piece_list),
                text(&job.backup_set_list),
                text(&job.backup_cluster_version),
                Value::Int(1),
                Value::Int(i64::from(success)),
                int(tablets),
                int(finished_tablets),
                int(job.total_bytes),
                text(bytes_display(job.total_bytes)),
                int(job.finish_bytes),
                text(bytes_display(job.finish_bytes)),
                text(&job.description),
                text(&job.comment),
            ]);
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// `DBA_OB_UNIT_CONFIGS` (sys): `UNIT_CONFIG_ID, NAME, MAX_CPU, MEMORY_SIZE, LOG_DISK_SIZE`.
pub fn unit_configs(cluster: &Cluster) -> Table {
    use ColumnKind::{Int, Text};
    let rows = cluster
        .restores
        .units
        .iter()
        .zip(1001..)
        .map(|(u, id)| {
            vec![
                Value::Int(id),
                text(&u.name),
                text(&u.max_cpu),
                text(&u.memory_size),
                u.log_disk_size.as_ref().map_or(Value::Null, text),
            ]
        })
        .collect();
    Table {
        columns: columns(&[
            ("UNIT_CONFIG_ID", Int),
            ("NAME", Text),
            ("MAX_CPU", Text),
            ("MEMORY_SIZE", Text),
            ("LOG_DISK_SIZE", Text),
        ]),
        rows,
    }
}

/// `DBA_OB_RESOURCE_POOLS` (sys): `RESOURCE_POOL_ID, NAME, TENANT_ID, UNIT_COUNT, UNIT_CONFIG_NAME, ZONE_LIST`
/// (TENANT_ID NULL while the pool is free).
pub fn resource_pools(cluster: &Cluster) -> Table {
    use ColumnKind::{Int, Text};
    let rows = cluster
        .restores
        .pools
        .iter()
        .zip(1001..)
        .map(|(p, id)| {
            vec![
                Value::Int(id),
                text(&p.name),
                p.tenant_id.map_or(Value::Null, Value::Int),
                Value::Int(p.unit_num),
                text(&p.unit),
                text(p.zones.join(";")),
            ]
        })
        .collect();
    Table {
        columns: columns(&[
            ("RESOURCE_POOL_ID", Int),
            ("NAME", Text),
            ("TENANT_ID", Int),
            ("UNIT_COUNT", Int),
            ("UNIT_CONFIG_NAME", Text),
            ("ZONE_LIST", Text),
        ]),
        rows,
    }
}
