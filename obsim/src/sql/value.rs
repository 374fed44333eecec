//! Values and result tables. Every column has a declared type, as OceanBase's views do, so that a column
//! keeps its wire type whatever its rows hold (NULLs included).

use std::{cmp::Ordering, fmt};

use jiff::civil::DateTime;

/// A column's declared type (what the client sees in the column definition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// `bigint(20)`.
    Int,
    /// `bigint(20) unsigned` (SCNs).
    UInt,
    /// `decimal(p,s)`, sent as its decimal string.
    Decimal,
    /// `varchar(n)`.
    Text,
    /// `timestamp(6)` / `datetime(6)`.
    DateTime,
}

/// A view column's MySQL type as a real server declares it (`desc` prints it, the column definition sends it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    /// `bigint(w)` (display width w: 20, sometimes 21).
    BigInt(u8),
    /// `bigint(w) unsigned`.
    BigIntUnsigned(u8),
    /// `varchar(n)`, n characters.
    Varchar(u32),
    /// `longtext`.
    LongText,
    /// `timestamp(d)`.
    Timestamp(u8),
    /// `datetime(d)`.
    DateTime(u8),
    /// `decimal(precision,scale)`.
    Decimal(u8, u8),
    /// `double`.
    Double,
}

impl SqlType {
    /// Reads a type as `desc` prints it; `None` for a type obsim does not serve.
    pub fn parse(desc: &str) -> Option<Self> {
        let desc = desc.trim();
        let (base, args) = match desc.split_once('(') {
            Some((base, rest)) => {
                let (args, tail) = rest.split_once(')')?;
                (base, Some((args, tail.trim())))
            }
            None => (desc, None),
        };
        let number = |text: &str| text.trim().parse::<u32>().ok();
        Some(match (base, args) {
            ("bigint", Some((w, ""))) => SqlType::BigInt(u8::try_from(number(w)?).ok()?),
            ("bigint", Some((w, "unsigned"))) => {
                SqlType::BigIntUnsigned(u8::try_from(number(w)?).ok()?)
            }
            ("varchar", Some((n, ""))) => SqlType::Varchar(number(n)?),
            ("longtext", None) => SqlType::LongText,
            ("timestamp", Some((d, ""))) => SqlType::Timestamp(u8::try_from(number(d)?).ok()?),
            ("datetime", Some((d, ""))) => SqlType::DateTime(u8::try_from(number(d)?).ok()?),
            ("decimal", Some((ps, ""))) => {
                let (p, s) = ps.split_once(',')?;
                SqlType::Decimal(
                    u8::try_from(number(p)?).ok()?,
                    u8::try_from(number(s)?).ok()?,
                )
            }
            ("double", None) => SqlType::Double,
            _ => return None,
        })
    }

    /// The class of values it holds (what expressions and comparisons see).
    pub fn kind(self) -> ColumnKind {
        match self {
            SqlType::BigInt(_) => ColumnKind::Int,
            SqlType::BigIntUnsigned(_) => ColumnKind::UInt,
            SqlType::Varchar(_) | SqlType::LongText => ColumnKind::Text,
            SqlType::Timestamp(_) | SqlType::DateTime(_) => ColumnKind::DateTime,
            SqlType::Decimal(..) | SqlType::Double => ColumnKind::Decimal,
        }
    }
}

impl fmt::Display for SqlType {
    /// As `desc` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::BigInt(w) => write!(f, "bigint({w})"),
            SqlType::BigIntUnsigned(w) => write!(f, "bigint({w}) unsigned"),
            SqlType::Varchar(n) => write!(f, "varchar({n})"),
            SqlType::LongText => f.write_str("longtext"),
            SqlType::Timestamp(d) => write!(f, "timestamp({d})"),
            SqlType::DateTime(d) => write!(f, "datetime({d})"),
            SqlType::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            SqlType::Double => f.write_str("double"),
        }
    }
}

/// One column of a result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Name as the client sees it (upper case for view columns, as OceanBase reports them).
    pub name: String,
    /// The class of its values.
    pub kind: ColumnKind,
    /// A view column's exact type as the real server declares it; `None` for computed columns
    /// (`SELECT 1`, `time_to_usec(…)`), which get their kind's default definition.
    pub declared: Option<SqlType>,
    /// Whether it may hold NULL (a view column's `desc` says; computed columns may).
    pub nullable: bool,
}

impl Column {
    /// A computed column of the given name and kind.
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        Self {
            name: name.into(),
            kind,
            declared: None,
            nullable: true,
        }
    }

    /// A view column as a real server declares it.
    pub fn declared(name: impl Into<String>, declared: SqlType, nullable: bool) -> Self {
        Self {
            name: name.into(),
            kind: declared.kind(),
            declared: Some(declared),
            nullable,
        }
    }
}

/// A value in a row or an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A decimal number (kept as `f64`; rendered with its scale by the column's consumer).
    Decimal(f64),
    /// A string.
    Text(String),
    /// A date and time without time zone (the session time zone is UTC).
    DateTime(DateTime),
}

impl Value {
    /// The value as an `i128` when it is a number or a numeric string, for arithmetic and comparisons.
    pub fn as_integer(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some(i128::from(*v)),
            Value::UInt(v) => Some(i128::from(*v)),
            Value::Decimal(v) if v.fract() == 0.0 => Some(*v as i128),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float when it is numeric.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::UInt(v) => Some(*v as f64),
            Value::Decimal(v) => Some(*v),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQL truth: NULL and zero are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Text(s) => s.trim().parse::<f64>().is_ok_and(|v| v != 0.0),
            other => {
                other.as_float().is_some_and(|v| v != 0.0) || matches!(other, Value::DateTime(_))
            }
        }
    }

    /// Compares two non-NULL values the way MySQL does for these types: numbers numerically, times
    /// chronologically (a string compared with a time is read as a time), strings case-insensitively.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
            (Value::DateTime(a), Value::Text(b)) => {
                b.trim().parse::<DateTime>().ok().map(|b| a.cmp(&b))
            }
            (Value::Text(a), Value::DateTime(b)) => {
                a.trim().parse::<DateTime>().ok().map(|a| a.cmp(b))
            }
            (Value::Text(a), Value::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            (a, b) => match (a.as_integer(), b.as_integer()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.as_float()?.partial_cmp(&b.as_float()?),
            },
        }
    }
}

impl fmt::Display for Value {
    /// The text-protocol rendering of a non-NULL value (NULL renders as `NULL`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Text(s) => f.write_str(s),
            Value::DateTime(t) => write!(f, "{}", t.strftime("%Y-%m-%d %H:%M:%S%.6f")),
        }
    }
}

/// A result: named, typed columns and rows of values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The index of a column by case-insensitive name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_numerically_across_types() {
        assert_eq!(
            Value::Int(10).compare(&Value::UInt(9)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Text("10".into()).compare(&Value::Int(9)),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::Null.compare(&Value::Int(1)), None);
    }

    #[test]
    fn strings_compare_without_case_and_times_parse_from_strings() {
        assert_eq!(
            Value::Text("DOING".into()).compare(&Value::Text("doing".into())),
            Some(Ordering::Equal)
        );
        let t = Value::DateTime("2026-11-20T08:30:00".parse().expect("datetime"));
        assert_eq!(
            t.compare(&Value::Text("2026-11-20 08:00:00".into())),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn every_type_desc_prints_reads_back_as_itself() {
        for desc in [
            "bigint(20)",
            "bigint(20) unsigned",
            "bigint(21)",
            "varchar(4096)",
            "longtext",
            "timestamp(6)",
            "datetime(6)",
            "decimal(23,2)",
            "double",
        ] {
            let ty = SqlType::parse(desc).unwrap_or_else(|| panic!("{desc}"));
            assert_eq!(ty.to_string(), desc);
        }
        assert_eq!(SqlType::parse("tinyint(4)"), None);
        assert_eq!(SqlType::parse("varchar(x)"), None);
    }

    #[test]
    fn datetimes_render_with_microseconds() {
        let t = Value::DateTime("2026-11-20T08:30:00.5".parse().expect("datetime"));
        assert_eq!(t.to_string(), "2026-11-20 08:30:00.500000");
    }
}
