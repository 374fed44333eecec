//! RecoveryTask end to end (docs/contributing/design.md §2.6,
//! docs/reference/oceanbase-interface.md §6): the operator binary on the real control plane restores a tenant backed up by a strategy
//! into a new tenant of obsim, over the MySQL protocol.

use crate::support::typed::condition_of;
use crate::support::{
    cluster::eventually,
    recovery::{backed_up, recovery, refused_too_early, restores_of},
    simulator,
    world::{GIB, WAIT, World},
};
use jiff::SignedDuration;
use ob_backup_operator::api::{RecoveryTask, RecoveryTaskPhase};
use serde_json::json;

fn pool_exists(world: &World, prefix: &str) -> bool {
    simulator::cluster(&world.node)
        .restores
        .pools
        .iter()
        .any(|p| p.name.starts_with(prefix))
}

fn set_speed(world: &World, speed: f64) {
    simulator::cluster(&world.node).clock.set_speed(speed);
}

#[tokio::test]
async fn restores_complete_refuse_fail_retry_cancel_and_survive_a_restart() {
    let Some(mut world) = World::new("recovery", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    let (from, to) = backed_up(&world, false).await;

    // A point before the first window: refused, and nothing reaches OceanBase.
    let early = (from - SignedDuration::from_hours(1)).to_string();
    refused_too_early(&world, &early).await;
    assert!(
        !pool_exists(&world, "obrt_too_early"),
        "no pool was created"
    );

    // A point inside the window: restored, activated, PRIMARY in OceanBase. The operator is killed while
    // the restore runs (the clock frozen there) and never sends a second RESTORE.
    let inside = (from + to.duration_since(from) / 2).to_string();
    set_speed(&world, 0.0);
    world
        .apply(recovery(
            "inside",
            "restored1",
            json!({"time": inside}),
            json!({}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("inside", RecoveryTaskPhase::InProgress)
        .await;
    world.restart_operator("b");
    // Its reconciles, not its log: a restarted operator leaves a status that still holds alone.
    eventually(
        "the restarted operator to look at the restore",
        WAIT,
        || async {
            let looks = world
                .operator
                .metric("obbackup_reconcile_total{controller=\"RecoveryTask\"}")?;
            (looks > 0.0).then_some(())
        },
    )
    .await;
    set_speed(&world, 10.0);
    let done = world
        .reaches::<RecoveryTask>("inside", RecoveryTaskPhase::Completed)
        .await;
    assert_eq!(
        restores_of(&world, "restored1"),
        1,
        "one RESTORE despite the restart"
    );
    assert_eq!(
        condition_of(&done.conditions, "RecoveryPointVerified"),
        Some("True")
    );
    assert!(
        done.recovery_time.is_some() && done.job_id.is_some(),
        "{done:?}"
    );
    assert_eq!(
        simulator::cluster(&world.node)
            .tenant("restored1")
            .map(|t| t.role),
        Some("PRIMARY")
    );

    // An injected failure: Failed with OceanBase's cause, the pool released; retry completes.
    simulator::cluster(&world.node).faults.next_restore_failure =
        Some((-4016, "restore failed: injected".into()));
    world
        .apply(recovery(
            "flaky",
            "restored2",
            json!({"latest": true}),
            json!({"activate": false}),
        ))
        .await;
    let failed = world
        .reaches::<RecoveryTask>("flaky", RecoveryTaskPhase::Failed)
        .await;
    assert!(
        failed
            .failure
            .as_ref()
            .is_some_and(|f| f.message.contains("injected")),
        "{failed:?}"
    );
    eventually("the failed attempt's pool to be dropped", WAIT, || async {
        (!pool_exists(&world, "obrt_flaky")).then_some(())
    })
    .await;
    world
        .patch_spec("RecoveryTask", "flaky", json!({"retry": 1}))
        .await;
    world
        .reaches::<RecoveryTask>("flaky", RecoveryTaskPhase::Completed)
        .await;
    assert_eq!(
        simulator::cluster(&world.node)
            .tenant("restored2")
            .map(|t| t.role),
        Some("STANDBY"),
        "activate: false keeps a standby"
    );

    // Cancel midway (the clock frozen so that it is midway): Canceled, tenant and pool gone.
    set_speed(&world, 0.0);
    world
        .apply(recovery(
            "abandoned",
            "restored3",
            json!({"latest": true}),
            json!({}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("abandoned", RecoveryTaskPhase::InProgress)
        .await;
    world
        .patch_spec("RecoveryTask", "abandoned", json!({"cancel": true}))
        .await;
    set_speed(&world, 10.0);
    world
        .reaches::<RecoveryTask>("abandoned", RecoveryTaskPhase::Canceled)
        .await;
    eventually(
        "the canceled restore's pool to be dropped",
        WAIT,
        || async { (!pool_exists(&world, "obrt_abandoned")).then_some(()) },
    )
    .await;
    assert!(
        simulator::cluster(&world.node)
            .tenant("restored3")
            .is_none()
    );
    world.done().await;
}

#[tokio::test]
async fn a_wrong_decryption_password_fails_with_oceanbase_9047() {
    let Some(world) = World::new("decrypt", &["tenant1"], GIB, 10.0).await else {
        return;
    };
    backed_up(&world, true).await;
    simulator::secret(
        &world.admin,
        &world.namespace,
        "wrong-password",
        &[("password", "not-the-password")],
    )
    .await;
    world
        .apply(recovery(
            "wrong",
            "restored1",
            json!({"latest": true}),
            json!({"decryption": {"passwordSecret": "wrong-password"}}),
        ))
        .await;
    let failed = world
        .reaches::<RecoveryTask>("wrong", RecoveryTaskPhase::Failed)
        .await;
    assert_eq!(
        failed.failure.as_ref().and_then(|f| f.code),
        Some(9047),
        "{failed:?}"
    );
    let written = world.everything_written().await;
    for secret in [
        "not-the-password",
        "right-password",
        simulator::SYS_PASSWORD,
    ] {
        assert!(!written.contains(secret), "{secret} leaked");
    }
    world
        .apply(recovery(
            "right",
            "restored2",
            json!({"latest": true}),
            json!({"decryption": {"passwordSecret": "backup-password"}}),
        ))
        .await;
    world
        .reaches::<RecoveryTask>("right", RecoveryTaskPhase::Completed)
        .await;
    world.done().await;
}
