//! System variables as one session sees them: the values drivers and the `mysql` client read on connect
//! (`SELECT @@…`, `SHOW VARIABLES LIKE …`), and what the session changed with `SET`. An unknown name is refused
//! with 1193, as a real server refuses it; a user variable (`@name`) holds whatever was set.

use std::collections::BTreeMap;

use sqlparser::tokenizer::Token;

use super::value::Value;
use crate::error::SqlError;

/// The variables obsim knows and their values on a new session. Text unless the value reads as a number.
/// OceanBase-specific ones are the ones clients of OceanBase read (`ob_query_timeout`, `ob_trx_timeout`).
const DEFAULTS: &[(&str, &str)] = &[
    ("auto_increment_increment", "1"),
    ("auto_increment_offset", "1"),
    ("autocommit", "1"),
    ("character_set_client", "utf8mb4"),
    ("character_set_connection", "utf8mb4"),
    ("character_set_database", "utf8mb4"),
    ("character_set_results", "utf8mb4"),
    ("character_set_server", "utf8mb4"),
    ("character_set_system", "utf8mb4"),
    ("collation_connection", "utf8mb4_general_ci"),
    ("collation_database", "utf8mb4_general_ci"),
    ("collation_server", "utf8mb4_general_ci"),
    ("init_connect", ""),
    ("interactive_timeout", "28800"),
    ("license", ""),
    ("lower_case_table_names", "1"),
    ("max_allowed_packet", "16777216"),
    ("net_buffer_length", "16384"),
    ("net_read_timeout", "30"),
    ("net_write_timeout", "60"),
    ("ob_query_timeout", "10000000"),
    ("ob_trx_timeout", "86400000000"),
    ("performance_schema", "0"),
    ("query_cache_size", "1048576"),
    ("query_cache_type", "OFF"),
    ("sql_auto_is_null", "0"),
    ("sql_mode", "STRICT_ALL_TABLES,NO_ZERO_IN_DATE"),
    ("sql_select_limit", "9223372036854775807"),
    ("system_time_zone", "+00:00"),
    ("time_zone", "+00:00"),
    ("transaction_isolation", "READ-COMMITTED"),
    ("transaction_read_only", "0"),
    ("tx_isolation", "READ-COMMITTED"),
    ("tx_read_only", "0"),
    ("version_comment", "OceanBase simulator (obsim)"),
    ("wait_timeout", "28800"),
];

/// One session's variables.
#[derive(Clone, Debug)]
pub struct Variables {
    /// `@@version`, as the server greets with it.
    version: String,
    /// System variables this session set, by lower-case name.
    changed: BTreeMap<String, Value>,
    /// User variables (`@name`), by lower-case name.
    user: BTreeMap<String, Value>,
}

impl Variables {
    /// A new session's variables on a server of that version (`4.4.1.0`).
    pub fn new(ob_version: &str) -> Self {
        Self {
            version: server_version(ob_version),
            changed: BTreeMap::new(),
            user: BTreeMap::new(),
        }
    }

    /// `@@name`, `@@session.name` or `@@global.name` (what follows the `@@`); NULL for an unknown one.
    pub fn system(&self, name: &str) -> Value {
        let name = plain(name);
        if let Some(value) = self.changed.get(&name) {
            return value.clone();
        }
        if name == "version" {
            return Value::Text(self.version.clone());
        }
        DEFAULTS
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(Value::Null, |(_, value)| typed(value))
    }

    /// `@name`.
    pub fn user(&self, name: &str) -> Value {
        self.user
            .get(&name.to_lowercase())
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Whether the session commits each statement (the OK packet's status flag says so too).
    pub fn autocommit(&self) -> bool {
        self.system("autocommit").is_true()
    }

    /// Every system variable with this session's value, sorted by name (`SHOW VARIABLES`).
    pub fn all(&self) -> Vec<(String, Value)> {
        let mut all: Vec<(String, Value)> = DEFAULTS
            .iter()
            .map(|(name, _)| (name.to_string(), self.system(name)))
            .collect();
        all.push(("version".into(), self.system("version")));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Runs a `SET …` statement other than `SET ENCRYPTION` / `SET DECRYPTION`: assignments to system and
    /// user variables, `SET NAMES`, `SET CHARACTER SET`, `SET TRANSACTION …`. Nothing changes unless every
    /// assignment is valid.
    pub fn set(&mut self, sql: &str) -> Result<(), SqlError> {
        let tokens = super::significant_tokens(sql)?;
        let words: Vec<String> = tokens
            .iter()
            .map(|t| t.to_string().to_uppercase())
            .collect();
        let mut next = self.clone();
        match words.get(1).map(String::as_str) {
            Some("NAMES") => {
                let charset = tokens.get(2).map(unquoted).unwrap_or_default();
                for name in [
                    "character_set_client",
                    "character_set_connection",
                    "character_set_results",
                ] {
                    next.changed
                        .insert(name.to_string(), Value::Text(charset.clone()));
                }
                let collation = match (words.get(3).map(String::as_str), tokens.get(4)) {
                    (Some("COLLATE"), Some(c)) => unquoted(c),
                    _ => format!("{charset}_general_ci"),
                };
                next.changed
                    .insert("collation_connection".into(), Value::Text(collation));
            }
            Some("CHARACTER" | "CHARSET" | "TRANSACTION") => {}
            _ => {
                for assignment in tokens[1..].split(|t| *t == Token::Comma) {
                    next.assign(assignment)?;
                }
            }
        }
        *self = next;
        Ok(())
    }

    /// One `[GLOBAL | SESSION | LOCAL] name = value`, `@@[scope.]name = value` or `@name = value`.
    fn assign(&mut self, tokens: &[Token]) -> Result<(), SqlError> {
        let near = || SqlError::syntax(format!("near '{}'", render(tokens)));
        let split = tokens
            .iter()
            .position(|t| matches!(t, Token::Eq | Token::Assignment))
            .ok_or_else(near)?;
        let (target, value) = (&tokens[..split], &tokens[split + 1..]);
        let value = match value {
            [token] => literal(token),
            [Token::Minus, Token::Number(n, _)] => typed(&format!("-{n}")),
            _ => return Err(near()),
        };
        let target = render(target);
        let target = target
            .trim_start_matches(|c: char| c.is_ascii_whitespace())
            .to_string();
        if let Some(user) = target.strip_prefix('@').filter(|t| !t.starts_with('@')) {
            self.user.insert(user.to_lowercase(), value);
            return Ok(());
        }
        let name = plain(target.trim_start_matches("@@"));
        let name = ["global ", "session ", "local "]
            .iter()
            .find_map(|scope| name.strip_prefix(scope))
            .map_or(name.clone(), str::to_string);
        if !DEFAULTS.iter().any(|(known, _)| *known == name) {
            return Err(SqlError::unknown_variable(&name));
        }
        let value = match (name.as_str(), value) {
            ("autocommit", Value::Text(t)) if t.eq_ignore_ascii_case("on") => Value::Int(1),
            ("autocommit", Value::Text(t)) if t.eq_ignore_ascii_case("off") => Value::Int(0),
            (_, Value::Text(t)) if t.eq_ignore_ascii_case("default") => typed(
                DEFAULTS
                    .iter()
                    .find(|(known, _)| *known == name)
                    .map_or("", |(_, v)| v),
            ),
            (_, value) => value,
        };
        self.changed.insert(name, value);
        Ok(())
    }
}

/// The version string the server greets with and `@@version` / `version()` answer.
pub fn server_version(ob_version: &str) -> String {
    format!("5.7.25-OceanBase_CE-v{ob_version}")
}

/// A variable's name without its scope prefix, lower-cased.
fn plain(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    ["session.", "global.", "local."]
        .iter()
        .find_map(|scope| lower.strip_prefix(scope))
        .map_or(lower.clone(), str::to_string)
}

/// A default's text as the value a client reads: a number where it is one.
fn typed(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::Int)
        .unwrap_or_else(|_| Value::Text(text.to_string()))
}

fn literal(token: &Token) -> Value {
    match token {
        Token::Number(n, _) => typed(n),
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("null") => {
            Value::Null
        }
        other => Value::Text(unquoted(other)),
    }
}

fn unquoted(token: &Token) -> String {
    match token {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
        Token::Word(w) => w.value.clone(),
        other => other.to_string(),
    }
}

/// Tokens back as text, words separated by a space (`@@session.x` stays one piece).
fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        if matches!(token, Token::Word(_)) && out.ends_with(|c: char| c.is_alphanumeric()) {
            out.push(' ');
        }
        out.push_str(&super::render(token));
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_reads_what_drivers_ask_for() {
        let variables = Variables::new("4.4.1.0");
        assert_eq!(variables.system("max_allowed_packet"), Value::Int(16 << 20));
        assert_eq!(variables.system("SESSION.autocommit"), Value::Int(1));
        assert_eq!(
            variables.system("transaction_isolation"),
            Value::Text("READ-COMMITTED".into())
        );
        assert_eq!(variables.system("no_such_thing"), Value::Null);
        assert_eq!(
            variables.system("version"),
            Value::Text("5.7.25-OceanBase_CE-v4.4.1.0".into())
        );
        assert!(variables.autocommit());
    }

    #[test]
    fn set_changes_this_session_and_refuses_unknown_names_whole() {
        let mut variables = Variables::new("4.4.1.0");
        variables
            .set("SET autocommit = 0, @@session.sql_mode = 'ANSI', @x := 5")
            .expect("valid");
        assert!(!variables.autocommit());
        assert_eq!(variables.system("sql_mode"), Value::Text("ANSI".into()));
        assert_eq!(variables.user("X"), Value::Int(5));
        variables.set("SET SESSION autocommit = ON").expect("valid");
        assert!(variables.autocommit());

        let error = variables
            .set("SET time_zone = '+08:00', no_such_variable = 1")
            .expect_err("unknown");
        assert_eq!(error.code, 1193);
        assert_eq!(
            variables.system("time_zone"),
            Value::Text("+00:00".into()),
            "nothing of a refused SET applies"
        );
    }

    #[test]
    fn set_names_sets_the_three_character_sets_and_the_collation() {
        let mut variables = Variables::new("4.4.1.0");
        variables
            .set("SET NAMES utf8mb4 COLLATE utf8mb4_bin")
            .expect("valid");
        assert_eq!(
            variables.system("character_set_results"),
            Value::Text("utf8mb4".into())
        );
        assert_eq!(
            variables.system("collation_connection"),
            Value::Text("utf8mb4_bin".into())
        );
        variables.set("SET NAMES 'latin1'").expect("valid");
        assert_eq!(
            variables.system("collation_connection"),
            Value::Text("latin1_general_ci".into())
        );
    }
}
