//! A strategy's children in the API: listing the BackupTasks and LogBackups it owns (by label), and
//! creating, updating or deleting them. Applies only what differs, so a settled strategy writes nothing.

use std::collections::BTreeMap;

use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams},
};
use serde_json::json;

use super::plan::{self, Child, NewTask, Plan, SCHEDULED_AT, STRATEGY_LABEL};
use crate::{
    api::{
        BackupStrategy, BackupTask, BackupTaskPhase, CleanupTaskPhase, LogBackup,
        backup_strategy::LogBackupSettings, log_backup::DesiredArchiveState,
    },
    controller::{Context, Error, FIELD_MANAGER},
    names::log_backup_name,
};

/// The ownerReferences of a child of `strategy`. Without `blockOwnerDeletion`: setting it needs `update` on
/// the strategies' finalizers, which the operator does not hold (least privilege), and background garbage
/// collection removes the children either way.
pub fn owner(strategy: &BackupStrategy) -> serde_json::Value {
    // A strategy read from the API server always has its name and uid.
    json!(
        strategy
            .controller_owner_ref(&())
            .into_iter()
            .collect::<Vec<_>>()
    )
}

fn selector(strategy: &BackupStrategy) -> ListParams {
    ListParams::default().labels(&format!("{STRATEGY_LABEL}={}", strategy.name_any()))
}

/// The BackupTasks the strategy made, but its mirrors of backups started elsewhere ([`super::mirrors`]).
pub async fn tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<Child>, Error> {
    let api: Api<BackupTask> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(api
        .list(&selector(strategy))
        .await?
        .items
        .into_iter()
        .filter(|t| t.spec.job_id.is_none())
        .map(|t| Child {
            scheduled_at: t
                .annotations()
                .get(SCHEDULED_AT)
                .and_then(|v| v.parse().ok()),
            created: t
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or(jiff::Timestamp::UNIX_EPOCH, |c| c.0),
            incremental: t.spec.mode == crate::api::backup_task::BackupMode::Incremental,
            phase: t.status.as_ref().and_then(|s| s.phase),
            name: t.name_any(),
        })
        .collect())
}

/// Brings the strategy's BackupTasks for `tenants` in line with its schedule at `now`: creates the runs owed
/// and deletes the finished tasks beyond the history limits ([`plan::plan`]). Returns the plan.
pub async fn sync_tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
    now: jiff::Timestamp,
) -> Result<Plan, Error> {
    let owned = tasks(ctx, namespace, strategy).await?;
    let plan = plan::plan(strategy, tenants, &owned, now);
    create_tasks(ctx, namespace, strategy, &plan.create).await?;
    delete_tasks(ctx, namespace, &plan.prune).await?;
    Ok(plan)
}

/// Creates the scheduled tasks (server-side apply: a task that exists already is left as it is).
pub async fn create_tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tasks: &[NewTask],
) -> Result<(), Error> {
    let api: Api<BackupTask> = Api::namespaced(ctx.client.clone(), namespace);
    for task in tasks {
        let mut manifest = json!({
            "apiVersion": BackupTask::api_version(&()),
            "kind": BackupTask::kind(&()),
            "metadata": {
                "name": task.name,
                "labels": { STRATEGY_LABEL: strategy.name_any() },
                "annotations": { SCHEDULED_AT: task.scheduled_at.to_string() },
                "ownerReferences": owner(strategy),
            },
            "spec": {
                "strategyRef": { "name": strategy.name_any() },
                "tenant": task.tenant,
                "mode": if task.incremental { "Incremental" } else { "Full" },
            },
        });
        // A logical strategy's runs are dumps, as its `logical` says.
        if let Some(logical) = &strategy.spec.logical
            && strategy.spec.method == crate::api::backup_strategy::BackupMethod::Logical
        {
            manifest["spec"]["method"] = json!("Logical");
            manifest["spec"]["logical"] = json!(logical);
        }
        crate::crash::point("child/BackupTask/before-create");
        api.patch(
            &task.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&manifest),
        )
        .await?;
        crate::crash::point("child/BackupTask/after-create");
    }
    Ok(())
}

/// Deletes tasks by name; one already gone is fine.
pub async fn delete_tasks(ctx: &Context, namespace: &str, names: &[String]) -> Result<(), Error> {
    let api: Api<BackupTask> = Api::namespaced(ctx.client.clone(), namespace);
    delete_named(&api, names).await
}

/// Deletes objects by name; one already gone is fine.
pub async fn delete_named<K>(api: &Api<K>, names: &[String]) -> Result<(), Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for name in names {
        crate::crash::point("child/before-delete");
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => crate::crash::point("child/after-delete"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Makes the strategy's LogBackups match `tenants` (none when log backup is disabled), each `Running` unless
/// `logBackup.stoppedTenants` names its tenant: creates or updates those that differ, deletes those of tenants no longer in scope. Deleting a LogBackup leaves archiving
/// running in OceanBase.
pub async fn sync_log_backups(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
) -> Result<(), Error> {
    let api: Api<LogBackup> = Api::namespaced(ctx.client.clone(), namespace);
    let existing: BTreeMap<String, LogBackup> = api
        .list(&selector(strategy))
        .await?
        .items
        .into_iter()
        .map(|l| (l.name_any(), l))
        .collect();
    let settings = &strategy.spec.log_backup;
    let wanted: Vec<String> = if settings.enabled {
        tenants.to_vec()
    } else {
        Vec::new()
    };
    for tenant in &wanted {
        let name = log_backup_name(&strategy.name_any(), tenant);
        let desired = if settings.stopped(tenant) {
            DesiredArchiveState::Stopped
        } else {
            DesiredArchiveState::Running
        };
        if existing
            .get(&name)
            .is_some_and(|l| up_to_date(l, tenant, desired, settings))
        {
            continue;
        }
        let manifest = log_backup_manifest(strategy, &name, tenant, desired);
        crate::crash::point("child/LogBackup/before-create");
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await?;
        crate::crash::point("child/LogBackup/after-create");
    }
    let unwanted: Vec<String> = existing
        .keys()
        .filter(|name| {
            !wanted
                .iter()
                .any(|t| log_backup_name(&strategy.name_any(), t) == **name)
        })
        .cloned()
        .collect();
    delete_named(&api, &unwanted).await?;
    for name in &unwanted {
        tracing::info!(log_backup = %name, "removed a LogBackup no longer in the strategy");
    }
    Ok(())
}

/// Whether LogBackup `existing` already is the one wanted for `tenant`, archiving as `desired`.
fn up_to_date(
    existing: &LogBackup,
    tenant: &str,
    desired: DesiredArchiveState,
    settings: &LogBackupSettings,
) -> bool {
    let spec = &existing.spec;
    spec.tenant == tenant
        && spec.desired_state == desired
        && spec.piece_switch_interval == settings.piece_switch_interval
        && spec.binding == settings.binding
        && spec.delay_alert_threshold == settings.delay_alert_threshold
}

/// The LogBackup `name` of `strategy` for `tenant`, archiving as `desired`, as applied.
fn log_backup_manifest(
    strategy: &BackupStrategy,
    name: &str,
    tenant: &str,
    desired: DesiredArchiveState,
) -> serde_json::Value {
    let settings = &strategy.spec.log_backup;
    json!({
        "apiVersion": LogBackup::api_version(&()),
        "kind": LogBackup::kind(&()),
        "metadata": {
            "name": name,
            "labels": { STRATEGY_LABEL: strategy.name_any() },
            "ownerReferences": owner(strategy),
        },
        "spec": {
            "strategyRef": { "name": strategy.name_any() },
            "tenant": tenant,
            "desiredState": desired,
            "pieceSwitchInterval": settings.piece_switch_interval,
            "binding": settings.binding,
            "delayAlertThreshold": settings.delay_alert_threshold,
        },
    })
}

/// Wakes every unfinished object that works through `strategy` (its own children and any other object whose
/// `strategyRef` names it): they take their cluster, Secret and destinations from it, so a change of its
/// spec must reach them now, not when each is next touched.
pub async fn wake_dependents(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<(), Error> {
    use crate::api::CleanupTask;
    let name = strategy.name_any();
    let through = |reference: &Option<crate::api::common::StrategyReference>| {
        reference.as_ref().is_some_and(|r| r.name == name)
    };
    wake_where(ctx, namespace, |l: &LogBackup| {
        through(&l.spec.strategy_ref)
    })
    .await?;
    wake_where(ctx, namespace, |t: &BackupTask| {
        let phase = t.status.as_ref().and_then(|s| s.phase);
        through(&t.spec.strategy_ref) && !phase.is_some_and(BackupTaskPhase::is_terminal)
    })
    .await?;
    wake_where(ctx, namespace, |c: &CleanupTask| {
        let phase = c.status.as_ref().and_then(|s| s.phase);
        through(&c.spec.strategy_ref) && !phase.is_some_and(CleanupTaskPhase::is_terminal)
    })
    .await
}

/// Wakes the objects of kind `K` in `namespace` that `keep` accepts.
async fn wake_where<K: crate::controller::Reconcile>(
    ctx: &Context,
    namespace: &str,
    keep: impl Fn(&K) -> bool,
) -> Result<(), Error> {
    for object in ctx.catalog.list_where(namespace, keep).await? {
        ctx.observers.wake(&crate::observer::ObjectKey {
            kind: K::KIND,
            namespace: namespace.to_string(),
            name: object.name_any(),
        });
    }
    Ok(())
}
