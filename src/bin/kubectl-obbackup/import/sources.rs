//! What `import` reads from the cluster ([`Sources`]): the policy, its OBCluster, its OBTenant when the
//! policy does not say the tenant's name, and only the URI keys of its destinations' Secrets — access keys
//! are never read into the result.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, api::DynamicObject};
use ob_backup_operator::oboperator::{Kind, text};

/// The Secret keys read for a destination: the URI parameters ob-operator appends from them. Nothing else
/// of the Secret is kept.
const URI_KEYS: &[&str] = &["appId", "s3Region", "addressingModel"];

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

/// Reads what [`super::import`] needs for the policy `name`: the policy, its OBCluster, the OBTenant when the
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
