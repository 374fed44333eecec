//! A BackupTask of method Logical: its dump runs in the background of this process, through a user of the
//! tenant; nothing is sent to OceanBase as sys, its status follows the dump, an unchanged status is not
//! written again, and a canceled dump ends Canceled once.

use serde_json::{Value, json};

use super::{Rig, SECRET, ready_cluster};
use crate::{
    api::{BackupTask, BackupTaskPhase, BackupTaskStatus},
    controller::conditions::CLUSTER_REACHABLE,
    oceanbase::fake::Entry,
};

const TASK: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks/dump";
const READER: &str = "/api/v1/namespaces/ns/secrets/reader";

/// A Secret named by its path, holding `data`.
fn secret(path: &str, data: &[(&str, &str)]) -> Value {
    let name = path.rsplit('/').next().unwrap_or_default();
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(key, value)| {
            let bytes = k8s_openapi::ByteString(value.as_bytes().to_vec());
            (key.to_string(), serde_json::to_value(bytes).expect("JSON"))
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": "ns"}, "data": data})
}

/// A rig whose cluster Secret names a port nothing listens on (a dump through it finds the database
/// unreachable), with the tenant user's Secret, and a logical BackupTask of tenant1 into `destination`.
fn rig(destination: &std::path::Path, cancel: bool) -> Rig {
    let rig = Rig::new("BackupTask", ready_cluster());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port().to_string();
    drop(closed);
    rig.api.put(
        SECRET,
        secret(
            SECRET,
            &[
                ("host", "127.0.0.1"),
                ("port", &port),
                ("user", "root@sys"),
                ("password", "pw"),
            ],
        ),
    );
    rig.api.put(
        READER,
        secret(READER, &[("user", "reader"), ("password", "pw")]),
    );
    let uri = format!("file://{}", destination.display());
    rig.api.put(TASK, json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": "dump", "namespace": "ns", "uid": "uid-1", "generation": 1, "resourceVersion": "1"},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"},
                 "dataDestination": {"uri": uri}, "tenant": "tenant1", "mode": "Full", "method": "Logical",
                 "logical": {"credentialsSecret": "reader"}, "cancel": cancel},
    }));
    rig
}

fn destination(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("in-process-logical-{name}-{}", std::process::id()))
}

/// Reconciles the task until its stored status is one `wanted` accepts (its dump runs in the background;
/// its end wakes the task, which the in-process tier does not run), failing the test after 10 s.
async fn reconciled_until(
    rig: &Rig,
    what: &str,
    wanted: impl Fn(&BackupTaskStatus) -> Option<()>,
) -> BackupTaskStatus {
    let polled = || {
        let status = rig.api.object::<BackupTask>(TASK).status?;
        wanted(&status).map(|()| status)
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        rig.reconcile::<BackupTask>(TASK).await;
        if let Some(status) = polled() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The statuses written so far, in order.
fn statuses(rig: &Rig) -> Vec<Value> {
    rig.journal
        .entries()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Status { status, .. } => Some(status),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_logical_backup_sends_nothing_as_sys_and_its_status_follows_the_dump() {
    let root = destination("follows");
    let rig = rig(&root, false);
    rig.reconcile::<BackupTask>(TASK).await;
    let stored: BackupTask = rig.api.object(TASK);
    let status = stored.status.expect("a status");
    assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
    let directory = status.storage_directory.expect("its directory");
    assert!(
        directory.ends_with("/tenant1/logical/dump-uid1"),
        "{directory}"
    );

    // The dump cannot reach the tenant: still Pending, and the status says the cluster is unreachable.
    let status = reconciled_until(
        &rig,
        "the dump to find the database unreachable",
        |status| {
            let reachable = status
                .conditions
                .iter()
                .find(|c| c.type_ == CLUSTER_REACHABLE)?;
            (reachable.status == "False").then_some(())
        },
    )
    .await;
    assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
    assert_eq!(status.observed_generation, Some(1));

    // Nothing changed: nothing is written again.
    let settled = rig.journal.len();
    rig.reconcile::<BackupTask>(TASK).await;
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(rig.since(settled), []);
    assert_eq!(
        rig.journal.statements(),
        Vec::<String>::new(),
        "nothing as sys"
    );
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn a_canceled_logical_backup_ends_canceled_once_and_is_left_alone_after() {
    let root = destination("canceled");
    let rig = rig(&root, true);
    let status = reconciled_until(&rig, "the dump to end canceled", |status| {
        (status.phase == Some(BackupTaskPhase::Canceled)).then_some(())
    })
    .await;
    assert!(status.ended_at.is_some());
    let ended = statuses(&rig).len();
    assert_eq!(
        statuses(&rig)
            .iter()
            .filter(|s| s["phase"] == "Canceled")
            .count(),
        1,
        "{:#?}",
        statuses(&rig)
    );
    // Ended: looked at again, nothing is written or started.
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(statuses(&rig).len(), ended);
    assert_eq!(rig.journal.statements(), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(root);
}
