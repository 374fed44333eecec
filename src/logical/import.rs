//! Loading a SQL script — a `mysqldump` or `seekdb-dump` file, plain or gzip — into a tenant: the dumps of
//! other tools restore through the same RecoveryTask as the operator's own. The script is read twice, both
//! times streamed: once to refuse a target that already holds a table or view it creates, once to run it,
//! statement by statement, on one session (a script's statements depend on the session state it sets).

use std::{collections::VecDeque, io::Write};

use flate2::write::GzDecoder;
use futures::StreamExt;
use mysql_async::Conn;
use opendal::Operator;
use tokio_util::sync::CancellationToken;

use super::{
    LogicalError, Progress,
    requests::{LoadReport, LoadRequest},
    session::Sessions,
    statements::{Splitter, identifier},
};

/// Statements between two progress reports.
const REPORT_EVERY: u64 = 100;

/// Runs the script at `path` on `storage` in the target `request` names.
pub async fn import(
    request: &LoadRequest,
    storage: &Operator,
    path: &str,
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<LoadReport, LogicalError> {
    if let Some(prefix) = request.prefix() {
        return Err(LogicalError::Invalid(format!(
            "a database prefix ({prefix}) applies to the operator's own dumps, not a SQL script"
        )));
    }
    if !request.rename.is_empty() {
        return Err(LogicalError::Invalid(
            "databases can be renamed when restoring the operator's own dumps, not a SQL script; \
             remove target.logical.renameDatabases"
                .into(),
        ));
    }
    let mut created = Vec::new();
    let mut database: Option<String> = None;
    let mut script = Script::open(storage, path).await?;
    while let Some(statement) = script.next().await? {
        if let Some(name) = used_database(&statement) {
            refuse_system(&name)?;
            database = Some(name);
        } else if let Some((db, name, view)) = created_object(&statement) {
            if let Some(db) = &db {
                refuse_system(db)?;
            }
            match db.or_else(|| database.clone()) {
                Some(db) => created.push((db, name, view)),
                None => {
                    return Err(LogicalError::Refused(format!(
                        "the script creates {name} before naming a database (USE)"
                    )));
                }
            }
        }
    }
    let sessions = Sessions::new(&request.connection, 1);
    let result = run(&sessions, storage, path, &created, cancel, progress).await;
    sessions.close().await;
    result
}

async fn run(
    sessions: &Sessions,
    storage: &Operator,
    path: &str,
    created: &[(String, String, bool)],
    cancel: &CancellationToken,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<LoadReport, LogicalError> {
    let mut conn = sessions.conn().await?;
    refuse_existing(sessions, &mut conn, created).await?;
    // The target was checked for the objects the script creates.
    let mut state = Progress {
        database_reached: true,
        ..Progress::default()
    };
    let mut script = Script::open(storage, path).await?;
    let mut statements = 0u64;
    while let Some(statement) = script.next().await? {
        if cancel.is_cancelled() {
            return Err(LogicalError::Canceled);
        }
        let rows = execute(sessions, &mut conn, &statement).await?;
        if statement
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("INSERT"))
        {
            state.rows_done += rows;
        }
        state.bytes_done += statement.len() as u64;
        statements += 1;
        if statements.is_multiple_of(REPORT_EVERY) {
            progress(&state);
        }
    }
    progress(&state);
    Ok(LoadReport {
        snapshot: None,
        rows: state.rows_done,
        bytes: state.bytes_done,
        tables: created.iter().filter(|(_, _, view)| !view).count(),
        views: created.iter().filter(|(_, _, view)| *view).count(),
    })
}

/// Refuses a target that already has a table or view the script creates, naming them.
async fn refuse_existing(
    sessions: &Sessions,
    conn: &mut Conn,
    created: &[(String, String, bool)],
) -> Result<(), LogicalError> {
    let mut clashes = Vec::new();
    for (database, name, _) in created {
        let found: Vec<String> = sessions
            .rows(
                conn,
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (database.clone(), name.clone()),
            )
            .await?;
        if !found.is_empty() {
            clashes.push(format!("{database}.{name}"));
        }
    }
    if !clashes.is_empty() {
        return Err(LogicalError::Refused(format!(
            "the target already has what the script creates: {}; restore into an empty tenant or database",
            clashes.join(", ")
        )));
    }
    Ok(())
}

/// Runs one statement of the script; a server's refusal names the statement.
async fn execute(
    sessions: &Sessions,
    conn: &mut Conn,
    statement: &str,
) -> Result<u64, LogicalError> {
    sessions
        .execute(conn, statement)
        .await
        .map_err(|error| match error {
            LogicalError::Server { code, message } => LogicalError::Server {
                code,
                message: format!("{message} (in: {})", summary(statement)),
            },
            other => other,
        })
}

/// The start of a statement, for an error message.
fn summary(statement: &str) -> String {
    let flat: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// A script's statements, streamed from storage (gunzipped when the name ends in `.gz`).
struct Script {
    bytes: opendal::FuturesBytesStream,
    gunzip: Option<GzDecoder<Vec<u8>>>,
    splitter: Splitter,
    ready: VecDeque<String>,
    ended: bool,
}

impl Script {
    async fn open(storage: &Operator, path: &str) -> Result<Self, LogicalError> {
        let reader = storage
            .reader(path)
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        let bytes = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| LogicalError::storage(&e))?;
        Ok(Self {
            bytes,
            gunzip: path.ends_with(".gz").then(|| GzDecoder::new(Vec::new())),
            splitter: Splitter::default(),
            ready: VecDeque::new(),
            ended: false,
        })
    }

    async fn next(&mut self) -> Result<Option<String>, LogicalError> {
        loop {
            if let Some(statement) = self.ready.pop_front() {
                return Ok(Some(statement));
            }
            if self.ended {
                return Ok(None);
            }
            let mut out = Vec::new();
            match self.bytes.next().await {
                Some(piece) => {
                    let piece = piece.map_err(|e| {
                        LogicalError::Storage(crate::storage::StorageError::Io(format!(
                            "reading the script: {e}"
                        )))
                    })?;
                    let plain = match &mut self.gunzip {
                        Some(gunzip) => {
                            gunzip
                                .write_all(&piece)
                                .map_err(|e| LogicalError::Format(format!("not gzip: {e}")))?;
                            std::mem::take(gunzip.get_mut())
                        }
                        None => piece.to_vec(),
                    };
                    self.splitter.push(&plain, &mut out)?;
                }
                None => {
                    if let Some(gunzip) = self.gunzip.take() {
                        let rest = gunzip
                            .finish()
                            .map_err(|e| LogicalError::Format(format!("not gzip: {e}")))?;
                        self.splitter.push(&rest, &mut out)?;
                    }
                    self.splitter.end(&mut out)?;
                    self.ended = true;
                }
            }
            self.ready.extend(out);
        }
    }
}

/// Refuses a script that uses one of the server's own databases (a `mysqldump --all-databases` file holds
/// `mysql`): a restore never writes into them.
fn refuse_system(database: &str) -> Result<(), LogicalError> {
    if super::is_system_database(database) {
        return Err(LogicalError::Invalid(format!(
            "the script writes into the system database {database}; a restore never does: remove that \
             database from the script"
        )));
    }
    Ok(())
}

/// The database a `USE` statement names.
fn used_database(statement: &str) -> Option<String> {
    let rest = strip_keyword(statement, "USE")?;
    let (name, _) = identifier(rest)?;
    Some(name)
}

/// The table or view a `CREATE TABLE` / `CREATE … VIEW` statement creates: its database if qualified, its
/// name, whether it is a view.
fn created_object(statement: &str) -> Option<(Option<String>, String, bool)> {
    let mut rest = strip_keyword(statement, "CREATE")?;
    let mut view = false;
    loop {
        if let Some(after) = strip_keyword(rest, "TABLE") {
            rest = after;
            break;
        }
        if let Some(after) = strip_keyword(rest, "VIEW") {
            rest = after;
            view = true;
            break;
        }
        // OR REPLACE, ALGORITHM=…, DEFINER=…, SQL SECURITY …, TEMPORARY: skip a word.
        let word_end = rest.find(char::is_whitespace)?;
        if rest[..word_end].eq_ignore_ascii_case("DATABASE")
            || rest[..word_end].eq_ignore_ascii_case("INDEX")
        {
            return None;
        }
        rest = rest[word_end..].trim_start();
    }
    if let Some(after) = strip_keyword(rest, "IF") {
        rest = strip_keyword(strip_keyword(after, "NOT")?, "EXISTS")?;
    }
    let (first, after) = identifier(rest)?;
    match after.strip_prefix('.') {
        Some(after) => Some((Some(first), identifier(after)?.0, view)),
        None => Some((None, first, view)),
    }
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let text = text.trim_start();
    let head = text.get(..keyword.len())?;
    let after = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword)
        && after.starts_with(|c: char| c.is_whitespace() || c == '`'))
    .then_some(after.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_tables_and_views_are_found_qualified_or_not() {
        assert_eq!(
            created_object("CREATE TABLE `order items` (\n id INT)"),
            Some((None, "order items".into(), false))
        );
        assert_eq!(
            created_object("create table if not exists shop.t1 (id int)"),
            Some((Some("shop".into()), "t1".into(), false))
        );
        assert_eq!(
            created_object(
                "CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `a``b`.`v` AS SELECT 1"
            ),
            Some((Some("a`b".into()), "v".into(), true))
        );
        assert_eq!(created_object("CREATE DATABASE `x`"), None);
        assert_eq!(created_object("CREATE INDEX i ON t (a)"), None);
        assert_eq!(created_object("INSERT INTO t VALUES (1)"), None);
        assert_eq!(used_database("USE `crm db`"), Some("crm db".into()));
        assert_eq!(used_database("USER_DEFINED()"), None);
    }

    /// A request whose database refuses connections: a refusal must come before any connection.
    fn unreachable_request(rename: &[(&str, &str)]) -> LoadRequest {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("address").port();
        drop(closed);
        LoadRequest {
            connection: crate::oceanbase::ConnectionInfo {
                host: "127.0.0.1".into(),
                port,
                user: "loader".into(),
                password: "secret".into(),
                ca_cert: None,
            },
            rename: rename
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            parallel: 1,
            database_prefix: None,
        }
    }

    #[tokio::test]
    async fn a_script_into_a_system_database_or_with_renames_is_refused_before_anything_runs() {
        let root = std::env::temp_dir().join(format!("import-test-{}", std::process::id()));
        let storage = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        let scripts = [
            (
                "all.sql",
                "CREATE DATABASE shop;\nUSE `MySQL`;\nCREATE TABLE t (id INT);\n",
            ),
            ("qualified.sql", "CREATE TABLE oceanbase.t (id INT);\n"),
            (
                "plain.sql",
                "CREATE DATABASE shop;\nUSE shop;\nCREATE TABLE t (id INT);\n",
            ),
        ];
        for (path, text) in scripts {
            storage.write(path, text).await.expect("script");
        }
        let cancel = CancellationToken::new();
        for (path, database) in [("all.sql", "MySQL"), ("qualified.sql", "oceanbase")] {
            let refused = import(&unreachable_request(&[]), &storage, path, &cancel, &|_| {})
                .await
                .expect_err("refused");
            assert!(
                matches!(&refused, LogicalError::Invalid(m) if m.contains(&format!("system database {database}"))),
                "{path}: {refused}"
            );
        }
        let refused = import(
            &unreachable_request(&[("shop", "shop2")]),
            &storage,
            "plain.sql",
            &cancel,
            &|_| {},
        )
        .await
        .expect_err("refused");
        assert!(matches!(refused, LogicalError::Invalid(_)), "{refused}");
        // A drill loads only the operator's own dumps: a script under a prefix is refused.
        let mut prefixed = unreachable_request(&[]);
        prefixed.database_prefix = Some("drill_20261126030000_".into());
        let refused = import(&prefixed, &storage, "plain.sql", &cancel, &|_| {})
            .await
            .expect_err("refused");
        assert!(
            matches!(&refused, LogicalError::Invalid(m) if m.contains("not a SQL script")),
            "{refused}"
        );
        // The plain script gets as far as connecting.
        let unreachable = import(
            &unreachable_request(&[]),
            &storage,
            "plain.sql",
            &cancel,
            &|_| {},
        )
        .await
        .expect_err("no database");
        assert!(unreachable.is_transient(), "{unreachable}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
