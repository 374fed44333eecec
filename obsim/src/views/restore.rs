//! Restore and resource views (docs/reference/oceanbase-interface.md §6.1, §6.3).
//! `CDB_OB_RESTORE_PROGRESS` / `_HISTORY` have two rows per restore: the sys initiator job
//! (TENANT_ID 1) and the job inside the new tenant; their `DBA_` forms in sys show the sys rows.
//! The progress view is a key/value pivot, so ids and SCNs are strings there.

use super::{bytes_display, columns, scn_display, time};
use crate::{
    model::{
        Cluster, TenantType, Version,
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
        ("BACKUP_CLUSTER_VERSION", Int),
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
                int(job.backup_cluster_version),
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

/// `DBA_OB_UNIT_CONFIGS` (sys): the unit configs, CPUs as doubles and sizes in bytes (IOPS and bandwidth
/// columns are not modelled and show 0).
pub fn unit_configs(cluster: &Cluster) -> Table {
    use ColumnKind::{Decimal, Int, Text};
    let rows = cluster
        .restores
        .units
        .iter()
        .zip(1001..)
        .map(|(u, id)| {
            vec![
                Value::Int(id),
                text(&u.name),
                Value::Decimal(u.max_cpu),
                Value::Decimal(u.min_cpu),
                Value::Int(u.memory_size),
                Value::Int(u.log_disk_size),
            ]
        })
        .collect();
    Table {
        columns: columns(&[
            ("UNIT_CONFIG_ID", Int),
            ("NAME", Text),
            ("MAX_CPU", Decimal),
            ("MIN_CPU", Decimal),
            ("MEMORY_SIZE", Int),
            ("LOG_DISK_SIZE", Int),
        ]),
        rows,
    }
}

/// `DBA_OB_RESOURCE_POOLS` (sys): each pool with its unit config's id; a pool granted to no tenant shows
/// `TENANT_ID` -1 (the column is NOT NULL; the value is a guess).
pub fn resource_pools(cluster: &Cluster) -> Table {
    use ColumnKind::{Int, Text};
    let config_id = |unit: &str| {
        cluster
            .restores
            .units
            .iter()
            .zip(1001..)
            .find(|(u, _)| u.name.eq_ignore_ascii_case(unit))
            .map_or(Value::Int(-1), |(_, id)| Value::Int(id))
    };
    let rows = cluster
        .restores
        .pools
        .iter()
        .zip(1001..)
        .map(|(p, id)| {
            vec![
                Value::Int(id),
                text(&p.name),
                Value::Int(p.tenant_id.unwrap_or(-1)),
                Value::Int(p.unit_num),
                config_id(&p.unit),
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
            ("UNIT_CONFIG_ID", Int),
            ("ZONE_LIST", Text),
        ]),
        rows,
    }
}

/// `DBA_OB_UNITS` (sys): a unit of every sys and user tenant on each of the cluster's servers, one zone per
/// server (`zone1`, `zone2`, …). A meta tenant shares its user tenant's units and has no row of its own.
pub fn units(cluster: &Cluster) -> Table {
    use ColumnKind::{Int, Text};
    let mut rows = Vec::new();
    let tenants = cluster
        .tenants
        .iter()
        .filter(|t| t.kind != TenantType::Meta);
    for (tenant, group) in tenants.zip(1000..) {
        for (index, server) in cluster.servers.iter().enumerate() {
            let (ip, port) = server.rsplit_once(':').unwrap_or((server, "0"));
            let unit_id = 1000 * group + i64::try_from(index).unwrap_or_default();
            rows.push(vec![
                Value::Int(unit_id),
                Value::Int(tenant.id),
                text("ACTIVE"),
                Value::Int(group),
                text(format!("zone{}", index + 1)),
                text(ip),
                Value::Int(port.parse().unwrap_or_default()),
            ]);
        }
    }
    Table {
        columns: columns(&[
            ("UNIT_ID", Int),
            ("TENANT_ID", Int),
            ("STATUS", Text),
            ("RESOURCE_POOL_ID", Int),
            ("ZONE", Text),
            ("SVR_IP", Text),
            ("SVR_PORT", Int),
        ]),
        rows,
    }
}
