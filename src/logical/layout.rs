//! What a logical dump leaves in its directory, and where (docs/guide/logical-backup.md, "The dump
//! format"):
//!
//! ```text
//! <dump>/plan.json                       the snapshot and every chunk to write (written first)
//! <dump>/schema/<db>.sql                 CREATE DATABASE
//! <dump>/schema/<db>/<table>.sql         CREATE TABLE (indexes, auto-increment included)
//! <dump>/schema/<db>/<view>.view.sql     CREATE VIEW
//! <dump>/data/<db>/<table>/<n>.sql.zst   one chunk's rows as INSERT statements, zstd (`.sql.gz`, gzip:
//!                                        dumps of earlier versions, and `compression: Gzip`; `.sql`, plain:
//!                                        `compression: None`)
//! <dump>/data/<db>/<table>/<n>.done      the chunk's rows, bytes and SHA-256 (written after the chunk)
//! <dump>/load-order.txt                  every SQL file above, in the order that loads them
//! <dump>/manifest.json                   the whole dump's summary (written last: a dump without it is not done)
//! ```
//!
//! Every file loads with standard MySQL tooling, in the order `load-order.txt` gives (databases, tables,
//! rows, views): `while read -r f; do case $f in *.zst) zstdcat "$f";; *.gz) zcat "$f";; *) cat "$f";; esac;
//! done < load-order.txt | mysql -h … -u user@tenant -p`.
//! Names are percent-encoded where they hold anything but letters, digits, `_`, `-` and `$`.

use serde::{Deserialize, Serialize};

pub use super::compression::Compression;

/// The format's version, in the plan and the manifest.
pub const FORMAT_VERSION: u32 = 1;

/// A path segment for a database or object name.
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn plan_path(dump: &str) -> String {
    format!("{dump}/plan.json")
}

pub fn load_order_path(dump: &str) -> String {
    format!("{dump}/load-order.txt")
}

/// The dump's SQL files, relative to its directory, in the order that loads them.
pub fn load_order(plan: &Plan) -> Vec<String> {
    let relative = |path: String| path.trim_start_matches('/').to_string();
    let mut files: Vec<String> = plan
        .databases
        .iter()
        .map(|d| relative(database_schema_path("", &d.name)))
        .collect();
    let (tables, views): (Vec<&ObjectPlan>, Vec<&ObjectPlan>) = plan
        .objects
        .iter()
        .partition(|o| o.kind == ObjectKind::Table);
    files.extend(tables.iter().map(|t| relative(object_schema_path("", t))));
    for table in &tables {
        files.extend(
            (0..table.chunks.len()).map(|c| relative(chunk_path("", plan.compression, table, c))),
        );
    }
    files.extend(views.iter().map(|v| relative(object_schema_path("", v))));
    files
}

pub fn manifest_path(dump: &str) -> String {
    format!("{dump}/manifest.json")
}

pub fn database_schema_path(dump: &str, database: &str) -> String {
    format!("{dump}/schema/{}.sql", segment(database))
}

pub fn object_schema_path(dump: &str, object: &ObjectPlan) -> String {
    let suffix = match object.kind {
        ObjectKind::Table => "sql",
        ObjectKind::View => "view.sql",
    };
    format!(
        "{dump}/schema/{}/{}.{suffix}",
        segment(&object.database),
        segment(&object.name)
    )
}

/// Where chunk `chunk` of `object` is, compressed with the dump's `compression`.
pub fn chunk_path(
    dump: &str,
    compression: Compression,
    object: &ObjectPlan,
    chunk: usize,
) -> String {
    format!(
        "{dump}/data/{}/{}/{chunk:05}{}",
        segment(&object.database),
        segment(&object.name),
        compression.suffix()
    )
}

pub fn chunk_done_path(dump: &str, object: &ObjectPlan, chunk: usize) -> String {
    format!(
        "{dump}/data/{}/{}/{chunk:05}.done",
        segment(&object.database),
        segment(&object.name)
    )
}

/// A table or a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectKind {
    Table,
    View,
}

/// One range of a table's rows, by its integer primary key: `from <= key < to` (open where absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkPlan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i128>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i128>,
}

/// A column written in the data: its name, `information_schema` data type and character set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnPlan {
    pub name: String,
    pub data_type: String,
    /// `information_schema`'s `CHARACTER_SET_NAME`: none for a column that holds no text, and in the dumps of
    /// earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

/// A table or view of the dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPlan {
    pub database: String,
    pub name: String,
    pub kind: ObjectKind,
    /// The statement that creates it, as the server showed it.
    pub ddl: String,
    /// Stored columns, in order (generated columns are left to the server); empty for a view.
    #[serde(default)]
    pub columns: Vec<ColumnPlan>,
    /// The integer primary key the chunks range over, if the table has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_key: Option<String>,
    /// Rows the engine estimated when the plan was made (the chunks' sizes follow it); the rows dumped are
    /// the chunks' own counts.
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub chunks: Vec<ChunkPlan>,
}

/// A database of the dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabasePlan {
    pub name: String,
    pub ddl: String,
}

/// The snapshot every table is read at: OceanBase's SCN and its time (the console's "data version").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotPoint {
    pub scn: u64,
    /// RFC 3339, UTC.
    pub time: String,
}

/// Who a dump belongs to: the BackupTask that writes it. A dump never writes into (or, canceled, deletes) a
/// directory whose plan or manifest names another owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DumpOwner {
    pub namespace: String,
    /// The BackupTask's name and uid: the uid tells a task from one made again under its name, or from one
    /// of the same name in another Kubernetes cluster.
    pub task: String,
    pub uid: String,
    /// The cluster (as the task names it) and tenant dumped.
    pub cluster: String,
    pub tenant: String,
}

impl DumpOwner {
    /// Whether `other` is the same owner.
    pub fn same(&self, other: &DumpOwner) -> bool {
        self.uid == other.uid
    }
}

impl std::fmt::Display for DumpOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BackupTask {}/{} (uid {}), tenant {} of cluster {}",
            self.namespace, self.task, self.uid, self.tenant, self.cluster
        )
    }
}

/// Everything a dump will write, fixed before any data is read; a dump that restarts reads it back and
/// writes only the chunks that are not done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format_version: u32,
    pub snapshot: SnapshotPoint,
    /// The server's `ob_version()`.
    pub server_version: String,
    /// When the dump began by the operator's clock (RFC 3339), the clock its schedule and retention run
    /// on. Absent in dumps of earlier versions: retention then counts from the snapshot's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Whose dump it is (absent in dumps of earlier versions and in dumps taken without a task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<DumpOwner>,
    /// How the chunks are compressed (absent in dumps of earlier versions: gzip).
    #[serde(default)]
    pub compression: Compression,
    pub databases: Vec<DatabasePlan>,
    pub objects: Vec<ObjectPlan>,
}

impl Plan {
    pub fn chunk_count(&self) -> usize {
        self.objects.iter().map(|o| o.chunks.len()).sum()
    }

    pub fn total_rows(&self) -> u64 {
        self.objects.iter().map(|o| o.rows).sum()
    }
}

/// A written chunk: what its `.done` file and the manifest record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkDone {
    pub rows: u64,
    /// Bytes of SQL before compression.
    pub bytes: u64,
    /// Bytes of the compressed object.
    pub stored_bytes: u64,
    /// SHA-256 of the SQL before compression, hex.
    pub sha256: String,
}

/// A table's or view's entry in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectManifest {
    pub database: String,
    pub name: String,
    pub kind: ObjectKind,
    pub rows: u64,
    pub chunks: Vec<ChunkDone>,
}

/// A finished dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format_version: u32,
    pub snapshot: SnapshotPoint,
    pub server_version: String,
    /// The plan's `startedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The plan's `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<DumpOwner>,
    /// The plan's `compression`.
    #[serde(default)]
    pub compression: Compression,
    pub databases: Vec<String>,
    pub objects: Vec<ObjectManifest>,
    pub rows: u64,
    pub bytes: u64,
    pub stored_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_path_segments_that_cannot_climb_or_collide() {
        assert_eq!(segment("orders_2026"), "orders_2026");
        assert_eq!(segment("../etc"), "%2E%2E%2Fetc");
        assert_eq!(segment("a b"), "a%20b");
        assert_ne!(segment("a%20b"), segment("a b"));
        assert_eq!(segment("表"), "%E8%A1%A8");
    }
}
