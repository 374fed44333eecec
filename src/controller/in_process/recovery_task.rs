//! RecoveryTask: one `RESTORE … DESCRIPTION = uid-retry` after its intent; `ACTIVATE STANDBY` once per
//! settle.

use serde_json::{Value, json};

use super::{Rig, ready_cluster};
use crate::{
    api::{RecoveryTask, RecoveryTaskPhase},
    oceanbase::{ObError, RestoreJobRow, RestoreStatus, TenantRole, TenantRow, TenantStatus},
};

const RECOVERY: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/recoverytasks/restore";

/// A restore of tenant1's latest backup (explicit destinations) into a new tenant on an existing pool.
fn recovery_task() -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
        "metadata": {"name": "restore", "namespace": "ns", "uid": "uid-4", "generation": 1, "resourceVersion": "1"},
        "spec": {
            "source": {"tenant": "tenant1", "dataDestination": {"uri": "file:///data"},
                       "logDestination": {"uri": "file:///archive"}},
            "target": {"cluster": {"name": "obcluster", "connectionSecret": "db"}, "tenant": "restored",
                       "resources": {"poolName": "pool1", "zones": []}},
            "until": {"latest": true},
        },
    })
}

/// The sys row of the restore the task started, in `status`.
fn restore(status: RestoreStatus, finished: bool) -> RestoreJobRow {
    RestoreJobRow {
        job_id: 5,
        tenant_name: "restored".into(),
        backup_tenant_name: "tenant1".into(),
        backup_cluster_name: "obcluster".into(),
        status,
        restore_scn: 0,
        start: Some(jiff::Timestamp::now()),
        finish: None,
        total_bytes: 0,
        finish_bytes: 0,
        description: "uid-4-0".into(),
        comment: String::new(),
        finished,
    }
}

#[tokio::test]
async fn a_restore_goes_once_and_only_after_its_intent_is_stored() {
    let rig = Rig::new("RecoveryTask", ready_cluster());
    rig.api.put(RECOVERY, recovery_task());
    rig.first_looks::<RecoveryTask>(RECOVERY).await;
    rig.assert_intent_then_once("DESCRIPTION = 'uid-4-0'");

    rig.observed().await;
    rig.reconcile::<RecoveryTask>(RECOVERY).await;
    assert_eq!(rig.sent("RESTORE"), 1, "{:#?}", rig.journal.statements());

    rig.cluster.change(|s| {
        s.restores
            .push(restore(RestoreStatus::WaitTenantRestoreFinish, false))
    });
    rig.observed().await;
    rig.reconcile::<RecoveryTask>(RECOVERY).await;
    let stored: RecoveryTask = rig.api.object(RECOVERY);
    let status = stored.status.expect("a status");
    assert_eq!(
        (status.job_id, status.phase),
        (Some(5), Some(RecoveryTaskPhase::InProgress))
    );
    assert_eq!(rig.sent("RESTORE"), 1);
    assert!(
        rig.api.unexpected().is_empty(),
        "{:?}",
        rig.api.unexpected()
    );
}

#[tokio::test]
async fn a_restored_standby_is_activated_once_until_the_cluster_was_read_again() {
    let rig = Rig::new("RecoveryTask", ready_cluster());
    rig.api.put(RECOVERY, recovery_task());
    rig.first_looks::<RecoveryTask>(RECOVERY).await;
    rig.cluster.change(|s| {
        s.restores.push(restore(RestoreStatus::Success, true));
        s.tenants.push(TenantRow {
            id: 1004,
            name: "restored".into(),
            status: TenantStatus::Normal,
            role: TenantRole::Standby,
            archivelog: false,
        });
    });
    rig.observed().await;
    rig.reconcile::<RecoveryTask>(RECOVERY).await;
    rig.reconcile::<RecoveryTask>(RECOVERY).await;
    assert_eq!(
        rig.sent("ACTIVATE STANDBY"),
        1,
        "{:#?}",
        rig.journal.statements()
    );
    assert_eq!(rig.sent("RESTORE"), 1);
}

#[tokio::test]
async fn a_refused_restore_drops_the_pool_it_created_at_once_and_only_once() {
    let rig = Rig::new("RecoveryTask", ready_cluster());
    let mut task = recovery_task();
    task["spec"]["target"]["resources"] =
        json!({"unit": {"maxCpu": 2, "memorySize": "4G"}, "zones": ["zone1"]});
    rig.api.put(RECOVERY, task);
    // OceanBase refuses the RESTORE batch for good (a tenant of that name exists).
    rig.cluster.answer_next(Err(ObError::Server {
        code: 5157,
        message: "tenant exists".into(),
    }));
    rig.first_looks::<RecoveryTask>(RECOVERY).await;
    let statements = rig.journal.statements();
    let restore = statements.iter().position(|s| s.contains("RESTORE"));
    let drop = statements
        .iter()
        .position(|s| s.contains("DROP RESOURCE POOL"));
    assert!(
        matches!((restore, drop), (Some(r), Some(d)) if r < d),
        "the pool goes right after the refusal: {statements:#?}"
    );
    let stored: RecoveryTask = rig.api.object(RECOVERY);
    let status = stored.status.expect("a status");
    assert_eq!(status.phase, Some(RecoveryTaskPhase::Failed));
    assert_eq!(status.resource_pool, None, "the dropped pool is forgotten");

    rig.observed().await;
    rig.reconcile::<RecoveryTask>(RECOVERY).await;
    assert_eq!(rig.sent("DROP RESOURCE POOL"), 1);
    assert_eq!(rig.sent("RESTORE"), 1, "a failed restore is not sent again");
}
