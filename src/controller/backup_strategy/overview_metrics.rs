//! A strategy's overview as metrics, whichever its method: what its status says of each tenant's newest
//! recoverable window and storage, on the first destinations and on the second copy, and its next run.

use kube::ResourceExt;

use crate::{
    api::{BackupStrategy, BackupStrategyStatus},
    controller::Context,
};

/// The overview as metrics: each tenant's newest recoverable window and storage, on the first destinations
/// and on the second copy, and the next scheduled run.
pub(super) fn record_metrics(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    status: &BackupStrategyStatus,
) {
    use crate::metrics::{StrategyLabels, TenantLabels};
    let metrics = &ctx.metrics;
    let cluster = &strategy.spec.cluster.name;
    let logical = strategy.spec.method == crate::api::backup_strategy::BackupMethod::Logical;
    let method = if logical {
        crate::metrics::LOGICAL
    } else {
        crate::metrics::PHYSICAL
    };
    let record = |series: &crate::metrics::CopySeries,
                  tenant: &str,
                  windows: &[crate::api::common::TimeWindow],
                  bytes: [Option<i64>; 2]| {
        let labels = TenantLabels {
            namespace: namespace.to_string(),
            cluster: cluster.clone(),
            tenant: tenant.to_string(),
        };
        let newest = windows
            .last()
            .map(|w| (w.from.0.as_second(), w.to.0.as_second()));
        series.record(&labels, method, newest, bytes[0], bytes[1]);
    };
    for t in &status.tenants {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        record(&metrics.first_copy, &t.name, &t.recoverable_windows, bytes);
    }
    if logical {
        for t in &status.tenants {
            newest_dump(ctx, namespace, cluster, t);
        }
    }
    for t in status.second_backup.iter().flat_map(|s| &s.tenants) {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        record(&metrics.second_copy, &t.name, &t.recoverable_windows, bytes);
    }
    metrics.strategy_recorded(
        namespace,
        &strategy.name_any(),
        cluster,
        method,
        status.tenants.iter().map(|t| t.name.clone()).collect(),
    );
    let next = [
        &status.next_full_backup_time,
        &status.next_incremental_backup_time,
    ]
    .into_iter()
    .flatten()
    .map(|t| t.0.as_second())
    .min();
    if let Some(drill) = &strategy.spec.restore_drill {
        let max_age = crate::api::common::parse_duration(&drill.max_age).map_or(0, |d| d.as_secs());
        metrics
            .drills
            .record(namespace, &strategy.name_any(), &status.drills, max_age);
    } else {
        metrics.drills.forget(namespace, &strategy.name_any());
    }
    metrics.coverage.record(
        namespace,
        &strategy.name_any(),
        cluster,
        &status.tenants_without_strategy,
    );
    if let Some(next) = next {
        metrics
            .next_backup
            .get_or_create(&StrategyLabels {
                namespace: namespace.to_string(),
                strategy: strategy.name_any(),
            })
            .set(next);
    }
}

/// A logical strategy's tenant's newest kept dump, as `obbackup_last_successful_backup_timestamp_seconds`
/// of mode `Logical`: when its data is as of (the overview's last full backup), so that the no-recent-backup
/// alert covers dumps as it covers backup sets. Gone while no dump is kept.
fn newest_dump(
    ctx: &Context,
    namespace: &str,
    cluster: &str,
    tenant: &crate::api::backup_strategy::TenantBackupStatus,
) {
    let labels = crate::metrics::BackupModeLabels {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
        tenant: tenant.name.clone(),
        mode: crate::metrics::LOGICAL.into(),
    };
    let series = &ctx.metrics.last_successful_backup;
    match &tenant.last_full_backup_time {
        Some(at) => {
            series.get_or_create(&labels).set(at.0.as_second());
        }
        None => {
            series.remove(&labels);
        }
    }
}
