//! What a dump and a restore are asked to do ([`DumpRequest`], [`LoadRequest`]) and what they report when
//! done ([`DumpReport`], [`LoadReport`]): the vocabulary the dump, the selection, the load and the script
//! import share, so that none of them reaches into another for it.

use std::collections::BTreeMap;

use crate::oceanbase::ConnectionInfo;

use super::{
    LogicalError,
    layout::{Compression, DumpOwner, Manifest, SnapshotPoint},
};

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
    /// How the chunks are compressed (a dump that resumes keeps its plan's).
    pub compression: Compression,
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
    /// Every database of the dump loads as `<prefix><name>` (a restore drill's scratch copy, e.g.
    /// `drill_20261126030000_shop`); `None` or empty: under its own name. Never combined with `rename`, and
    /// only for the operator's own dumps, not a SQL script.
    pub database_prefix: Option<String>,
}

impl LoadRequest {
    /// The prefix every database of the dump takes, when there is one.
    pub fn prefix(&self) -> Option<&str> {
        self.database_prefix.as_deref().filter(|p| !p.is_empty())
    }

    /// Refuses a prefix together with a rename: a drill's copy takes every database under its prefix and
    /// nothing else. Checked before anything is sent.
    pub fn refuse_prefix_with_rename(&self) -> Result<(), LogicalError> {
        match self.prefix() {
            Some(prefix) if !self.rename.is_empty() => Err(LogicalError::Invalid(format!(
                "databases load under the prefix {prefix} or under target.logical.renameDatabases, \
                 not both; remove one of them"
            ))),
            _ => Ok(()),
        }
    }

    /// The renames the request asks of the dump's `databases`: its `rename`, or every database to
    /// `<prefix><name>`; refused when it asks for both.
    pub fn renames(&self, databases: &[String]) -> Result<BTreeMap<String, String>, LogicalError> {
        self.refuse_prefix_with_rename()?;
        Ok(match self.prefix() {
            Some(prefix) => databases
                .iter()
                .map(|d| (d.clone(), format!("{prefix}{d}")))
                .collect(),
            None => self.rename.clone(),
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prefix: Option<&str>, rename: &[(&str, &str)]) -> LoadRequest {
        LoadRequest {
            connection: ConnectionInfo {
                host: "127.0.0.1".into(),
                port: 2881,
                user: "loader".into(),
                password: "secret".into(),
                ca_cert: None,
            },
            rename: rename
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            parallel: 1,
            database_prefix: prefix.map(str::to_string),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_prefix_renames_every_database_and_is_never_combined_with_a_rename() {
        let databases = names(&["shop", "crm db"]);
        let prefixed = request(Some("drill_20261126030000_"), &[])
            .renames(&databases)
            .expect("a prefix alone");
        assert_eq!(
            prefixed.values().collect::<Vec<_>>(),
            ["drill_20261126030000_crm db", "drill_20261126030000_shop"]
        );
        let renamed = request(None, &[("shop", "shop2")])
            .renames(&databases)
            .expect("a rename alone");
        assert_eq!(renamed.len(), 1);
        // An empty prefix is none.
        let empty = request(Some(""), &[("shop", "shop2")]);
        assert_eq!(empty.prefix(), None);
        assert_eq!(empty.renames(&databases).expect("no prefix"), renamed);
        let both = request(Some("drill_x_"), &[("shop", "shop2")]);
        assert!(
            matches!(both.renames(&databases), Err(LogicalError::Invalid(m)) if m.contains("not both")),
        );
    }
}
