//! A restore's ingredients, shared by the recovery tests and the crash matrix: a strategy over tenant1 with
//! a full backup and a recoverable window, and RecoveryTask manifests.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    cluster::eventually_seen,
    simulator,
    world::{World, cluster, strategy_backup_task},
};

/// How soon after its backup a set's recoverable window shows: the archive's log reaching the first whole
/// second of the set's restore point wakes the strategy at the next whole read of the cluster (the 30 s idle
/// poll at the latest; about 3 s here). Less than the strategy's one-minute refresh, which it waited for
/// before that woke it. The window may first show as one second (`from` = `to`): that second is restorable.
const WINDOW_OPENS: Duration = Duration::from_secs(45);

/// A strategy over tenant1 (optionally encrypting), a full backup of it, and its first recoverable window.
pub async fn backed_up(world: &World, encrypt: bool) -> (Timestamp, Timestamp) {
    if encrypt {
        simulator::secret(
            &world.admin,
            &world.namespace,
            "backup-password",
            &[("password", "right-password")],
        )
        .await;
    }
    let mut spec = json!({
        "cluster": cluster(),
        "tenants": ["tenant1"],
        "dataDestination": {"uri": "file:///backup/src/data"},
        "logDestination": {"uri": "file:///backup/src/archive"},
        "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
    });
    if encrypt {
        spec["encryption"] = json!({"passwordSecret": "backup-password"});
    }
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "src"}, "spec": spec,
        }))
        .await;
    world.archiving("src", "tenant1").await;
    world
        .apply(strategy_backup_task("full", "src", "tenant1"))
        .await;
    world.phase("BackupTask", "full", "Completed").await;
    eventually_seen(
        "a recoverable window in the strategy",
        WINDOW_OPENS,
        || async {
            let status = world.status("BackupStrategy", "src").await;
            let tenant = &status["tenants"][0];
            let window = &tenant["recoverableWindows"][0];
            let from: Option<Timestamp> = window["from"].as_str().and_then(|t| t.parse().ok());
            let to: Option<Timestamp> = window["to"].as_str().and_then(|t| t.parse().ok());
            match (from, to) {
                (Some(from), Some(to)) if to >= from => Ok((from, to)),
                _ => Err(tenant.to_string()),
            }
        },
    )
    .await
}

/// A RecoveryTask `too-early` restoring into `early1` at `early` (before the first window): Failed, refused
/// before anything reaches OceanBase. Returns the operator's failure message.
pub async fn refused_too_early(world: &World, early: &str) -> String {
    world
        .apply(recovery(
            "too-early",
            "early1",
            json!({"time": early}),
            json!({}),
        ))
        .await;
    let refused = world
        .reaches::<ob_backup_operator::api::RecoveryTask>(
            "too-early",
            ob_backup_operator::api::RecoveryTaskPhase::Failed,
        )
        .await;
    let message = refused.failure.map(|f| f.message).expect("a failure");
    assert!(
        message.contains("outside every recoverable window"),
        "{message}"
    );
    assert_eq!(restores_of(world, "early1"), 0, "nothing reached OceanBase");
    message
}

pub fn recovery(name: &str, tenant: &str, until: Value, extra: Value) -> Value {
    let mut spec = json!({
        "source": {"strategyRef": {"name": "src"}, "tenant": "tenant1"},
        "target": {
            "cluster": cluster(),
            "tenant": tenant,
            "resources": {"unit": {"maxCpu": 2, "memorySize": "4G"}, "zones": ["zone1"]},
            "primaryZone": "zone1",
        },
        "until": until,
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask",
        "metadata": {"name": name}, "spec": spec,
    })
}

/// Restore jobs (running, then finished) of a target tenant name in obsim.
pub fn restore_jobs(world: &World, tenant: &str) -> Vec<obsim::model::restore::RestoreJob> {
    let cluster = simulator::cluster(&world.node);
    cluster
        .restores
        .jobs
        .iter()
        .chain(&cluster.restores.history)
        .filter(|j| j.tenant_name == tenant)
        .cloned()
        .collect()
}

/// How many restore jobs (running and finished) a target tenant name has in obsim.
pub fn restores_of(world: &World, tenant: &str) -> usize {
    restore_jobs(world, tenant).len()
}
