//! The dumps a logical strategy keeps: every finished dump under a tenant's `logical/` directory, read from
//! its manifest, and which of them have outlived the recovery window. A dump without a manifest is still
//! being written (or was cut off and will be resumed): it is never expired here.

use jiff::{SignedDuration, Timestamp};
use opendal::{ErrorKind, Operator};

use super::layout::Manifest;
use crate::storage::StorageError;

/// The directory under a tenant's destination that holds its dumps.
pub const DUMPS_DIRECTORY: &str = "logical/";

/// A finished dump found on the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptDump {
    /// Its directory under the tenant's destination (`logical/<task>-<uid>`).
    pub directory: String,
    /// When it began by the operator's clock (the snapshot's time for dumps that do not say).
    pub started_at: Timestamp,
    /// The time of its snapshot (the console's "Data Version").
    pub snapshot_at: Timestamp,
    pub stored_bytes: u64,
}

/// Every finished dump under `storage`'s [`DUMPS_DIRECTORY`], oldest first. A manifest that does not parse
/// is not a finished dump of this format and is left alone.
pub async fn finished_dumps(storage: &Operator) -> Result<Vec<KeptDump>, StorageError> {
    let entries = match storage.list(DUMPS_DIRECTORY).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(&e)),
    };
    let mut dumps = Vec::new();
    for entry in entries {
        let directory = entry.path().trim_end_matches('/');
        if !entry.metadata().is_dir() || directory == DUMPS_DIRECTORY.trim_end_matches('/') {
            continue;
        }
        let manifest = match storage.read(&format!("{directory}/manifest.json")).await {
            Ok(bytes) => bytes.to_vec(),
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StorageError::io(&e)),
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&manifest) else {
            continue;
        };
        let Ok(snapshot_at) = manifest.snapshot.time.parse::<Timestamp>() else {
            continue;
        };
        let started_at = manifest
            .started_at
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(snapshot_at);
        dumps.push(KeptDump {
            directory: directory.to_string(),
            started_at,
            snapshot_at,
            stored_bytes: manifest.stored_bytes,
        });
    }
    dumps.sort_by(|a, b| (a.started_at, &a.directory).cmp(&(b.started_at, &b.directory)));
    Ok(dumps)
}

/// The dumps of `dumps` (oldest first) that began more than `window` before `now` — never the newest one,
/// so that a tenant whose dumps stopped (a paused strategy, a failing schedule) keeps its last good dump.
pub fn expired(dumps: &[KeptDump], window: SignedDuration, now: Timestamp) -> Vec<&KeptDump> {
    let Some((_newest, older)) = dumps.split_last() else {
        return Vec::new();
    };
    let cutoff = now.saturating_sub(window).unwrap_or(Timestamp::MIN);
    older.iter().filter(|d| d.started_at < cutoff).collect()
}

/// Deletes a dump's directory and everything in it.
pub async fn delete(storage: &Operator, directory: &str) -> Result<(), StorageError> {
    storage
        .delete_with(&format!("{}/", directory.trim_matches('/')))
        .recursive(true)
        .await
        .map_err(|e| StorageError::io(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + hours * 3600).expect("time")
    }

    fn dump(name: &str, hours: i64) -> KeptDump {
        KeptDump {
            directory: format!("logical/{name}"),
            started_at: at(hours),
            snapshot_at: at(hours),
            stored_bytes: 10,
        }
    }

    #[test]
    fn dumps_older_than_the_window_expire_but_the_newest_always_stays() {
        let window = SignedDuration::from_hours(48);
        let dumps = [dump("a", 0), dump("b", 24), dump("c", 48), dump("d", 72)];
        let names = |now| -> Vec<String> {
            expired(&dumps, window, now)
                .into_iter()
                .map(|d| d.directory.clone())
                .collect()
        };
        // A dump expires once it began more than the window ago.
        assert_eq!(names(at(73)), ["logical/a", "logical/b"]);
        assert_eq!(names(at(72)), ["logical/a"]);
        assert_eq!(names(at(48)), Vec::<String>::new());
        // Long after the last dump: every dump but the newest.
        assert_eq!(names(at(1000)), ["logical/a", "logical/b", "logical/c"]);
        assert!(expired(&dumps[..1], window, at(1000)).is_empty());
        assert!(expired(&[], window, at(1000)).is_empty());
    }

    #[tokio::test]
    async fn only_finished_dumps_with_a_manifest_are_listed_oldest_first() {
        let root = std::env::temp_dir().join(format!("retention-test-{}", std::process::id()));
        let storage = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        assert_eq!(finished_dumps(&storage).await.expect("empty"), vec![]);
        let manifest = |started: &str| {
            serde_json::json!({
                "formatVersion": 1,
                "snapshot": {"scn": 1, "time": "2027-01-15T08:00:00Z"},
                "serverVersion": "4.3.5.3",
                "startedAt": started,
                "databases": [], "objects": [], "rows": 0, "bytes": 0, "storedBytes": 42,
            })
            .to_string()
        };
        for (dir, body) in [
            ("logical/new-1", Some(manifest("2027-01-16T00:00:00Z"))),
            ("logical/old-2", Some(manifest("2027-01-15T00:00:00Z"))),
            ("logical/torn-3", Some("{".to_string())),
            ("logical/running-4", None),
        ] {
            storage
                .write(&format!("{dir}/plan.json"), "{}")
                .await
                .expect("plan");
            if let Some(body) = body {
                storage
                    .write(&format!("{dir}/manifest.json"), body)
                    .await
                    .expect("manifest");
            }
        }
        let dumps = finished_dumps(&storage).await.expect("listed");
        let names: Vec<&str> = dumps.iter().map(|d| d.directory.as_str()).collect();
        assert_eq!(names, ["logical/old-2", "logical/new-1"]);
        assert_eq!(dumps[0].stored_bytes, 42);
        delete(&storage, "logical/old-2").await.expect("deleted");
        let left = finished_dumps(&storage).await.expect("listed");
        assert_eq!(left.len(), 1);
        assert!(
            storage
                .exists("logical/running-4/plan.json")
                .await
                .expect("exists")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
