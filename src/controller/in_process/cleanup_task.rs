//! CleanupTask: one `DELETE …` after its intent; a refusal that passes is not retried at once; `CANCEL
//! DELETE BACKUP` once per settle.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Rig, ready_cluster};
use crate::{
    api::{CleanupTask, CleanupTaskPhase},
    oceanbase::{CleanJobRow, CleanJobType, JobStatus, ObError, Snapshot, codes},
};

const CLEANUP: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/cleanuptasks/obsolete";

/// tenant1 ready, with a delete policy (DELETE OBSOLETE needs one).
fn with_policy() -> Snapshot {
    Snapshot {
        delete_policies: vec![(1002, "default".into(), "1d".into())],
        ..ready_cluster()
    }
}

/// A requested cleanup of tenant1's obsolete backups.
fn cleanup_task() -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask",
        "metadata": {"name": "obsolete", "namespace": "ns", "uid": "uid-2", "generation": 1, "resourceVersion": "1"},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"}, "tenant": "tenant1",
                 "target": {"obsolete": true}},
    })
}

/// The delete job the sys tenant's `DELETE OBSOLETE BACKUP` made, in `status`.
fn delete_job(status: JobStatus) -> CleanJobRow {
    CleanJobRow {
        tenant_id: 1002,
        job_id: 11,
        initiator_tenant_id: 1,
        kind: CleanJobType::DeleteObsolete,
        parameter: 0,
        status,
        task_count: 2,
        success_task_count: 0,
        result: 0,
        comment: String::new(),
        start: Some(Timestamp::now()),
        end: None,
    }
}

#[tokio::test]
async fn a_delete_goes_once_and_only_after_its_intent_is_stored() {
    let rig = Rig::new("CleanupTask", with_policy());
    rig.api.put(CLEANUP, cleanup_task());
    rig.first_looks::<CleanupTask>(CLEANUP).await;
    rig.assert_intent_then_once("DELETE OBSOLETE BACKUP");

    // Before OceanBase lists the job: nothing more is sent.
    rig.observed().await;
    rig.reconcile::<CleanupTask>(CLEANUP).await;
    assert_eq!(rig.sent("DELETE"), 1, "{:#?}", rig.journal.statements());

    rig.cluster
        .change(|s| s.clean_jobs.push(delete_job(JobStatus::Doing)));
    rig.observed().await;
    rig.reconcile::<CleanupTask>(CLEANUP).await;
    let stored: CleanupTask = rig.api.object(CLEANUP);
    let status = stored.status.expect("a status");
    assert_eq!(
        (status.job_id, status.phase),
        (Some(11), Some(CleanupTaskPhase::Executing))
    );
    assert_eq!(rig.sent("DELETE"), 1);
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
}

#[tokio::test]
async fn a_delete_refused_for_now_is_not_sent_again_at_once() {
    let rig = Rig::new("CleanupTask", with_policy());
    rig.api.put(CLEANUP, cleanup_task());
    rig.cluster.answer_next(Err(ObError::Server {
        code: codes::BACKUP_DELETE_DATA_IN_PROGRESS,
        message: "delete backup data is in progress".into(),
    }));
    rig.first_looks::<CleanupTask>(CLEANUP).await;
    assert_eq!(rig.sent("DELETE OBSOLETE BACKUP"), 1);
    let stored: CleanupTask = rig.api.object(CLEANUP);
    assert_eq!(
        stored.status.and_then(|s| s.submitted_at),
        None,
        "the intent goes with the refusal"
    );
    let after_refusal = rig.journal.len();
    rig.reconcile::<CleanupTask>(CLEANUP).await;
    assert_eq!(rig.since(after_refusal), []);
}

#[tokio::test]
async fn a_cancel_is_sent_once_until_the_cluster_was_read_again() {
    let rig = Rig::new("CleanupTask", with_policy());
    rig.api.put(CLEANUP, cleanup_task());
    rig.first_looks::<CleanupTask>(CLEANUP).await;
    rig.cluster
        .change(|s| s.clean_jobs.push(delete_job(JobStatus::Doing)));
    rig.observed().await;
    rig.reconcile::<CleanupTask>(CLEANUP).await;

    let mut task = rig.api.get(CLEANUP).expect("stored");
    task["spec"]["cancel"] = json!(true);
    task["metadata"]["generation"] = json!(2);
    rig.api.put(CLEANUP, task);
    rig.reconcile::<CleanupTask>(CLEANUP).await;
    rig.reconcile::<CleanupTask>(CLEANUP).await;
    assert_eq!(
        rig.sent("CANCEL DELETE BACKUP"),
        1,
        "{:#?}",
        rig.journal.statements()
    );
}
