//! One chunk of a dump: its rows read at the snapshot, written as `INSERT` statements, hashed and
//! gzip-compressed off the async threads, streamed to its object, then its `.done` record.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use mysql_async::{Value, prelude::Queryable};
use opendal::Operator;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{
    logical::{
        LogicalError,
        layout::{ChunkDone, ChunkPlan, ObjectPlan, Plan, chunk_done_path, chunk_path},
        records::write_json,
        render::{ColumnKind, InsertBatcher, quote_identifier},
        session::Sessions,
    },
    storage::copy::hex,
};

/// SQL handed to the compressor (and the object) at a time.
const FLUSH_BYTES: usize = 1 << 20;
/// Largest INSERT statement written.
const STATEMENT_BYTES: usize = 1 << 20;
/// Bytes buffered per object before a request to the storage (S3's smallest multipart part is 5 MiB).
const WRITE_CHUNK_BYTES: usize = 8 << 20;

/// Reads one chunk at the snapshot and writes it, then its `.done` record.
pub(super) async fn write_chunk(
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
    let columns: Vec<(String, ColumnKind)> = object
        .columns
        .iter()
        .map(|col| (col.name.clone(), ColumnKind::of(&col.data_type)))
        .collect();
    let (select, params) = chunk_select(object, &object.chunks[c], plan.snapshot.scn, &columns);
    let mut sink = ChunkSink::open(storage, &chunk_path(dir, object, c)).await?;
    let mut buffer = chunk_header(plan, object, c).into_bytes();
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

/// The statement reading `chunk` of `object` at the snapshot `scn`, in key order, and its parameters.
fn chunk_select(
    object: &ObjectPlan,
    chunk: &ChunkPlan,
    scn: u64,
    columns: &[(String, ColumnKind)],
) -> (String, Vec<Value>) {
    let names: Vec<String> = columns.iter().map(|(n, _)| quote_identifier(n)).collect();
    let mut select = format!(
        "SELECT {} FROM {}.{} AS OF SNAPSHOT {}",
        names.join(","),
        quote_identifier(&object.database),
        quote_identifier(&object.name),
        scn
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
    (select, params)
}

/// The lines a chunk's object starts with: what it is, and the session state its statements need.
fn chunk_header(plan: &Plan, object: &ObjectPlan, c: usize) -> String {
    format!(
        "-- ob-backup-operator logical dump: {}.{}, chunk {} of {}, at SCN {}\n\
         SET NAMES utf8mb4;\nSET time_zone = '+00:00';\nSET sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n\
         SET foreign_key_checks = 0;\nUSE {};\n",
        quote_identifier(&object.database),
        quote_identifier(&object.name),
        c + 1,
        object.chunks.len(),
        plan.snapshot.scn,
        quote_identifier(&object.database),
    )
}

fn bound(value: i128) -> Value {
    match i64::try_from(value) {
        Ok(v) => Value::Int(v),
        Err(_) => Value::UInt(u64::try_from(value).unwrap_or(u64::MAX)),
    }
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
