//! `import obtenantbackuppolicy NAME`: ob-operator's backup policy of one tenant as the equivalent
//! BackupStrategy (docs/guide/ob-operator-import.md). Every field of the policy is either mapped or
//! named in a note; nothing is dropped silently. The Secrets of object-storage destinations are
//! read for their `appId`, `s3Region` and `addressingModel` keys only: access keys are never read
//! into the result, printed or put in an error.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    api::{DynamicObject, ObjectMeta},
};
use ob_backup_operator::{
    api::{
        BackupStrategy, BackupStrategySpec,
        backup_strategy::{
            ArchiveBinding, BackupMethod, BackupSchedule, DeletionPolicy, LogBackupSettings,
            Retention,
        },
        common::{ClusterConnection, ObjectName, PasswordSecret, StorageDestination},
    },
    oboperator::{Kind, cluster_facts, text},
    schedule,
};

/// The zone ob-operator's image evaluates crontabs in (its `/etc/localtime`) when they name none.
pub const OB_OPERATOR_ZONE: &str = "Asia/Shanghai";

/// The Secret keys read for a destination: the URI parameters ob-operator appends from them. Nothing else
/// of the Secret is kept.
const URI_KEYS: &[&str] = &["appId", "s3Region", "addressingModel"];

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

/// What the import reads: the policy, its OBCluster, its OBTenant (only when the tenant's name is not on
/// the policy) and the URI keys of its destinations' Secrets.
#[derive(Clone, Debug)]
pub struct Sources {
    pub policy: DynamicObject,
    pub cluster: DynamicObject,
    pub tenant: Option<DynamicObject>,
    /// Secret name → the [`URI_KEYS`] it holds.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
}

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
/// (default [`OB_OPERATOR_ZONE`]), or why the policy cannot be converted.
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

/// A destination (`at` under `spec`, called `field` in messages) as ours, and the line saying it moves
/// when its path does not end in the tenant's directory.
fn destination(
    sources: &Sources,
    field: &str,
    at: &[&str],
    tenant: &str,
    notes: &mut Vec<String>,
) -> Result<(StorageDestination, Option<String>), String> {
    let mut path = vec!["spec"];
    path.extend_from_slice(at);
    let read = |key: &str| {
        let mut p = path.clone();
        p.push(key);
        text(&sources.policy, &p)
    };
    let kind = read("type").unwrap_or("NFS").to_ascii_uppercase();
    let given = read("path").ok_or_else(|| format!("{field}.path is empty"))?;
    let secret = read("ossAccessSecret");
    let place = match kind.as_str() {
        "NFS" => StorageDestination {
            uri: format!("file://{}", join("/ob-backup", given)),
            credentials_secret: None,
        },
        "OSS" | "COS" | "S3" | "S3_COMPATIBLE" => {
            object_storage(sources, field, &kind, given, secret, notes)?
        }
        other => {
            return Err(format!(
                "{field}.type {other:?} is not one ob-operator knows"
            ));
        }
    };
    if kind == "NFS" && secret.is_some() {
        notes.push(format!(
            "{field}.ossAccessSecret is not used: the destination is NFS"
        ));
    }
    Ok(match for_tenant_parent(&place, tenant) {
        Some(parent) => (parent, None),
        None => {
            let moved = place.for_tenant(tenant).uri;
            let line = format!(
                "{field}: the policy uses {}; the strategy would use {moved}",
                place.uri
            );
            (place, Some(line))
        }
    })
}

/// An object-storage destination: the policy's path with the parameters ob-operator appends from the
/// Secret (when the path lacks them), the same Secret for the keys.
fn object_storage(
    sources: &Sources,
    field: &str,
    kind: &str,
    given: &str,
    secret: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<StorageDestination, String> {
    let secret = secret.ok_or_else(|| format!("{field}.ossAccessSecret is required for {kind}"))?;
    if !["oss://", "cos://", "s3://"]
        .iter()
        .any(|s| given.starts_with(s))
    {
        return Err(format!(
            "{field}.path does not start with oss://, cos:// or s3://"
        ));
    }
    let query = given.split_once('?').map_or("", |(_, q)| q);
    if query
        .split('&')
        .any(|p| p.starts_with("access_id=") || p.starts_with("access_key="))
    {
        return Err(format!(
            "{field}.path holds access keys: keep them in the Secret {secret} only"
        ));
    }
    let mut uri = given.to_string();
    if let Some((key, parameter)) = match kind {
        "COS" => Some(("appId", "appid")),
        "S3" => Some(("s3Region", "s3_region")),
        "S3_COMPATIBLE" => Some(("addressingModel", "addressing_model")),
        _ => None,
    } {
        let present = query
            .split('&')
            .any(|p| p.starts_with(&format!("{parameter}=")));
        let value = sources.secrets.get(secret).and_then(|keys| keys.get(key));
        if let (false, Some(value)) = (present, value) {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(&format!("{parameter}={value}"));
            notes.push(format!(
                "{field}: {parameter} taken from the Secret {secret} (key {key})"
            ));
        }
    }
    if kind == "COS" && !uri.contains("appid=") {
        return Err(format!(
            "{field}: a COS destination needs an appid (in the path, or key appId of the Secret {secret})"
        ));
    }
    Ok(StorageDestination {
        uri,
        credentials_secret: Some(secret.to_string()),
    })
}

/// Go's `path.Join(base, path)`: the two joined by `/` and cleaned (`.`, `..` and repeated slashes
/// resolved; `..` never climbs above the root).
pub fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The destination whose tenant directory ([`StorageDestination::for_tenant`]) is `place`, when `place`
/// ends in `/<tenant lower-case>` and something is left above it.
fn for_tenant_parent(place: &StorageDestination, tenant: &str) -> Option<StorageDestination> {
    let (base, query) = match place.uri.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (place.uri.as_str(), None),
    };
    let base = base.trim_end_matches('/');
    let parent = base.strip_suffix(&format!("/{}", tenant.to_ascii_lowercase()))?;
    let (_, rest) = parent.split_once("://")?;
    if rest.trim_matches('/').is_empty() {
        return None;
    }
    let parent = StorageDestination {
        uri: match query {
            Some(query) => format!("{parent}?{query}"),
            None => parent.to_string(),
        },
        credentials_secret: place.credentials_secret.clone(),
    };
    let again = parent.for_tenant(tenant).uri;
    let same = match query {
        Some(query) => again == format!("{base}?{query}"),
        None => again == base,
    };
    same.then_some(parent)
}

/// A crontab split into its zone (`CRON_TZ=Z ` or `TZ=Z `, as robfig/cron reads it) and its expression.
pub fn split_zone(crontab: &str) -> (Option<&str>, &str) {
    let crontab = crontab.trim();
    if !(crontab.starts_with("CRON_TZ=") || crontab.starts_with("TZ=")) {
        return (None, crontab);
    }
    match (crontab.find('='), crontab.find(' ')) {
        (Some(eq), Some(space)) if eq < space => {
            (Some(&crontab[eq + 1..space]), crontab[space..].trim())
        }
        _ => (Some(&crontab[crontab.find('=').map_or(0, |e| e + 1)..]), ""),
    }
}

/// A crontab's expression, if our schedule takes it (`field` names it in the refusal).
fn expression(field: &str, expression: &str) -> Result<String, String> {
    if expression.starts_with("@every") {
        return Err(format!(
            "{field} {expression:?}: an interval (@every) has no equivalent in a BackupStrategy's schedule; \
             use a cron expression"
        ));
    }
    let macros = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    let shape = if expression.starts_with('@') {
        macros.contains(&expression)
    } else {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        fields.len() == 5
            && fields.iter().all(|f| {
                f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "*?/,#-".contains(c))
            })
    };
    if !shape {
        return Err(format!(
            "{field} {expression:?} is not a 5-field cron expression or one of {}",
            macros.join(", ")
        ));
    }
    schedule::parse_cron(expression).map_err(|e| format!("{field} {expression:?}: {e}"))?;
    Ok(expression.to_string())
}

/// Whether our schedule takes `zone` (an IANA name the bundled database knows, as the CRD spells them).
fn zone_taken(zone: &str) -> bool {
    let spelled = zone == "UTC"
        || zone.split_once('/').is_some_and(|(area, rest)| {
            area.starts_with(|c: char| c.is_ascii_alphabetic())
                && rest.split('/').count() <= 2
                && zone
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-/".contains(c))
        });
    spelled && schedule::time_zone(zone).is_ok()
}

/// `spec.schedule` from the crontabs: their zone made explicit.
fn schedule_of(
    policy: &DynamicObject,
    flag: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<BackupSchedule, String> {
    let full = text(policy, &["spec", "dataBackup", "fullCrontab"])
        .ok_or("dataBackup.fullCrontab is empty: a BackupStrategy needs a full backup schedule")?;
    let incremental = text(policy, &["spec", "dataBackup", "incrementalCrontab"]);
    let implicit = flag.unwrap_or(OB_OPERATOR_ZONE);
    let mut zones: Vec<(&str, String)> = Vec::new();
    let mut unzoned = false;
    let mut read = |field: &'static str, crontab: &str| -> Result<String, String> {
        let (zone, rest) = split_zone(crontab);
        unzoned |= zone.is_none();
        let zone = zone.unwrap_or(implicit);
        if !zone_taken(zone) {
            return Err(format!(
                "{field}: time zone {zone:?} is not an IANA time zone name"
            ));
        }
        zones.push((field, zone.to_string()));
        expression(field, rest)
    };
    let full = read("dataBackup.fullCrontab", full)?;
    let incremental = incremental
        .map(|c| read("dataBackup.incrementalCrontab", c))
        .transpose()?;
    let time_zone = zones
        .first()
        .map_or(implicit, |(_, z)| z.as_str())
        .to_string();
    if let Some((field, zone)) = zones.iter().find(|(_, z)| *z != time_zone) {
        return Err(format!(
            "{field} runs in {zone} but dataBackup.fullCrontab in {time_zone}: a BackupStrategy has one \
             schedule.timeZone"
        ));
    }
    match flag {
        None if unzoned => notes.push(format!(
            "schedule.timeZone: {OB_OPERATOR_ZONE}, the zone ob-operator's image evaluates crontabs in \
             (set --time-zone if its Deployment sets TZ)"
        )),
        Some(zone) if !unzoned && zone != time_zone => notes.push(format!(
            "--time-zone {zone} is not used: the policy's crontabs name {time_zone}"
        )),
        _ => {}
    }
    if incremental.is_none() {
        notes.push(
            "dataBackup.incrementalCrontab is empty: the strategy takes full backups only".into(),
        );
    }
    notes.push(
        "schedule.startingDeadlineSeconds: 3600 (ob-operator runs an overdue backup at once, whenever)"
            .into(),
    );
    Ok(BackupSchedule {
        time_zone,
        full,
        incremental,
        starting_deadline_seconds: 3600,
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

/// Reads what [`import`] needs for the policy `name`: the policy, its OBCluster, the OBTenant when the
/// policy does not say the tenant's name, and the URI keys of its destinations' Secrets.
pub async fn read(client: &kube::Client, namespace: &str, name: &str) -> Result<Sources, String> {
    let policy = dynamic(client, namespace, Kind::ObTenantBackupPolicy, name).await?;
    let cluster_name = text(&policy, &["spec", "obClusterName"])
        .ok_or_else(|| format!("OBTenantBackupPolicy {name} has no spec.obClusterName"))?;
    let cluster = dynamic(client, namespace, Kind::ObCluster, cluster_name).await?;
    let named = text(&policy, &["spec", "tenantName"])
        .or_else(|| text(&policy, &["status", "tenantName"]))
        .is_some();
    let tenant = match text(&policy, &["spec", "tenantCRName"]) {
        Some(cr) if !named => Some(dynamic(client, namespace, Kind::ObTenant, cr).await?),
        _ => None,
    };
    let mut secrets = BTreeMap::new();
    for at in ["dataBackup", "logArchive"] {
        let kind = text(&policy, &["spec", at, "destination", "type"]).unwrap_or("NFS");
        let secret = text(&policy, &["spec", at, "destination", "ossAccessSecret"]);
        if let (false, Some(secret)) = (kind.eq_ignore_ascii_case("NFS"), secret)
            && !secrets.contains_key(secret)
        {
            secrets.insert(
                secret.to_string(),
                uri_keys(client, namespace, secret).await?,
            );
        }
    }
    Ok(Sources {
        policy,
        cluster,
        tenant,
        secrets,
    })
}

/// One of ob-operator's objects.
pub async fn dynamic(
    client: &kube::Client,
    namespace: &str,
    kind: Kind,
    name: &str,
) -> Result<DynamicObject, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &kind.resource());
    api.get_opt(name)
        .await
        .map_err(|e| format!("cannot read {} {name}: {e}", kind.name()))?
        .ok_or_else(|| format!("no {} {name} in namespace {namespace}", kind.name()))
}

/// The [`URI_KEYS`] of the Secret `name` (its other keys are dropped unread).
async fn uri_keys(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read Secret {name}: {e}"))?
        .ok_or_else(|| format!("no Secret {name} in namespace {namespace}"))?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| URI_KEYS.contains(&key.as_str()))
        .filter_map(|(key, value)| Some((key, String::from_utf8(value.0).ok()?.trim().to_string())))
        .filter(|(_, value)| !value.is_empty())
        .collect())
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

/// The kinds `import` converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// ob-operator's OBTenantBackupPolicy.
    #[value(alias = "obtenantbackuppolicies", alias = "obtbp")]
    Obtenantbackuppolicy,
}

/// `import obtenantbackuppolicy NAME [--time-zone Z] [--handover [--yes] [--allow-move] [--wait]]`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[arg(value_enum)]
    pub kind: ImportKind,
    /// The policy (in -n's namespace); the strategy gets its name and namespace.
    pub name: String,
    /// The zone of crontabs that name none (default: Asia/Shanghai, ob-operator's image's).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Hand the tenant over now: pause and retire the policy without stopping archiving, then create the
    /// strategy (default: only print the strategy).
    #[arg(long)]
    pub handover: bool,
    /// With --handover: do not ask for confirmation.
    #[arg(long, requires = "handover")]
    pub yes: bool,
    /// With --handover: hand over even when the destinations move.
    #[arg(long, requires = "handover")]
    pub allow_move: bool,
    /// With --handover: follow the tenant's LogBackup until archiving runs under the strategy.
    #[arg(long, requires = "handover")]
    pub wait: bool,
    /// With --wait: give up after this long, e.g. 10m (default: wait until it gets there).
    #[arg(long, requires = "wait")]
    pub timeout: Option<String>,
}

/// Runs `import`: the manifest on stdout (YAML unless -o json), notes on stderr; with --handover, the
/// handover's steps on stderr and what was made as the other actions say it.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    args: ImportArgs,
    clock: &crate::render::Clock,
    format: crate::render::Format,
) -> Result<String, String> {
    let timeout = crate::actions::timeout(args.timeout.as_deref())?;
    let sources = read(client, namespace, &args.name).await?;
    let imported = import(&sources, args.time_zone.as_deref())?;
    eprint!("{}", imported.said());
    if !args.handover {
        return manifest(&imported.strategy, format == crate::render::Format::Json);
    }
    if let Some(why) = crate::handover::refusal(&sources.policy, &imported, args.allow_move) {
        return Err(why);
    }
    confirm(&args, &imported)?;
    let options = crate::handover::Options {
        allow_move: args.allow_move,
        wait: args.wait,
        timeout,
        gone_within: crate::handover::GONE_WITHIN,
    };
    let mut report = |line: &str| eprint!("{line}");
    crate::handover::handover(
        client,
        &sources.policy,
        &imported,
        &options,
        clock,
        &mut report,
    )
    .await?
    .show(format)
}

/// Asks on the terminal before a handover (refused when nobody can answer and --yes is not given).
fn confirm(args: &ImportArgs, imported: &Imported) -> Result<(), String> {
    use std::io::{BufRead, IsTerminal, Write};
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err("--handover changes the cluster: confirm on a terminal, or give --yes".into());
    }
    eprint!(
        "Hand tenant {} over from obtenantbackuppolicy/{} to backupstrategy/{}? The policy is paused and \
         deleted without its finalizer; archiving keeps running. [y/N] ",
        imported.tenant,
        args.name,
        imported.strategy.name_any()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err("not confirmed: nothing was changed".into()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

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

    fn parse(line: &str) -> Result<crate::Cli, clap::Error> {
        use clap::Parser;
        crate::Cli::try_parse_from(
            ["kubectl-obbackup"]
                .into_iter()
                .chain(line.split_whitespace()),
        )
    }

    #[test]
    fn the_command_line_takes_the_kind_and_ties_the_handover_flags_to_it() {
        let cli = parse("import obtbp p1 -n ob --handover --yes --allow-move --wait --timeout 5m")
            .expect("parsed");
        let crate::Command::Import(args) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.kind, ImportKind::Obtenantbackuppolicy);
        assert_eq!(args.name, "p1");
        assert!(args.handover && args.yes && args.allow_move && args.wait);
        assert_eq!(args.timeout.as_deref(), Some("5m"));
        assert!(parse("import obtenantbackuppolicy p1 --time-zone UTC -o json").is_ok());
        for without_handover in ["--yes", "--allow-move", "--wait"] {
            assert!(
                parse(&format!(
                    "import obtenantbackuppolicy p1 {without_handover}"
                ))
                .is_err()
            );
        }
        assert!(parse("import obcluster c1").is_err());
    }
}
