//! How each kind of logical work runs, and the state it ends in.

use std::sync::{Arc, Mutex};

use opendal::Operator;
use tokio_util::sync::CancellationToken;

use crate::logical::job::{DumpJob, Finished, JobState, LoadJob, failed};
use crate::{
    logical::{LogicalError, Progress, dump, import, load, verify},
    sync::lock,
};

pub(super) async fn run_dump(
    job: &DumpJob,
    progress: &Arc<Mutex<Progress>>,
    cancel: &CancellationToken,
) -> JobState {
    let storage = match job.storage() {
        Ok(storage) => storage,
        Err(error) => return failed(&error),
    };
    if cancel.is_cancelled() {
        // Canceled before it began (in this process): only what an earlier process wrote is to delete —
        // never another owner's dump.
        if let Err(error) =
            crate::logical::dump::claim(&storage, &job.directory, job.request.owner.as_ref()).await
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

pub(super) async fn run_load(
    job: &LoadJob,
    progress: &Arc<Mutex<Progress>>,
    cancel: &CancellationToken,
) -> JobState {
    if cancel.is_cancelled() {
        return JobState::Canceled;
    }
    let storage = match job.storage() {
        Ok(storage) => storage,
        Err(error) => return failed(&error),
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

/// Verifies a restore drill's copy against the dump it was loaded from.
pub(super) async fn run_verify(job: &LoadJob, cancel: &CancellationToken) -> JobState {
    match verify::verify(job, cancel).await {
        Ok(checks) => JobState::Done(Finished::Verified(checks)),
        Err(LogicalError::Canceled) => JobState::Canceled,
        Err(error) => failed(&error),
    }
}

/// Drops a restore drill's copy. Not canceled once begun: a half-dropped copy is dropped again.
pub(super) async fn run_drop(job: &LoadJob, cancel: &CancellationToken) -> JobState {
    if cancel.is_cancelled() {
        return JobState::Canceled;
    }
    match verify::drop_copy(job).await {
        Ok(dropped) => JobState::Done(Finished::Dropped(dropped)),
        Err(error) => failed(&error),
    }
}
