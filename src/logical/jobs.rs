//! The logical dumps and restores this operator process runs in the background, each under its task's key.
//! A reconcile asks for one and reads its state; it never waits for one. One that ends calls back with its
//! key, so that its task is looked at again. One stopped by an outage, or a dump refused for a privilege
//! its user lacks (a grant since may have lifted it), is started again (a dump resumes from its plan) when
//! asked for after [`RETRY_TRANSIENT_AFTER`]; one asked for with other settings (a Secret's new password) is started
//! again at once; one that failed for good is not.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use opendal::Operator;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    DumpReport, DumpRequest, LoadReport, LoadRequest, LogicalError, Progress, Refusal, dump,
    import, load,
};
use crate::oceanbase::sql::AccessKeys;

/// A dump stopped by an outage may start again this long after it stopped.
pub const RETRY_TRANSIENT_AFTER: Duration = Duration::from_secs(30);

/// A dump to run: what to read, and where to write it.
#[derive(Clone, Debug, PartialEq)]
pub struct DumpJob {
    pub request: DumpRequest,
    /// The destination URI the dump's directory lies under, and its keys.
    pub destination: String,
    pub keys: Option<AccessKeys>,
    /// The dump's directory under the destination.
    pub directory: String,
    /// Where `file://` destinations are reached in this process.
    pub file_root: Option<&'static std::path::Path>,
}

/// A restore to run: the dump (or SQL script) to load, and where it lies.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadJob {
    pub request: LoadRequest,
    /// The destination URI the dump lies under, and its keys.
    pub source: String,
    pub keys: Option<AccessKeys>,
    /// The dump's directory, or a SQL script's path (`.sql`, `.sql.gz`), under the destination.
    pub path: String,
    pub file_root: Option<&'static std::path::Path>,
}

impl LoadJob {
    /// Whether it loads a SQL script rather than one of the operator's dumps.
    pub fn is_script(&self) -> bool {
        self.path.ends_with(".sql") || self.path.ends_with(".sql.gz")
    }
}

/// Background work: a dump or a restore.
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    Dump(DumpJob),
    Load(LoadJob),
}

/// What finished work reports.
#[derive(Clone, Debug)]
pub enum Finished {
    Dumped(Box<DumpReport>),
    Loaded(LoadReport),
}

/// Where a dump or restore stands.
#[derive(Clone, Debug)]
pub enum JobState {
    Running(Progress),
    Done(Finished),
    /// Stopped by an error; `transient` when the database or the storage was unreachable,
    /// `unreachable_database` when it was the database; `refusal` when it was refused before it wrote
    /// anything.
    Failed {
        message: String,
        code: Option<u16>,
        transient: bool,
        unreachable_database: bool,
        refusal: Option<Refusal>,
    },
    /// Stopped by [`Jobs::cancel`]; a dump's directory deleted (a restore leaves what it loaded).
    Canceled,
}

/// Called with a dump's key when it ends.
pub type OnEnd = Arc<dyn Fn(&str) + Send + Sync>;

struct Job {
    work: Work,
    /// The outage this job retries after: its state until the retry has an answer from the database, so
    /// that a retry still connecting does not read as work under way (and its task's status does not
    /// flap while the outage lasts).
    retrying: Option<JobState>,
    progress: Arc<Mutex<Progress>>,
    outcome: Arc<Mutex<Option<(JobState, Instant)>>>,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

/// The dumps of this process.
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
    on_end: OnEnd,
    /// [`RETRY_TRANSIENT_AFTER`], shorter in tests.
    retry_after: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Jobs {
    pub fn new(on_end: OnEnd) -> Self {
        Self {
            jobs: Mutex::default(),
            on_end,
            retry_after: RETRY_TRANSIENT_AFTER,
        }
    }

    /// The state of the dump under `key`, starting it when there is none, when it was asked for with other
    /// settings, or when an outage stopped it a while ago.
    pub fn ensure(&self, key: &str, work: &Work) -> JobState {
        let mut jobs = lock(&self.jobs);
        let mut retrying = None;
        if let Some(running) = jobs.get(key) {
            let outage = running.outage_over(self.retry_after);
            if running.work == *work && outage.is_none() {
                return running.state();
            }
            // The same work again after an outage: it reads as that outage until it gets further.
            retrying = outage.filter(|_| running.work == *work);
            running.handle.abort();
        }
        let mut started = self.start(key, work);
        started.retrying = retrying;
        let state = started.state();
        jobs.insert(key.to_string(), started);
        state
    }

    /// Cancels the work under `key`: it stops and ends [`JobState::Canceled`] (a dump deletes what it wrote).
    /// When this process runs none (it restarted since), what a dump of `work` would have written is
    /// deleted.
    pub fn cancel(&self, key: &str, work: &Work) -> JobState {
        let mut jobs = lock(&self.jobs);
        match jobs.get(key) {
            Some(running) if running.outage_over(self.retry_after).is_none() => {
                running.cancel.cancel();
                running.state()
            }
            _ => {
                let cancel = CancellationToken::new();
                cancel.cancel();
                let started = self.start_with(key, work, cancel);
                let state = started.state();
                jobs.insert(key.to_string(), started);
                state
            }
        }
    }

    /// Forgets the dump under `key` (its end is in a status now), stopping it if it still runs.
    pub fn forget(&self, key: &str) {
        if let Some(job) = lock(&self.jobs).remove(key) {
            job.handle.abort();
        }
    }

    fn start(&self, key: &str, work: &Work) -> Job {
        self.start_with(key, work, CancellationToken::new())
    }

    fn start_with(&self, key: &str, work: &Work, cancel: CancellationToken) -> Job {
        let progress = Arc::new(Mutex::new(Progress::default()));
        let outcome = Arc::new(Mutex::new(None));
        let handle = tokio::spawn({
            let (work, progress, outcome, cancel) = (
                work.clone(),
                progress.clone(),
                outcome.clone(),
                cancel.clone(),
            );
            let (key, on_end) = (key.to_string(), self.on_end.clone());
            async move {
                let state = match &work {
                    Work::Dump(job) => run(job, &progress, &cancel).await,
                    Work::Load(job) => run_load(job, &progress, &cancel).await,
                };
                *lock(&outcome) = Some((state, Instant::now()));
                on_end(&key);
            }
        });
        Job {
            work: work.clone(),
            retrying: None,
            progress,
            outcome,
            cancel,
            handle,
        }
    }
}

impl Job {
    /// The failure that ended it, when that was an outage — or a refusal for access, which a grant made
    /// since may have lifted — at least `after` ago (time to start again).
    fn outage_over(&self, after: Duration) -> Option<JobState> {
        match &*lock(&self.outcome) {
            Some((failed, at)) if worth_retrying(&self.work, failed) && at.elapsed() >= after => {
                Some(failed.clone())
            }
            _ => None,
        }
    }

    fn state(&self) -> JobState {
        match &*lock(&self.outcome) {
            Some((state, _)) => state.clone(),
            None => {
                let progress = lock(&self.progress).clone();
                match &self.retrying {
                    Some(earlier) if !progress.database_reached => earlier.clone(),
                    _ => JobState::Running(progress),
                }
            }
        }
    }
}

async fn run(
    job: &DumpJob,
    progress: &Arc<Mutex<Progress>>,
    cancel: &CancellationToken,
) -> JobState {
    let storage = match crate::storage::open(&job.destination, job.keys.as_ref(), job.file_root) {
        Ok(storage) => storage,
        Err(error) => return failed(&LogicalError::Storage(error)),
    };
    if cancel.is_cancelled() {
        // Canceled before it began (in this process): only what an earlier process wrote is to delete —
        // never another owner's dump.
        if let Err(error) =
            super::dump::claim(&storage, &job.directory, job.request.owner.as_ref()).await
        {
            return failed(&error);
        }
        return match remove(&storage, &job.directory).await {
            Ok(()) => JobState::Canceled,
            Err(error) => failed(&error),
        };
    }
    let report = |p: &Progress| *lock(progress) = p.clone();
    match dump(&job.request, &storage, &job.directory, cancel, &report).await {
        Ok(report) => JobState::Done(Finished::Dumped(Box::new(report))),
        Err(LogicalError::Canceled) => match remove(&storage, &job.directory).await {
            Ok(()) => JobState::Canceled,
            Err(error) => failed(&error),
        },
        Err(error) => failed(&error),
    }
}

async fn run_load(
    job: &LoadJob,
    progress: &Arc<Mutex<Progress>>,
    cancel: &CancellationToken,
) -> JobState {
    if cancel.is_cancelled() {
        return JobState::Canceled;
    }
    let storage = match crate::storage::open(&job.source, job.keys.as_ref(), job.file_root) {
        Ok(storage) => storage,
        Err(error) => return failed(&LogicalError::Storage(error)),
    };
    let report = |p: &Progress| *lock(progress) = p.clone();
    let loaded = if job.is_script() {
        import(&job.request, &storage, &job.path, cancel, &report).await
    } else {
        load(&job.request, &storage, &job.path, cancel, &report).await
    };
    match loaded {
        Ok(report) => JobState::Done(Finished::Loaded(report)),
        Err(LogicalError::Canceled) => JobState::Canceled,
        Err(error) => failed(&error),
    }
}

async fn remove(storage: &Operator, directory: &str) -> Result<(), LogicalError> {
    let directory = format!("{}/", directory.trim_matches('/'));
    storage
        .delete_with(&directory)
        .recursive(true)
        .await
        .map_err(|e| LogicalError::storage(&e))
}

/// Whether `work` that ended in `state` is started again after a while: after an outage, or — a dump, which
/// resumes from its plan — after a refusal for a privilege its user lacks (a grant since may have lifted
/// it; a failed login waits for a new Secret). A load refused half-way is not: its next attempt would find
/// what it loaded.
fn worth_retrying(work: &Work, state: &JobState) -> bool {
    match state {
        JobState::Failed {
            transient: true, ..
        } => true,
        JobState::Failed {
            refusal: Some(Refusal::AccessDenied),
            ..
        } => matches!(work, Work::Dump(_)),
        _ => false,
    }
}

fn failed(error: &LogicalError) -> JobState {
    JobState::Failed {
        message: error.to_string(),
        code: error.code(),
        transient: error.is_transient(),
        unreachable_database: matches!(error, LogicalError::Unreachable(_)),
        refusal: error.refusal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::ConnectionInfo;

    /// A dump of a database that refuses connections, into a fresh directory.
    fn unreachable_dump() -> Work {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("address").port();
        drop(closed);
        // Nothing is written: the dump fails before its plan.
        let root = std::env::temp_dir().join(format!("jobs-test-{}", std::process::id()));
        Work::Dump(DumpJob {
            request: DumpRequest {
                connection: ConnectionInfo {
                    host: "127.0.0.1".into(),
                    port,
                    user: "dumper".into(),
                    password: "secret".into(),
                    ca_cert: None,
                },
                databases: vec![],
                tables: vec![],
                parallel: 1,
                chunk_rows: 10,
                owner: None,
            },
            destination: format!("file://{}", root.display()),
            keys: None,
            directory: "logical/d".into(),
            file_root: None,
        })
    }

    async fn until_failed(jobs: &Jobs, work: &Work) -> JobState {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = jobs.ensure("ns/d", work);
            if matches!(state, JobState::Failed { .. }) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "the dump never failed: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn outages_and_a_dumps_missing_privileges_are_retried_and_nothing_else() {
        let dump = unreachable_dump();
        let server = |code| {
            failed(&LogicalError::Server {
                code,
                message: "denied".into(),
            })
        };
        let down = failed(&LogicalError::Unreachable("down".into()));
        assert!(worth_retrying(&dump, &down));
        let unreadable = failed(&LogicalError::AccessDenied("shop.secrets".into()));
        assert!(worth_retrying(&dump, &unreadable));
        assert!(worth_retrying(&dump, &server(1142)), "a grant fixes it");
        assert!(
            !worth_retrying(&dump, &server(1045)),
            "a login waits for a new Secret"
        );
        assert!(!worth_retrying(&dump, &server(1064)));
        for refused in [
            LogicalError::Invalid("x".into()),
            LogicalError::Owned("y".into()),
        ] {
            assert!(!worth_retrying(&dump, &failed(&refused)), "{refused}");
        }
        let Work::Dump(job) = &dump else {
            panic!("a dump")
        };
        let load = Work::Load(LoadJob {
            request: LoadRequest {
                connection: job.request.connection.clone(),
                rename: Default::default(),
                parallel: 1,
            },
            source: job.destination.clone(),
            keys: None,
            path: "logical/d".into(),
            file_root: None,
        });
        assert!(worth_retrying(&load, &down));
        assert!(
            !worth_retrying(&load, &server(1142)),
            "a load denied half-way would find what it loaded"
        );
    }

    #[tokio::test]
    async fn a_retry_still_connecting_reads_as_the_outage_it_retries() {
        let mut jobs = Jobs::new(Arc::new(|_: &str| {}));
        let work = unreachable_dump();
        let JobState::Failed {
            transient: true,
            unreachable_database: true,
            message,
            ..
        } = until_failed(&jobs, &work).await
        else {
            panic!("an unreachable database is a transient outage of the database");
        };
        assert!(!message.contains("secret"), "{message}");
        jobs.retry_after = Duration::ZERO;
        // Asked for again past the retry window: a new attempt starts, and until it has an answer from
        // the database it reads as the outage it retries, not as a dump under way.
        for _ in 0..20 {
            let state = jobs.ensure("ns/d", &work);
            assert!(
                matches!(
                    state,
                    JobState::Failed {
                        unreachable_database: true,
                        ..
                    }
                ),
                "{state:?}"
            );
        }
    }
}
