//! Encoding of server responses: OK, EOF, ERR, column definitions, text and binary rows.

use mysql_common::{
    constants::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags},
    io::WriteMysqlExt,
};

use crate::{
    error::SqlError,
    sql::value::{Column, ColumnKind, SqlType, Value},
};

/// utf8mb4_general_ci, the collation OceanBase's MySQL mode reports for strings.
const UTF8MB4: u16 = 45;
/// The binary collation, used for numbers and times.
const BINARY: u16 = 63;

/// An OK packet.
pub fn ok(affected_rows: u64, status: StatusFlags, info: &str) -> Vec<u8> {
    let mut buf = vec![0x00];
    buf.write_lenenc_int(affected_rows).ok();
    buf.write_lenenc_int(0).ok();
    buf.extend_from_slice(&status.bits().to_le_bytes());
    buf.extend_from_slice(&0u16.to_le_bytes());
    buf.extend_from_slice(info.as_bytes());
    buf
}

/// The packet that ends a result set: an EOF packet, or an OK packet with the EOF header when the client
/// asked for CLIENT_DEPRECATE_EOF.
pub fn end_of_rows(capabilities: CapabilityFlags, status: StatusFlags) -> Vec<u8> {
    if capabilities.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
        let mut packet = ok(0, status, "");
        packet[0] = 0xfe;
        packet
    } else {
        eof(status)
    }
}

/// An EOF packet (between column definitions and rows for clients without CLIENT_DEPRECATE_EOF).
pub fn eof(status: StatusFlags) -> Vec<u8> {
    let mut buf = vec![0xfe];
    buf.extend_from_slice(&0u16.to_le_bytes());
    buf.extend_from_slice(&status.bits().to_le_bytes());
    buf
}

/// An ERR packet with the error's number, SQLSTATE and message.
pub fn error(error: &SqlError) -> Vec<u8> {
    let mut buf = vec![0xff];
    buf.extend_from_slice(&error.code.to_le_bytes());
    buf.push(b'#');
    buf.extend_from_slice(error.state.as_bytes());
    buf.extend_from_slice(error.message.as_bytes());
    buf
}

/// The wire type of a column kind (computed columns).
pub fn column_type(kind: ColumnKind) -> ColumnType {
    match kind {
        ColumnKind::Int | ColumnKind::UInt => ColumnType::MYSQL_TYPE_LONGLONG,
        ColumnKind::Decimal => ColumnType::MYSQL_TYPE_NEWDECIMAL,
        ColumnKind::Text => ColumnType::MYSQL_TYPE_VAR_STRING,
        ColumnKind::DateTime => ColumnType::MYSQL_TYPE_DATETIME,
    }
}

/// What a column definition says of a type: wire type, collation, length, flags, decimals.
struct Definition {
    wire: ColumnType,
    charset: u16,
    length: u32,
    flags: ColumnFlags,
    decimals: u8,
}

/// As MySQL defines them: a number's length is its display width (a decimal's precision plus sign and
/// point), a string's its maximum bytes (4 a character in utf8mb4), a time's its text width.
fn declared_definition(ty: SqlType) -> Definition {
    let number = ColumnFlags::NUM_FLAG | ColumnFlags::BINARY_FLAG;
    let (wire, charset, length, flags, decimals) = match ty {
        SqlType::BigInt(width) => (
            ColumnType::MYSQL_TYPE_LONGLONG,
            BINARY,
            u32::from(width),
            number,
            0,
        ),
        SqlType::BigIntUnsigned(width) => (
            ColumnType::MYSQL_TYPE_LONGLONG,
            BINARY,
            u32::from(width),
            number | ColumnFlags::UNSIGNED_FLAG,
            0,
        ),
        SqlType::Varchar(n) => (
            ColumnType::MYSQL_TYPE_VAR_STRING,
            UTF8MB4,
            n.saturating_mul(4),
            ColumnFlags::empty(),
            0,
        ),
        SqlType::LongText => (
            ColumnType::MYSQL_TYPE_LONG_BLOB,
            UTF8MB4,
            u32::MAX,
            ColumnFlags::BLOB_FLAG,
            0,
        ),
        SqlType::Timestamp(d) => (
            ColumnType::MYSQL_TYPE_TIMESTAMP,
            BINARY,
            time_width(d),
            ColumnFlags::BINARY_FLAG,
            d,
        ),
        SqlType::DateTime(d) => (
            ColumnType::MYSQL_TYPE_DATETIME,
            BINARY,
            time_width(d),
            ColumnFlags::BINARY_FLAG,
            d,
        ),
        SqlType::Decimal(precision, scale) => (
            ColumnType::MYSQL_TYPE_NEWDECIMAL,
            BINARY,
            u32::from(precision) + u32::from(scale > 0) + 1,
            number,
            scale,
        ),
        SqlType::Double => (ColumnType::MYSQL_TYPE_DOUBLE, BINARY, 22, number, 31),
    };
    Definition {
        wire,
        charset,
        length,
        flags,
        decimals,
    }
}

/// `YYYY-MM-DD HH:MM:SS` and, with fractional digits, a point and those digits.
fn time_width(digits: u8) -> u32 {
    19 + if digits > 0 { 1 + u32::from(digits) } else { 0 }
}

fn computed_definition(kind: ColumnKind) -> Definition {
    let (charset, length, flags, decimals) = match kind {
        ColumnKind::Int => (
            BINARY,
            20,
            ColumnFlags::NUM_FLAG | ColumnFlags::BINARY_FLAG,
            0,
        ),
        ColumnKind::UInt => (
            BINARY,
            20,
            ColumnFlags::NUM_FLAG | ColumnFlags::BINARY_FLAG | ColumnFlags::UNSIGNED_FLAG,
            0,
        ),
        ColumnKind::Decimal => (
            BINARY,
            30,
            ColumnFlags::NUM_FLAG | ColumnFlags::BINARY_FLAG,
            4,
        ),
        ColumnKind::Text => (UTF8MB4, 4096 * 4, ColumnFlags::empty(), 31),
        ColumnKind::DateTime => (BINARY, 26, ColumnFlags::BINARY_FLAG, 6),
    };
    Definition {
        wire: column_type(kind),
        charset,
        length,
        flags,
        decimals,
    }
}

/// A column definition packet.
pub fn column_definition(column: &Column, table: &str) -> Vec<u8> {
    let mut definition = match column.declared {
        Some(ty) => declared_definition(ty),
        None => computed_definition(column.kind),
    };
    if !column.nullable {
        definition.flags |= ColumnFlags::NOT_NULL_FLAG;
    }
    // Protocol::ColumnDefinition41, written out: mysql_common's serializer puts the column length before
    // the character set, which clients then read swapped (a length of 63 << 16, collation 20).
    let mut buf = Vec::new();
    for text in [
        "def",
        "oceanbase",
        table,
        table,
        column.name.as_str(),
        column.name.as_str(),
    ] {
        buf.write_lenenc_str(text.as_bytes()).ok();
    }
    buf.push(0x0c);
    buf.extend_from_slice(&definition.charset.to_le_bytes());
    buf.extend_from_slice(&definition.length.to_le_bytes());
    buf.push(definition.wire as u8);
    buf.extend_from_slice(&definition.flags.bits().to_le_bytes());
    buf.push(definition.decimals);
    buf.extend_from_slice(&[0, 0]);
    buf
}

/// A non-NULL value as the text protocol sends it in `column`: a decimal with its column's scale, a time
/// with its column's fractional digits.
pub fn render(column: &Column, value: &Value) -> String {
    match (column.declared, value) {
        (Some(SqlType::Decimal(_, scale)), v) => match v.as_float() {
            Some(x) => format!("{x:.*}", usize::from(scale)),
            None => v.to_string(),
        },
        (Some(SqlType::Timestamp(d) | SqlType::DateTime(d)), Value::DateTime(t)) => {
            let whole = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
            if d == 0 {
                whole
            } else {
                let micros = format!("{:06}", t.subsec_nanosecond() / 1000);
                format!("{whole}.{}", &micros[..usize::from(d.min(6))])
            }
        }
        _ => value.to_string(),
    }
}

/// A text-protocol row: each value as a length-encoded string, NULL as 0xfb.
pub fn text_row(columns: &[Column], row: &[Value]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (column, value) in columns.iter().zip(row) {
        match value {
            Value::Null => buf.push(0xfb),
            other => {
                buf.write_lenenc_str(render(column, other).as_bytes()).ok();
            }
        }
    }
    buf
}

/// A binary-protocol row (prepared statements): a NULL bitmap, then each value in its column's wire type.
pub fn binary_row(columns: &[Column], row: &[Value]) -> Vec<u8> {
    let mut buf = vec![0x00];
    let mut bitmap = vec![0u8; (columns.len() + 7 + 2) / 8];
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            bitmap[(i + 2) / 8] |= 1 << ((i + 2) % 8);
        }
    }
    buf.extend_from_slice(&bitmap);
    for (column, value) in columns.iter().zip(row) {
        if value.is_null() {
            continue;
        }
        match (column.kind, value) {
            (ColumnKind::Int | ColumnKind::UInt, v) => {
                let n = v.as_integer().unwrap_or_default();
                let bytes = if column.kind == ColumnKind::UInt {
                    (n as u64).to_le_bytes()
                } else {
                    (n as i64).to_le_bytes()
                };
                buf.extend_from_slice(&bytes);
            }
            (ColumnKind::DateTime, Value::DateTime(t)) => {
                buf.push(11);
                buf.extend_from_slice(&(t.year() as u16).to_le_bytes());
                buf.extend_from_slice(&[
                    t.month() as u8,
                    t.day() as u8,
                    t.hour() as u8,
                    t.minute() as u8,
                ]);
                buf.push(t.second() as u8);
                buf.extend_from_slice(&((t.subsec_nanosecond() / 1000) as u32).to_le_bytes());
            }
            (_, v) if column.declared == Some(SqlType::Double) => {
                buf.extend_from_slice(&v.as_float().unwrap_or_default().to_le_bytes());
            }
            (_, v) => {
                buf.write_lenenc_str(render(column, v).as_bytes()).ok();
            }
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_oceanbase_numbers_and_sqlstate() {
        let packet = error(&SqlError::oceanbase(9036, "Backup is in progress"));
        assert_eq!(&packet[..3], &[0xff, 0x4c, 0x23], "0x234c = 9036");
        assert_eq!(&packet[3..9], b"#HY000");
        assert_eq!(&packet[9..], b"Backup is in progress");
    }

    #[test]
    fn text_rows_mark_null_and_length_prefix_values() {
        let columns = [
            Column::new("A", ColumnKind::Int),
            Column::new("B", ColumnKind::Int),
            Column::new("C", ColumnKind::Text),
        ];
        let row = text_row(
            &columns,
            &[Value::Null, Value::Int(42), Value::Text("DOING".into())],
        );
        assert_eq!(row, [0xfb, 2, b'4', b'2', 5, b'D', b'O', b'I', b'N', b'G']);
    }

    #[test]
    fn declared_columns_render_and_define_as_their_type() {
        let ratio = Column::declared("COMPRESSION_RATIO", SqlType::Decimal(23, 2), false);
        assert_eq!(render(&ratio, &Value::Decimal(0.5)), "0.50");
        let at = Column::declared("START_TIMESTAMP", SqlType::Timestamp(6), false);
        let t = Value::DateTime("2026-11-20T08:30:00.25".parse().expect("datetime"));
        assert_eq!(render(&at, &t), "2026-11-20 08:30:00.250000");
        let varchar = declared_definition(SqlType::Varchar(64));
        assert_eq!((varchar.length, varchar.charset), (256, UTF8MB4));
        let decimal = declared_definition(SqlType::Decimal(23, 2));
        assert_eq!((decimal.length, decimal.decimals), (25, 2));
        let unsigned = declared_definition(SqlType::BigIntUnsigned(20));
        assert!(unsigned.flags.contains(ColumnFlags::UNSIGNED_FLAG));
        assert_eq!(declared_definition(SqlType::Timestamp(6)).length, 26);
    }

    #[test]
    fn a_column_definition_puts_the_character_set_before_the_length() {
        let column = Column::declared("AB", SqlType::BigInt(20), false);
        let packet = column_definition(&column, "T");
        let fixed = &packet[packet.len() - 13..];
        assert_eq!(fixed[0], 0x0c);
        assert_eq!(&fixed[1..3], &BINARY.to_le_bytes(), "character set first");
        assert_eq!(&fixed[3..7], &20u32.to_le_bytes(), "then the length");
        assert_eq!(fixed[7], ColumnType::MYSQL_TYPE_LONGLONG as u8);
    }

    #[test]
    fn binary_rows_put_nulls_in_the_bitmap_at_offset_two() {
        let columns = [
            Column::new("A", ColumnKind::Int),
            Column::new("B", ColumnKind::Text),
        ];
        let row = binary_row(&columns, &[Value::Null, Value::Text("x".into())]);
        assert_eq!(row, [0x00, 0b0000_0100, 1, b'x']);
    }
}
