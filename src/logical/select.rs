//! What a dump reads: the databases, tables and views its request names, resolved as the engine resolves
//! names (in the engine's own spelling), and shown readable by its user — all of them — before anything is
//! written. A table the user may not read is invisible to it (OceanBase filters `information_schema` and
//! `SHOW TABLES` by the user's privileges), so a dump that took the user's list for the database's would
//! leave such a table out without a trace; instead a database dumped whole must be readable as a whole
//! (README, "Logical backup": what the user must be able to read).

use std::collections::BTreeMap;

use mysql_async::Conn;

use super::{
    DumpRequest, LogicalError, grants::Grants, is_system_database, layout::ObjectKind,
    names::NameCase, render::quote_identifier, session::Sessions,
};

/// The databases of a dump, each with its tables and views.
pub(crate) type Selection = BTreeMap<String, Vec<(String, ObjectKind)>>;

/// MySQL's numbers for a privilege the user lacks on a database, a table or a column.
const DENIED: [u16; 3] = [1044, 1142, 1143];
/// MySQL's numbers for a database or table that does not exist.
const MISSING: [u16; 2] = [1049, 1146];

/// What the user cannot read, gathered so that one refusal names all of it.
#[derive(Debug, Default)]
struct Denied(Vec<String>);

impl Denied {
    fn into_result(self, user: &str) -> Result<(), LogicalError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(LogicalError::AccessDenied(format!(
            "user {user} cannot read all the dump covers, so it would be incomplete: {}",
            self.0.join("; ")
        )))
    }
}

/// The databases and their tables and views `request` names, each shown to exist and to be readable.
pub(crate) async fn select(
    sessions: &Sessions,
    conn: &mut Conn,
    request: &DumpRequest,
) -> Result<Selection, LogicalError> {
    let case = sessions.name_case(conn).await?;
    let existing: Vec<String> = sessions
        .rows(
            conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
            (),
        )
        .await?;
    let named = named_tables(&request.tables)?;
    let grants = Grants::read(sessions, conn).await?;
    let mut selection = Selection::new();
    let mut denied = Denied::default();
    let every_database = request.databases.is_empty() && named.is_empty();
    if every_database && !grants.selects_everything() {
        denied.0.push(unseen_databases(&existing, grants.roles));
    }
    for wanted in wanted_databases(request, &named, &existing) {
        let Some(database) = resolve_database(sessions, conn, case, &existing, &wanted).await?
        else {
            denied.0.push(format!(
                "database {wanted} (the engine answers that the user may not use it)"
            ));
            continue;
        };
        if selection.contains_key(&database) {
            continue;
        }
        let listed = list_objects(sessions, conn, &database).await?;
        let only: Vec<&str> = named
            .iter()
            .filter(|(d, _)| case.same(d, &database))
            .map(|(_, n)| n.as_str())
            .collect();
        let objects = if only.is_empty() {
            if !grants.selects_all_of(&database, case) {
                denied
                    .0
                    .push(unseen_tables(&database, &listed, grants.roles));
            }
            listed
        } else {
            pick(sessions, conn, case, &database, &listed, &only, &mut denied).await?
        };
        for (name, _) in &objects {
            if let Probe::Denied(reason) = probe(sessions, conn, &database, name).await? {
                denied.0.push(reason);
            }
        }
        selection.insert(database, objects);
    }
    denied.into_result(&request.connection.user)?;
    Ok(selection)
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

/// The tables and views `only` names in `database`, in the engine's spelling. A name the user does not see
/// is one it may not read (gathered in `denied`) or one that does not exist (refused).
async fn pick(
    sessions: &Sessions,
    conn: &mut Conn,
    case: NameCase,
    database: &str,
    listed: &[(String, ObjectKind)],
    only: &[&str],
    denied: &mut Denied,
) -> Result<Vec<(String, ObjectKind)>, LogicalError> {
    let names: Vec<String> = listed.iter().map(|(n, _)| n.clone()).collect();
    let mut picked: Vec<(String, ObjectKind)> = Vec::new();
    for wanted in only {
        match case.resolve(&names, wanted) {
            Some(name) => {
                if !picked.iter().any(|(p, _)| p == name) {
                    let kind = listed
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(ObjectKind::Table, |(_, k)| *k);
                    picked.push((name.clone(), kind));
                }
            }
            // Not among the tables the user sees: one it may not read, or none at all.
            None => match probe(sessions, conn, database, wanted).await? {
                Probe::Denied(reason) => denied.0.push(reason),
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
            },
        }
    }
    Ok(picked)
}

/// What the engine answers when the user reads a table.
enum Probe {
    Readable,
    /// Why not (the engine's error).
    Denied(String),
    Missing,
}

/// Whether the user can read every column of `database.name`.
async fn probe(
    sessions: &Sessions,
    conn: &mut Conn,
    database: &str,
    name: &str,
) -> Result<Probe, LogicalError> {
    let statement = format!(
        "SELECT * FROM {}.{} WHERE 1 = 0",
        quote_identifier(database),
        quote_identifier(name)
    );
    match sessions.query(conn, &statement).await {
        Ok(_) => Ok(Probe::Readable),
        Err(LogicalError::Server { code, message }) if DENIED.contains(&code) => Ok(Probe::Denied(
            format!("{database}.{name} ({code}: {message})"),
        )),
        Err(LogicalError::Server { code, .. }) if MISSING.contains(&code) => Ok(Probe::Missing),
        Err(other) => Err(other),
    }
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
