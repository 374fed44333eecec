//! BackupTask: one `BACKUP … DESCRIPTION = uid`, after its intent; `CANCEL BACKUP` once per settle.

use jiff::Timestamp;
use serde_json::{Value, json};

use kube::runtime::controller::Action;

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

/// A look from a copy older than the intent (a cache the watch has not caught up yet, or a second
/// controller's) decides to submit again while OceanBase does not list the job yet: its intent is refused
/// (the object changed since that copy), so the backup goes once; the next look, from the stored object,
/// follows the intent. Without the version on the intent write the backup went twice.
#[tokio::test]
async fn a_look_from_a_copy_older_than_the_intent_sends_nothing() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    rig.reconcile::<BackupTask>(TASK).await;
    rig.observed().await;
    let before_the_intent = rig.api.get(TASK).expect("the task");
    rig.reconcile::<BackupTask>(TASK).await;
    rig.assert_intent_then_once("DESCRIPTION = 'uid-1'");

    let action = rig.reconcile_copy::<BackupTask>(before_the_intent).await;
    assert_eq!(rig.sent("BACKUP"), 1, "{:#?}", rig.journal.statements());
    assert_eq!(
        action,
        Action::requeue(crate::timing::STALE_COPY_RECHECK),
        "it decides again from the newer copy soon"
    );
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(rig.sent("BACKUP"), 1, "{:#?}", rig.journal.statements());
    let stored: BackupTask = rig.api.object(TASK);
    assert!(stored.status.and_then(|s| s.submitted_at).is_some());
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

/// The API requests of each reconcile in a task's life, counted so that a change that adds one (a read per
/// reconcile, a second write) fails here. A look writes only what changed: its status when it differs, and
/// an Event when the phase moved. It reads the connection Secret only while nothing holds it yet (the
/// reference check, and the observer that starts for the cluster); the strategies and tasks a submission
/// checks for a conflict come from the controllers' caches.
#[tokio::test]
async fn each_reconcile_of_a_backup_sends_only_the_requests_its_step_needs() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    let mut steps: Vec<(&str, Vec<String>)> = Vec::new();
    let mut look = async |what: &'static str| {
        steps.push((what, rig.requests_of::<BackupTask>(TASK).await));
    };
    look("first look, cluster not read yet").await;
    rig.observed().await;
    look("submits").await;
    look("looks again before the cluster lists the job").await;
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.observed().await;
    look("the job runs").await;
    look("again, nothing new").await;
    rig.cluster.change(|s| {
        s.jobs[0].status = JobStatus::Completed;
        s.jobs[0].end = Some(Timestamp::now());
    });
    rig.observed().await;
    look("the job completed").await;
    look("settled").await;
    let expected: [(&str, &[&str]); 7] = [
        (
            "first look, cluster not read yet",
            &["read Secret", "write status", "read Secret", "Event"],
        ),
        ("submits", &["write status", "write status"]),
        (
            "looks again before the cluster lists the job",
            &["write status"],
        ),
        ("the job runs", &["write status", "Event"]),
        ("again, nothing new", &[]),
        ("the job completed", &["write status", "Event"]),
        ("settled", &[]),
    ];
    assert_eq!(steps, super::steps(&expected));
}

/// A restart leaves a status that still describes the spec alone until the cluster is read, and is not
/// too quiet either: it looks again within the active poll, and a job that ended while it was down is in
/// the status after the first read.
#[tokio::test]
async fn a_restarted_operator_shows_a_job_that_ended_while_it_was_down_after_its_first_read() {
    let rig = Rig::new("BackupTask", ready_cluster());
    rig.api.put(TASK, backup_task());
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.first_looks::<BackupTask>(TASK).await;
    let running: BackupTask = rig.api.object(TASK);
    let phase = |task: &BackupTask| task.status.as_ref().and_then(|s| s.phase);
    assert_eq!(phase(&running), Some(BackupTaskPhase::InProgress));

    rig.cluster.change(|s| {
        s.jobs[0].status = JobStatus::Completed;
        s.jobs[0].end = Some(Timestamp::now());
    });
    let restarted = rig.restarted();
    let before = restarted.journal.len();
    let action = restarted.reconcile::<BackupTask>(TASK).await;
    assert_eq!(
        restarted.since(before),
        [],
        "nothing read yet: nothing written"
    );
    assert_eq!(
        action,
        Action::requeue(crate::timing::ACTIVE_POLL),
        "it looks again within the active poll"
    );
    restarted.observed().await;
    restarted.reconcile::<BackupTask>(TASK).await;
    let done: BackupTask = restarted.api.object(TASK);
    assert_eq!(phase(&done), Some(BackupTaskPhase::Completed));
}

/// A BackupTask of one method naming a strategy of the other is Stalled, saying which method to set, and
/// sends nothing: a physical task of a logical strategy used to wait for log archiving that strategy never
/// starts, Pending without end.
#[tokio::test]
async fn a_task_whose_method_is_not_its_strategys_is_stalled_saying_so_and_sends_nothing() {
    for (strategy_method, task_method, says) in [
        ("Logical", "Physical", "give the BackupTask method: Logical"),
        (
            "Physical",
            "Logical",
            "remove method: Logical from the task",
        ),
    ] {
        let rig = Rig::new("BackupTask", ready_cluster());
        super::strategy_of_method(&rig, strategy_method);
        let mut task = backup_task();
        task["spec"] = json!({"strategyRef": {"name": "nightly"}, "tenant": "tenant1", "mode": "Full",
                              "method": task_method,
                              "logical": (task_method == "Logical").then(|| json!({"credentialsSecret": "dumper"}))});
        rig.api.put(TASK, task);
        rig.reconcile::<BackupTask>(TASK).await;
        rig.reconcile::<BackupTask>(TASK).await;
        let stored: BackupTask = rig.api.object(TASK);
        let status = stored.status.expect("a status");
        let stalled = super::stalled(&status.conditions).unwrap_or_else(|| {
            panic!("{task_method} task of a {strategy_method} strategy: not Stalled: {status:?}")
        });
        assert_eq!(stalled.reason, "MethodNotInStrategy", "{stalled:?}");
        assert!(stalled.message.contains(says), "{}", stalled.message);
        assert_eq!(
            rig.journal.statements(),
            Vec::<String>::new(),
            "nothing sent"
        );
    }
}
