//! Logical dumps and restores, as background work ([`crate::background`]) under their task's key: what a
//! dump or restore is asked to do, how it runs, and how its state reads. One stopped by an outage, or a dump
//! refused for a privilege its user lacks (a grant since may have lifted it), is started again (a dump
//! resumes from its plan); one asked for with other settings (a Secret's new password) is started again at
//! once; one that failed for good is not. A retry still connecting reads as the outage it retries.

use std::sync::{Arc, Mutex};

use opendal::Operator;
use tokio_util::sync::CancellationToken;

use super::{
    DumpReport, DumpRequest, LoadReport, LoadRequest, LogicalError, Progress, Refusal, dump,
    import, load,
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
            Work::Dump(job) => run(job, &progress, &cancel).await,
            Work::Load(job) => run_load(job, &progress, &cancel).await,
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
    use std::time::{Duration, Instant};

    use crate::oceanbase::ConnectionInfo;

    fn key() -> crate::background::Key {
        crate::background::Key::of("ns", "d")
    }

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
            let state = jobs.ensure(&key(), work);
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
        let mut jobs = Jobs::new(Arc::new(|_: &crate::background::Key| {}));
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
        jobs.retry_after(Duration::ZERO);
        // Asked for again past the retry window: a new attempt starts, and until it has an answer from
        // the database it reads as the outage it retries, not as a dump under way.
        for _ in 0..20 {
            let state = jobs.ensure(&key(), &work);
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
