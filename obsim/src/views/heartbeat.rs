//! `HEARTBEAT`: a small table in every user tenant standing for what an application writes, so that a
//! restore's data can be checked for how fresh it is (issue 36's restore drills). A tenant an application
//! writes to — any tenant obsim starts with or a client creates — shows one row whose `TS` is the last whole
//! second of simulated time, as if a writer updated it every second. A tenant made by a restore holds the
//! data of its restore point and nobody writes to it: its `TS` is the last whole second at or before that
//! point, whatever the time now. It is obsim's own table, not an OceanBase view: no real schema declares it.

use crate::{
    model::{Cluster, TenantType},
    sql::{
        expr::civil,
        value::{Column, ColumnKind, Table, Value},
    },
};

/// The table's name (any database qualifier is accepted).
pub const TABLE: &str = "HEARTBEAT";

/// The heartbeat of tenant `tenant_id`, or `None` for the sys and meta tenants.
pub fn table(cluster: &Cluster, tenant_id: i64) -> Option<Table> {
    let tenant = cluster
        .tenants
        .iter()
        .find(|t| t.id == tenant_id && t.kind == TenantType::User)?;
    let newest = tenant.data_as_of.unwrap_or_else(|| cluster.now());
    let newest = jiff::Timestamp::from_second(newest.as_second()).ok()?;
    Some(Table {
        columns: vec![
            Column::new("ID", ColumnKind::Int),
            Column::new("TS", ColumnKind::DateTime),
        ],
        rows: vec![vec![Value::Int(1), Value::DateTime(civil(newest))]],
    })
}
