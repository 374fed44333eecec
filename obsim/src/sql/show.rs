//! The `SHOW` statements drivers and tools send on connect: `SHOW [GLOBAL | SESSION] VARIABLES [LIKE … |
//! WHERE …]`, `SHOW DATABASES [LIKE …]`, `SHOW WARNINGS` / `SHOW ERRORS`, and OceanBase's `SHOW PARAMETERS
//! [LIKE … | WHERE …]` (what ob-operator reads a cluster's identity with). Any other `SHOW` is refused as
//! not supported.

use sqlparser::{dialect::MySqlDialect, parser::Parser, tokenizer::Token};

use super::{
    expr::{Scope, eval, like},
    value::{Column, ColumnKind, Table, Value},
    variables::Variables,
};
use crate::error::SqlError;

/// The databases a session lists: MySQL's own and OceanBase's (`oceanbase` holds the views).
const DATABASES: &[&str] = &["information_schema", "mysql", "oceanbase", "test"];

/// What a `SHOW` statement reads besides the session: the cluster's parameters as `SHOW PARAMETERS` lists
/// them, and which of its columns `LIKE` matches.
pub struct Sources<'a> {
    pub parameters: &'a dyn Fn() -> Table,
    pub parameters_like_column: usize,
}

/// Runs a `SHOW` statement against the session's variables and the cluster's parameters.
pub fn run(
    sql: &str,
    variables: &Variables,
    now: jiff::Timestamp,
    sources: &Sources<'_>,
) -> Result<Table, SqlError> {
    let tokens = super::significant_tokens(sql)?;
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => w.value.to_uppercase(),
        _ => String::new(),
    };
    let scoped = matches!(word(1).as_str(), "GLOBAL" | "SESSION" | "LOCAL");
    let what = word(if scoped { 2 } else { 1 });
    let rest = &tokens[if scoped { 3 } else { 2 }.min(tokens.len())..];
    let table = match what.as_str() {
        "VARIABLES" => Table {
            columns: vec![
                Column::new("Variable_name", ColumnKind::Text),
                Column::new("Value", ColumnKind::Text),
            ],
            rows: variables
                .all()
                .into_iter()
                .map(|(name, value)| vec![Value::Text(name), text(value)])
                .collect(),
        },
        "DATABASES" | "SCHEMAS" if !scoped => Table {
            columns: vec![Column::new("Database", ColumnKind::Text)],
            rows: DATABASES
                .iter()
                .map(|d| vec![Value::Text(d.to_string())])
                .collect(),
        },
        "PARAMETERS" if !scoped => {
            let table = (sources.parameters)();
            return filter(table, sources.parameters_like_column, rest, variables, now);
        }
        "WARNINGS" | "ERRORS" if !scoped => {
            return Ok(Table {
                columns: vec![
                    Column::new("Level", ColumnKind::Text),
                    Column::new("Code", ColumnKind::Int),
                    Column::new("Message", ColumnKind::Text),
                ],
                rows: Vec::new(),
            });
        }
        _ => return Err(SqlError::not_supported("this SHOW statement")),
    };
    filter(table, 0, rest, variables, now)
}

/// What a `LIKE 'pattern'` (on column `like_column`) or `WHERE condition` keeps.
fn filter(
    table: Table,
    like_column: usize,
    rest: &[Token],
    variables: &Variables,
    now: jiff::Timestamp,
) -> Result<Table, SqlError> {
    let near = || {
        let text: String = rest.iter().map(super::render).collect::<Vec<_>>().join(" ");
        SqlError::syntax(format!("near '{text}'"))
    };
    let keyword =
        |t: &Token, word: &str| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(word));
    match rest {
        [] => Ok(table),
        [
            like_word,
            Token::SingleQuotedString(pattern) | Token::DoubleQuotedString(pattern),
        ] if keyword(like_word, "LIKE") => {
            let rows = table
                .rows
                .into_iter()
                .filter(|row| {
                    row.get(like_column)
                        .is_some_and(|name| like(&name.to_string(), pattern))
                })
                .collect();
            Ok(Table {
                columns: table.columns,
                rows,
            })
        }
        [where_word, condition @ ..] if keyword(where_word, "WHERE") => {
            let text: String = condition
                .iter()
                .map(super::render)
                .collect::<Vec<_>>()
                .join(" ");
            let condition = Parser::new(&MySqlDialect {})
                .try_with_sql(&text)
                .and_then(|mut p| p.parse_expr())
                .map_err(SqlError::syntax)?;
            let mut rows = Vec::new();
            for row in &table.rows {
                let scope = Scope {
                    table: &table,
                    row,
                    now,
                    version: "",
                    variables,
                };
                if eval(&condition, &scope)?.is_true() {
                    rows.push(row.clone());
                }
            }
            Ok(Table {
                columns: table.columns,
                rows,
            })
        }
        _ => Err(near()),
    }
}

/// `SHOW VARIABLES` answers every value as text.
fn text(value: Value) -> Value {
    match value {
        Value::Null => Value::Text(String::new()),
        Value::Text(_) => value,
        other => Value::Text(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(sql: &str) -> Result<Table, SqlError> {
        let parameters = || Table {
            columns: vec![
                Column::new("zone", ColumnKind::Text),
                Column::new("name", ColumnKind::Text),
            ],
            rows: ["cluster", "cluster_id"]
                .map(|n| vec![Value::Text("zone1".into()), Value::Text(n.into())])
                .to_vec(),
        };
        let sources = Sources {
            parameters: &parameters,
            parameters_like_column: 1,
        };
        run(
            sql,
            &Variables::new("4.4.1.0"),
            jiff::Timestamp::UNIX_EPOCH,
            &sources,
        )
    }

    #[test]
    fn parameters_like_matches_the_name_column() {
        let table = show("SHOW PARAMETERS LIKE 'cluster_id'").expect("runs");
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0][1], Value::Text("cluster_id".into()));
        assert_eq!(show("SHOW PARAMETERS").expect("runs").rows.len(), 2);
    }

    #[test]
    fn variables_filtered_by_like_or_where() {
        let table = show("SHOW VARIABLES LIKE 'max_allowed%'").expect("runs");
        assert_eq!(
            table.rows,
            [vec![
                Value::Text("max_allowed_packet".into()),
                Value::Text("16777216".into())
            ]]
        );
        let table =
            show("show session variables where Variable_name = 'autocommit'").expect("runs");
        assert_eq!(table.rows.len(), 1);
        assert!(show("SHOW GLOBAL VARIABLES").expect("runs").rows.len() > 30);
    }

    #[test]
    fn databases_warnings_and_what_is_not_supported() {
        let databases = show("SHOW DATABASES").expect("runs");
        assert!(
            databases
                .rows
                .contains(&vec![Value::Text("oceanbase".into())])
        );
        assert_eq!(
            show("SHOW SCHEMAS LIKE 'ocean%'").expect("runs").rows.len(),
            1
        );
        assert!(show("SHOW WARNINGS").expect("runs").rows.is_empty());
        assert_eq!(
            show("SHOW PROCESSLIST").map_err(|e| e.code).err(),
            Some(1235)
        );
        assert_eq!(
            show("SHOW VARIABLES LIKE").map_err(|e| e.code).err(),
            Some(1064)
        );
    }
}
