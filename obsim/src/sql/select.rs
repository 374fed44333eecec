//! Running a SELECT over one view: FROM (a single view, optionally qualified by `oceanbase.`), WHERE,
//! the projection (columns, `*`, expressions, aliases, aggregates without GROUP BY), ORDER BY (columns,
//! aliases or positions; NULLs first ascending, as MySQL), LIMIT and OFFSET.

use std::cmp::Ordering;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, LimitClause, OrderByKind, OrderBySort,
    Query, SelectItem, SetExpr, TableFactor,
};

use super::{
    expr::{Scope, column_of, eval, is_aggregate},
    value::{Column, ColumnKind, Table, Value},
    variables::Variables,
};
use crate::error::SqlError;

/// Where a SELECT finds its views.
pub trait Catalog {
    /// The rows of a view by its (unqualified, case-insensitive) name, if it exists.
    fn view(&self, name: &str) -> Option<Table>;
    /// Simulated time.
    fn now(&self) -> jiff::Timestamp;
    /// `ob_version()`.
    fn version(&self) -> String;
    /// The session's variables (`@@…`, `@…`).
    fn variables(&self) -> &Variables;
}

/// The result of a SELECT and the name of the view it read (for column definitions).
pub struct QueryResult {
    /// Columns and rows.
    pub table: Table,
    /// The view read, or empty for a SELECT without FROM.
    pub source: String,
}

/// Runs a parsed query against the catalog.
pub fn run(query: &Query, catalog: &dyn Catalog) -> Result<QueryResult, SqlError> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err(SqlError::not_supported("this form of query"));
    };
    let (source, input) = match select.from.as_slice() {
        [] => (
            String::new(),
            Table {
                columns: Vec::new(),
                rows: vec![Vec::new()],
            },
        ),
        [from] if from.joins.is_empty() => {
            let TableFactor::Table { name, .. } = &from.relation else {
                return Err(SqlError::not_supported("subqueries in FROM"));
            };
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|p| p.to_string().trim_matches('`').to_string())
                .collect();
            let view = parts.last().cloned().unwrap_or_default();
            let qualified = parts.join(".");
            let table = catalog
                .view(&view)
                .ok_or_else(|| SqlError::unknown_table(&qualified))?;
            (view.to_uppercase(), table)
        }
        _ => return Err(SqlError::not_supported("joins")),
    };
    let version = catalog.version();
    let env = Env {
        input: &input,
        now: catalog.now(),
        version: &version,
        variables: catalog.variables(),
    };

    let mut matching: Vec<&Vec<Value>> = Vec::new();
    for row in &input.rows {
        let keep = match &select.selection {
            Some(condition) => eval(condition, &env.scope(row))?.is_true(),
            None => true,
        };
        if keep {
            matching.push(row);
        }
    }

    let items = projection(&select.projection, &input)?;
    let columns: Vec<Column> = items
        .iter()
        .map(|(name, expr)| column_of(name, expr, &input))
        .collect();

    if items.iter().any(|(_, e)| contains_aggregate(e)) {
        let row = items
            .iter()
            .map(|(_, e)| aggregate(e, &matching, &env))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(QueryResult {
            table: Table {
                columns,
                rows: vec![row],
            },
            source,
        });
    }

    let mut rows = Vec::with_capacity(matching.len());
    for row in matching {
        let projected = items
            .iter()
            .map(|(_, e)| eval(e, &env.scope(row)))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = sort_keys(query, &items, row, &projected, &env)?;
        rows.push((keys, projected));
    }
    let directions = sort_directions(query);
    rows.sort_by(|(a, _), (b, _)| compare_keys(a, b, &directions));

    let (limit, offset) = limit_and_offset(query, &env)?;
    let rows = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, r)| r)
        .collect();
    Ok(QueryResult {
        table: Table { columns, rows },
        source,
    })
}

/// What every row's expressions share.
struct Env<'a> {
    input: &'a Table,
    now: jiff::Timestamp,
    version: &'a str,
    variables: &'a Variables,
}

impl Env<'_> {
    fn scope<'r>(&'r self, row: &'r [Value]) -> Scope<'r> {
        Scope {
            table: self.input,
            row,
            now: self.now,
            version: self.version,
            variables: self.variables,
        }
    }
}

/// The output columns: (name, expression), with `*` expanded.
fn projection(items: &[SelectItem], input: &Table) -> Result<Vec<(String, Expr)>, SqlError> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::UnnamedExpr(expr) => out.push((display_name(expr), expr.clone())),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push((alias.value.clone(), expr.clone()))
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                for column in &input.columns {
                    out.push((
                        column.name.clone(),
                        Expr::Identifier(column.name.as_str().into()),
                    ));
                }
            }
            other => return Err(SqlError::not_supported(format!("select item {other}"))),
        }
    }
    Ok(out)
}

/// The column name MySQL reports for an unaliased expression: a column as written, else the expression.
fn display_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn aggregate_call(expr: &Expr) -> Option<(String, Option<&Expr>)> {
    let Expr::Function(f) = expr else { return None };
    let name = f.name.to_string().to_lowercase();
    if !is_aggregate(&name) {
        return None;
    }
    let argument = match &f.args {
        FunctionArguments::List(list) => match list.args.first() {
            Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
            _ => None,
        },
        _ => None,
    };
    Some((name, argument))
}

fn contains_aggregate(expr: &Expr) -> bool {
    aggregate_call(expr).is_some()
}

fn aggregate(expr: &Expr, rows: &[&Vec<Value>], env: &Env<'_>) -> Result<Value, SqlError> {
    let Some((name, argument)) = aggregate_call(expr) else {
        return Err(SqlError::not_supported(
            "mixing aggregates and plain columns without GROUP BY",
        ));
    };
    let mut values = Vec::new();
    for row in rows {
        match argument {
            Some(e) => {
                let v = eval(e, &env.scope(row))?;
                if !v.is_null() {
                    values.push(v);
                }
            }
            None => values.push(Value::Int(1)), // COUNT(*)
        }
    }
    Ok(match name.as_str() {
        "count" => Value::Int(values.len() as i64),
        "sum" => {
            if values.is_empty() {
                Value::Null
            } else {
                Value::Decimal(values.iter().filter_map(Value::as_float).sum())
            }
        }
        "max" => values
            .into_iter()
            .reduce(|a, b| {
                if b.compare(&a) == Some(Ordering::Greater) {
                    b
                } else {
                    a
                }
            })
            .unwrap_or(Value::Null),
        _ => values
            .into_iter()
            .reduce(|a, b| {
                if b.compare(&a) == Some(Ordering::Less) {
                    b
                } else {
                    a
                }
            })
            .unwrap_or(Value::Null),
    })
}

fn order_exprs(query: &Query) -> Vec<(&Expr, bool)> {
    match query.order_by.as_ref().map(|o| &o.kind) {
        Some(OrderByKind::Expressions(exprs)) => exprs
            .iter()
            .map(|e| (&e.expr, matches!(e.options.sort, Some(OrderBySort::Desc))))
            .collect(),
        _ => Vec::new(),
    }
}

fn sort_directions(query: &Query) -> Vec<bool> {
    order_exprs(query)
        .into_iter()
        .map(|(_, desc)| desc)
        .collect()
}

/// The ORDER BY values of one row: a position (`ORDER BY 2`), an output alias, or an expression.
fn sort_keys(
    query: &Query,
    items: &[(String, Expr)],
    row: &[Value],
    projected: &[Value],
    env: &Env<'_>,
) -> Result<Vec<Value>, SqlError> {
    order_exprs(query)
        .into_iter()
        .map(|(expr, _)| {
            if let Expr::Value(v) = expr
                && let Some(position) = v
                    .value
                    .to_string()
                    .parse::<usize>()
                    .ok()
                    .filter(|p| *p >= 1)
            {
                return Ok(projected.get(position - 1).cloned().unwrap_or(Value::Null));
            }
            if let Expr::Identifier(ident) = expr
                && let Some(i) = items
                    .iter()
                    .position(|(name, _)| name.eq_ignore_ascii_case(&ident.value))
            {
                return Ok(projected[i].clone());
            }
            eval(expr, &env.scope(row))
        })
        .collect()
}

fn compare_keys(a: &[Value], b: &[Value], descending: &[bool]) -> Ordering {
    for ((x, y), desc) in a.iter().zip(b).zip(descending) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => x.compare(y).unwrap_or(Ordering::Equal),
        };
        let ordering = if *desc { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn limit_and_offset(query: &Query, env: &Env<'_>) -> Result<(usize, usize), SqlError> {
    let number = |e: &Expr| -> Result<usize, SqlError> {
        let v = eval(e, &env.scope(&[]))?;
        v.as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| SqlError::syntax(format!("near '{e}'")))
    };
    Ok(match &query.limit_clause {
        None => (usize::MAX, 0),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => (
            limit
                .as_ref()
                .map(number)
                .transpose()?
                .unwrap_or(usize::MAX),
            offset
                .as_ref()
                .map(|o| number(&o.value))
                .transpose()?
                .unwrap_or(0),
        ),
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => (number(limit)?, number(offset)?),
    })
}

/// A one-row table of named values, for statements like `SHOW VARIABLES` answers.
pub fn single_row(columns: &[(&str, ColumnKind, Value)]) -> Table {
    Table {
        columns: columns
            .iter()
            .map(|(n, k, _)| Column::new(*n, *k))
            .collect(),
        rows: vec![columns.iter().map(|(_, _, v)| v.clone()).collect()],
    }
}
