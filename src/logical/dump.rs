//! Taking a logical dump: plan (schema, snapshot, chunks), then the chunks in parallel, then the manifest.

use std::{collections::HashMap, io::Write};

use flate2::{Compression, write::GzEncoder};
use futures::{StreamExt, TryStreamExt};
use mysql_async::{Conn, Value, prelude::Queryable};
use opendal::Operator;
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{oceanbase::ConnectionInfo, storage::copy::hex};

use super::{
    LogicalError, Progress,
    layout::{
        ChunkDone, ChunkPlan, ColumnPlan, DatabasePlan, DumpOwner, FORMAT_VERSION, Manifest,
        ObjectKind, ObjectManifest, ObjectPlan, Plan, SnapshotPoint, chunk_done_path, chunk_path,
        database_schema_path, load_order, load_order_path, manifest_path, object_schema_path,
        plan_path,
    },
    render::{ColumnKind, InsertBatcher, quote_identifier},
    session::{Sessions, text_at},
};

/// SQL handed to the compressor (and the object) at a time.
const FLUSH_BYTES: usize = 1 << 20;
/// Largest INSERT statement written.
const STATEMENT_BYTES: usize = 1 << 20;
/// Bytes buffered per object before a request to the storage (S3's smallest multipart part is 5 MiB).
const WRITE_CHUNK_BYTES: usize = 8 << 20;

/// What to dump and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpRequest {
    /// A user of the tenant (logical backup reads through the tenant, not sys).
    pub connection: ConnectionInfo,
    /// Databases to dump; empty: every user database.
    pub databases: Vec<String>,
    /// Tables to dump as `database.table`; empty: every table and view of the databases.
    pub tables: Vec<String>,
    /// Sessions reading at once.
    pub parallel: usize,
    /// Rows per chunk of a table with an integer primary key.
    pub chunk_rows: u64,
    /// Whose dump it is, recorded in its plan and manifest: a dump never writes into a directory that
    /// records another owner. `None`: a dump taken without a task (tests, tools).
    pub owner: Option<DumpOwner>,
}

/// A finished dump.
#[derive(Clone, Debug)]
pub struct DumpReport {
    pub manifest: Manifest,
    /// Chunks this run wrote.
    pub chunks_written: usize,
    /// Chunks an earlier run had finished, not read again.
    pub chunks_resumed: usize,
}

/// Dumps what `request` names into `dir` on `storage`, or finishes the dump an earlier run began there.
/// `progress` is called as chunks finish.
pub async fn dump(
    request: &DumpRequest,
    storage: &Operator,
    dir: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<DumpReport, LogicalError> {
    let dir = dir.trim_matches('/');
    claim(storage, dir, request.owner.as_ref()).await?;
    if let Some(manifest) = read_record::<Manifest>(storage, &manifest_path(dir)).await? {
        let chunks = manifest.objects.iter().map(|o| o.chunks.len()).sum();
        return Ok(DumpReport {
            manifest,
            chunks_written: 0,
            chunks_resumed: chunks,
        });
    }
    let sessions = Sessions::new(&request.connection, request.parallel);
    let result = run(&sessions, request, storage, dir, cancel, progress).await;
    sessions.close().await;
    result
}

async fn run(
    sessions: &Sessions,
    request: &DumpRequest,
    storage: &Operator,
    dir: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<DumpReport, LogicalError> {
    let mut made_plan = false;
    let plan = match read_record::<Plan>(storage, &plan_path(dir)).await? {
        Some(plan) => plan,
        None => {
            made_plan = true;
            // No plan, or one cut off while written: no chunk was written under it, but clear what a
            // plan before it may have left, so that no old chunk is ever taken for one of this plan.
            storage
                .delete_with(&format!("{dir}/data/"))
                .recursive(true)
                .await
                .map_err(|e| LogicalError::storage(&e))?;
            let plan = make_plan(sessions, request).await?;
            write_schema(storage, dir, &plan).await?;
            write_json(storage, &plan_path(dir), &plan).await?;
            crate::crash::point("logical/plan/after");
            plan
        }
    };
    let mut done = finished_chunks(storage, dir, &plan, request.parallel).await?;
    let resumed = done.len();
    // Chunks left per object: an object is done when none is.
    let mut left: Vec<usize> = plan
        .objects
        .iter()
        .enumerate()
        .map(|(o, object)| {
            (0..object.chunks.len())
                .filter(|c| !done.contains_key(&(o, *c)))
                .count()
        })
        .collect();
    let mut state = Progress {
        chunks_done: resumed,
        chunks_total: plan.chunk_count(),
        rows_done: done.values().map(|d| d.rows).sum(),
        rows_total: plan.total_rows(),
        bytes_done: done.values().map(|d| d.bytes).sum(),
        stored_bytes: done.values().map(|d| d.stored_bytes).sum(),
        tables_done: left.iter().filter(|l| **l == 0).count(),
        tables_total: plan.objects.len(),
        snapshot: Some(plan.snapshot.clone()),
        server_version: Some(plan.server_version.clone()),
        databases: plan.databases.len(),
        database_reached: made_plan,
    };
    progress(&state);
    let todo: Vec<(usize, usize)> = plan
        .objects
        .iter()
        .enumerate()
        .flat_map(|(o, object)| (0..object.chunks.len()).map(move |c| (o, c)))
        .filter(|key| !done.contains_key(key))
        .collect();
    let plan_ref = &plan;
    let mut chunks = futures::stream::iter(todo)
        .map(|(o, c)| async move {
            let written = write_chunk(sessions, storage, dir, plan_ref, o, c, cancel).await?;
            Ok::<_, LogicalError>(((o, c), written))
        })
        .buffer_unordered(request.parallel.max(1));
    while let Some(finished) = chunks.next().await {
        let (key, written) = finished?;
        state.database_reached = true;
        state.chunks_done += 1;
        state.rows_done += written.rows;
        state.bytes_done += written.bytes;
        state.stored_bytes += written.stored_bytes;
        left[key.0] -= 1;
        if left[key.0] == 0 {
            state.tables_done += 1;
        }
        progress(&state);
        done.insert(key, written);
    }
    drop(chunks);
    let manifest = manifest(&plan, &done)?;
    let order = load_order(&plan).join("\n") + "\n";
    write_bytes(storage, &load_order_path(dir), order.into_bytes()).await?;
    write_json(storage, &manifest_path(dir), &manifest).await?;
    Ok(DumpReport {
        chunks_written: state.chunks_done - resumed,
        chunks_resumed: resumed,
        manifest,
    })
}

/// Refuses a directory whose plan or manifest records an owner other than `owner`: another task's dump is
/// never resumed, reported as this one's, overwritten or deleted. A dump of an earlier version (no owner
/// recorded) or a dump taken without an owner is not refused.
pub async fn claim(
    storage: &Operator,
    dir: &str,
    owner: Option<&DumpOwner>,
) -> Result<(), LogicalError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let dir = dir.trim_matches('/');
    let recorded = match read_record::<Manifest>(storage, &manifest_path(dir)).await? {
        Some(manifest) => manifest.owner,
        None => read_record::<Plan>(storage, &plan_path(dir))
            .await?
            .and_then(|plan| plan.owner),
    };
    match recorded {
        Some(other) if !other.same(owner) => Err(LogicalError::Owned(format!(
            "the dump's directory {dir} holds the dump of {other}; it is neither resumed, \
             overwritten nor deleted by {owner}"
        ))),
        _ => Ok(()),
    }
}

/// Reads the schema, takes the snapshot and splits every table into chunks.
async fn make_plan(sessions: &Sessions, request: &DumpRequest) -> Result<Plan, LogicalError> {
    let mut conn = sessions.conn().await?;
    let server_version = sessions
        .rows::<String>(&mut conn, "SELECT ob_version()", ())
        .await?
        .pop()
        .unwrap_or_default();
    let selected = super::select::select(sessions, &mut conn, request).await?;
    let mut databases = Vec::new();
    for name in selected.keys() {
        let row = sessions
            .query(
                &mut conn,
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
    let mut objects = Vec::new();
    for (database, names) in &selected {
        for (name, kind) in names {
            objects.push(describe(sessions, &mut conn, database, name, *kind).await?);
        }
    }
    // The schema is read first; the snapshot is taken after it, so every table it names exists then.
    let scn = sessions
        .rows::<u64>(&mut conn, "SELECT current_scn()", ())
        .await?
        .pop()
        .ok_or_else(|| LogicalError::Format("current_scn() returned nothing".into()))?;
    drop(conn);
    let snapshot = SnapshotPoint {
        scn,
        time: scn_time(scn),
    };
    let objects = futures::stream::iter(objects)
        .map(|object| split(sessions, object, scn, request.chunk_rows))
        .buffered(request.parallel.max(1))
        .try_collect()
        .await?;
    Ok(Plan {
        format_version: FORMAT_VERSION,
        snapshot,
        server_version,
        started_at: Some(crate::clock::now().to_string()),
        owner: request.owner.clone(),
        databases,
        objects,
    })
}

/// OceanBase's SCN counts nanoseconds since the Unix epoch: its time, RFC 3339 in UTC.
fn scn_time(scn: u64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(scn))
        .map(|t| t.to_string())
        .unwrap_or_default()
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
    let columns: Vec<(String, String, String)> = sessions
        .rows(
            conn,
            "SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, name),
        )
        .await?;
    object.columns = columns
        .into_iter()
        // Generated columns are computed again by the server that loads the rows.
        .filter(|(_, _, extra)| !extra.to_ascii_uppercase().contains("GENERATED"))
        .map(|(name, data_type, _)| ColumnPlan { name, data_type })
        .collect();
    let key: Vec<String> = sessions
        .rows(
            conn,
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (database, name),
        )
        .await?;
    if let [key] = key.as_slice() {
        let integer = object.columns.iter().any(|c| {
            c.name == *key
                && matches!(
                    c.data_type.to_ascii_lowercase().as_str(),
                    "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
                )
        });
        if integer {
            object.chunk_key = Some(key.clone());
        }
    }
    Ok(object)
}

/// Counts a table's rows at the snapshot and splits its key range into chunks of about `chunk_rows` rows.
async fn split(
    sessions: &Sessions,
    mut object: ObjectPlan,
    scn: u64,
    chunk_rows: u64,
) -> Result<ObjectPlan, LogicalError> {
    if object.kind == ObjectKind::View {
        return Ok(object);
    }
    let table = format!(
        "{}.{} AS OF SNAPSHOT {scn}",
        quote_identifier(&object.database),
        quote_identifier(&object.name)
    );
    let mut conn = sessions.conn().await?;
    let (rows, low, high) = match &object.chunk_key {
        Some(key) => {
            let key = quote_identifier(key);
            let found: Vec<(u64, Value, Value)> = sessions
                .rows(
                    &mut conn,
                    &format!("SELECT COUNT(*), MIN({key}), MAX({key}) FROM {table}"),
                    (),
                )
                .await?;
            let (rows, low, high) =
                found
                    .into_iter()
                    .next()
                    .unwrap_or((0, Value::NULL, Value::NULL));
            (rows, integer(&low), integer(&high))
        }
        None => {
            let found: Vec<u64> = sessions
                .rows(&mut conn, &format!("SELECT COUNT(*) FROM {table}"), ())
                .await?;
            (found.into_iter().next().unwrap_or(0), None, None)
        }
    };
    object.rows = rows;
    object.chunks = match (low, high) {
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
    };
    Ok(object)
}

fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn bound(value: i128) -> Value {
    match i64::try_from(value) {
        Ok(v) => Value::Int(v),
        Err(_) => Value::UInt(u64::try_from(value).unwrap_or(u64::MAX)),
    }
}

async fn write_schema(storage: &Operator, dir: &str, plan: &Plan) -> Result<(), LogicalError> {
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

/// Reads one chunk at the snapshot and writes it, then its `.done` record.
async fn write_chunk(
    sessions: &Sessions,
    storage: &Operator,
    dir: &str,
    plan: &Plan,
    o: usize,
    c: usize,
    cancel: &CancellationToken,
) -> Result<ChunkDone, LogicalError> {
    if cancel.is_cancelled() {
        return Err(LogicalError::Canceled);
    }
    let object = &plan.objects[o];
    let chunk = &object.chunks[c];
    let columns: Vec<(String, ColumnKind)> = object
        .columns
        .iter()
        .map(|col| (col.name.clone(), ColumnKind::of(&col.data_type)))
        .collect();
    let names: Vec<String> = columns.iter().map(|(n, _)| quote_identifier(n)).collect();
    let mut select = format!(
        "SELECT {} FROM {}.{} AS OF SNAPSHOT {}",
        names.join(","),
        quote_identifier(&object.database),
        quote_identifier(&object.name),
        plan.snapshot.scn
    );
    let mut params = Vec::new();
    if let Some(key) = &object.chunk_key {
        let key = quote_identifier(key);
        let mut conditions = Vec::new();
        if let Some(from) = chunk.from {
            conditions.push(format!("{key} >= ?"));
            params.push(bound(from));
        }
        if let Some(to) = chunk.to {
            conditions.push(format!("{key} < ?"));
            params.push(bound(to));
        }
        if !conditions.is_empty() {
            select.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        select.push_str(&format!(" ORDER BY {key}"));
    }
    let header = format!(
        "-- ob-backup-operator logical dump: {}.{}, chunk {} of {}, at SCN {}\n\
         SET NAMES utf8mb4;\nSET time_zone = '+00:00';\nSET sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n\
         SET foreign_key_checks = 0;\nUSE {};\n",
        quote_identifier(&object.database),
        quote_identifier(&object.name),
        c + 1,
        object.chunks.len(),
        plan.snapshot.scn,
        quote_identifier(&object.database),
    );
    let mut sink = ChunkSink::open(storage, &chunk_path(dir, object, c)).await?;
    let mut buffer = header.into_bytes();
    let mut batcher = InsertBatcher::new(&object.name, &columns, STATEMENT_BYTES);
    let mut rows = 0u64;
    let mut conn = sessions.conn().await?;
    let mut result = conn
        .exec_iter(select.as_str(), params)
        .await
        .map_err(|e| sessions.error(e))?;
    while let Some(row) = result.next().await.map_err(|e| sessions.error(e))? {
        batcher.push(&row.unwrap(), &mut buffer)?;
        rows += 1;
        if buffer.len() >= FLUSH_BYTES {
            if cancel.is_cancelled() {
                return Err(LogicalError::Canceled);
            }
            sink.push(std::mem::take(&mut buffer)).await?;
        }
    }
    drop(result);
    batcher.finish(&mut buffer);
    sink.push(buffer).await?;
    let mut done = sink.close().await?;
    done.rows = rows;
    crate::crash::point("logical/chunk/written");
    write_json(storage, &chunk_done_path(dir, object, c), &done).await?;
    Ok(done)
}

/// A chunk's object: SQL in, hashed and gzip-compressed off the async threads, streamed out.
struct ChunkSink {
    writer: opendal::Writer,
    encoder: Option<GzEncoder<Vec<u8>>>,
    hasher: Sha256,
    bytes: u64,
    stored: u64,
}

impl ChunkSink {
    async fn open(storage: &Operator, path: &str) -> Result<Self, LogicalError> {
        let writer = storage
            .writer_with(path)
            .chunk(WRITE_CHUNK_BYTES)
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        Ok(Self {
            writer,
            encoder: Some(GzEncoder::new(Vec::new(), Compression::fast())),
            hasher: Sha256::new(),
            bytes: 0,
            stored: 0,
        })
    }

    async fn push(&mut self, sql: Vec<u8>) -> Result<(), LogicalError> {
        self.hasher.update(&sql);
        self.bytes += sql.len() as u64;
        let encoder = self
            .encoder
            .take()
            .ok_or_else(|| LogicalError::Format("chunk already closed".into()))?;
        let (encoder, compressed) = compress(encoder, sql, false).await?;
        self.encoder = Some(encoder);
        self.emit(compressed).await
    }

    async fn emit(&mut self, compressed: Vec<u8>) -> Result<(), LogicalError> {
        if !compressed.is_empty() {
            self.stored += compressed.len() as u64;
            self.writer
                .write(compressed)
                .await
                .map_err(|e| LogicalError::storage(&e))?;
        }
        Ok(())
    }

    async fn close(mut self) -> Result<ChunkDone, LogicalError> {
        let encoder = self
            .encoder
            .take()
            .ok_or_else(|| LogicalError::Format("chunk already closed".into()))?;
        let (_, compressed) = compress(encoder, Vec::new(), true).await?;
        self.emit(compressed).await?;
        self.writer
            .close()
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        Ok(ChunkDone {
            rows: 0,
            bytes: self.bytes,
            stored_bytes: self.stored,
            sha256: hex(&self.hasher.finalize()),
        })
    }
}

/// Compresses `sql` on a blocking thread (compression is CPU work the operator's async threads must not
/// do); returns the encoder and the compressed bytes it produced, all of them when `finish`.
async fn compress(
    mut encoder: GzEncoder<Vec<u8>>,
    sql: Vec<u8>,
    finish: bool,
) -> Result<(GzEncoder<Vec<u8>>, Vec<u8>), LogicalError> {
    let worked = tokio::task::spawn_blocking(move || {
        encoder.write_all(&sql)?;
        if finish {
            encoder.try_finish()?;
        }
        let out = std::mem::take(encoder.get_mut());
        Ok::<_, std::io::Error>((encoder, out))
    })
    .await
    .map_err(|e| LogicalError::Format(format!("compression stopped: {e}")))?;
    worked.map_err(|e| LogicalError::Format(format!("compression failed: {e}")))
}

/// The `.done` records of the plan's chunks that have one.
async fn finished_chunks(
    storage: &Operator,
    dir: &str,
    plan: &Plan,
    parallel: usize,
) -> Result<HashMap<(usize, usize), ChunkDone>, LogicalError> {
    let keys: Vec<(usize, usize)> = plan
        .objects
        .iter()
        .enumerate()
        .flat_map(|(o, object)| (0..object.chunks.len()).map(move |c| (o, c)))
        .collect();
    let found: Vec<((usize, usize), Option<ChunkDone>)> = futures::stream::iter(keys)
        .map(|(o, c)| async move {
            let path = chunk_done_path(dir, &plan.objects[o], c);
            Ok::<_, LogicalError>(((o, c), read_record::<ChunkDone>(storage, &path).await?))
        })
        .buffer_unordered(parallel.max(1) * 4)
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(k, d)| d.map(|d| (k, d)))
        .collect())
}

fn manifest(
    plan: &Plan,
    done: &HashMap<(usize, usize), ChunkDone>,
) -> Result<Manifest, LogicalError> {
    let mut objects = Vec::new();
    for (o, object) in plan.objects.iter().enumerate() {
        let chunks = (0..object.chunks.len())
            .map(|c| {
                done.get(&(o, c)).cloned().ok_or_else(|| {
                    LogicalError::Format(format!(
                        "chunk {c} of {}.{} is not written",
                        object.database, object.name
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        objects.push(ObjectManifest {
            database: object.database.clone(),
            name: object.name.clone(),
            kind: object.kind,
            rows: chunks.iter().map(|c| c.rows).sum(),
            chunks,
        });
    }
    let sum = |f: fn(&ChunkDone) -> u64| objects.iter().flat_map(|o| &o.chunks).map(f).sum();
    Ok(Manifest {
        format_version: FORMAT_VERSION,
        snapshot: plan.snapshot.clone(),
        server_version: plan.server_version.clone(),
        started_at: plan.started_at.clone(),
        owner: plan.owner.clone(),
        databases: plan.databases.iter().map(|d| d.name.clone()).collect(),
        rows: sum(|c| c.rows),
        bytes: sum(|c| c.bytes),
        stored_bytes: sum(|c| c.stored_bytes),
        objects,
    })
}

/// A record this dump wrote, or `None` when it is absent — or unreadable: a process killed while writing
/// it leaves it empty or cut short on storage whose writes are not atomic (a file system), and what it
/// records is then done again.
async fn read_record<T: DeserializeOwned>(
    storage: &Operator,
    path: &str,
) -> Result<Option<T>, LogicalError> {
    match read_json(storage, path).await {
        Err(LogicalError::Format(reason)) => {
            tracing::warn!(%reason, "a logical dump's record is unreadable; what it records is done again");
            Ok(None)
        }
        other => other,
    }
}

pub(crate) async fn read_json<T: DeserializeOwned>(
    storage: &Operator,
    path: &str,
) -> Result<Option<T>, LogicalError> {
    match storage.read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes.to_vec())
            .map(Some)
            .map_err(|e| LogicalError::Format(format!("{path}: {e}"))),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogicalError::storage(&e)),
    }
}

async fn write_json<T: Serialize>(
    storage: &Operator,
    path: &str,
    value: &T,
) -> Result<(), LogicalError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| LogicalError::Format(e.to_string()))?;
    write_bytes(storage, path, bytes).await
}

async fn write_bytes(storage: &Operator, path: &str, bytes: Vec<u8>) -> Result<(), LogicalError> {
    storage
        .write(path, bytes)
        .await
        .map(|_| ())
        .map_err(|e| LogicalError::storage(&e))
}
