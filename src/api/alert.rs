//! The alerts a BackupStrategy raised, as the console's alert list shows them: each a condition of one
//! object (a tenant, the cluster) that went bad, named as the chart's alert that fires on it, with when it
//! was first and last raised, when it recovered and how often it was raised. `kubectl obbackup alerts`
//! shows this record when no Prometheus is named.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One alert of the strategy's record: an object's condition that went bad, once or more.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRecord {
    /// The chart's alert that fires on the same condition, e.g. `OBBackupLogArchiveInterrupted` (see the
    /// alerts reference for its runbook).
    pub alert: String,
    /// What kind of object the alert is about.
    pub object_kind: AlertObjectKind,
    /// The object's name: the tenant, or the cluster as the strategy names it.
    pub object: String,
    /// When the condition first went bad (since the record has held this alert).
    pub generated_at: Time,
    /// When the condition last went bad.
    pub last_generated_at: Time,
    /// When the condition last recovered; absent while it is bad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<Time>,
    /// How many times the condition went bad.
    pub count: i64,
    /// `Active` while the condition is bad, `Recovered` once it is not.
    pub status: AlertState,
}

/// The kinds of object an alert is about.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum AlertObjectKind {
    /// A tenant of the strategy.
    Tenant,
    /// The strategy's cluster.
    Cluster,
}

/// Whether an alert's condition is bad now.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AlertState {
    /// The condition is bad.
    Active,
    /// The condition went back to good.
    Recovered,
}
