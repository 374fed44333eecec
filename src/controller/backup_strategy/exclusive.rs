//! A tenant belongs to at most one strategy (docs/contributing/design.md §2.2), across every watched
//! namespace: the rule is [`crate::controller::ownership::conflict_where`]; this is where the strategy
//! controller applies it. In its own namespace a cluster is the same by display name or source; across
//! namespaces (and within) two strategies are on the same cluster when OceanBase says so (its `cluster` and
//! `cluster_id`), whatever their Secrets and display names.

use super::on_cluster;
use crate::{
    api::{BackupStrategy, common::ClusterConnection},
    controller::{
        Context, Error, coexistence::identity, error::Problem, ownership::conflict_where,
    },
};

/// Checks `strategy` against `same`, the strategies of every watched namespace on its cluster
/// ([`on_same_cluster`]).
pub fn check(strategy: &BackupStrategy, same: &[BackupStrategy]) -> Option<Problem> {
    conflict_where(strategy, same, |_| true)
}

/// The strategies of every watched namespace on the cluster of `strategy` (itself among them once cached):
/// in its own namespace by display name or source; across namespaces (and within), by what OceanBase says
/// the cluster is (`cluster` and `cluster_id`), once both clusters have said. Found through the catalog's
/// index by cluster, who a cluster is asked once per namespace and source: a strategy looks often, and an
/// estate may hold thousands of strategies on hundreds of clusters. In namespace and name order.
pub async fn on_same_cluster(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<BackupStrategy>, Error> {
    let cluster = &strategy.spec.cluster;
    let mut same = ctx
        .catalog
        .on_cluster(namespace, cluster, on_cluster, |_| true)
        .await?;
    if let Some(mine) = identity(ctx, namespace, cluster) {
        let is_mine = |theirs: &str, other: &ClusterConnection| {
            identity(ctx, theirs, other).as_ref() == Some(&mine)
        };
        let known = |o: &BackupStrategy| (o.metadata.namespace.clone(), o.metadata.name.clone());
        let found: std::collections::HashSet<_> = same.iter().map(known).collect();
        let elsewhere = ctx
            .catalog
            .on_matching_clusters(namespace, on_cluster, is_mine, |o| {
                !found.contains(&known(o))
            })
            .await?;
        same.extend(elsewhere);
    }
    same.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    Ok(same)
}
