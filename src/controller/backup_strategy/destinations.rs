//! Each tenant's `DATA_BACKUP_DEST` in its own directory under the strategy's data destination
//! (`…/<tenant>`: OceanBase ties a destination to one tenant), set ahead of the first backup
//! (docs/reference/oceanbase-interface.md §2.1: only while no backup job of the tenant exists), and
//! what keeps the destinations from being ready — OceanBase's refusal (unreachable, owned by
//! another tenant…) with the reason, redacted.

use super::super::{Context, Error, references};
use crate::{
    api::{BackupStrategy, common::StorageDestination},
    observer::ClusterObserver,
    oceanbase::{Redactor, Snapshot, sql},
};

/// Sets the data destination where it differs; returns, per tenant, why its destinations are not ready.
pub async fn apply(
    ctx: &Context,
    observer: &ClusterObserver,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
) -> Result<Vec<(String, String)>, Error> {
    let mut problems = Vec::new();
    for name in tenants {
        let Some(tenant) = snapshot.tenant(name) else {
            continue;
        };
        // The tenant's own directories under the strategy's destinations.
        let data = &strategy.spec.data_destination.for_tenant(name);
        // A Physical strategy always has one (the controller refuses it without).
        let Some(log) = &strategy
            .spec
            .log_destination
            .as_ref()
            .map(|l| l.for_tenant(name))
        else {
            continue;
        };
        if strategy.spec.log_backup.enabled
            && let Some(dest) = snapshot.archive_dest(tenant.id)
            && dest.path != log.uri
        {
            problems.push((
                name.clone(),
                format!(
                    "LOG_ARCHIVE_DEST is {}; OceanBase changes it to {} only while archiving is stopped",
                    dest.path, log.uri
                ),
            ));
        }
        if snapshot.data_dest(tenant.id) == Some(data.uri.as_str()) {
            continue;
        }
        if let Some(job) = snapshot.active_job(tenant.id) {
            problems.push((
                name.clone(),
                format!(
                    "DATA_BACKUP_DEST changes after backup job {} ends",
                    job.job_id
                ),
            ));
            continue;
        }
        if let Err(reason) = set_data_dest(ctx, observer, namespace, strategy, name, data).await? {
            problems.push((name.clone(), reason));
        }
    }
    Ok(problems)
}

/// Sets tenant `name`'s `DATA_BACKUP_DEST` to `data` (not again soon after OceanBase refused it); the
/// inner error is why it is not set.
async fn set_data_dest(
    ctx: &Context,
    observer: &ClusterObserver,
    namespace: &str,
    strategy: &BackupStrategy,
    name: &str,
    data: &StorageDestination,
) -> Result<Result<(), String>, Error> {
    let key = format!(
        "{namespace}/{}/{name}",
        strategy.metadata.name.as_deref().unwrap_or_default()
    );
    if let Some((_, reason)) = ctx.statements.refused_recently(&key, "data-dest") {
        return Ok(Err(reason));
    }
    let keys = references::access_keys(ctx, namespace, data).await?;
    let redactor = Redactor::new(
        keys.iter()
            .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
    );
    let statement = sql::uri_with_keys(&data.uri, keys.as_ref())
        .and_then(|uri| sql::set_data_backup_dest(name, &uri));
    let outcome = ctx
        .observers
        .execute(observer, vec![statement], &redactor)
        .await;
    let outcome = outcome.map_err(|error| format!("setting DATA_BACKUP_DEST failed: {error}"));
    ctx.statements.record(
        &key,
        "data-dest",
        crate::controller::Kind::Repeatable,
        outcome.clone(),
    );
    if outcome.is_ok() {
        observer.poke();
    }
    Ok(outcome)
}
