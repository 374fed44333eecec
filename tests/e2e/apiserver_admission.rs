//! The CRDs from `crds/` on a real kube-apiserver: every example applies, every invalid manifest of the
//! catalog is refused with its intended message, and every accepted object and update goes through.

use crate::support::{
    catalog::{Case, invalid_cases, repo_root, valid_cases, yaml_documents, yaml_files},
    cluster::{ControlPlane, apply, delete_namespace},
};
use serde_json::Value;

/// The case's object with a name unique in its namespace (derived from its file name); a case whose name
/// is what it tests (anything but `case`) keeps it.
fn named(object: &Value, case: &Case) -> Value {
    if object["metadata"]["name"] != "case" {
        return object.clone();
    }
    let stem = case
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("case");
    let mut object = object.clone();
    object["metadata"]["name"] = Value::String(stem.to_string());
    object
}

#[tokio::test]
async fn every_example_applies_with_server_side_apply() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let client = plane.admin().await;
    let namespace = plane.namespace("examples").await;
    let mut applied = 0;
    for path in yaml_files(&repo_root().join("examples")) {
        for object in yaml_documents(&path) {
            apply(&client, &namespace, &object)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            applied += 1;
        }
    }
    assert!(applied >= 10, "only {applied} objects in examples/");
    delete_namespace(&client, &namespace).await;
}

#[tokio::test]
async fn every_invalid_manifest_is_refused_with_its_message() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let client = plane.admin().await;
    let namespace = plane.namespace("invalid").await;
    let mut failures = Vec::new();
    for case in invalid_cases() {
        let expect = case.expect.clone().unwrap_or_default();
        if case.update.is_some()
            && let Err(e) = apply(&client, &namespace, &named(&case.object, &case)).await
        {
            failures.push(format!(
                "{:?}: creating the object to update failed: {e}",
                case.path
            ));
            continue;
        }
        match apply(&client, &namespace, &named(case.checked(), &case)).await {
            Ok(_) => failures.push(format!("{:?}: accepted, expected {expect:?}", case.path)),
            Err(kube::Error::Api(status)) if status.message.contains(&expect) => {}
            Err(e) => failures.push(format!("{:?}: expected {expect:?}, got {e}", case.path)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases not refused as intended:\n{}",
        failures.len(),
        failures.join("\n")
    );
    delete_namespace(&client, &namespace).await;
}

#[tokio::test]
async fn every_accepted_object_and_update_goes_through() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let client = plane.admin().await;
    let namespace = plane.namespace("valid").await;
    for case in valid_cases() {
        apply(&client, &namespace, &named(&case.object, &case))
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", case.path));
        if let Some(update) = &case.update {
            apply(&client, &namespace, &named(update, &case))
                .await
                .unwrap_or_else(|e| panic!("{:?} (update): {e}", case.path));
        }
    }
    delete_namespace(&client, &namespace).await;
}

/// The operator stores a task's intent only over the version of the task it decided from
/// (`status::apply_body` with a version): the real API server must refuse that apply once the task has
/// changed, and store it over the current version.
#[tokio::test]
async fn a_status_apply_naming_a_version_is_stored_only_over_that_version() {
    use ob_backup_operator::{
        api::{BackupTask, BackupTaskStatus},
        controller::status::apply_body,
    };
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let client = plane.admin().await;
    let namespace = plane.namespace("precondition").await;
    let path = repo_root().join("examples/back-up-now-full.yaml");
    let task = yaml_documents(&path).remove(0);
    let read = apply(&client, &namespace, &task).await.expect("the task");
    let read_version = read.metadata.resource_version.expect("a version");
    let mut labelled = task.clone();
    labelled["metadata"]["labels"] = serde_json::json!({"changed": "after-the-read"});
    apply(&client, &namespace, &labelled)
        .await
        .expect("a label");

    let api: kube::Api<BackupTask> = kube::Api::namespaced(client.clone(), &namespace);
    let intent = BackupTaskStatus {
        submitted_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        )),
        ..BackupTaskStatus::default()
    };
    let params = kube::api::PatchParams::apply("precondition-test").force();
    let over = |version: &str| {
        kube::api::Patch::Apply(apply_body::<BackupTask, _>(&intent, Some(version)))
    };
    let name = "tenant1-full-now";
    match api.patch_status(name, &params, &over(&read_version)).await {
        Err(kube::Error::Api(refusal)) => assert_eq!(refusal.code, 409, "{refusal:?}"),
        other => panic!("stored over a changed task: {other:?}"),
    }
    let current = api.get(name).await.expect("the task");
    assert_eq!(current.status.and_then(|s| s.submitted_at), None);
    let current_version = current.metadata.resource_version.expect("a version");
    let stored = api
        .patch_status(name, &params, &over(&current_version))
        .await
        .expect("stored over the current version");
    assert!(stored.status.and_then(|s| s.submitted_at).is_some());
    delete_namespace(&client, &namespace).await;
}
