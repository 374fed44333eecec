//! A tenant belongs to at most one strategy (docs/contributing/design.md §2.2), across every watched
//! namespace: the rule is [`crate::controller::ownership::conflict_where`]; this is where the strategy
//! controller applies it. In its own namespace a cluster is the same by display name or source; across
//! namespaces (and within) two strategies are on the same cluster when OceanBase says so (its `cluster` and
//! `cluster_id`), whatever their Secrets and display names.

use crate::{
    api::BackupStrategy,
    controller::{Context, Error, error::Problem, ownership::conflict_where},
};

/// Checks `strategy` against `same`, the strategies of every watched namespace on its cluster
/// ([`on_same_cluster`]).
pub fn check(strategy: &BackupStrategy, same: &[BackupStrategy]) -> Option<Problem> {
    conflict_where(strategy, same, |_| true)
}

/// The strategies of every watched namespace on the cluster of `strategy` (itself among them once cached):
/// in its own namespace by display name or source; across namespaces (and within), by what OceanBase says
/// the cluster is (`cluster` and `cluster_id`), once both clusters have said. Only these are copied out of
/// the cache, and a look finds them once: a strategy looks often, and an estate may hold thousands of
/// strategies.
pub async fn on_same_cluster(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<BackupStrategy>, Error> {
    let mine = crate::controller::coexistence::identity(ctx, namespace, &strategy.spec.cluster);
    ctx.catalog
        .list_everywhere(namespace, |other: &BackupStrategy| {
            let theirs = other.metadata.namespace.as_deref().unwrap_or_default();
            (theirs == namespace && other.spec.cluster.same_cluster(&strategy.spec.cluster))
                || mine.as_ref().is_some_and(|mine| {
                    crate::controller::coexistence::identity(ctx, theirs, &other.spec.cluster)
                        .as_ref()
                        == Some(mine)
                })
        })
        .await
}
