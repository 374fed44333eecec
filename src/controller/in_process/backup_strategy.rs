//! BackupStrategy: a look that changes nothing asks the API server for nothing; its children are read
//! from the controllers' caches and listed from the API only before the strategy acts on them.

use serde_json::{Value, json};

use super::{Rig, ready_cluster};
use crate::api::BackupStrategy;

const STRATEGY: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backupstrategies/nightly";
const TASKS: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks";

/// A strategy of tenant1, a full backup every hour, made two hours ago (so one run is owed now), keeping
/// one completed task.
fn strategy() -> Value {
    let made = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "nightly", "namespace": "ns", "uid": "uid-s", "generation": 1,
                     "resourceVersion": "1", "creationTimestamp": made.to_string()},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"}, "tenants": ["tenant1"],
                 "dataDestination": {"uri": "file:///data"}, "logDestination": {"uri": "file:///archive"},
                 "schedule": {"timeZone": "UTC", "full": "0 * * * *"},
                 "retention": {"successfulTasksHistoryLimit": 1}},
    })
}

/// The API requests of each look in a strategy's life, counted so that a change that adds one (a list per
/// look, a write of what did not change) fails here. The strategy lists its LogBackups and tasks from the
/// API only in the looks that create or delete one; every other look reads them from the caches.
#[tokio::test]
async fn each_look_of_a_strategy_sends_only_the_requests_its_step_needs() {
    let rig = Rig::new("BackupStrategy", ready_cluster());
    rig.api.put(STRATEGY, strategy());
    let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
    let mut look = async |what: &'static str| {
        steps.push((what, rig.requests_of::<BackupStrategy>(STRATEGY).await));
    };
    look("first look: makes the LogBackup and the run owed").await;
    rig.observed().await;
    look("the cluster read").await;
    look("again, nothing new").await;
    let run = only_task(&rig);
    let labels = rig.api.get(&run).expect("the run")["metadata"]["labels"].clone();
    assert_eq!(
        (
            &labels["obbackup.dev/strategy"],
            &labels[crate::shards::SHARD_LABEL]
        ),
        (&json!("nightly"), &json!("0-of-1")),
        "labelled with its strategy and its shard (whose holder alone caches it)"
    );
    complete(&rig, &run);
    look("its run completed").await;
    // A second completed task from an earlier run: one beyond the history limit of one.
    let earlier = format!("{TASKS}/nightly-tenant1-full-earlier");
    let mut task = rig.api.get(&run).expect("the run");
    task["metadata"]["name"] = json!("nightly-tenant1-full-earlier");
    task["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    task["metadata"]["annotations"] = json!({"obbackup.dev/scheduled-at": "2026-01-01T00:00:00Z"});
    rig.api.put(&earlier, task);
    look("a finished task beyond the history limit").await;
    look("settled").await;
    let expected: [(&str, &[&str]); 6] = [
        (
            "first look: makes the LogBackup and the run owed",
            &[
                "read Secret",
                "list logbackups",
                "read Secret",
                "apply logbackups",
                "list backuptasks",
                "apply backuptasks",
                "Event",
                "write status",
                "Event",
            ],
        ),
        ("the cluster read", &["write status"]),
        ("again, nothing new", &[]),
        ("its run completed", &[]),
        (
            "a finished task beyond the history limit",
            &["list backuptasks", "delete backuptasks"],
        ),
        ("settled", &[]),
    ];
    assert_eq!(steps, super::steps(&expected));
    assert!(rig.api.get(&earlier).is_none(), "the older task is pruned");
    assert!(rig.api.get(&run).is_some(), "the newest stays");
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
}

/// The path of the one BackupTask stored.
fn only_task(rig: &Rig) -> String {
    let tasks = rig.api.items(TASKS);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    format!(
        "{TASKS}/{}",
        tasks[0]["metadata"]["name"].as_str().expect("a name")
    )
}

/// Marks the task at `path` Completed, as its own controller would.
fn complete(rig: &Rig, path: &str) {
    let mut task = rig.api.get(path).expect("the task");
    let now = jiff::Timestamp::now().to_string();
    task["status"] = json!({"phase": "Completed", "startedAt": now, "endedAt": now,
                            "observedGeneration": 1});
    rig.api.put(path, task);
}
