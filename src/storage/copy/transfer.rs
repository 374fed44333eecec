//! Reading an object from the source and writing it to the copy, streamed, no faster than a bandwidth limit.

use futures::StreamExt;
use opendal::{Operator, Writer};

use super::{Copied, Copier, hashing::Digests};
use crate::storage::StorageError;
use crate::storage::server_check::WriteCheck;

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

impl Copier<'_> {
    /// Streams `path` from the source to the copy, hashing what goes through: the last bytes are hashed
    /// while the writer closes (an S3 writer sends its request then).
    pub(super) async fn write(&self, path: &str) -> Result<Copied, StorageError> {
        let mut writer = self
            .to
            .writer(path)
            .await
            .map_err(|e| StorageError::io(&e))?;
        let sink = Sink {
            writer: &mut writer,
            limit: self.limit,
        };
        // Where the server checks the write, the CRC32C it checked is recorded; where the copy is read
        // back, the SHA-256 too, which the read-back is compared with.
        let digests = match self.check {
            WriteCheck::Server => Digests::crc32c(),
            WriteCheck::ReadBack => Digests::all(),
        };
        let (size, digests) = stream(self.from, path, Some(sink), digests).await?;
        let (closed, written) = futures::join!(writer.close(), digests.finish(size));
        closed.map_err(|e| StorageError::io(&e))?;
        written
    }
}

/// Where a copied object's bytes go: a writer, no faster than a limit if there is one.
pub(super) struct Sink<'w> {
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

/// Streams `path` from `operator`, taking `digests` on the way, into `sink` if there is one; returns its
/// size and its digests, whose SHA-256's last piece may still be being taken.
pub(super) async fn stream(
    operator: &Operator,
    path: &str,
    mut sink: Option<Sink<'_>>,
    mut digests: Digests,
) -> Result<(u64, Digests), StorageError> {
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
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| StorageError::Io(format!("reading {path}: {e}")))?;
        size += chunk.len() as u64;
        digests.update(chunk.clone()).await?;
        if let Some(sink) = sink.as_mut() {
            sink.write(chunk).await?;
        }
    }
    Ok((size, digests))
}

/// The most bytes read from a file at once.
pub(super) const FILE_READ_PIECE: usize = 4 << 20;
