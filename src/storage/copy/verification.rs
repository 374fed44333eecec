//! How a copied object is known to hold the source's bytes: its size and SHA-256, taken as it streams by and
//! again from the copy where the copy's server does not check writes itself; and the pass that reads every
//! copied object back to find what changed on the copy.

use futures::{StreamExt, TryStreamExt, stream};
use opendal::Operator;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Copier, exists, transfer::stream};
use crate::storage::StorageError;

/// One copied object, as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    pub size: u64,
    pub sha256: String,
    /// The source object's version when it was copied (its ETag, or its modification time where the
    /// storage has none): an object rewritten on the source since — an active archive piece's checkpoint
    /// file, at the same size — is copied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Copied {
    /// Whether both hold the same bytes (wherever they were copied from).
    pub fn same_bytes(&self, other: &Copied) -> bool {
        self.size == other.size && self.sha256 == other.sha256
    }
}

impl Copier<'_> {
    /// Reads every object the manifest records for `tree` back from the copy: the paths whose size or
    /// SHA-256 differ (or that are gone). Copying the tree again replaces exactly those.
    pub async fn verify(&self, tree: &str) -> Result<Vec<String>, StorageError> {
        let manifest = self.manifest(tree).await?;
        let mut bad: Vec<String> = stream::iter(manifest.objects)
            .map(|(path, recorded)| async move {
                let seen = match digest(self.to, &path).await {
                    Ok(seen) => Some(seen),
                    Err(StorageError::Io(_)) if !exists(self.to, &path).await? => None,
                    Err(other) => return Err(other),
                };
                let intact = seen.is_some_and(|seen| seen.same_bytes(&recorded));
                Ok((!intact).then_some(path))
            })
            .buffer_unordered(self.concurrency)
            .try_filter_map(|bad| async move { Ok(bad) })
            .try_collect()
            .await?;
        if !bad.is_empty() {
            // Forget them, so that the next copy writes them again.
            let mut manifest = self.manifest(tree).await?;
            for path in &bad {
                manifest.objects.remove(path);
            }
            self.save(tree, &manifest).await?;
        }
        bad.sort();
        Ok(bad)
    }
}

/// The size and SHA-256 of `path` on `operator`, streamed.
pub async fn digest(operator: &Operator, path: &str) -> Result<Copied, StorageError> {
    let (size, hash) = stream(operator, path, None).await?;
    Ok(Copied {
        size,
        sha256: hash.finish().await?,
        source: None,
    })
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash taken a piece at a time on other threads is the SHA-256 of every byte, in order, whatever
    /// the chunks the bytes came in.
    #[tokio::test]
    async fn a_hash_taken_in_pieces_is_the_hash_of_every_byte_in_order() {
        let bytes: Vec<u8> = (0..(3 * HASH_PIECE + 1000))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        for sizes in [
            vec![bytes.len()],
            vec![0, 1, HASH_PIECE - 1, HASH_PIECE, 5, HASH_PIECE + 3],
            vec![4096; bytes.len() / 4096 + 1],
            vec![HASH_PIECE * 3, 1, 999],
        ] {
            let mut hash = StreamHash::default();
            let mut start = 0;
            for size in sizes {
                let end = (start + size).min(bytes.len());
                hash.update(bytes::Bytes::copy_from_slice(&bytes[start..end]))
                    .await
                    .expect("hashed");
                start = end;
            }
            hash.update(bytes::Bytes::copy_from_slice(&bytes[start..]))
                .await
                .expect("hashed");
            assert_eq!(
                hash.finish().await.expect("finished"),
                hex(&Sha256::digest(&bytes))
            );
        }
        assert_eq!(
            StreamHash::default().finish().await.expect("empty"),
            hex(&Sha256::digest(b""))
        );
    }
}
