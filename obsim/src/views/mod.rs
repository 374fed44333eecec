//! The views a client can SELECT, generated from the model with the real servers' exact column
//! names and order. A view is materialised per query; the engine then applies WHERE, ORDER BY and
//! LIMIT.

mod backup;
mod clean;
pub mod heartbeat;
pub mod parameters;
mod restore;

use crate::{
    model::{Cluster, TenantType, Version, archive::MAX_SCN},
    schema::{ColumnDesc, Schema},
    sql::{
        expr::civil,
        value::{Column, ColumnKind, SqlType, Table, Value},
    },
    tenancy::{self, SYS_TENANT_ID},
};

/// The view of that name as a session of tenant `tenant_id` sees it, if the cluster's version has
/// it and the tenant has it. `CDB_` views (sys only) show every tenant with a leading `TENANT_ID`;
/// `DBA_` views show the session's tenant only, without it (docs/reference/oceanbase-interface.md
/// §1.3) — except `DBA_OB_TENANTS`, which lists every tenant in sys and only itself in a user
/// tenant.
pub fn view(cluster: &Cluster, name: &str, tenant_id: i64) -> Option<Table> {
    let upper = name.to_uppercase();
    if !tenancy::has_view(tenant_id, &upper) {
        return None;
    }
    if upper == heartbeat::TABLE {
        // obsim's own table, standing for an application's (see the module).
        return heartbeat::table(cluster, tenant_id);
    }
    if upper == parameters::VIEW {
        // Not in the schema files (see the module): served with the columns it declares itself.
        return Some(parameters::table(cluster, tenant_id));
    }
    let table = built(cluster, &upper, tenant_id)?;
    // The embedded schema files always read (a test says so); were they broken, the view would be unknown.
    let real = crate::schema::views(schema_of(cluster.version))
        .ok()?
        .get(&upper)?;
    Some(conform(table, real))
}

/// The schema a version serves (docs/reference/oceanbase-interface.md §14): the newest from 4.4.1 —
/// its delete jobs' `PARAMETER` is a varchar, which manual cleanup by backup set or piece id needs
/// — and the older one before.
pub fn schema_of(version: Version) -> Schema {
    if version >= Version::V4_4_1 {
        Schema::Newest
    } else {
        Schema::Older
    }
}

/// `table` (obsim's columns, by name) as the real view declares it: exactly the real columns, in their order,
/// with their types and nullability. A column obsim does not model gets what a real server shows for an
/// unset value (NULL where the column allows it, else zero or empty); a column the real view lacks is dropped.
fn conform(table: Table, real: &[ColumnDesc]) -> Table {
    let sources: Vec<Option<usize>> = real.iter().map(|c| table.column_index(&c.name)).collect();
    let columns: Vec<Column> = real
        .iter()
        .map(|c| match SqlType::parse(&c.ty) {
            Some(ty) => Column::declared(c.name.clone(), ty, c.nullable),
            // Every type in the files parses (a test says so).
            None => Column::new(c.name.clone(), ColumnKind::Text),
        })
        .collect();
    let rows = table
        .rows
        .into_iter()
        .map(|row| {
            columns
                .iter()
                .zip(&sources)
                .map(|(column, source)| match source.and_then(|i| row.get(i)) {
                    Some(value) => fitted(column, value.clone()),
                    None => unset(column),
                })
                .collect()
        })
        .collect();
    Table { columns, rows }
}

/// A value in its column's class where that loses nothing (a number sent as text, an integer in a decimal).
fn fitted(column: &Column, value: Value) -> Value {
    match (column.kind, &value) {
        (ColumnKind::Int, Value::Text(_) | Value::UInt(_)) => value
            .as_integer()
            .and_then(|v| i64::try_from(v).ok())
            .map_or(value, Value::Int),
        (ColumnKind::UInt, Value::Text(_) | Value::Int(_)) => value
            .as_integer()
            .and_then(|v| u64::try_from(v).ok())
            .map_or(value, Value::UInt),
        (ColumnKind::Decimal, Value::Int(_) | Value::UInt(_) | Value::Text(_)) => {
            value.as_float().map_or(value, Value::Decimal)
        }
        (ColumnKind::Text, Value::Int(_) | Value::UInt(_) | Value::Decimal(_)) => {
            Value::Text(value.to_string())
        }
        _ => value,
    }
}

/// What a column obsim does not model shows.
fn unset(column: &Column) -> Value {
    if column.nullable {
        return Value::Null;
    }
    match column.kind {
        ColumnKind::Int => Value::Int(0),
        ColumnKind::UInt => Value::UInt(0),
        ColumnKind::Decimal => Value::Decimal(0.0),
        ColumnKind::Text => Value::Text(String::new()),
        ColumnKind::DateTime => Value::DateTime(civil(jiff::Timestamp::UNIX_EPOCH)),
    }
}

/// The view as obsim builds it from the model, before [`conform`].
fn built(cluster: &Cluster, upper: &str, tenant_id: i64) -> Option<Table> {
    match upper {
        "DBA_OB_TENANTS" if tenant_id == SYS_TENANT_ID => return Some(tenants(cluster)),
        "DBA_OB_TENANTS" => {
            let mut table = tenants(cluster);
            table
                .rows
                .retain(|r| r.first() == Some(&Value::Int(tenant_id)));
            return Some(table);
        }
        "DBA_OB_UNITS" => return Some(restore::units(cluster)),
        "DBA_OB_UNIT_CONFIGS" => return Some(restore::unit_configs(cluster)),
        "DBA_OB_RESOURCE_POOLS" => return Some(restore::resource_pools(cluster)),
        _ => {}
    }
    let (cdb, base) = match (upper.strip_prefix("CDB_"), upper.strip_prefix("DBA_")) {
        (Some(rest), _) => (true, rest.to_string()),
        (None, Some(rest)) => (false, rest.to_string()),
        _ => return None,
    };
    let table = match base.as_str() {
        "OB_BACKUP_PARAMETER" => backup_parameter(cluster),
        "OB_ARCHIVE_DEST" => archive_dest(cluster),
        "OB_ARCHIVELOG" => archivelog(cluster, false),
        "OB_ARCHIVELOG_SUMMARY" => archivelog(cluster, true),
        "OB_ARCHIVELOG_PIECE_FILES" => piece_files(cluster),
        "OB_BACKUP_JOBS" => backup::jobs(cluster, false),
        "OB_BACKUP_JOB_HISTORY" => backup::jobs(cluster, true),
        "OB_BACKUP_TASKS" => backup::tasks(cluster, false),
        "OB_BACKUP_TASK_HISTORY" => backup::tasks(cluster, true),
        "OB_BACKUP_SET_FILES" => backup::set_files(cluster),
        "OB_BACKUP_DELETE_POLICY" => clean::policy(cluster),
        "OB_BACKUP_DELETE_JOBS" => clean::jobs(cluster, false),
        "OB_BACKUP_DELETE_JOB_HISTORY" => clean::jobs(cluster, true),
        "OB_BACKUP_DELETE_TASKS" => clean::tasks(cluster, false),
        "OB_BACKUP_DELETE_TASK_HISTORY" => clean::tasks(cluster, true),
        "OB_RESTORE_PROGRESS" => restore::progress(cluster),
        "OB_RESTORE_HISTORY" => restore::history(cluster),
        _ => return None,
    };
    Some(if cdb {
        table
    } else {
        own_rows(table, tenant_id)
    })
}

/// The `DBA_` form of a `CDB_` table in a tenant: that tenant's own rows, without `TENANT_ID`.
fn own_rows(table: Table, tenant_id: i64) -> Table {
    Table {
        columns: table.columns[1..].to_vec(),
        rows: table
            .rows
            .into_iter()
            .filter(|r| r.first() == Some(&Value::Int(tenant_id)))
            .map(|r| r[1..].to_vec())
            .collect(),
    }
}

/// `*_SCN_DISPLAY`: `SCN_TO_TIMESTAMP(scn)`, NULL when the SCN is 0 (§0.3).
pub fn scn_display(scn: u64) -> Value {
    if scn == 0 {
        return Value::Null;
    }
    jiff::Timestamp::from_nanosecond(i128::from(scn))
        .map_or(Value::Null, |t| Value::DateTime(civil(t)))
}

/// `INPUT_BYTES, INPUT_BYTES_DISPLAY, OUTPUT_BYTES, OUTPUT_BYTES_DISPLAY, COMPRESSION_RATIO` as archive rounds
/// and pieces show them: the ratio is output/input to 2 places, 0 when nothing was read (§3.3).
fn byte_columns(input: u64, output: u64) -> [Value; 5] {
    let ratio = if input == 0 {
        0.0
    } else {
        (output as f64 / input as f64 * 100.0).round() / 100.0
    };
    [
        Value::Int(i64::try_from(input).unwrap_or(i64::MAX)),
        Value::Text(bytes_display(input)),
        Value::Int(i64::try_from(output).unwrap_or(i64::MAX)),
        Value::Text(bytes_display(output)),
        Value::Decimal(ratio),
    ]
}

/// `*_BYTES_DISPLAY`: MB with two decimals, switching to GB, TB, PB at each power of 1024 (§0.3).
pub fn bytes_display(bytes: u64) -> String {
    let mut value = bytes as f64 / (1024.0 * 1024.0);
    let mut unit = "MB";
    for next in ["GB", "TB", "PB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.2}{unit}")
}

/// A time column: NULL when unset.
fn time(t: Option<jiff::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::DateTime(civil(t)))
}

fn user_tenants(cluster: &Cluster) -> impl Iterator<Item = &crate::model::Tenant> {
    cluster
        .tenants
        .iter()
        .filter(|t| t.kind == TenantType::User)
}

/// `CDB_OB_BACKUP_PARAMETER` (§2.1, OB-py 21296): `TENANT_ID, NAME, VALUE`.
fn backup_parameter(cluster: &Cluster) -> Table {
    let rows = user_tenants(cluster)
        .filter_map(|t| {
            let dest = t.archive.data_backup_dest.as_ref()?;
            Some(vec![
                Value::Int(t.id),
                Value::Text("data_backup_dest".into()),
                Value::Text(dest.clone()),
            ])
        })
        .collect();
    Table {
        columns: columns(&[
            ("TENANT_ID", ColumnKind::Int),
            ("NAME", ColumnKind::Text),
            ("VALUE", ColumnKind::Text),
        ]),
        rows,
    }
}

/// `CDB_OB_ARCHIVE_DEST` (§2.2): `TENANT_ID, DEST_NO, NAME, VALUE`, keys `path`, `binding`, `dest_id`,
/// `piece_switch_interval`, `state`.
fn archive_dest(cluster: &Cluster) -> Table {
    let mut rows = Vec::new();
    for tenant in user_tenants(cluster) {
        let Some(dest) = &tenant.archive.dest else {
            continue;
        };
        let state = if tenant.archive.dest_enabled {
            "ENABLE"
        } else {
            "DEFER"
        };
        for (name, value) in [
            ("binding", dest.binding.clone()),
            ("dest_id", dest.dest_id.to_string()),
            ("path", dest.path.clone()),
            ("piece_switch_interval", dest.piece_switch_interval.clone()),
            ("state", state.to_string()),
        ] {
            rows.push(vec![
                Value::Int(tenant.id),
                Value::Int(0),
                Value::Text(name.into()),
                Value::Text(value),
            ]);
        }
    }
    Table {
        columns: columns(&[
            ("TENANT_ID", ColumnKind::Int),
            ("DEST_NO", ColumnKind::Int),
            ("NAME", ColumnKind::Text),
            ("VALUE", ColumnKind::Text),
        ]),
        rows,
    }
}

/// `CDB_OB_ARCHIVELOG` (current rounds) and `CDB_OB_ARCHIVELOG_SUMMARY` (current rounds not STOP, plus
/// every history round as STOP; PATH before COMMENT) — §3.3.
fn archivelog(cluster: &Cluster, summary: bool) -> Table {
    use ColumnKind::{DateTime, Decimal, Int, Text, UInt};
    let mut spec = vec![
        ("TENANT_ID", Int),
        ("DEST_ID", Int),
        ("ROUND_ID", Int),
        ("INCARNATION", Int),
        ("DEST_NO", Int),
        ("STATUS", Text),
        ("START_SCN", UInt),
        ("START_SCN_DISPLAY", DateTime),
        ("CHECKPOINT_SCN", UInt),
        ("CHECKPOINT_SCN_DISPLAY", DateTime),
        ("COMPATIBLE", Int),
        ("BASE_PIECE_ID", Int),
        ("USED_PIECE_ID", Int),
        ("PIECE_SWITCH_INTERVAL", Int),
        ("UNIT_SIZE", Int),
        ("COMPRESSION", Text),
        ("INPUT_BYTES", Int),
        ("INPUT_BYTES_DISPLAY", Text),
        ("OUTPUT_BYTES", Int),
        ("OUTPUT_BYTES_DISPLAY", Text),
        ("COMPRESSION_RATIO", Decimal),
        ("DELETED_INPUT_BYTES", Int),
        ("DELETED_INPUT_BYTES_DISPLAY", Text),
        ("DELETED_OUTPUT_BYTES", Int),
        ("DELETED_OUTPUT_BYTES_DISPLAY", Text),
    ];
    spec.extend(if summary {
        [("PATH", Text), ("COMMENT", Text)]
    } else {
        [("COMMENT", Text), ("PATH", Text)]
    });
    let mut rows = Vec::new();
    for tenant in user_tenants(cluster) {
        let current = tenant
            .archive
            .round
            .iter()
            .filter(|r| !summary || r.status.as_str() != "STOP");
        let history = tenant.archive.history.iter().filter(|_| summary);
        for round in current.chain(history) {
            let mut row = vec![
                Value::Int(tenant.id),
                Value::Int(round.dest_id),
                Value::Int(round.round_id),
                Value::Int(1),
                Value::Int(0),
                Value::Text(round.status.as_str().into()),
                Value::UInt(round.start_scn),
                scn_display(round.start_scn),
                Value::UInt(round.checkpoint_scn),
                scn_display(round.checkpoint_scn),
                Value::Int(2),
                Value::Int(round.base_piece_id),
                Value::Int(round.used_piece_id),
                Value::Int(round.piece_switch_interval_us),
                Value::Int(64 * 1024 * 1024),
                Value::Text("none".into()),
            ];
            row.extend(byte_columns(round.input_bytes, round.output_bytes));
            row.extend([
                Value::Int(0),
                Value::Text(bytes_display(0)),
                Value::Int(0),
                Value::Text(bytes_display(0)),
            ]);
            let (path, comment) = (
                Value::Text(round.path.clone()),
                Value::Text(round.comment.clone()),
            );
            row.extend(if summary {
                [path, comment]
            } else {
                [comment, path]
            });
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

fn columns(spec: &[(&str, ColumnKind)]) -> Vec<Column> {
    spec.iter()
        .map(|(name, kind)| Column::new(*name, *kind))
        .collect()
}

/// `DBA_OB_TENANTS` (docs/reference/oceanbase-interface.md §1.4). In sys it lists every tenant.
/// Both real schemas declare the SCN columns and `PREVIOUS_LOCALITY` NOT NULL
/// (docs/reference/oceanbase-interface.md §14), so sys and meta tenants show 0 and an empty string
/// where §1.4 says NULL (the real value for them is not in the ground truth: a guess).
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
    spec.extend([
        ("UNIT_NUM", Int),
        ("COMPATIBLE", Text),
        ("MAX_LS_ID", Int),
        ("RESTORE_DATA_MODE", Text),
    ]);
    let now = cluster.now();
    let scn = u64::try_from(now.as_nanosecond()).unwrap_or_default();
    let rows = cluster
        .tenants
        .iter()
        .map(|t| {
            let user = t.kind == TenantType::User;
            let user_scn = |v: u64| Value::UInt(if user { v } else { 0 });
            let mut row = vec![
                Value::Int(t.id),
                Value::Text(t.name.clone()),
                Value::Text(t.kind.as_str().into()),
                Value::DateTime(civil(t.created)),
                Value::DateTime(civil(t.created)),
                Value::Text(t.primary_zone.clone()),
                Value::Text(t.locality.clone()),
                Value::Text(String::new()),
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
                user_scn(MAX_SCN),
                Value::Text(
                    if user && t.archive.log_mode_archive {
                        "ARCHIVELOG"
                    } else {
                        "NOARCHIVELOG"
                    }
                    .into(),
                ),
                Value::Text("DISABLED".into()),
            ];
            row.extend([
                Value::Int(1),
                Value::Text(cluster.version.to_string()),
                Value::Int(1001),
                Value::Text("NORMAL".into()),
            ]);
            row
        })
        .collect();
    Table {
        columns: columns(&spec),
        rows,
    }
}

/// `CDB_OB_ARCHIVELOG_PIECE_FILES` (§3.3). `END_SCN` is the piece's theoretical end, `MAX_SCN` the last
/// archived SCN.
fn piece_files(cluster: &Cluster) -> Table {
    use ColumnKind::{DateTime, Decimal, Int, Text, UInt};
    let spec = [
        ("TENANT_ID", Int),
        ("DEST_ID", Int),
        ("ROUND_ID", Int),
        ("PIECE_ID", Int),
        ("INCARNATION", Int),
        ("DEST_NO", Int),
        ("STATUS", Text),
        ("START_SCN", UInt),
        ("START_SCN_DISPLAY", DateTime),
        ("CHECKPOINT_SCN", UInt),
        ("CHECKPOINT_SCN_DISPLAY", DateTime),
        ("MAX_SCN", UInt),
        ("END_SCN", UInt),
        ("END_SCN_DISPLAY", DateTime),
        ("COMPATIBLE", Int),
        ("UNIT_SIZE", Int),
        ("COMPRESSION", Text),
        ("INPUT_BYTES", Int),
        ("INPUT_BYTES_DISPLAY", Text),
        ("OUTPUT_BYTES", Int),
        ("OUTPUT_BYTES_DISPLAY", Text),
        ("COMPRESSION_RATIO", Decimal),
        ("FILE_STATUS", Text),
        ("PATH", Text),
    ];
    let mut rows = Vec::new();
    for tenant in user_tenants(cluster) {
        for piece in tenant.archive.pieces() {
            let mut row = vec![
                Value::Int(tenant.id),
                Value::Int(piece.dest_id),
                Value::Int(piece.round_id),
                Value::Int(piece.piece_id),
                Value::Int(1),
                Value::Int(0),
                Value::Text(piece.status.into()),
                Value::UInt(piece.start_scn),
                scn_display(piece.start_scn),
                Value::UInt(piece.checkpoint_scn),
                scn_display(piece.checkpoint_scn),
                Value::UInt(piece.checkpoint_scn),
                Value::UInt(piece.end_scn),
                scn_display(piece.end_scn),
                Value::Int(2),
                Value::Int(64 * 1024 * 1024),
                Value::Text("none".into()),
            ];
            row.extend(byte_columns(piece.input_bytes, piece.output_bytes));
            row.extend([
                Value::Text(piece.file_status.into()),
                Value::Text(piece.path),
            ]);
            rows.push(row);
        }
    }
    Table {
        columns: columns(&spec),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_columns_compute_the_ratio_and_display_strings() {
        assert_eq!(
            byte_columns(0, 0)[4],
            Value::Decimal(0.0),
            "§3.3: 0 when nothing was read"
        );
        let columns = byte_columns(3 << 30, 1 << 30);
        assert_eq!(columns[1], Value::Text("3.00GB".into()));
        assert_eq!(columns[3], Value::Text("1.00GB".into()));
        assert_eq!(columns[4], Value::Decimal(0.33));
        assert_eq!(bytes_display(5 * 1024 * 1024 + 512 * 1024), "5.50MB");
    }
}
