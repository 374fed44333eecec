//! What a dump reads: the databases, tables and views its request names, resolved as the engine resolves
//! names (in the engine's own spelling), and shown readable by its user — all of them — before anything is
//! written. A table the user may not read is invisible to it (OceanBase filters `information_schema` and
//! `SHOW TABLES` by the user's privileges), so a dump that took the user's list for the database's would
//! leave such a table out without a trace; instead a database dumped whole must be readable as a whole
//! (docs/guide/logical-backup.md, "What the user must be able to read").

use std::collections::BTreeMap;

use mysql_async::Conn;

use super::{
    LogicalError, grants::Grants, is_system_database, layout::ObjectKind, names::NameCase,
    render::quote_identifier, requests::DumpRequest, session::Sessions,
};

/// The databases of a dump, each with its tables and views.
pub(crate) type Selection = BTreeMap<String, Vec<(String, ObjectKind)>>;

/// MySQL's numbers for a privilege the user lacks on a database, a table or a column.
const DENIED: [u16; 3] = [1044, 1142, 1143];
/// MySQL's numbers for a database or table that does not exist.
const MISSING: [u16; 2] = [1049, 1146];

/// A dump's selection under way: how the engine compares names, what the user's grants prove, the tables
/// the request names, and what the user cannot read (gathered, so that one refusal names all of it).
struct Selector<'a> {
    sessions: &'a Sessions,
    case: NameCase,
    grants: Grants,
    named: Vec<(String, String)>,
    denied: Vec<String>,
}

/// The databases and their tables and views `request` names, each shown to exist and to be readable.
pub(crate) async fn select(
    sessions: &Sessions,
    conn: &mut Conn,
    request: &DumpRequest,
) -> Result<Selection, LogicalError> {
    let existing: Vec<String> = sessions
        .rows(
            conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
            (),
        )
        .await?;
    let mut selector = Selector {
        sessions,
        case: sessions.name_case(conn).await?,
        grants: Grants::read(sessions, conn).await?,
        named: named_tables(&request.tables)?,
        denied: Vec::new(),
    };
    if request.databases.is_empty()
        && selector.named.is_empty()
        && !selector.grants.selects_everything()
    {
        let reason = unseen_databases(&existing, selector.grants.roles);
        selector.denied.push(reason);
    }
    let mut selection = Selection::new();
    for wanted in wanted_databases(request, &selector.named, &existing) {
        let Some(database) =
            resolve_database(sessions, conn, selector.case, &existing, &wanted).await?
        else {
            selector.denied.push(format!(
                "database {wanted} (the engine answers that the user may not use it)"
            ));
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(entry) = selection.entry(database) {
            let objects = selector.objects(conn, entry.key()).await?;
            entry.insert(objects);
        }
    }
    if selector.denied.is_empty() {
        Ok(selection)
    } else {
        Err(LogicalError::AccessDenied(format!(
            "user {} cannot read all the dump covers, so it would be incomplete: {}",
            request.connection.user,
            selector.denied.join("; ")
        )))
    }
}

impl Selector<'_> {
    /// The tables and views of `database` the dump covers: those named, or all of them when none is — which
    /// the user's grants must show it sees (else that is denied) — each probed.
    async fn objects(
        &mut self,
        conn: &mut Conn,
        database: &str,
    ) -> Result<Vec<(String, ObjectKind)>, LogicalError> {
        let listed = list_objects(self.sessions, conn, database).await?;
        let only: Vec<String> = self
            .named
            .iter()
            .filter(|(d, _)| self.case.same(d, database))
            .map(|(_, n)| n.clone())
            .collect();
        let objects = if only.is_empty() {
            if !self.grants.selects_all_of(database, self.case) {
                let reason = unseen_tables(database, &listed, self.grants.roles);
                self.denied.push(reason);
            }
            listed
        } else {
            self.pick(conn, database, &listed, &only).await?
        };
        for (name, kind) in &objects {
            if let Probe::Denied(reason) = probe(self.sessions, conn, database, name, *kind).await?
            {
                self.denied.push(reason);
            }
        }
        Ok(objects)
    }

    /// The tables and views `only` names in `database`, in the engine's spelling. A name the user does not
    /// see is one it may not read (denied) or one that does not exist (refused).
    async fn pick(
        &mut self,
        conn: &mut Conn,
        database: &str,
        listed: &[(String, ObjectKind)],
        only: &[String],
    ) -> Result<Vec<(String, ObjectKind)>, LogicalError> {
        let names: Vec<String> = listed.iter().map(|(n, _)| n.clone()).collect();
        let mut picked: Vec<(String, ObjectKind)> = Vec::new();
        for wanted in only {
            if let Some(name) = self.case.resolve(&names, wanted) {
                if !picked.iter().any(|(p, _)| p == name) {
                    let kind = listed
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(ObjectKind::Table, |(_, k)| *k);
                    picked.push((name.clone(), kind));
                }
                continue;
            }
            // Not among the tables the user sees: one it may not read, or none at all.
            match probe(self.sessions, conn, database, wanted, ObjectKind::Table).await? {
                Probe::Denied(reason) => self.denied.push(reason),
                Probe::Missing => {
                    return Err(LogicalError::Refused(format!(
                        "table {database}.{wanted} does not exist"
                    )));
                }
                Probe::Readable => {
                    return Err(LogicalError::Refused(format!(
                        "table {database}.{wanted} is readable but not listed in \
                         information_schema.TABLES; name it as the engine lists it"
                    )));
                }
            }
        }
        Ok(picked)
    }
}

/// `database.table` names split in two.
fn named_tables(tables: &[String]) -> Result<Vec<(String, String)>, LogicalError> {
    tables
        .iter()
        .map(|t| {
            t.split_once('.')
                .map(|(d, n)| (d.to_string(), n.to_string()))
                .ok_or_else(|| {
                    LogicalError::Refused(format!("table {t:?} must be named as database.table"))
                })
        })
        .collect()
}

/// The databases asked for (those of `databases` and of `tables`), or every user database the user sees.
fn wanted_databases(
    request: &DumpRequest,
    named: &[(String, String)],
    existing: &[String],
) -> Vec<String> {
    let mut wanted: Vec<String> = request.databases.clone();
    wanted.extend(named.iter().map(|(d, _)| d.clone()));
    if wanted.is_empty() {
        wanted = existing
            .iter()
            .filter(|d| !is_system_database(d))
            .cloned()
            .collect();
    }
    wanted
}

/// The database `wanted` names, in the engine's spelling; `None` when the engine says the user may not use
/// it. Refused when it is a system database or does not exist.
async fn resolve_database(
    sessions: &Sessions,
    conn: &mut Conn,
    case: NameCase,
    existing: &[String],
    wanted: &str,
) -> Result<Option<String>, LogicalError> {
    if is_system_database(wanted) {
        return Err(LogicalError::Refused(format!(
            "{wanted} is a system database; it is never dumped"
        )));
    }
    if let Some(database) = case.resolve(existing, wanted) {
        return Ok(Some(database.clone()));
    }
    // Not among the databases the user sees: one it may not use, or none at all.
    let probe = format!("SHOW CREATE DATABASE {}", quote_identifier(wanted));
    match sessions.query(conn, &probe).await {
        Err(LogicalError::Server { code, .. }) if DENIED.contains(&code) => Ok(None),
        Err(LogicalError::Server { code, .. }) if MISSING.contains(&code) => Err(
            LogicalError::Refused(format!("database {wanted} does not exist")),
        ),
        Err(other) => Err(other),
        Ok(_) => Err(LogicalError::Refused(format!(
            "database {wanted} is not listed in information_schema.SCHEMATA; name it as the engine \
             lists it"
        ))),
    }
}

/// The tables and views of `database` the user sees.
async fn list_objects(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
) -> Result<Vec<(String, ObjectKind)>, LogicalError> {
    let listed: Vec<(String, String)> = sessions
        .rows(
            conn,
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
            (database,),
        )
        .await?;
    Ok(listed
        .into_iter()
        .map(|(name, kind)| {
            let kind = if kind.eq_ignore_ascii_case("VIEW") {
                ObjectKind::View
            } else {
                ObjectKind::Table
            };
            (name, kind)
        })
        .collect())
}

/// What the engine answers when the user reads a table.
enum Probe {
    Readable,
    /// Why not (the engine's error).
    Denied(String),
    Missing,
}

/// Whether the user can read every column of `database.name` (and a view's definition).
async fn probe(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    name: &str,
    kind: ObjectKind,
) -> Result<Probe, LogicalError> {
    let qualified = format!("{}.{}", quote_identifier(database), quote_identifier(name));
    let mut statements = vec![format!("SELECT * FROM {qualified} WHERE 1 = 0")];
    if kind == ObjectKind::View {
        statements.push(format!("SHOW CREATE VIEW {qualified}"));
    }
    for statement in statements {
        match sessions.query(conn, &statement).await {
            Ok(_) => {}
            Err(LogicalError::Server { code, message }) if DENIED.contains(&code) => {
                return Ok(Probe::Denied(format!(
                    "{database}.{name} ({code}: {message})"
                )));
            }
            Err(LogicalError::Server { code, .. }) if MISSING.contains(&code) => {
                return Ok(Probe::Missing);
            }
            Err(other) => return Err(other),
        }
    }
    Ok(Probe::Readable)
}

/// Said when the user has roles: their grants do not count.
fn roles_note(roles: bool) -> &'static str {
    if roles {
        " (granted to the user itself: a role's grants do not count, as OceanBase drops a session's roles \
         when its connection is reset between uses)"
    } else {
        ""
    }
}

/// Why a dump of every database cannot be shown whole without `SELECT` on `*.*`.
fn unseen_databases(seen: &[String], roles: bool) -> String {
    let seen: Vec<&str> = seen
        .iter()
        .filter(|d| !is_system_database(d))
        .map(String::as_str)
        .collect();
    format!(
        "a dump of every database needs SELECT on *.*{}: without it the user sees only the databases \
         it has privileges on ({}), and another would be left out unseen — grant SELECT, SHOW VIEW ON \
         *.* or list the databases in logical.databases",
        roles_note(roles),
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    )
}

/// Why a dump of all of `database` cannot be shown whole without `SELECT` on it (`listed`: what the user
/// sees of it).
fn unseen_tables(database: &str, listed: &[(String, ObjectKind)], roles: bool) -> String {
    let seen: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "database {database} needs SELECT on {}.*{}: without it the user sees only the tables it has \
         privileges on ({}), and another would be left out unseen — grant SELECT, SHOW VIEW ON {}.* or \
         list the tables in logical.tables",
        quote_identifier(database),
        roles_note(roles),
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        },
        quote_identifier(database)
    )
}
