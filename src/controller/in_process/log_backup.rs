//! LogBackup: the destination, then the archive mode, each sent once for what one read showed; a refused
//! statement is not retried at once; "already archiving" counts as done.

use crate::reason::Reason;
use serde_json::{Value, json};

use super::{Rig, ready_cluster};
use crate::{
    api::{LogBackup, LogBackupPhase},
    oceanbase::{ArchiveDest, Binding, DestState, ObError, Snapshot},
};

const ARCHIVE: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/logbackups/archive";

/// tenant1 without archiving: no round, no destination.
fn not_archiving() -> Snapshot {
    let mut snapshot = ready_cluster();
    snapshot.rounds.clear();
    snapshot.tenants[0].archivelog = false;
    snapshot
}

/// An explicit LogBackup of tenant1 to file:///archive.
fn log_backup() -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
        "metadata": {"name": "archive", "namespace": "ns", "uid": "uid-3", "generation": 1, "resourceVersion": "1"},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"},
                 "logDestination": {"uri": "file:///archive"}, "tenant": "tenant1"},
    })
}

/// The destination the LogBackup asks for, as OceanBase lists it once set.
fn dest_set(snapshot: &mut Snapshot) {
    snapshot.archive_dests = vec![(
        1002,
        ArchiveDest {
            path: "file:///archive".into(),
            binding: Binding::Optional,
            piece_switch_interval: crate::api::backup_strategy::default_piece_switch_interval(),
            state: DestState::Enable,
        },
    )];
}

#[tokio::test]
async fn archiving_starts_with_the_destination_then_the_mode_each_sent_once() {
    let rig = Rig::new("LogBackup", not_archiving());
    rig.api.put(ARCHIVE, log_backup());
    rig.first_looks::<LogBackup>(ARCHIVE).await;
    assert_eq!(rig.journal.statements().len(), 1);
    assert_eq!(rig.sent("SET LOG_ARCHIVE_DEST"), 1);

    rig.cluster.change(dest_set);
    rig.observed().await;
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    assert_eq!(
        rig.sent("ARCHIVELOG TENANT"),
        1,
        "{:#?}",
        rig.journal.statements()
    );

    rig.cluster.change(|s| {
        s.tenants[0].archivelog = true;
        s.rounds = ready_cluster().rounds;
    });
    rig.observed().await;
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    assert_eq!(
        rig.journal.statements().len(),
        2,
        "{:#?}",
        rig.journal.statements()
    );
    let stored: LogBackup = rig.api.object(ARCHIVE);
    assert_eq!(
        stored.status.and_then(|s| s.phase),
        Some(LogBackupPhase::InProgress)
    );
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
}

#[tokio::test]
async fn a_refused_destination_is_not_sent_again_at_once() {
    let rig = Rig::new("LogBackup", not_archiving());
    rig.api.put(ARCHIVE, log_backup());
    rig.cluster.answer_next(Err(ObError::Server {
        code: 9026,
        message: "backup destination is not valid".into(),
    }));
    rig.first_looks::<LogBackup>(ARCHIVE).await;
    assert_eq!(rig.sent("SET LOG_ARCHIVE_DEST"), 1);
    let after_refusal = rig.journal.len();
    rig.observed().await;
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    assert_eq!(rig.since(after_refusal), []);
}

#[tokio::test]
async fn already_archiving_counts_as_done() {
    let mut snapshot = not_archiving();
    dest_set(&mut snapshot);
    let rig = Rig::new("LogBackup", snapshot);
    rig.api.put(ARCHIVE, log_backup());
    rig.cluster.answer_next(Err(ObError::Server {
        code: crate::oceanbase::codes::ALREADY_IN_ARCHIVE_MODE,
        message: "Already in ARCHIVELOG mode".into(),
    }));
    rig.first_looks::<LogBackup>(ARCHIVE).await;
    assert_eq!(rig.sent("ARCHIVELOG TENANT"), 1);
    let stored: LogBackup = rig.api.object(ARCHIVE);
    let status = stored.status.expect("a status");
    assert!(
        status
            .conditions
            .iter()
            .all(|c| c.reason != Reason::Refused),
        "{:?}",
        status.conditions
    );
}

#[tokio::test]
async fn a_restarted_operator_leaves_a_settled_status_alone_until_it_has_read_the_cluster() {
    let mut snapshot = ready_cluster();
    dest_set(&mut snapshot);
    let rig = Rig::new("LogBackup", snapshot);
    rig.api.put(ARCHIVE, log_backup());
    rig.first_looks::<LogBackup>(ARCHIVE).await;
    let settled = rig.journal.len();
    assert!(settled > 0, "the first looks wrote a status");

    let restarted = rig.restarted();
    restarted.reconcile::<LogBackup>(ARCHIVE).await;
    assert_eq!(
        restarted.since(settled),
        [],
        "before the new process has read the cluster, the status stays as it was"
    );
    restarted.observed().await;
    restarted.reconcile::<LogBackup>(ARCHIVE).await;
    assert_eq!(
        restarted.since(settled),
        [],
        "nothing changed in the cluster"
    );
}

/// Steady archiving through the reconcile as the operator runs it: the grain comes from the write budget's
/// count of refreshing objects. A checkpoint and delay shown as read 90 s ago are rewritten at a minute's
/// grain, and not while the budget counts 10 000 archiving objects (a 400 s grain).
#[tokio::test]
async fn the_checkpoint_is_rewritten_at_the_grain_the_write_budget_affords() {
    let mut writes = Vec::new();
    for refreshing in [0, 10_000] {
        let mut snapshot = ready_cluster();
        dest_set(&mut snapshot);
        let rig = Rig::new("LogBackup", snapshot);
        rig.ctx.writes.set_refreshing("LogBackup", refreshing);
        rig.api.put(ARCHIVE, log_backup());
        rig.first_looks::<LogBackup>(ARCHIVE).await;
        // The status as a look 90 s ago wrote it: the checkpoint it shows 90 s older, its delay the same.
        let mut object = rig.api.get(ARCHIVE).expect("the archive");
        let shown: jiff::Timestamp = object["status"]["checkpointTime"]
            .as_str()
            .expect("a checkpoint shown")
            .parse()
            .expect("a time");
        object["status"]["checkpointTime"] =
            json!((shown - jiff::SignedDuration::from_secs(90)).to_string());
        rig.api.put(ARCHIVE, object);
        let settled = rig.journal.len();
        rig.observed().await;
        rig.reconcile::<LogBackup>(ARCHIVE).await;
        let stored = rig.api.get(ARCHIVE).expect("the archive")["status"]["checkpointTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        writes.push((rig.since(settled).len(), stored == Some(shown)));
    }
    assert!(
        writes[0].0 > 0 && writes[0].1,
        "a minute's grain: the checkpoint read 90 s ago is rewritten to OceanBase's: {writes:?}"
    );
    assert_eq!(
        writes[1],
        (0, false),
        "a 400 s grain: nothing to write yet, the old checkpoint kept"
    );
}

/// Log archiving of a logical strategy's tenant (one made by hand naming it) is Stalled, saying the
/// strategy is logical, and sends nothing: such a strategy archives no log.
#[tokio::test]
async fn a_log_backup_of_a_logical_strategy_is_stalled_and_sends_nothing() {
    let rig = Rig::new("LogBackup", not_archiving());
    super::strategy_of_method(&rig, "Logical");
    let mut log = log_backup();
    log["spec"] = json!({"strategyRef": {"name": "nightly"}, "tenant": "tenant1"});
    rig.api.put(ARCHIVE, log);
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    rig.reconcile::<LogBackup>(ARCHIVE).await;
    let stored: LogBackup = rig.api.object(ARCHIVE);
    let status = stored.status.expect("a status");
    let stalled = super::stalled(&status.conditions).expect("Stalled");
    assert_eq!(stalled.reason, "MethodNotInStrategy", "{stalled:?}");
    assert!(
        stalled
            .message
            .contains("BackupStrategy nightly is Logical"),
        "{}",
        stalled.message
    );
    assert_eq!(
        rig.journal.statements(),
        Vec::<String>::new(),
        "nothing sent"
    );
}
