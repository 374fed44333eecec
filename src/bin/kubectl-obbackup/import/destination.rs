//! The policy's destinations as a BackupStrategy's: NFS paths joined as ob-operator joins them,
//! object-storage paths with the URI parameters ob-operator appends from the Secret, and each checked
//! against where the strategy puts the tenant (`<destination>/<tenant>`) — a destination that would move
//! is said loudly.

use ob_backup_operator::{api::common::StorageDestination, oboperator::text};

use super::sources::Sources;

/// A destination (`at` under `spec`, called `field` in messages) as ours, and the line saying it moves
/// when its path does not end in the tenant's directory.
pub(super) fn destination(
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
