//! What a copy lists: the source's objects under a tree and beside it, with their sizes and versions, and what
//! the copy already holds.

use opendal::ErrorKind;

use super::{Copier, directory, exists};
use crate::storage::{
    StorageError,
    layout::{companions, listed_under},
};

/// An object on the source: its path, size and version.
pub(super) struct Listed {
    pub(super) path: String,
    pub(super) size: u64,
    pub(super) version: Option<String>,
}

/// What a copy holds under a tree: each object's size where its listing gave one.
pub(super) type Held = std::collections::HashMap<String, Option<u64>>;

impl Copier<'_> {
    /// Every object under `tree` on the source, with its size and version, in path order.
    pub(super) async fn list(&self, tree: &str) -> Result<Vec<Listed>, StorageError> {
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
    pub(super) async fn list_companions(&self, tree: &str) -> Result<Vec<Listed>, StorageError> {
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
    pub(super) async fn listed(
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
    pub(super) async fn held(&self, tree: &str) -> Result<Held, StorageError> {
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
    pub(super) async fn size_on_copy(
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
}

/// An object's version as its storage tells it: the ETag, else the modification time.
fn version(meta: &opendal::Metadata) -> Option<String> {
    meta.etag()
        .map(str::to_string)
        .or_else(|| meta.last_modified().map(|t| t.to_string()))
}
