//! Types shared by the five kinds: how to reach a cluster, where backups live, status building blocks.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{
    KubeSchema,
    core::{Message, Rule},
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// API group of every kind.
pub const GROUP: &str = "obbackup.dev";
/// API version of every kind.
pub const VERSION: &str = "v1alpha1";

/// CEL regex of an OceanBase identifier (tenant, unit, pool and zone names).
pub const IDENTIFIER_REGEX: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// Rule: the field is an OceanBase tenant name.
pub fn tenant_name_rule() -> Rule {
    Rule::new(format!("self.matches('{IDENTIFIER_REGEX}')")).message(
        "tenant must be an OceanBase tenant name: a letter or underscore, then letters, digits or underscores",
    )
}

/// Rule: the tenant is a user tenant (sys and meta tenants are never backed up, archived or restored into).
pub fn user_tenant_rule() -> Rule {
    Rule::new("self.lowerAscii() != 'sys'")
        .message("the sys tenant cannot be backed up or restored; name a user tenant")
}

/// Rule: an OceanBase object name (resource unit, resource pool, zone).
pub fn identifier_rule(field: &str) -> Rule {
    Rule::new(format!("self.matches('{IDENTIFIER_REGEX}')"))
        .message(Message::Message(format!(
            "{field} must be an OceanBase name: a letter or underscore, then letters, digits or underscores"
        )))
}

/// Rule on a task spec: it names its strategy or its cluster, not both.
pub fn strategy_or_cluster_rule() -> Rule {
    Rule::new("has(self.strategyRef) != has(self.cluster)")
        .message("set exactly one of strategyRef or cluster")
}

/// Rule: `field` is an IANA time zone name: `Area/Location` (one or two levels below the area), or one of the
/// names of one word the bundled time zone database holds (`UTC`, `PRC`, `EST5EDT`, …; listed from it,
/// without its `localtime` and `posixrules`, which are no zones). Whether an `Area/Location` exists is the
/// operator's check: the list of those would not fit a rule.
pub fn time_zone_rule(field: &str) -> Rule {
    let words: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .filter(|name| !name.contains('/') && !matches!(name.as_str(), "localtime" | "posixrules"))
        .map(|name| format!("'{name}'"))
        .collect();
    Rule::new(format!(
        "self.matches('^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){{1,2}}$') || self in [{}]",
        words.join(", ")
    ))
    .message(Message::Message(format!(
        "{field} must be an IANA time zone name such as Asia/Shanghai or UTC"
    )))
}

/// Rule on a one-shot task spec: `cancel` may go from false to true only.
pub fn cancel_is_final_rule() -> Rule {
    Rule::new("!oldSelf.cancel || self.cancel").message("cancel cannot be undone once set")
}

/// Rule: a mirror (a task with `jobId`, made by a strategy for a job started elsewhere) is never acted upon,
/// so it cannot be canceled (docs/guide/external-jobs.md).
pub fn mirror_is_read_only_rule() -> Rule {
    Rule::new("!has(self.jobId) || !self.cancel").message(
        "this task mirrors a job started outside the operator and is never acted upon: cancel that job where it was started",
    )
}

/// CEL expression: the optional field keeps its presence and value across an update.
pub fn unchanged_optional(field: &str) -> String {
    format!(
        "has(self.{field}) == has(oldSelf.{field}) && (!has(self.{field}) || self.{field} == oldSelf.{field})"
    )
}

/// How to reach an OceanBase cluster: the console's "Cluster" plus the sys-tenant credentials, from a
/// connection Secret or from ob-operator's `OBCluster` (docs/guide/ob-operator.md).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.connectionSecret) != has(self.obCluster)")
        .message("set exactly one of connectionSecret or obCluster")
)]
pub struct ClusterConnection {
    /// Display name of the OceanBase cluster, shown in the Cluster column (the console's cluster name).
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// Name of a Secret in the same namespace with keys `host`, `port` (default 2881), `user` (default
    /// `root@sys`), `password`, and optionally `ca.crt` to connect with TLS. The operator connects to the sys
    /// tenant and reaches user tenants from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub connection_secret: Option<String>,
    /// An ob-operator `OBCluster` in the same namespace, instead of a connection Secret: the operator
    /// connects to its running OBServers (port 2881) as root of the sys tenant with the password of the
    /// Secret its `spec.userSecrets.root` names, follows them when their addresses change, and refuses to
    /// act when OceanBase's `cluster`/`cluster_id` differ from the OBCluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ob_cluster: Option<ObjectName>,
}

/// The name of an object in the same namespace.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub struct ObjectName {
    /// The object's `metadata.name`.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
}

/// Where the sys-tenant login of a cluster comes from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClusterSource {
    /// A connection Secret, by name.
    Secret(String),
    /// An ob-operator `OBCluster`, by name.
    ObCluster(String),
}

impl ClusterSource {
    /// How a message names it: `Secret ob-sys` or `OBCluster ob`.
    pub fn describe(&self) -> String {
        match self {
            ClusterSource::Secret(name) => format!("Secret {name}"),
            ClusterSource::ObCluster(name) => format!("OBCluster {name}"),
        }
    }
}

impl ClusterConnection {
    /// Whether two connections of one namespace name the same cluster: the same display name or the same
    /// source (connection Secret or OBCluster).
    pub fn same_cluster(&self, other: &ClusterConnection) -> bool {
        self.name == other.name || self.source_parts() == other.source_parts()
    }

    /// [`Self::source`] borrowed, as whether it is an OBCluster and its or the Secret's name: compared for
    /// every pair of strategies a look weighs, so without copying names.
    pub fn source_parts(&self) -> (bool, &str) {
        match (&self.ob_cluster, &self.connection_secret) {
            (Some(cluster), _) => (true, cluster.name.as_str()),
            (None, secret) => (false, secret.as_deref().unwrap_or_default()),
        }
    }

    /// A connection through the Secret `secret`.
    pub fn through_secret(name: &str, secret: &str) -> Self {
        Self {
            name: name.into(),
            connection_secret: Some(secret.into()),
            ob_cluster: None,
        }
    }

    /// Where the login comes from (admission admits exactly one of the two; an object with neither reads
    /// as a Secret with no name, which the reference check reports).
    pub fn source(&self) -> ClusterSource {
        match self.source_parts() {
            (true, name) => ClusterSource::ObCluster(name.to_string()),
            (false, name) => ClusterSource::Secret(name.to_string()),
        }
    }
}

/// Where backup data or archived logs are stored.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.uri.matches('^(file|oss|cos|s3)://')")
        .message("uri must start with file://, oss://, cos:// or s3://"),
    validation = Rule::new("!self.uri.matches('(?i)[?&](access_id|access_key)=')")
        .message("uri must not contain access_id or access_key: put the keys in the Secret named by credentialsSecret"),
    validation = Rule::new("!self.uri.matches('^[a-z0-9]+://[^/?#]*@')")
        .message("uri must not carry credentials before an @ (oss://ID:KEY@bucket): put the keys in the Secret named by credentialsSecret"),
    validation = Rule::new(r#"!self.uri.matches("[\\s',]")"#)
        .message("uri must not contain spaces, quotes or commas"),
    validation = Rule::new("!self.uri.split('?')[0].matches('/[.][.]?(/|$)')")
        .message("uri must not hold . or .. path segments: name the directory itself"),
    validation = Rule::new("!self.uri.startsWith('file://') || self.uri.startsWith('file:///')")
        .message("a file:// uri must hold an absolute path, e.g. file:///backup/data"),
    validation = Rule::new("self.uri.startsWith('file://') || self.uri.matches('[?&]host=[^&]+')")
        .message("oss://, cos:// and s3:// uris need a host query parameter, e.g. ?host=oss-cn-hangzhou.aliyuncs.com"),
    validation = Rule::new("!self.uri.startsWith('cos://') || self.uri.matches('[?&]appid=[^&]+')")
        .message("cos:// uris need an appid query parameter"),
    validation = Rule::new("self.uri.startsWith('file://') || has(self.credentialsSecret)")
        .message("credentialsSecret is required for oss://, cos:// and s3:// destinations")
)]
pub struct StorageDestination {
    /// Storage URI without credentials: `file:///abs/path` (NFS mounted on every OBServer), or
    /// `oss://bucket/path?host=…`, `cos://bucket/path?host=…&appid=…`, `s3://bucket/path?host=…&s3_region=…`
    /// (optionally `&addressing_model=virtual|path`).
    #[schemars(length(min = 8, max = 2048))]
    pub uri: String,
    /// Name of a Secret in the same namespace with keys `accessId` and `accessKey` for object storage. The
    /// keys are added to the URI only when the statement is sent to OceanBase and never appear in status,
    /// events, logs or metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub credentials_secret: Option<String>,
}

impl StorageDestination {
    /// The directory of `tenant` under this destination (`…/data/tenant1`, the URI's query kept; the name
    /// in lower case, as OceanBase compares tenant names): a strategy's tenants each get their own, since
    /// OceanBase ties a destination to one tenant through its format file (a destination another tenant's
    /// format file names is refused with −9081).
    pub fn for_tenant(&self, tenant: &str) -> StorageDestination {
        let tenant = tenant.to_ascii_lowercase();
        let (base, query) = match self.uri.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (self.uri.as_str(), None),
        };
        let base = base.trim_end_matches('/');
        StorageDestination {
            uri: match query {
                Some(query) => format!("{base}/{tenant}?{query}"),
                None => format!("{base}/{tenant}"),
            },
            credentials_secret: self.credentials_secret.clone(),
        }
    }
}

/// A reference to a BackupStrategy in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategyReference {
    /// Name of the BackupStrategy; the cluster connection and destinations come from it.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
}

/// A Secret holding a backup password.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSecret {
    /// Name of a Secret in the same namespace whose key `password` holds the backup password.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub password_secret: String,
}

/// Why a task failed: the console's "View Cause".
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// OceanBase error code (RESULT), when OceanBase reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// OceanBase's explanation (COMMENT), or the operator's, with any credentials removed.
    pub message: String,
}

/// The second copy of a backup set (the console's "Second Backup" of a data backup task).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondCopy {
    /// `Pending`, `InProgress`, `Completed` (every object copied and verified: checked by the server or read
    /// back identical) or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SecondCopyPhase>,
    /// Where the copy is, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_directory: Option<String>,
    /// When the operator started copying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the copy was complete and verified (or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// Objects the copy holds, verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<i64>,
    /// Objects in the backup set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_objects: Option<i64>,
    /// Bytes the copy holds, verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    /// Bytes in the backup set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<i64>,
    /// Why the copy waits or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `spec.secondCopy.retry` this copy has answered: a larger one copies a canceled or failed set
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<i32>,
}

/// Where a second copy stands.
#[derive(
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    JsonSchema,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum SecondCopyPhase {
    /// Waiting to start (e.g. for the second destination's Secret).
    Pending,
    /// Copying, or waiting for an unreachable storage to come back.
    InProgress,
    /// Every object copied and verified (checked by the server, or read back identical).
    Completed,
    /// A copy that cannot be right (an object read back differs, a set outside its destination).
    Failed,
    /// A BackupTask's copy stopped by `cancel: true`: what was copied stays on the second destination,
    /// the copy does not count, and the strategy's verification leaves the set alone.
    Canceled,
    /// A LogBackup's copy paused by `spec.secondCopy: Paused`: archiving goes on, the copy resumes where
    /// it stopped once `Running` again.
    Paused,
}

impl SecondCopy {
    /// Whether the second copy has ended (or was never wanted).
    pub fn settled(copy: Option<&SecondCopy>) -> bool {
        copy.and_then(|c| c.phase)
            .is_none_or(SecondCopyPhase::is_terminal)
    }
}

impl SecondCopyPhase {
    /// Whether the copy has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}

/// Where a task came from: the console's "Backup Task Source".
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum TaskSource {
    /// Created by a BackupStrategy's schedule.
    Schedule,
    /// Created by a user ("Back up Now").
    Manual,
    /// Mirrors a job that OceanBase (or someone outside this operator) started.
    External,
}

/// A point-in-time range a tenant can be restored to (the console's "available recovery period").
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    /// Earliest restorable time.
    pub from: Time,
    /// Latest restorable time.
    pub to: Time,
}

/// Schema for `status.conditions`: a list keyed by `type`, as Kubernetes conventions require, so that
/// server-side apply merges conditions by type.
pub fn conditions_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema
}

/// CEL: five cron fields separated by spaces, or one of the usual `@` macros.
pub const CRON_RULE: &str = "self.matches('^\\\\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?/,#-]+(\\\\s+[0-9A-Za-z*?/,#-]+){4})\\\\s*$')";
/// CEL: a positive whole number of seconds, minutes, hours or days.
pub const DURATION_RULE: &str = "self.matches('^[1-9][0-9]*(s|m|h|d)$')";

/// A duration as the CRDs write them (`90s`, `10m`, `1h`, `7d`; see `DURATION_RULE`).
pub fn parse_duration(text: &str) -> Option<jiff::SignedDuration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    number
        .checked_mul(seconds)
        .map(jiff::SignedDuration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_connections_name_the_same_cluster_by_display_name_or_by_source_and_a_secret_is_no_obcluster()
     {
        let secret = |name: &str, secret: &str| ClusterConnection::through_secret(name, secret);
        let ob_cluster = |name: &str, cluster: &str| ClusterConnection {
            name: name.into(),
            connection_secret: None,
            ob_cluster: Some(ObjectName {
                name: cluster.into(),
            }),
        };
        assert!(secret("a", "s1").same_cluster(&secret("a", "s2")));
        assert!(secret("a", "s1").same_cluster(&secret("b", "s1")));
        assert!(!secret("a", "s1").same_cluster(&secret("b", "s2")));
        assert!(ob_cluster("a", "ob").same_cluster(&ob_cluster("b", "ob")));
        assert!(!secret("a", "ob").same_cluster(&ob_cluster("b", "ob")));
        // An OBCluster connection that also names a Secret is the OBCluster's.
        let both = ClusterConnection {
            connection_secret: Some("s1".into()),
            ..ob_cluster("c", "ob")
        };
        assert!(both.same_cluster(&ob_cluster("d", "ob")));
        assert!(!both.same_cluster(&secret("d", "s1")));
        for (x, y) in [
            (secret("a", "s1"), secret("b", "s1")),
            (secret("a", "ob"), ob_cluster("b", "ob")),
            (both.clone(), secret("d", "s1")),
        ] {
            assert_eq!(x.same_cluster(&y), x.source() == y.source(), "{x:?} {y:?}");
        }
    }

    #[test]
    fn a_tenant_gets_its_own_directory_under_a_destination_with_the_query_and_secret_kept() {
        let destination = StorageDestination {
            uri: "s3://bucket/ob/data/?host=h&s3_region=r".into(),
            credentials_secret: Some("keys".into()),
        };
        assert_eq!(
            destination.for_tenant("Tenant1"),
            StorageDestination {
                uri: "s3://bucket/ob/data/tenant1?host=h&s3_region=r".into(),
                credentials_secret: Some("keys".into()),
            }
        );
        let file = StorageDestination {
            uri: "file:///backup/data".into(),
            credentials_secret: None,
        };
        assert_eq!(file.for_tenant("t2").uri, "file:///backup/data/t2");
    }
}
