//! Restore drills (docs/guide/restore-drills.md): a strategy restores its tenants on a schedule into a
//! scratch tenant, checks what came back, and drops it again. Each run is a RecoveryTask carrying a
//! [`DrillRun`]; the strategy's status shows the last drill and the last passed drill of each tenant.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    common::{CRON_RULE, ClusterConnection, DURATION_RULE},
    resources::TenantResources,
};

/// A restore drill declared on a BackupStrategy.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDrill {
    /// When drills run: a 5-field cron expression, e.g. `0 3 * * *` (every night at 03:00).
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new(CRON_RULE).message("restoreDrill.schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'"))]
    pub schedule: String,
    /// IANA time zone the schedule is evaluated in, e.g. `Asia/Shanghai` or `UTC`.
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = super::common::time_zone_rule("restoreDrill.timeZone"))]
    pub time_zone: String,
    /// Tenants drilled, each run one drill per tenant. Empty: every tenant of the strategy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 128)))]
    #[x_kube(validation = Rule::new("self.all(t, t.matches('^[A-Za-z_][A-Za-z0-9_]*$'))")
        .message("each of restoreDrill.tenants must be an OceanBase tenant name"))]
    pub tenants: Vec<String>,
    /// The point restored to: `Latest` (the newest restorable point) or `Random` (a point anywhere in the
    /// recoverable windows, so that old backup sets and archive pieces are tested too).
    #[serde(default)]
    pub point: DrillPoint,
    /// Where the scratch tenant is restored.
    pub target: DrillTarget,
    /// Name of a Secret with keys `user` and `password`. Physical strategies: a user of the drilled tenant —
    /// a physical restore brings the tenant's users back with it, so the checks log in to the scratch tenant
    /// as this user (a `user` without `@` is a user of the scratch tenant). Logical strategies: a user of the
    /// target tenant who may create, load, read and drop the `drill_` databases. Host and port are the target
    /// cluster's.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub credentials_secret: String,
    /// SQL checks run in the restored tenant, after it answered `SELECT 1` (physical strategies; a logical
    /// drill checks every table of the copy against the dump instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.all(c, self.exists_one(d, d.name == c.name))")
        .message("restoreDrill.checks must not repeat a name"))]
    pub checks: Vec<DrillCheck>,
    /// The data freshness check: how old the newest write in the restored data may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessCheck>,
    /// How long a drill may take from its creation, restore and checks included, e.g. `6h`: a drill still
    /// running then is canceled and fails.
    #[serde(default = "default_timeout")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("restoreDrill.timeout must be a duration such as 90m or 6h"))]
    pub timeout: String,
    /// Keep the scratch tenant of a failed drill for inspection (drop it yourself, then its pool). By
    /// default it is dropped like a passed drill's.
    #[serde(default)]
    pub keep_failed: bool,
    /// How many finished drills of each tenant to keep as RecoveryTasks.
    #[serde(default = "default_history_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub history_limit: i32,
    /// How long a tenant may go without a passed drill before `RestoreVerified` turns False and the
    /// `OBBackupRestoreDrillOverdue` alert fires, e.g. `3d`. Twice the schedule's period is a good value.
    #[serde(default = "default_max_age")]
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("restoreDrill.maxAge must be a duration such as 36h or 3d"))]
    pub max_age: String,
}

fn default_timeout() -> String {
    "6h".into()
}

fn default_history_limit() -> i32 {
    3
}

fn default_max_age() -> String {
    "3d".into()
}

/// Which point a drill restores to.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DrillPoint {
    /// The newest restorable point.
    #[default]
    Latest,
    /// A point anywhere in the recoverable windows, chosen anew for each run and recorded on it.
    Random,
}

/// Where a drill restores: a cluster and, for a physical strategy, the small resources the scratch tenant
/// gets; for a logical strategy, the tenant its scratch databases are loaded into.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.resources) || !has(self.resources.poolName)")
    .message("restoreDrill.target.resources must name a unit (unitName or unit): each drill makes its own pool and drops it afterwards"))]
pub struct DrillTarget {
    /// The cluster the scratch tenant is restored into. Default: the strategy's own cluster (mind its
    /// capacity: a drill restores the whole tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConnection>,
    /// The scratch tenant's resources: a unit config and zones. Each drill creates its own pool. Required
    /// for a physical strategy; a logical one takes none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<TenantResources>,
    /// Logical strategies: the existing tenant the scratch databases (`drill_<tenant>_<time>_<id>_<database>`) are loaded
    /// into. Default: the drilled tenant itself, beside its own databases, which are only read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*$')").message("restoreDrill.target.tenant must be an OceanBase tenant name"))]
    pub tenant: Option<String>,
}

/// One SQL check of a drill: a query and what it must return.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.expect) != has(self.minRows)")
    .message("each check sets exactly one of expect or minRows"))]
pub struct DrillCheck {
    /// Name shown in the drill's results.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("a check's name must be lower case letters, digits and '-'"))]
    pub name: String,
    /// One read-only statement, e.g. `SELECT COUNT(*) FROM shop.orders`.
    #[schemars(length(min = 1, max = 4096))]
    #[x_kube(validation = Rule::new("self.trim().lowerAscii().matches('^(select|with|show)\\\\s')").message("a check's query must be one SELECT, WITH or SHOW statement"))]
    pub query: String,
    /// The value the first column of the first row must have (compared as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub expect: Option<String>,
    /// The fewest rows the query must return (to bound a count, `expect` a comparison: `SELECT COUNT(*)
    /// >= 1000 FROM shop.orders` expecting `1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_rows: Option<i64>,
}

/// A drill's data freshness check.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessCheck {
    /// A query returning the newest write time in the restored data, as a `DATETIME`/`TIMESTAMP` in UTC
    /// or seconds since the epoch, e.g. `SELECT MAX(ts) FROM app.heartbeat`.
    #[schemars(length(min = 1, max = 4096))]
    #[x_kube(validation = Rule::new("self.trim().lowerAscii().matches('^(select|with)\\\\s')").message("freshness.query must be one SELECT or WITH statement"))]
    pub query: String,
    /// How far the newest write may lie behind the point restored to, e.g. `2m`; older data fails the
    /// drill.
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("freshness.maxLag must be a duration such as 30s or 5m"))]
    pub max_lag: String,
}

/// What a drill's RecoveryTask runs after its restore: its checks, then the scratch tenant's drop.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// As in [`RestoreDrill::credentials_secret`].
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub credentials_secret: String,
    /// As in [`RestoreDrill::checks`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub checks: Vec<DrillCheck>,
    /// As in [`RestoreDrill::freshness`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<FreshnessCheck>,
    /// How long the drill may take from the task's creation.
    #[schemars(length(min = 2, max = 8))]
    #[x_kube(validation = Rule::new(DURATION_RULE).message("drill.timeout must be a duration such as 90m or 6h"))]
    pub timeout: String,
    /// Keep the scratch tenant when the drill fails.
    #[serde(default)]
    pub keep_failed: bool,
}

/// How a drill ended.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DrillVerdict {
    /// Restored, and every check passed.
    Passed,
    /// The restore or a check failed; see `message`.
    Failed,
}

/// A drill's results, on its RecoveryTask.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillStatus {
    /// Passed or Failed, once the checks ran (or the restore failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<DrillVerdict>,
    /// Why the drill failed, or what it proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Each check's outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The newest write the freshness query found in the restored data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_as_of: Option<Time>,
    /// Seconds between the point restored to and that write: the measured recovery point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<i64>,
    /// Seconds from the restore's start to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_seconds: Option<i64>,
    /// Whether the scratch tenant (and the pool and unit the drill made) are dropped.
    #[serde(default)]
    pub dropped: bool,
}

/// One check's outcome.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's name (`opens` for the login and `SELECT 1`, `freshness` for the freshness check).
    pub name: String,
    /// Whether it found what it must.
    pub passed: bool,
    /// What the check found, or why it failed.
    pub message: String,
}

/// One tenant's drills, in the strategy's status.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantDrills {
    /// Tenant name.
    pub name: String,
    /// The newest finished drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<DrillSummary>,
    /// The newest passed drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_passed: Option<DrillSummary>,
}

/// A finished drill, as the strategy's status shows it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillSummary {
    /// Its RecoveryTask.
    pub task: String,
    pub verdict: DrillVerdict,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// The point restored to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time: Option<Time>,
    /// Seconds its restore (or load) took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_seconds: Option<i64>,
    /// Its measured recovery point: seconds between the point restored to and the newest write found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<i64>,
    /// What it proved, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
