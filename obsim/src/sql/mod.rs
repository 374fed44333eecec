//! SQL handling: splitting a multi-statement packet, and parsing each statement. SELECTs are parsed by
//! `sqlparser`; OceanBase's administrative statements (`ALTER SYSTEM …`, `SET ENCRYPTION …`) by a
//! recursive-descent parser over `sqlparser`'s tokens. Nothing is matched by raw text.

pub mod admin;
mod cursor;
pub mod expr;
pub mod select;
pub mod show;
pub mod value;
pub mod variables;

use sqlparser::{
    dialect::MySqlDialect,
    tokenizer::{Token, Tokenizer},
};

use crate::error::SqlError;

/// Splits a packet into its statements at top-level semicolons (not inside strings or comments).
pub fn split_statements(sql: &str) -> Result<Vec<String>, SqlError> {
    let tokens = Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .map_err(|e| SqlError::syntax(format!("near {e}")))?;
    let mut statements = Vec::new();
    let mut current = String::new();
    for token in tokens {
        if token == Token::SemiColon {
            push_statement(&mut statements, &mut current);
        } else {
            current.push_str(&render(&token));
        }
    }
    push_statement(&mut statements, &mut current);
    Ok(statements)
}

/// A token as SQL text. String literals are re-quoted with their quotes and backslashes escaped: the
/// tokenizer's own Display does not, which would turn `'it''s'` into `'it's'`.
pub fn render(token: &Token) -> String {
    let quote = |s: &str, q: char| {
        let escaped = s.replace('\\', "\\\\").replace(q, &format!("{q}{q}"));
        format!("{q}{escaped}{q}")
    };
    match token {
        Token::SingleQuotedString(s) => quote(s, '\''),
        Token::DoubleQuotedString(s) => quote(s, '"'),
        other => other.to_string(),
    }
}

/// One statement's tokens without whitespace and semicolons: what the hand-written parsers read.
pub fn significant_tokens(sql: &str) -> Result<Vec<Token>, SqlError> {
    Ok(Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .map_err(SqlError::syntax)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect())
}

fn push_statement(statements: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

/// The first words of a statement, upper-cased, for dispatch (`SELECT`, `ALTER SYSTEM`, `SET`).
pub fn leading_words(sql: &str, count: usize) -> Vec<String> {
    Tokenizer::new(&MySqlDialect {}, sql)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.value.to_uppercase()),
            Token::Whitespace(_) => None,
            other => Some(other.to_string()),
        })
        .take(count)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_inside_strings_do_not_split() {
        let sql = "SET ENCRYPTION ON IDENTIFIED BY 'a;b' ONLY; ALTER SYSTEM BACKUP DATABASE;";
        let statements = split_statements(sql).expect("tokenizes");
        assert_eq!(
            statements,
            [
                "SET ENCRYPTION ON IDENTIFIED BY 'a;b' ONLY",
                "ALTER SYSTEM BACKUP DATABASE"
            ]
        );
    }

    #[test]
    fn quotes_and_backslashes_survive_splitting() {
        let statements = split_statements(r"SELECT 'it''s', 'a\\b'; SELECT 1").expect("tokenizes");
        assert_eq!(statements[0], r"SELECT 'it''s', 'a\\b'");
    }

    #[test]
    fn leading_words_skip_whitespace_and_comments_are_kept_out() {
        assert_eq!(
            leading_words("  alter\n system backup", 2),
            ["ALTER", "SYSTEM"]
        );
    }
}
