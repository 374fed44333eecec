//! GitOps fit (issue 8): the Argo CD health check in `deploy/argocd/health.lua`, run by a Lua 5.1 interpreter
//! like Argo CD's, and kstatus's rules (the ones Flux waits on) agree on sample statuses and on statuses the
//! operator really writes; the operator never writes a spec and never copies GitOps tracking metadata onto
//! the objects it creates.

use crate::support::{
    cluster::{api_for, eventually},
    simulator,
    world::{GIB, WAIT, World, cluster, strategy_backup_task},
};
use mlua::{Lua, LuaSerdeExt};
use ob_backup_operator::api::{BackupTask, BackupTaskPhase};
use serde_json::{Value, json};

/// Argo CD's verdict: runs the shipped script with `obj` bound, as Argo CD does.
fn argocd_health(object: &Value) -> (String, String) {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/argocd/health.lua"),
    )
    .expect("health.lua");
    let lua = Lua::new();
    let obj = lua.to_value(object).expect("to lua");
    lua.globals().set("obj", obj).expect("obj");
    let result: mlua::Table = lua.load(&script).eval().expect("the script runs");
    (
        result.get::<String>("status").expect("status"),
        result.get::<String>("message").unwrap_or_default(),
    )
}

/// kstatus's generic rules for a custom resource (cli-utils `pkg/kstatus/status`): Terminating while being
/// deleted; InProgress while `status.observedGeneration` is behind `metadata.generation`; InProgress when
/// `Reconciling` is True; Failed when `Stalled` is True; otherwise Current.
fn kstatus(object: &Value) -> &'static str {
    if !object["metadata"]["deletionTimestamp"].is_null() {
        return "Terminating";
    }
    let status = &object["status"];
    if let (Some(observed), Some(generation)) = (
        status["observedGeneration"].as_i64(),
        object["metadata"]["generation"].as_i64(),
    ) && observed != generation
    {
        return "InProgress";
    }
    let condition = |t: &str| {
        status["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == t))
            .map(|c| c["status"] == "True")
    };
    if condition("Reconciling") == Some(true) {
        return "InProgress";
    }
    if condition("Stalled") == Some(true) {
        return "Failed";
    }
    "Current"
}

fn sample(generation: i64, status: Value) -> Value {
    json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
           "metadata": {"name": "t", "generation": generation}, "status": status})
}

fn conditions(ready: bool, reconciling: bool, stalled: bool, message: &str) -> Value {
    let c = |t: &str, s: bool| json!({"type": t, "status": if s {"True"} else {"False"}, "reason": "R", "message": message});
    json!([
        c("Ready", ready),
        c("Reconciling", reconciling),
        c("Stalled", stalled)
    ])
}

/// The pairs the two tools must agree on.
fn agree(argo: &str, kstatus: &str) -> bool {
    matches!(
        (argo, kstatus),
        ("Healthy" | "Suspended", "Current")
            | ("Progressing", "InProgress")
            | ("Degraded", "Failed")
    )
}

#[test]
fn the_health_check_and_kstatus_agree_on_sample_statuses() {
    let cases = [
        (
            json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask", "metadata": {"name": "t", "generation": 1}}),
            "Progressing",
        ),
        (
            sample(
                2,
                json!({"observedGeneration": 1, "phase": "Completed", "conditions": conditions(true, false, false, "done")}),
            ),
            "Progressing",
        ),
        (
            sample(
                1,
                json!({"observedGeneration": 1, "phase": "Pending", "conditions": conditions(false, true, false, "waiting")}),
            ),
            "Progressing",
        ),
        (
            sample(
                1,
                json!({"observedGeneration": 1, "phase": "Completed", "message": "backup set 3 completed", "conditions": conditions(true, false, false, "backup set 3 completed")}),
            ),
            "Healthy",
        ),
        (
            sample(
                1,
                json!({"observedGeneration": 1, "phase": "Failed", "conditions": conditions(false, false, true, "OceanBase error 9045")}),
            ),
            "Degraded",
        ),
        (
            sample(
                1,
                json!({"observedGeneration": 1, "phase": "Paused", "conditions": conditions(true, false, false, "paused")}),
            ),
            "Suspended",
        ),
    ];
    for (object, expected) in cases {
        let (argo, message) = argocd_health(&object);
        assert_eq!(argo, expected, "{object}");
        if object.get("status").is_some() {
            assert!(
                agree(&argo, kstatus(&object)),
                "{argo} vs {} for {object}",
                kstatus(&object)
            );
        }
        if argo == "Degraded" {
            assert_eq!(message, "OceanBase error 9045", "the cause is shown");
        }
    }
}

#[tokio::test]
async fn real_statuses_are_read_alike_and_tracking_metadata_stays_on_the_users_objects() {
    let Some(world) = World::new("gitops", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    // As Argo CD and Flux would apply it: with their tracking label and annotation.
    world
        .apply(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {
                "name": "tracked",
                "labels": {"app.kubernetes.io/instance": "backups", "kustomize.toolkit.fluxcd.io/name": "backups"},
                "annotations": {"argocd.argoproj.io/tracking-id": "backups:obbackup.dev/BackupStrategy:ns/tracked"},
            },
            "spec": {
                "cluster": cluster(),
                "dataDestination": {"uri": "file:///backup/tracked/data"},
                "logDestination": {"uri": "file:///backup/tracked/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
            },
        }))
        .await;
    world.archiving("tracked", "tenant1").await;
    world
        .apply(strategy_backup_task("good", "tracked", "tenant1"))
        .await;
    world
        .reaches::<BackupTask>("good", BackupTaskPhase::Completed)
        .await;
    simulator::cluster(&world.node).faults.next_backup_failure =
        Some((None, -9045, "injected failure".into()));
    world
        .apply(strategy_backup_task("bad", "tracked", "tenant1"))
        .await;
    world
        .reaches::<BackupTask>("bad", BackupTaskPhase::Failed)
        .await;
    let object = |kind: &'static str, name: &'static str| {
        let world = &world;
        async move {
            let (api, _) = api_for(
                &world.admin,
                &world.namespace,
                &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
            );
            serde_json::to_value(api.get(name).await.expect("get")).expect("json")
        }
    };
    let strategy = eventually("the strategy to be Ready", WAIT, || async {
        let strategy = object("BackupStrategy", "tracked").await;
        (argocd_health(&strategy).0 == "Healthy").then_some(strategy)
    })
    .await;
    for (object, argo, flux) in [
        (strategy.clone(), "Healthy", "Current"),
        (
            object("LogBackup", "tracked-tenant1-log").await,
            "Healthy",
            "Current",
        ),
        (object("BackupTask", "good").await, "Healthy", "Current"),
        (object("BackupTask", "bad").await, "Degraded", "Failed"),
    ] {
        assert_eq!(argocd_health(&object).0, argo, "{object}");
        assert_eq!(kstatus(&object), flux, "{object}");
    }

    // The operator's field manager owns only status on the user's objects, never spec.
    for managed in strategy["metadata"]["managedFields"]
        .as_array()
        .expect("managed")
    {
        if managed["manager"] == "ob-backup-operator" {
            assert_eq!(managed["subresource"], "status", "{managed}");
        }
    }
    // Children carry the strategy's label and owner, not the GitOps tools' tracking metadata (which would
    // make Argo CD or Flux prune or adopt them).
    for child in [object("LogBackup", "tracked-tenant1-log").await] {
        let text = child["metadata"].to_string();
        for tracking in [
            "app.kubernetes.io/instance",
            "kustomize.toolkit.fluxcd.io",
            "argocd.argoproj.io",
        ] {
            assert!(!text.contains(tracking), "{tracking} on {text}");
        }
        assert_eq!(
            child["metadata"]["labels"]["obbackup.dev/strategy"],
            "tracked"
        );
    }
    world.done().await;
}
