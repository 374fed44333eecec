//! A tenant belongs to at most one strategy (docs/contributing/design.md §2.2): of two strategies
//! in a namespace claiming the same tenant of the same cluster, the younger is `Stalled`, names the
//! older, and touches nothing. A strategy without a tenant list claims every tenant. Across
//! namespaces two strategies are on the same cluster when OceanBase says so (its `cluster` and
//! `cluster_id`), whatever their Secrets and display names.

use crate::controller::reason::Reason;
use kube::ResourceExt;

use crate::{
    api::{BackupStrategy, common::ClusterConnection},
    controller::{Context, Error, error::Problem},
};

/// The problem of `strategy` if an older strategy of its namespace and cluster claims one of its tenants.
pub fn conflict(strategy: &BackupStrategy, others: &[BackupStrategy]) -> Option<Problem> {
    let namespace = strategy.namespace();
    conflict_where(strategy, others, |o| {
        o.namespace() == namespace && same_cluster(&o.spec.cluster, &strategy.spec.cluster)
    })
}

/// The problem of `strategy` if an older strategy that `same` says works on its cluster claims one of its
/// tenants (the message names the other's namespace when it differs).
pub fn conflict_where(
    strategy: &BackupStrategy,
    others: &[BackupStrategy],
    same: impl Fn(&BackupStrategy) -> bool,
) -> Option<Problem> {
    let key = |s: &BackupStrategy| (s.creation_timestamp().map(|t| t.0), s.name_any());
    let mine = &strategy.spec;
    let first = others
        .iter()
        .filter(|o| o.name_any() != strategy.name_any() || o.namespace() != strategy.namespace())
        .filter(|o| key(o) < key(strategy))
        // A logical strategy changes nothing in OceanBase: it competes only with logical ones (two would
        // dump the same tenant to the same directory), and never with the physical strategy.
        .filter(|o| o.spec.method == mine.method)
        .filter(|o| same(o))
        .filter_map(|o| shared_tenant(&mine.tenants, &o.spec.tenants).map(|t| (o, t)))
        .min_by_key(|(o, _)| key(o))?;
    let (other, tenant) = first;
    let name = match other.namespace() {
        Some(ns) if other.namespace() != strategy.namespace() => {
            format!("{ns}/{}", other.name_any())
        }
        _ => other.name_any(),
    };
    Some(Problem::elsewhere(
        Reason::TenantClaimed,
        format!(
            "{tenant} of cluster {} already belongs to BackupStrategy {name}: a tenant can have one strategy; \
             list other tenants here or change that strategy",
            mine.cluster.name,
        ),
    ))
}

/// Whether two connections of one namespace name the same cluster: the same display name or the same
/// source (connection Secret or OBCluster).
pub fn same_cluster(a: &ClusterConnection, b: &ClusterConnection) -> bool {
    a.name == b.name || a.source() == b.source()
}

/// Whether `strategy` claims `tenant` (an empty list claims every tenant; names ignore case).
pub fn claims(strategy: &BackupStrategy, tenant: &str) -> bool {
    let tenants = &strategy.spec.tenants;
    tenants.is_empty() || tenants.iter().any(|t| t.eq_ignore_ascii_case(tenant))
}

/// A tenant both lists claim (an empty list claims them all), as the message names it.
fn shared_tenant(mine: &[String], theirs: &[String]) -> Option<String> {
    match (mine.is_empty(), theirs.is_empty()) {
        (true, true) => Some("every tenant".into()),
        (true, false) => theirs.first().map(|t| format!("tenant {t}")),
        (false, true) => mine.first().map(|t| format!("tenant {t}")),
        (false, false) => mine
            .iter()
            .find(|t| theirs.iter().any(|o| o.eq_ignore_ascii_case(t)))
            .map(|t| format!("tenant {t}")),
    }
}

/// Checks `strategy` against the strategies of every watched namespace: in its own namespace a cluster is
/// the same by display name or source; across namespaces (and within), by what OceanBase says it is
/// (`cluster` and `cluster_id`), once both clusters have said.
pub async fn check(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Option<Problem>, Error> {
    let others = ctx
        .catalog
        .list_everywhere::<BackupStrategy>(namespace, |_| true)
        .await?;
    let mine = crate::controller::coexistence::identity(ctx, namespace, &strategy.spec.cluster);
    Ok(conflict_where(strategy, &others, |other| {
        let theirs = other.namespace().unwrap_or_default();
        (theirs == namespace && same_cluster(&other.spec.cluster, &strategy.spec.cluster))
            || mine.as_ref().is_some_and(|mine| {
                crate::controller::coexistence::identity(ctx, &theirs, &other.spec.cluster).as_ref()
                    == Some(mine)
            })
    }))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn strategy(name: &str, created: i64, cluster: &str, tenants: &[&str]) -> BackupStrategy {
        let mut s: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": name},
            "spec": {
                "cluster": {"name": cluster, "connectionSecret": format!("{cluster}-sys")},
                "tenants": tenants,
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
        }))
        .expect("strategy");
        s.metadata.creation_timestamp =
            Some(Time(jiff::Timestamp::from_second(created).expect("time")));
        s
    }

    #[test]
    fn the_younger_of_two_strategies_claiming_a_tenant_is_refused_naming_the_older() {
        let old = strategy("old", 100, "ob", &["t1", "t2"]);
        let young = strategy("young", 200, "ob", &["T2"]);
        let elsewhere = strategy("elsewhere", 50, "other", &[]);
        let all = [old.clone(), young.clone(), elsewhere];
        let problem = conflict(&young, &all).expect("claimed");
        assert_eq!(problem.reason, Reason::TenantClaimed);
        assert!(
            problem
                .message
                .contains("tenant T2 of cluster ob already belongs to BackupStrategy old")
        );
        assert_eq!(conflict(&old, &all), None, "the older one goes on");
        let everything = strategy("everything", 300, "ob", &[]);
        assert!(conflict(&everything, &[old.clone(), everything.clone()]).is_some());
        let disjoint = strategy("disjoint", 400, "ob", &["t3"]);
        assert_eq!(conflict(&disjoint, &[old, disjoint.clone()]), None);
    }

    #[test]
    fn a_logical_strategy_competes_only_with_logical_ones() {
        let logical = |name: &str, created: i64| {
            let mut s = strategy(name, created, "ob", &["t1"]);
            s.spec.method = crate::api::backup_strategy::BackupMethod::Logical;
            s
        };
        let physical = strategy("physical", 100, "ob", &["t1"]);
        let dumps = logical("dumps", 200);
        let all = [physical.clone(), dumps.clone()];
        assert_eq!(
            conflict(&dumps, &all),
            None,
            "dumps fight no physical backup"
        );
        assert_eq!(conflict(&physical, &all), None);
        let more = logical("more-dumps", 300);
        let problem = conflict(&more, &[physical, dumps, more.clone()]).expect("claimed");
        assert!(
            problem.message.contains("BackupStrategy dumps"),
            "{problem:?}"
        );
    }
}
