//! Restoring a logical dump: refuse a rename the dump does not fit ([`super::names::restore_targets`]; a
//! drill's database prefix is a rename of every database) and a target that already holds what the dump
//! creates, create the databases, load the chunks (each table created by the first of its chunks) in
//! parallel (each checked against its SHA-256 before a row is sent, and its rows loaded in one transaction
//! that is rolled back unless it inserted the rows the manifest records), then create the views. Every
//! table's rows are so checked chunk by chunk, without counting the tables again at the end.

use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use mysql_async::Conn;
use opendal::Operator;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::storage::copy::hex;

use super::{
    LoadReport, LoadRequest, LogicalError, Progress,
    charset::{self, ClientCharset},
    layout::{
        ChunkDone, Compression, Manifest, ObjectKind, ObjectPlan, Plan, chunk_path, manifest_path,
        plan_path,
    },
    names::restore_targets,
    records::read_json,
    render::quote_identifier,
    session::Sessions,
    statements::identifier,
};

/// Chunks read and checked ahead of the sessions, each waiting for one to be free: a session goes from one
/// chunk to the next without waiting for a read (at most this many chunks more in memory).
const READ_AHEAD: usize = 1;

/// The most room made for a chunk before reading it, whatever its record says.
const MAX_RESERVED: usize = 1 << 30;

/// Table names asked about in one statement when looking for what the target already has.
const NAMES_A_STATEMENT: usize = 500;

/// Restores the dump in `dir` on `storage` into the target `request` names.
pub async fn load(
    request: &LoadRequest,
    storage: &Operator,
    dir: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<LoadReport, LogicalError> {
    request.refuse_prefix_with_rename()?;
    let dir = dir.trim_matches('/');
    let manifest: Manifest = read_json(storage, &manifest_path(dir))
        .await?
        .ok_or_else(|| {
            LogicalError::Refused(format!(
                "{dir} holds no finished logical dump (no manifest.json)"
            ))
        })?;
    let plan: Plan = read_json(storage, &plan_path(dir))
        .await?
        .ok_or_else(|| LogicalError::Format(format!("{dir}/plan.json is missing")))?;
    let sessions = Sessions::new(&request.connection, request.parallel);
    let result = run(
        &sessions, request, storage, dir, &manifest, &plan, cancel, progress,
    )
    .await;
    sessions.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    sessions: &Sessions,
    request: &LoadRequest,
    storage: &Operator,
    dir: &str,
    manifest: &Manifest,
    plan: &Plan,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<LoadReport, LogicalError> {
    // A manifest that does not add up is refused before anything is written.
    let work = chunk_work(manifest, plan)?;
    let mut conn = sessions.conn().await?;
    // Where every database lands is checked before anything is written.
    let target = targets(sessions, &mut conn, request, plan).await?;
    refuse_existing(sessions, &mut conn, plan, &target).await?;
    create_databases(sessions, &mut conn, plan, &target).await?;
    let charsets = charset::per_object(plan, &target);
    drop(conn);
    let created: Vec<OnceCell<()>> = plan.objects.iter().map(|_| OnceCell::new()).collect();
    let buffers = Buffers::default();
    let place = Place {
        sessions,
        storage,
        dir,
        plan,
        target: &target,
        charsets: &charsets,
        created: &created,
        buffers: &buffers,
    };
    let state = load_chunks(
        &place,
        work,
        manifest.rows,
        request.parallel,
        cancel,
        progress,
    )
    .await?;
    let tables = create_rest(&place, request.parallel).await?;
    let mut conn = sessions.conn().await?;
    let views = create_views(sessions, &mut conn, plan, &target).await?;
    drop(conn);
    Ok(LoadReport {
        snapshot: Some(manifest.snapshot.clone()),
        rows: state.rows_done,
        bytes: state.bytes_done,
        tables,
        views,
    })
}

/// Where each of the dump's databases is restored (its name, the one `rename` gives it, or `<prefix><name>`),
/// checked against the target's name case: the name it gets there.
pub(super) async fn targets(
    sessions: &Sessions,
    conn: &mut Conn,
    request: &LoadRequest,
    plan: &Plan,
) -> Result<impl Fn(&str) -> String + Sync + use<>, LogicalError> {
    let case = sessions.name_case(conn).await?;
    let databases: Vec<String> = plan.databases.iter().map(|d| d.name.clone()).collect();
    let targets = restore_targets(&databases, &request.renames(&databases)?, case)?;
    Ok(move |database: &str| {
        targets
            .get(database)
            .cloned()
            .unwrap_or_else(|| database.to_string())
    })
}

/// Creates the dump's databases, named as `target` says.
async fn create_databases(
    sessions: &Sessions,
    conn: &mut Conn,
    plan: &Plan,
    target: &(dyn Fn(&str) -> String + Sync),
) -> Result<(), LogicalError> {
    for database in &plan.databases {
        let ddl = with_name(&database.ddl, "DATABASE", &target(&database.name));
        sessions
            .execute(conn, &if_not_exists(&ddl, "CREATE DATABASE"))
            .await?;
    }
    Ok(())
}

/// Creates table `o` unless it was (once, whichever of its chunks comes first).
async fn ensure_table(place: &Place<'_>, o: usize) -> Result<(), LogicalError> {
    place.created[o]
        .get_or_try_init(|| {
            create_table(
                place.sessions,
                &place.plan.objects[o],
                place.plan,
                place.target,
            )
        })
        .await
        .map(drop)
}

/// Creates the tables no chunk created (those without rows), `parallel` at once; returns how many tables
/// the dump has.
async fn create_rest(place: &Place<'_>, parallel: usize) -> Result<usize, LogicalError> {
    // Indices, not references, in the stream: its future must be `Send` for any lifetime.
    let tables: Vec<usize> = (0..place.plan.objects.len())
        .filter(|o| place.plan.objects[*o].kind == ObjectKind::Table)
        .collect();
    let count = tables.len();
    futures::stream::iter(tables)
        .map(|o| ensure_table(place, o))
        .buffer_unordered(parallel.max(1))
        .try_collect::<()>()
        .await?;
    Ok(count)
}

/// Creates `table` in the database `target` names, on a session of its own.
async fn create_table(
    sessions: &Sessions,
    table: &ObjectPlan,
    plan: &Plan,
    target: &(dyn Fn(&str) -> String + Sync),
) -> Result<(), LogicalError> {
    let mut conn = sessions.conn().await?;
    // Foreign keys are not checked: a table may name a parent made after it, or at the same time.
    sessions
        .execute(&mut conn, "SET foreign_key_checks = 0")
        .await?;
    let database = quote_identifier(&target(&table.database));
    sessions
        .execute(&mut conn, &format!("USE {database}"))
        .await?;
    // A foreign key names its parent with the database: a renamed one too.
    sessions
        .execute(&mut conn, &renamed(&table.ddl, plan, target))
        .await
        .map(drop)
}

/// Every chunk to load, as its object's index, its own and what the manifest records of it; refused when
/// the manifest and the plan disagree.
fn chunk_work(
    manifest: &Manifest,
    plan: &Plan,
) -> Result<Vec<(usize, usize, ChunkDone)>, LogicalError> {
    let mut work = Vec::new();
    for (o, object) in plan.objects.iter().enumerate() {
        let entry = manifest
            .objects
            .iter()
            .find(|m| m.database == object.database && m.name == object.name)
            .ok_or_else(|| {
                LogicalError::Format(format!(
                    "{}.{} is not in the manifest",
                    object.database, object.name
                ))
            })?;
        if entry.chunks.len() != object.chunks.len() {
            return Err(LogicalError::Format(format!(
                "{}.{}: the manifest and the plan disagree",
                object.database, object.name
            )));
        }
        // Each chunk's rows are checked as it loads: together they must be the table's.
        let chunked: u64 = entry.chunks.iter().map(|c| c.rows).sum();
        if chunked != entry.rows {
            return Err(LogicalError::Format(format!(
                "{}.{}: the manifest records {} rows, its chunks {chunked}",
                object.database, object.name, entry.rows
            )));
        }
        for c in 0..entry.chunks.len() {
            work.push((o, c, entry.chunks[c].clone()));
        }
    }
    Ok(across_tables(work))
}

/// `work` (object by object) in rounds: the first chunk of every object, then the second… so that the
/// sessions load different tables at once rather than contend for one.
fn across_tables<T>(mut work: Vec<(usize, usize, T)>) -> Vec<(usize, usize, T)> {
    // A stable sort keeps each round in the objects' order.
    work.sort_by_key(|(_, c, _)| *c);
    work
}

/// What loading a chunk reads and where it writes: the sessions, the dump, and the target's names.
struct Place<'a> {
    sessions: &'a Sessions,
    storage: &'a Operator,
    dir: &'a str,
    plan: &'a Plan,
    target: &'a (dyn Fn(&str) -> String + Sync),
    /// The character set each object's rows are sent in.
    charsets: &'a [ClientCharset],
    /// Whether each object (a table) was created: by the first of its chunks to load.
    created: &'a [OnceCell<()>],
    buffers: &'a Buffers,
}

/// Loads the chunks of `work`, at most `parallel` at once, reporting progress as each finishes.
async fn load_chunks(
    place: &Place<'_>,
    work: Vec<(usize, usize, ChunkDone)>,
    rows_total: u64,
    parallel: usize,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<Progress, LogicalError> {
    let mut state = Progress {
        chunks_total: work.len(),
        rows_total,
        // The target was checked and its databases made.
        database_reached: true,
        ..Progress::default()
    };
    progress(&state);
    // A chunk is read and checked while the sessions are busy with others, and waits for one of them.
    let sending = tokio::sync::Semaphore::new(parallel.max(1));
    let sending = &sending;
    let mut loads = futures::stream::iter(work)
        .map(|(o, c, expected)| load_chunk(place, o, c, expected, sending, cancel))
        .buffer_unordered(parallel.max(1) + READ_AHEAD);
    while let Some(loaded) = loads.next().await {
        let loaded = loaded?;
        state.chunks_done += 1;
        state.rows_done += loaded.rows;
        state.bytes_done += loaded.bytes;
        progress(&state);
    }
    Ok(state)
}

/// Loads chunk `c` of object `o`, checked against what the manifest records of it, once one of the
/// `sending` permits (one a session) is free.
async fn load_chunk(
    place: &Place<'_>,
    o: usize,
    c: usize,
    expected: ChunkDone,
    sending: &tokio::sync::Semaphore,
    cancel: &CancellationToken,
) -> Result<ChunkDone, LogicalError> {
    let object = &place.plan.objects[o];
    let database = (place.target)(&object.database);
    if cancel.is_cancelled() {
        return Err(LogicalError::Canceled);
    }
    let path = chunk_path(place.dir, place.plan.compression, object, c);
    // The table is made while its first chunk is read.
    let (sql, ()) = tokio::try_join!(read_chunk(place, &path, &expected), ensure_table(place, o))?;
    let _session = sending
        .acquire()
        .await
        .map_err(|e| LogicalError::Format(format!("loading stopped: {e}")))?;
    if cancel.is_cancelled() {
        return Err(LogicalError::Canceled);
    }
    let mismatch = |rows: u64| {
        LogicalError::Format(format!(
            "{}.{} chunk {c}: {rows} rows loaded, the manifest says {}",
            object.database, object.name, expected.rows
        ))
    };
    let charset = place.charsets[o];
    execute_chunk(
        place.sessions,
        &database,
        charset,
        &sql,
        expected.rows,
        mismatch,
    )
    .await?;
    place.buffers.give(sql);
    crate::crash::point("logical/load/chunk");
    Ok(expected)
}

/// Refuses a target that already has a table or view the dump creates, naming them.
async fn refuse_existing(
    sessions: &Sessions,
    conn: &mut Conn,
    plan: &Plan,
    target: &(dyn Fn(&str) -> String + Sync),
) -> Result<(), LogicalError> {
    // By the databases the objects name, whether or not the plan lists them.
    let mut by_database: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for object in &plan.objects {
        by_database
            .entry(&object.database)
            .or_default()
            .push(object.name.clone());
    }
    let mut clashes = Vec::new();
    for (database, names) in by_database {
        clashes.extend(existing(sessions, conn, &target(database), &names).await?);
    }
    clashes.sort();
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(LogicalError::Refused(format!(
            "the target already has {} the dump creates: {}; restore into an empty tenant or database",
            if clashes.len() == 1 {
                "an object"
            } else {
                "objects"
            },
            clashes.join(", ")
        )))
    }
}

/// Which of the tables and views `names` the target's `database` has, as `database.name`: asked a few
/// hundred names a statement, so that a dump of many tables takes few round trips.
async fn existing(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    names: &[String],
) -> Result<Vec<String>, LogicalError> {
    let mut found = Vec::new();
    for some in names.chunks(NAMES_A_STATEMENT) {
        let marks = vec!["?"; some.len()].join(", ");
        let params: Vec<mysql_async::Value> = std::iter::once(database)
            .chain(some.iter().map(String::as_str))
            .map(mysql_async::Value::from)
            .collect();
        let tables: Vec<String> = sessions
            .rows(
                conn,
                &format!(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({marks})"
                ),
                params,
            )
            .await?;
        found.extend(tables.into_iter().map(|t| format!("{database}.{t}")));
    }
    Ok(found)
}

/// Creates the views, each after the views it reads (a view that fails is tried again after the others).
async fn create_views(
    sessions: &Sessions,
    conn: &mut Conn,
    plan: &Plan,
    target: &(dyn Fn(&str) -> String + Sync),
) -> Result<usize, LogicalError> {
    let mut pending: Vec<&ObjectPlan> = plan
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::View)
        .collect();
    let total = pending.len();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last_error = None;
        for view in pending.iter().copied() {
            sessions
                .execute(
                    conn,
                    &format!("USE {}", quote_identifier(&target(&view.database))),
                )
                .await?;
            // The view is the loading user's: the source's definer may not exist in the target.
            let ddl = renamed(&without_definer(&view.ddl), plan, target);
            if let Err(error) = sessions.execute(conn, &ddl).await {
                failed.push(view);
                last_error = Some(error);
            }
        }
        if failed.len() == pending.len() {
            return Err(
                last_error.unwrap_or(LogicalError::Format("views could not be created".into()))
            );
        }
        pending = failed;
    }
    Ok(total)
}

/// A chunk's SQL, decompressed as the dump's `compression` says into a buffer of `place`'s (a plain chunk
/// is used as read), after checking it is what the manifest records (`expected`). Hand it back to
/// [`Buffers::give`] once loaded.
async fn read_chunk(
    place: &Place<'_>,
    path: &str,
    expected: &ChunkDone,
) -> Result<Vec<u8>, LogicalError> {
    // A damaged record cannot make the operator reserve more than a chunk's worth up front.
    let size = usize::try_from(expected.bytes)
        .unwrap_or(0)
        .min(MAX_RESERVED);
    let compression = place.plan.compression;
    // A compressed chunk is smaller than its SQL.
    let stored = crate::storage::read::whole(place.storage, path, place.buffers.take(size))
        .await
        .map_err(LogicalError::Storage)?;
    let spare = (compression != Compression::None).then(|| place.buffers.take(size));
    let path = path.to_string();
    let sha256 = expected.sha256.clone();
    let (sql, spare) = tokio::task::spawn_blocking(move || {
        let (sql, spare) = match spare {
            None => (stored, None),
            Some(plain) => (
                compression
                    .decode(&stored, size, plain)
                    .map_err(|e| LogicalError::Format(format!("{path}: {e}")))?,
                Some(stored),
            ),
        };
        let found = hex(&Sha256::digest(&sql));
        if found != sha256 {
            return Err(LogicalError::Format(format!(
                "{path} is damaged: its SHA-256 is {found}, the manifest says {sha256}"
            )));
        }
        Ok((sql, spare))
    })
    .await
    .map_err(|e| LogicalError::Format(format!("decompression stopped: {e}")))??;
    if let Some(spare) = spare {
        place.buffers.give(spare);
    }
    Ok(sql)
}

/// Buffers chunks are read and decompressed into, handed back once a chunk is loaded: a buffer used again
/// is not faulted in and zeroed by the kernel again. At most a buffer or two for each chunk in flight.
#[derive(Default)]
struct Buffers(Mutex<Vec<Vec<u8>>>);

impl Buffers {
    /// An empty buffer with room for `size` bytes: one handed back if it has that room. A smaller one is
    /// let go rather than grown, which would copy all it held; a new one gets a quarter more room, for the
    /// next chunks' sizes.
    fn take(&self, size: usize) -> Vec<u8> {
        let mut buffer = self
            .0
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default();
        buffer.clear();
        if buffer.capacity() < size {
            buffer = Vec::with_capacity(size.saturating_add(size / 4));
        }
        buffer
    }

    fn give(&self, buffer: Vec<u8>) {
        if let Ok(mut free) = self.0.lock() {
            free.push(buffer);
        }
    }
}

/// Runs a chunk's statements (one per line) in `database`, each sent as the bytes the dump holds in
/// `charset`, in one transaction that holds `expected` rows or is rolled back.
async fn execute_chunk(
    sessions: &Sessions,
    database: &str,
    charset: ClientCharset,
    sql: &[u8],
    expected: u64,
    mismatch: impl Fn(u64) -> LogicalError,
) -> Result<(), LogicalError> {
    let mut conn = sessions.conn().await?;
    if let Some(statement) = charset.statement() {
        sessions.execute(&mut conn, statement).await?;
    }
    sessions.execute(&mut conn, "BEGIN").await?;
    let inserted = match insert_rows(sessions, &mut conn, database, sql).await {
        Ok(rows) if rows == expected => Ok(()),
        Ok(rows) => Err(mismatch(rows)),
        Err(error) => Err(error),
    };
    match inserted {
        Ok(()) => sessions.execute(&mut conn, "COMMIT").await.map(drop),
        Err(error) => {
            // The chunk's rows go with it; the restore fails on `error`, not on the rollback's fate.
            let _ = sessions.execute(&mut conn, "ROLLBACK").await;
            Err(error)
        }
    }
}

/// Sends a chunk's statements on `conn`, returning the rows they inserted. Its `USE` names the target's
/// database, and its `SET NAMES` is left out: the session's character set was chosen for the table.
async fn insert_rows(
    sessions: &Sessions,
    conn: &mut mysql_async::Conn,
    database: &str,
    sql: &[u8],
) -> Result<u64, LogicalError> {
    let mut rows = 0;
    for line in lines(sql) {
        let statement = line.trim_ascii();
        if statement.is_empty() || statement.starts_with(b"--") {
            continue;
        }
        if statement.starts_with(b"USE ") {
            sessions
                .execute(conn, &format!("USE {}", quote_identifier(database)))
                .await?;
            continue;
        }
        if statement.starts_with(b"SET NAMES ") {
            continue;
        }
        rows += sessions.execute_bytes(conn, statement).await?;
    }
    Ok(rows)
}

/// The lines of a chunk's SQL, without their line ends. Found with `memchr`, which looks at many bytes at
/// once: a byte-at-a-time search of a restore's hundreds of MB of SQL took a good part of its own CPU.
fn lines(sql: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', sql)
        .chain(std::iter::once(sql.len()))
        .map(move |end| {
            let line = &sql[start.min(end)..end];
            start = end + 1;
            line
        })
}

/// A definition with every dump database it names (`` `db`. ``, a view's tables, a foreign key's parent)
/// renamed as the target asks.
fn renamed(ddl: &str, plan: &Plan, target: &(dyn Fn(&str) -> String + Sync)) -> String {
    let mut ddl = ddl.to_string();
    for database in &plan.databases {
        let renamed = target(&database.name);
        if renamed != database.name {
            ddl = ddl.replace(
                &format!("{}.", quote_identifier(&database.name)),
                &format!("{}.", quote_identifier(&renamed)),
            );
        }
    }
    ddl
}

/// A `CREATE … VIEW` statement without its `DEFINER=user@host` clause.
fn without_definer(ddl: &str) -> String {
    // Only in the head, before `VIEW`: the select may name anything.
    let upper = ddl.to_ascii_uppercase();
    let head = upper.find(" VIEW ").unwrap_or(upper.len());
    let Some(at) = upper[..head].find("DEFINER=") else {
        return ddl.to_string();
    };
    let after = &ddl[at + "DEFINER=".len()..];
    let Some((_, rest)) = identifier(after) else {
        return ddl.to_string();
    };
    let rest = match rest.strip_prefix('@') {
        Some(host) => identifier(host).map_or(host, |(_, rest)| rest),
        None => rest,
    };
    format!("{}{}", &ddl[..at], rest.trim_start())
}

/// `CREATE DATABASE `x` …` with the name replaced.
fn with_name(ddl: &str, keyword: &str, name: &str) -> String {
    match ddl.find('`').zip(ddl.rfind('`')) {
        Some((start, end))
            if start < end && ddl[..start].to_ascii_uppercase().contains(keyword) =>
        {
            format!(
                "{}{}{}",
                &ddl[..start],
                quote_identifier(name),
                &ddl[end + 1..]
            )
        }
        _ => ddl.to_string(),
    }
}

fn if_not_exists(ddl: &str, statement: &str) -> String {
    if ddl.to_ascii_uppercase().starts_with(statement)
        && !ddl.to_ascii_uppercase().contains("IF NOT EXISTS")
    {
        format!("{statement} IF NOT EXISTS{}", &ddl[statement.len()..])
    } else {
        ddl.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_splits_into_its_lines_as_a_split_at_line_ends_does() {
        for sql in [
            &b"SET NAMES utf8mb4;\nINSERT INTO t VALUES (1);\n"[..],
            b"no line end",
            b"",
            b"\n\n",
            b"a\r\nb\n\nc",
        ] {
            let expected: Vec<&[u8]> = sql.split(|b| *b == b'\n').collect();
            assert_eq!(lines(sql).collect::<Vec<_>>(), expected, "{sql:?}");
        }
    }

    #[test]
    fn chunks_are_loaded_in_rounds_across_tables() {
        let work = vec![
            (0, 0, ()),
            (0, 1, ()),
            (0, 2, ()),
            (1, 0, ()),
            (2, 0, ()),
            (2, 1, ()),
        ];
        let order: Vec<(usize, usize)> = across_tables(work)
            .into_iter()
            .map(|(o, c, _)| (o, c))
            .collect();
        assert_eq!(order, [(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2)]);
    }

    #[test]
    fn a_view_loses_its_definer_and_keeps_the_rest() {
        assert_eq!(
            without_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `DEFINER=x`"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1 AS `DEFINER=x`"
        );
        assert_eq!(
            without_definer("CREATE VIEW `v` AS select 1"),
            "CREATE VIEW `v` AS select 1"
        );
        assert_eq!(
            without_definer("CREATE DEFINER=admin@localhost VIEW v AS SELECT 1"),
            "CREATE VIEW v AS SELECT 1"
        );
    }

    #[test]
    fn a_database_definition_takes_the_target_name_and_tolerates_an_existing_database() {
        let ddl = "CREATE DATABASE `shop` DEFAULT CHARACTER SET = utf8mb4";
        let renamed = with_name(ddl, "DATABASE", "shop_copy");
        assert_eq!(
            renamed,
            "CREATE DATABASE `shop_copy` DEFAULT CHARACTER SET = utf8mb4"
        );
        assert_eq!(
            if_not_exists(&renamed, "CREATE DATABASE"),
            "CREATE DATABASE IF NOT EXISTS `shop_copy` DEFAULT CHARACTER SET = utf8mb4"
        );
    }
}
