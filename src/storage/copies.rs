//! The copies this operator process runs in the background, each under a key its controller chooses (a
//! backup set's, an archive piece's). A reconcile asks for a copy and reads its state; it never waits for
//! one. A copy that ends — done, failed, or stopped by an outage — calls back with its key, so that the
//! object it belongs to is looked at again. A copy stopped by an outage is started again (it resumes from
//! its manifest) when asked for after [`RETRY_TRANSIENT_AFTER`]; one that failed for good is not.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

use super::{
    StorageError,
    copy::{Bandwidth, Copier, Progress, Report},
    place::Place,
};
use crate::oceanbase::sql::AccessKeys;

/// A copy stopped by an outage may start again this long after it stopped.
pub const RETRY_TRANSIENT_AFTER: Duration = Duration::from_secs(30);

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

/// Called with a copy's key when it ends.
pub type OnEnd = Arc<dyn Fn(&str) + Send + Sync>;

/// How a copy ended, and when.
type Ended = Arc<Mutex<Option<(Result<Report, StorageError>, Instant)>>>;

struct Job {
    request: CopyRequest,
    progress: Arc<Progress>,
    outcome: Ended,
    handle: JoinHandle<()>,
    /// The point a pass of a repeated copy is as of, and the point the last finished pass covered.
    as_of: u64,
    covered: Option<u64>,
    /// Whether its report was taken ([`Copies::take_report`]).
    taken: bool,
}

/// The copies of this process.
pub struct Copies {
    jobs: Mutex<HashMap<String, Job>>,
    on_end: OnEnd,
}

impl Copies {
    pub fn new(on_end: OnEnd) -> Self {
        Self {
            jobs: Mutex::default(),
            on_end,
        }
    }

    /// The state of the copy under `key`, starting it when there is none, when it asks for something else
    /// than `request` (a destination changed), or when an outage stopped it a while ago.
    pub fn ensure(&self, key: &str, request: &CopyRequest) -> CopyState {
        let mut jobs = lock(&self.jobs);
        if let Some(job) = jobs.get(key) {
            let state = job.state();
            let retry = match &*lock(&job.outcome) {
                Some((Err(e), at)) => e.is_transient() && at.elapsed() >= RETRY_TRANSIENT_AFTER,
                _ => false,
            };
            if job.request == *request && !retry {
                return state;
            }
            job.handle.abort();
        }
        let job = self.start(key, request);
        let state = job.state();
        jobs.insert(key.to_string(), job);
        state
    }

    /// A copy made pass after pass while its source grows (an active archive piece). Each pass is as of a
    /// point the caller names — the checkpoint it read before asking, so that the pass copies at least
    /// everything up to it — and the next pass starts once the last one ended well, the point moved on,
    /// and `gap` has passed (an outage's pass starts again after [`RETRY_TRANSIENT_AFTER`]). Returns the
    /// point the newest finished pass covers, and the state of the current (or last) pass.
    pub fn repeat(
        &self,
        key: &str,
        request: &CopyRequest,
        as_of: u64,
        gap: Duration,
    ) -> (Option<u64>, CopyState) {
        let mut jobs = lock(&self.jobs);
        let mut covered = None;
        if let Some(job) = jobs.get(key).filter(|job| job.request == *request) {
            covered = job.covered;
            let ended = lock(&job.outcome).as_ref().map(|(result, at)| {
                (
                    result
                        .as_ref()
                        .map_err(StorageError::is_transient)
                        .map(|_| ()),
                    *at,
                )
            });
            match ended {
                None => return (covered, job.state()),
                Some((Ok(()), at)) => {
                    covered = Some(job.as_of);
                    if as_of <= job.as_of || at.elapsed() < gap {
                        return (covered, job.state());
                    }
                }
                Some((Err(true), at)) if at.elapsed() >= RETRY_TRANSIENT_AFTER => {}
                Some(_) => return (covered, job.state()),
            }
        }
        if let Some(old) = jobs.remove(key) {
            old.handle.abort();
        }
        let job = Job {
            as_of,
            covered,
            ..self.start(key, request)
        };
        let state = job.state();
        jobs.insert(key.to_string(), job);
        (covered, state)
    }

    /// The report of the copy under `key` once it ended well — once per copy (or pass): a second call
    /// gives nothing, so that what it found is told once.
    pub fn take_report(&self, key: &str) -> Option<Report> {
        let mut jobs = lock(&self.jobs);
        let job = jobs.get_mut(key).filter(|job| !job.taken)?;
        let report = match &*lock(&job.outcome) {
            Some((Ok(report), _)) => report.clone(),
            _ => return None,
        };
        job.taken = true;
        Some(report)
    }

    /// The state of the copy under `key`, if one was asked for.
    pub fn state(&self, key: &str) -> Option<CopyState> {
        lock(&self.jobs).get(key).map(Job::state)
    }

    /// Forgets the copy under `key` (its end is in a status now), stopping it if it still runs.
    pub fn forget(&self, key: &str) {
        if let Some(job) = lock(&self.jobs).remove(key) {
            job.handle.abort();
        }
    }

    fn start(&self, key: &str, request: &CopyRequest) -> Job {
        let progress = Arc::new(Progress::default());
        let outcome = Arc::new(Mutex::new(None));
        let task = {
            let (request, progress, outcome) = (request.clone(), progress.clone(), outcome.clone());
            let (key, on_end) = (key.to_string(), self.on_end.clone());
            async move {
                let result = run(&request, &progress).await;
                if let Err(error) = &result {
                    tracing::warn!(%error, tree = request.tree, work = ?request.work, "work on the second destination stopped");
                }
                *lock(&outcome) = Some((result, Instant::now()));
                on_end(&key);
            }
        };
        Job {
            request: request.clone(),
            progress,
            outcome,
            handle: tokio::spawn(task),
            as_of: 0,
            covered: None,
            taken: false,
        }
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        for job in lock(&self.jobs).values() {
            job.handle.abort();
        }
    }
}

impl Job {
    fn state(&self) -> CopyState {
        match &*lock(&self.outcome) {
            Some((Ok(report), _)) => CopyState::Done(report.clone()),
            Some((Err(error), _)) => CopyState::Failed {
                message: error.to_string(),
                transient: error.is_transient(),
            },
            None => CopyState::Running {
                objects: self.progress.objects.load(Ordering::Relaxed),
                total_objects: self.progress.total_objects.load(Ordering::Relaxed),
                bytes: self.progress.bytes.load(Ordering::Relaxed),
                total_bytes: self.progress.total_bytes.load(Ordering::Relaxed),
            },
        }
    }
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
    let copier = Copier::new(&from, &to, request.concurrency, progress).limited_to(limit.as_ref());
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use super::*;

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

    async fn ended(copies: &Copies, key: &str) -> CopyState {
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
            Arc::new(move |key: &str| lock(&ended_keys).push(key.to_string()))
        });
        let asked = request(&from, &to);
        assert!(matches!(
            copies.ensure("ns/set-1", &asked),
            CopyState::Running { .. }
        ));
        let CopyState::Done(report) = ended(&copies, "ns/set-1").await else {
            panic!("the copy failed: {:?}", copies.state("ns/set-1"));
        };
        assert_eq!((report.objects, report.copied), (5, 5));
        assert_eq!(*lock(&ended_keys), vec!["ns/set-1".to_string()]);
        // Asking again reads the result; nothing is copied again.
        assert_eq!(copies.ensure("ns/set-1", &asked), CopyState::Done(report));
        assert!(to.join("backup_set_1_full/infos/file.4").is_file());
        copies.forget("ns/set-1");
        assert_eq!(copies.state("ns/set-1"), None);
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_repeated_copy_passes_again_only_when_its_point_moved_and_reports_what_it_covers() {
        let (from, to) = dirs("repeat");
        let copies = Copies::new(Arc::new(|_: &str| {}));
        let asked = request(&from, &to);
        let key = "ns/archive/active";
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
        let copies = Copies::new(Arc::new(|_: &str| {}));
        let asked = request(&from, &to);
        copies.ensure("ns/set-1", &asked);
        ended(&copies, "ns/set-1").await;
        let victim = to.join("backup_set_1_full/infos/file.2");
        let good = std::fs::read(&victim).expect("copied");
        std::fs::write(&victim, b"bit rot").expect("damage");
        let verify = CopyRequest {
            work: Work::Verify,
            ..asked
        };
        copies.ensure("ns/verify", &verify);
        let CopyState::Done(report) = ended(&copies, "ns/verify").await else {
            panic!("the verification failed");
        };
        assert_eq!((report.damaged, report.copied), (1, 1));
        assert_eq!(std::fs::read(&victim).expect("repaired"), good);
        assert_eq!(copies.take_report("ns/verify"), Some(report));
        assert_eq!(copies.take_report("ns/verify"), None, "told once");
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }

    #[tokio::test]
    async fn a_copy_that_cannot_be_made_fails_for_good_and_names_no_secret() {
        let (from, to) = dirs("wrong");
        let copies = Copies::new(Arc::new(|_: &str| {}));
        let wrong = CopyRequest {
            to: "ftp://elsewhere/x".into(),
            to_keys: Some(AccessKeys {
                access_id: "id".into(),
                access_key: "the-key".into(),
            }),
            ..request(&from, &to)
        };
        copies.ensure("ns/set-1", &wrong);
        let CopyState::Failed { message, transient } = ended(&copies, "ns/set-1").await else {
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
        let copies = Copies::new(Arc::new(|_: &str| {}));
        let source = format!("file://{}", from.display());
        for (key, onto) in [
            ("ns/self", format!("{source}/")),
            ("ns/inside", format!("{source}//copy")),
        ] {
            let asked = CopyRequest {
                to: onto,
                ..request(&from, &to)
            };
            copies.ensure(key, &asked);
            let CopyState::Failed { message, transient } = ended(&copies, key).await else {
                panic!("{key}: copied onto its own source");
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
        let copies = Copies::new(Arc::new(|_: &str| {}));
        // 50 000 bytes at 20 000 bytes per second, the first 20 000 in one burst: at least 1.5 s (a local
        // copy without the limit ends within the 0.1 s the wait polls at).
        let limited = CopyRequest {
            bandwidth: Some(20_000),
            ..request(&from, &to)
        };
        let started = Instant::now();
        copies.ensure("ns/slow", &limited);
        assert!(matches!(
            ended(&copies, "ns/slow").await,
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
        let copies = Copies::new(Arc::new(|_: &str| {}));
        copies.ensure("ns/set-1", &request(&from, &to));
        assert!(matches!(
            ended(&copies, "ns/set-1").await,
            CopyState::Done(_)
        ));
        let delete = CopyRequest {
            work: Work::Delete,
            ..request(&from, &to)
        };
        copies.ensure("ns/strategy/delete/backup_set_1_full", &delete);
        assert!(matches!(
            ended(&copies, "ns/strategy/delete/backup_set_1_full").await,
            CopyState::Done(_)
        ));
        assert!(!to.join("backup_set_1_full").exists());
        assert!(from.join("backup_set_1_full/infos/file.0").is_file());
        let _ = std::fs::remove_dir_all(from.parent().expect("base"));
    }
}
