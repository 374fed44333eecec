//! The operator binary on a real control plane, authenticated as its ServiceAccount with only the chart's
//! RBAC: it reconciles every kind to its initial status, stays quiet when nothing changes, lets only the
//! leader act, hands over when the leader dies, and leaves garbage collection of owned children to
//! Kubernetes.

use std::time::Duration;

use crate::support::{
    catalog::{repo_root, yaml_documents, yaml_files},
    cluster::{
        ControlPlane, OperatorProcess, api_for, apply, delete_namespace, eventually, leader_of,
    },
    proxy::CuttableProxy,
};
use kube::{
    Api, Client,
    api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy},
};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Kinds with the phase a fresh, valid object of that kind reaches before OceanBase is involved.
const INITIAL_PHASES: [(&str, &str); 5] = [
    ("BackupStrategy", "PendingScheduling"),
    ("BackupTask", "Pending"),
    ("LogBackup", "Stopping"), // the examples start, then stop, tenant2's archive
    ("CleanupTask", "Pending"),
    ("RecoveryTask", "Pending"),
];

async fn apply_example(client: &Client, namespace: &str, file: &str) -> Vec<DynamicObject> {
    let mut applied = Vec::new();
    for object in yaml_documents(&repo_root().join("examples").join(file)) {
        applied.push(
            apply(client, namespace, &object)
                .await
                .unwrap_or_else(|e| panic!("{file}: {e}")),
        );
    }
    applied
}

fn manifest(kind: &str) -> Value {
    json!({"apiVersion": if kind == "Lease" { "coordination.k8s.io/v1" } else { "obbackup.dev/v1alpha1" }, "kind": kind})
}

async fn list(client: &Client, namespace: &str, kind: &str) -> Vec<DynamicObject> {
    let (api, _) = api_for(client, namespace, &manifest(kind));
    api.list(&ListParams::default()).await.expect("list").items
}

/// The object's phase once its status describes its current generation.
fn settled_phase(object: &DynamicObject) -> Option<String> {
    let status = object.data.get("status")?;
    (status["observedGeneration"].as_i64() == object.metadata.generation).then_some(())?;
    status["phase"].as_str().map(str::to_string)
}

fn sum_metric(operator: &OperatorProcess, name: &str) -> f64 {
    INITIAL_PHASES
        .iter()
        .filter_map(|(kind, _)| operator.metric(&format!("{name}{{controller=\"{kind}\"}}")))
        .sum()
}

#[tokio::test]
async fn operator_reconciles_every_kind_and_then_writes_nothing_while_nothing_changes() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("reconcile").await;
    let mut ours = std::collections::BTreeSet::new();
    for file in yaml_files(&repo_root().join("examples")) {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for object in apply_example(&admin, &namespace, &name).await {
            let types = object.types.clone().unwrap_or_default();
            if types.api_version.starts_with("obbackup.dev/") {
                ours.insert((types.kind, object.metadata.name));
            }
        }
    }
    let objects = ours.len();
    let operator = plane.start_operator(&namespace, &namespace, &format!("{namespace}-a"));

    // The examples' objects (strategies also create children of their own, checked elsewhere).
    let examples = |kind: &'static str| {
        let ours = ours.clone();
        move |o: &DynamicObject| ours.contains(&(kind.to_string(), o.metadata.name.clone()))
    };
    for (kind, phase) in INITIAL_PHASES {
        eventually(&format!("every {kind} to reach {phase}"), WAIT, || async {
            let items: Vec<_> = list(&admin, &namespace, kind)
                .await
                .into_iter()
                .filter(examples(kind))
                .collect();
            (!items.is_empty()
                && items
                    .iter()
                    .all(|o| settled_phase(o).as_deref() == Some(phase)))
            .then_some(())
        })
        .await;
    }
    for (kind, _) in INITIAL_PHASES {
        for object in list(&admin, &namespace, kind)
            .await
            .into_iter()
            .filter(examples(kind))
        {
            let status = &object.data["status"];
            let condition = |t: &str| {
                status["conditions"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["type"] == t))
                    .map(|c| c["status"].clone())
            };
            // Everything waits for the unreachable cluster — but a logical strategy, which reads no cluster
            // until its first run, and is configured as declared.
            let waits = !(kind == "BackupStrategy" && object.data["spec"]["method"] == "Logical");
            assert_eq!(
                condition("Reconciling"),
                Some(json!(if waits { "True" } else { "False" })),
                "{kind} {:?}",
                object.metadata.name
            );
            assert_eq!(
                condition("Stalled"),
                Some(json!("False")),
                "{kind} {:?}",
                object.metadata.name
            );
            assert_eq!(
                condition("Ready"),
                Some(json!(if waits { "False" } else { "True" })),
                "{kind} {:?}",
                object.metadata.name
            );
            let managers = object.metadata.managed_fields.clone().unwrap_or_default();
            assert!(
                managers
                    .iter()
                    .any(|m| m.manager.as_deref() == Some("ob-backup-operator")
                        && m.operation.as_deref() == Some("Apply")
                        && m.subresource.as_deref() == Some("status")),
                "{kind}: status written by server-side apply"
            );
        }
    }

    // One Event per object announces its first phase.
    let events: Api<DynamicObject> = api_for(
        &admin,
        &namespace,
        &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"}),
    )
    .0;
    let announced = eventually("phase events", WAIT, || async {
        let items = events.list(&ListParams::default()).await.ok()?.items;
        (items.len() >= objects).then_some(items)
    })
    .await;
    assert!(
        announced
            .iter()
            .all(|e| e.data["reportingController"] == "ob-backup-operator")
    );

    // The examples' cluster (127.0.0.1:2881) has no OceanBase here: the tasks and archives that talk to it
    // settle once they report it unreachable — never as Failed.
    for kind in ["BackupTask", "LogBackup"] {
        eventually(
            &format!("every {kind} to report the cluster unreachable"),
            WAIT,
            || async {
                let items = list(&admin, &namespace, kind).await;
                items
                    .iter()
                    .all(|o| {
                        o.data["status"]["conditions"].as_array().is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c["type"] == "ClusterReachable" && c["status"] == "False")
                        })
                    })
                    .then_some(())
            },
        )
        .await;
    }
    for task in list(&admin, &namespace, "BackupTask").await {
        assert_eq!(
            settled_phase(&task).as_deref(),
            Some("Pending"),
            "unreachable is not a failure"
        );
    }

    // Settled: a change that does not touch what the status depends on is reconciled and writes nothing.
    let writes = sum_metric(&operator, "obbackup_status_writes_total");
    assert!(writes >= objects as f64, "{}", operator.log_text());
    let reconciles = operator
        .metric("obbackup_reconcile_total{controller=\"BackupTask\"}")
        .unwrap_or(0.0);
    let (tasks, _) = api_for(&admin, &namespace, &manifest("BackupTask"));
    // A label: the caches keep only the annotations the operator reads, so an annotation wakes nothing.
    let label = json!({"metadata": {"labels": {"example.com/touched": "yes"}}});
    tasks
        .patch(
            "tenant1-full-now",
            &PatchParams::default(),
            &Patch::Merge(&label),
        )
        .await
        .expect("label");
    eventually("the labelled task to be reconciled", WAIT, || async {
        (operator.metric("obbackup_reconcile_total{controller=\"BackupTask\"}")? > reconciles)
            .then_some(())
    })
    .await;
    assert_eq!(
        sum_metric(&operator, "obbackup_status_writes_total"),
        writes,
        "an unchanged status was written again"
    );
    delete_namespace(&admin, &namespace).await;
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_standby_takes_over_when_it_dies() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("leader").await;
    let lease = namespace.clone();
    apply_example(&admin, &namespace, "00-secrets.yaml").await;
    apply_example(&admin, &namespace, "back-up-now-ad-hoc.yaml").await;

    let mut first = plane.start_operator(&namespace, &lease, "first");
    // Ready means leading with every cache synced: at the first 200, all five kinds have listed.
    let body = eventually("the first replica to be ready", WAIT, || async {
        let (code, body) = first.get("/readyz")?;
        (code == 200).then_some(body)
    })
    .await;
    let synced = first.log_text().matches("cache synced").count();
    assert_eq!(body, "ok: leading", "{}", first.log_text());
    assert_eq!(synced, 5, "ready before every cache synced");
    eventually("the first replica to lead", WAIT, || async {
        (first.metric("obbackup_leader")? == 1.0).then_some(())
    })
    .await;
    eventually("the first replica to reconcile the task", WAIT, || async {
        list(&admin, &namespace, "BackupTask")
            .await
            .first()
            .and_then(settled_phase)
    })
    .await;

    let mut second = plane.start_operator(&namespace, &lease, "second");
    let body = eventually("the second replica to be ready", WAIT, || async {
        let (code, body) = second.get("/readyz")?;
        (code == 200).then_some(body)
    })
    .await;
    assert_eq!(
        body, "ok: standby",
        "a standby is ready once it sees the leader"
    );
    assert_eq!(
        second.metric("obbackup_leader"),
        Some(0.0),
        "{}",
        second.log_text()
    );
    assert_eq!(
        second.metric("obbackup_reconcile_total{controller=\"BackupTask\"}"),
        None,
        "a follower reconciles nothing"
    );
    assert_eq!(
        leader_of(&admin, plane.operator_namespace(), &lease)
            .await
            .as_deref(),
        Some("first")
    );

    first.kill();
    eventually("the second replica to take over", WAIT, || async {
        (second.metric("obbackup_leader")? == 1.0).then_some(())
    })
    .await;
    assert_eq!(
        leader_of(&admin, plane.operator_namespace(), &lease)
            .await
            .as_deref(),
        Some("second")
    );
    let mut task = yaml_documents(&repo_root().join("examples/back-up-now-full.yaml")).remove(0);
    task["metadata"]["name"] = json!("after-failover");
    apply(&admin, &namespace, &task)
        .await
        .expect("apply a task after failover");
    eventually("the new leader to reconcile a new task", WAIT, || async {
        let items = list(&admin, &namespace, "BackupTask").await;
        items
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some("after-failover"))
            .and_then(settled_phase)
    })
    .await;

    // SIGTERM: a clean exit that hands the lease back at once.
    assert_eq!(
        second.terminate(Duration::from_secs(20)).await,
        Some(0),
        "{}",
        second.log_text()
    );
    assert!(!second.is_running());
    eventually("the lease to be released", WAIT, || async {
        leader_of(&admin, plane.operator_namespace(), &lease)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    delete_namespace(&admin, &namespace).await;
}

#[tokio::test]
async fn sigterm_stops_the_operator_promptly_even_while_the_api_is_unreachable() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("outage").await;
    apply_example(&admin, &namespace, "00-secrets.yaml").await;
    apply_example(&admin, &namespace, "back-up-now-ad-hoc.yaml").await;
    let proxy = CuttableProxy::start(plane.apiserver_addr()).await;
    let mut operator = plane.start_operator_via(&namespace, &namespace, "outage", Some(proxy.addr));
    eventually(
        "the operator to reconcile through the proxy",
        WAIT,
        || async {
            list(&admin, &namespace, "BackupTask")
                .await
                .first()
                .and_then(settled_phase)
        },
    )
    .await;

    proxy.cut();
    assert_eq!(
        operator.terminate(Duration::from_secs(20)).await,
        Some(0),
        "{}",
        operator.log_text()
    );
    delete_namespace(&admin, &namespace).await;
}

#[tokio::test]
async fn deleting_a_strategy_garbage_collects_the_children_it_owns() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("gc").await;
    let strategy = apply_example(&admin, &namespace, "new-backup-strategy.yaml")
        .await
        .remove(0);
    let owner = json!([{
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "name": strategy.metadata.name, "uid": strategy.metadata.uid,
        "controller": true, "blockOwnerDeletion": true,
    }]);
    for (file, owned) in [
        ("back-up-now-full.yaml", true),
        ("back-up-now-incremental.yaml", false),
    ] {
        let mut child = yaml_documents(&repo_root().join("examples").join(file)).remove(0);
        if owned {
            child["metadata"]["ownerReferences"] = owner.clone();
        }
        apply(&admin, &namespace, &child)
            .await
            .expect("apply child");
    }
    let mut archive = json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
        "metadata": {"name": "demo-tenant1", "ownerReferences": owner},
        "spec": {"strategyRef": {"name": "demo"}, "tenant": "tenant1"},
    });
    archive = serde_json::to_value(
        apply(&admin, &namespace, &archive)
            .await
            .expect("apply LogBackup"),
    )
    .expect("JSON");
    assert_eq!(
        archive["metadata"]["ownerReferences"][0]["kind"],
        "BackupStrategy"
    );

    let (strategies, _) = api_for(&admin, &namespace, &manifest("BackupStrategy"));
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    strategies
        .delete("demo", &background)
        .await
        .expect("delete strategy");
    eventually("owned children to be collected", WAIT, || async {
        let tasks = list(&admin, &namespace, "BackupTask").await;
        let archives = list(&admin, &namespace, "LogBackup").await;
        let names: Vec<_> = tasks
            .iter()
            .filter_map(|t| t.metadata.name.clone())
            .collect();
        (archives.is_empty() && names == ["tenant1-incremental-now"]).then_some(())
    })
    .await;
    delete_namespace(&admin, &namespace).await;
}

/// The watches read what exists as a stream where the API server serves one (this one: Kubernetes 1.37, its
/// WatchList feature on by default), and in pages when told: either way an object made before the start is
/// reconciled, and the operator says at the start which it does.
#[tokio::test]
async fn the_watches_stream_what_exists_where_the_api_server_serves_it_and_page_it_when_told() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    for (extra, said) in [
        (None, "initial lists are streamed"),
        (Some("paged"), "initial lists are paged"),
    ] {
        let namespace = plane.namespace("initial-list").await;
        for file in ["00-secrets.yaml", "back-up-now-ad-hoc.yaml"] {
            apply_example(&admin, &namespace, file).await;
        }
        let args: Vec<String> = extra
            .map(|mode| vec!["--initial-list".to_string(), mode.to_string()])
            .unwrap_or_default();
        let operator =
            plane.start_operator_args(&namespace, &namespace, &format!("{namespace}-a"), &args);
        eventually(
            "the task made before the start to be reconciled",
            WAIT,
            || async {
                let tasks = list(&admin, &namespace, "BackupTask").await;
                tasks
                    .iter()
                    .all(|t| settled_phase(t).as_deref() == Some("Pending"))
                    .then_some(())
            },
        )
        .await;
        assert!(
            operator.log_text().contains(said),
            "{extra:?}: {}",
            operator.log_text()
        );
        delete_namespace(&admin, &namespace).await;
    }
}
