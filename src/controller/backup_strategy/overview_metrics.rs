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
    use crate::metrics::{StrategyLabels, strategy_tenant};
    let metrics = &ctx.metrics;
    let cluster = &strategy.spec.cluster.name;
    let name = strategy.name_any();
    let logical = strategy.spec.method == crate::api::backup_strategy::BackupMethod::Logical;
    // Sets a tenant's window and bytes in `series`, and says the labels they were set under.
    let record = |series: &crate::metrics::CopySeries,
                  tenant: &str,
                  windows: &[crate::api::common::TimeWindow],
                  bytes: [Option<i64>; 2]| {
        let newest = windows
            .last()
            .map(|w| (w.from.0.as_second(), w.to.0.as_second()));
        let labels = strategy_tenant(namespace, cluster, tenant, &name);
        series.record(&labels, newest, bytes[0], bytes[1]);
        labels
    };
    for t in &status.tenants {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        let labels = record(&metrics.first_copy, &t.name, &t.recoverable_windows, bytes);
        // A logical strategy's newest kept dump: when its data is as of (its last full backup), so that
        // the no-recent-backup alert covers dumps as it covers backup sets. Gone while none is kept.
        match (logical, &t.last_full_backup_time) {
            (true, Some(at)) => {
                metrics
                    .last_dump
                    .get_or_create(&labels)
                    .set(at.0.as_second());
            }
            _ => {
                metrics.last_dump.remove(&labels);
            }
        }
    }
    for t in status.second_backup.iter().flat_map(|s| &s.tenants) {
        let bytes = [t.data_backup_bytes, t.log_backup_bytes];
        record(&metrics.second_copy, &t.name, &t.recoverable_windows, bytes);
    }
    metrics.strategy_recorded(
        namespace,
        &name,
        cluster,
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
