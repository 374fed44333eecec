//! CleanupTasks a user asks for, end to end (docs/contributing/design.md §2.5,
//! docs/reference/oceanbase-interface.md §5): the operator binary on the real control plane sends
//! `DELETE …` and `CANCEL DELETE BACKUP` to obsim and follows the delete jobs. The simulated clock
//! is frozen and stepped by the test, so each job state is seen.

use crate::support::{
    cluster::eventually,
    simulator::{self, connection_secret},
    world::{GIB, WAIT, World, cluster},
};
use jiff::SignedDuration;
use ob_backup_operator::api::{CleanupTask, CleanupTaskPhase, common::TaskSource};
use obsim::{clock::Clock, model::Version};
use serde_json::{Value, json};

fn cleanup(name: &str, cluster: Value, target: Value) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "CleanupTask",
        "metadata": {"name": name},
        "spec": {"cluster": cluster, "tenant": "tenant1", "target": target},
    })
}

fn step(world: &World, seconds: i64) {
    simulator::cluster(&world.node)
        .clock
        .step(SignedDuration::from_secs(seconds));
}

/// Brings the frozen clock up to real time, so that jobs start when the operator's intent says they may.
fn catch_up(world: &World) {
    let mut cluster = simulator::cluster(&world.node);
    let behind = jiff::Timestamp::now().duration_since(cluster.now());
    if behind.is_positive() {
        cluster.clock.step(behind);
    }
}

#[tokio::test]
async fn requested_cleanups_run_fail_with_oceanbase_reasons_and_cancel() {
    // Requested cleanups are 4.4.1's; the older profile's refusal is checked below.
    let version = simulator::profile_at_least(Version::V4_4_1);
    let Some(world) = World::running("cleanup", &["tenant1"], GIB, 0.0, version).await else {
        return;
    };
    // Obsolete backups are defined by a delete policy; without one OceanBase refuses.
    world
        .apply(cleanup("no-policy", cluster(), json!({"obsolete": true})))
        .await;
    let failed = world
        .reaches::<CleanupTask>("no-policy", CleanupTaskPhase::Failed)
        .await;
    assert_eq!(
        failed.failure.as_ref().and_then(|f| f.code),
        Some(4018),
        "{failed:?}"
    );
    assert_eq!(failed.source, Some(TaskSource::Manual));

    simulator::cluster(&world.node)
        .add_delete_policy("default", Some("1d"), Some("tenant1"))
        .expect("policy");
    catch_up(&world);
    world
        .apply(cleanup("obsolete", cluster(), json!({"obsolete": true})))
        .await;
    // The clock is frozen: the job waits in INIT, and the task knows its id.
    let pending = eventually("the delete job to be found", WAIT, || async {
        let status = world.read::<CleanupTask>("obsolete").await?.status?;
        status.job_id.is_some().then_some(status)
    })
    .await;
    assert_eq!(
        pending.phase,
        Some(CleanupTaskPhase::Pending),
        "{pending:?}"
    );
    step(&world, 10);
    let done = world
        .reaches::<CleanupTask>("obsolete", CleanupTaskPhase::Completed)
        .await;
    assert_eq!(done.job_id, pending.job_id);
    assert!(done.ended_at.is_some(), "{done:?}");

    // A set OceanBase does not have: its own error, as the failure.
    catch_up(&world);
    world
        .apply(cleanup(
            "unknown-set",
            cluster(),
            json!({"backupSetIds": [42]}),
        ))
        .await;
    let refused = world
        .reaches::<CleanupTask>("unknown-set", CleanupTaskPhase::Failed)
        .await;
    assert_eq!(
        refused.failure.as_ref().and_then(|f| f.code),
        Some(9046),
        "{refused:?}"
    );

    // Cancel while the job waits: CANCEL DELETE BACKUP, then Canceled once OceanBase says so.
    catch_up(&world);
    world
        .apply(cleanup("canceled", cluster(), json!({"obsolete": true})))
        .await;
    eventually("the job to be found", WAIT, || async {
        let status = world.read::<CleanupTask>("canceled").await?.status?;
        status.job_id.map(|_| ())
    })
    .await;
    world
        .patch_spec("CleanupTask", "canceled", json!({"cancel": true}))
        .await;
    eventually("OceanBase to cancel the job", WAIT, || async {
        let cluster = simulator::cluster(&world.node);
        let tenant = cluster.tenant("tenant1")?;
        tenant
            .clean
            .jobs
            .iter()
            .any(|j| j.comment.is_empty() && j.result == -4072)
            .then_some(())
    })
    .await;
    step(&world, 3);
    world
        .reaches::<CleanupTask>("canceled", CleanupTaskPhase::Canceled)
        .await;

    // Before 4.4.1 only the policy cleans up: a requested cleanup fails at once, saying so.
    let old = simulator::start_with(
        "old",
        &["tenant1"],
        GIB,
        Clock::new(jiff::Timestamp::now(), 0.0),
        Version::V4_2_5,
    )
    .await;
    connection_secret(&world.admin, &world.namespace, "old", &old).await;
    world
        .apply(cleanup(
            "too-old",
            json!({"name": "old", "connectionSecret": "old"}),
            json!({"backupSetIds": [1]}),
        ))
        .await;
    let too_old = world
        .reaches::<CleanupTask>("too-old", CleanupTaskPhase::Failed)
        .await;
    let message = too_old.failure.as_ref().map_or("", |f| f.message.as_str());
    assert!(
        message.contains("4.4.1") && message.contains("4.2.5.0"),
        "{too_old:?}"
    );
    let old_jobs = simulator::cluster(&old)
        .tenant("tenant1")
        .map_or(0, |t| t.clean.jobs.len() + t.clean.history.len());
    assert_eq!(old_jobs, 0, "nothing was sent to the old cluster");
    world.done().await;
}
