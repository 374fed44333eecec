//! Types of logical backup (docs/guide/logical-backup.md): what a dump reads and as whom, and what
//! its status shows.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

use kube::{
    KubeSchema,
    core::{Message, Rule},
};

use super::common::StorageDestination;
use crate::logical::SYSTEM_DATABASES;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a logical backup dumps, and as whom.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = login_rule())]
pub struct LogicalBackupSpec {
    /// Name of a Secret with keys `user` and `password` of a user of the tenant who may read what is dumped
    /// (`SELECT`, `SHOW VIEW`). A logical backup reads through the tenant, never as sys. A `user` without
    /// `@` is a user of the task's tenant (`user@tenant`); host and port are the cluster connection Secret's.
    /// Set this or `obTenant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub credentials_secret: Option<String>,
    /// Name of the OBTenant (ob-operator's, in this namespace) of the tenant: the dump logs in as the
    /// tenant's `root`, with the password of the Secret the OBTenant's status names (which ob-operator
    /// rewrites when the password changes). A strategy's tenants must be that one tenant. Set this or
    /// `credentialsSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub ob_tenant: Option<String>,
    /// Databases to dump. Empty: every user database of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 128)))]
    pub databases: Vec<String>,
    /// Tables (or views) to dump, each as `database.table`. Empty: every table and view of the databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024), inner(length(min = 3, max = 257)))]
    #[x_kube(validation = Rule::new("self.all(t, t.contains('.'))").message("each of tables must be database.table"))]
    pub tables: Vec<String>,
    /// Sessions reading at once: the most load the dump puts on the tenant.
    #[serde(default = "default_parallel")]
    #[schemars(range(min = 1, max = 16))]
    pub parallel: i32,
    /// Rows per chunk of a table with an integer primary key: a chunk is read, written and resumed as one.
    #[serde(default = "default_chunk_rows")]
    #[schemars(range(min = 1000, max = 100_000_000))]
    pub chunk_rows: i64,
    /// How the dump's chunks are compressed: `Zstd` (`.sql.zst`, read by `zstdcat`), `Gzip` (`.sql.gz`, read
    /// by `zcat`) or `None` (`.sql`, plain SQL about twice the size: for storage that compresses by itself).
    /// zstd writes and reads several times faster than gzip at a like size. A restore reads any of them.
    #[serde(default)]
    pub compression: DumpCompression,
}

/// A logical dump's compression.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DumpCompression {
    /// zstd, level 1: the fastest to write and to read.
    #[default]
    Zstd,
    /// gzip, its fastest level: for tools that read gzip only.
    Gzip,
    /// Plain SQL: the least CPU, about twice zstd's bytes.
    None,
}

impl From<DumpCompression> for crate::logical::layout::Compression {
    fn from(compression: DumpCompression) -> Self {
        match compression {
            DumpCompression::Zstd => Self::Zstd,
            DumpCompression::Gzip => Self::Gzip,
            DumpCompression::None => Self::None,
        }
    }
}

/// Sessions a dump or a load uses when the spec does not say.
pub fn default_parallel() -> i32 {
    4
}

fn default_chunk_rows() -> i64 {
    200_000
}

/// A logical backup's snapshot and what it dumped so far.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogicalDumpStatus {
    /// The SCN every table was read at (OceanBase's `current_scn()` when the dump began).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_scn: Option<String>,
    /// The time of that SCN: the dump shows the databases as they were then (the console's "Data Version").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_time: Option<Time>,
    /// The server's `ob_version()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Databases in the dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<i64>,
    /// Tables (and views) written in full, of `tablesTotal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_done: Option<i64>,
    /// Tables and views in the dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_total: Option<i64>,
    /// Chunks written, of `chunksTotal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_done: Option<i64>,
    /// Chunks in the dump's plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_total: Option<i64>,
    /// Rows written, of `rowsTotal` (while the dump runs, the engine's estimate of the tables' rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_done: Option<i64>,
    /// Rows of the dumped tables: the engine's estimate while the dump runs, the rows dumped once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_total: Option<i64>,
    /// Bytes of SQL written (before compression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    /// Bytes stored (compressed, as `compression` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_bytes: Option<i64>,
}

/// The logical dump a RecoveryTask loads: a BackupTask's, or one named by its place.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.backupTask) != (has(self.destination) && has(self.path))")
    .message("set source.logical.backupTask, or source.logical.destination with source.logical.path"))]
pub struct LogicalRecoverySource {
    /// A Completed BackupTask of method Logical in this namespace: its dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub backup_task: Option<String>,
    /// Where the dump is, without a BackupTask (same forms and Secret rules as a data destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<StorageDestination>,
    /// The dump under `destination`: the operator's dump directory (`tenant1/logical/dump-1a2b3c4d`), or a
    /// SQL script such as `exports/shop.sql.gz` (a `mysqldump` or `seekdb-dump` file, plain or gzip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    #[x_kube(validation = Rule::new("!self.contains('..')").message("source.logical.path must not contain '..'"))]
    pub path: Option<String>,
}

/// How a logical restore reaches its target tenant.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.databasePrefix) || !has(self.renameDatabases) || size(self.renameDatabases) == 0")
    .message("set renameDatabases or databasePrefix, not both"))]
#[x_kube(validation = login_rule())]
pub struct LogicalRecoveryTarget {
    /// Name of a Secret with keys `user` and `password` of a user of the target tenant who may create the
    /// dump's databases, tables and views and insert into them. A `user` without `@` is a user of
    /// `target.tenant`; host and port are the target cluster's connection Secret's. Set this or `obTenant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub credentials_secret: Option<String>,
    /// Name of the OBTenant (ob-operator's, in this namespace) of `target.tenant`: the load logs in as the
    /// tenant's `root`, with the password of the Secret the OBTenant's status names. Set this or
    /// `credentialsSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub ob_tenant: Option<String>,
    /// Databases restored under another name: the dump's name to the target's (the operator's dumps only).
    /// Each key must name a database of the dump; no two databases may land on one name, and none on a
    /// system database (names compare without case, as OceanBase's default `lower_case_table_names` does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 128,
        "additionalProperties" = {"type": "string", "minLength": 1, "maxLength": 128}
    ))]
    #[x_kube(validation = rename_system_rule(), validation = rename_distinct_rule())]
    pub rename_databases: BTreeMap<String, String>,
    /// Every database of the dump is restored as `<databasePrefix><name>` (the operator's dumps only), e.g.
    /// a restore drill's `drill_20261126030000_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("databasePrefix must be letters, digits and underscores, not starting with a digit"))]
    pub database_prefix: Option<String>,
    /// Sessions loading at once.
    #[serde(default = "default_parallel")]
    #[schemars(range(min = 1, max = 16))]
    pub parallel: i32,
}

/// Rule on a logical backup's or restore's login: a Secret or an OBTenant, one of the two.
fn login_rule() -> Rule {
    Rule::new("has(self.credentialsSecret) != has(self.obTenant)")
        .message("set credentialsSecret (a tenant user's Secret) or obTenant (its OBTenant's root), one of the two")
}

/// Who a logical backup or restore logs in to its tenant as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantLogin<'a> {
    /// The user and password of this Secret.
    Secret(&'a str),
    /// The root of the tenant of this OBTenant, with the password its status names.
    ObTenant(&'a str),
}

impl TenantLogin<'_> {
    /// The login `credentials_secret` and `ob_tenant` say (admission lets exactly one be set; with neither,
    /// a Secret of no name, which the reference check reports as not found).
    fn of<'a>(credentials_secret: Option<&'a str>, ob_tenant: Option<&'a str>) -> TenantLogin<'a> {
        match (ob_tenant, credentials_secret) {
            (Some(name), _) => TenantLogin::ObTenant(name),
            (None, secret) => TenantLogin::Secret(secret.unwrap_or_default()),
        }
    }
}

impl LogicalBackupSpec {
    /// Who the dump logs in as.
    pub fn login(&self) -> TenantLogin<'_> {
        TenantLogin::of(
            self.credentials_secret.as_deref(),
            self.ob_tenant.as_deref(),
        )
    }
}

impl LogicalRecoveryTarget {
    /// Who the load logs in as.
    pub fn login(&self) -> TenantLogin<'_> {
        TenantLogin::of(
            self.credentials_secret.as_deref(),
            self.ob_tenant.as_deref(),
        )
    }
}

/// Rule on `renameDatabases`: no key or value is one of the server's own databases (a dump never holds
/// one, and a restore never writes into one).
fn rename_system_rule() -> Rule {
    let list = SYSTEM_DATABASES
        .iter()
        .map(|d| format!("'{d}'"))
        .collect::<Vec<_>>()
        .join(", ");
    Rule::new(format!(
        "self.all(k, !(k.lowerAscii() in [{list}]) && !(self[k].lowerAscii() in [{list}]))"
    ))
    .message(Message::Message(format!(
        "renameDatabases must not name a system database ({}): a dump holds none, and a restore never \
         writes into one",
        SYSTEM_DATABASES.join(", ")
    )))
}

/// Rule on `renameDatabases`: no two databases are renamed onto one name (compared case-insensitively).
fn rename_distinct_rule() -> Rule {
    Rule::new(
        "self.all(k, self.filter(j, self[j].lowerAscii() == self[k].lowerAscii()).size() == 1)",
    )
    .message(
        "renameDatabases renames two databases onto one name (names compare case-insensitively); \
         give each its own",
    )
}
