//! What the dump's user may read, from its own grants. OceanBase filters `information_schema` and
//! `SHOW TABLES` by privilege — a table the user has no privilege on is invisible to it, and no view a
//! user without privileges on `oceanbase` can read lists it — but every user may read its own grants, and
//! those do prove one thing: a user holding `SELECT` on a whole database (`db.*`) or on everything (`*.*`)
//! sees and reads every table there, so the list it sees is the whole list. Only the user's own grants
//! count: OceanBase drops a session's roles when the connection is reset between two uses (seekdb 4.3.5:
//! `CURRENT_ROLE()` is `NONE` after the reset), so a dump's pooled sessions read without them. A grant on a
//! database name pattern (`shop\_%`.*) does not count either.

use mysql_async::{Conn, Row};

use super::{
    LogicalError,
    names::NameCase,
    session::{Sessions, text_at},
    statements::identifier,
};

/// Where a grant applies.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    /// `*.*`
    Everything,
    /// `db.*`
    Database(String),
    /// `db.table`, or a routine: nothing this module needs.
    Narrower,
}

/// One `GRANT privileges ON scope TO account` line of `SHOW GRANTS`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Grant {
    /// The privileges, upper case, without column lists.
    privileges: Vec<String>,
    scope: Scope,
}

/// The user's own grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    grants: Vec<Grant>,
    /// Whether the user has roles (whose grants do not count).
    pub(crate) roles: bool,
}

impl Grants {
    /// The grants of the session's user, as the engine shows them to the user itself.
    pub(crate) async fn read(sessions: &Sessions, conn: &mut Conn) -> Result<Self, LogicalError> {
        let rows: Vec<Row> = sessions.query(conn, "SHOW GRANTS").await?;
        let mut lines = Vec::new();
        for row in &rows {
            lines.push(text_at(row, 0, "SHOW GRANTS")?);
        }
        Ok(Self::parse(&lines))
    }

    fn parse(lines: &[String]) -> Self {
        Self {
            grants: lines.iter().filter_map(|l| parse_grant(l)).collect(),
            // `GRANT role TO user`: a grant without ON.
            roles: lines
                .iter()
                .any(|l| l.starts_with("GRANT ") && split_at_on(l).is_none()),
        }
    }

    /// Whether the user holds `SELECT` on every database (`*.*`).
    pub(crate) fn selects_everything(&self) -> bool {
        self.grants
            .iter()
            .any(|g| g.selects() && g.scope == Scope::Everything)
    }

    /// Whether the user holds `SELECT` on all of `database` (`database.*` or `*.*`).
    pub(crate) fn selects_all_of(&self, database: &str, case: NameCase) -> bool {
        self.grants.iter().any(|g| {
            g.selects()
                && match &g.scope {
                    Scope::Everything => true,
                    Scope::Database(d) => case.same(d, database),
                    Scope::Narrower => false,
                }
        })
    }
}

impl Grant {
    fn selects(&self) -> bool {
        self.privileges
            .iter()
            .any(|p| p == "SELECT" || p == "ALL" || p == "ALL PRIVILEGES")
    }
}

/// A `GRANT … ON … TO …` line, or `None` for any other (a role granted: `GRANT r TO u`).
fn parse_grant(line: &str) -> Option<Grant> {
    let rest = line.trim().strip_prefix("GRANT ")?;
    let (privileges, rest) = split_at_on(rest)?;
    let scope = parse_scope(rest)?;
    let privileges = privileges
        .split(',')
        .map(|p| {
            let p = p.split('(').next().unwrap_or_default();
            p.trim().to_ascii_uppercase()
        })
        .filter(|p| !p.is_empty())
        .collect();
    Some(Grant { privileges, scope })
}

/// The privileges before ` ON ` (outside column lists' backquotes) and the text after it.
fn split_at_on(text: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        if c == '`' {
            quoted = !quoted;
        } else if !quoted && text[at..].starts_with(" ON ") {
            return Some((&text[..at], &text[at + 4..]));
        }
    }
    None
}

/// `*.*`, `db.*` or anything narrower, at the head of `text`.
fn parse_scope(text: &str) -> Option<Scope> {
    let text = text.trim_start();
    if text.starts_with("*.*") {
        return Some(Scope::Everything);
    }
    let (database, rest) = identifier(text)?;
    let rest = rest.strip_prefix('.')?;
    if rest.starts_with('*') {
        Some(Scope::Database(database))
    } else {
        Some(Scope::Narrower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(lines: &[&str]) -> Grants {
        Grants::parse(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn grants_read_as_seekdb_shows_them() {
        let partial = grants(&[
            "GRANT USAGE ON *.* TO 'partial'",
            "GRANT SELECT ON `shop`.`customers` TO 'partial'",
            "GRANT SELECT (`id`) ON `shop`.`orders` TO 'partial'",
        ]);
        let case = NameCase::Insensitive;
        assert!(!partial.selects_everything());
        assert!(!partial.selects_all_of("shop", case));
        let database = grants(&[
            "GRANT USAGE ON *.* TO 'dbwide'",
            "GRANT SELECT, SHOW VIEW ON `shop`.* TO 'dbwide'",
            "GRANT INSERT ON `crm`.* TO 'dbwide'",
            // A role: no ON.
            "GRANT `reader`@`%` TO `dbwide`@`%`",
        ]);
        assert!(database.selects_all_of("SHOP", case));
        assert!(!database.selects_all_of("SHOP", NameCase::Sensitive));
        assert!(
            !database.selects_all_of("crm", case),
            "INSERT is not SELECT"
        );
        assert!(!database.selects_everything());
        assert!(database.roles && !partial.roles);
        let root = grants(&["GRANT ALL PRIVILEGES ON *.* TO 'root' WITH GRANT OPTION"]);
        assert!(root.selects_everything() && root.selects_all_of("anything", case));
        let odd = grants(&["GRANT SELECT (`a ON b`), INSERT ON `x``y`.* TO 'u'"]);
        assert!(odd.selects_all_of("x`y", NameCase::Sensitive));
    }
}
