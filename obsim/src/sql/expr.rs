//! Evaluating expressions of a SELECT over one row: the operators and functions OceanBase's tools'
//! queries use (comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE, arithmetic, `now()`,
//! `time_to_usec`, `usec_to_time`, `scn_to_timestamp`, `truncate`, `ifnull`, `timestampdiff`,
//! `ob_version()` …).

use std::cmp::Ordering;

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};
use sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
    Value as SqlValue,
};

use super::{
    value::{Column, ColumnKind, Table, Value},
    variables::Variables,
};
use crate::error::SqlError;

/// What an expression can see: the row's columns, the clock, session variables, the server version.
pub struct Scope<'a> {
    /// The table the row belongs to (for column names).
    pub table: &'a Table,
    /// The row.
    pub row: &'a [Value],
    /// Simulated time.
    pub now: Timestamp,
    /// `ob_version()`.
    pub version: &'a str,
    /// The session's system and user variables.
    pub variables: &'a Variables,
}

/// Evaluates a scalar expression.
pub fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, SqlError> {
    match expr {
        Expr::Identifier(ident) => column(&ident.value, scope),
        Expr::CompoundIdentifier(parts) => match parts.first() {
            // `@@session.name`, `@@global.name`.
            Some(first) if first.value.starts_with("@@") => {
                let name: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                column(&name.join("."), scope)
            }
            _ => column(
                &parts.last().map(|p| p.value.clone()).unwrap_or_default(),
                scope,
            ),
        },
        Expr::Value(v) => literal(&v.value),
        Expr::Nested(inner) => eval(inner, scope),
        Expr::UnaryOp { op, expr } => unary(*op, eval(expr, scope)?),
        Expr::BinaryOp { left, op, right } => binary(op, left, right, scope),
        Expr::IsNull(e) => Ok(Value::Int(eval(e, scope)?.is_null().into())),
        Expr::IsNotNull(e) => Ok(Value::Int((!eval(e, scope)?.is_null()).into())),
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let needle = eval(expr, scope)?;
            if needle.is_null() {
                return Ok(Value::Null);
            }
            let mut found = false;
            for item in list {
                found |= needle.compare(&eval(item, scope)?) == Some(Ordering::Equal);
            }
            Ok(Value::Int((found != *negated).into()))
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let v = eval(expr, scope)?;
            let inside = v
                .compare(&eval(low, scope)?)
                .is_some_and(|o| o != Ordering::Less)
                && v.compare(&eval(high, scope)?)
                    .is_some_and(|o| o != Ordering::Greater);
            Ok(Value::Int((inside != *negated).into()))
        }
        Expr::Like {
            negated,
            expr,
            pattern,
            ..
        } => {
            let (text, pattern) = (eval(expr, scope)?, eval(pattern, scope)?);
            if text.is_null() || pattern.is_null() {
                return Ok(Value::Null);
            }
            Ok(Value::Int(
                (like(&text.to_string(), &pattern.to_string()) != *negated).into(),
            ))
        }
        Expr::Function(function) => {
            let name = function.name.to_string().to_lowercase();
            let args = arguments(&function.args)?;
            call(&name, &args, scope)
        }
        other => Err(SqlError::not_supported(format!("expression {other}"))),
    }
}

fn column(name: &str, scope: &Scope<'_>) -> Result<Value, SqlError> {
    if let Some(variable) = name.strip_prefix("@@") {
        return Ok(scope.variables.system(variable));
    }
    if let Some(variable) = name.strip_prefix('@') {
        return Ok(scope.variables.user(variable));
    }
    match scope.table.column_index(name) {
        Some(i) => Ok(scope.row.get(i).cloned().unwrap_or(Value::Null)),
        None => Err(SqlError::unknown_column(name)),
    }
}

fn literal(value: &SqlValue) -> Result<Value, SqlError> {
    Ok(match value {
        SqlValue::Number(n, _) => n
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| n.parse::<u64>().map(Value::UInt))
            .or_else(|_| n.parse::<f64>().map(Value::Decimal))
            .map_err(|_| SqlError::syntax(format!("near '{n}'")))?,
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Value::Text(s.clone()),
        SqlValue::Boolean(b) => Value::Int((*b).into()),
        SqlValue::Null => Value::Null,
        other => return Err(SqlError::not_supported(format!("literal {other}"))),
    })
}

fn unary(op: UnaryOperator, value: Value) -> Result<Value, SqlError> {
    Ok(match (op, value) {
        (_, Value::Null) => Value::Null,
        (UnaryOperator::Not, v) => Value::Int((!v.is_true()).into()),
        (UnaryOperator::Minus, Value::Int(v)) => Value::Int(-v),
        (UnaryOperator::Minus, v) => Value::Decimal(-v.as_float().unwrap_or_default()),
        (UnaryOperator::Plus, v) => v,
        (op, _) => return Err(SqlError::not_supported(format!("operator {op}"))),
    })
}

fn binary(
    op: &BinaryOperator,
    left: &Expr,
    right: &Expr,
    scope: &Scope<'_>,
) -> Result<Value, SqlError> {
    let l = eval(left, scope)?;
    // AND and OR follow SQL's three-valued logic.
    if matches!(op, BinaryOperator::And | BinaryOperator::Or) {
        let r = eval(right, scope)?;
        let truth = |v: &Value| (!v.is_null()).then(|| v.is_true());
        let result = match (op, truth(&l), truth(&r)) {
            (BinaryOperator::And, Some(false), _) | (BinaryOperator::And, _, Some(false)) => {
                Some(false)
            }
            (BinaryOperator::And, Some(true), Some(true)) => Some(true),
            (BinaryOperator::Or, Some(true), _) | (BinaryOperator::Or, _, Some(true)) => Some(true),
            (BinaryOperator::Or, Some(false), Some(false)) => Some(false),
            _ => None,
        };
        return Ok(result.map_or(Value::Null, |b| Value::Int(b.into())));
    }
    let r = eval(right, scope)?;
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    let ordering = || l.compare(&r);
    let truth = |b: bool| Ok(Value::Int(b.into()));
    match op {
        BinaryOperator::Eq => truth(ordering() == Some(Ordering::Equal)),
        BinaryOperator::NotEq => truth(ordering().is_some_and(|o| o != Ordering::Equal)),
        BinaryOperator::Lt => truth(ordering() == Some(Ordering::Less)),
        BinaryOperator::LtEq => truth(ordering().is_some_and(|o| o != Ordering::Greater)),
        BinaryOperator::Gt => truth(ordering() == Some(Ordering::Greater)),
        BinaryOperator::GtEq => truth(ordering().is_some_and(|o| o != Ordering::Less)),
        BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
            match (l.as_integer(), r.as_integer(), op) {
                (Some(a), Some(b), BinaryOperator::Plus) => Ok(integer(a + b)),
                (Some(a), Some(b), BinaryOperator::Minus) => Ok(integer(a - b)),
                (Some(a), Some(b), _) => Ok(integer(a * b)),
                _ => {
                    let (a, b) = (
                        l.as_float().unwrap_or_default(),
                        r.as_float().unwrap_or_default(),
                    );
                    Ok(Value::Decimal(match op {
                        BinaryOperator::Plus => a + b,
                        BinaryOperator::Minus => a - b,
                        _ => a * b,
                    }))
                }
            }
        }
        BinaryOperator::Divide => {
            let divisor = r.as_float().unwrap_or_default();
            Ok(if divisor == 0.0 {
                Value::Null
            } else {
                Value::Decimal(l.as_float().unwrap_or_default() / divisor)
            })
        }
        other => Err(SqlError::not_supported(format!("operator {other}"))),
    }
}

fn integer(v: i128) -> Value {
    i64::try_from(v)
        .map(Value::Int)
        .unwrap_or(Value::Decimal(v as f64))
}

fn arguments(args: &FunctionArguments) -> Result<Vec<Expr>, SqlError> {
    match args {
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                other => Err(SqlError::not_supported(format!("argument {other}"))),
            })
            .collect(),
        FunctionArguments::Subquery(_) => Err(SqlError::not_supported("subqueries")),
    }
}

/// Converts a time in the session time zone (UTC) to microseconds since the epoch.
fn micros(t: DateTime) -> Option<i64> {
    t.to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_microsecond())
}

/// A timestamp as the session (UTC) sees it.
pub fn civil(t: Timestamp) -> DateTime {
    t.to_zoned(TimeZone::UTC).datetime()
}

fn as_datetime(v: &Value) -> Option<DateTime> {
    match v {
        Value::DateTime(t) => Some(*t),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn call(name: &str, args: &[Expr], scope: &Scope<'_>) -> Result<Value, SqlError> {
    let arg = |i: usize| -> Result<Value, SqlError> {
        args.get(i).map(|e| eval(e, scope)).unwrap_or_else(|| {
            Err(SqlError::syntax(format!(
                "wrong number of arguments to {name}()"
            )))
        })
    };
    Ok(match name {
        "now" | "current_timestamp" | "sysdate" | "localtimestamp" => {
            Value::DateTime(civil(scope.now))
        }
        "ob_version" => Value::Text(scope.version.to_string()),
        "version" => Value::Text(super::variables::server_version(scope.version)),
        "database" | "schema" => Value::Text("oceanbase".into()),
        "time_to_usec" => as_datetime(&arg(0)?)
            .and_then(micros)
            .map_or(Value::Null, Value::Int),
        "usec_to_time" => match arg(0)?.as_integer() {
            Some(us) => Timestamp::from_microsecond(us as i64)
                .map(|t| Value::DateTime(civil(t)))
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
        "scn_to_timestamp" => match arg(0)?.as_integer() {
            Some(0) | None => Value::Null,
            Some(scn) => Timestamp::from_nanosecond(scn)
                .map(|t| Value::DateTime(civil(t)))
                .unwrap_or(Value::Null),
        },
        "truncate" => {
            let (v, places) = (arg(0)?, arg(1)?.as_integer().unwrap_or_default());
            match v.as_float() {
                Some(x) => {
                    let factor = 10f64.powi(places as i32);
                    Value::Decimal((x * factor).trunc() / factor)
                }
                None => Value::Null,
            }
        }
        "ifnull" | "coalesce" => {
            let mut result = Value::Null;
            for i in 0..args.len() {
                let v = arg(i)?;
                if !v.is_null() {
                    result = v;
                    break;
                }
            }
            result
        }
        "upper" | "lower" => match arg(0)? {
            Value::Null => Value::Null,
            v if name == "upper" => Value::Text(v.to_string().to_uppercase()),
            v => Value::Text(v.to_string().to_lowercase()),
        },
        "timestampdiff" => {
            let unit = args
                .first()
                .map(|e| e.to_string().to_uppercase())
                .unwrap_or_default();
            match (
                as_datetime(&arg(1)?).and_then(micros),
                as_datetime(&arg(2)?).and_then(micros),
            ) {
                (Some(a), Some(b)) => {
                    let us = b - a;
                    Value::Int(match unit.as_str() {
                        "MICROSECOND" => us,
                        "SECOND" => us / 1_000_000,
                        "MINUTE" => us / 60_000_000,
                        "HOUR" => us / 3_600_000_000,
                        "DAY" => us / 86_400_000_000,
                        other => {
                            return Err(SqlError::not_supported(format!(
                                "TIMESTAMPDIFF unit {other}"
                            )));
                        }
                    })
                }
                _ => Value::Null,
            }
        }
        other => return Err(SqlError::not_supported(format!("function {other}()"))),
    })
}

/// Whether a name is an aggregate function the engine computes over all matching rows.
pub fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "max" | "min" | "sum")
}

/// An expression's result column named `name`: a plain column reference keeps the source column's
/// declared type and nullability (as a real server describes `SELECT *` or `SELECT status`); anything
/// else is a computed column of its kind.
pub fn column_of(name: &str, expr: &Expr, table: &Table) -> Column {
    let source = match expr {
        Expr::Identifier(ident) => table.column_index(&ident.value),
        Expr::CompoundIdentifier(parts) => parts.last().and_then(|p| table.column_index(&p.value)),
        Expr::Nested(inner) => return column_of(name, inner, table),
        _ => None,
    };
    match source {
        Some(i) => Column {
            name: name.to_string(),
            ..table.columns[i].clone()
        },
        None => Column::new(name, kind_of(expr, table)),
    }
}

/// The declared type of an expression's result column.
pub fn kind_of(expr: &Expr, table: &Table) -> ColumnKind {
    match expr {
        Expr::Identifier(ident) => table
            .column_index(&ident.value)
            .map_or(ColumnKind::Text, |i| table.columns[i].kind),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .and_then(|p| table.column_index(&p.value))
            .map_or(ColumnKind::Text, |i| table.columns[i].kind),
        Expr::Nested(inner) => kind_of(inner, table),
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) if n.contains('.') => ColumnKind::Decimal,
            SqlValue::Number(..) | SqlValue::Boolean(_) => ColumnKind::Int,
            _ => ColumnKind::Text,
        },
        Expr::Function(f) => match f.name.to_string().to_lowercase().as_str() {
            "now" | "current_timestamp" | "sysdate" | "usec_to_time" | "scn_to_timestamp" => {
                ColumnKind::DateTime
            }
            "time_to_usec" | "count" | "timestampdiff" => ColumnKind::Int,
            "truncate" | "sum" => ColumnKind::Decimal,
            "max" | "min" | "ifnull" | "coalesce" => match &f.args {
                FunctionArguments::List(list) => match list.args.first() {
                    Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => kind_of(e, table),
                    _ => ColumnKind::Text,
                },
                _ => ColumnKind::Text,
            },
            _ => ColumnKind::Text,
        },
        Expr::BinaryOp { op, left, .. } => match op {
            BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
                kind_of(left, table)
            }
            BinaryOperator::Divide => ColumnKind::Decimal,
            _ => ColumnKind::Int,
        },
        _ => ColumnKind::Int,
    }
}

/// SQL LIKE with `%` and `_`, case-insensitively.
pub fn like(text: &str, pattern: &str) -> bool {
    fn matches(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| matches(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && matches(&t[1..], rest),
            Some((c, rest)) => {
                t.first().is_some_and(|x| x.eq_ignore_ascii_case(c)) && matches(&t[1..], rest)
            }
        }
    }
    let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
    matches(&t, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_handles_percent_and_underscore() {
        assert!(like("DELETE OBSOLETE BACKUP", "delete%backup"));
        assert!(like("DOING", "D_ING"));
        assert!(!like("DOING", "D_NG"));
    }
}
