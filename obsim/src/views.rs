//! The views a client can SELECT, generated from the model with the reference's exact column names and
//! order. A view is materialised per query; the engine then applies WHERE, ORDER BY and LIMIT.

use crate::{
    model::{Cluster, TenantType, Version},
    sql::{
        expr::civil,
        value::{Column, ColumnKind, Table, Value},
    },
};

/// The view of that name as the sys tenant sees it, if the cluster's version has it.
pub fn view(cluster: &Cluster, name: &str) -> Option<Table> {
    match name.to_uppercase().as_str() {
        "DBA_OB_TENANTS" => Some(tenants(cluster)),
        _ => None,
    }
}

fn columns(spec: &[(&str, ColumnKind)]) -> Vec<Column> {
    spec.iter()
        .map(|(name, kind)| Column::new(*name, *kind))
        .collect()
}

/// `DBA_OB_TENANTS` (reference §1.4). In sys it lists every tenant. `UNIT_NUM`, `COMPATIBLE` and `MAX_LS_ID`
/// are newer columns: the 4.4.1 profile has them, the 4.2.5 profile does not (first version unconfirmed).
fn tenants(cluster: &Cluster) -> Table {
    use ColumnKind::{DateTime, Int, Text, UInt};
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("TENANT_NAME", Text),
        ("TENANT_TYPE", Text),
        ("CREATE_TIME", DateTime),
        ("MODIFY_TIME", DateTime),
        ("PRIMARY_ZONE", Text),
        ("LOCALITY", Text),
        ("PREVIOUS_LOCALITY", Text),
        ("COMPATIBILITY_MODE", Text),
        ("STATUS", Text),
        ("IN_RECYCLEBIN", Text),
        ("LOCKED", Text),
        ("TENANT_ROLE", Text),
        ("SWITCHOVER_STATUS", Text),
        ("SWITCHOVER_EPOCH", Int),
        ("SYNC_SCN", UInt),
        ("REPLAYABLE_SCN", UInt),
        ("READABLE_SCN", UInt),
        ("RECOVERY_UNTIL_SCN", UInt),
        ("LOG_MODE", Text),
        ("ARBITRATION_SERVICE_STATUS", Text),
    ];
    let newer = cluster.version >= Version::V4_4_1;
    if newer {
        spec.extend([("UNIT_NUM", Int), ("COMPATIBLE", Text), ("MAX_LS_ID", Int)]);
    }
    let now = cluster.now();
    let scn = u64::try_from(now.as_nanosecond()).unwrap_or_default();
    let rows = cluster
        .tenants
        .iter()
        .map(|t| {
            let user = t.kind == TenantType::User;
            let user_scn = |v: u64| if user { Value::UInt(v) } else { Value::Null };
            let mut row = vec![
                Value::Int(t.id),
                Value::Text(t.name.clone()),
                Value::Text(t.kind.as_str().into()),
                Value::DateTime(civil(t.created)),
                Value::DateTime(civil(t.created)),
                Value::Text(t.primary_zone.clone()),
                Value::Text(t.locality.clone()),
                Value::Null,
                Value::Text("MYSQL".into()),
                Value::Text(t.status.into()),
                Value::Text("NO".into()),
                Value::Text("NO".into()),
                Value::Text(t.role.into()),
                Value::Text("NORMAL".into()),
                Value::Int(0),
                user_scn(scn),
                user_scn(scn),
                user_scn(scn),
                user_scn(u64::MAX),
                Value::Text(
                    if user && t.archive_log_mode {
                        "ARCHIVELOG"
                    } else {
                        "NOARCHIVELOG"
                    }
                    .into(),
                ),
                Value::Text("DISABLED".into()),
            ];
            if newer {
                row.extend([
                    Value::Int(1),
                    Value::Text(cluster.version.to_string()),
                    Value::Int(1001),
                ]);
            }
            row
        })
        .collect();
    Table {
        columns: columns(&spec),
        rows,
    }
}
