//! The record of a tree's copy on the second destination (outside OceanBase's tree, under `.obbackup/copies/`):
//! what was copied and verified, saved while the copy goes on, so that a copy interrupted by a restart goes on
//! where it stopped; and the delete of a copied tree, which goes by it.

use std::collections::BTreeMap;

use futures::StreamExt;
use opendal::{ErrorKind, Operator};
use serde::{Deserialize, Serialize};

use super::{Copied, Copier, directory, exists};
use crate::storage::{
    StorageError,
    layout::{companions, listed_under},
};

/// The record of one tree's copy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every object copied and verified, by its path under the destination's root.
    pub objects: BTreeMap<String, Copied>,
}

/// Record progress in the manifest after this many objects, so that a restart repeats little.
pub(super) const SAVE_EVERY: usize = 16;

impl Copier<'_> {
    pub(super) async fn manifest(&self, tree: &str) -> Result<Manifest, StorageError> {
        match self.to.read(&manifest_path(tree)).await {
            Ok(bytes) => serde_json::from_slice(&bytes.to_vec()).map_err(|e| {
                StorageError::Io(format!("the copy's manifest of {tree} is unreadable: {e}"))
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(StorageError::io(&e)),
        }
    }

    pub(super) async fn save(&self, tree: &str, manifest: &Manifest) -> Result<(), StorageError> {
        self.store(&manifest_path(tree), encode(manifest)?).await
    }

    /// Writes an encoded manifest to `path` on the copy.
    pub(super) async fn store(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
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
pub(super) async fn record<S, W, F>(
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

/// Where the manifest of `tree` lives on the copy: beside OceanBase's tree, never inside it.
pub fn manifest_path(tree: &str) -> String {
    format!(
        ".obbackup/copies/{}.json",
        tree.trim_matches('/').replace('/', "~")
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn outcome(path: &str) -> Result<(String, (Copied, bool)), StorageError> {
        Ok((
            path.to_string(),
            (
                Copied {
                    size: 1,
                    sha256: path.to_string(),
                    crc32c: None,
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
}
