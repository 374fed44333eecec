//! One owner per side effect on a tenant (docs/contributing/design.md §7): log archiving and its
//! destination, the data backup destination and the delete policy of a (cluster, tenant) each
//! belong to one object at a time — the strategy that claims the tenant, else the oldest explicit
//! object. Any other object that would change them is `Stalled` naming the owner and sends nothing.
//! Pure, on the namespace's objects as cached.
//!
//! Objects in other namespaces cannot be compared (their connection Secrets are out of reach), so ownership is
//! decided per namespace. A tenant also belongs to at most one strategy ([`conflict`], [`conflict_where`]:
//! the younger of two is refused, naming the older), which the strategy controller checks across namespaces
//! too (`backup_strategy/exclusive.rs`).

use crate::reason::Reason;
use std::collections::HashSet;

use kube::ResourceExt;

use super::error::Problem;
use crate::api::{
    BackupStrategy, BackupTask, BackupTaskPhase, LogBackup, common::ClusterConnection,
};

/// The strategy in charge of `tenant` of `cluster`: the oldest one claiming it that is not itself refused
/// (a strategy refused for any tenant touches none).
pub fn owning_strategy<'a>(
    strategies: &'a [BackupStrategy],
    cluster: &ClusterConnection,
    tenant: &str,
) -> Option<&'a BackupStrategy> {
    strategies
        .iter()
        // A logical strategy owns nothing in OceanBase (no destination, no archiving).
        .filter(|s| s.spec.method == crate::api::backup_strategy::BackupMethod::Physical)
        .filter(|s| s.spec.cluster.same_cluster(cluster) && s.claims(tenant))
        .filter(|s| conflict(s, strategies).is_none())
        .min_by_key(|s| age_key(*s))
}

/// Older first: creation time, then name.
fn age_key<K: ResourceExt>(object: &K) -> (Option<jiff::Timestamp>, String) {
    (object.creation_timestamp().map(|t| t.0), object.name_any())
}

/// Whether `object` is controlled by `strategy` (one of its children).
fn controlled_by<K: ResourceExt>(object: &K, strategy: &BackupStrategy) -> bool {
    object.owner_references().iter().any(|o| {
        o.controller == Some(true)
            && o.kind == "BackupStrategy"
            && o.name == strategy.name_any()
            && strategy
                .metadata
                .uid
                .as_deref()
                .is_none_or(|uid| uid == o.uid)
    })
}

/// Whether a LogBackup works through `owner` and asks for exactly what the owner's own LogBackup does
/// (archiving on, the same piece switch interval and binding): it changes nothing, so it fights nobody.
fn wants_what_the_owner_wants(archive: &LogBackup, owner: &BackupStrategy) -> bool {
    let spec = &archive.spec;
    let settings = &owner.spec.log_backup;
    spec.strategy_ref
        .as_ref()
        .is_some_and(|r| r.name == owner.name_any())
        && spec.desired_state == crate::api::log_backup::DesiredArchiveState::Running
        && spec.piece_switch_interval == settings.piece_switch_interval
        && spec.binding == settings.binding
}

/// The cluster a LogBackup works on: its own, or its strategy's.
fn cluster_of<'a>(
    archive: &'a LogBackup,
    strategies: &'a [BackupStrategy],
) -> Option<&'a ClusterConnection> {
    match (&archive.spec.cluster, &archive.spec.strategy_ref) {
        (Some(cluster), _) => Some(cluster),
        (None, Some(reference)) => strategies
            .iter()
            .find(|s| s.name_any() == reference.name)
            .map(|s| &s.spec.cluster),
        (None, None) => None,
    }
}

/// The strategies of `namespace` the ownership rules read for `cluster`: those on it, and those on the
/// cluster of any of them (a strategy's claim counts only without a conflict with its own neighbours, and
/// "the same cluster" is by display name or source, which need not chain). Only these are copied out of the
/// cache: every LogBackup and every submission asks, and a namespace may hold a thousand strategies.
pub async fn strategies_near(
    catalog: &super::catalog::Catalog,
    namespace: &str,
    cluster: &ClusterConnection,
) -> Result<Vec<BackupStrategy>, super::Error> {
    use super::backup_strategy::on_cluster;
    let mut near = catalog
        .on_cluster(namespace, cluster, on_cluster, |_| true)
        .await?;
    let mut asked = vec![cluster.clone()];
    let mut found: HashSet<String> = near.iter().map(ResourceExt::name_any).collect();
    // The clusters of those on it, not of those found through them.
    let on = near.len();
    for index in 0..on {
        let theirs = near[index].spec.cluster.clone();
        let same = |c: &ClusterConnection| {
            c.name == theirs.name && c.source_parts() == theirs.source_parts()
        };
        if asked.iter().any(same) {
            continue;
        }
        let more = catalog
            .on_cluster(namespace, &theirs, on_cluster, |o| {
                !found.contains(&o.name_any())
            })
            .await?;
        found.extend(more.iter().map(ResourceExt::name_any));
        near.extend(more);
        asked.push(theirs);
    }
    Ok(near)
}

/// Why `archive` (on `cluster`) must not touch its tenant's archiving, if it must not: a strategy archives
/// the tenant (only that strategy's own LogBackup may), or an older LogBackup does.
pub fn archive_problem(
    archive: &LogBackup,
    cluster: &ClusterConnection,
    strategies: &[BackupStrategy],
    log_backups: &[LogBackup],
) -> Option<Problem> {
    let tenant = &archive.spec.tenant;
    if let Some(owner) = owning_strategy(strategies, cluster, tenant)
        && owner.spec.log_backup.enabled
    {
        if controlled_by(archive, owner) || wants_what_the_owner_wants(archive, owner) {
            return None;
        }
        return Some(Problem::elsewhere(
            Reason::ArchivingOwned,
            format!(
                "log archiving of tenant {tenant} of cluster {} belongs to BackupStrategy {} (its own LogBackup \
                 runs it): delete this LogBackup, or change that strategy",
                cluster.name,
                owner.name_any()
            ),
        ));
    }
    let oldest = log_backups
        .iter()
        .filter(|l| l.metadata.deletion_timestamp.is_none())
        .filter(|l| l.spec.tenant.eq_ignore_ascii_case(tenant))
        .filter(|l| cluster_of(l, strategies).is_some_and(|c| c.same_cluster(cluster)))
        .filter(|l| age_key(*l) < age_key(archive))
        .min_by_key(|l| age_key(*l))?;
    Some(Problem::elsewhere(
        Reason::ArchivingOwned,
        format!(
            "log archiving of tenant {tenant} of cluster {} belongs to the older LogBackup {}: delete one \
             of them",
            cluster.name,
            oldest.name_any()
        ),
    ))
}

/// Why `task` must not set its tenant's data backup destination or start a backup, if it must not: through
/// a strategy that does not own the tenant, ad hoc to another destination than the owning strategy's, or —
/// no strategy owning the tenant — ad hoc to another destination than an older unfinished ad-hoc task's
/// (the older one goes first; this one follows when it has ended).
pub fn backup_problem(
    task: &BackupTask,
    cluster: &ClusterConnection,
    data_uri: &str,
    strategies: &[BackupStrategy],
    tasks: &[BackupTask],
) -> Option<Problem> {
    let tenant = &task.spec.tenant;
    let owner = owning_strategy(strategies, cluster, tenant);
    match (&task.spec.strategy_ref, owner) {
        (Some(reference), Some(owner)) if reference.name == owner.name_any() => None,
        (Some(reference), Some(owner)) => Some(Problem::elsewhere(
            Reason::TenantOwnedElsewhere,
            format!(
                "tenant {tenant} of cluster {} belongs to BackupStrategy {}, not {}: use strategyRef {} \
                 (a backup through {} would move the tenant's DATA_BACKUP_DEST)",
                cluster.name,
                owner.name_any(),
                reference.name,
                owner.name_any(),
                reference.name
            ),
        )),
        (Some(reference), None) => Some(Problem::elsewhere(
            Reason::TenantOwnedElsewhere,
            format!(
                "BackupStrategy {} does not own tenant {tenant} of cluster {} (see its status): nothing is \
                 sent until it does",
                reference.name, cluster.name
            ),
        )),
        (None, Some(owner)) if owner.spec.data_destination.for_tenant(tenant).uri != data_uri => {
            Some(Problem::elsewhere(
                Reason::DestinationOwned,
                format!(
                    "tenant {tenant} of cluster {} backs up to BackupStrategy {}'s dataDestination: use \
                     strategyRef {} or that destination",
                    cluster.name,
                    owner.name_any(),
                    owner.name_any()
                ),
            ))
        }
        (None, Some(_)) => None,
        (None, None) => older_ad_hoc_elsewhere(task, cluster, data_uri, tasks).map(|older| {
            Problem::elsewhere(
                Reason::DestinationOwned,
                format!(
                    "the older BackupTask {} backs up tenant {tenant} of cluster {} to another destination: \
                     this one starts when it has ended",
                    older.name_any(),
                    cluster.name
                ),
            )
        }),
    }
}

/// The oldest unfinished ad-hoc task, older than `task`, of the same cluster and tenant that backs up to
/// another destination.
fn older_ad_hoc_elsewhere<'a>(
    task: &BackupTask,
    cluster: &ClusterConnection,
    data_uri: &str,
    tasks: &'a [BackupTask],
) -> Option<&'a BackupTask> {
    tasks
        .iter()
        .filter(|t| age_key(*t) < age_key(task))
        .filter(|t| t.spec.tenant.eq_ignore_ascii_case(&task.spec.tenant))
        .filter(|t| {
            t.spec
                .cluster
                .as_ref()
                .is_some_and(|c| c.same_cluster(cluster))
        })
        .filter(|t| {
            t.spec
                .data_destination
                .as_ref()
                .is_some_and(|d| d.uri != data_uri)
        })
        .filter(|t| {
            !t.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(BackupTaskPhase::is_terminal)
        })
        .min_by_key(|t| age_key(*t))
}

/// The problem of `strategy` if an older strategy of its namespace and cluster claims one of its tenants.
pub fn conflict(strategy: &BackupStrategy, others: &[BackupStrategy]) -> Option<Problem> {
    let namespace = strategy.namespace();
    conflict_where(strategy, others, |o| {
        o.namespace() == namespace && o.spec.cluster.same_cluster(&strategy.spec.cluster)
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

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    use super::*;

    fn stamp<K: kube::Resource>(mut object: K, created: i64, uid: &str) -> K {
        let meta = object.meta_mut();
        meta.creation_timestamp = Some(Time(jiff::Timestamp::from_second(created).expect("time")));
        meta.uid = Some(uid.into());
        object
    }

    fn strategy(name: &str, created: i64, tenants: &[&str]) -> BackupStrategy {
        let s: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": name},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob-sys"},
                "tenants": tenants,
                "dataDestination": {"uri": format!("file:///{name}/data")},
                "logDestination": {"uri": format!("file:///{name}/archive")},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
        }))
        .expect("strategy");
        stamp(s, created, &format!("uid-{name}"))
    }

    fn log_backup(name: &str, created: i64, spec: serde_json::Value) -> LogBackup {
        let l: LogBackup = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": name}, "spec": spec,
        }))
        .expect("log backup");
        stamp(l, created, &format!("uid-{name}"))
    }

    fn explicit(name: &str, created: i64, state: &str) -> LogBackup {
        log_backup(
            name,
            created,
            serde_json::json!({
                "cluster": {"name": "ob", "connectionSecret": "ob-sys"},
                "logDestination": {"uri": "file:///mine"}, "tenant": "tenant1", "desiredState": state,
            }),
        )
    }

    fn child_of(strategy: &BackupStrategy) -> LogBackup {
        let mut l = log_backup(
            &format!("{}-tenant1-log", strategy.name_any()),
            500,
            serde_json::json!({"strategyRef": {"name": strategy.name_any()}, "tenant": "tenant1"}),
        );
        l.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "obbackup.dev/v1alpha1".into(),
            kind: "BackupStrategy".into(),
            name: strategy.name_any(),
            uid: strategy.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        l
    }

    fn cluster() -> ClusterConnection {
        ClusterConnection {
            name: "ob".into(),
            connection_secret: Some("ob-sys".into()),
            ob_cluster: None,
        }
    }

    #[test]
    fn a_strategy_archiving_a_tenant_leaves_no_room_for_another_log_backup() {
        // Issue 13, defect 1: a LogBackup `Stopped` (or to another destination) for a strategy's tenant
        // flipped archiving on and off against the strategy's own LogBackup.
        let owner = strategy("demo", 100, &["tenant1"]);
        let strategies = [owner.clone()];
        let own = child_of(&owner);
        let rogue = explicit("stop-it", 50, "Stopped");
        let all = [own.clone(), rogue.clone()];
        assert_eq!(archive_problem(&own, &cluster(), &strategies, &all), None);
        let problem = archive_problem(&rogue, &cluster(), &strategies, &all).expect("refused");
        assert_eq!(problem.reason, Reason::ArchivingOwned);
        assert!(
            problem.message.contains("BackupStrategy demo"),
            "{}",
            problem.message
        );
        // Through the strategy but not its own child: refused too.
        let mut sneaky = explicit("sneaky", 600, "Stopped");
        sneaky.spec.cluster = None;
        sneaky.spec.strategy_ref = Some(crate::api::common::StrategyReference {
            name: "demo".into(),
        });
        assert!(archive_problem(&sneaky, &cluster(), &strategies, &all).is_some());
        // Through the strategy and asking for what it asks for: it changes nothing, so it may run.
        sneaky.spec.desired_state = crate::api::log_backup::DesiredArchiveState::Running;
        assert_eq!(
            archive_problem(&sneaky, &cluster(), &strategies, &all),
            None
        );
        sneaky.spec.piece_switch_interval = "2d".into();
        assert!(archive_problem(&sneaky, &cluster(), &strategies, &all).is_some());
        // A strategy without log backup leaves archiving to the oldest explicit LogBackup.
        let mut quiet = owner.clone();
        quiet.spec.log_backup.enabled = false;
        let younger = explicit("younger", 70, "Running");
        let both = [rogue.clone(), younger.clone()];
        assert_eq!(
            archive_problem(&rogue, &cluster(), &[quiet.clone()], &both),
            None
        );
        let problem = archive_problem(&younger, &cluster(), &[quiet], &both).expect("refused");
        assert!(
            problem.message.contains("older LogBackup stop-it"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn ad_hoc_tasks_to_different_destinations_go_oldest_first() {
        let ad_hoc = |name: &str, created: i64, uri: &str| -> BackupTask {
            let t: BackupTask = serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": name},
                "spec": {
                    "cluster": {"name": "ob", "connectionSecret": "ob-sys"},
                    "dataDestination": {"uri": uri}, "tenant": "tenant1", "mode": "Full",
                },
            }))
            .expect("task");
            stamp(t, created, &format!("uid-{name}"))
        };
        let first = ad_hoc("first", 100, "file:///a");
        let second = ad_hoc("second", 200, "file:///b");
        let same = ad_hoc("same", 300, "file:///a");
        let all = [first.clone(), second.clone(), same.clone()];
        assert_eq!(
            backup_problem(&first, &cluster(), "file:///a", &[], &all),
            None
        );
        let waits = backup_problem(&second, &cluster(), "file:///b", &[], &all).expect("waits");
        assert!(
            waits.message.contains("older BackupTask first"),
            "{}",
            waits.message
        );
        assert!(
            backup_problem(&same, &cluster(), "file:///a", &[], &all).is_some(),
            "behind the second, which goes elsewhere"
        );
        assert_eq!(
            backup_problem(
                &same,
                &cluster(),
                "file:///a",
                &[],
                &[first.clone(), same.clone()]
            ),
            None,
            "the same destination as the older one changes nothing"
        );
        let mut done = first.clone();
        done.status = Some(crate::api::BackupTaskStatus {
            phase: Some(crate::api::BackupTaskPhase::Completed),
            ..Default::default()
        });
        let after = [done, second.clone()];
        assert_eq!(
            backup_problem(&second, &cluster(), "file:///b", &[], &after),
            None
        );
    }

    #[test]
    fn only_the_owning_strategy_backs_up_a_tenant_and_ad_hoc_tasks_keep_its_destination() {
        // Issue 13, defect 2: a task through a strategy refused for the tenant moved the owner's
        // DATA_BACKUP_DEST, and so did an ad-hoc task to another destination.
        let owner = strategy("owner", 100, &["tenant1"]);
        let rogue = strategy("rogue", 200, &["tenant1"]);
        let strategies = [owner.clone(), rogue.clone()];
        let task = |spec: serde_json::Value| -> BackupTask {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
                "metadata": {"name": "t"}, "spec": spec,
            }))
            .expect("task")
        };
        let through = |name: &str| {
            task(
                serde_json::json!({"strategyRef": {"name": name}, "tenant": "tenant1", "mode": "Full"}),
            )
        };
        assert_eq!(
            backup_problem(
                &through("owner"),
                &cluster(),
                "file:///owner/data",
                &strategies,
                &[]
            ),
            None
        );
        let refused = backup_problem(
            &through("rogue"),
            &cluster(),
            "file:///rogue/data",
            &strategies,
            &[],
        )
        .expect("refused");
        assert_eq!(refused.reason, Reason::TenantOwnedElsewhere);
        assert!(
            refused
                .message
                .contains("belongs to BackupStrategy owner, not rogue")
        );
        let ad_hoc = task(serde_json::json!({
            "cluster": {"name": "ob", "connectionSecret": "ob-sys"},
            "dataDestination": {"uri": "file:///elsewhere"}, "tenant": "TENANT1", "mode": "Full",
        }));
        let moved = backup_problem(&ad_hoc, &cluster(), "file:///elsewhere", &strategies, &[])
            .expect("refused");
        assert_eq!(moved.reason, Reason::DestinationOwned);
        assert_eq!(
            backup_problem(
                &ad_hoc,
                &cluster(),
                "file:///owner/data/tenant1",
                &strategies,
                &[]
            ),
            None,
            "the owner's own directory for the tenant changes nothing"
        );
        // Another cluster's tenant of the same name is not the owner's.
        let other = ClusterConnection {
            name: "other".into(),
            connection_secret: Some("other-sys".into()),
            ob_cluster: None,
        };
        assert_eq!(
            backup_problem(&ad_hoc, &other, "file:///elsewhere", &strategies, &[]),
            None
        );
    }

    #[test]
    fn a_logical_strategy_owns_nothing_in_oceanbase_even_when_older() {
        let mut dumps = strategy("dumps", 100, &["tenant1"]);
        dumps.spec.method = crate::api::backup_strategy::BackupMethod::Logical;
        let physical = strategy("physical", 200, &["tenant1"]);
        let all = [dumps.clone(), physical.clone()];
        let owner = owning_strategy(&all, &physical.spec.cluster, "tenant1").map(|s| s.name_any());
        assert_eq!(owner.as_deref(), Some("physical"));
        assert_eq!(
            owning_strategy(&[dumps.clone()], &dumps.spec.cluster, "tenant1").map(|s| s.name_any()),
            None
        );
    }
}

#[cfg(test)]
mod strategy_conflict_tests {
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

#[cfg(test)]
mod strategies_near_tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::controller::{catalog::Catalog, fixtures::FakeApi};

    /// Strategy `name` on the cluster named `cluster` through the Secret `secret`, stored in `api`.
    fn put(api: &FakeApi, name: &str, cluster: &str, secret: &str) {
        api.put(
            &format!("{}/namespaces/ns/backupstrategies/{name}", crate::controller::fixtures::GROUP),
            json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {"cluster": {"name": cluster, "connectionSecret": secret}, "tenants": ["t1"],
                         "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                         "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
            }),
        );
    }

    /// A LogBackup's ownership check reads the strategies of its cluster and of their neighbours (the same
    /// cluster by name or by Secret does not chain), and no other: a thousand strategies in the namespace
    /// are not copied for each look.
    #[tokio::test]
    async fn the_ownership_rules_read_the_strategies_of_the_cluster_and_of_their_neighbours() {
        let api = FakeApi::default();
        put(&api, "same-secret", "other-name", "ob");
        put(&api, "same-name", "ob", "another-secret");
        put(&api, "neighbour", "third-name", "another-secret");
        put(&api, "unrelated", "elsewhere", "elsewhere");
        let catalog = Catalog::new(api.client(), Arc::new(crate::readiness::Readiness::new(0)));
        assert_eq!(
            near(&catalog).await,
            ["neighbour", "same-name", "same-secret"],
            "listed from the API"
        );
        cache_all(&catalog, &api);
        assert_eq!(
            near(&catalog).await,
            ["neighbour", "same-name", "same-secret"],
            "through the index"
        );
        // A strategy that moves to the cluster is found there, and no longer where it was.
        put(&api, "unrelated", "ob", "elsewhere");
        put(&api, "neighbour", "moved-away", "moved-away");
        cache_all(&catalog, &api);
        assert_eq!(
            near(&catalog).await,
            ["same-name", "same-secret", "unrelated"]
        );
    }

    async fn near(catalog: &Catalog) -> Vec<String> {
        let cluster = ClusterConnection::through_secret("ob", "ob");
        let mut near: Vec<String> = strategies_near(catalog, "ns", &cluster)
            .await
            .expect("listed")
            .iter()
            .map(|s| s.name_any())
            .collect();
        near.sort();
        near
    }

    /// Fills the catalog's cache of strategies with what `api` holds, as a synced watch does.
    fn cache_all(catalog: &Catalog, api: &FakeApi) {
        let collection = format!(
            "{}/namespaces/ns/backupstrategies",
            crate::controller::fixtures::GROUP
        );
        let strategies = api
            .items(&collection)
            .into_iter()
            .map(|o| serde_json::from_value::<BackupStrategy>(o).expect("a strategy"));
        let on = crate::controller::backup_strategy::on_cluster;
        catalog.cache_for_tests(strategies, |_| None, Some(on));
    }
}
