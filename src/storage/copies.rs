//! Copies to a second destination, as background work ([`crate::background`]) under a key its controller
//! chooses (a backup set's, an archive piece's): what a copy is asked to do, how it runs, and how its state
//! reads. A copy stopped by an outage resumes from its manifest when it is started again.

use std::sync::{Arc, atomic::Ordering};

use tokio_util::sync::CancellationToken;

use super::{
    StorageError,
    copy::{Bandwidth, Copier, Progress, Report},
    place::Place,
};
use crate::{
    background::{Background, Key},
    oceanbase::sql::AccessKeys,
};

/// What to do with a tree on the second destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Copy it there from the first destination, verified.
    Copy,
    /// Delete it there (OceanBase deleted it from the first); `from` is not read.
    Delete,
    /// Read what the copy holds back and check it against the manifest, then copy again whatever is
    /// damaged, lost or missing.
    Verify,
}

/// What to copy (or delete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRequest {
    pub work: Work,
    /// The first destination's URI and keys.
    pub from: String,
    pub from_keys: Option<AccessKeys>,
    /// The second destination's URI and keys.
    pub to: String,
    pub to_keys: Option<AccessKeys>,
    /// The tree under both roots (`backup_set_1_full`).
    pub tree: String,
    /// Objects moving at once in this copy.
    pub concurrency: usize,
    /// Bytes per second this copy may write, if limited.
    pub bandwidth: Option<u64>,
    /// Where `file://` destinations are reached in this process.
    pub file_root: Option<&'static std::path::Path>,
}

/// Where a copy stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyState {
    Running {
        objects: u64,
        total_objects: u64,
        bytes: u64,
        total_bytes: u64,
    },
    Done(Report),
    /// Stopped; `transient` when the storage was unreachable or slow (it is started again later), not when
    /// the copy itself is wrong.
    Failed {
        message: String,
        transient: bool,
    },
}

/// The copies of this process.
pub type Copies = Background<CopyRequest>;

impl crate::background::Work for CopyRequest {
    type Progress = Progress;
    type State = CopyState;

    async fn run(self, progress: Arc<Progress>, _cancel: CancellationToken) -> CopyState {
        match run(&self, &progress).await {
            Ok(report) => CopyState::Done(report),
            Err(error) => {
                tracing::warn!(%error, tree = self.tree, work = ?self.work, "work on the second destination stopped");
                CopyState::Failed {
                    message: error.to_string(),
                    transient: error.is_transient(),
                }
            }
        }
    }

    fn running(&self, progress: &Progress, _retrying: Option<&CopyState>) -> CopyState {
        CopyState::Running {
            objects: progress.objects.load(Ordering::Relaxed),
            total_objects: progress.total_objects.load(Ordering::Relaxed),
            bytes: progress.bytes.load(Ordering::Relaxed),
            total_bytes: progress.total_bytes.load(Ordering::Relaxed),
        }
    }

    fn worth_retrying(&self, state: &CopyState) -> bool {
        matches!(
            state,
            CopyState::Failed {
                transient: true,
                ..
            }
        )
    }

    fn succeeded(state: &CopyState) -> bool {
        matches!(state, CopyState::Done(_))
    }
}

impl Copies {
    /// The report of the copy under `key` once it ended well — once per copy (or pass): a second call
    /// gives nothing, so that what it found is told once.
    pub fn take_report(&self, key: &Key) -> Option<Report> {
        match self.take(key)? {
            CopyState::Done(report) => Some(report),
            _ => None,
        }
    }
}

/// The key a strategy's verification reads `tenant`'s set `tree` under: a BackupTask copying the same set
/// waits for it, and it for the task.
pub fn verify_key(namespace: &str, strategy: &str, tenant: &str, tree: &str) -> Key {
    Key::part(namespace, strategy, format!("verify/{tenant}/{tree}"))
}

/// Opens both destinations and copies the tree.
async fn run(request: &CopyRequest, progress: &Progress) -> Result<Report, StorageError> {
    if request.work == Work::Delete {
        let to = super::open(&request.to, request.to_keys.as_ref(), request.file_root)?;
        super::copy::delete_tree(&to, &request.tree).await?;
        return Ok(Report::default());
    }
    refuse_overlap(&request.from, &request.to)?;
    let to = super::open(&request.to, request.to_keys.as_ref(), request.file_root)?;
    let from = super::open(&request.from, request.from_keys.as_ref(), request.file_root)?;
    let limit = request.bandwidth.and_then(Bandwidth::per_second);
    let check = super::server_check::write_check(&request.to, &to).await;
    let copier = Copier::new(&from, &to, request.concurrency, progress)
        .limited_to(limit.as_ref())
        .checked_by(check);
    let damaged = match request.work {
        Work::Verify => copier.verify(&request.tree).await?.len(),
        Work::Copy | Work::Delete => 0,
    };
    let report = copier.tree(&request.tree).await?;
    Ok(Report { damaged, ..report })
}

/// A copy onto its own source, into it or around it is no second copy: refused before anything is read.
fn refuse_overlap(from: &str, to: &str) -> Result<(), StorageError> {
    match Place::of(to)?.overlap(&Place::of(from)?) {
        None => Ok(()),
        Some(overlap) => Err(StorageError::Foreign(format!(
            "the second destination {} is {} the first destination {}: a copy there is no second copy",
            super::without_query(to),
            overlap.words(),
            super::without_query(from)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::Mutex as StdMutex,
        time::{Duration, Instant},
    };

    use super::*;
    use crate::sync::lock;

    /// The key of the piece `name` of the object `ns/copies`.
    fn key(name: &str) -> Key {
        Key::part("ns", "copies", name.to_string())
    }

    fn request(from: &std::path::Path, to: &std::path::Path) -> CopyRequest {
        CopyRequest {
            work: Work::Copy,
            from: format!("file://{}", from.display()),
            from_keys: None,
            to: format!("file://{}", to.display()),
            to_keys: None,
            tree: "backup_set_1_full".into(),
            concurrency: 2,
            bandwidth: None,
            file_root: None,
        }
    }

    fn dirs(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let base =
            std::env::temp_dir().join(format!("obbackup-copies-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (from, to) = (base.join("first"), base.join("second"));
        std::fs::create_dir_all(from.join("backup_set_1_full/infos")).expect("dirs");
        std::fs::create_dir_all(&to).expect("dirs");
        for i in 0..5 {
            std::fs::write(
                from.join(format!("backup_set_1_full/infos/file.{i}")),
                vec![i as u8; 10_000],
            )
            .expect("file");
        }
        (from, to)
    }

    async fn ended(copies: &Copies, key: &Key) -> CopyState {
        crate::controller::fixtures::eventually("the copy to end", || {
            copies
                .state(key)
                .filter(|s| !matches!(s, CopyState::Running { .. }))
        })
        .await
    }

    #[tokio::test]
    async fn a_copy_runs_in_the_background_ends_once_and_calls_back() {
        let (from, to) = dirs("once");
        let ended_keys = Arc::new(StdMutex::new(Vec::new()));
        let copies = Copies::new({
            let ended_keys = ended_keys.clone();
            Arc::new(move |key: &Key| lock(&ended_keys).push(key.clone()))
        });
        let asked = request(&from, &to);
        assert!(matches!(
            copies.ensure(&key("set-1"), &asked),
            CopyState::Running { .. }
        ));
        let CopyState::Done(report) = ended(&copies, &key("set-1")).await else {
            panic!("the copy failed: {:?}", copies.state(&key("set-1")));
        };
        assert_eq!((report.objects, report.copied), (5, 5));
        assert_eq!(*lock(&ended_keys), vec![key("set-1")]);
        // Asking again reads the result; nothing is copied again.
        assert_eq!(
            copies.ensure(&key("set-1"), &asked),
            CopyState::Done(report)
        );
        assert!(to.join("backup_set_1_full/infos/file.4").is_file());
        copies.forget(&key("set-1"));
        assert_eq!(copies.state(&key("set-1")), None);
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_repeated_copy_passes_again_only_when_its_point_moved_and_reports_what_it_covers() {
        let (from, to) = dirs("repeat");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        let asked = request(&from, &to);
        let key = &key("archive/active");
        let (covered, state) = copies.repeat(key, &asked, 10, Duration::ZERO);
        assert_eq!(covered, None);
        assert!(matches!(state, CopyState::Running { .. }));
        ended(&copies, key).await;
        // Nothing new: the pass stays the last one.
        let (covered, state) = copies.repeat(key, &asked, 10, Duration::ZERO);
        assert_eq!(covered, Some(10));
        assert!(matches!(state, CopyState::Done(_)));
        // The source grew; too soon for another pass.
        std::fs::write(from.join("backup_set_1_full/infos/file.4"), "grown").expect("grow");
        let (covered, state) = copies.repeat(key, &asked, 20, Duration::from_secs(3600));
        assert_eq!(covered, Some(10));
        assert!(matches!(state, CopyState::Done(_)));
        // Now: a new pass, which copies what changed and then covers the new point.
        let (covered, state) = copies.repeat(key, &asked, 20, Duration::ZERO);
        assert_eq!(covered, Some(10));
        assert!(matches!(state, CopyState::Running { .. }));
        let CopyState::Done(report) = ended(&copies, key).await else {
            panic!("the pass failed");
        };
        assert_eq!(report.copied, 1);
        assert_eq!(
            std::fs::read_to_string(to.join("backup_set_1_full/infos/file.4")).expect("copy"),
            "grown"
        );
        assert_eq!(copies.repeat(key, &asked, 20, Duration::ZERO).0, Some(20));
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_verification_finds_a_damaged_object_copies_it_again_and_tells_it_once() {
        let (from, to) = dirs("verify");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        let asked = request(&from, &to);
        copies.ensure(&key("set-1"), &asked);
        ended(&copies, &key("set-1")).await;
        let victim = to.join("backup_set_1_full/infos/file.2");
        let good = std::fs::read(&victim).expect("copied");
        std::fs::write(&victim, b"bit rot").expect("damage");
        let verify = CopyRequest {
            work: Work::Verify,
            ..asked
        };
        copies.ensure(&key("verify"), &verify);
        let CopyState::Done(report) = ended(&copies, &key("verify")).await else {
            panic!("the verification failed");
        };
        assert_eq!((report.damaged, report.copied), (1, 1));
        assert_eq!(std::fs::read(&victim).expect("repaired"), good);
        assert_eq!(copies.take_report(&key("verify")), Some(report));
        assert_eq!(copies.take_report(&key("verify")), None, "told once");
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_copy_that_cannot_be_made_fails_for_good_and_names_no_secret() {
        let (from, to) = dirs("wrong");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        let wrong = CopyRequest {
            to: "ftp://elsewhere/x".into(),
            to_keys: Some(AccessKeys {
                access_id: "id".into(),
                access_key: "the-key".into(),
            }),
            ..request(&from, &to)
        };
        copies.ensure(&key("set-1"), &wrong);
        let CopyState::Failed { message, transient } = ended(&copies, &key("set-1")).await else {
            panic!("an ftp destination cannot be copied to");
        };
        assert!(!transient, "{message}");
        assert!(!message.contains("the-key"), "{message}");
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    /// A second destination spelled as the first with a trailing `/`, or inside it: no copy is made (it
    /// would be "Completed" over nothing), and the refusal does not pass by itself.
    #[tokio::test]
    async fn a_copy_onto_or_into_its_own_source_fails_for_good() {
        let (from, to) = dirs("self");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        let source = format!("file://{}", from.display());
        for (key, onto) in [
            (key("self"), format!("{source}/")),
            (key("inside"), format!("{source}//copy")),
        ] {
            let key = &key;
            let asked = CopyRequest {
                to: onto,
                ..request(&from, &to)
            };
            copies.ensure(key, &asked);
            let CopyState::Failed { message, transient } = ended(&copies, key).await else {
                panic!("{key:?}: copied onto its own source");
            };
            assert!(!transient, "{message}");
            assert!(message.contains("no second copy"), "{message}");
        }
        assert!(!from.join("copy").exists());
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_bandwidth_limit_slows_the_copy_down() {
        let (from, to) = dirs("slow");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        // 50 000 bytes at 20 000 bytes per second, the first 20 000 in one burst: at least 1.5 s (a local
        // copy without the limit ends within the 0.1 s the wait polls at).
        let limited = CopyRequest {
            bandwidth: Some(20_000),
            ..request(&from, &to)
        };
        let started = Instant::now();
        copies.ensure(&key("slow"), &limited);
        assert!(matches!(
            ended(&copies, &key("slow")).await,
            CopyState::Done(_)
        ));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_delete_removes_the_copy_and_only_the_copy() {
        let (from, to) = dirs("delete");
        let copies = Copies::new(Arc::new(|_: &Key| {}));
        copies.ensure(&key("set-1"), &request(&from, &to));
        assert!(matches!(
            ended(&copies, &key("set-1")).await,
            CopyState::Done(_)
        ));
        let delete = CopyRequest {
            work: Work::Delete,
            ..request(&from, &to)
        };
        copies.ensure(&key("strategy/delete/backup_set_1_full"), &delete);
        assert!(matches!(
            ended(&copies, &key("strategy/delete/backup_set_1_full")).await,
            CopyState::Done(_)
        ));
        assert!(!to.join("backup_set_1_full").exists());
        assert!(from.join("backup_set_1_full/infos/file.0").is_file());
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }
}
