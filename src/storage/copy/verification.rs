//! How a copied object is known to hold the source's bytes: its size and digests, taken as it streams by — the
//! CRC32C an S3 server checks, and where the copy is read back the SHA-256, taken again from the copy; and the
//! pass that reads every copied object back to find what changed on the copy.

use super::{Copier, exists, hashing::Digests, transfer::stream};
use crate::storage::StorageError;
use futures::{StreamExt, TryStreamExt, stream};
use opendal::Operator;
use serde::{Deserialize, Serialize};

/// One copied object, as the manifest records it: its size and digests of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    pub size: u64,
    /// Its SHA-256 in hex, where one was taken: always where the copy was read back, not where the copy's
    /// server checked the write (the CRC32C it checked is recorded instead). Written even empty, so that an
    /// operator from before the CRC32C was recorded still reads the manifest (it copies such objects again).
    #[serde(default)]
    pub sha256: String,
    /// Its CRC32C in hex (the checksum an S3 server recomputes over each write); none in a manifest from
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// The source object's version when it was copied (its ETag, or its modification time where the
    /// storage has none): an object rewritten on the source since — an active archive piece's checkpoint
    /// file, at the same size — is copied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Copied {
    /// Whether both hold the same bytes (wherever they were copied from): the same size, the same value of
    /// every digest both have, and at least one digest in common.
    pub fn same_bytes(&self, other: &Copied) -> bool {
        let sha256 = (!self.sha256.is_empty() && !other.sha256.is_empty())
            .then(|| self.sha256 == other.sha256);
        let crc32c = self
            .crc32c
            .as_ref()
            .zip(other.crc32c.as_ref())
            .map(|(a, b)| a == b);
        self.size == other.size
            && (sha256.is_some() || crc32c.is_some())
            && sha256 != Some(false)
            && crc32c != Some(false)
    }
}

impl Copier<'_> {
    /// Reads every object the manifest records for `tree` back from the copy: the paths whose size or
    /// digests differ from the record's (or that are gone). Copying the tree again replaces exactly those.
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

/// The size, SHA-256 and CRC32C of `path` on `operator`, streamed.
pub async fn digest(operator: &Operator, path: &str) -> Result<Copied, StorageError> {
    let (size, digests) = stream(operator, path, None, Digests::all()).await?;
    digests.finish(size).await
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(sha256: &str, crc32c: Option<&str>) -> Copied {
        Copied {
            size: 10,
            sha256: sha256.into(),
            crc32c: crc32c.map(str::to_string),
            source: None,
        }
    }

    /// Two records hold the same bytes only when they share a digest and every digest they share agrees:
    /// a record of the CRC32C alone (a copy its server checked) is compared by it, one from before the
    /// CRC32C was recorded by its SHA-256, and two with nothing in common never match.
    #[test]
    fn records_match_on_every_digest_they_share_and_never_on_none() {
        let both = copied("aa", Some("0a"));
        assert!(both.same_bytes(&copied("aa", Some("0a"))));
        assert!(both.same_bytes(&copied("", Some("0a"))));
        assert!(both.same_bytes(&copied("aa", None)));
        assert!(
            !both.same_bytes(&copied("", Some("0b"))),
            "the CRC32C differs"
        );
        assert!(!both.same_bytes(&copied("ab", None)), "the SHA-256 differs");
        assert!(
            !both.same_bytes(&copied("ab", Some("0a"))),
            "one of two differs"
        );
        assert!(
            !copied("", Some("0a")).same_bytes(&copied("aa", None)),
            "nothing in common"
        );
        assert!(!copied("", None).same_bytes(&copied("", None)));
        let longer = Copied {
            size: 11,
            ..both.clone()
        };
        assert!(!both.same_bytes(&longer));
    }

    /// A record of the CRC32C alone is stored with an empty SHA-256, which an operator from before the
    /// CRC32C was recorded requires; a record from before reads back without a CRC32C.
    #[test]
    fn records_are_read_by_operators_from_before_and_after() {
        let stored = serde_json::to_value(copied("", Some("0a"))).expect("encoded");
        assert_eq!(stored["sha256"], "");
        assert_eq!(stored["crc32c"], "0a");
        let before: Copied = serde_json::from_str(r#"{"size":10,"sha256":"aa"}"#).expect("decoded");
        assert_eq!(before, copied("aa", None));
    }
}
