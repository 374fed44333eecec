//! A tenant belongs to at most one strategy (docs/contributing/design.md §2.2), across every watched
//! namespace: the rule is [`crate::controller::ownership::conflict_where`]; this is where the strategy
//! controller applies it. In its own namespace a cluster is the same by display name or source; across
//! namespaces (and within) two strategies are on the same cluster when OceanBase says so (its `cluster` and
//! `cluster_id`), whatever their Secrets and display names.

use std::collections::HashMap;

use crate::{
    api::{BackupStrategy, common::ClusterConnection},
    controller::{Context, Error, error::Problem, ownership::conflict_where},
    oceanbase::ClusterIdentity,
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
    let identities = std::sync::Mutex::new(Identities::default());
    ctx.catalog
        .list_everywhere(namespace, |other: &BackupStrategy| {
            let theirs = other.metadata.namespace.as_deref().unwrap_or_default();
            (theirs == namespace && other.spec.cluster.same_cluster(&strategy.spec.cluster))
                || mine.as_ref().is_some_and(|mine| {
                    let cluster = &other.spec.cluster;
                    let ask = || crate::controller::coexistence::identity(ctx, theirs, cluster);
                    crate::sync::lock(&identities).of(theirs, cluster, ask) == Some(mine)
                })
        })
        .await
}

/// What OceanBase said each cluster is, asked once per cluster rather than once per strategy: a look weighs
/// every strategy of every watched namespace, and a cluster holds several. By namespace, then by whether
/// the login comes from an OBCluster and its or the Secret's name, so that a cluster seen before is found
/// without copying a name.
#[derive(Default)]
struct Identities {
    by_source: [HashMap<String, HashMap<String, Option<ClusterIdentity>>>; 2],
}

impl Identities {
    /// The identity of `cluster` as objects of `namespace` reach it: `ask`ed the first time only.
    fn of(
        &mut self,
        namespace: &str,
        cluster: &ClusterConnection,
        ask: impl FnOnce() -> Option<ClusterIdentity>,
    ) -> Option<&ClusterIdentity> {
        let (ob_cluster, name) = cluster.source_parts();
        let seen = &mut self.by_source[usize::from(ob_cluster)];
        let known = seen
            .get(namespace)
            .is_some_and(|names| names.contains_key(name));
        if !known {
            let identity = ask();
            seen.entry(namespace.to_string())
                .or_default()
                .insert(name.to_string(), identity);
        }
        seen.get(namespace)?.get(name)?.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(cluster: &str) -> Option<ClusterIdentity> {
        Some(ClusterIdentity {
            name: cluster.into(),
            id: 1,
        })
    }

    #[test]
    fn each_cluster_is_asked_once_by_namespace_and_source_whatever_its_display_name() {
        let mut identities = Identities::default();
        let asked = std::cell::Cell::new(0);
        let mut of = |namespace: &str, cluster: ClusterConnection, answer: &str| {
            let ask = || {
                asked.set(asked.get() + 1);
                identity(answer)
            };
            identities.of(namespace, &cluster, ask).cloned()
        };
        let secret = |name: &str, source: &str| ClusterConnection::through_secret(name, source);
        assert_eq!(of("a", secret("x", "db"), "ob1"), identity("ob1"));
        // The same Secret under another display name: the same cluster, not asked again.
        assert_eq!(of("a", secret("y", "db"), "other"), identity("ob1"));
        assert_eq!(asked.get(), 1);
        // The same Secret name in another namespace, and an OBCluster of that name: each asked.
        assert_eq!(of("b", secret("x", "db"), "ob2"), identity("ob2"));
        let ob_cluster = ClusterConnection {
            ob_cluster: Some(crate::api::common::ObjectName { name: "db".into() }),
            connection_secret: None,
            ..secret("x", "db")
        };
        assert_eq!(of("a", ob_cluster, "ob3"), identity("ob3"));
        assert_eq!(asked.get(), 3);
    }
}
