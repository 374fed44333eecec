//! What deleting a strategy does in OceanBase (`deletionPolicy`, docs/contributing/design.md §2.2).
//! `Retain` (the default) needs nothing: Kubernetes garbage-collects the children and OceanBase
//! keeps archiving, its destinations, the delete policy and every backup. `StopArchiving` holds the
//! strategy with a finalizer until, for each tenant in scope, the strategy's LogBackups are gone
//! (so none restarts archiving), archiving is stopped (`NOARCHIVELOG`) and the `'default'` delete
//! policy is dropped. Backup data is never deleted. While OceanBase cannot be reached the finalizer
//! stays, a Warning event says why, and setting the policy back to `Retain` releases the strategy
//! at once.

use crate::reason::Reason;

use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType},
    },
};
use serde_json::json;

use super::{children, plan::STRATEGY_LABEL};
use crate::{
    api::{BackupStrategy, LogBackup, backup_strategy::DeletionPolicy},
    controller::Reconcile,
    controller::{Context, Error},
    observer::{ClusterKey, Interest, ObjectKey, Observation},
    oceanbase::{Redactor, Snapshot, sql},
};

/// The finalizer that holds a `StopArchiving` strategy until archiving is stopped.
pub const FINALIZER: &str = "obbackup.dev/stop-archiving";

/// What the reconcile does next.
pub enum Next {
    /// Go on reconciling the (live) strategy.
    Continue,
    /// The strategy is being deleted: this is the outcome.
    Done(Action),
}

/// Keeps the finalizer in line with `deletionPolicy` and, once the strategy is being deleted, carries out
/// the policy.
pub async fn handle(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Next, Error> {
    let wants = strategy.spec.deletion_policy == DeletionPolicy::StopArchiving;
    let has = strategy.finalizers().iter().any(|f| f == FINALIZER);
    let deleting = strategy.metadata.deletion_timestamp.is_some();
    if !deleting {
        if wants != has {
            set_finalizer(ctx, namespace, strategy, wants).await?;
        }
        return Ok(Next::Continue);
    }
    if !has {
        return Ok(Next::Done(Action::await_change()));
    }
    if !wants
        || super::exclusive::check(
            strategy,
            &super::exclusive::on_same_cluster(ctx, namespace, strategy).await?,
        )
        .is_some()
    {
        // Switched back to Retain while being deleted, or never in charge of its tenants (another strategy
        // claimed them first): release it untouched.
        set_finalizer(ctx, namespace, strategy, false).await?;
        return Ok(Next::Done(Action::await_change()));
    }
    // First the LogBackups, so that none of them starts archiving again.
    if remove_log_backups(ctx, namespace, strategy).await? {
        return Ok(Next::Done(Action::requeue(
            crate::timing::LOG_BACKUPS_REMOVED_RECHECK,
        )));
    }
    stop_archiving(ctx, namespace, strategy).await
}

/// Deletes the strategy's LogBackups; whether any was left to delete.
async fn remove_log_backups(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<bool, Error> {
    let log_backups: Api<LogBackup> = Api::namespaced(ctx.client.clone(), namespace);
    let selector =
        ListParams::default().labels(&format!("{STRATEGY_LABEL}={}", strategy.name_any()));
    let remaining: Vec<String> = log_backups
        .list(&selector)
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    if remaining.is_empty() {
        return Ok(false);
    }
    children::delete_named(&log_backups, &remaining).await?;
    Ok(true)
}

/// Stops archiving and drops the delete policies of the strategy's tenants, then releases the strategy.
/// While OceanBase cannot be read, or refuses, a Warning event says why and it is tried again.
async fn stop_archiving(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Next, Error> {
    let observer = ctx.observers.observe(
        ClusterKey::of(namespace, &strategy.spec.cluster),
        &strategy.spec.cluster.name,
    );
    // Watched, so the observer keeps reading (an observer nobody watches stops after a few cycles, and
    // the strategy would find a fresh, unread one each retry) and wakes the strategy when it has read.
    let object = ObjectKey {
        kind: BackupStrategy::KIND,
        namespace: namespace.to_string(),
        name: strategy.name_any(),
    };
    ctx.observers.watch(
        &observer,
        object.clone(),
        Some(Interest::overview(&strategy.spec.tenants, false)),
    );
    let Observation::Seen { snapshot, .. } = observer.latest() else {
        warn(
            ctx,
            strategy,
            "OceanBase cannot be read; archiving is stopped once it can",
        )
        .await;
        observer.poke();
        return Ok(Next::Done(Action::requeue(crate::timing::RELEASE_RETRY)));
    };
    let statements = stop_statements(strategy, &snapshot);
    if !statements.is_empty()
        && let Err(error) = ctx
            .observers
            .execute(&observer, statements, &Redactor::default())
            .await
    {
        warn(
            ctx,
            strategy,
            &format!("stopping archiving failed: {error}"),
        )
        .await;
        return Ok(Next::Done(Action::requeue(crate::timing::RELEASE_RETRY)));
    }
    tracing::info!(strategy = %strategy.name_any(), "archiving stopped and delete policies dropped; releasing the strategy");
    set_finalizer(ctx, namespace, strategy, false).await?;
    ctx.observers.unwatch(&object);
    Ok(Next::Done(Action::await_change()))
}

/// `NOARCHIVELOG` for each tenant in scope still archiving, `DROP DELETE BACKUP POLICY` for each with a
/// policy. Tenants OceanBase no longer has are skipped.
fn stop_statements(
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
) -> Vec<Result<String, crate::oceanbase::ObError>> {
    let tenants: Vec<&crate::oceanbase::TenantRow> = if strategy.spec.tenants.is_empty() {
        snapshot
            .tenants
            .iter()
            .filter(|t| !crate::names::is_scratch(&t.name))
            .collect()
    } else {
        strategy
            .spec
            .tenants
            .iter()
            .filter_map(|t| snapshot.tenant(t))
            .collect()
    };
    let mut statements = Vec::new();
    for tenant in tenants {
        if tenant.archivelog {
            statements.push(sql::archive_mode(&tenant.name, false));
        }
        if snapshot.delete_policy(tenant.id).is_some() {
            statements.push(sql::drop_delete_policy(&tenant.name));
        }
    }
    statements
}

async fn set_finalizer(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    present: bool,
) -> Result<(), Error> {
    let mut finalizers: Vec<String> = strategy
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(FINALIZER.to_string());
    }
    // The resourceVersion makes this a compare-and-swap: another writer's finalizer is never lost.
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": strategy.resource_version(),
        }
    });
    let api: Api<BackupStrategy> = Api::namespaced(ctx.client.clone(), namespace);
    crate::crash::point("finalizer/before");
    api.patch(
        &strategy.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    crate::crash::point("finalizer/after");
    Ok(())
}

async fn warn(ctx: &Context, strategy: &BackupStrategy, note: &str) {
    tracing::warn!(strategy = %strategy.name_any(), note, "cannot release the strategy yet");
    ctx.publish(
        strategy,
        Event {
            type_: EventType::Warning,
            reason: Reason::StopArchivingPending.into(),
            note: Some(format!(
                "{note}; set deletionPolicy: Retain to delete the strategy without stopping archiving"
            )),
            action: "StopArchiving".into(),
            secondary: None,
        },
    )
    .await;
}
