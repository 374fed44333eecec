//! How a dump's chunks are compressed: zstd (new dumps, unless asked otherwise), gzip (dumps of earlier
//! versions, and `compression: Gzip`) or not at all (`compression: None`). The plan records which, and a
//! chunk's name says it too (`.sql.zst`, `.sql.gz`, `.sql`), so that `zstdcat`, `zcat` or `mysql` loads it
//! without the operator.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

/// zstd's level for a dump's chunks. Level 1 compresses rows like a dump's to a little less than gzip's
/// fastest level gives, at about two and a half times its speed, and reads back many times as fast
/// (docs/contributing/benchmarks.md, "Logical dump throughput").
const ZSTD_LEVEL: i32 = 1;

/// A dump's compression, as its plan records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Compression {
    /// gzip (`.sql.gz`): every dump of an earlier version, whose plan names no compression.
    #[default]
    Gzip,
    /// zstd (`.sql.zst`).
    Zstd,
    /// Plain SQL (`.sql`): for storage that compresses by itself, or a dump that must cost the least CPU.
    None,
}

impl Compression {
    /// The end of a chunk's name: `.sql`, and the compressor's extension.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".sql.gz",
            Compression::Zstd => ".sql.zst",
            Compression::None => ".sql",
        }
    }

    /// A compressor whose output collects in memory, taken a piece at a time ([`Encoder::take`]); none
    /// without compression, where the SQL is stored as written.
    pub fn encoder(self) -> std::io::Result<Option<Encoder>> {
        Ok(match self {
            Compression::Gzip => Some(Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            ))),
            Compression::Zstd => Some(Encoder::Zstd(zstd::stream::write::Encoder::new(
                Vec::new(),
                ZSTD_LEVEL,
            )?)),
            Compression::None => None,
        })
    }

    /// The whole of `compressed`, decompressed into `plain` (emptied first: a buffer used before keeps its
    /// memory); `size` is the size expected (a hint: how much room to make first).
    pub fn decode(
        self,
        compressed: &[u8],
        size: usize,
        mut plain: Vec<u8>,
    ) -> std::io::Result<Vec<u8>> {
        plain.clear();
        // A damaged record cannot make the operator reserve more than a chunk's worth up front.
        plain.reserve(size.min(1 << 30));
        match self {
            Compression::Gzip => {
                flate2::read::GzDecoder::new(compressed).read_to_end(&mut plain)?;
            }
            Compression::Zstd => {
                zstd::stream::read::Decoder::with_buffer(compressed)?.read_to_end(&mut plain)?;
            }
            Compression::None => plain.extend_from_slice(compressed),
        }
        Ok(plain)
    }
}

/// A chunk's compressor.
pub enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    pub fn write_all(&mut self, sql: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(gzip) => gzip.write_all(sql),
            Encoder::Zstd(zstd) => zstd.write_all(sql),
        }
    }

    /// Ends the stream: what [`Encoder::take`] gives next is the rest of it.
    pub fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(gzip) => gzip.try_finish(),
            Encoder::Zstd(zstd) => zstd.do_finish(),
        }
    }

    /// The compressed bytes produced since the last call.
    pub fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Gzip(gzip) => std::mem::take(gzip.get_mut()),
            Encoder::Zstd(zstd) => std::mem::take(zstd.get_mut()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows like a dump's: hex text, numbers, one statement a line.
    fn sql() -> Vec<u8> {
        let mut sql = Vec::new();
        for i in 0..20_000u64 {
            sql.extend_from_slice(
                format!(
                    "INSERT INTO `t` VALUES ({i},'{:032x}','2026-01-01 00:00:00.{:06}');\n",
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                    i % 1_000_000
                )
                .as_bytes(),
            );
        }
        sql
    }

    /// `sql` through `compression`'s encoder in pieces, as a chunk is written.
    fn encode(compression: Compression, sql: &[u8]) -> Vec<u8> {
        let Some(mut encoder) = compression.encoder().expect("encoder") else {
            return sql.to_vec();
        };
        let mut out = Vec::new();
        for piece in sql.chunks(100_000) {
            encoder.write_all(piece).expect("write");
            out.extend(encoder.take());
        }
        encoder.finish().expect("finish");
        out.extend(encoder.take());
        out
    }

    #[test]
    fn a_chunk_written_in_pieces_reads_back_whole_in_either_format() {
        let sql = sql();
        for compression in [Compression::Gzip, Compression::Zstd] {
            let stored = encode(compression, &sql);
            assert!(stored.len() < sql.len() / 2, "{compression:?} compresses");
            assert_eq!(
                compression
                    .decode(&stored, sql.len(), Vec::new())
                    .expect("decodes"),
                sql
            );
        }
        // Plain: the SQL itself, stored as written, with no encoder to copy it through.
        assert!(Compression::None.encoder().expect("none").is_none());
        assert_eq!(
            Compression::None
                .decode(&sql, sql.len(), b"left over".to_vec())
                .expect("plain"),
            sql
        );
        // Each as its standard tool writes it: gzip's and zstd's magic numbers.
        assert_eq!(encode(Compression::Gzip, &sql)[..2], [0x1f, 0x8b]);
        assert_eq!(
            encode(Compression::Zstd, &sql)[..4],
            [0x28, 0xb5, 0x2f, 0xfd]
        );
    }

    #[test]
    fn a_chunk_read_with_the_wrong_decoder_or_cut_short_is_an_error() {
        let sql = sql();
        let zstd = encode(Compression::Zstd, &sql);
        assert!(
            Compression::Gzip
                .decode(&zstd, sql.len(), Vec::new())
                .is_err()
        );
        assert!(
            Compression::Zstd
                .decode(&zstd[..zstd.len() / 2], sql.len(), Vec::new())
                .is_err()
        );
    }

    #[test]
    fn a_plan_without_a_compression_is_an_earlier_versions_gzip() {
        #[derive(Deserialize)]
        struct Recorded {
            #[serde(default)]
            compression: Compression,
        }
        let old: Recorded = serde_json::from_str("{}").expect("old plan");
        assert_eq!(old.compression, Compression::Gzip);
        let new: Recorded = serde_json::from_str(r#"{"compression":"zstd"}"#).expect("new");
        assert_eq!(new.compression, Compression::Zstd);
        assert_eq!(Compression::Zstd.suffix(), ".sql.zst");
        let plain: Recorded = serde_json::from_str(r#"{"compression":"none"}"#).expect("plain");
        assert_eq!(plain.compression, Compression::None);
        assert_eq!(Compression::None.suffix(), ".sql");
    }
}
