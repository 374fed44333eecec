//! What a piece of logical work is asked to do — a dump, a restore, a restore drill's check or drop of the
//! copy it loaded — and what it reports, below both the runner ([`super::jobs`]) and the work itself.

use opendal::Operator;

use super::{DumpReport, DumpRequest, LoadReport, LoadRequest, LogicalError, Progress, Refusal};
use crate::oceanbase::sql::AccessKeys;

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

/// The verdict on one table or view of the dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCheck {
    /// `database.name`, as the dump names it.
    pub table: String,
    pub passed: bool,
    /// What was found: how many rows equal the dump, or the first chunk that differs and how.
    pub message: String,
}

/// The state of work stopped by `error`.
pub(crate) fn failed(error: &LogicalError) -> JobState {
    JobState::Failed {
        message: error.to_string(),
        code: error.code(),
        transient: error.is_transient(),
        unreachable_database: matches!(error, LogicalError::Unreachable(_)),
        refusal: error.refusal(),
    }
}
