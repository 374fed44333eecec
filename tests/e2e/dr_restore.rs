//! A restore into another cluster (issue 37, item 7; `examples/initiate-recovery-dr-standby.yaml`): tenant1 is
//! backed up on the first cluster through a strategy; a second cluster, which shares the backup storage, is
//! reached through a connection Secret of its own; a RecoveryTask naming tenant1's directories and the second
//! cluster as its target restores the tenant there — PRIMARY in the second cluster, absent from the first
//! (docs/guide/recovery.md). A second restore to the very start of the window the strategy shows completes too.

use jiff::Timestamp;
use ob_backup_operator::api::{RecoveryTask, RecoveryTaskPhase};
use serde_json::json;

use crate::support::{
    recovery::{backed_up, restores_of},
    simulator,
    world::{GIB, World},
};

#[tokio::test]
async fn a_tenant_backed_up_on_one_cluster_is_restored_into_another() {
    let Some(world) = World::new("dr-restore", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    let (from, to) = backed_up(&world, false).await;
    let clock = obsim::clock::Clock::new(Timestamp::now(), 10.0);
    let dr = simulator::start_in(
        &world.simulator,
        "obcluster-dr",
        &[],
        GIB,
        clock,
        simulator::profile(),
    )
    .await;
    simulator::connection_secret(&world.admin, &world.namespace, "obcluster-dr-sys", &dr).await;

    let inside = from + to.duration_since(from) / 2;
    let done = restore_into_dr(&world, "tenant1-dr", "tenant1_dr", inside).await;
    assert!(done.recovery_time.is_some(), "{done:?}");

    let restored = |tenant: &str| {
        simulator::cluster(&dr)
            .tenant(tenant)
            .map(|t| (t.status, t.role))
    };
    assert_eq!(restored("tenant1_dr"), Some(("NORMAL", "PRIMARY")));
    let in_source = simulator::cluster(&world.node)
        .tenant("tenant1_dr")
        .is_some();
    assert!(!in_source, "not in the first cluster");
    assert_eq!(restores_of(&world, "tenant1_dr"), 0, "no restore job there");
    let jobs = simulator::cluster(&dr).restores.history.len();
    assert_eq!(jobs, 1, "one restore, in the second cluster");

    // The very start of the window the strategy shows: OceanBase restores to it (a start shown before the
    // set's restore point, cut to the second, would be refused there).
    let at_start = restore_into_dr(&world, "tenant1-dr-from", "tenant1_from", from).await;
    assert!(at_start.recovery_time.is_some(), "{at_start:?}");
    assert_eq!(restored("tenant1_from"), Some(("NORMAL", "PRIMARY")));
    let jobs = simulator::cluster(&dr).restores.history.len();
    assert_eq!(jobs, 2, "the second restore ran in the second cluster too");
    world.done().await;
}

/// Applies the DR example's RecoveryTask `name` (tenant1's own directories and the cluster it was backed up
/// from as its source, `tenant` in the second cluster as its target, restored to `at`) and waits for it to
/// complete.
async fn restore_into_dr(
    world: &World,
    name: &str,
    tenant: &str,
    at: Timestamp,
) -> ob_backup_operator::api::RecoveryTaskStatus {
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
            "metadata": {"name": name},
            "spec": {
                "source": {
                    "tenant": "tenant1",
                    "clusterName": "obcluster",
                    "dataDestination": {"uri": "file:///backup/src/data/tenant1"},
                    "logDestination": {"uri": "file:///backup/src/archive/tenant1"},
                },
                "target": {
                    "cluster": {"name": "obcluster-dr", "connectionSecret": "obcluster-dr-sys"},
                    "tenant": tenant,
                    "resources": {"unit": {"maxCpu": 2, "memorySize": "4G"}, "zones": ["zone1"]},
                    "primaryZone": "zone1",
                },
                "until": {"time": at.to_string()},
            },
        }))
        .await;
    world
        .reaches::<RecoveryTask>(name, RecoveryTaskPhase::Completed)
        .await
}
