//! Logical dumps and restores — and a restore drill's verification and drop of its copy — as background
//! work ([`crate::background`]) under their task's key: what each is asked to do, how it runs ([`run`]),
//! and how its state reads. One stopped by an outage, or a dump
//! refused for a privilege its user lacks (a grant since may have lifted it), is started again (a dump
//! resumes from its plan); one asked for with other settings (a Secret's new password) is started again at
//! once; one that failed for good is not. A retry still connecting reads as the outage it retries.

mod run;

use std::sync::{Arc, Mutex};

use opendal::Operator;
use tokio_util::sync::CancellationToken;

use super::{
    DumpReport, DumpRequest, LoadReport, LoadRequest, LogicalError, Progress, Refusal,
    verify::TableCheck,
};
use crate::{background::Background, oceanbase::sql::AccessKeys, sync::lock};

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

impl DumpJob {
    /// The storage the dump's directory lies in.
    pub(crate) fn storage(&self) -> Result<Operator, LogicalError> {
        crate::storage::open(&self.destination, self.keys.as_ref(), self.file_root)
            .map_err(LogicalError::Storage)
    }
}

/// A restore to run: the dump (or SQL script) to load, and where it lies; a restore drill's verification
/// and drop of the copy it loaded name the same.
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

    /// The storage the dump (or script) lies in.
    pub(crate) fn storage(&self) -> Result<Operator, LogicalError> {
        crate::storage::open(&self.source, self.keys.as_ref(), self.file_root)
            .map_err(LogicalError::Storage)
    }
}

/// Background work: a dump, a restore, or a restore drill's verification or drop of the copy a restore
/// loaded ([`super::verify`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    Dump(DumpJob),
    Load(LoadJob),
    Verify(LoadJob),
    DropCopy(LoadJob),
}

/// What finished work reports.
#[derive(Clone, Debug)]
pub enum Finished {
    Dumped(Box<DumpReport>),
    Loaded(LoadReport),
    /// One check per table and view of the dump.
    Verified(Vec<TableCheck>),
    /// The copy's databases, gone.
    Dropped(Vec<String>),
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
    /// Stopped by [`Background::cancel`]; a dump's directory deleted (a restore leaves what it loaded).
    Canceled,
}

/// The logical work of this process.
pub type Jobs = Background<Work>;

impl crate::background::Work for Work {
    type Progress = Mutex<Progress>;
    type State = JobState;

    async fn run(self, progress: Arc<Mutex<Progress>>, cancel: CancellationToken) -> JobState {
        match &self {
            Work::Dump(job) => run::run_dump(job, &progress, &cancel).await,
            Work::Load(job) => run::run_load(job, &progress, &cancel).await,
            Work::Verify(job) => run::run_verify(job, &cancel).await,
            Work::DropCopy(job) => run::run_drop(job, &cancel).await,
        }
    }

    fn running(&self, progress: &Mutex<Progress>, retrying: Option<&JobState>) -> JobState {
        let progress = lock(progress).clone();
        match retrying {
            Some(earlier) if !progress.database_reached => earlier.clone(),
            _ => JobState::Running(progress),
        }
    }

    fn worth_retrying(&self, state: &JobState) -> bool {
        worth_retrying(self, state)
    }

    fn succeeded(state: &JobState) -> bool {
        matches!(state, JobState::Done(_))
    }
}

/// Whether `work` that ended in `state` is started again after a while: after an outage, or — a dump, which
/// resumes from its plan — after a refusal for a privilege its user lacks (a grant since may have lifted
/// it; a failed login waits for a new Secret). A load refused half-way is not: its next attempt would find
/// what it loaded. A drill's verification and drop are retried after an outage, as a load is.
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
mod tests;
