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
