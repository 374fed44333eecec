//! What a dump and a restore are asked to do ([`DumpRequest`], [`LoadRequest`]) and what they report when
//! done ([`DumpReport`], [`LoadReport`]): the vocabulary the dump, the selection, the load and the script
//! import share, so that none of them reaches into another for it.

use std::collections::BTreeMap;

use crate::oceanbase::ConnectionInfo;

use super::layout::{DumpOwner, Manifest, SnapshotPoint};

/// What to dump and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpRequest {
    /// A user of the tenant (logical backup reads through the tenant, not sys).
    pub connection: ConnectionInfo,
    /// Databases to dump; empty: every user database.
    pub databases: Vec<String>,
    /// Tables to dump as `database.table`; empty: every table and view of the databases.
    pub tables: Vec<String>,
    /// Sessions reading at once.
    pub parallel: usize,
    /// Rows per chunk of a table with an integer primary key.
    pub chunk_rows: u64,
    /// Whose dump it is, recorded in its plan and manifest: a dump never writes into a directory that
    /// records another owner. `None`: a dump taken without a task (tests, tools).
    pub owner: Option<DumpOwner>,
}

/// A finished dump.
#[derive(Clone, Debug)]
pub struct DumpReport {
    pub manifest: Manifest,
    /// Chunks this run wrote.
    pub chunks_written: usize,
    /// Chunks an earlier run had finished, not read again.
    pub chunks_resumed: usize,
}

/// Where to restore a dump and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRequest {
    /// A user of the target tenant allowed to create its databases.
    pub connection: ConnectionInfo,
    /// Databases restored under another name: dump's name → target's name.
    pub rename: BTreeMap<String, String>,
    /// Sessions loading at once.
    pub parallel: usize,
}

/// A finished restore.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The dump's snapshot (none for a SQL script).
    pub snapshot: Option<SnapshotPoint>,
    pub rows: u64,
    pub bytes: u64,
    pub tables: usize,
    pub views: usize,
}
