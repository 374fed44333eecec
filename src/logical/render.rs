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
/// The runs between two such bytes are copied whole.
pub fn push_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'\'');
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|b| ESCAPED[usize::from(*b)]) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(escape(rest[at]).unwrap_or_default());
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'\'');
}

/// The bytes [`escape`] writes otherwise than as themselves, by value.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = escape(b as u8).is_some();
        b += 1;
    }
    table
};

/// How a byte is written inside a string literal, when not as itself.
const fn escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'\'' => Some(b"\\'"),
        b'\\' => Some(b"\\\\"),
        0 => Some(b"\\0"),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        0x1a => Some(b"\\Z"),
        _ => None,
    }
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

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || start == digits.len() {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    start = start.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[start..]);
}

/// `YYYY-MM-DD`.
fn push_date(out: &mut Vec<u8>, year: u16, month: u8, day: u8) {
    push_digits(out, u64::from(year), 4);
    out.push(b'-');
    push_digits(out, u64::from(month), 2);
    out.push(b'-');
    push_digits(out, u64::from(day), 2);
}

/// `HH:MM:SS` (the hours of a `TIME` may have more digits).
fn push_clock(out: &mut Vec<u8>, hours: u64, minutes: u8, seconds: u8) {
    push_digits(out, hours, 2);
    out.push(b':');
    push_digits(out, u64::from(minutes), 2);
    out.push(b':');
    push_digits(out, u64::from(seconds), 2);
}

/// Appends `value`, a value of a column of `kind`, as a literal.
pub fn push_value(out: &mut Vec<u8>, value: &Value, kind: ColumnKind) -> Result<(), LogicalError> {
    match value {
        Value::NULL => out.extend_from_slice(b"NULL"),
        Value::Int(i) => {
            if *i < 0 {
                out.push(b'-');
            }
            push_digits(out, i.unsigned_abs(), 1);
        }
        Value::UInt(u) => push_digits(out, *u, 1),
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
            out.push(b'\'');
            push_date(out, *year, *month, *day);
            if kind != ColumnKind::Date {
                out.push(b' ');
                push_clock(out, u64::from(*hour), *minute, *second);
                if *micros != 0 {
                    out.push(b'.');
                    push_digits(out, u64::from(*micros), 6);
                }
            }
            out.push(b'\'');
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
/// than that is a statement of its own). Rows are rendered straight into the caller's buffer, which may be
/// handed on between rows: a statement can span buffers, and its bytes are written once.
pub struct InsertBatcher {
    prefix: Vec<u8>,
    kinds: Vec<ColumnKind>,
    limit: usize,
    /// Bytes of the statement under way, its prefix included.
    statement_bytes: usize,
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
            statement_bytes: 0,
            rows_in_statement: 0,
        }
    }

    /// Appends a row to `out`: after the statement under way, or as the first of a new one when it would
    /// take the statement past the limit. On an error `out` may hold part of the row: the chunk is given up.
    pub fn push(&mut self, values: &[Value], out: &mut Vec<u8>) -> Result<(), LogicalError> {
        if values.len() != self.kinds.len() {
            return Err(LogicalError::Format(format!(
                "a row has {} values for {} columns",
                values.len(),
                self.kinds.len()
            )));
        }
        let separator_at = out.len();
        if self.rows_in_statement == 0 {
            out.extend_from_slice(&self.prefix);
        } else {
            out.push(b',');
        }
        let row_at = out.len();
        out.push(b'(');
        for (i, (value, kind)) in values.iter().zip(&self.kinds).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_value(out, value, *kind)?;
        }
        out.push(b')');
        let row_bytes = out.len() - row_at;
        if self.rows_in_statement > 0 && self.statement_bytes + row_bytes + 2 > self.limit {
            // The statement ends before this row, which starts the next: its comma becomes the end and
            // the next one's prefix.
            let next = b";\n".iter().chain(&self.prefix).copied();
            out.splice(separator_at..row_at, next);
            self.statement_bytes = self.prefix.len();
            self.rows_in_statement = 0;
        } else {
            self.statement_bytes += row_at - separator_at;
        }
        self.statement_bytes += row_bytes;
        self.rows_in_statement += 1;
        Ok(())
    }

    /// Ends the statement under way, if any, in `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.rows_in_statement > 0 {
            out.extend_from_slice(b";\n");
            self.rows_in_statement = 0;
            self.statement_bytes = 0;
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
    fn integers_and_dates_are_written_digit_for_digit() {
        for (value, text) in [
            (Value::Int(0), "0"),
            (Value::Int(-7), "-7"),
            (Value::Int(i64::MIN), "-9223372036854775808"),
            (Value::Int(i64::MAX), "9223372036854775807"),
            (Value::UInt(u64::MAX), "18446744073709551615"),
            (Value::UInt(10), "10"),
        ] {
            assert_eq!(literal(value, ColumnKind::Other), text);
        }
        assert_eq!(
            literal(Value::Date(7, 1, 2, 0, 0, 0, 0), ColumnKind::Other),
            "'0007-01-02 00:00:00'"
        );
        assert_eq!(
            literal(
                Value::Date(2026, 12, 31, 23, 59, 9, 999_999),
                ColumnKind::Other
            ),
            "'2026-12-31 23:59:09.999999'"
        );
        assert_eq!(
            literal(Value::Date(2026, 12, 31, 23, 59, 9, 5), ColumnKind::Date),
            "'2026-12-31'"
        );
    }

    #[test]
    fn escapes_at_the_edges_and_side_by_side_are_each_written() {
        assert_eq!(
            literal(Value::Bytes(b"''x\\\n".to_vec()), ColumnKind::Other),
            r"'\'\'x\\\n'"
        );
        assert_eq!(literal(Value::Bytes(Vec::new()), ColumnKind::Other), "''");
        assert_eq!(
            literal(Value::Bytes("é\0".as_bytes().to_vec()), ColumnKind::Other),
            "'é\\0'"
        );
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

    #[test]
    fn a_statement_may_span_buffers_and_a_row_longer_than_the_limit_stands_alone() {
        let columns = vec![("v".to_string(), ColumnKind::Other)];
        let rows: Vec<Vec<u8>> = [3, 4, 40, 5, 6, 7, 8, 2]
            .iter()
            .map(|n| vec![b'x'; *n])
            .collect();
        let render = |buffers: usize| {
            let mut batcher = InsertBatcher::new("t", &columns, 50);
            let mut pieces = vec![Vec::new()];
            for (i, row) in rows.iter().enumerate() {
                if i % buffers == 0 {
                    pieces.push(Vec::new());
                }
                let out = pieces.last_mut().expect("a piece");
                batcher
                    .push(&[Value::Bytes(row.clone())], out)
                    .expect("row");
            }
            batcher.finish(pieces.last_mut().expect("a piece"));
            String::from_utf8(pieces.concat()).expect("utf-8")
        };
        let whole = render(usize::MAX);
        assert_eq!(
            whole,
            "INSERT INTO `t` (`v`) VALUES ('xxx'),('xxxx');\n\
             INSERT INTO `t` (`v`) VALUES ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx');\n\
             INSERT INTO `t` (`v`) VALUES ('xxxxx'),('xxxxxx');\n\
             INSERT INTO `t` (`v`) VALUES ('xxxxxxx');\n\
             INSERT INTO `t` (`v`) VALUES ('xxxxxxxx'),('xx');\n"
        );
        // Handed on after every row, or every other: the same bytes.
        assert_eq!(render(1), whole);
        assert_eq!(render(2), whole);
    }
}
