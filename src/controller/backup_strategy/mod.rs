//! BackupStrategy controller (docs/contributing/design.md §2.2). It validates what only the
//! operator can (time zone and cron expressions against real calendars, the Secrets it names),
//! keeps one LogBackup per tenant in scope, creates the scheduled BackupTasks ([`plan`]), prunes
//! finished ones beyond the history limits, and reports the cluster overview ([`summary`]).
//!
//! It also keeps each tenant's `'default'` delete policy at `retention.recoveryWindow` ([`retention`]).
//!
//! It sets each tenant's `DATA_BACKUP_DEST` ahead of the first backup and reports `DestinationReady`
//! ([`destinations`]).
//!
//! It mirrors the delete jobs OceanBase's policy starts as CleanupTasks ([`cleanups`]), and carries out
//! `deletionPolicy` when deleted ([`deletion`]).
//!
//! Its reconcile is a dispatch on the method, after what both methods share (the deletion policy, and
//! waking the objects that work through a changed spec): [`physical`] (OceanBase's own backups) or
//! [`logical`] (dumps through a tenant user). Both are checked first for the same things ([`checks`]) and
//! report their overview as metrics alike ([`overview_metrics`]).

pub mod alert_record;
mod checks;
pub mod children;
mod coverage;
pub mod deletion;
pub mod destination_check;
pub mod destinations;
pub mod drills;
pub mod exclusive;
mod history;
mod logical;
pub mod mirrors;
mod overview_metrics;
mod physical;
pub mod plan;
pub mod retention;
mod second_copy;
pub mod summary;

use std::sync::Arc;

use kube::runtime::controller::Action;

use super::{Context, Error, Reconcile, namespace_of};
use crate::{
    api::{BackupStrategy, backup_strategy::BackupMethod},
    observer::ObjectKey,
};

/// The cluster a strategy is on (for the catalog's index by cluster).
pub fn on_cluster(strategy: &BackupStrategy) -> Option<&crate::api::common::ClusterConnection> {
    Some(&strategy.spec.cluster)
}

// A strategy has no end.
super::status::status_view!(
    crate::api::BackupStrategyStatus,
    |_| false,
    steady = steady_part
);

/// The status without what follows its tenants' archive checkpoints by itself: the checkpoints, delays,
/// archived bytes (and so the total size) and the newest window's end, of the first copy and the second.
fn steady_part(status: &crate::api::BackupStrategyStatus) -> crate::api::BackupStrategyStatus {
    use crate::api::backup_strategy::{SecondBackupOverview, SecondTenantCopy, TenantBackupStatus};
    let tenants = status
        .tenants
        .iter()
        .map(|t| TenantBackupStatus {
            log_checkpoint_time: None,
            log_delay_seconds: None,
            log_backup_bytes: None,
            recoverable_windows: without_end(&t.recoverable_windows),
            ..t.clone()
        })
        .collect();
    let second_backup = status
        .second_backup
        .as_ref()
        .map(|copy| SecondBackupOverview {
            log_checkpoint_time: None,
            log_delay_seconds: None,
            tenants: copy
                .tenants
                .iter()
                .map(|t| SecondTenantCopy {
                    log_backup_bytes: None,
                    recoverable_windows: without_end(&t.recoverable_windows),
                    ..t.clone()
                })
                .collect(),
            ..copy.clone()
        });
    crate::api::BackupStrategyStatus {
        tenants,
        log_checkpoint_time: None,
        log_delay_seconds: None,
        backup_size: None,
        second_backup,
        ..status.clone()
    }
}

/// `windows` with the newest one's end left out (it follows the archive checkpoint).
fn without_end(windows: &[crate::api::common::TimeWindow]) -> Vec<crate::api::common::TimeWindow> {
    let mut windows = windows.to_vec();
    if let Some(newest) = windows.last_mut() {
        newest.to = newest.from.clone();
    }
    windows
}

impl Reconcile for BackupStrategy {
    const KIND: &'static str = "BackupStrategy";
    const READ_ANNOTATIONS: &'static [&'static str] = &[];
    const ON_CLUSTER: Option<super::catalog::OnCluster<Self>> = Some(on_cluster);

    fn phase_label(&self) -> Option<&'static str> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.status
            .as_ref()
            .map_or(&[], super::status::StatusView::conditions)
    }

    /// Its tenants' log checkpoints and delays move by themselves (counted before its first status too:
    /// a strategy without archiving is the exception).
    fn refreshes(&self) -> bool {
        true
    }

    fn forget_all_but(metrics: &crate::metrics::Metrics, alive: &dyn Fn(&ObjectKey) -> bool) {
        metrics.retain_strategies(|namespace, name| {
            alive(&ObjectKey {
                kind: Self::KIND,
                namespace: namespace.into(),
                name: name.into(),
            })
        });
    }

    async fn reconcile(strategy: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(strategy.as_ref())?;
        if let deletion::Next::Done(action) = deletion::handle(&ctx, &namespace, &strategy).await? {
            return Ok(action);
        }
        if strategy.status.as_ref().and_then(|s| s.observed_generation)
            != strategy.metadata.generation
        {
            // The spec changed (a Secret, a destination, the cluster): the objects working through it follow
            // now. Before the status write that records the generation, so a crash in between wakes them
            // again.
            children::wake_dependents(&ctx, &namespace, &strategy).await?;
        }
        match strategy.spec.method {
            BackupMethod::Physical => physical::reconcile(strategy, ctx, namespace).await,
            BackupMethod::Logical => logical::reconcile(strategy, ctx, namespace).await,
        }
    }
}
