//! Which tenants of a strategy's cluster no strategy covers: the console's "No Backup Strategy"
//! (docs/guide/cluster-overview.md). Every strategy of a cluster could say it; the first by namespace and
//! name says it, so that each such tenant is reported (and alerted on) once. Strategies are on the same
//! cluster as [`super::exclusive`] decides: in one namespace by display name or source, across namespaces
//! by what OceanBase says it is.

use kube::ResourceExt;

use crate::{api::BackupStrategy, names::is_scratch, observer::Observation, oceanbase::Snapshot};

/// What the strategy reports now, given `same` (the strategies on its cluster,
/// [`super::exclusive::on_same_cluster`]): from the cluster as read, else what it reported before.
pub fn look(
    strategy: &BackupStrategy,
    same: &[BackupStrategy],
    observation: &Observation,
) -> Vec<String> {
    match observation {
        Observation::Seen { snapshot, .. } => {
            let same: Vec<&BackupStrategy> = same.iter().collect();
            uncovered(strategy, &same, snapshot)
        }
        _ => strategy
            .status
            .as_ref()
            .map(|s| s.tenants_without_strategy.clone())
            .unwrap_or_default(),
    }
}

/// The pure rule: none unless `strategy` comes first among `same` (the strategies of its cluster, itself
/// included) by namespace and name; else every user tenant of the snapshot that none of them lists (an
/// empty list covers every tenant) or ignores, and that is not a drill's scratch tenant.
pub fn uncovered(
    strategy: &BackupStrategy,
    same: &[&BackupStrategy],
    snapshot: &Snapshot,
) -> Vec<String> {
    let key = |s: &BackupStrategy| (s.namespace().unwrap_or_default(), s.name_any());
    let first = same.iter().map(|s| key(s)).min();
    if first.is_some_and(|first| first != key(strategy)) {
        return Vec::new();
    }
    let mut strategies: Vec<&BackupStrategy> = same.to_vec();
    strategies.push(strategy);
    if strategies.iter().any(|s| s.spec.tenants.is_empty()) {
        return Vec::new();
    }
    let named = |tenant: &str, list: &[String]| list.iter().any(|t| t.eq_ignore_ascii_case(tenant));
    snapshot
        .tenants
        .iter()
        .map(|t| t.name.clone())
        .filter(|t| !is_scratch(t))
        .filter(|t| {
            !strategies
                .iter()
                .any(|s| named(t, &s.spec.tenants) || named(t, &s.spec.ignored_tenants))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::{State, TenantRow};

    fn strategy(namespace: &str, name: &str, tenants: &[&str], ignored: &[&str]) -> BackupStrategy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"},
                "tenants": tenants, "ignoredTenants": ignored,
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
        }))
        .expect("a strategy")
    }

    fn snapshot(tenants: &[&str]) -> Snapshot {
        Snapshot {
            tenants: tenants
                .iter()
                .enumerate()
                .map(|(i, name)| TenantRow {
                    id: 1002 + 2 * i64::try_from(i).expect("small"),
                    name: name.to_string(),
                    status: State::of("NORMAL"),
                    role: State::of("PRIMARY"),
                    archivelog: false,
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn tenants_no_strategy_lists_or_ignores_are_reported_once_by_the_first_strategy() {
        let cluster = snapshot(&[
            "tenant1",
            "Tenant2",
            "tenant3",
            "audit",
            "drill_tenant1_x_ab12",
        ]);
        let a = strategy("prod", "a", &["tenant1"], &["AUDIT"]);
        let b = strategy("prod", "b", &["tenant2"], &[]);
        let same = [&a, &b];
        assert_eq!(uncovered(&a, &same, &cluster), ["tenant3"]);
        assert!(uncovered(&b, &same, &cluster).is_empty(), "b is not first");
        // A strategy of every tenant covers them all.
        let every = strategy("prod", "c", &[], &[]);
        assert!(uncovered(&a, &[&a, &b, &every], &cluster).is_empty());
        // On its own, a strategy reports every tenant it does not list.
        assert_eq!(
            uncovered(&b, &[&b], &cluster),
            ["tenant1", "tenant3", "audit"]
        );
    }
}
