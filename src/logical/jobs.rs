//! The logical dumps this operator process runs in the background, each under its task's key. A reconcile
//! asks for a dump and reads its state; it never waits for one. A dump that ends calls back with its key, so
//! that its task is looked at again. A dump stopped by an outage is started again (it resumes from its plan)
//! when asked for after [`RETRY_TRANSIENT_AFTER`]; one asked for with other settings (a Secret's new
//! password) is started again at once; one that failed for good is not.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use opendal::Operator;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{DumpReport, DumpRequest, LogicalError, Progress, dump};
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

/// Where a dump stands.
#[derive(Clone, Debug)]
pub enum DumpState {
    Running(Progress),
    Done(DumpReport),
    /// Stopped by an error; `transient` when the database or the storage was unreachable.
    Failed {
        message: String,
        code: Option<u16>,
        transient: bool,
    },
    /// Stopped by [`Jobs::cancel`]; its directory deleted.
    Canceled,
}

/// Called with a dump's key when it ends.
pub type OnEnd = Arc<dyn Fn(&str) + Send + Sync>;

struct Job {
    job: DumpJob,
    progress: Arc<Mutex<Progress>>,
    outcome: Arc<Mutex<Option<(DumpState, Instant)>>>,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

/// The dumps of this process.
pub struct Jobs {
    jobs: Mutex<HashMap<String, Job>>,
    on_end: OnEnd,
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
        }
    }

    /// The state of the dump under `key`, starting it when there is none, when it was asked for with other
    /// settings, or when an outage stopped it a while ago.
    pub fn ensure(&self, key: &str, job: &DumpJob) -> DumpState {
        let mut jobs = lock(&self.jobs);
        if let Some(running) = jobs.get(key) {
            let retry = match &*lock(&running.outcome) {
                Some((DumpState::Failed { transient, .. }, at)) => {
                    *transient && at.elapsed() >= RETRY_TRANSIENT_AFTER
                }
                _ => false,
            };
            if running.job == *job && !retry {
                return running.state();
            }
            running.handle.abort();
        }
        let started = self.start(key, job);
        let state = started.state();
        jobs.insert(key.to_string(), started);
        state
    }

    /// Cancels the dump under `key`: it stops, deletes what it wrote, and ends [`DumpState::Canceled`]. When
    /// this process runs none (it restarted since), what `job` would have written is deleted.
    pub fn cancel(&self, key: &str, job: &DumpJob) -> DumpState {
        let mut jobs = lock(&self.jobs);
        let retry = jobs.get(key).is_some_and(|running| {
            matches!(&*lock(&running.outcome), Some((DumpState::Failed { transient: true, .. }, at))
                if at.elapsed() >= RETRY_TRANSIENT_AFTER)
        });
        match jobs.get(key) {
            Some(running) if !retry => {
                running.cancel.cancel();
                running.state()
            }
            _ => {
                let cancel = CancellationToken::new();
                cancel.cancel();
                let started = self.start_with(key, job, cancel);
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

    fn start(&self, key: &str, job: &DumpJob) -> Job {
        self.start_with(key, job, CancellationToken::new())
    }

    fn start_with(&self, key: &str, job: &DumpJob, cancel: CancellationToken) -> Job {
        let progress = Arc::new(Mutex::new(Progress::default()));
        let outcome = Arc::new(Mutex::new(None));
        let handle = tokio::spawn({
            let (job, progress, outcome, cancel) = (
                job.clone(),
                progress.clone(),
                outcome.clone(),
                cancel.clone(),
            );
            let (key, on_end) = (key.to_string(), self.on_end.clone());
            async move {
                let state = run(&job, &progress, &cancel).await;
                *lock(&outcome) = Some((state, Instant::now()));
                on_end(&key);
            }
        });
        Job {
            job: job.clone(),
            progress,
            outcome,
            cancel,
            handle,
        }
    }
}

impl Job {
    fn state(&self) -> DumpState {
        match &*lock(&self.outcome) {
            Some((state, _)) => state.clone(),
            None => DumpState::Running(lock(&self.progress).clone()),
        }
    }
}

async fn run(
    job: &DumpJob,
    progress: &Arc<Mutex<Progress>>,
    cancel: &CancellationToken,
) -> DumpState {
    let storage = match crate::storage::open(&job.destination, job.keys.as_ref(), job.file_root) {
        Ok(storage) => storage,
        Err(error) => return failed(&LogicalError::Storage(error)),
    };
    if cancel.is_cancelled() {
        // Canceled before it began (in this process): only what an earlier process wrote is to delete.
        return match remove(&storage, &job.directory).await {
            Ok(()) => DumpState::Canceled,
            Err(error) => failed(&error),
        };
    }
    let report = |p: &Progress| *lock(progress) = p.clone();
    match dump(&job.request, &storage, &job.directory, cancel, &report).await {
        Ok(report) => DumpState::Done(report),
        Err(LogicalError::Canceled) => match remove(&storage, &job.directory).await {
            Ok(()) => DumpState::Canceled,
            Err(error) => failed(&error),
        },
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

fn failed(error: &LogicalError) -> DumpState {
    DumpState::Failed {
        message: error.to_string(),
        code: error.code(),
        transient: error.is_transient(),
    }
}
