//! `import obtenantbackuppolicy NAME`: ob-operator's backup policy of one tenant as the equivalent
//! BackupStrategy (docs/guide/ob-operator-import.md). Every field of the policy is either mapped or
//! named in a note; nothing is dropped silently. The Secrets of object-storage destinations are
//! read for their `appId`, `s3Region` and `addressingModel` keys only: access keys are never read
//! into the result, printed or put in an error.

//!
//! The conversion is here; beside it, [`sources`] reads what it needs from the cluster, [`destination`]
//! and [`schedule`] map the destinations and the crontabs, and [`command`] runs the command (printing the
//! strategy, or handing the tenant over).

mod command;
mod destination;
mod schedule;
pub(crate) mod sources;

use kube::{
    ResourceExt,
    api::{DynamicObject, ObjectMeta},
};
use ob_backup_operator::{
    api::{
        BackupStrategy, BackupStrategySpec,
        backup_strategy::{
            ArchiveBinding, BackupMethod, DeletionPolicy, LogBackupSettings, Retention,
        },
        common::{ClusterConnection, ObjectName, PasswordSecret},
    },
    oboperator::{cluster_facts, text},
};

pub use command::{ImportArgs, run};
use destination::destination;
use schedule::schedule_of;
pub use sources::Sources;

/// The spec fields of an OBTenantBackupPolicy this import knows (any other is named in a note).
const KNOWN_FIELDS: &[&str] = &[
    "obClusterName",
    "tenantName",
    "tenantSecret",
    "tenantCRName",
    "jobKeepWindow",
    "suspend",
    "logArchive",
    "dataBackup",
    "dataClean",
];

/// The strategy equivalent to a policy, and what a reader must know about it.
#[derive(Clone, Debug)]
pub struct Imported {
    pub strategy: BackupStrategy,
    /// The tenant, as OceanBase names it.
    pub tenant: String,
    /// What is not mapped, or mapped with other semantics (one line each).
    pub notes: Vec<String>,
    /// The destinations that would move (a new full backup and archive round at a new place).
    pub moves: Vec<String>,
}

impl Imported {
    /// The notes for stderr: the moves first and loud.
    pub fn said(&self) -> String {
        let mut text = String::new();
        if !self.moves.is_empty() {
            text.push_str(&format!(
                "WARNING: THE BACKUP DESTINATIONS WOULD MOVE. The policy's paths do not end in /{}, and a \
                 BackupStrategy puts each tenant in <destination>/<tenant>: under the strategy OceanBase would \
                 take a new full backup and start a new archive round at the new place; the old chain stays \
                 where it is (restore from it with explicit destinations).\n",
                self.tenant.to_ascii_lowercase()
            ));
            for line in &self.moves {
                text.push_str(&format!("WARNING: {line}\n"));
            }
        }
        for note in &self.notes {
            text.push_str(&format!("note: {note}\n"));
        }
        text
    }
}

/// The BackupStrategy equivalent to `sources.policy`, its crontabs without a zone read in `time_zone`
/// (default [`schedule::OB_OPERATOR_ZONE`]), or why the policy cannot be converted.
pub fn import(sources: &Sources, time_zone: Option<&str>) -> Result<Imported, String> {
    let policy = &sources.policy;
    let mut notes = Vec::new();
    let tenant = tenant_name(sources)?;
    let cluster = cluster(sources)?;
    let (data_destination, data_move) = destination(
        sources,
        "dataBackup.destination",
        &["dataBackup", "destination"],
        &tenant,
        &mut notes,
    )?;
    let (log_destination, log_move) = destination(
        sources,
        "logArchive.destination",
        &["logArchive", "destination"],
        &tenant,
        &mut notes,
    )?;
    if data_destination.uri == log_destination.uri {
        return Err(format!(
            "dataBackup.destination and logArchive.destination are the same place ({}): a BackupStrategy \
             needs two different ones",
            data_destination.uri
        ));
    }
    let spec = BackupStrategySpec {
        cluster,
        tenants: vec![tenant.clone()],
        ignored_tenants: Vec::new(),
        method: BackupMethod::Physical,
        data_destination,
        log_destination: Some(log_destination),
        logical: None,
        schedule: schedule_of(policy, time_zone, &mut notes)?,
        log_backup: log_backup(policy)?,
        retention: retention(policy, &mut notes)?,
        encryption: text(policy, &["spec", "dataBackup", "encryptionSecret"]).map(|s| {
            PasswordSecret {
                password_secret: s.to_string(),
            }
        }),
        suspend: suspend(policy, &mut notes),
        deletion_policy: DeletionPolicy::Retain,
        second_backup: None,
        restore_drill: None,
    };
    unmapped(policy, &mut notes);
    let strategy = BackupStrategy {
        metadata: ObjectMeta {
            name: Some(policy.name_any()),
            namespace: policy.namespace(),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    };
    Ok(Imported {
        strategy,
        tenant,
        notes,
        moves: data_move.into_iter().chain(log_move).collect(),
    })
}

/// The tenant's name in OceanBase: `spec.tenantName`, else `status.tenantName`, else the OBTenant's
/// `spec.tenantName` (the OBTenant `spec.tenantCRName` names).
fn tenant_name(sources: &Sources) -> Result<String, String> {
    let policy = &sources.policy;
    let name = text(policy, &["spec", "tenantName"])
        .or_else(|| text(policy, &["status", "tenantName"]))
        .or_else(|| {
            sources
                .tenant
                .as_ref()
                .and_then(|t| text(t, &["spec", "tenantName"]))
        })
        .ok_or_else(|| match text(policy, &["spec", "tenantCRName"]) {
            Some(cr) => format!("the OBTenant {cr} (spec.tenantCRName) has no spec.tenantName"),
            None => format!(
                "OBTenantBackupPolicy {} names no tenant (spec.tenantName or spec.tenantCRName)",
                policy.name_any()
            ),
        })?;
    if !identifier(name) || name.eq_ignore_ascii_case("sys") {
        return Err(format!("tenant {name:?} is not a user tenant's name"));
    }
    Ok(name.to_string())
}

fn identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `spec.cluster`: named as the OBCluster names the cluster, reached through the OBCluster.
fn cluster(sources: &Sources) -> Result<ClusterConnection, String> {
    let facts = cluster_facts(&sources.cluster)?;
    Ok(ClusterConnection {
        name: facts.identity.name,
        connection_secret: None,
        ob_cluster: Some(ObjectName {
            name: sources.cluster.name_any(),
        }),
    })
}

/// `spec.logBackup` from `logArchive`.
fn log_backup(policy: &DynamicObject) -> Result<LogBackupSettings, String> {
    let mut settings = LogBackupSettings::default();
    if let Some(interval) = text(policy, &["spec", "logArchive", "switchPieceInterval"]) {
        let days = interval
            .strip_suffix('d')
            .and_then(|d| d.parse::<u8>().ok());
        if !days.is_some_and(|d| (1..=7).contains(&d)) {
            return Err(format!(
                "logArchive.switchPieceInterval {interval:?} is not between 1d and 7d"
            ));
        }
        settings.piece_switch_interval = interval.to_string();
    }
    settings.binding = match text(policy, &["spec", "logArchive", "binding"]) {
        None => ArchiveBinding::Optional,
        Some(b) if b.eq_ignore_ascii_case("optional") => ArchiveBinding::Optional,
        Some(b) if b.eq_ignore_ascii_case("mandatory") => ArchiveBinding::Mandatory,
        Some(other) => {
            return Err(format!(
                "logArchive.binding {other:?} is neither Optional nor Mandatory"
            ));
        }
    };
    Ok(settings)
}

/// `spec.retention` from `dataClean.recoveryWindow`; `jobKeepWindow` named (an age, ours a count).
fn retention(policy: &DynamicObject, notes: &mut Vec<String>) -> Result<Retention, String> {
    let mut retention = Retention::default();
    match text(policy, &["spec", "dataClean", "recoveryWindow"]) {
        Some(window) => {
            let number = window
                .strip_suffix('d')
                .or_else(|| window.strip_suffix('h'));
            let valid = number.is_some_and(|n| {
                !n.is_empty() && !n.starts_with('0') && n.chars().all(|c| c.is_ascii_digit())
            });
            if !valid {
                return Err(format!(
                    "dataClean.recoveryWindow {window:?} is not a number of days or hours"
                ));
            }
            retention.recovery_window = window.to_string();
        }
        None => notes.push(format!(
            "dataClean.recoveryWindow is empty: retention.recoveryWindow takes our default, {}",
            retention.recovery_window
        )),
    }
    if let Some(window) = text(policy, &["spec", "jobKeepWindow"]) {
        notes.push(format!(
            "jobKeepWindow {window} is not mapped: it is an age of finished backup objects; ours keeps a \
             count (retention.successfulTasksHistoryLimit, default {})",
            retention.successful_tasks_history_limit
        ));
    }
    Ok(retention)
}

/// `spec.suspend`, and how it differs.
fn suspend(policy: &DynamicObject, notes: &mut Vec<String>) -> bool {
    let suspended = policy.data["spec"]["suspend"].as_bool().unwrap_or(false);
    if suspended {
        notes.push(
            "suspend: true is copied, with other effects: ob-operator's suspend also defers archiving and \
             drops the delete policy; ours only pauses scheduled data backups (archiving keeps running)"
                .into(),
        );
    }
    suspended
}

/// The notes on what is not mapped.
fn unmapped(policy: &DynamicObject, notes: &mut Vec<String>) {
    let spec = &policy.data["spec"];
    let concurrency = &spec["logArchive"]["concurrency"];
    if concurrency.as_i64().is_some_and(|c| c != 0) {
        notes.push(format!(
            "logArchive.concurrency {concurrency} is not mapped (no equivalent): LOG_ARCHIVE_CONCURRENCY \
             stays as set in OceanBase"
        ));
    }
    for (value, field) in [
        (
            &spec["logArchive"]["destDisabled"],
            "logArchive.destDisabled",
        ),
        (&spec["dataClean"]["disabled"], "dataClean.disabled"),
        (&spec["dataClean"]["name"], "dataClean.name"),
    ] {
        if !value.is_null() {
            notes.push(format!(
                "{field} {value} is not mapped: ob-operator does not use it"
            ));
        }
    }
    if let Some(secret) = spec["tenantSecret"].as_str() {
        notes.push(format!(
            "tenantSecret {secret} is not needed: the operator reaches the tenant from sys"
        ));
    }
    if let Some(fields) = spec.as_object() {
        for field in fields
            .keys()
            .filter(|k| !KNOWN_FIELDS.contains(&k.as_str()))
        {
            notes.push(format!(
                "spec.{field} is not mapped: this import does not know it"
            ));
        }
    }
    notes.push(
        "deletionPolicy: Retain (our default): deleting ob-operator's policy stopped archiving \
         (NOARCHIVELOG); deleting this strategy leaves OceanBase as it is unless you set StopArchiving"
            .into(),
    );
}

/// The strategy as a manifest: YAML, or JSON with `-o json`.
pub fn manifest(strategy: &BackupStrategy, json: bool) -> Result<String, String> {
    let mut value = serde_json::to_value(strategy).map_err(|e| e.to_string())?;
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    if json {
        serde_json::to_string_pretty(&value)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string())
    } else {
        serde_norway::to_string(&value).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use ob_backup_operator::oboperator::Kind;
    use serde_json::{Value, json};

    use super::{destination::join, schedule::split_zone, *};

    /// One of ob-operator's objects in namespace `ns`.
    pub fn object(kind: Kind, name: &str, data: Value) -> DynamicObject {
        let mut object = DynamicObject::new(name, &kind.resource()).within("ns");
        object.data = data;
        object
    }

    /// A RUNNING policy `p1` of tenant T1 on OBCluster `obc`, NFS paths ending in the tenant's directory,
    /// with `extra` merged into its spec.
    pub fn policy(extra: Value) -> DynamicObject {
        let mut spec = json!({
            "obClusterName": "obc", "tenantName": "T1", "tenantSecret": "t1-root",
            "logArchive": {"destination": {"type": "NFS", "path": "ob/archive/t1"},
                           "switchPieceInterval": "2d", "binding": "Mandatory"},
            "dataBackup": {"destination": {"type": "NFS", "path": "ob/data/t1"},
                           "fullCrontab": "30 0 * * 6", "incrementalCrontab": "30 1 * * *"},
            "dataClean": {"recoveryWindow": "8d"},
        });
        merge(&mut spec, extra);
        object(
            Kind::ObTenantBackupPolicy,
            "p1",
            json!({"spec": spec, "status": {"status": "RUNNING"}}),
        )
    }

    fn merge(into: &mut Value, extra: Value) {
        match (into.as_object_mut(), extra) {
            (Some(into), Value::Object(extra)) => {
                for (key, value) in extra {
                    merge(into.entry(key).or_insert(Value::Null), value);
                }
            }
            (_, extra) => *into = extra,
        }
    }

    pub fn sources(policy: DynamicObject) -> Sources {
        Sources {
            policy,
            cluster: object(
                Kind::ObCluster,
                "obc",
                json!({"spec": {"clusterName": "prod", "clusterId": 7, "userSecrets": {"root": "root-pw"}}}),
            ),
            tenant: None,
            secrets: BTreeMap::new(),
        }
    }

    fn imported(extra: Value) -> Imported {
        import(&sources(policy(extra)), None).expect("imported")
    }

    fn refused(sources: &Sources) -> String {
        import(sources, None).expect_err("refused")
    }

    #[test]
    fn every_mapped_field_lands_and_the_manifest_parses_back() {
        let imported = imported(json!({
            "dataBackup": {"fullCrontab": "CRON_TZ=Europe/Berlin 30 0 * * 6",
                           "incrementalCrontab": "CRON_TZ=Europe/Berlin 30 1 * * *",
                           "encryptionSecret": "backup-pw"},
        }));
        let spec = &imported.strategy.spec;
        assert_eq!(imported.strategy.name_any(), "p1");
        assert_eq!(imported.strategy.namespace().as_deref(), Some("ns"));
        assert_eq!(spec.cluster.name, "prod");
        assert_eq!(spec.cluster.connection_secret, None);
        assert_eq!(
            spec.cluster.ob_cluster.as_ref().map(|c| c.name.as_str()),
            Some("obc")
        );
        assert_eq!(spec.tenants, vec!["T1".to_string()]);
        assert_eq!(spec.data_destination.uri, "file:///ob-backup/ob/data");
        assert_eq!(
            spec.log_destination.as_ref().map(|d| d.uri.as_str()),
            Some("file:///ob-backup/ob/archive")
        );
        // Our operator lands on the very directories the policy used.
        assert_eq!(
            spec.data_destination.for_tenant("T1").uri,
            "file:///ob-backup/ob/data/t1"
        );
        assert_eq!(spec.schedule.time_zone, "Europe/Berlin");
        assert_eq!(spec.schedule.full, "30 0 * * 6");
        assert_eq!(spec.schedule.incremental.as_deref(), Some("30 1 * * *"));
        assert_eq!(spec.log_backup.piece_switch_interval, "2d");
        assert_eq!(spec.log_backup.binding, ArchiveBinding::Mandatory);
        assert_eq!(spec.retention.recovery_window, "8d");
        assert_eq!(spec.retention.successful_tasks_history_limit, 10);
        assert_eq!(
            spec.encryption.as_ref().map(|e| e.password_secret.as_str()),
            Some("backup-pw")
        );
        assert!(!spec.suspend);
        assert_eq!(spec.deletion_policy, DeletionPolicy::Retain);
        assert!(imported.moves.is_empty());
        for json in [false, true] {
            let text = manifest(&imported.strategy, json).expect("manifest");
            assert!(!text.contains("status"), "{text}");
            let back: BackupStrategy = if json {
                serde_json::from_str(&text).expect("JSON parses as a BackupStrategy")
            } else {
                serde_norway::from_str(&text).expect("YAML parses as a BackupStrategy")
            };
            assert_eq!(back.spec, imported.strategy.spec);
            assert_eq!(back.metadata, imported.strategy.metadata);
        }
    }

    #[test]
    fn what_does_not_map_is_named() {
        let imported = imported(json!({
            "suspend": true, "jobKeepWindow": "3d", "futureField": 1,
            "logArchive": {"concurrency": 4, "destDisabled": false},
            "dataClean": {"name": "default", "disabled": "false"},
        }));
        assert!(imported.strategy.spec.suspend);
        let said = imported.said();
        for expected in [
            "suspend: true is copied",
            "defers archiving",
            "jobKeepWindow 3d is not mapped",
            "logArchive.concurrency 4 is not mapped",
            "LOG_ARCHIVE_CONCURRENCY stays as set",
            "logArchive.destDisabled false is not mapped",
            "dataClean.disabled \"false\" is not mapped",
            "dataClean.name \"default\" is not mapped",
            "tenantSecret t1-root is not needed",
            "spec.futureField is not mapped",
            "deletionPolicy: Retain",
            "stopped archiving",
            "schedule.timeZone: Asia/Shanghai",
        ] {
            assert!(said.contains(expected), "{expected:?} not in {said}");
        }
        assert!(!said.contains("WARNING"), "{said}");
    }

    #[test]
    fn the_tenant_comes_from_the_policy_its_status_or_its_obtenant() {
        let by_cr = json!({"tenantName": null, "tenantCRName": "t1-cr"});
        let mut sources = sources(policy(by_cr.clone()));
        sources.tenant = Some(object(
            Kind::ObTenant,
            "t1-cr",
            json!({"spec": {"tenantName": "t1", "obcluster": "obc"}}),
        ));
        let imported = import(&sources, None).expect("imported");
        assert_eq!(imported.tenant, "t1");
        assert_eq!(imported.strategy.spec.tenants, vec!["t1".to_string()]);
        // The status' name comes before the OBTenant's.
        sources.policy.data["status"]["tenantName"] = json!("T1");
        assert_eq!(import(&sources, None).expect("imported").tenant, "T1");
        sources.policy.data["status"]["tenantName"] = Value::Null;
        sources.tenant = None;
        assert_eq!(
            refused(&sources),
            "the OBTenant t1-cr (spec.tenantCRName) has no spec.tenantName"
        );
    }

    #[test]
    fn nfs_paths_join_as_go_path_join() {
        assert_eq!(join("/ob-backup", "a/b"), "/ob-backup/a/b");
        assert_eq!(join("/ob-backup", "/a//b/"), "/ob-backup/a/b");
        assert_eq!(join("/ob-backup", "./a/../c"), "/ob-backup/c");
        assert_eq!(join("/ob-backup", "../../x"), "/x");
        let imported = imported(json!({
            "dataBackup": {"destination": {"path": "/nfs//data/./t1/"}},
            "logArchive": {"destination": {"type": "", "path": "nfs/archive/x/../t1"}},
        }));
        let spec = imported.strategy.spec;
        assert_eq!(spec.data_destination.uri, "file:///ob-backup/nfs/data");
        assert_eq!(
            spec.log_destination.map(|d| d.uri),
            Some("file:///ob-backup/nfs/archive".to_string())
        );
    }

    #[test]
    fn paths_not_ending_in_the_tenant_directory_move_loudly() {
        let imported = imported(json!({
            "dataBackup": {"destination": {"path": "ob/data"}},
            "logArchive": {"destination": {"path": "ob/archive/T1"}},
        }));
        // Kept as given: the strategy writes under <destination>/t1, a new place.
        assert_eq!(
            imported.strategy.spec.data_destination.uri,
            "file:///ob-backup/ob/data"
        );
        assert_eq!(
            imported
                .strategy
                .spec
                .log_destination
                .as_ref()
                .map(|d| d.uri.as_str()),
            Some("file:///ob-backup/ob/archive/T1"),
            "the segment must be the lower-case name exactly"
        );
        assert_eq!(imported.moves.len(), 2);
        let said = imported.said();
        assert!(
            said.starts_with("WARNING: THE BACKUP DESTINATIONS WOULD MOVE"),
            "{said}"
        );
        assert!(
            said.contains("dataBackup.destination: the policy uses file:///ob-backup/ob/data; the strategy would use file:///ob-backup/ob/data/t1"),
            "{said}"
        );
        assert!(said.contains("new archive round"), "{said}");
        // A tenant directory right under the root leaves nothing to strip to.
        let top = imported_at_top();
        assert_eq!(top.moves.len(), 1);
    }

    fn imported_at_top() -> Imported {
        imported(
            json!({"dataBackup": {"destination": {"type": "OSS", "path": "oss://t1?host=h", "ossAccessSecret": "oss"}}}),
        )
    }

    #[test]
    fn object_storage_paths_take_the_secrets_parameters_once() {
        let mut sources = sources(policy(json!({
            "dataBackup": {"destination": {"type": "COS", "ossAccessSecret": "cos-keys",
                                           "path": "cos://bucket/data/t1?host=cos.example.com"}},
            "logArchive": {"destination": {"type": "S3", "ossAccessSecret": "s3-keys",
                                           "path": "s3://bucket/archive/t1?host=s3.example.com&s3_region=eu-1"}},
        })));
        sources.secrets.insert(
            "cos-keys".into(),
            BTreeMap::from([("appId".to_string(), "125".to_string())]),
        );
        sources.secrets.insert(
            "s3-keys".into(),
            BTreeMap::from([("s3Region".to_string(), "us-9".to_string())]),
        );
        let imported = import(&sources, None).expect("imported");
        let spec = &imported.strategy.spec;
        assert_eq!(
            spec.data_destination.uri,
            "cos://bucket/data?host=cos.example.com&appid=125"
        );
        assert_eq!(
            spec.data_destination.credentials_secret.as_deref(),
            Some("cos-keys")
        );
        assert_eq!(
            spec.data_destination.for_tenant("T1").uri,
            "cos://bucket/data/t1?host=cos.example.com&appid=125"
        );
        let log = spec.log_destination.as_ref().expect("log destination");
        assert_eq!(
            log.uri, "s3://bucket/archive?host=s3.example.com&s3_region=eu-1",
            "the path's region is kept"
        );
        assert_eq!(log.credentials_secret.as_deref(), Some("s3-keys"));
        assert!(imported.moves.is_empty());
        assert!(
            imported
                .said()
                .contains("appid taken from the Secret cos-keys (key appId)")
        );
        // S3_COMPATIBLE takes the addressing model.
        sources.policy.data["spec"]["logArchive"]["destination"] = json!({"type": "S3_COMPATIBLE", "ossAccessSecret": "s3-keys", "path": "s3://b/a/t1?host=minio"});
        sources.secrets.insert(
            "s3-keys".into(),
            BTreeMap::from([("addressingModel".to_string(), "path".to_string())]),
        );
        let log = import(&sources, None)
            .expect("imported")
            .strategy
            .spec
            .log_destination;
        assert_eq!(
            log.map(|d| d.uri),
            Some("s3://b/a?host=minio&addressing_model=path".to_string())
        );
    }

    #[test]
    fn object_storage_refusals_never_print_keys() {
        let mut with_keys = sources(policy(json!({
            "dataBackup": {"destination": {"type": "OSS", "ossAccessSecret": "oss",
                "path": "oss://b/d/t1?host=h&access_id=ID123&access_key=SECRET456"}},
        })));
        let error = refused(&with_keys);
        assert!(error.contains("holds access keys"), "{error}");
        assert!(
            !error.contains("SECRET456") && !error.contains("ID123"),
            "{error}"
        );
        with_keys.policy.data["spec"]["dataBackup"]["destination"] =
            json!({"type": "COS", "ossAccessSecret": "cos", "path": "cos://b/d/t1?host=h"});
        assert!(refused(&with_keys).contains("a COS destination needs an appid"));
        with_keys.policy.data["spec"]["dataBackup"]["destination"] =
            json!({"type": "OSS", "path": "oss://b/d/t1?host=h"});
        assert_eq!(
            refused(&with_keys),
            "dataBackup.destination.ossAccessSecret is required for OSS"
        );
    }

    #[test]
    fn crontab_zones_become_the_schedules_zone() {
        assert_eq!(
            split_zone("CRON_TZ=UTC 0 1 * * *"),
            (Some("UTC"), "0 1 * * *")
        );
        assert_eq!(
            split_zone("TZ=Asia/Tokyo  @daily"),
            (Some("Asia/Tokyo"), "@daily")
        );
        assert_eq!(split_zone(" 0 1 * * *"), (None, "0 1 * * *"));
        let zoned = imported(json!({"dataBackup": {"fullCrontab": "TZ=UTC 0 1 * * 0",
                                                    "incrementalCrontab": "CRON_TZ=UTC @daily"}}));
        assert_eq!(zoned.strategy.spec.schedule.time_zone, "UTC");
        assert_eq!(
            zoned.strategy.spec.schedule.incremental.as_deref(),
            Some("@daily")
        );
        assert!(
            !zoned.said().contains("schedule.timeZone"),
            "{}",
            zoned.said()
        );
        let flagged = import(&sources(policy(json!({}))), Some("Europe/Paris")).expect("imported");
        assert_eq!(flagged.strategy.spec.schedule.time_zone, "Europe/Paris");
        assert!(
            !flagged.said().contains("Asia/Shanghai"),
            "{}",
            flagged.said()
        );
        let implicit = imported(json!({}));
        assert_eq!(implicit.strategy.spec.schedule.time_zone, "Asia/Shanghai");
        assert!(
            implicit
                .said()
                .contains("the zone ob-operator's image evaluates crontabs in")
        );
    }

    #[test]
    fn schedules_ours_cannot_hold_are_refused_by_field() {
        for (data_backup, says) in [
            (
                json!({"fullCrontab": "@every 24h"}),
                "dataBackup.fullCrontab \"@every 24h\": an interval (@every)",
            ),
            (
                json!({"incrementalCrontab": "CRON_TZ=UTC @every 1h"}),
                "dataBackup.incrementalCrontab \"@every 1h\"",
            ),
            (
                json!({"fullCrontab": "0 0 1 * * *"}),
                "dataBackup.fullCrontab \"0 0 1 * * *\" is not a 5-field",
            ),
            (
                json!({"fullCrontab": "61 1 * * *"}),
                "dataBackup.fullCrontab \"61 1 * * *\":",
            ),
            (
                json!({"fullCrontab": "@reboot"}),
                "is not a 5-field cron expression or one of",
            ),
            (
                json!({"fullCrontab": "CRON_TZ=Mars/Base 0 1 * * *"}),
                "dataBackup.fullCrontab: time zone \"Mars/Base\"",
            ),
            (
                json!({"fullCrontab": "CRON_TZ=UTC 0 1 * * *"}),
                "dataBackup.incrementalCrontab runs in Asia/Shanghai but dataBackup.fullCrontab in UTC",
            ),
            (
                json!({"fullCrontab": null}),
                "dataBackup.fullCrontab is empty",
            ),
        ] {
            let error = refused(&sources(policy(json!({"dataBackup": data_backup}))));
            assert!(error.contains(says), "{says:?} not in {error}");
        }
    }

    #[test]
    fn other_values_ours_cannot_hold_are_refused_by_field() {
        for (extra, says) in [
            (
                json!({"logArchive": {"switchPieceInterval": "8d"}}),
                "logArchive.switchPieceInterval \"8d\"",
            ),
            (
                json!({"logArchive": {"binding": "Sometimes"}}),
                "logArchive.binding \"Sometimes\"",
            ),
            (
                json!({"dataClean": {"recoveryWindow": "1w"}}),
                "dataClean.recoveryWindow \"1w\"",
            ),
            (
                json!({"dataBackup": {"destination": {"type": "FTP"}}}),
                "dataBackup.destination.type \"FTP\"",
            ),
            (json!({"tenantName": "sys"}), "not a user tenant"),
            (
                json!({"logArchive": {"destination": {"path": "ob/data/t1"}}}),
                "the same place",
            ),
        ] {
            let error = refused(&sources(policy(extra)));
            assert!(error.contains(says), "{says:?} not in {error}");
        }
    }
}
