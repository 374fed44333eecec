//! Where a run's objects live and what they are: the namespaces (one per shard, so that every shard gets a
//! near-equal share of the clusters and their tenants), the strategies and tasks, the finished history, and what every task
//! must show whatever the timing.

use std::collections::BTreeMap;

use futures::StreamExt;
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::{Value, json};

use super::fleet::{Fleet, cluster_index};
use crate::support::{
    cluster::{ControlPlane, TEST_MANAGER, api_for},
    simulator::jobs_with_description,
};

/// The namespaces of a run, one per shard in shard order. A cluster's tenants (their strategies, LogBackups,
/// tasks and history) live in one namespace, cluster `ob{k}`'s in namespace `(k - 1) mod count`, so the
/// shards' shares differ by one cluster at most, and each cluster is read by one observer, through one
/// Secret, in one shard (tenants of a cluster spread over namespaces would have one observer per namespace).
pub struct Estate {
    pub namespaces: Vec<String>,
}

impl Estate {
    /// Creates a namespace in each of `shards` shards (names drawn as tests/e2e/shards.rs draws them; with
    /// one shard, one namespace as the single-replica run always had).
    pub async fn create(plane: &ControlPlane, shards: u32) -> Self {
        let namespaces = plane.namespace_per_shard("bench-scale", shards).await;
        Self { namespaces }
    }

    /// The namespaces, comma-separated, as `--namespace` takes them.
    pub fn watched(&self) -> String {
        self.namespaces.join(",")
    }

    /// The namespace of `tenant`'s objects.
    pub fn namespace_of(&self, tenant: &str) -> &str {
        &self.namespaces[cluster_index(tenant) % self.namespaces.len()]
    }

    /// The shard label a strategy gives `tenant`'s tasks in this run (`obbackup.dev/shard`): the replicas
    /// cache tasks by it.
    pub fn shard_label(&self, tenant: &str) -> String {
        let count = u32::try_from(self.namespaces.len()).expect("a few shards");
        ob_backup_operator::shards::Shards::new(count).label(self.namespace_of(tenant))
    }

    /// The API of `kind` in `tenant`'s namespace.
    pub fn api(&self, admin: &Client, tenant: &str, kind: &str) -> Api<DynamicObject> {
        api(admin, self.namespace_of(tenant), kind)
    }

    /// Every object of `kind` in the run's namespaces; `None` when a list fails (for `eventually`).
    pub async fn list(&self, admin: &Client, kind: &str) -> Option<Vec<DynamicObject>> {
        let mut items = Vec::new();
        for namespace in &self.namespaces {
            items.extend(
                api(admin, namespace, kind)
                    .list(&Default::default())
                    .await
                    .ok()?
                    .items,
            );
        }
        Some(items)
    }

    /// How many BackupTasks the API lists in each phase.
    pub async fn task_phases(&self, admin: &Client) -> BTreeMap<String, usize> {
        let mut phases = BTreeMap::new();
        for task in self
            .list(admin, "BackupTask")
            .await
            .expect("list the BackupTasks")
        {
            *phases.entry(phase(&task).to_string()).or_default() += 1;
        }
        phases
    }

    /// Asserts that each of `names` (tasks of `tenant` the run made run) had exactly one job in OceanBase:
    /// none lost, none done twice (the operator describes a task's job by the task's uid). Returns how many
    /// were checked.
    pub async fn assert_each_ran_once(
        &self,
        admin: &Client,
        fleet: &Fleet,
        tasks: &[(String, String)],
    ) -> usize {
        let counts: Vec<(String, usize)> = futures::stream::iter(tasks)
            .map(|(tenant, name)| async move {
                let task = self
                    .api(admin, tenant, "BackupTask")
                    .get(name)
                    .await
                    .expect("a task the run made run");
                let uid = task.metadata.uid.unwrap_or_default();
                (
                    name.clone(),
                    jobs_with_description(fleet.node(tenant), &uid),
                )
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let wrong: Vec<&(String, usize)> = counts.iter().filter(|(_, n)| *n != 1).collect();
        assert!(
            wrong.is_empty(),
            "tasks whose job did not run exactly once in OceanBase (task, jobs): {wrong:?}"
        );
        counts.len()
    }
}

pub fn api(client: &Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    api_for(
        client,
        namespace,
        &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
    )
    .0
}

pub fn phase(object: &DynamicObject) -> &str {
    object.data["status"]["phase"].as_str().unwrap_or_default()
}

pub fn strategy(tenant: &str) -> Value {
    let cluster = format!("ob{}", cluster_index(tenant) + 1);
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": format!("s-{tenant}")},
        "spec": {
            "cluster": {"name": cluster, "connectionSecret": cluster},
            "tenants": [tenant],
            "dataDestination": {"uri": format!("file:///bench/{tenant}/data")},
            "logDestination": {"uri": format!("file:///bench/{tenant}/archive")},
            "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
        },
    })
}

/// A task of `tenant`'s strategy, labelled with its shard (`shard`, [`Estate::shard_label`]) as a strategy
/// labels the tasks it makes.
pub fn task(name: &str, tenant: &str, shard: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": name, "labels": {ob_backup_operator::shards::SHARD_LABEL: shard}},
        "spec": {"strategyRef": {"name": format!("s-{tenant}")}, "tenant": tenant, "mode": "Full"},
    })
}

pub async fn apply_task(tasks: &Api<DynamicObject>, name: &str, tenant: &str, shard: &str) {
    let manifest: DynamicObject = serde_json::from_value(task(name, tenant, shard)).expect("task");
    tasks
        .patch(
            name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await
        .expect("task");
}

/// The phases [`create_history`] gives its `count` tasks, counted.
pub fn history_phases(count: usize) -> BTreeMap<String, usize> {
    let mut phases = BTreeMap::new();
    for i in 1..=count {
        *phases.entry(history_phase(i).0.to_string()).or_default() += 1;
    }
    phases
}

/// The phase and Ready reason of the `i`-th finished task of the history.
fn history_phase(i: usize) -> (&'static str, &'static str) {
    match i % 20 {
        0 => ("Failed", "BackupFailed"),
        1 => ("Canceled", "Canceled"),
        _ => ("Completed", "Completed"),
    }
}

/// The tenant the `i`-th finished task of the history belongs to.
pub fn history_tenant(tenants: &[String], i: usize) -> &str {
    &tenants[i % tenants.len()]
}

/// Creates `count` finished tasks spread over the tenants (each in its tenant's namespace), each with the
/// template's status adjusted to its phase, 16 requests at a time.
pub async fn create_history(
    admin: &Client,
    estate: &Estate,
    tenants: &[String],
    template: &Value,
    count: usize,
) {
    futures::stream::iter(1..=count)
        .map(|i| {
            let tenant = history_tenant(tenants, i);
            let tasks = estate.api(admin, tenant, "BackupTask");
            let status = history_status(template, i);
            let shard = estate.shard_label(tenant);
            async move {
                let name = format!("history-{i}");
                let manifest: DynamicObject =
                    serde_json::from_value(task(&name, tenant, &shard)).expect("task");
                tasks
                    .create(&PostParams::default(), &manifest)
                    .await
                    .expect("create");
                let patch = json!({"status": status});
                tasks
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .expect("status");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// The template's status as the `i`-th finished task of the history shows it.
fn history_status(template: &Value, i: usize) -> Value {
    let mut status = template.clone();
    let (phase, reason) = history_phase(i);
    status["phase"] = json!(phase);
    status["jobId"] = json!(10_000 + i);
    status["backupSetId"] = json!(10_000 + i);
    if let Some(conditions) = status["conditions"].as_array_mut() {
        for condition in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
            condition["reason"] = json!(reason);
        }
    }
    status
}
