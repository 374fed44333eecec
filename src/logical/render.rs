//! Rows as SQL text: every value a MySQL literal that reads back as the same value, rows batched into
//! `INSERT` statements of bounded size, one statement per line. Pure functions.
//!
//! Values are read over the binary protocol, so numbers and times arrive exact: a `FLOAT` is written with the
//! shortest digits that read back as the same `f32` (the text protocol's `3.40282e+38` would not), binary
//! columns as hex literals, text with its quotes, backslashes and line breaks escaped — so a statement never
//! spans lines and a file splits into statements at line ends.

use mysql_async::Value;

use super::LogicalError;

/// How a column's values are written, from its `information_schema.COLUMNS.DATA_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Bytes that are not text (`BINARY`, `BLOB`, `BIT`, geometry): a hex literal.
    Binary,
    /// `DATE`: the date alone.
    Date,
    /// Anything else: numbers as numbers, text (JSON, vectors, enums, decimals) as a quoted string.
    Other,
}

impl ColumnKind {
    /// The kind of a column of this data type.
    pub fn of(data_type: &str) -> Self {
        match data_type.to_ascii_lowercase().as_str() {
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
            | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
            | "multilinestring" | "multipolygon" | "geometrycollection" => ColumnKind::Binary,
            "date" => ColumnKind::Date,
            _ => ColumnKind::Other,
        }
    }
}

/// A backquoted identifier: any name MySQL allows, with backquotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A single-quoted string literal of these bytes; quotes, backslashes, NUL, line breaks and Ctrl-Z escaped.
pub fn push_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'\'');
    for &b in bytes {
        match b {
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    if bytes.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    out.extend_from_slice(b"X'");
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    out.push(b'\'');
}

fn push_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// Appends `value`, a value of a column of `kind`, as a literal.
pub fn push_value(out: &mut Vec<u8>, value: &Value, kind: ColumnKind) -> Result<(), LogicalError> {
    match value {
        Value::NULL => out.extend_from_slice(b"NULL"),
        Value::Int(i) => push_display(out, i),
        Value::UInt(u) => push_display(out, u),
        Value::Float(f) if f.is_finite() => push_display(out, format_args!("{f:e}")),
        Value::Double(d) if d.is_finite() => push_display(out, format_args!("{d:e}")),
        Value::Float(_) | Value::Double(_) => {
            return Err(LogicalError::Format(
                "a floating-point value is not finite".into(),
            ));
        }
        Value::Bytes(bytes) if kind == ColumnKind::Binary => push_hex(out, bytes),
        Value::Bytes(bytes) => push_string(out, bytes),
        Value::Date(year, month, day, hour, minute, second, micros) => {
            let text = if kind == ColumnKind::Date {
                format!("'{year:04}-{month:02}-{day:02}'")
            } else if *micros == 0 {
                format!("'{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}'")
            } else {
                format!(
                    "'{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}.{micros:06}'"
                )
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::Time(negative, days, hours, minutes, seconds, micros) => {
            let sign = if *negative { "-" } else { "" };
            let hours = u64::from(*days) * 24 + u64::from(*hours);
            push_display(
                out,
                format_args!("'{sign}{hours:02}:{minutes:02}:{seconds:02}.{micros:06}'"),
            );
        }
    }
    Ok(())
}

/// Builds `INSERT INTO t (…) VALUES (…),(…);` lines of at most about `limit` bytes each (a single row longer
/// than that is a statement of its own).
pub struct InsertBatcher {
    prefix: Vec<u8>,
    kinds: Vec<ColumnKind>,
    limit: usize,
    row: Vec<u8>,
    statement: Vec<u8>,
    rows_in_statement: usize,
}

impl InsertBatcher {
    /// A batcher for `table`'s `columns` (name and kind), statements of about `limit` bytes.
    pub fn new(table: &str, columns: &[(String, ColumnKind)], limit: usize) -> Self {
        let names: Vec<String> = columns.iter().map(|(n, _)| quote_identifier(n)).collect();
        let prefix = format!(
            "INSERT INTO {} ({}) VALUES ",
            quote_identifier(table),
            names.join(",")
        );
        Self {
            prefix: prefix.into_bytes(),
            kinds: columns.iter().map(|(_, k)| *k).collect(),
            limit,
            row: Vec::new(),
            statement: Vec::new(),
            rows_in_statement: 0,
        }
    }

    /// Adds a row; appends to `out` any statement it completes.
    pub fn push(&mut self, values: &[Value], out: &mut Vec<u8>) -> Result<(), LogicalError> {
        if values.len() != self.kinds.len() {
            return Err(LogicalError::Format(format!(
                "a row has {} values for {} columns",
                values.len(),
                self.kinds.len()
            )));
        }
        self.row.clear();
        self.row.push(b'(');
        for (i, (value, kind)) in values.iter().zip(&self.kinds).enumerate() {
            if i > 0 {
                self.row.push(b',');
            }
            push_value(&mut self.row, value, *kind)?;
        }
        self.row.push(b')');
        if self.rows_in_statement > 0 && self.statement.len() + self.row.len() + 2 > self.limit {
            self.finish(out);
        }
        if self.rows_in_statement == 0 {
            self.statement.extend_from_slice(&self.prefix);
        } else {
            self.statement.push(b',');
        }
        self.statement.extend_from_slice(&self.row);
        self.rows_in_statement += 1;
        Ok(())
    }

    /// Appends the statement under way, if any, to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.rows_in_statement > 0 {
            out.append(&mut self.statement);
            out.extend_from_slice(b";\n");
            self.rows_in_statement = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(value: Value, kind: ColumnKind) -> String {
        let mut out = Vec::new();
        push_value(&mut out, &value, kind).expect("renders");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn floats_keep_the_digits_that_read_back_as_the_same_number() {
        let text = literal(Value::Float(3.402_823_5e38), ColumnKind::Other);
        assert_eq!(text, "3.4028235e38");
        assert_eq!(text.parse::<f32>().ok(), Some(3.402_823_5e38));
        assert_eq!(literal(Value::Double(0.1), ColumnKind::Other), "1e-1");
        assert_eq!(
            literal(Value::Double(f64::MAX), ColumnKind::Other)
                .parse::<f64>()
                .ok(),
            Some(f64::MAX)
        );
        let mut out = Vec::new();
        assert!(push_value(&mut out, &Value::Double(f64::NAN), ColumnKind::Other).is_err());
    }

    #[test]
    fn text_is_escaped_so_a_statement_never_spans_lines() {
        let text = literal(
            Value::Bytes(b"it's a \\ line\nbreak\r\0\x1a".to_vec()),
            ColumnKind::Other,
        );
        assert_eq!(text, r"'it\'s a \\ line\nbreak\r\0\Z'");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn binary_columns_are_hex_and_dates_and_times_keep_their_fraction() {
        assert_eq!(
            literal(Value::Bytes(vec![0, 0xff, 0x10]), ColumnKind::Binary),
            "X'00FF10'"
        );
        assert_eq!(literal(Value::Bytes(vec![]), ColumnKind::Binary), "''");
        assert_eq!(
            literal(Value::Date(2026, 1, 2, 3, 4, 5, 60), ColumnKind::Other),
            "'2026-01-02 03:04:05.000060'"
        );
        assert_eq!(
            literal(Value::Date(2026, 1, 2, 0, 0, 0, 0), ColumnKind::Date),
            "'2026-01-02'"
        );
        assert_eq!(
            literal(Value::Time(true, 1, 2, 3, 4, 5), ColumnKind::Other),
            "'-26:03:04.000005'"
        );
        assert_eq!(ColumnKind::of("LONGBLOB"), ColumnKind::Binary);
        assert_eq!(ColumnKind::of("json"), ColumnKind::Other);
    }

    #[test]
    fn rows_are_batched_into_statements_of_bounded_size() {
        let columns = vec![
            ("id".to_string(), ColumnKind::Other),
            ("we`ird".to_string(), ColumnKind::Other),
        ];
        let mut batcher = InsertBatcher::new("t", &columns, 60);
        let mut out = Vec::new();
        for i in 0..5 {
            batcher
                .push(&[Value::Int(i), Value::Bytes(b"abc".to_vec())], &mut out)
                .expect("row");
        }
        batcher.finish(&mut out);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1, "{text}");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("INSERT INTO `t` (`id`,`we``ird`) VALUES ("))
        );
        assert!(lines.iter().all(|l| l.ends_with(");")));
        assert_eq!(text.matches("'abc'").count(), 5);
        let mut out = Vec::new();
        assert!(batcher.push(&[Value::Int(1)], &mut out).is_err());
    }
}
