//! Logical backup: a consistent dump of a tenant's databases, read through a user of the tenant, and its
//! restore (docs/guide/logical-backup.md).
//!
//! - **Consistent without locks.** The schema is read first, then one snapshot is taken (`current_scn()`)
//!   and every table is read `AS OF SNAPSHOT` it: all tables show the same instant while writers go on.
//! - **Parallel and bounded.** Tables with an integer primary key are split into ranges of about
//!   `chunk_rows` rows; chunks of all tables are read by at most `parallel` connections at once, each
//!   streaming into its object in pieces, so memory does not grow with a table's size.
//! - **Resumable.** The plan (snapshot and chunks) is written before any data; each chunk is followed by a
//!   `.done` record. A dump that restarts reads the plan back and writes only chunks without a record.
//! - **Portable.** Plain SQL, zstd or gzip, one statement per line ([`layout`]).

mod charset;
mod compression;
pub mod dump;
mod grants;
pub mod import;
pub mod job;
pub mod jobs;
pub mod layout;
pub mod load;
pub mod names;
mod records;
pub mod render;
mod requests;
pub mod retention;
mod select;
mod session;
pub mod statements;
pub mod verify;

use crate::{oceanbase::Redactor, storage::StorageError};

pub use dump::dump;
pub use import::import;
pub use load::load;
pub use requests::{DumpReport, DumpRequest, LoadReport, LoadRequest};
pub use verify::{TableCheck, drop_copy, verify};

/// Databases a dump never includes: the server's own.
pub const SYSTEM_DATABASES: [&str; 6] = [
    "information_schema",
    "mysql",
    "oceanbase",
    "performance_schema",
    "sys",
    "__recyclebin",
];

/// Whether `name` is one of the server's own databases.
pub fn is_system_database(name: &str) -> bool {
    SYSTEM_DATABASES
        .iter()
        .any(|system| system.eq_ignore_ascii_case(name))
}

/// What went wrong in a dump or a restore. Texts never hold the password.
#[derive(Debug, thiserror::Error)]
pub enum LogicalError {
    /// The database could not be reached (connect, I/O, timeout): may go away by itself.
    #[error("cannot reach the database: {0}")]
    Unreachable(String),
    /// The database answered with an error.
    #[error("database error {code}: {message}")]
    Server { code: u16, message: String },
    /// The object storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// What was asked for cannot be done (a database that does not exist, a target that is not empty).
    #[error("{0}")]
    Refused(String),
    /// A dump's files are not what the format says.
    #[error("{0}")]
    Format(String),
    /// The user cannot read everything the dump covers (the message names what and why): refused before
    /// anything was written; a grant (or a narrower request) fixes it.
    #[error("{0}")]
    AccessDenied(String),
    /// The request does not fit what it works on (a rename onto a system database or onto another
    /// database, or of a database the dump does not hold): refused before anything was written.
    #[error("{0}")]
    Invalid(String),
    /// The dump's directory holds another owner's dump: refused before anything was written.
    #[error("{0}")]
    Owned(String),
    /// The dump or restore was canceled.
    #[error("canceled")]
    Canceled,
}

impl LogicalError {
    /// An error that may go away by itself: worth retrying, never a reason to call a task Failed.
    pub fn is_transient(&self) -> bool {
        match self {
            LogicalError::Unreachable(_) => true,
            LogicalError::Storage(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Why the work was refused, when it was: for its user's privileges (the engine's answer, or the
    /// dump's own check), or — before anything was written — for a request that does not fit.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            LogicalError::AccessDenied(_) => Some(Refusal::AccessDenied),
            LogicalError::Server { code, .. } if PRIVILEGE_DENIED.contains(code) => {
                Some(Refusal::AccessDenied)
            }
            LogicalError::Invalid(_) => Some(Refusal::Invalid),
            LogicalError::Owned(_) => Some(Refusal::Owned),
            _ => None,
        }
    }

    /// The database's error number, if it answered with one.
    pub fn code(&self) -> Option<u16> {
        match self {
            LogicalError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn from_mysql(error: mysql_async::Error, redactor: &Redactor) -> Self {
        match error {
            mysql_async::Error::Server(e) => LogicalError::Server {
                code: e.code,
                message: redactor.redact(&e.message),
            },
            mysql_async::Error::Io(e) => LogicalError::Unreachable(redactor.redact(&e.to_string())),
            mysql_async::Error::Driver(e) => {
                LogicalError::Unreachable(redactor.redact(&e.to_string()))
            }
            other => LogicalError::Format(redactor.redact(&other.to_string())),
        }
    }

    pub(crate) fn storage(error: &opendal::Error) -> Self {
        LogicalError::Storage(StorageError::io(error))
    }
}

/// MySQL's numbers for a privilege the user lacks (not a failed login), which OceanBase answers with.
const PRIVILEGE_DENIED: [u16; 4] = [1044, 1142, 1143, 1227];

/// Why a dump or restore was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its user lacks a privilege for what it covers: a grant fixes it, and the work is tried again.
    AccessDenied,
    /// The request does not fit (nothing was written): only another request helps.
    Invalid,
    /// Its directory holds another owner's dump (nothing was written).
    Owned,
}

/// Progress of a dump or a restore, reported as chunks finish.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub chunks_done: usize,
    pub chunks_total: usize,
    pub rows_done: u64,
    pub rows_total: u64,
    /// Bytes of SQL (before compression).
    pub bytes_done: u64,
    /// Bytes stored (a dump's compressed objects).
    pub stored_bytes: u64,
    /// Tables and views finished, of `tables_total`.
    pub tables_done: usize,
    pub tables_total: usize,
    /// A dump's snapshot, once its plan is made.
    pub snapshot: Option<layout::SnapshotPoint>,
    pub server_version: Option<String>,
    pub databases: usize,
    /// Whether this run has had an answer from the database yet (a resumed dump reads its plan from
    /// the storage first).
    pub database_reached: bool,
}
