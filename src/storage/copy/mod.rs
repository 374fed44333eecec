//! Copying a tree of objects (a backup set's directory, an archive piece's) from one destination to another,
//! verified and resumable. Every object is streamed once from the source with its digests taken on the way
//! and written; then either the copy's server has checked the write itself ([`super::server_check`]: an S3
//! server that recomputes the CRC32C each write carries), or — a server that does not (OSS, COS, an S3
//! server that ignores the checksum) and a file system — the object is read back from the copy and its
//! SHA-256 taken again: a copy counts only when sizes and digests agree. What was copied is recorded in a
//! manifest on the second destination (outside OceanBase's tree, under `.obbackup/copies/`) with the digests
//! taken — the CRC32C the server checked, or the SHA-256 and CRC32C compared on the read-back — so a copy
//! interrupted by a restart goes on where it stopped, and a later verification pass can find an object that
//! changed on the copy. A tree's copy carries what OceanBase keeps for it at the destination's root
//! ([`super::layout`]): without the format file and the placeholders a restore lists, a copied set or piece
//! is not found.
//!
//! Here: the copy of a tree and of each object in it. Beside: what is listed ([`listing`]), how bytes go from
//! one destination to the other ([`transfer`]), the digests taken on the way ([`hashing`]), how a copy is
//! known to hold the bytes ([`verification`]), and the record of a tree's copy ([`manifest`]).

mod hashing;
mod listing;
mod manifest;
mod transfer;
mod verification;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, stream};
use opendal::Operator;

use super::{StorageError, layout::companions, server_check::WriteCheck};
use listing::{Held, Listed};
pub use manifest::{Manifest, delete_tree, manifest_path};
use manifest::{SAVE_EVERY, record};
pub use transfer::{Bandwidth, WRITE_PIECE};
pub(crate) use verification::hex;
pub use verification::{Copied, digest};

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects in the tree, and their bytes.
    pub objects: usize,
    pub bytes: u64,
    /// Objects (and bytes) written by this copy; the others were already there, verified.
    pub copied: usize,
    pub copied_bytes: u64,
    /// Objects a verification found damaged or lost on the copy (written again by this copy).
    pub damaged: usize,
}

/// How far a copy has got, updated as objects finish; read while the copy runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub total_objects: AtomicU64,
    pub total_bytes: AtomicU64,
    /// Objects (and bytes) the copy holds, verified: copied now or found already there.
    pub objects: AtomicU64,
    pub bytes: AtomicU64,
}

/// Copies from `from` to `to` (opened on the two destinations' roots), `concurrency` objects at a time.
pub struct Copier<'a> {
    from: &'a Operator,
    to: &'a Operator,
    concurrency: usize,
    progress: &'a Progress,
    limit: Option<&'a Bandwidth>,
    check: WriteCheck,
}

impl<'a> Copier<'a> {
    pub fn new(
        from: &'a Operator,
        to: &'a Operator,
        concurrency: usize,
        progress: &'a Progress,
    ) -> Self {
        Self {
            from,
            to,
            concurrency: concurrency.max(1),
            progress,
            limit: None,
            check: WriteCheck::ReadBack,
        }
    }

    /// Writes no faster than `limit`.
    pub fn limited_to(self, limit: Option<&'a Bandwidth>) -> Self {
        Self { limit, ..self }
    }

    /// Trusts the copy's server to check each write ([`WriteCheck::Server`]) instead of reading every object
    /// back.
    pub fn checked_by(self, check: WriteCheck) -> Self {
        Self { check, ..self }
    }
}

impl Copier<'_> {
    /// Copies every object under `tree` (a directory path under the source's root, e.g.
    /// `backup_set_1_full/`) that the copy does not hold yet, verified.
    pub async fn tree(&self, tree: &str) -> Result<Report, StorageError> {
        let data = self.list(tree).await?;
        if data.is_empty() {
            // Never a Completed copy of nothing: a set or piece directory not written yet (or not where it
            // was looked for) is waited for, and the status says where.
            return Err(StorageError::Io(format!(
                "the first destination holds no object under {tree}/ yet"
            )));
        }
        self.check_owner(tree).await?;
        let companions = self.list_companions(tree).await?;
        let mut report = Report {
            objects: data.len() + companions.len(),
            bytes: data.iter().chain(&companions).map(|o| o.size).sum(),
            ..Report::default()
        };
        self.progress
            .total_objects
            .store(report.objects as u64, Ordering::Relaxed);
        self.progress
            .total_bytes
            .store(report.bytes, Ordering::Relaxed);
        let mut manifest = self.manifest(tree).await?;
        // As a restore reads a destination: the data whole and verified first, then the format file and the
        // placeholders that make the set or piece visible, one at a time, its end placeholder last.
        let held = self.held(tree).await?;
        self.copy_all(
            tree,
            data,
            Some(&held),
            self.concurrency,
            &mut manifest,
            &mut report,
        )
        .await?;
        crate::crash::point("copy/placeholders/before");
        self.copy_all(tree, companions, None, 1, &mut manifest, &mut report)
            .await?;
        Ok(report)
    }

    /// Copies `objects`, `concurrency` at a time (one: in their order), recording each in `manifest`; what
    /// the copy already holds is looked up in `held` when given, else asked per object. Objects finish in
    /// any order: one slow object never keeps the others from starting, and the manifest is saved while
    /// the next objects are copied (one save at a time, each of a later state than the one before).
    async fn copy_all(
        &self,
        tree: &str,
        objects: Vec<Listed>,
        held: Option<&Held>,
        concurrency: usize,
        manifest: &mut Manifest,
        report: &mut Report,
    ) -> Result<(), StorageError> {
        let known = manifest.objects.clone();
        let done = stream::iter(objects)
            .map(|listed| {
                let recorded = known.get(&listed.path).cloned();
                async move {
                    let there = self.size_on_copy(&listed.path, held).await?;
                    let outcome = self.object(&listed, recorded, there).await?;
                    Ok::<_, StorageError>((listed.path, outcome))
                }
            })
            .buffer_unordered(concurrency);
        let path = manifest_path(tree);
        record(
            done,
            manifest,
            SAVE_EVERY,
            |bytes| {
                let path = path.clone();
                async move { self.store(&path, bytes).await }
            },
            |copied, wrote| {
                self.progress.objects.fetch_add(1, Ordering::Relaxed);
                self.progress
                    .bytes
                    .fetch_add(copied.size, Ordering::Relaxed);
                if wrote {
                    report.copied += 1;
                    report.copied_bytes += copied.size;
                }
            },
        )
        .await
    }

    /// Refuses a copy into a directory that holds another tenant's or cluster's backups: a format file there
    /// that is not the source's (OceanBase writes one per destination, naming its tenant and cluster), or
    /// the other kind's (archive logs where a set would go, or the reverse). Nothing is written then, and
    /// a format file is never overwritten.
    async fn check_owner(&self, tree: &str) -> Result<(), StorageError> {
        for format in companions(tree).files {
            let other = match format.strip_suffix("format.obbak") {
                Some(parent) => format!("{parent}format.obarc"),
                None => format.replace("format.obarc", "format.obbak"),
            };
            if exists(self.to, &other).await? {
                return Err(StorageError::Foreign(format!(
                    "the second destination holds {other} (another kind of backup) where {tree} would go: \
                     the copy writes nothing there; give the second copy a directory of its own"
                )));
            }
            if !exists(self.to, &format).await? || !exists(self.from, &format).await? {
                continue;
            }
            if !digest(self.to, &format)
                .await?
                .same_bytes(&digest(self.from, &format).await?)
            {
                return Err(StorageError::Foreign(format!(
                    "{format} on the second destination is another tenant's or cluster's (it differs from the \
                     first destination's): the copy of {tree} writes nothing there; give the second copy a \
                     directory of its own"
                )));
            }
        }
        Ok(())
    }

    /// Deletes `tree` and its manifest from the copy (never anything on the source).
    pub async fn delete(&self, tree: &str) -> Result<(), StorageError> {
        delete_tree(self.to, tree).await
    }

    /// One object: already copied (the manifest records this version of it and the copy has its size,
    /// or — a manifest lost in a restart — the copy holds the same bytes), or copied now and read back.
    /// Returns what the manifest should record and whether it was written.
    async fn object(
        &self,
        listed: &Listed,
        recorded: Option<Copied>,
        there: Option<u64>,
    ) -> Result<(Copied, bool), StorageError> {
        let (path, size) = (listed.path.as_str(), listed.size);
        let current = |r: &Copied| r.size == size && r.source == listed.version;
        if let Some(recorded) = recorded.filter(|r| current(r) && there == Some(size)) {
            return Ok((recorded, false));
        }
        let versioned = |copied: Copied| Copied {
            source: listed.version.clone(),
            ..copied
        };
        if there == Some(size) {
            let source = digest(self.from, path).await?;
            if digest(self.to, path).await?.same_bytes(&source) {
                return Ok((versioned(source), false));
            }
        }
        let written = self.write(path).await?;
        if self.check == WriteCheck::Server {
            // The server recomputed the body's checksum and would have refused the write on a mismatch.
            return Ok((versioned(written), true));
        }
        let read_back = digest(self.to, path).await?;
        if !read_back.same_bytes(&written) {
            return Err(StorageError::Mismatch(format!(
                "{path}: the copy read back has {} bytes (SHA-256 {}), the source {} bytes (SHA-256 {})",
                read_back.size, read_back.sha256, written.size, written.sha256
            )));
        }
        Ok((versioned(written), true))
    }
}

pub(super) async fn exists(operator: &Operator, path: &str) -> Result<bool, StorageError> {
    operator
        .exists(path)
        .await
        .map_err(|e| StorageError::io(&e))
}

/// `tree` as a directory path (`a/b/`).
pub(super) fn directory(tree: &str) -> String {
    format!("{}/", tree.trim_matches('/'))
}
