//! Decoding the parameters of COM_STMT_EXECUTE (after the statement id): flags, iteration count, NULL
//! bitmap, the bound types (sent on the first execution, remembered after), then each value.

use mysql_common::constants::ColumnType;

use crate::{error::SqlError, sql::value::Value};

fn malformed() -> SqlError {
    SqlError::oceanbase(1835, "Malformed communication packet.")
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SqlError> {
        if self.0.len() < n {
            return Err(malformed());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SqlError> {
        Ok(self.take(1)?[0])
    }

    fn lenenc(&mut self) -> Result<u64, SqlError> {
        Ok(match self.u8()? {
            0xfc => u64::from(u16::from_le_bytes(
                self.take(2)?.try_into().map_err(|_| malformed())?,
            )),
            0xfd => {
                let b = self.take(3)?;
                u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16
            }
            0xfe => u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| malformed())?),
            n => u64::from(n),
        })
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], SqlError> {
        self.take(N)?.try_into().map_err(|_| malformed())
    }
}

/// Decodes `count` parameters; `types` holds the types bound by an earlier execution and is updated when
/// the client binds new ones.
pub fn decode(
    body: &[u8],
    count: u16,
    types: &mut Vec<(u8, bool)>,
) -> Result<Vec<Value>, SqlError> {
    let mut r = Reader(body);
    let _flags = r.u8()?;
    let _iterations = r.take(4)?;
    let count = usize::from(count);
    if count == 0 {
        return Ok(Vec::new());
    }
    let bitmap = r.take(count.div_ceil(8))?.to_vec();
    if r.u8()? == 1 {
        types.clear();
        for _ in 0..count {
            let [kind, flags] = r.fixed::<2>()?;
            types.push((kind, flags & 0x80 != 0));
        }
    }
    if types.len() != count {
        return Err(malformed());
    }
    let mut values = Vec::with_capacity(count);
    for (i, &(kind, unsigned)) in types.iter().enumerate() {
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            values.push(Value::Null);
            continue;
        }
        let kind = ColumnType::try_from(kind).map_err(|_| malformed())?;
        values.push(match kind {
            ColumnType::MYSQL_TYPE_NULL => Value::Null,
            ColumnType::MYSQL_TYPE_TINY => integer(&r.fixed::<1>()?, unsigned),
            ColumnType::MYSQL_TYPE_SHORT | ColumnType::MYSQL_TYPE_YEAR => {
                integer(&r.fixed::<2>()?, unsigned)
            }
            ColumnType::MYSQL_TYPE_LONG | ColumnType::MYSQL_TYPE_INT24 => {
                integer(&r.fixed::<4>()?, unsigned)
            }
            ColumnType::MYSQL_TYPE_LONGLONG => integer(&r.fixed::<8>()?, unsigned),
            ColumnType::MYSQL_TYPE_FLOAT => {
                Value::Decimal(f64::from(f32::from_le_bytes(r.fixed::<4>()?)))
            }
            ColumnType::MYSQL_TYPE_DOUBLE => Value::Decimal(f64::from_le_bytes(r.fixed::<8>()?)),
            ColumnType::MYSQL_TYPE_DATE
            | ColumnType::MYSQL_TYPE_DATETIME
            | ColumnType::MYSQL_TYPE_TIMESTAMP => {
                let length = r.u8()? as usize;
                let b = r.take(length)?;
                let field = |i: usize| b.get(i).copied().unwrap_or(0);
                let year = u16::from_le_bytes([field(0), field(1)]);
                let micros = if length >= 11 {
                    u32::from_le_bytes([field(7), field(8), field(9), field(10)])
                } else {
                    0
                };
                Value::Text(format!(
                    "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}.{micros:06}",
                    field(2),
                    field(3),
                    field(4),
                    field(5),
                    field(6)
                ))
            }
            _ => {
                let length = usize::try_from(r.lenenc()?).map_err(|_| malformed())?;
                Value::Text(String::from_utf8_lossy(r.take(length)?).to_string())
            }
        });
    }
    Ok(values)
}

fn integer(bytes: &[u8], unsigned: bool) -> Value {
    let mut wide = [0u8; 8];
    wide[..bytes.len()].copy_from_slice(bytes);
    if unsigned {
        return Value::UInt(u64::from_le_bytes(wide));
    }
    // Sign-extend from the parameter's width.
    let shift = 64 - 8 * bytes.len() as u32;
    Value::Int((i64::from_le_bytes(wide) << shift) >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_string_a_negative_int_and_a_null() {
        let mut body = vec![0x00, 1, 0, 0, 0]; // flags, iteration count
        body.push(0b0000_0100); // third parameter is NULL
        body.push(1); // new types follow
        body.extend_from_slice(&[
            ColumnType::MYSQL_TYPE_VAR_STRING as u8,
            0,
            ColumnType::MYSQL_TYPE_LONGLONG as u8,
            0,
        ]);
        body.extend_from_slice(&[ColumnType::MYSQL_TYPE_NULL as u8, 0]);
        body.extend_from_slice(&[5, b'D', b'O', b'I', b'N', b'G']);
        body.extend_from_slice(&(-3i64).to_le_bytes());
        let mut types = Vec::new();
        let values = decode(&body, 3, &mut types).expect("decodes");
        assert_eq!(
            values,
            [Value::Text("DOING".into()), Value::Int(-3), Value::Null]
        );
        assert_eq!(types.len(), 3, "types are remembered for later executions");
    }
}
