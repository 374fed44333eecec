//! A dump's plan: the schema of what it covers (databases, tables, views, their definitions), the snapshot
//! every table is read at, and each table's key range split into chunks; and the schema objects written
//! from it before any data.

use futures::{StreamExt, TryStreamExt};
use mysql_async::{Conn, Value};
use opendal::Operator;

use crate::logical::{
    LogicalError,
    layout::{
        ChunkPlan, ColumnPlan, DatabasePlan, FORMAT_VERSION, ObjectKind, ObjectPlan, Plan,
        SnapshotPoint, database_schema_path, object_schema_path,
    },
    records::write_bytes,
    render::quote_identifier,
    requests::DumpRequest,
    select::{Selection, select},
    session::{Sessions, text_at},
};

/// Reads the schema, takes the snapshot and splits every table into chunks.
pub(super) async fn make_plan(
    sessions: &Sessions,
    request: &DumpRequest,
) -> Result<Plan, LogicalError> {
    let mut conn = sessions.conn().await?;
    let server_version = sessions
        .rows::<String>(&mut conn, "SELECT ob_version()", ())
        .await?
        .pop()
        .unwrap_or_default();
    let selected = select(sessions, &mut conn, request).await?;
    let databases = describe_databases(sessions, &mut conn, &selected).await?;
    drop(conn);
    let named: Vec<(String, String, ObjectKind)> = selected
        .iter()
        .flat_map(|(database, names)| {
            names
                .iter()
                .map(move |(name, kind)| (database.clone(), name.clone(), *kind))
        })
        .collect();
    let objects = describe_all(sessions, named, request.parallel).await?;
    // The schema is read first; the snapshot is taken after it, so every table it names exists then.
    let mut conn = sessions.conn().await?;
    let snapshot = take_snapshot(sessions, &mut conn).await?;
    drop(conn);
    let objects = futures::stream::iter(objects)
        .map(|object| split(sessions, object, snapshot.scn, request.chunk_rows))
        .buffered(request.parallel.max(1))
        .try_collect()
        .await?;
    Ok(Plan {
        format_version: FORMAT_VERSION,
        snapshot,
        server_version,
        started_at: Some(crate::clock::now().to_string()),
        owner: request.owner.clone(),
        compression: request.compression,
        databases,
        objects,
    })
}

/// Each selected database's definition.
async fn describe_databases(
    sessions: &Sessions,
    conn: &mut Conn,
    selected: &Selection,
) -> Result<Vec<DatabasePlan>, LogicalError> {
    let mut databases = Vec::new();
    for name in selected.keys() {
        let row = sessions
            .query(
                conn,
                &format!("SHOW CREATE DATABASE {}", quote_identifier(name)),
            )
            .await?;
        let ddl = match row.first() {
            Some(row) => text_at(row, 1, "SHOW CREATE DATABASE")?,
            None => {
                return Err(LogicalError::Format(format!(
                    "no definition of database {name}"
                )));
            }
        };
        databases.push(DatabasePlan {
            name: name.clone(),
            ddl,
        });
    }
    Ok(databases)
}

/// The snapshot every table is read at: the tenant's current SCN.
async fn take_snapshot(
    sessions: &Sessions,
    conn: &mut Conn,
) -> Result<SnapshotPoint, LogicalError> {
    let scn = sessions
        .rows::<u64>(conn, "SELECT current_scn()", ())
        .await?
        .pop()
        .ok_or_else(|| LogicalError::Format("current_scn() returned nothing".into()))?;
    Ok(SnapshotPoint {
        scn,
        time: scn_time(scn),
    })
}

/// OceanBase's SCN counts nanoseconds since the Unix epoch: its time, RFC 3339 in UTC.
fn scn_time(scn: u64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(scn))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Every object of `named`, in its order, each on a session of its own, `parallel` at once (a table's
/// definition takes a few statements) — but the first table alone, before the others. The engine compiles
/// the `information_schema` statements that describe a table when it first sees them; sent on every session
/// at once, they are compiled on each (about 0.1 CPU-s apiece on seekdb, 0.4–0.5 s for four sessions
/// against 0.1–0.2 s when one goes first: docs/contributing/benchmarks.md), and the others find them
/// compiled.
async fn describe_all(
    sessions: &Sessions,
    named: Vec<(String, String, ObjectKind)>,
    parallel: usize,
) -> Result<Vec<ObjectPlan>, LogicalError> {
    let first = first_table(&named);
    let mut described = Vec::with_capacity(named.len());
    if let Some(at) = first {
        let (database, name, kind) = named[at].clone();
        described.push((at, describe_alone(sessions, database, name, kind).await?));
    }
    let others: Vec<(usize, (String, String, ObjectKind))> = named
        .into_iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != first)
        .collect();
    let others: Vec<(usize, ObjectPlan)> = futures::stream::iter(others)
        .map(|(i, (database, name, kind))| async move {
            Ok::<_, LogicalError>((i, describe_alone(sessions, database, name, kind).await?))
        })
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    described.extend(others);
    described.sort_by_key(|(i, _)| *i);
    Ok(described.into_iter().map(|(_, object)| object).collect())
}

/// Where the first table of `named` is (a view takes no `information_schema` statement).
fn first_table(named: &[(String, String, ObjectKind)]) -> Option<usize> {
    named
        .iter()
        .position(|(_, _, kind)| *kind == ObjectKind::Table)
}

/// [`describe`] on a session taken for it.
async fn describe_alone(
    sessions: &Sessions,
    database: String,
    name: String,
    kind: ObjectKind,
) -> Result<ObjectPlan, LogicalError> {
    let mut conn = sessions.conn().await?;
    describe(sessions, &mut conn, &database, &name, kind).await
}

/// A table's or view's definition, stored columns and chunk key.
async fn describe(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    name: &str,
    kind: ObjectKind,
) -> Result<ObjectPlan, LogicalError> {
    let qualified = format!("{}.{}", quote_identifier(database), quote_identifier(name));
    let show = match kind {
        ObjectKind::Table => "SHOW CREATE TABLE",
        ObjectKind::View => "SHOW CREATE VIEW",
    };
    let rows = sessions.query(conn, &format!("{show} {qualified}")).await?;
    let ddl = match rows.first() {
        Some(row) => text_at(row, 1, show)?,
        None => {
            return Err(LogicalError::Format(format!(
                "no definition of {qualified}"
            )));
        }
    };
    let mut object = ObjectPlan {
        database: database.to_string(),
        name: name.to_string(),
        kind,
        ddl,
        columns: Vec::new(),
        chunk_key: None,
        rows: 0,
        chunks: Vec::new(),
    };
    if kind == ObjectKind::View {
        return Ok(object);
    }
    object.columns = stored_columns(sessions, conn, database, name).await?;
    object.chunk_key = chunk_key(sessions, conn, database, name, &object.columns).await?;
    Ok(object)
}

/// A table's columns, in order, but its generated ones.
async fn stored_columns(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    name: &str,
) -> Result<Vec<ColumnPlan>, LogicalError> {
    let columns: Vec<(String, String, String, Option<String>)> = sessions
        .rows(
            conn,
            "SELECT COLUMN_NAME, DATA_TYPE, EXTRA, CHARACTER_SET_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, name),
        )
        .await?;
    Ok(columns
        .into_iter()
        // Generated columns are computed again by the server that loads the rows.
        .filter(|(_, _, extra, _)| !extra.to_ascii_uppercase().contains("GENERATED"))
        .map(|(name, data_type, _, charset)| ColumnPlan {
            name,
            data_type,
            charset,
        })
        .collect())
}

/// The column a table is split into chunks by: its primary key, when that is one integer column.
async fn chunk_key(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    name: &str,
    columns: &[ColumnPlan],
) -> Result<Option<String>, LogicalError> {
    let key: Vec<String> = sessions
        .rows(
            conn,
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (database, name),
        )
        .await?;
    let [key] = key.as_slice() else {
        return Ok(None);
    };
    let integer = columns.iter().any(|c| {
        c.name == *key
            && matches!(
                c.data_type.to_ascii_lowercase().as_str(),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
            )
    });
    Ok(integer.then(|| key.clone()))
}

/// Estimates a table's rows and splits its key range into chunks of about `chunk_rows` rows.
async fn split(
    sessions: &Sessions,
    mut object: ObjectPlan,
    scn: u64,
    chunk_rows: u64,
) -> Result<ObjectPlan, LogicalError> {
    if object.kind == ObjectKind::View {
        return Ok(object);
    }
    let (rows, low, high) = estimate(sessions, &object, scn).await?;
    object.rows = rows;
    object.chunks = chunks(rows, low, high, chunk_rows);
    Ok(object)
}

/// A table's rows as the engine estimates them (what its chunks are sized by; the dump's rows are the
/// chunks' rows, counted as they are read), and the lowest and highest value of its chunk key at the
/// snapshot, if it has one. The estimate is the optimizer's (`EXPLAIN`), from the storage's own statistics:
/// no row is read. A `COUNT(*)` at the snapshot read every row of the narrowest index, 0.06 CPU-s of
/// seekdb's for 200 000 rows not yet compacted (a quarter of what reading the table costs), up to 0.17 in
/// the minute after they are loaded; the estimate was within 0.01 % of the count (1.3 % with a tenth of
/// the rows deleted since the last compaction) for ≤ 0.01 CPU-s (docs/contributing/benchmarks.md). A
/// table the engine gives no estimate for, or an estimate of none, is counted.
async fn estimate(
    sessions: &Sessions,
    object: &ObjectPlan,
    scn: u64,
) -> Result<(u64, Option<i128>, Option<i128>), LogicalError> {
    let table = format!(
        "{}.{} AS OF SNAPSHOT {scn}",
        quote_identifier(&object.database),
        quote_identifier(&object.name)
    );
    let mut conn = sessions.conn().await?;
    let explained = sessions
        .query(
            &mut conn,
            &format!("EXPLAIN FORMAT=JSON SELECT 1 FROM {table}"),
        )
        .await
        .ok();
    // No estimate, or none above zero (statistics not gathered yet): counted.
    let rows = match explained.as_deref().and_then(estimated_rows) {
        Some(rows) if rows > 0 => rows,
        _ => {
            // A `COUNT(*)` alone lets the engine count the narrowest index (half the work of scanning the
            // table, which `MIN`/`MAX` beside it make it do).
            let found: Vec<u64> = sessions
                .rows(&mut conn, &format!("SELECT COUNT(*) FROM {table}"), ())
                .await?;
            found.into_iter().next().unwrap_or(0)
        }
    };
    let Some(key) = &object.chunk_key else {
        return Ok((rows, None, None));
    };
    let key = quote_identifier(key);
    let ends: Vec<(Value, Value)> = sessions
        .rows(
            &mut conn,
            &format!("SELECT MIN({key}), MAX({key}) FROM {table}"),
            (),
        )
        .await?;
    let (low, high) = ends
        .into_iter()
        .next()
        .unwrap_or((Value::NULL, Value::NULL));
    Ok((rows, integer(&low), integer(&high)))
}

/// The rows the optimizer expects of a whole-table scan, from the answer to `EXPLAIN FORMAT=JSON` (a line
/// of the JSON in each row, OceanBase's layout).
fn estimated_rows(explained: &[mysql_async::Row]) -> Option<u64> {
    let text: String = explained
        .iter()
        .filter_map(|row| match row.as_ref(0) {
            Some(Value::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    top_estimate(&text)
}

/// `"EST.ROWS":N` of the plan's top operator (the first named).
fn top_estimate(text: &str) -> Option<u64> {
    let at = text.find("\"EST.ROWS\":")? + "\"EST.ROWS\":".len();
    let digits: String = text[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The chunks of a table of `rows` rows whose key runs from `low` to `high`: ranges of about `chunk_rows`
/// rows, or the whole table when it has no such key or is small.
fn chunks(rows: u64, low: Option<i128>, high: Option<i128>, chunk_rows: u64) -> Vec<ChunkPlan> {
    match (low, high) {
        (Some(low), Some(high)) if rows > chunk_rows.max(1) => {
            let count = rows.div_ceil(chunk_rows.max(1));
            let width = ((high - low + 1) / i128::from(count)).max(1);
            let mut chunks = Vec::new();
            let mut from = None;
            let mut next = low + width;
            while next <= high {
                chunks.push(ChunkPlan {
                    from,
                    to: Some(next),
                });
                from = Some(next);
                next += width;
            }
            chunks.push(ChunkPlan { from, to: None });
            chunks
        }
        _ => vec![ChunkPlan {
            from: None,
            to: None,
        }],
    }
}

fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Writes each database's and each object's definition, before any data.
pub(super) async fn write_schema(
    storage: &Operator,
    dir: &str,
    plan: &Plan,
) -> Result<(), LogicalError> {
    for database in &plan.databases {
        let text = format!("{};\n", database.ddl);
        write_bytes(
            storage,
            &database_schema_path(dir, &database.name),
            text.into_bytes(),
        )
        .await?;
    }
    for object in &plan.objects {
        let text = format!(
            "-- ob-backup-operator logical dump, at SCN {}\nSET NAMES utf8mb4;\nSET foreign_key_checks = 0;\nUSE {};\n{};\n",
            plan.snapshot.scn,
            quote_identifier(&object.database),
            object.ddl
        );
        write_bytes(storage, &object_schema_path(dir, object), text.into_bytes()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(kinds: &[ObjectKind]) -> Vec<(String, String, ObjectKind)> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| ("shop".to_string(), format!("o{i}"), *kind))
            .collect()
    }

    /// seekdb 1.4's answer to `EXPLAIN FORMAT=JSON SELECT 1 FROM d.t AS OF SNAPSHOT …` for a table of 2 000
    /// rows, a line a row.
    #[test]
    fn the_estimate_is_read_from_the_top_operator() {
        let answer = "{\n  \"ID\":0,\n  \"OPERATOR\":\"TABLE FULL SCAN\",\n  \"NAME\":\"t\",\n  \
                      \"EST.ROWS\":2000,\n  \"EST.TIME(us)\":8,\n  \"output\":\"output([1])\"\n}";
        assert_eq!(top_estimate(answer), Some(2000));
        assert_eq!(
            top_estimate("{\"EST.ROWS\": 7, \"CHILD_1\": {\"EST.ROWS\":9}}"),
            Some(7)
        );
        assert_eq!(top_estimate("{\"OPERATOR\":\"TABLE FULL SCAN\"}"), None);
        assert_eq!(top_estimate("{\"EST.ROWS\":-1}"), None);
    }

    #[test]
    fn the_first_table_is_the_object_described_alone() {
        use ObjectKind::{Table, View};
        assert_eq!(first_table(&named(&[Table, Table])), Some(0));
        assert_eq!(first_table(&named(&[View, View, Table, Table])), Some(2));
        assert_eq!(first_table(&named(&[View])), None);
        assert_eq!(first_table(&[]), None);
    }
}
