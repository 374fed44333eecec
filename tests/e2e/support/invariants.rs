//! The invariants every flow ends with (issue 13): every accepted object reaches a phase with a reason, and
//! an object whose phase is final (or Stopped) does not rewrite its status while nothing it shows changes. The
//! second is checked by touching every object (a label: each is reconciled again), then counting status
//! writes per kind and comparing each finished object's resourceVersion over a measurement window of several
//! of the test operator's idle poll cycles (3 s), so every wake-up a read causes, and every requeue shorter
//! than the window, falls inside it.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::{cluster::api_for, world::World};

const KINDS: [&str; 5] = [
    "BackupStrategy",
    "BackupTask",
    "LogBackup",
    "CleanupTask",
    "RecoveryTask",
];
/// Phases in which nothing an object shows changes by itself (a stopped LogBackup's archiving is off).
const FINAL_PHASES: [&str; 4] = ["Completed", "Failed", "Canceled", "Stopped"];
/// The quiet window: over three idle poll cycles of the test operator.
const QUIET_WINDOW: Duration = Duration::from_secs(10);

/// Checks both invariants for every object in the world's namespace; returns what it checked.
pub async fn settled(world: &World) -> String {
    let mut finished_kinds = Vec::new();
    let mut objects = 0;
    for kind in KINDS {
        let items = world.list(kind).await;
        let mut all_final = !items.is_empty();
        for object in &items {
            objects += 1;
            let name = object.metadata.name.clone().unwrap_or_default();
            let status = &object.data["status"];
            let phase = status["phase"].as_str().unwrap_or_default();
            assert!(!phase.is_empty(), "{kind} {name} has no phase: {status}");
            assert!(
                ready_reason(status).is_some(),
                "{kind} {name} ({phase}) has no Ready condition with a reason: {status}"
            );
            all_final &= FINAL_PHASES.contains(&phase);
        }
        if all_final {
            finished_kinds.push(kind);
        }
    }
    let writes_before: Vec<f64> = finished_kinds
        .iter()
        .map(|kind| world.operator.status_writes(kind))
        .collect();
    let round_trips_before = round_trips(world);
    let touched = touch_everything(world).await;
    // A measurement window, not a synchronisation: nothing is awaited, absence of writes is counted.
    tokio::time::sleep(QUIET_WINDOW).await;
    let reads = round_trips(world) - round_trips_before;
    for (kind, before) in finished_kinds.iter().zip(writes_before) {
        let after = world.operator.status_writes(kind);
        assert_eq!(
            after,
            before,
            "{kind}: status rewritten {} times while finished and nothing changed",
            after - before
        );
    }
    // Each finished object on its own too (a kind may mix finished and running objects): unchanged since the
    // touch, so neither its status nor anything else was written.
    for (kind, name, version) in &touched {
        if let Some(object) = world.get(kind, name).await {
            assert_eq!(
                object.metadata.resource_version.as_ref(),
                Some(version),
                "{kind} {name}: rewritten while finished and nothing changed"
            );
        }
    }
    format!(
        "{objects} objects with a phase and a reason; {} finished kinds and {} finished objects wrote \
         nothing over {reads} SQL round trips",
        finished_kinds.len(),
        touched.len()
    )
}

/// A label on every object, so that every controller reconciles every object once more (an annotation
/// would not: the caches keep only the annotations the operator reads). Returns the resourceVersion each
/// finished object has after it.
async fn touch_everything(world: &World) -> Vec<(&'static str, String, String)> {
    let patch = json!({"metadata": {"labels": {"obbackup.test/touched": "quiet-window"}}});
    let mut finished = Vec::new();
    for kind in KINDS {
        let (api, _) = api_for(
            &world.admin,
            &world.namespace,
            &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
        );
        for object in world.list(kind).await {
            let name = object.metadata.name.unwrap_or_default();
            // An object may be gone by now (a pruned task): that is fine.
            let Ok(touched) = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            else {
                continue;
            };
            let phase = touched.data["status"]["phase"].as_str().unwrap_or_default();
            if let (true, Some(version)) = (
                FINAL_PHASES.contains(&phase),
                touched.metadata.resource_version,
            ) {
                finished.push((kind, name, version));
            }
        }
    }
    finished
}

/// The reason of the object's Ready condition.
fn ready_reason(status: &Value) -> Option<&str> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?["reason"]
        .as_str()
        .filter(|r| !r.is_empty())
}

/// Every SQL round trip the operator made (all clusters).
fn round_trips(world: &World) -> f64 {
    world
        .operator
        .samples("obbackup_sql_round_trips_total")
        .iter()
        .map(|(_, value)| value)
        .sum()
}
