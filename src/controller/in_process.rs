//! The in-process tier: a kind's real reconcile against the fake API server ([`super::fixtures::FakeApi`])
//! and a scripted OceanBase ([`crate::oceanbase::fake::FakeCluster`]), both writing one journal, so the order
//! of the side effects is what the tests read: the intent is stored before the statement that acts on it,
//! a statement goes once, a refused one is not retried at once, an unchanged status is not written again.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use super::{Context, Reconcile, fixtures::FakeApi};
use crate::{
    api::{BackupTask, BackupTaskPhase},
    observer::{ClusterKey, Observation},
    oceanbase::{
        ArchiveRound, BackupJobRow, BackupType, JobStatus, ObError, RoundStatus, Snapshot,
        TenantRole, TenantRow, TenantStatus, codes,
        fake::{Entry, FakeCluster, FakeConnect, Journal},
    },
};

const SECRET: &str = "/api/v1/namespaces/ns/secrets/db";
const TASK: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks/full";

/// A fake API server and a fake cluster sharing a journal, and a controller context on both.
struct Rig {
    api: FakeApi,
    cluster: Arc<FakeCluster>,
    journal: Journal,
    ctx: Arc<Context>,
}

impl Rig {
    /// tenant1 archiving with its data destination set, and the cluster's connection Secret.
    fn new(kind: &'static str) -> Self {
        let journal = Journal::default();
        let cluster = FakeCluster::new(ready_cluster(), journal.clone());
        let api = FakeApi::new(journal.clone());
        let data = [
            ("host", "127.0.0.1"),
            ("port", "2881"),
            ("user", "root@sys"),
            ("password", "pw"),
        ]
        .into_iter()
        .map(|(key, value)| {
            (
                key.to_string(),
                k8s_openapi::ByteString(value.as_bytes().to_vec()),
            )
        })
        .collect();
        let secret = k8s_openapi::api::core::v1::Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("db".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        api.put(SECRET, serde_json::to_value(secret).expect("JSON"));
        let ctx = Arc::new(Context::for_tests_on(
            api.client(),
            kind,
            Arc::new(FakeConnect(cluster.clone())),
        ));
        Self {
            api,
            cluster,
            journal,
            ctx,
        }
    }

    /// Reconciles the object stored at `path` as it is stored now.
    async fn reconcile<K: Reconcile>(&self, path: &str) -> Action {
        let object: K = self.api.object(path);
        K::reconcile(Arc::new(object), self.ctx.clone())
            .await
            .expect("reconcile")
    }

    /// Waits until the cluster's observer has read the cluster after this moment.
    async fn observed(&self) {
        let observer = self.ctx.observers.observe(
            ClusterKey {
                namespace: "ns".into(),
                secret: "db".into(),
            },
            "obcluster",
        );
        let asked = crate::clock::now();
        observer.poke();
        super::fixtures::eventually("a fresh observation", || {
            matches!(observer.latest(), Observation::Seen { at, .. } if at >= asked).then_some(())
        })
        .await;
    }

    /// The statements sent so far that contain `text`.
    fn sent(&self, text: &str) -> usize {
        self.journal
            .statements()
            .iter()
            .filter(|s| s.contains(text))
            .count()
    }
}

/// tenant1 (1002) NORMAL, archiving (DOING), DATA_BACKUP_DEST file:///data, on 4.4.1.
fn ready_cluster() -> Snapshot {
    Snapshot {
        version: "4.4.1.0".into(),
        tenants: vec![TenantRow {
            id: 1002,
            name: "tenant1".into(),
            status: TenantStatus::Normal,
            role: TenantRole::Primary,
            archivelog: true,
        }],
        rounds: vec![ArchiveRound {
            tenant_id: 1002,
            round_id: 1,
            status: RoundStatus::Doing,
            start_scn: 1,
            checkpoint_scn: 2,
            path: "file:///archive".into(),
            comment: String::new(),
        }],
        data_dests: vec![(1002, "file:///data".into())],
        ..Snapshot::default()
    }
}

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

/// Where in the journal the first entry `matches` accepts is.
fn position(entries: &[Entry], matches: impl Fn(&Entry) -> bool) -> Option<usize> {
    entries.iter().position(matches)
}

#[tokio::test]
async fn a_backup_goes_once_and_only_after_its_intent_is_stored() {
    let rig = Rig::new("BackupTask");
    rig.api.put(TASK, backup_task());
    rig.reconcile::<BackupTask>(TASK).await;
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;

    let entries = rig.journal.entries();
    let intent = position(
        &entries,
        |e| matches!(e, Entry::Status { status, .. } if status.get("submittedAt").is_some()),
    )
    .expect("an intent was stored");
    let backup = position(
        &entries,
        |e| matches!(e, Entry::Sql(batch) if batch.iter().any(|s| s.contains("BACKUP"))),
    )
    .expect("BACKUP was sent");
    assert!(
        intent < backup,
        "the intent precedes the statement: {entries:#?}"
    );
    assert_eq!(rig.sent("DESCRIPTION = 'uid-1'"), 1);

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
    let rig = Rig::new("BackupTask");
    rig.api.put(TASK, backup_task());
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.reconcile::<BackupTask>(TASK).await;
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;
    let settled = rig.journal.len();
    assert!(settled > 0, "the first looks wrote a status");
    rig.reconcile::<BackupTask>(TASK).await;
    rig.reconcile::<BackupTask>(TASK).await;
    assert_eq!(
        rig.journal.entries()[settled..],
        [],
        "nothing changed, so nothing was written or sent"
    );
}

#[tokio::test]
async fn a_refused_backup_is_not_sent_again_before_its_retry() {
    let rig = Rig::new("BackupTask");
    rig.api.put(TASK, backup_task());
    rig.cluster.answer_next(Err(ObError::Server {
        code: codes::BACKUP_IN_PROGRESS,
        message: "Backup is in progress".into(),
    }));
    rig.reconcile::<BackupTask>(TASK).await;
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;
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
    assert_eq!(rig.journal.entries()[after_refusal..], []);
    assert_eq!(rig.sent("BACKUP"), 1);
    assert!(
        format!("{action:?}").contains("requeue_after: Some"),
        "it looks again by itself: {action:?}"
    );
}

#[tokio::test]
async fn a_cancel_is_sent_once_until_the_cluster_was_read_again() {
    let rig = Rig::new("BackupTask");
    let mut task = backup_task();
    rig.api.put(TASK, task.clone());
    rig.cluster.change(|s| s.jobs.push(job(JobStatus::Doing)));
    rig.reconcile::<BackupTask>(TASK).await;
    rig.observed().await;
    rig.reconcile::<BackupTask>(TASK).await;

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
