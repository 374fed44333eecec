//! Logical dumps and restores — and a restore drill's verification and drop of its copy — as background
//! work ([`crate::background`]) under their task's key: what each is asked to do, how it runs ([`run`]),
//! and how its state reads. One stopped by an outage, or a dump
//! refused for a privilege its user lacks (a grant since may have lifted it), is started again (a dump
//! resumes from its plan); one asked for with other settings (a Secret's new password) is started again at
//! once; one that failed for good is not. A retry still connecting reads as the outage it retries.

mod run;

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub use super::job::{DumpJob, Finished, JobState, LoadJob};
use super::{Progress, Refusal};
use crate::{background::Background, sync::lock};

/// Background work: a dump, a restore, or a restore drill's verification or drop of the copy a restore
/// loaded ([`super::verify`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    Dump(DumpJob),
    Load(LoadJob),
    Verify(LoadJob),
    DropCopy(LoadJob),
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

#[cfg(test)]
mod tests;
