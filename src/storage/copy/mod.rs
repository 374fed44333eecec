//! Copying a tree of objects (a backup set's directory, an archive piece's) from one destination to another,
//! verified and resumable. Every object is streamed once from the source with its SHA-256 taken on the way and
//! written; then either the copy's server has checked the write itself ([`super::server_check`]) or the
//! object is read back from the copy and hashed again: a copy counts only when both hashes and sizes agree.
//! What was copied is recorded in a manifest on the second destination (outside OceanBase's tree, under
//! `.obbackup/copies/`), so a copy interrupted by a restart goes on where it stopped, and a later
//! verification pass can find an object that changed on the copy. A tree's copy carries what OceanBase
//! keeps for it at the destination's root ([`super::layout`]): without the format file and the placeholders a
//! restore lists, a copied set or piece is not found.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
};

use futures::{StreamExt, TryStreamExt, stream};
use opendal::{ErrorKind, Operator, Writer};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    StorageError,
    layout::{companions, listed_under},
    server_check::WriteCheck,
};

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

/// An object on the source: its path, size and version.
struct Listed {
    path: String,
    size: u64,
    version: Option<String>,
}

/// What a copy holds under a tree: each object's size where its listing gave one.
type Held = std::collections::HashMap<String, Option<u64>>;

/// The record of one tree's copy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every object copied and verified, by its path under the destination's root.
    pub objects: BTreeMap<String, Copied>,
}

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

/// The most bytes handed to a writer at once.
pub const WRITE_PIECE: usize = 1 << 20;

/// Most bytes per second a copy writes, shared by the objects it copies at once. It meters the bytes
/// handed to the writer, not the store's requests: an S3 writer gathers them into requests of several
/// MiB, and a limit on requests refused every object larger than one second of it.
pub struct Bandwidth {
    limiter: governor::DefaultDirectRateLimiter,
    /// The most bytes taken at once: a second's worth, at most [`WRITE_PIECE`].
    piece: usize,
}

impl Bandwidth {
    /// A limit of `bytes` per second; none for 0 or for more than a 32-bit count of bytes (4 GiB/s,
    /// beyond what one copy moves).
    pub fn per_second(bytes: u64) -> Option<Self> {
        let rate = std::num::NonZeroU32::new(u32::try_from(bytes).ok()?)?;
        let piece = usize::try_from(rate.get()).map_or(WRITE_PIECE, |r| r.min(WRITE_PIECE));
        let burst = std::num::NonZeroU32::new(u32::try_from(piece).ok()?)?;
        let quota = governor::Quota::per_second(rate).allow_burst(burst);
        Some(Self {
            limiter: governor::RateLimiter::direct(quota),
            piece,
        })
    }

    /// Waits until `bytes` (at most one piece) may be written.
    async fn take(&self, bytes: usize) {
        let Some(n) = u32::try_from(bytes.min(self.piece))
            .ok()
            .and_then(std::num::NonZeroU32::new)
        else {
            return;
        };
        // Never more than the burst: a piece is at most the burst by construction.
        let _ = self.limiter.until_n_ready(n).await;
    }
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

/// Record progress in the manifest after this many objects, so that a restart repeats little.
const SAVE_EVERY: usize = 16;

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

    /// Streams `path` from the source to the copy, hashing what goes through: the last bytes are hashed
    /// while the writer closes (an S3 writer sends its request then).
    async fn write(&self, path: &str) -> Result<Copied, StorageError> {
        let mut writer = self
            .to
            .writer(path)
            .await
            .map_err(|e| StorageError::io(&e))?;
        let sink = Sink {
            writer: &mut writer,
            limit: self.limit,
        };
        let (size, hash) = stream(self.from, path, Some(sink)).await?;
        let (closed, sha256) = futures::join!(writer.close(), hash.finish());
        closed.map_err(|e| StorageError::io(&e))?;
        Ok(Copied {
            size,
            sha256: sha256?,
            source: None,
        })
    }

    /// Every object under `tree` on the source, with its size and version, in path order.
    async fn list(&self, tree: &str) -> Result<Vec<Listed>, StorageError> {
        let entries = self
            .from
            .list_with(&directory(tree))
            .recursive(true)
            .await
            .map_err(|e| StorageError::io(&e))?;
        let mut objects = Vec::new();
        for entry in entries.iter().filter(|e| e.metadata().is_file()) {
            objects.push(self.listed(entry.path(), Some(entry.metadata())).await?);
        }
        objects.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(objects)
    }

    /// The source's objects at the root that belong to `tree` ([`companions`]), those that exist, in the
    /// order they are copied: the format file, the shared placeholders, the tree's own (its end last).
    async fn list_companions(&self, tree: &str) -> Result<Vec<Listed>, StorageError> {
        let companions = companions(tree);
        let mut objects = Vec::new();
        for path in &companions.files {
            match self.listed(path, None).await {
                Ok(listed) => objects.push(listed),
                Err(_) if !exists(self.from, path).await? => {}
                Err(other) => return Err(other),
            }
        }
        let mut paths = listed_under(self.from, &companions.shared).await?;
        let mut own = listed_under(self.from, &companions.own).await?;
        // A start placeholder before an end one: the end says the set or piece is whole.
        own.sort_by_key(|path| (path.contains("_end"), path.clone()));
        paths.extend(own);
        for path in &paths {
            objects.push(self.listed(path, None).await?);
        }
        Ok(objects)
    }

    /// `path` on the source with its size and version: as listed, or from a stat where a listing lacks
    /// them (a file system lists names only).
    async fn listed(
        &self,
        path: &str,
        listed: Option<&opendal::Metadata>,
    ) -> Result<Listed, StorageError> {
        let stat;
        let meta = match listed {
            Some(meta) if meta.content_length() > 0 && version(meta).is_some() => meta,
            _ => {
                stat = self
                    .from
                    .stat(path)
                    .await
                    .map_err(|e| StorageError::io(&e))?;
                &stat
            }
        };
        Ok(Listed {
            size: meta.content_length(),
            version: version(meta),
            path: path.to_string(),
        })
    }

    /// What the copy holds under `tree`, from one listing (a store lists a thousand objects a request)
    /// instead of a request per object: each object's size, `None` where the listing does not give it.
    async fn held(&self, tree: &str) -> Result<Held, StorageError> {
        let entries = match self.to.list_with(&directory(tree)).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Held::new()),
            Err(e) => return Err(StorageError::io(&e)),
        };
        Ok(entries
            .iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| {
                let size = e.metadata().content_length();
                (e.path().to_string(), (size > 0).then_some(size))
            })
            .collect())
    }

    /// The size of `path` on the copy, `None` when it has none: from `held` where it says, else asked.
    async fn size_on_copy(
        &self,
        path: &str,
        held: Option<&Held>,
    ) -> Result<Option<u64>, StorageError> {
        match held.map(|h| h.get(path)) {
            Some(None) => return Ok(None),
            Some(Some(Some(size))) => return Ok(Some(*size)),
            Some(Some(None)) | None => {}
        }
        match self.to.stat(path).await {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(&e)),
        }
    }

    async fn manifest(&self, tree: &str) -> Result<Manifest, StorageError> {
        match self.to.read(&manifest_path(tree)).await {
            Ok(bytes) => serde_json::from_slice(&bytes.to_vec()).map_err(|e| {
                StorageError::Io(format!("the copy's manifest of {tree} is unreadable: {e}"))
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(StorageError::io(&e)),
        }
    }

    async fn save(&self, tree: &str, manifest: &Manifest) -> Result<(), StorageError> {
        self.store(&manifest_path(tree), encode(manifest)?).await
    }

    /// Writes an encoded manifest to `path` on the copy.
    async fn store(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.to
            .write(path, bytes)
            .await
            .map(|_| ())
            .map_err(|e| StorageError::io(&e))
    }
}

/// A manifest as it is stored.
fn encode(manifest: &Manifest) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(manifest)
        .map_err(|e| StorageError::Io(format!("encoding a copy's manifest: {e}")))
}

/// Records in `manifest` each object `done` yields (its path, what was verified and whether it was written
/// now), telling `counted` of each, and saves the manifest through `store` after every `every` changes and
/// at the end. A save runs while `done` goes on, so the copies in flight never wait for it; saves never
/// overlap, and each stores a later state of the manifest than the one before, which holds only objects
/// already verified. On an error the save in flight is finished first (a file system would otherwise keep
/// half a manifest), and the error returned.
async fn record<S, W, F>(
    done: S,
    manifest: &mut Manifest,
    every: usize,
    store: W,
    mut counted: impl FnMut(&Copied, bool),
) -> Result<(), StorageError>
where
    S: futures::Stream<Item = Result<(String, (Copied, bool)), StorageError>>,
    W: Fn(Vec<u8>) -> F,
    F: std::future::Future<Output = Result<(), StorageError>>,
{
    use futures::future::{Either, select};
    let mut done = std::pin::pin!(done);
    let mut saving = None;
    let mut unsaved = 0;
    loop {
        let next = match saving.as_mut() {
            None => done.next().await,
            Some(save) => match select(save, done.next()).await {
                Either::Left((saved, _)) => {
                    saving = None;
                    saved?;
                    if unsaved >= every {
                        saving = Some(Box::pin(store(encode(manifest)?)));
                        unsaved = 0;
                    }
                    continue;
                }
                Either::Right((next, _)) => next,
            },
        };
        let Some(result) = next else { break };
        let (path, (copied, wrote)) = match result {
            Ok(outcome) => outcome,
            Err(error) => {
                if let Some(save) = saving {
                    let _ = save.await;
                }
                return Err(error);
            }
        };
        counted(&copied, wrote);
        if manifest.objects.insert(path, copied.clone()) != Some(copied) {
            unsaved += 1;
        }
        if unsaved >= every && saving.is_none() {
            saving = Some(Box::pin(store(encode(manifest)?)));
            unsaved = 0;
        }
    }
    if let Some(save) = saving {
        save.await?;
    }
    if unsaved > 0 {
        store(encode(manifest)?).await?;
    }
    Ok(())
}

/// An object's version as its storage tells it: the ETag, else the modification time.
fn version(meta: &opendal::Metadata) -> Option<String> {
    meta.etag()
        .map(str::to_string)
        .or_else(|| meta.last_modified().map(|t| t.to_string()))
}

/// Deletes `tree`'s own placeholders, then the tree, then its manifest from `copy` (a second destination) —
/// never the destination's format file nor a round's placeholders, which other trees need; a tree already
/// gone is no error, so a delete cut short is simply done again. The placeholders go first, so that a
/// restore listing the copy meanwhile never finds a set or piece whose data is half gone. Only a tree this
/// operator copied there (its manifest says so) is deleted: a directory of the same name that someone
/// else keeps at that place is left alone.
pub async fn delete_tree(copy: &Operator, tree: &str) -> Result<(), StorageError> {
    if !exists(copy, &manifest_path(tree)).await? {
        return Ok(());
    }
    for path in listed_under(copy, &companions(tree).own).await? {
        match copy.delete(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(StorageError::io(&e)),
        }
    }
    copy.delete_with(&directory(tree))
        .recursive(true)
        .await
        .map_err(|e| StorageError::io(&e))?;
    match copy.delete(&manifest_path(tree)).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(&e)),
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

/// Where a copied object's bytes go: a writer, no faster than a limit if there is one.
struct Sink<'w> {
    writer: &'w mut Writer,
    limit: Option<&'w Bandwidth>,
}

impl Sink<'_> {
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), StorageError> {
        let piece = self.limit.map_or(WRITE_PIECE, |l| l.piece);
        let mut start = 0;
        while start < chunk.len() {
            let end = (start + piece).min(chunk.len());
            if let Some(limit) = self.limit {
                limit.take(end - start).await;
            }
            self.writer
                .write(chunk.slice(start..end))
                .await
                .map_err(|e| StorageError::io(&e))?;
            start = end;
        }
        Ok(())
    }
}

/// Streams `path` from `operator`, hashing on the way, into `sink` if there is one; returns its size and
/// its hash, whose last piece may still be being taken.
async fn stream(
    operator: &Operator,
    path: &str,
    mut sink: Option<Sink<'_>>,
) -> Result<(u64, StreamHash), StorageError> {
    let reader = match operator.info().scheme() {
        // A file is read in pieces sized to what is left of it (its size asked first): its reader would
        // otherwise fill a fresh 2 MiB buffer with zeros for each read, the one that finds its end too.
        "fs" => operator.reader_with(path).chunk(FILE_READ_PIECE).await,
        _ => operator.reader(path).await,
    }
    .map_err(|e| StorageError::io(&e))?;
    let mut chunks = reader
        .into_bytes_stream(..)
        .await
        .map_err(|e| StorageError::io(&e))?;
    let mut hash = StreamHash::default();
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| StorageError::Io(format!("reading {path}: {e}")))?;
        size += chunk.len() as u64;
        hash.update(chunk.clone()).await?;
        if let Some(sink) = sink.as_mut() {
            sink.write(chunk).await?;
        }
    }
    Ok((size, hash))
}

/// The most bytes read from a file at once.
const FILE_READ_PIECE: usize = 4 << 20;

/// Bytes gathered before they are hashed on a thread of their own.
const HASH_PIECE: usize = 256 << 10;

/// The SHA-256 of bytes as they stream by, taken [`HASH_PIECE`] or more at a time on tokio's blocking
/// threads: hashing a piece overlaps reading the next one and writing it (for the last piece, closing the
/// copy's writer), and never holds an async worker for the millisecond a MiB takes. The pieces are hashed one
/// after the other, in their order; what is left under a piece at the end is hashed in place.
struct StreamHash {
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
    async fn update(&mut self, chunk: bytes::Bytes) -> Result<(), StorageError> {
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
    async fn finish(mut self) -> Result<String, StorageError> {
        let mut hasher = self.hasher().await?;
        for bytes in &self.pending {
            hasher.update(bytes);
        }
        Ok(hex(&hasher.finalize()))
    }
}

async fn exists(operator: &Operator, path: &str) -> Result<bool, StorageError> {
    operator
        .exists(path)
        .await
        .map_err(|e| StorageError::io(&e))
}

/// `tree` as a directory path (`a/b/`).
fn directory(tree: &str) -> String {
    format!("{}/", tree.trim_matches('/'))
}

/// Where the manifest of `tree` lives on the copy: beside OceanBase's tree, never inside it.
pub fn manifest_path(tree: &str) -> String {
    format!(
        ".obbackup/copies/{}.json",
        tree.trim_matches('/').replace('/', "~")
    )
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use opendal::services::Memory;

    use super::*;

    fn memory() -> Operator {
        Operator::new(Memory::default()).expect("memory")
    }

    /// A source with a small set directory: three objects, one of them large enough to span chunks.
    async fn source() -> Operator {
        let op = memory();
        for (path, bytes) in [
            (
                "backup_set_1_full/meta_info/tenant_backup_set_infos",
                vec![1u8; 100],
            ),
            (
                "backup_set_1_full/logstream_1/major_data/macro_block_data.0",
                vec![7u8; 300_000],
            ),
            (
                "backup_set_1_full/single_backup_set_info",
                b"set 1".to_vec(),
            ),
            ("backup_set_2_inc/single_backup_set_info", b"set 2".to_vec()),
        ] {
            op.write(path, bytes).await.expect("write");
        }
        op
    }

    #[tokio::test]
    async fn a_tree_is_copied_whole_and_verified_and_nothing_else_is() {
        let (from, to) = (source().await, memory());
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        let report = copier.tree("backup_set_1_full").await.expect("copy");
        assert_eq!((report.objects, report.copied), (3, 3));
        assert_eq!(report.copied_bytes, 100 + 300_000 + 5);
        assert_eq!(
            (
                progress.objects.load(Ordering::Relaxed),
                progress.bytes.load(Ordering::Relaxed),
                progress.total_bytes.load(Ordering::Relaxed)
            ),
            (3, report.bytes, report.bytes)
        );
        for path in [
            "backup_set_1_full/meta_info/tenant_backup_set_infos",
            "backup_set_1_full/logstream_1/major_data/macro_block_data.0",
            "backup_set_1_full/single_backup_set_info",
        ] {
            assert_eq!(
                digest(&to, path).await.expect("copy"),
                digest(&from, path).await.expect("source")
            );
        }
        assert!(
            !to.exists("backup_set_2_inc/single_backup_set_info")
                .await
                .expect("stat")
        );
        assert!(
            copier
                .verify("backup_set_1_full")
                .await
                .expect("verify")
                .is_empty()
        );
    }

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

    /// A file is read in pieces sized to what is left of it: files of every size, empty and larger than a
    /// piece, are copied whole.
    #[tokio::test]
    async fn files_of_every_size_are_read_and_copied_whole() {
        let root = std::env::temp_dir().join(format!("obbackup-copy-sizes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let from = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        let to = memory();
        let sizes = [
            0,
            1,
            4096,
            FILE_READ_PIECE,
            FILE_READ_PIECE + 1,
            2 * FILE_READ_PIECE + 3,
        ];
        for (i, size) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*size).map(|j| ((i + j) % 253) as u8).collect();
            let path = format!("backup_set_1_full/data/{i}");
            from.write(&path, bytes.clone()).await.expect("write");
            let read = digest(&from, &path).await.expect("digest");
            assert_eq!(
                (read.size, read.sha256),
                (*size as u64, hex(&Sha256::digest(&bytes))),
                "{size} bytes"
            );
        }
        let progress = Progress::default();
        let report = Copier::new(&from, &to, 2, &progress)
            .tree("backup_set_1_full")
            .await
            .expect("copy");
        assert_eq!(report.copied, sizes.len());
        for i in 0..sizes.len() {
            let path = format!("backup_set_1_full/data/{i}");
            assert_eq!(
                digest(&to, &path).await.expect("copy"),
                digest(&from, &path).await.expect("source"),
                "{path}"
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    /// One slow object keeps no other from being copied: the others start, finish and count while it
    /// is still on its way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_object_keeps_no_other_from_being_copied() {
        let (from, to) = (memory(), memory());
        // In path order the large object comes first.
        let large = "backup_set_1_full/a_large";
        from.write(large, vec![9u8; 48 << 20]).await.expect("write");
        let small = 12;
        for i in 0..small {
            from.write(
                &format!("backup_set_1_full/b_small_{i:02}"),
                vec![i as u8; 100],
            )
            .await
            .expect("write");
        }
        let progress = std::sync::Arc::new(Progress::default());
        let copying = tokio::spawn({
            let (from, to, progress) = (from.clone(), to.clone(), progress.clone());
            async move {
                Copier::new(&from, &to, 2, &progress)
                    .tree("backup_set_1_full")
                    .await
            }
        });
        let mut small_done_before_large = false;
        while !copying.is_finished() {
            let bytes = progress.bytes.load(Ordering::Relaxed);
            let counted = progress.objects.load(Ordering::Relaxed);
            if counted == small && bytes == small * 100 {
                small_done_before_large = true;
            }
            tokio::task::yield_now().await;
        }
        let report = copying.await.expect("joined").expect("copied");
        assert_eq!(report.copied, small as usize + 1);
        assert!(
            small_done_before_large,
            "every small object was copied and counted while the large one was on its way"
        );
    }

    fn outcome(path: &str) -> Result<(String, (Copied, bool)), StorageError> {
        Ok((
            path.to_string(),
            (
                Copied {
                    size: 1,
                    sha256: path.to_string(),
                    source: None,
                },
                true,
            ),
        ))
    }

    /// The manifest is saved while the copy goes on: objects keep being recorded during a save; saves
    /// never overlap, each stores a later manifest than the one before, and the last holds every object.
    #[tokio::test]
    async fn objects_are_recorded_while_the_manifest_is_saved() {
        let (objects, finished) = futures::channel::mpsc::unbounded();
        let saves = std::sync::Mutex::new(Vec::<Manifest>::new());
        let release = tokio::sync::Semaphore::new(0);
        let saving = std::sync::atomic::AtomicBool::new(false);
        let counted = AtomicU64::new(0);
        let mut manifest = Manifest::default();
        let store = |bytes: Vec<u8>| {
            let (saves, release, saving) = (&saves, &release, &saving);
            async move {
                assert!(!saving.swap(true, Ordering::SeqCst), "saves overlap");
                release.acquire().await.expect("open").forget();
                let stored: Manifest = serde_json::from_slice(&bytes).expect("a manifest");
                saves.lock().expect("saves").push(stored);
                saving.store(false, Ordering::SeqCst);
                Ok(())
            }
        };
        let recording = record(finished, &mut manifest, 4, store, |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        let feeding = async {
            for i in 0..4 {
                objects
                    .unbounded_send(outcome(&format!("a/{i}")))
                    .expect("sent");
            }
            // The first save now waits; the copy goes on meanwhile.
            for i in 4..10 {
                objects
                    .unbounded_send(outcome(&format!("a/{i}")))
                    .expect("sent");
            }
            while counted.load(Ordering::SeqCst) < 10 {
                tokio::task::yield_now().await;
            }
            assert!(
                saving.load(Ordering::SeqCst),
                "the first save is still under way"
            );
            assert!(saves.lock().expect("saves").is_empty());
            release.add_permits(1);
            objects.close_channel();
            release.add_permits(10);
        };
        let (recorded, ()) = futures::join!(recording, feeding);
        recorded.expect("recorded");
        let saves = saves.into_inner().expect("saves");
        assert_eq!(
            saves[0].objects.len(),
            4,
            "the first save holds what was done when it began"
        );
        for pair in saves.windows(2) {
            assert!(
                pair[0]
                    .objects
                    .keys()
                    .all(|k| pair[1].objects.contains_key(k))
            );
            assert!(pair[1].objects.len() > pair[0].objects.len());
        }
        assert_eq!(saves.last().map(|m| m.objects.len()), Some(10));
        assert_eq!(manifest.objects.len(), 10);
    }

    /// A copy that fails while the manifest is being saved finishes that save first (a file system would
    /// keep half of it otherwise), then fails.
    #[tokio::test]
    async fn a_failed_copy_finishes_the_save_under_way_before_it_fails() {
        let (objects, finished) = futures::channel::mpsc::unbounded();
        let release = tokio::sync::Semaphore::new(0);
        let saved = AtomicU64::new(0);
        let mut manifest = Manifest::default();
        let store = |_bytes: Vec<u8>| {
            let (release, saved) = (&release, &saved);
            async move {
                release.acquire().await.expect("open").forget();
                saved.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        };
        let recording = record(finished, &mut manifest, 2, store, |_, _| {});
        let feeding = async {
            for i in 0..2 {
                objects
                    .unbounded_send(outcome(&format!("a/{i}")))
                    .expect("sent");
            }
            objects
                .unbounded_send(Err(StorageError::Mismatch("a/2 differs".into())))
                .expect("sent");
            for _ in 0..100 {
                tokio::task::yield_now().await;
            }
            release.add_permits(1);
        };
        let (recorded, ()) = futures::join!(recording, feeding);
        let error = recorded.expect_err("failed");
        assert!(error.to_string().contains("a/2 differs"), "{error}");
        assert_eq!(
            saved.load(Ordering::SeqCst),
            1,
            "the save under way was finished"
        );
    }

    #[tokio::test]
    async fn a_second_copy_writes_nothing_and_a_lost_manifest_rewrites_nothing() {
        let (from, to) = (source().await, memory());
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 4, &progress);
        copier.tree("backup_set_1_full").await.expect("copy");
        let again = copier.tree("backup_set_1_full").await.expect("again");
        assert_eq!(again.copied, 0, "everything was there");
        // A restart that lost the manifest: the objects are compared, not written again.
        to.delete(&manifest_path("backup_set_1_full"))
            .await
            .expect("delete");
        let resumed = copier.tree("backup_set_1_full").await.expect("resumed");
        assert_eq!((resumed.objects, resumed.copied), (3, 0));
    }

    #[tokio::test]
    async fn an_object_changed_on_the_copy_is_found_and_copied_again() {
        let (from, to) = (source().await, memory());
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        copier.tree("backup_set_1_full").await.expect("copy");
        let victim = "backup_set_1_full/logstream_1/major_data/macro_block_data.0";
        let mut corrupted = vec![7u8; 300_000];
        corrupted[1234] = 0;
        to.write(victim, corrupted).await.expect("corrupt");
        assert_eq!(
            copier.verify("backup_set_1_full").await.expect("verify"),
            vec![victim.to_string()]
        );
        let repaired = copier.tree("backup_set_1_full").await.expect("repair");
        assert_eq!(repaired.copied, 1, "only the corrupted object");
        assert_eq!(
            digest(&to, victim).await.expect("copy"),
            digest(&from, victim).await.expect("source")
        );
    }

    /// An archive piece's files change while it is ACTIVE, some in place with the same size (its checkpoint
    /// file): a later pass copies every object that changed on the source, and only those.
    #[tokio::test]
    async fn an_object_rewritten_on_the_source_is_copied_again_even_at_the_same_size() {
        let root = std::env::temp_dir().join(format!("obbackup-copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let from = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        let to = memory();
        let checkpoint = "piece_d1001r1p1/checkpoint/checkpoint_info.0.obarc";
        let log = "piece_d1001r1p1/logstream_1/log/1.obarc";
        from.write(checkpoint, "scn=1700000000000000001")
            .await
            .expect("write");
        from.write(log, vec![1u8; 1000]).await.expect("write");
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        assert_eq!(
            copier.tree("piece_d1001r1p1").await.expect("copy").copied,
            2
        );
        // A file system's modification time has a granularity; wait until a rewrite is visible as one.
        let before = from.stat(checkpoint).await.expect("stat").last_modified();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            from.write(checkpoint, "scn=1700000000000000002")
                .await
                .expect("rewrite");
            if from.stat(checkpoint).await.expect("stat").last_modified() != before {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "mtime never moved");
            tokio::task::yield_now().await;
        }
        let again = copier.tree("piece_d1001r1p1").await.expect("again");
        assert_eq!(again.copied, 1, "only the rewritten checkpoint file");
        assert_eq!(
            to.read(checkpoint).await.expect("read").to_vec(),
            b"scn=1700000000000000002"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn an_empty_or_missing_tree_is_never_a_completed_copy() {
        let (from, to) = (source().await, memory());
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        let error = copier
            .tree("backup_set_9_full")
            .await
            .expect_err("nothing to copy");
        assert!(error.is_transient(), "{error}");
        assert!(error.to_string().contains("backup_set_9_full"), "{error}");
    }

    /// While a set's copy is being deleted, whoever lists the copy (a restore) never finds a placeholder of
    /// the set once any of its data is gone: the placeholders go first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_placeholder_names_a_set_whose_data_is_being_deleted() {
        let copy = memory();
        let placeholders = [
            "backup_sets/backup_set_1_full_start.obbak",
            "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak",
        ];
        let data: Vec<String> = (0..2000)
            .map(|i| format!("backup_set_1_full/logstream_1/{i}"))
            .collect();
        for path in placeholders
            .iter()
            .copied()
            .chain(data.iter().map(String::as_str))
            .chain([manifest_path("backup_set_1_full").as_str()])
        {
            copy.write(path, vec![1u8]).await.expect("write");
        }
        let deleting = tokio::spawn({
            let copy = copy.clone();
            async move { delete_tree(&copy, "backup_set_1_full").await }
        });
        let mut seen = 0;
        while !deleting.is_finished() {
            // Data first, then the placeholders: a placeholder seen after data went missing was there
            // while the data was being deleted.
            let data_missing = !copy.exists(&data[0]).await.expect("stat")
                || !copy.exists(&data[1999]).await.expect("stat");
            if data_missing {
                seen += 1;
                for path in placeholders {
                    assert!(
                        !copy.exists(path).await.expect("stat"),
                        "{path} still names the set after {seen} looks at its data going"
                    );
                }
            }
            tokio::task::yield_now().await;
        }
        deleting.await.expect("joined").expect("deleted");
        assert!(seen > 0, "the delete was watched while its data went");
        assert!(!copy.exists(placeholders[0]).await.expect("stat"));
    }

    /// Whoever lists the copy while a set is being copied (a restore) never finds the set's placeholders
    /// before every data object is there whole: the data goes first, its end placeholder last.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_writes_no_placeholder_until_its_data_is_whole() {
        // A file system shows an object while it is being written, at the size written so far.
        let root = std::env::temp_dir().join(format!("obbackup-copy-order-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let to = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        let from = memory();
        let data: Vec<(String, usize)> = (0..40)
            .map(|i| (format!("backup_set_1_full/logstream_1/{i:02}"), 100))
            .chain([("backup_set_1_full/logstream_1/99".to_string(), 16 << 20)])
            .collect();
        for (path, size) in &data {
            from.write(path, vec![7u8; *size]).await.expect("write");
        }
        let end = "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak";
        for path in [
            "format.obbak",
            "backup_sets/backup_set_1_full_start.obbak",
            end,
        ] {
            from.write(path, Vec::<u8>::new()).await.expect("write");
        }
        let copying = tokio::spawn({
            let (from, to) = (from.clone(), to.clone());
            async move {
                let progress = Progress::default();
                Copier::new(&from, &to, 4, &progress)
                    .tree("backup_set_1_full")
                    .await
            }
        });
        let mut looks = 0;
        while !copying.is_finished() {
            if to.exists(end).await.expect("stat") {
                looks += 1;
                for (path, size) in &data {
                    let there = to.stat(path).await.map(|m| m.content_length()).ok();
                    assert_eq!(
                        there,
                        Some(*size as u64),
                        "{end} names the set while {path} is not whole"
                    );
                }
            }
            tokio::task::yield_now().await;
        }
        copying.await.expect("joined").expect("copied");
        assert!(
            to.exists(end).await.expect("stat"),
            "the set's end placeholder is copied"
        );
        let _ = looks;
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A second destination pointed at a directory where another tenant's backups live: the copy writes
    /// nothing there (their format file names them), and never deletes what it did not copy.
    #[tokio::test]
    async fn a_copy_into_another_tenants_directory_writes_nothing_and_deletes_nothing() {
        let (from, to) = (source().await, memory());
        from.write("format.obbak", b"tenant_id=1002;cluster=prod".to_vec())
            .await
            .expect("write");
        let theirs = [
            ("format.obbak", b"tenant_id=1004;cluster=staging".to_vec()),
            (
                "backup_set_1_full/single_backup_set_info",
                b"their set 1".to_vec(),
            ),
            ("backup_sets/backup_set_1_full_start.obbak", Vec::new()),
        ];
        for (path, bytes) in &theirs {
            to.write(path, bytes.clone()).await.expect("write");
        }
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        let error = copier.tree("backup_set_1_full").await.expect_err("refused");
        assert!(!error.is_transient(), "{error}");
        assert!(
            error.to_string().contains("another tenant's or cluster's"),
            "{error}"
        );
        let error = copier
            .verify("backup_set_1_full")
            .await
            .and(copier.tree("backup_set_1_full").await);
        assert!(
            error.is_err(),
            "a verification pass repairs nothing there either"
        );
        copier
            .delete("backup_set_1_full")
            .await
            .expect("nothing of ours to delete");
        for (path, bytes) in &theirs {
            assert_eq!(
                to.read(path).await.expect("kept").to_vec(),
                *bytes,
                "{path}"
            );
        }
        assert!(
            !to.exists("backup_set_1_full/meta_info/tenant_backup_set_infos")
                .await
                .expect("stat"),
            "nothing of ours was written"
        );
        // Archive logs where a set would go: refused as well.
        let logs = memory();
        logs.write("format.obarc", b"log".to_vec())
            .await
            .expect("write");
        let error = Copier::new(&from, &logs, 2, &progress)
            .tree("backup_set_1_full")
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("format.obarc"), "{error}");
    }

    /// A set's copy carries the format file and its own placeholders at the root (a restore lists them),
    /// not another set's; deleting the copy deletes its placeholders and leaves the shared format file.
    #[tokio::test]
    async fn a_copy_carries_what_the_root_holds_for_its_tree_and_a_delete_takes_it_away() {
        let (from, to) = (source().await, memory());
        let own = [
            "format.obbak",
            "backup_sets/backup_set_1_full_start.obbak",
            "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak",
        ];
        let other = "backup_sets/backup_set_10_full_start.obbak";
        for path in own.iter().chain([&other]) {
            from.write(path, path.as_bytes().to_vec())
                .await
                .expect("write");
        }
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        let report = copier.tree("backup_set_1_full").await.expect("copy");
        assert_eq!(report.objects, 3 + own.len());
        for path in own {
            assert_eq!(
                digest(&to, path).await.expect("copied"),
                digest(&from, path).await.expect("source"),
                "{path}"
            );
        }
        assert!(
            !to.exists(other).await.expect("stat"),
            "set 10's placeholder"
        );
        // The placeholders are verified like the rest of the tree.
        to.write(own[2], b"damaged".to_vec()).await.expect("damage");
        assert_eq!(
            copier.verify("backup_set_1_full").await.expect("verify"),
            vec![own[2].to_string()]
        );
        copier.delete("backup_set_1_full").await.expect("delete");
        for path in &own[1..] {
            assert!(!to.exists(path).await.expect("stat"), "{path} left behind");
        }
        assert!(
            to.exists("format.obbak").await.expect("stat"),
            "the format file is shared"
        );
        assert!(
            from.exists(own[2]).await.expect("stat"),
            "the source keeps it"
        );
    }

    /// Two pieces of one round: deleting the first's copy keeps the round's placeholder the second needs.
    #[tokio::test]
    async fn deleting_a_pieces_copy_keeps_what_its_round_shares_with_the_next_piece() {
        let (from, to) = (memory(), memory());
        let round = "rounds/round_d1001r1_start.obarc";
        for path in [
            "format.obarc",
            round,
            "pieces/piece_d1001r1p1_start_20260601T000000.obarc",
            "pieces/piece_d1001r1p1_end_20260602T000000.obarc",
            "pieces/piece_d1001r1p2_start_20260602T000000.obarc",
            "piece_d1001r1p1/single_piece_info.obarc",
            "piece_d1001r1p2/checkpoint/checkpoint_info.0.obarc",
        ] {
            from.write(path, path.as_bytes().to_vec())
                .await
                .expect("write");
        }
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        for piece in ["piece_d1001r1p1", "piece_d1001r1p2"] {
            copier.tree(piece).await.expect("copy");
        }
        assert!(to.exists(round).await.expect("stat"));
        copier.delete("piece_d1001r1p1").await.expect("delete");
        for gone in [
            "pieces/piece_d1001r1p1_start_20260601T000000.obarc",
            "pieces/piece_d1001r1p1_end_20260602T000000.obarc",
        ] {
            assert!(!to.exists(gone).await.expect("stat"), "{gone}");
        }
        for kept in [
            round,
            "format.obarc",
            "pieces/piece_d1001r1p2_start_20260602T000000.obarc",
        ] {
            assert!(to.exists(kept).await.expect("stat"), "{kept} deleted");
        }
    }

    #[tokio::test]
    async fn deleting_a_copy_leaves_the_source_and_other_trees_alone() {
        let (from, to) = (source().await, memory());
        let progress = Progress::default();
        let copier = Copier::new(&from, &to, 2, &progress);
        copier.tree("backup_set_1_full").await.expect("copy");
        copier.tree("backup_set_2_inc").await.expect("copy");
        copier.delete("backup_set_1_full").await.expect("delete");
        assert!(
            !to.exists("backup_set_1_full/single_backup_set_info")
                .await
                .expect("stat")
        );
        assert!(
            !to.exists(&manifest_path("backup_set_1_full"))
                .await
                .expect("stat")
        );
        assert!(
            to.exists("backup_set_2_inc/single_backup_set_info")
                .await
                .expect("stat")
        );
        assert!(
            from.exists("backup_set_1_full/single_backup_set_info")
                .await
                .expect("stat")
        );
    }
}
