//! Digests of an object's bytes as they stream by: its CRC32C always, taken in place (it runs at memory
//! speed), and where asked its SHA-256, taken a piece at a time on tokio's blocking threads.

use sha2::{Digest, Sha256};

use super::{Copied, hex};
use crate::storage::StorageError;

/// The digests taken of a stream of bytes.
pub(super) struct Digests {
    crc32c: crc_fast::Digest,
    sha256: Option<StreamHash>,
}

impl Digests {
    /// The CRC32C and the SHA-256.
    pub(super) fn all() -> Self {
        Self {
            crc32c: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi),
            sha256: Some(StreamHash::default()),
        }
    }

    /// The CRC32C alone: what a server that checks writes checked.
    pub(super) fn crc32c() -> Self {
        Self {
            sha256: None,
            ..Self::all()
        }
    }

    pub(super) async fn update(&mut self, chunk: bytes::Bytes) -> Result<(), StorageError> {
        self.crc32c.update(&chunk);
        match self.sha256.as_mut() {
            Some(sha256) => sha256.update(chunk).await,
            None => Ok(()),
        }
    }

    /// What the manifest records of the `size` bytes given (the SHA-256 empty where none was taken).
    pub(super) async fn finish(self, size: u64) -> Result<Copied, StorageError> {
        let sha256 = match self.sha256 {
            Some(sha256) => sha256.finish().await?,
            None => String::new(),
        };
        Ok(Copied {
            size,
            sha256,
            crc32c: Some(format!("{:08x}", self.crc32c.finalize())),
            source: None,
        })
    }
}

/// Bytes gathered before they are hashed on a thread of their own.
pub(super) const HASH_PIECE: usize = 256 << 10;

/// The SHA-256 of bytes as they stream by, taken [`HASH_PIECE`] or more at a time on tokio's blocking
/// threads: hashing a piece overlaps reading the next one and writing it (for the last piece, closing the
/// copy's writer), and never holds an async worker for the millisecond a MiB takes. The pieces are hashed one
/// after the other, in their order; what is left under a piece at the end is hashed in place.
pub(super) struct StreamHash {
    state: Hashing,
    pending: Vec<bytes::Bytes>,
    pending_bytes: usize,
}

enum Hashing {
    Ready(Sha256),
    Busy(tokio::task::JoinHandle<Sha256>),
    /// A piece's thread was lost (the runtime shutting down): the hash cannot be finished.
    Lost,
}

impl Default for StreamHash {
    fn default() -> Self {
        Self {
            state: Hashing::Ready(Sha256::new()),
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }
}

impl StreamHash {
    pub(super) async fn update(&mut self, chunk: bytes::Bytes) -> Result<(), StorageError> {
        self.pending_bytes += chunk.len();
        self.pending.push(chunk);
        if self.pending_bytes >= HASH_PIECE {
            let mut hasher = self.hasher().await?;
            let piece = std::mem::take(&mut self.pending);
            self.pending_bytes = 0;
            self.state = Hashing::Busy(tokio::task::spawn_blocking(move || {
                for bytes in &piece {
                    hasher.update(bytes);
                }
                hasher
            }));
        }
        Ok(())
    }

    /// The hasher once every piece handed to a thread is in it.
    async fn hasher(&mut self) -> Result<Sha256, StorageError> {
        match std::mem::replace(&mut self.state, Hashing::Lost) {
            Hashing::Ready(hasher) => Ok(hasher),
            Hashing::Busy(piece) => piece
                .await
                .map_err(|e| StorageError::Io(format!("hashing a copied object: {e}"))),
            Hashing::Lost => Err(StorageError::Io(
                "hashing a copied object: a piece was lost".into(),
            )),
        }
    }

    /// The SHA-256 of every byte given, in hex.
    pub(super) async fn finish(mut self) -> Result<String, StorageError> {
        let mut hasher = self.hasher().await?;
        for bytes in &self.pending {
            hasher.update(bytes);
        }
        Ok(hex(&hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests taken as bytes stream by, the SHA-256 a piece at a time on other threads, are those of
    /// every byte, in order, whatever the chunks the bytes came in; the CRC32C alone leaves the SHA-256 out.
    #[tokio::test]
    async fn digests_taken_in_pieces_are_those_of_every_byte_in_order() {
        let bytes: Vec<u8> = (0..(3 * HASH_PIECE + 1000))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let crc32c = format!(
            "{:08x}",
            crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &bytes)
        );
        for sizes in [
            vec![bytes.len()],
            vec![0, 1, HASH_PIECE - 1, HASH_PIECE, 5, HASH_PIECE + 3],
            vec![4096; bytes.len() / 4096 + 1],
            vec![HASH_PIECE * 3, 1, 999],
        ] {
            for (mut digests, sha256) in [
                (Digests::all(), hex(&Sha256::digest(&bytes))),
                (Digests::crc32c(), String::new()),
            ] {
                let mut start = 0;
                for size in &sizes {
                    let end = (start + size).min(bytes.len());
                    digests
                        .update(bytes::Bytes::copy_from_slice(&bytes[start..end]))
                        .await
                        .expect("hashed");
                    start = end;
                }
                digests
                    .update(bytes::Bytes::copy_from_slice(&bytes[start..]))
                    .await
                    .expect("hashed");
                let size = bytes.len() as u64;
                let copied = digests.finish(size).await.expect("finished");
                assert_eq!((copied.size, &copied.sha256), (size, &sha256));
                assert_eq!(copied.crc32c.as_deref(), Some(crc32c.as_str()));
            }
        }
        let empty = Digests::all().finish(0).await.expect("empty");
        assert_eq!(empty.sha256, hex(&Sha256::digest(b"")));
        assert_eq!(empty.crc32c.as_deref(), Some("00000000"));
    }

    /// The CRC32C is the one S3 computes (Castagnoli's), by its check value.
    #[tokio::test]
    async fn the_crc32c_is_castagnolis() {
        let mut digests = Digests::crc32c();
        digests
            .update(bytes::Bytes::from_static(b"123456789"))
            .await
            .expect("hashed");
        let copied = digests.finish(9).await.expect("finished");
        assert_eq!(copied.crc32c.as_deref(), Some("e3069283"));
    }
}
