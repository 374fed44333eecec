//! The dumps a logical strategy keeps: every finished dump under a tenant's `logical/` directory, read from
//! its manifest, and which of them have outlived the recovery window. A dump without a manifest is being
//! written, or was cut off and will be resumed — or its task ended without finishing it (Failed) or is gone,
//! and nothing will ever finish it: such an abandoned dump is deleted once no task writes it and nothing
//! in it has been written for an hour, so that failed dumps do not pile up on the destination.

use jiff::{SignedDuration, Timestamp};
use opendal::{ErrorKind, Operator};

use super::layout::Manifest;
use crate::{
    api::{BackupStrategy, common::parse_duration},
    storage::StorageError,
};

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

/// A dump directory without a manifest: being written, cut off, or abandoned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnfinishedDump {
    /// Its directory under the tenant's destination (`logical/<task>-<uid>`).
    pub directory: String,
}

/// What a tenant's [`DUMPS_DIRECTORY`] holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dumps {
    /// Finished dumps, oldest first.
    pub finished: Vec<KeptDump>,
    /// Directories without a manifest.
    pub unfinished: Vec<UnfinishedDump>,
}

/// Every finished dump under `storage`'s [`DUMPS_DIRECTORY`], oldest first.
pub async fn finished_dumps(storage: &Operator) -> Result<Vec<KeptDump>, StorageError> {
    Ok(dumps(storage).await?.finished)
}

/// Every dump directory under `storage`'s [`DUMPS_DIRECTORY`]. A manifest that does not parse is not a
/// finished dump of this format, and its directory is in neither list: it is left alone.
pub async fn dumps(storage: &Operator) -> Result<Dumps, StorageError> {
    let entries = match storage.list(DUMPS_DIRECTORY).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Dumps::default()),
        Err(e) => return Err(StorageError::io(&e)),
    };
    let mut dumps = Vec::new();
    let mut unfinished = Vec::new();
    for entry in entries {
        let directory = entry.path().trim_end_matches('/');
        if !entry.metadata().is_dir() || directory == DUMPS_DIRECTORY.trim_end_matches('/') {
            continue;
        }
        let manifest = match storage.read(&format!("{directory}/manifest.json")).await {
            Ok(bytes) => bytes.to_vec(),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                unfinished.push(UnfinishedDump {
                    directory: directory.to_string(),
                });
                continue;
            }
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
    Ok(Dumps {
        finished: dumps,
        unfinished,
    })
}

/// When the dump in `directory` began by the operator's clock, from its plan (`None`: no plan, or one that
/// does not say).
pub async fn plan_started_at(
    storage: &Operator,
    directory: &str,
) -> Result<Option<Timestamp>, StorageError> {
    let bytes = match storage.read(&super::layout::plan_path(directory)).await {
        Ok(bytes) => bytes.to_vec(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(&e)),
    };
    Ok(serde_json::from_slice::<super::layout::Plan>(&bytes)
        .ok()
        .and_then(|plan| plan.started_at)
        .and_then(|t| t.parse().ok()))
}

/// How long an unfinished dump no task of the strategy's namespace writes must have been quiet (nothing in
/// it written) before it counts as abandoned: a task elsewhere (another namespace, another client) may be
/// writing it, and a dump being written writes a record after every chunk.
pub const ABANDONED_GRACE: SignedDuration = SignedDuration::from_hours(1);

/// Whether `dump` is abandoned: its directory is not among `written` (the directories of every task that
/// has not ended) and nothing in it was written within [`ABANDONED_GRACE`] before `now` (storage keeps
/// wall-clock times: `now` is one too). `last_written` is the newest modification time in it (`None`: it
/// holds nothing).
pub fn abandoned(
    dump: &UnfinishedDump,
    written: &[String],
    last_written: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    let cutoff = now
        .saturating_sub(ABANDONED_GRACE)
        .unwrap_or(Timestamp::MIN);
    !is_written(dump, written) && last_written.is_none_or(|at| at < cutoff)
}

/// Whether a task that has not ended writes `dump` (`written`: their directories).
pub fn is_written(dump: &UnfinishedDump, written: &[String]) -> bool {
    written
        .iter()
        .any(|w| w.trim_end_matches('/') == dump.directory)
}

/// The newest modification time of anything in `directory` (`None`: it holds nothing). Stops at the first
/// one after `after`: a dump written to lately needs no more looking at.
pub async fn last_written(
    storage: &Operator,
    directory: &str,
    after: Timestamp,
) -> Result<Option<Timestamp>, StorageError> {
    let entries = storage
        .list_with(&format!("{}/", directory.trim_end_matches('/')))
        .recursive(true)
        .await
        .map_err(|e| StorageError::io(&e))?;
    let mut newest: Option<Timestamp> = None;
    for entry in entries.iter().filter(|e| e.metadata().is_file()) {
        let modified = match entry.metadata().last_modified() {
            Some(at) => Some(at),
            None => storage
                .stat(entry.path())
                .await
                .map_err(|e| StorageError::io(&e))?
                .last_modified(),
        };
        let Some(at) = modified.map(Timestamp::from) else {
            continue;
        };
        newest = newest.max(Some(at));
        if at > after {
            break;
        }
    }
    Ok(newest)
}

/// A strategy's `retention.recoveryWindow` (the schema admits only whole hours or days).
pub fn window_of(strategy: &BackupStrategy) -> SignedDuration {
    parse_duration(&strategy.spec.retention.recovery_window)
        .unwrap_or(SignedDuration::from_hours(24 * 7))
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

    #[test]
    fn unfinished_dumps_no_task_writes_and_quiet_for_the_grace_are_abandoned() {
        let dump = |name: &str| UnfinishedDump {
            directory: format!("logical/{name}"),
        };
        let written = ["logical/written-1/".to_string()];
        let now = at(10);
        // Written by a task that has not ended: never, however quiet.
        assert!(!abandoned(&dump("written-1"), &written, Some(at(0)), now));
        // No task: abandoned once quiet for the grace, or empty.
        assert!(abandoned(&dump("failed-2"), &written, Some(at(8)), now));
        assert!(abandoned(&dump("empty-3"), &written, None, now));
        let lately = now - ABANDONED_GRACE + SignedDuration::from_secs(1);
        assert!(
            !abandoned(&dump("elsewhere-4"), &written, Some(lately), now),
            "written to within the grace: a task elsewhere may be writing it"
        );
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
        let all = dumps(&storage).await.expect("listed");
        assert_eq!(
            all.unfinished,
            [UnfinishedDump {
                directory: "logical/running-4".into(),
            }],
            "a torn manifest is in neither list"
        );
        assert_eq!(
            plan_started_at(&storage, "logical/running-4")
                .await
                .expect("read"),
            None,
            "a plan that does not say"
        );
        let written = last_written(&storage, "logical/running-4", Timestamp::MAX)
            .await
            .expect("listed")
            .expect("a time");
        assert!(written.duration_until(Timestamp::now()).abs() < SignedDuration::from_mins(5));
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
