//! A restore drill's verdict on its copy: a dump loaded under a prefix ([`LoadRequest::database_prefix`])
//! is read back and compared with the dump, then dropped.
//!
//! - **What equal means.** Every chunk of every table is read from the copy with the columns, key range and
//!   order the dump read it with (now, not `AS OF SNAPSHOT`), rendered into exactly the bytes the dump wrote
//!   for it (the same header, naming the source's database and the dump's SCN, and the same `INSERT`
//!   statements), and its SHA-256 and row count compared with the chunk's `.done` record. The copy equals
//!   the dump, and so the source at the dump's snapshot, when every chunk does. A view is checked to exist.
//! - **A table without a chunk key** (no integer primary key) was dumped in the order the engine read it,
//!   without `ORDER BY`, and is read back the same way: OceanBase stores a table without a primary key by a
//!   hidden, increasing key, so the copy reads back in the order it was loaded — the dump's.
//! - **Nothing written.** [`verify`] only reads; [`drop_copy`] drops only databases named with a `drill_`
//!   prefix, never one that is not a scratch copy.

use futures::{StreamExt, TryStreamExt};
use opendal::Operator;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::storage::copy::hex;

use super::{
    LoadRequest, LogicalError,
    dump::chunk::{ChunkSource, SqlSink, render_chunk},
    job::LoadJob,
    layout::{
        ChunkDone, Manifest, ObjectKind, ObjectPlan, Plan, chunk_done_path, manifest_path,
        plan_path,
    },
    load::targets,
    records::read_json,
    render::quote_identifier,
    session::Sessions,
};

/// The prefix a copy's databases must start with to be dropped.
pub const SCRATCH_PREFIX: &str = "drill_";

pub use super::job::TableCheck;

/// Compares the copy `job` loaded with the dump it loaded: one check per table and view of the dump, in
/// the dump's order. Writes nothing. An error is returned only when the verification could not be done
/// (the database or the storage unreachable, the dump unreadable, `cancel`); a copy that differs, or lacks
/// a table, is a failed check.
pub async fn verify(
    job: &LoadJob,
    cancel: &CancellationToken,
) -> Result<Vec<TableCheck>, LogicalError> {
    refuse_script(job, "verified")?;
    job.request.refuse_prefix_with_rename()?;
    let storage = job.storage()?;
    let dir = job.path.trim_matches('/');
    read_json::<Manifest>(&storage, &manifest_path(dir))
        .await?
        .ok_or_else(|| {
            LogicalError::Refused(format!(
                "{dir} holds no finished logical dump (no manifest.json)"
            ))
        })?;
    let plan = read_plan(&storage, dir).await?;
    let sessions = Sessions::reading(&job.request.connection, job.request.parallel);
    let dump = Dump {
        storage: &storage,
        dir,
        plan: &plan,
    };
    let result = check_all(&sessions, &job.request, &dump, cancel).await;
    sessions.close().await;
    result
}

/// Drops the copy `job` loaded: `DROP DATABASE IF EXISTS <prefix><name>` for every database of the dump.
/// Returns the copy's databases, each gone now (dropped, or already absent). Refused before anything is
/// sent when the request has no prefix or one that does not start with `drill_`.
pub async fn drop_copy(job: &LoadJob) -> Result<Vec<String>, LogicalError> {
    let prefix = scratch_prefix(&job.request)?;
    refuse_script(job, "dropped")?;
    let storage = job.storage()?;
    let plan = read_plan(&storage, job.path.trim_matches('/')).await?;
    let names: Vec<String> = plan
        .databases
        .iter()
        .map(|d| format!("{prefix}{}", d.name))
        .collect();
    let sessions = Sessions::new(&job.request.connection, 1);
    let result = drop_databases(&sessions, &names).await;
    sessions.close().await;
    result.map(|()| names)
}

/// The request's prefix, when it names a scratch copy; refused otherwise.
fn scratch_prefix(request: &LoadRequest) -> Result<&str, LogicalError> {
    match request.prefix() {
        Some(prefix) if prefix.starts_with(SCRATCH_PREFIX) => Ok(prefix),
        Some(prefix) => Err(LogicalError::Invalid(format!(
            "the database prefix {prefix} does not start with {SCRATCH_PREFIX}: only a restore drill's \
             scratch copy is dropped"
        ))),
        None => Err(LogicalError::Invalid(format!(
            "no database prefix: only a restore drill's scratch copy ({SCRATCH_PREFIX}…) is dropped"
        ))),
    }
}

/// Refuses a SQL script: only the operator's own dumps are loaded as a drill's copy.
fn refuse_script(job: &LoadJob, what: &str) -> Result<(), LogicalError> {
    if job.is_script() {
        return Err(LogicalError::Invalid(format!(
            "{} is a SQL script: only a copy of the operator's own dump is {what}",
            job.path
        )));
    }
    Ok(())
}

async fn read_plan(storage: &Operator, dir: &str) -> Result<Plan, LogicalError> {
    read_json(storage, &plan_path(dir))
        .await?
        .ok_or_else(|| LogicalError::Format(format!("{dir}/plan.json is missing")))
}

async fn drop_databases(sessions: &Sessions, names: &[String]) -> Result<(), LogicalError> {
    let mut conn = sessions.conn().await?;
    for name in names {
        let statement = format!("DROP DATABASE IF EXISTS {}", quote_identifier(name));
        sessions.execute(&mut conn, &statement).await?;
    }
    Ok(())
}

/// The dump a copy is compared with.
struct Dump<'a> {
    storage: &'a Operator,
    dir: &'a str,
    plan: &'a Plan,
}

/// Checks every table and view, `parallel` at a time, in the dump's order.
async fn check_all(
    sessions: &Sessions,
    request: &LoadRequest,
    dump: &Dump<'_>,
    cancel: &CancellationToken,
) -> Result<Vec<TableCheck>, LogicalError> {
    let mut conn = sessions.conn().await?;
    let target = targets(sessions, &mut conn, request, dump.plan).await?;
    drop(conn);
    // By index, as the load does: a closure over a borrowed object trips the compiler's check that the
    // future is `Send`.
    futures::stream::iter(0..dump.plan.objects.len())
        .map(|o| {
            let copy = target(&dump.plan.objects[o].database);
            check_object(sessions, dump, o, copy, cancel)
        })
        .buffered(request.parallel.max(1))
        .try_collect()
        .await
}

/// Checks the copy (in database `copy`) of the dump's table or view `o`.
async fn check_object(
    sessions: &Sessions,
    dump: &Dump<'_>,
    o: usize,
    copy: String,
    cancel: &CancellationToken,
) -> Result<TableCheck, LogicalError> {
    let object = &dump.plan.objects[o];
    match object.kind {
        ObjectKind::Table => check_table(sessions, dump, object, &copy, cancel).await,
        ObjectKind::View => check_view(sessions, object, &copy).await,
    }
}

/// Compares the copy of a table (in database `copy`) with the dump, chunk by chunk, up to the first that
/// differs.
async fn check_table(
    sessions: &Sessions,
    dump: &Dump<'_>,
    object: &ObjectPlan,
    copy: &str,
    cancel: &CancellationToken,
) -> Result<TableCheck, LogicalError> {
    let total = object.chunks.len();
    let mut rows = 0;
    for c in 0..total {
        if cancel.is_cancelled() {
            return Err(LogicalError::Canceled);
        }
        let dumped = chunk_done(dump, object, c).await?;
        let read = match read_chunk(sessions, dump.plan, object, c, copy, cancel).await {
            Ok(read) => read,
            Err(error @ (LogicalError::Server { .. } | LogicalError::Format(_))) => {
                let message = format!(
                    "chunk {} of {total} cannot be read from the copy {}.{}: {error}",
                    c + 1,
                    quote_identifier(copy),
                    quote_identifier(&object.name)
                );
                return Ok(check(object, false, message));
            }
            Err(other) => return Err(other),
        };
        if let Some(difference) = difference(&read, &dumped) {
            let message = format!(
                "chunk {} of {total} differs from the dump: {difference}",
                c + 1
            );
            return Ok(check(object, false, message));
        }
        rows += read.rows;
    }
    let message = format!(
        "{} in {} equal the dump taken at SCN {}",
        counted(rows, "row"),
        counted(total as u64, "chunk"),
        dump.plan.snapshot.scn
    );
    Ok(check(object, true, message))
}

/// A chunk's `.done` record.
async fn chunk_done(
    dump: &Dump<'_>,
    object: &ObjectPlan,
    c: usize,
) -> Result<ChunkDone, LogicalError> {
    let path = chunk_done_path(dump.dir, object, c);
    read_json(dump.storage, &path)
        .await?
        .ok_or_else(|| LogicalError::Format(format!("{path} is missing")))
}

/// What a chunk of the copy renders to: its rows, and the SHA-256 of its SQL.
struct Rendered {
    rows: u64,
    sha256: String,
}

/// Reads chunk `c` of the copy of `object` in database `copy` and renders it as the dump did.
async fn read_chunk(
    sessions: &Sessions,
    plan: &Plan,
    object: &ObjectPlan,
    c: usize,
    copy: &str,
    cancel: &CancellationToken,
) -> Result<Rendered, LogicalError> {
    let source = ChunkSource {
        database: copy,
        snapshot: None,
    };
    let mut hash = HashSink(Sha256::new());
    let rows = render_chunk(sessions, plan, object, c, source, &mut hash, cancel).await?;
    Ok(Rendered {
        rows,
        sha256: hex(&hash.0.finalize()),
    })
}

/// Rendered SQL, hashed and let go.
struct HashSink(Sha256);

impl SqlSink for HashSink {
    async fn push(&mut self, sql: Vec<u8>) -> Result<(), LogicalError> {
        self.0.update(&sql);
        Ok(())
    }
}

/// How a chunk read from the copy differs from the dump's, if it does.
fn difference(read: &Rendered, dumped: &ChunkDone) -> Option<String> {
    if read.rows != dumped.rows {
        Some(format!(
            "{} read, {} dumped",
            counted(read.rows, "row"),
            dumped.rows
        ))
    } else if read.sha256 != dumped.sha256 {
        Some(format!("same row count ({}), other contents", read.rows))
    } else {
        None
    }
}

/// Whether the copy has the view (in database `copy`).
async fn check_view(
    sessions: &Sessions,
    object: &ObjectPlan,
    copy: &str,
) -> Result<TableCheck, LogicalError> {
    let mut conn = sessions.conn().await?;
    let found: Vec<String> = sessions
        .rows(
            &mut conn,
            "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (copy, object.name.as_str()),
        )
        .await?;
    let qualified = format!(
        "{}.{}",
        quote_identifier(copy),
        quote_identifier(&object.name)
    );
    Ok(if found.is_empty() {
        check(
            object,
            false,
            format!("the view {qualified} is missing from the copy"),
        )
    } else {
        check(
            object,
            true,
            format!("the view exists in the copy as {qualified}"),
        )
    })
}

fn check(object: &ObjectPlan, passed: bool, message: String) -> TableCheck {
    TableCheck {
        table: format!("{}.{}", object.database, object.name),
        passed,
        message,
    }
}

/// `1 row`, `2 rows`.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::ConnectionInfo;

    /// A drill's copy of the dump in `path`, on a database that refuses connections: a refusal must come
    /// before any connection, and before the storage is read.
    fn unreachable_job(prefix: Option<&str>, path: &str) -> LoadJob {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("address").port();
        drop(closed);
        LoadJob {
            request: LoadRequest {
                connection: ConnectionInfo {
                    host: "127.0.0.1".into(),
                    port,
                    user: "loader".into(),
                    password: "secret".into(),
                    ca_cert: None,
                },
                rename: Default::default(),
                parallel: 1,
                database_prefix: prefix.map(str::to_string),
            },
            source: "file:///nonexistent-verify-test".into(),
            keys: None,
            path: path.into(),
            file_root: None,
        }
    }

    #[tokio::test]
    async fn only_a_scratch_copy_is_ever_dropped() {
        for prefix in [
            None,
            Some(""),
            Some("shop_"),
            Some("Drill_x_"),
            Some("x_drill_"),
        ] {
            let refused = drop_copy(&unreachable_job(prefix, "logical/d"))
                .await
                .expect_err("refused");
            assert!(
                matches!(&refused, LogicalError::Invalid(m) if m.contains("only a restore drill's scratch copy")),
                "{prefix:?}: {refused}"
            );
        }
        let script = drop_copy(&unreachable_job(Some("drill_1_"), "dumps/shop.sql.gz"))
            .await
            .expect_err("a script");
        assert!(matches!(script, LogicalError::Invalid(_)), "{script}");
        // A scratch prefix gets as far as reading the dump's plan.
        let missing = drop_copy(&unreachable_job(Some("drill_1_"), "logical/d"))
            .await
            .expect_err("no plan");
        assert!(
            matches!(&missing, LogicalError::Format(m) if m.contains("plan.json is missing")),
            "{missing}"
        );
    }

    #[tokio::test]
    async fn a_verification_with_a_prefix_and_a_rename_or_of_a_script_is_refused_before_anything_is_read()
     {
        let mut both = unreachable_job(Some("drill_1_"), "logical/d");
        both.request.rename = [("shop".to_string(), "shop2".to_string())].into();
        let cancel = CancellationToken::new();
        let refused = verify(&both, &cancel).await.expect_err("refused");
        assert!(matches!(refused, LogicalError::Invalid(_)), "{refused}");
        let script = unreachable_job(Some("drill_1_"), "dumps/shop.sql");
        let refused = verify(&script, &cancel).await.expect_err("refused");
        assert!(matches!(refused, LogicalError::Invalid(_)), "{refused}");
    }

    fn rendered(rows: u64, sha256: &str) -> Rendered {
        Rendered {
            rows,
            sha256: sha256.into(),
        }
    }

    #[test]
    fn a_chunk_differs_by_its_row_count_first_then_by_its_contents() {
        let dumped = ChunkDone {
            rows: 401,
            bytes: 10,
            stored_bytes: 5,
            sha256: "ab".into(),
        };
        assert_eq!(difference(&rendered(401, "ab"), &dumped), None);
        assert_eq!(
            difference(&rendered(400, "cd"), &dumped).as_deref(),
            Some("400 rows read, 401 dumped")
        );
        assert_eq!(
            difference(&rendered(401, "cd"), &dumped).as_deref(),
            Some("same row count (401), other contents")
        );
        assert_eq!(counted(1, "chunk"), "1 chunk");
        assert_eq!(counted(0, "row"), "0 rows");
    }
}
