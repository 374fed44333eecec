//! BackupTask: one `BACKUP … DESCRIPTION = uid`, after its intent; `CANCEL BACKUP` once per settle.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Rig, ready_cluster};
use crate::{
    api::{BackupTask, BackupTaskPhase},
    oceanbase::{BackupJobRow, BackupType, JobStatus, ObError, codes},
};

const TASK: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks/full";

/// An ad-hoc full backup of tenant1 to file:///data.
fn backup_task() -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": "full", "namespace": "ns", "uid": "uid-1", "generation": 1, "resourceVersion": "1"},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"},
                 "dataDestination": {"uri": "file:///data"}, "tenant": "tenant1", "mode": "Full"},
    })
}

/// The job `BACKUP … DESCRIPTION = 'uid-1'` made, in `status`.
fn job(status: JobStatus) -> BackupJobRow {
    BackupJobRow {
        tenant_id: 1002,
        job_id: 7,
        backup_set_id: 3,
        backup_type: BackupType::Full,
        status,
        result: 0,
        comment: String::new(),
        description: "uid-1".into(),
        path: "file:///data".into(),
        start: Some(Timestamp::now()),
        end: None,
    }
}

#[tokio::test]
async fn a_backup_goes_once_and_only_after_its_intent_is_stored() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    rig.first_looks::<BackupTask>(TASK).await;

    rig.assert_intent_then_once("DESCRIPTION = 'uid-1'");

    // Looked at again before OceanBase lists the job, twice: the intent is in flight, nothing is sent.
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(rig.sent("BACKUP"), 1, "{:#?}", rig.journal.statements());

    // The job is listed: the task follows it, still with one statement sent.
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;
    let stored: BackupTask = rig.api.object(TASK);
    let status = stored.status.expect("a status");
    assert_eq!(
        (status.job_id, status.phase),
        (Some(7), Some(BackupTaskPhase::InProgress))
    );
    assert_eq!(rig.sent("BACKUP"), 1);
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
}

#[tokio::test]
async fn an_unchanged_status_is_not_written_again() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.first_looks::<BackupTask>(TASK).await;
    let settled = rig.journal.len();
    assert!(settled > 0, "the first looks wrote a status");
    rig.reconcile::<BackupTask>(TASK).await;
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(
        rig.since(settled),
        [],
        "nothing changed, so nothing was written or sent"
    );
}

#[tokio::test]
async fn a_refused_backup_is_not_sent_again_before_its_retry() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    rig.cluster.answer_next(Err(ObError::Server {
        code: codes::BACKUP_IN_PROGRESS,
        message: "Backup is in progress".into(),
    }));
    rig.first_looks::<BackupTask>(TASK).await;
    assert_eq!(rig.sent("BACKUP"), 1);
    let stored: BackupTask = rig.api.object(TASK);
    let status = stored.status.expect("a status");
    assert_eq!(
        status.submitted_at, None,
        "the intent goes with the refusal"
    );

    // The refusal's own status write does not send it again; nor does a look right after.
    let after_refusal = rig.journal.len();
    let action = rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(rig.since(after_refusal), []);
    assert_eq!(rig.sent("BACKUP"), 1);
    assert!(
        format!("{action:?}").contains("requeue_after: Some"),
        "it looks again by itself: {action:?}"
    );
}

#[tokio::test]
async fn a_cancel_is_sent_once_until_the_cluster_was_read_again() {
    let rig = Rig::new("BackupTask", ready_cluster());
    let mut task = backup_task();
    rig.api.put(TASK, task.clone());
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.first_looks::<BackupTask>(TASK).await;

    task = rig.api.get(TASK).expect("stored");
    task["spec"]["cancel"] = json!(true);
    task["metadata"]["generation"] = json!(2);
    rig.api.put(TASK, task);
    rig.reconcile::<BackupTask>(TASK).await;
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(
        rig.sent("CANCEL BACKUP"),
        1,
        "{:#?}",
        rig.journal.statements()
    );
    assert_eq!(
        rig.sent("DESCRIPTION"),
        0,
        "a listed job is never submitted"
    );
}
