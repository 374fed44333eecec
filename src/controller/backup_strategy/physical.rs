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
    checks::{desired_status, first_checks},
    children, cleanups, destinations,
    overview_metrics::record_metrics,
    plan, retention, second_copy, summary,
};
use crate::{
    api::BackupStrategy,
    controller::{Context, Error, Reconcile, next_action, status},
    observer::{ClusterKey, Interest, ObjectKey, Observation},
};

/// The longest a strategy goes unlooked at.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// Reconciles a BackupStrategy of method Physical.
pub async fn reconcile(
    strategy: Arc<BackupStrategy>,
    ctx: Arc<Context>,
    namespace: String,
) -> Result<Action, Error> {
    let spec = &strategy.spec;
    let mut check = first_checks(&ctx, &namespace, &strategy).await?;
    if let Some(log) = &spec.log_destination {
        check.destination(log).await?;
    }
    check.password(spec.encryption.as_ref()).await?;
    if !check.problems.is_empty() {
        let desired = desired_status(&strategy, &check.problems, crate::clock::now());
        status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
        return Ok(next_action(&check.problems));
    }
    let observer = ctx.observers.observe(
        ClusterKey::of(&namespace, &spec.cluster),
        &spec.cluster.name,
    );
    // Woken by a change in its tenants (in any tenant when it lists none).
    ctx.observers.watch(
        &observer,
        ObjectKey {
            kind: BackupStrategy::KIND,
            namespace: namespace.clone(),
            name: strategy.name_any(),
        },
        Some(Interest::overview(&spec.tenants)),
    );
    let observation = observer.latest();
    let tenants: Vec<String> = match (&observation, spec.tenants.is_empty()) {
        (_, false) => spec.tenants.clone(),
        (Observation::Seen { snapshot, .. }, true) => {
            snapshot.tenants.iter().map(|t| t.name.clone()).collect()
        }
        _ => Vec::new(),
    };
    let now = crate::clock::now();
    if !tenants.is_empty() {
        children::sync_log_backups(&ctx, &namespace, &strategy, &tenants).await?;
    }
    // The second copy's problems are its own: the first backups go on whatever they are.
    let mut second_problem = second_copy::readiness(&ctx, &namespace, &strategy, &tenants).await?;
    let (policy_errors, destination_problems, second) = match &observation {
        Observation::Seen { snapshot, .. } => {
            cleanups::sync(&ctx, &namespace, &strategy, snapshot, &tenants).await?;
            let cleared = second_problem.is_none();
            if cleared {
                second_copy::follow_cleanups(&ctx, &namespace, &strategy, snapshot, &tenants)
                    .await?;
            }
            let (second, failed) = second_copy::copy_overview(
                &ctx, &namespace, &strategy, snapshot, &tenants, cleared,
            )
            .await?;
            second_problem = second_problem.or(failed);
            (
                retention::apply(&ctx, &observer, &namespace, &strategy, snapshot, &tenants).await,
                destinations::apply(&ctx, &observer, &namespace, &strategy, snapshot, &tenants)
                    .await?,
                second,
            )
        }
        _ => (
            Vec::new(),
            Vec::new(),
            strategy
                .status
                .as_ref()
                .and_then(|s| s.second_backup.clone()),
        ),
    };
    let owned = children::tasks(&ctx, &namespace, &strategy).await?;
    let plan = plan::plan(&strategy, &tenants, &owned, now);
    children::create_tasks(&ctx, &namespace, &strategy, &plan.create).await?;
    children::delete_tasks(&ctx, &namespace, &plan.prune).await?;
    let desired = summary::strategy_status(
        &strategy,
        &plan,
        &observation,
        &tenants,
        &summary::Findings {
            policy_errors,
            destination_problems,
            second,
            second_problem,
        },
        now,
    );
    second_copy::warn_when_not_ready(&ctx, &strategy, &desired).await;
    status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
    if second_copy::readiness_changed(&strategy, &desired) {
        // Its copies wait for this word on the current spec: they look again now, not at their recheck.
        children::wake_dependents(&ctx, &namespace, &strategy).await?;
    }
    record_metrics(&ctx, &namespace, &strategy, &desired);
    // Look again when the next run is due (and at least every few minutes, for pruning).
    let next = plan
        .next_full
        .into_iter()
        .chain(plan.next_incremental)
        .min()
        .and_then(|at| {
            Duration::try_from(at.duration_since(now))
                .ok()
                .map(crate::clock::real)
        })
        .unwrap_or(MAX_WAIT);
    // While a tenant archives, its delay must keep up even when nothing wakes the strategy (a stuck
    // archive's checkpoint does not move).
    let archiving = desired
        .tenants
        .iter()
        .any(|t| t.log_delay_seconds.is_some());
    let bound = if archiving {
        crate::clock::real(crate::timing::freshness_recheck())
    } else {
        MAX_WAIT
    };
    let floor = Duration::from_millis(200);
    let object = format!("{namespace}/{}", strategy.name_any());
    Ok(ctx
        .statements
        .requeue(&object, Some(next.clamp(floor, bound.max(floor)))))
}
