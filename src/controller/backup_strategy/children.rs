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

/// The BackupTasks the strategy made, but its mirrors of backups started elsewhere ([`super::mirrors`]),
/// listed from the API.
pub async fn tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<Child>, Error> {
    let api: Api<BackupTask> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = api.list(&selector(strategy)).await?.items;
    Ok(listed.iter().filter(|t| scheduled(t)).map(child).collect())
}

/// The same tasks as the controllers' cache holds them: the cache keeps no BackupTask annotations, so
/// their [`SCHEDULED_AT`] is unknown here ([`plan::Child::scheduled_at`] `None`).
async fn cached_tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<Child>, Error> {
    let name = strategy.name_any();
    let mine = |t: &BackupTask| t.labels().get(STRATEGY_LABEL) == Some(&name) && scheduled(t);
    ctx.catalog
        .of_strategy_mapped(namespace, &name, mine, child)
        .await
}

/// Whether `task` is one the strategy schedules (not a mirror of a backup started elsewhere).
fn scheduled(task: &BackupTask) -> bool {
    task.spec.job_id.is_none()
}

/// What the plan reads of `task`.
fn child(task: &BackupTask) -> Child {
    Child {
        scheduled_at: task
            .annotations()
            .get(SCHEDULED_AT)
            .and_then(|v| v.parse().ok()),
        created: task
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(jiff::Timestamp::UNIX_EPOCH, |c| c.0),
        incremental: task.spec.mode == crate::api::backup_task::BackupMode::Incremental,
        phase: task.status.as_ref().and_then(|s| s.phase),
        name: task.name_any(),
    }
}

/// Brings the strategy's BackupTasks for `tenants` in line with its schedule at `now`: creates the runs owed
/// and deletes the finished tasks beyond the history limits ([`plan::plan`]). Returns the plan.
///
/// A look plans from the cache first and lists from the API only when that plan would act: create or
/// delete a task, or record a skipped run the status does not hold yet. Without the tasks'
/// [`SCHEDULED_AT`] the cache's plan errs one way only: it takes every task's run as no newer than the
/// status's `lastScheduleTime` (one is newer only after a crash between its creation and that record),
/// so it may find a run owed, skipped or a task to prune where the API's list shows none, never the
/// reverse; and nothing is created or deleted on the cache's word.
pub async fn sync_tasks(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
    now: jiff::Timestamp,
) -> Result<Plan, Error> {
    let cached = cached_tasks(ctx, namespace, strategy).await?;
    let plan = plan::plan(strategy, tenants, &cached, now);
    if !acts(strategy, &plan, now) {
        return Ok(plan);
    }
    let owned = tasks(ctx, namespace, strategy).await?;
    let plan = plan::plan(strategy, tenants, &owned, now);
    create_tasks(ctx, namespace, strategy, &plan.create).await?;
    delete_tasks(ctx, namespace, &plan.prune).await?;
    Ok(plan)
}

/// Whether `plan` creates or deletes a task, or skips a run the strategy's status has not recorded.
fn acts(strategy: &BackupStrategy, plan: &Plan, now: jiff::Timestamp) -> bool {
    let (_, fresh) = super::history::merge(&super::history::so_far(strategy), &plan.skipped, now);
    !plan.create.is_empty() || !plan.prune.is_empty() || !fresh.is_empty()
}

/// The labels of an object of kind `K` that `strategy` makes in `namespace`: the strategy's, and for a kind
/// the replicas cache by shard ([`crate::controller::Reconcile::CACHED_BY_SHARD`]), its shard's.
pub fn child_labels<K: crate::controller::Reconcile>(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> serde_json::Value {
    let mut labels = json!({ STRATEGY_LABEL: strategy.name_any() });
    if K::CACHED_BY_SHARD {
        labels[crate::shards::SHARD_LABEL] = json!(ctx.shards.label(namespace));
    }
    labels
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
                "labels": child_labels::<BackupTask>(ctx, namespace, strategy),
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
/// `logBackup.stoppedTenants` names its tenant: creates or updates those that differ, deletes those of
/// tenants no longer in scope. Deleting a LogBackup leaves archiving running in OceanBase. Compared with the
/// controllers' cache first; listed from the API only when something differs, and changed as that list
/// says.
pub async fn sync_log_backups(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
) -> Result<(), Error> {
    let name = strategy.name_any();
    let made = |l: &LogBackup| l.labels().get(STRATEGY_LABEL) == Some(&name);
    let cached = ctx.catalog.of_strategy(namespace, &name, made).await?;
    if LogBackupChanges::of(strategy, tenants, &cached).is_empty() {
        return Ok(());
    }
    let api: Api<LogBackup> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = api.list(&selector(strategy)).await?.items;
    let changes = LogBackupChanges::of(strategy, tenants, &listed);
    for (tenant, desired) in &changes.apply {
        let child = log_backup_name(&name, tenant);
        let manifest = log_backup_manifest(strategy, &child, tenant, *desired);
        crate::crash::point("child/LogBackup/before-create");
        api.patch(
            &child,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await?;
        crate::crash::point("child/LogBackup/after-create");
    }
    delete_named(&api, &changes.delete).await?;
    for name in &changes.delete {
        tracing::info!(log_backup = %name, "removed a LogBackup no longer in the strategy");
    }
    Ok(())
}

/// What makes a strategy's LogBackups as wanted: the tenants whose LogBackup to apply (with the archive state
/// wanted), and the LogBackups to delete.
#[derive(Debug, Default, PartialEq)]
struct LogBackupChanges {
    apply: Vec<(String, DesiredArchiveState)>,
    delete: Vec<String>,
}

impl LogBackupChanges {
    /// The changes that bring `existing` (the strategy's LogBackups) to one per tenant of `tenants`.
    fn of(strategy: &BackupStrategy, tenants: &[String], existing: &[LogBackup]) -> Self {
        let name = strategy.name_any();
        let existing: BTreeMap<String, &LogBackup> =
            existing.iter().map(|l| (l.name_any(), l)).collect();
        let settings = &strategy.spec.log_backup;
        let wanted: &[String] = if settings.enabled { tenants } else { &[] };
        let apply = wanted
            .iter()
            .map(|tenant| {
                let desired = if settings.stopped(tenant) {
                    DesiredArchiveState::Stopped
                } else {
                    DesiredArchiveState::Running
                };
                (tenant, desired)
            })
            .filter(|(tenant, desired)| {
                !existing
                    .get(&log_backup_name(&name, tenant))
                    .is_some_and(|l| up_to_date(l, tenant, *desired, settings))
            })
            .map(|(tenant, desired)| (tenant.clone(), desired))
            .collect();
        let delete = existing
            .keys()
            .filter(|l| !wanted.iter().any(|t| log_backup_name(&name, t) == **l))
            .cloned()
            .collect();
        Self { apply, delete }
    }

    fn is_empty(&self) -> bool {
        self.apply.is_empty() && self.delete.is_empty()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a strategy makes carries its strategy's label; a BackupTask, the kind the replicas cache by
    /// shard, also its shard's (else only the replica holding every shard would see it).
    #[tokio::test]
    async fn only_the_kind_cached_by_shard_is_labelled_with_its_shard() {
        let api = crate::controller::fixtures::FakeApi::new(Default::default());
        let mut ctx = Context::for_tests(api.client(), "BackupStrategy");
        ctx.shards = std::sync::Arc::new(crate::shards::Shards::new(4));
        let strategy: BackupStrategy = serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "nightly", "namespace": "team-a"},
            "spec": {"cluster": {"name": "c", "connectionSecret": "db"},
                     "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///l"},
                     "schedule": {"timeZone": "UTC", "full": "0 1 * * *"}},
        }))
        .expect("a strategy");
        let shard = format!("{}-of-4", ctx.shards.of("team-a"));
        assert_eq!(
            child_labels::<BackupTask>(&ctx, "team-a", &strategy),
            json!({ STRATEGY_LABEL: "nightly", crate::shards::SHARD_LABEL: shard })
        );
        assert_eq!(
            child_labels::<crate::api::RecoveryTask>(&ctx, "team-a", &strategy),
            json!({ STRATEGY_LABEL: "nightly" })
        );
    }
}
