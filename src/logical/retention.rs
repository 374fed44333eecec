//! The dumps a logical strategy keeps: every finished dump under a tenant's `logical/` directory, read from
//! its manifest, and which of them have outlived the recovery window. A dump without a manifest is being
//! written, or was cut off and will be resumed — or its task ended without finishing it (Failed) or is gone,
//! and nothing will ever finish it: such an abandoned dump is deleted once no task writes it and nothing
//! in it has been written for an hour, so that failed dumps do not pile up on the destination. A strategy
//! keeps only its own cluster's and namespace's dumps of the tenant: a dump whose plan or manifest records
//! another owner (two clusters sharing a destination) is never expired, deleted or counted.

use jiff::{SignedDuration, Timestamp};
use opendal::{ErrorKind, Operator};

use super::layout::{DumpOwner, Manifest};
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
    /// Finished dumps of another owner (the [`Keeper`] does not keep them), left alone.
    pub foreign: Vec<String>,
}

/// Whose dumps a strategy keeps in a tenant's directory: those of its namespace, cluster (as its tasks name
/// it) and tenant. A dump that records no owner (of an earlier version) is kept too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keeper {
    pub namespace: String,
    pub cluster: String,
    pub tenant: String,
}

impl Keeper {
    /// Whether a dump recorded as `owner`'s is this keeper's to expire, delete and count.
    pub fn keeps(&self, owner: Option<&DumpOwner>) -> bool {
        owner.is_none_or(|o| {
            o.namespace == self.namespace
                && o.cluster == self.cluster
                && o.tenant.eq_ignore_ascii_case(&self.tenant)
        })
    }
}

/// Every finished dump under `storage`'s [`DUMPS_DIRECTORY`], oldest first.
pub async fn finished_dumps(storage: &Operator) -> Result<Vec<KeptDump>, StorageError> {
    Ok(dumps(storage, None).await?.finished)
}

/// Every dump directory under `storage`'s [`DUMPS_DIRECTORY`] (finished ones of an owner `keeper` does not
/// keep listed apart). A manifest that does not parse is not a finished dump of this format, and its
/// directory is in no list: it is left alone.
pub async fn dumps(storage: &Operator, keeper: Option<&Keeper>) -> Result<Dumps, StorageError> {
    let entries = match storage.list(DUMPS_DIRECTORY).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Dumps::default()),
        Err(e) => return Err(StorageError::io(&e)),
    };
    let mut dumps = Vec::new();
    let mut unfinished = Vec::new();
    let mut foreign = Vec::new();
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
        if keeper.is_some_and(|k| !k.keeps(manifest.owner.as_ref())) {
            foreign.push(directory.to_string());
            continue;
        }
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
        foreign,
    })
}

/// The plan of the dump in `directory` (`None`: no plan, or one that does not parse).
async fn plan(
    storage: &Operator,
    directory: &str,
) -> Result<Option<super::layout::Plan>, StorageError> {
    let bytes = match storage.read(&super::layout::plan_path(directory)).await {
        Ok(bytes) => bytes.to_vec(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(&e)),
    };
    Ok(serde_json::from_slice(&bytes).ok())
}

/// The owner an unfinished dump's plan records (`None`: no plan, one that does not parse, or one of an
/// earlier version).
pub async fn plan_owner(
    storage: &Operator,
    directory: &str,
) -> Result<Option<DumpOwner>, StorageError> {
    Ok(plan(storage, directory).await?.and_then(|plan| plan.owner))
}

/// When the dump in `directory` began by the operator's clock, from its plan (`None`: no plan, or one that
/// does not say).
pub async fn plan_started_at(
    storage: &Operator,
    directory: &str,
) -> Result<Option<Timestamp>, StorageError> {
    Ok(plan(storage, directory)
        .await?
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

    #[test]
    fn a_strategy_keeps_only_its_own_clusters_and_namespaces_dumps_of_the_tenant() {
        let keeper = Keeper {
            namespace: "prod".into(),
            cluster: "ob".into(),
            tenant: "tenant1".into(),
        };
        let owner = |namespace: &str, cluster: &str, tenant: &str| DumpOwner {
            namespace: namespace.into(),
            task: "nightly".into(),
            uid: "u".into(),
            cluster: cluster.into(),
            tenant: tenant.into(),
        };
        assert!(keeper.keeps(None), "a dump of an earlier version");
        assert!(keeper.keeps(Some(&owner("prod", "ob", "TENANT1"))));
        assert!(!keeper.keeps(Some(&owner("prod", "ob-staging", "tenant1"))));
        assert!(!keeper.keeps(Some(&owner("staging", "ob", "tenant1"))));
        assert!(!keeper.keeps(Some(&owner("prod", "ob", "tenant2"))));
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
        let all = dumps(&storage, None).await.expect("listed");
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
        // A dump another cluster's task wrote is listed apart for a keeper, and its plan names the owner.
        let owner = DumpOwner {
            namespace: "prod".into(),
            task: "nightly".into(),
            uid: "u".into(),
            cluster: "ob-staging".into(),
            tenant: "tenant1".into(),
        };
        let mut foreign: serde_json::Value =
            serde_json::from_str(&manifest("2027-01-10T00:00:00Z")).expect("manifest");
        foreign["owner"] = serde_json::to_value(&owner).expect("owner");
        for file in ["plan.json", "manifest.json"] {
            storage
                .write(&format!("logical/staging-5/{file}"), foreign.to_string())
                .await
                .expect("foreign dump");
        }
        let keeper = Keeper {
            namespace: "prod".into(),
            cluster: "ob".into(),
            tenant: "tenant1".into(),
        };
        let kept = super::dumps(&storage, Some(&keeper)).await.expect("listed");
        assert_eq!(kept.foreign, ["logical/staging-5"]);
        assert_eq!(kept.finished, left);
        assert_eq!(
            plan_owner(&storage, "logical/staging-5")
                .await
                .expect("read"),
            Some(owner)
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
