//! One chunk of a dump: its rows read at the snapshot, written as `INSERT` statements, hashed and
//! compressed (zstd or gzip, as the plan says) off the async threads, streamed to its object, then its
//! `.done` record. The reading and rendering ([`render_chunk`]) are shared with a restore drill's
//! verification, which reads a copy of the table now and renders the same bytes into a hash
//! ([`crate::logical::verify`]).

use mysql_async::{Value, prelude::Queryable};
use opendal::Operator;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{
    logical::{
        LogicalError,
        compression::{Compression, Encoder},
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

/// Where a chunk is read from: the database holding its table (the dump's source, or a restore drill's copy
/// of it) and the snapshot it is read at (`None`: as it is now).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkSource<'a> {
    pub(crate) database: &'a str,
    pub(crate) snapshot: Option<u64>,
}

/// Where a chunk's SQL goes as it is rendered, a piece at a time: the dump's object, or a verification's
/// hash.
pub(crate) trait SqlSink: Send {
    fn push(&mut self, sql: Vec<u8>) -> impl Future<Output = Result<(), LogicalError>> + Send;
}

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
    let source = ChunkSource {
        database: &object.database,
        snapshot: Some(plan.snapshot.scn),
    };
    let path = chunk_path(dir, plan.compression, object, c);
    let mut sink = ChunkSink::open(storage, &path, plan.compression).await?;
    let rows = render_chunk(sessions, plan, object, c, source, &mut sink, cancel).await?;
    let mut done = sink.close().await?;
    done.rows = rows;
    crate::crash::point("logical/chunk/written");
    write_json(storage, &chunk_done_path(dir, object, c), &done).await?;
    Ok(done)
}

/// Reads chunk `c` of `object` from `source` and renders it exactly as the dump writes it — its header
/// (naming the dump's database and snapshot, whatever `source` reads), then `INSERT` statements of at most
/// [`STATEMENT_BYTES`] — handing the SQL to `sink` in pieces; returns the rows read. Canceled between
/// pieces.
pub(crate) async fn render_chunk(
    sessions: &Sessions,
    plan: &Plan,
    object: &ObjectPlan,
    c: usize,
    source: ChunkSource<'_>,
    sink: &mut impl SqlSink,
    cancel: &CancellationToken,
) -> Result<u64, LogicalError> {
    let columns = columns(object);
    let (select, params) = chunk_select(object, &object.chunks[c], source, &columns);
    let mut buffer = Vec::with_capacity(FLUSH_BYTES + STATEMENT_BYTES);
    buffer.extend_from_slice(chunk_header(plan, object, c).as_bytes());
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
            // Room for a flush's worth and the row that passes it (a row is at most a statement, but
            // for one longer than any statement): the buffer is not grown by copying what it holds.
            let next = Vec::with_capacity(FLUSH_BYTES + STATEMENT_BYTES);
            sink.push(std::mem::replace(&mut buffer, next)).await?;
        }
    }
    drop(result);
    batcher.finish(&mut buffer);
    sink.push(buffer).await?;
    Ok(rows)
}

/// The columns a table's chunks hold, each with how its values are written.
fn columns(object: &ObjectPlan) -> Vec<(String, ColumnKind)> {
    object
        .columns
        .iter()
        .map(|col| (col.name.clone(), ColumnKind::of(&col.data_type)))
        .collect()
}

/// The statement reading `chunk` of `object` from `source` in key order, and its parameters. A table
/// without a chunk key is read in the order the engine stores it.
fn chunk_select(
    object: &ObjectPlan,
    chunk: &ChunkPlan,
    source: ChunkSource<'_>,
    columns: &[(String, ColumnKind)],
) -> (String, Vec<Value>) {
    let names: Vec<String> = columns.iter().map(|(n, _)| quote_identifier(n)).collect();
    let mut select = format!(
        "SELECT {} FROM {}.{}",
        names.join(","),
        quote_identifier(source.database),
        quote_identifier(&object.name),
    );
    if let Some(scn) = source.snapshot {
        select.push_str(&format!(" AS OF SNAPSHOT {scn}"));
    }
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

/// A chunk's object: SQL in, hashed and compressed off the async threads, streamed out. One piece is
/// hashed and compressed while the next is read and rendered: [`SqlSink::push`] waits only for the piece
/// before it.
struct ChunkSink {
    writer: opendal::Writer,
    /// The hasher and encoder, here between pieces; away while a piece is being worked on.
    state: Option<Packer>,
    /// The piece being hashed and compressed, which gives the state back with its compressed bytes.
    pending: Option<Packing>,
    bytes: u64,
    stored: u64,
}

/// A piece being hashed and compressed on a blocking thread: it gives back the packer and the compressed bytes.
type Packing = tokio::task::JoinHandle<std::io::Result<(Packer, Vec<u8>)>>;

/// What a chunk's SQL goes through before its object: the SHA-256 of the SQL and its compression.
struct Packer {
    hasher: Sha256,
    /// None without compression.
    encoder: Option<Encoder>,
}

impl Packer {
    /// Hashes and compresses `sql`; returns the compressed bytes produced so far, all of them when `finish`
    /// (without compression, `sql` itself, not copied).
    fn pack(&mut self, sql: Vec<u8>, finish: bool) -> std::io::Result<Vec<u8>> {
        self.hasher.update(&sql);
        let Some(encoder) = self.encoder.as_mut() else {
            return Ok(sql);
        };
        encoder.write_all(&sql)?;
        if finish {
            encoder.finish()?;
        }
        Ok(encoder.take())
    }
}

impl ChunkSink {
    async fn open(
        storage: &Operator,
        path: &str,
        compression: Compression,
    ) -> Result<Self, LogicalError> {
        let encoder = compression
            .encoder()
            .map_err(|e| LogicalError::Format(format!("compression failed: {e}")))?;
        let writer = storage
            .writer_with(path)
            .chunk(WRITE_CHUNK_BYTES)
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        Ok(Self {
            writer,
            state: Some(Packer {
                hasher: Sha256::new(),
                encoder,
            }),
            pending: None,
            bytes: 0,
            stored: 0,
        })
    }

    /// Waits for the piece in flight, if any, and writes what it compressed.
    async fn settle(&mut self) -> Result<(), LogicalError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let (state, compressed) = pending
            .await
            .map_err(|e| LogicalError::Format(format!("compression stopped: {e}")))?
            .map_err(|e| LogicalError::Format(format!("compression failed: {e}")))?;
        self.state = Some(state);
        if !compressed.is_empty() {
            self.stored += compressed.len() as u64;
            self.writer
                .write(compressed)
                .await
                .map_err(|e| LogicalError::storage(&e))?;
        }
        Ok(())
    }

    /// Hands `sql` to a blocking thread (hashing and compression are CPU work the operator's async threads
    /// must not do), after the piece before it is written.
    async fn start(&mut self, sql: Vec<u8>, finish: bool) -> Result<(), LogicalError> {
        self.settle().await?;
        let mut state = self
            .state
            .take()
            .ok_or_else(|| LogicalError::Format("chunk already closed".into()))?;
        self.bytes += sql.len() as u64;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            let compressed = state.pack(sql, finish)?;
            Ok((state, compressed))
        }));
        Ok(())
    }

    async fn close(mut self) -> Result<ChunkDone, LogicalError> {
        self.start(Vec::new(), true).await?;
        self.settle().await?;
        let state = self
            .state
            .take()
            .ok_or_else(|| LogicalError::Format("chunk already closed".into()))?;
        self.writer
            .close()
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        Ok(ChunkDone {
            rows: 0,
            bytes: self.bytes,
            stored_bytes: self.stored,
            sha256: hex(&state.hasher.finalize()),
        })
    }
}

impl SqlSink for ChunkSink {
    async fn push(&mut self, sql: Vec<u8>) -> Result<(), LogicalError> {
        self.start(sql, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::layout::{ColumnPlan, ObjectKind};

    fn table(chunk_key: Option<&str>) -> ObjectPlan {
        ObjectPlan {
            database: "shop".into(),
            name: "order items".into(),
            kind: ObjectKind::Table,
            ddl: String::new(),
            columns: vec![
                ColumnPlan {
                    name: "id".into(),
                    data_type: "bigint".into(),
                    charset: None,
                },
                ColumnPlan {
                    name: "note".into(),
                    data_type: "text".into(),
                    charset: Some("utf8mb4".into()),
                },
            ],
            chunk_key: chunk_key.map(str::to_string),
            rows: 0,
            chunks: Vec::new(),
        }
    }

    #[test]
    fn a_chunk_reads_its_key_range_in_key_order_at_the_snapshot_or_now_from_a_copy() {
        let object = table(Some("id"));
        let range = ChunkPlan {
            from: Some(100),
            to: Some(200),
        };
        let at_snapshot = ChunkSource {
            database: "shop",
            snapshot: Some(1795),
        };
        let (select, params) = chunk_select(&object, &range, at_snapshot, &columns(&object));
        assert_eq!(
            select,
            "SELECT `id`,`note` FROM `shop`.`order items` AS OF SNAPSHOT 1795 \
             WHERE `id` >= ? AND `id` < ? ORDER BY `id`"
        );
        assert_eq!(params, [Value::Int(100), Value::Int(200)]);
        let copy = ChunkSource {
            database: "drill_1_shop",
            snapshot: None,
        };
        let (select, params) = chunk_select(&object, &range, copy, &columns(&object));
        assert_eq!(
            select,
            "SELECT `id`,`note` FROM `drill_1_shop`.`order items` \
             WHERE `id` >= ? AND `id` < ? ORDER BY `id`"
        );
        assert_eq!(params.len(), 2);
        // Without a chunk key: the whole table, in the order the engine stores it.
        let keyless = table(None);
        let whole = ChunkPlan {
            from: None,
            to: None,
        };
        let (select, params) = chunk_select(&keyless, &whole, copy, &columns(&keyless));
        assert_eq!(
            select,
            "SELECT `id`,`note` FROM `drill_1_shop`.`order items`"
        );
        assert!(params.is_empty());
    }
}
