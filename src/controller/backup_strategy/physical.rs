//! A BackupStrategy of method Physical: OceanBase's own backups (docs/contributing/design.md §2.2). Each
//! look: the Secrets and destinations it names are checked ([`super::checks`]); one LogBackup per tenant
//! in scope is kept ([`super::children`]); on a cluster that answered, the cleanups OceanBase started are
//! mirrored ([`super::cleanups`]), the second copy follows them and is verified ([`super::second_copy`]),
//! each tenant's delete policy and data destination are set ([`super::retention`],
//! [`super::destinations`]); the scheduled BackupTasks are created and the finished ones pruned
//! ([`super::plan`]); and the overview is written ([`super::summary`]).

use std::{sync::Arc, time::Duration};

use kube::{ResourceExt, runtime::controller::Action};

use super::{
    checks::{first_checks, stop_on_problems},
    children, coverage, destination_check, destinations, drills, exclusive, history, mirrors,
    overview_metrics::record_metrics,
    plan::Plan,
    retention, second_copy,
    summary::{self, Findings},
};
use crate::{
    api::{BackupStrategy, BackupStrategySpec, BackupStrategyStatus},
    controller::{Context, Error, Reconcile, status},
    observer::{ClusterKey, ClusterObserver, Interest, ObjectKey, Observation},
};

/// Reconciles a BackupStrategy of method Physical: checked, the cluster watched, its tenants configured,
/// its runs scheduled, the overview written, and the next look set.
pub async fn reconcile(
    strategy: Arc<BackupStrategy>,
    ctx: Arc<Context>,
    namespace: String,
) -> Result<Action, Error> {
    let spec = &strategy.spec;
    // The strategies on its cluster: for its claim on its tenants, and for the tenants none covers.
    let same = exclusive::on_same_cluster(&ctx, &namespace, &strategy).await?;
    let mut check = first_checks(&ctx, &namespace, &strategy, &same).await?;
    if let Some(log) = &spec.log_destination {
        check.destination(log).await?;
    }
    check.password(spec.encryption.as_ref()).await?;
    if let Some(action) = stop_on_problems(&ctx, &strategy, &check.problems).await? {
        return Ok(action);
    }
    let observer = watch_cluster(&ctx, &namespace, &strategy);
    let observation = observer.latest();
    let tenants = in_scope(spec, &observation);
    let now = crate::clock::now();
    if !tenants.is_empty() {
        children::sync_log_backups(&ctx, &namespace, &strategy, &tenants).await?;
    }
    let findings = configure(
        &ctx,
        &observer,
        &namespace,
        &strategy,
        &observation,
        &tenants,
    )
    .await?;
    let plan = children::sync_tasks(&ctx, &namespace, &strategy, &tenants, now).await?;
    let freshness = ctx.writes.freshness();
    let mut desired = summary::strategy_status(
        &strategy,
        &plan,
        &observation,
        &tenants,
        &findings,
        now,
        freshness,
    );
    let made = plan.made();
    history::record(&ctx, &strategy, &plan.skipped, &made, &mut desired, now).await;
    desired.tenants_without_strategy = coverage::look(&strategy, &same, &observation);
    let drills = drills::look(&ctx, &namespace, &strategy, &tenants, &mut desired, now).await?;
    report(&ctx, &namespace, &strategy, &desired).await?;
    let object = format!("{namespace}/{}", strategy.name_any());
    let look = drills::sooner(next_look(&plan, &desired, now, freshness), drills);
    let check_key = destination_check::key(&namespace, &strategy);
    let every = ctx.settings.destination_check;
    let look = look.min(
        ctx.destination_checks
            .due_in(&check_key, every)
            .max(every / 10),
    );
    Ok(ctx.statements.requeue(&object, Some(look)))
}

/// The observer of the strategy's cluster, watched by the strategy: woken by a change in its tenants (in
/// any tenant when it lists none, or while it reports tenants without a strategy: one of them starting to
/// archive under another strategy ends the report at once), and by a tenant's lag crossing the alert.
fn watch_cluster(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Arc<ClusterObserver> {
    let spec = &strategy.spec;
    let reporting = strategy
        .status
        .as_ref()
        .is_some_and(|s| !s.tenants_without_strategy.is_empty());
    let watched: &[String] = if reporting { &[] } else { &spec.tenants };
    let observer = ctx
        .observers
        .observe(ClusterKey::of(namespace, &spec.cluster), &spec.cluster.name);
    ctx.observers.watch(
        &observer,
        ObjectKey {
            kind: BackupStrategy::KIND,
            namespace: namespace.to_string(),
            name: strategy.name_any(),
        },
        Some(Interest::overview(watched, true).alerting_over(lag_alert(spec))),
    );
    observer
}

/// The lag over which the strategy's tenants are reported not archiving well (while log backup is on).
fn lag_alert(spec: &BackupStrategySpec) -> Option<jiff::SignedDuration> {
    let settings = &spec.log_backup;
    settings
        .enabled
        .then(|| crate::api::common::parse_duration(&settings.delay_alert_threshold))
        .flatten()
}

/// The tenants in scope: those the strategy lists, or every tenant of the cluster when it lists none but
/// the drills' scratch tenants (none while the cluster is not read).
fn in_scope(spec: &BackupStrategySpec, observation: &Observation) -> Vec<String> {
    match (observation, spec.tenants.is_empty()) {
        (_, false) => spec.tenants.clone(),
        (Observation::Seen { snapshot, .. }, true) => snapshot
            .tenants
            .iter()
            .map(|t| t.name.clone())
            .filter(|t| !crate::names::is_scratch(t))
            .collect(),
        _ => Vec::new(),
    }
}

/// Configures OceanBase for the tenants, on a cluster that answered: mirrors its cleanups, keeps the second
/// copy following and verified, sets each tenant's delete policy and data destination. Returns what it
/// found (the second copy as it was when the cluster was not read).
async fn configure(
    ctx: &Context,
    observer: &ClusterObserver,
    namespace: &str,
    strategy: &BackupStrategy,
    observation: &Observation,
    tenants: &[String],
) -> Result<Findings, Error> {
    // The second copy's problems are its own: the first backups go on whatever they are.
    let second_problem = second_copy::readiness(ctx, namespace, strategy, tenants).await?;
    let Observation::Seen { snapshot, .. } = observation else {
        return Ok(Findings {
            policy_errors: Vec::new(),
            destination_problems: Vec::new(),
            second: strategy
                .status
                .as_ref()
                .and_then(|s| s.second_backup.clone()),
            second_problem,
        });
    };
    mirrors::sync(ctx, namespace, strategy, snapshot, tenants).await?;
    let cleared = second_problem.is_none();
    if cleared {
        second_copy::follow_cleanups(ctx, namespace, strategy, snapshot, tenants).await?;
    }
    let (second, failed) =
        second_copy::copy_overview(ctx, namespace, strategy, snapshot, tenants, cleared).await?;
    Ok(Findings {
        policy_errors: retention::apply(ctx, observer, namespace, strategy, snapshot, tenants)
            .await,
        destination_problems: [
            destinations::apply(ctx, observer, namespace, strategy, snapshot, tenants).await?,
            destination_check::recheck(ctx, namespace, strategy, tenants).await?,
        ]
        .concat(),
        second,
        second_problem: second_problem.or(failed),
    })
}

/// Writes the overview `desired` (a Warning first when the second copy is not ready), wakes the objects
/// that wait on the second copy's readiness when it changed, and records the overview as metrics.
async fn report(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    desired: &BackupStrategyStatus,
) -> Result<(), Error> {
    second_copy::warn_when_not_ready(ctx, strategy, desired).await;
    status::write(ctx, strategy, strategy.status.as_ref(), desired).await?;
    if second_copy::readiness_changed(strategy, desired) {
        // Its copies wait for this word on the current spec: they look again now, not at their recheck.
        children::wake_dependents(ctx, namespace, strategy).await?;
    }
    record_metrics(ctx, namespace, strategy, desired);
    Ok(())
}

/// When to look again: when the next run is due (and at least every few minutes, for pruning), sooner while
/// a tenant archives.
fn next_look(
    plan: &Plan,
    desired: &BackupStrategyStatus,
    now: jiff::Timestamp,
    freshness: jiff::SignedDuration,
) -> Duration {
    let next = plan
        .next_run()
        .and_then(|at| {
            Duration::try_from(at.duration_since(now))
                .ok()
                .map(crate::clock::real)
        })
        .unwrap_or(crate::timing::STRATEGY_MAX_WAIT);
    // Nothing wakes the strategy when its tenants' checkpoints move (or stay stuck): it looks again once
    // the figures its lines show are a grain old.
    let bound = desired
        .tenants
        .iter()
        .filter(|t| t.log_delay_seconds.is_some())
        .map(|t| crate::clock::real(summary::figures(t).recheck(now, freshness)))
        .min()
        .unwrap_or(crate::timing::STRATEGY_MAX_WAIT);
    let floor = crate::timing::STRATEGY_MIN_WAIT;
    next.clamp(floor, bound.max(floor))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::oceanbase::fake;

    #[test]
    fn every_tenant_in_scope_leaves_out_the_drills_scratch_tenants() {
        let spec: BackupStrategySpec = serde_json::from_value(serde_json::json!({
            "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": [],
            "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
            "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
        }))
        .expect("spec");
        let snapshot = fake::snapshot()
            .tenant(fake::tenant(1002, "tenant1"))
            .tenant(fake::tenant(1004, "drill_tenant1_20261126030000"))
            .build();
        let observation = Observation::Seen {
            snapshot: Arc::new(snapshot),
            at: jiff::Timestamp::UNIX_EPOCH,
        };
        assert_eq!(in_scope(&spec, &observation), vec!["tenant1".to_string()]);
    }
}
