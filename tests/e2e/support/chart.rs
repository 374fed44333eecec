//! The chart as `helm template` renders it, for the tests that install or run what it ships.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;
use serde_json::Value;

/// The chart's documents rendered for a release in `namespace` with `values` (`key=value` for `--set`).
pub fn render(helm: &Path, namespace: &str, values: &[&str]) -> Vec<Value> {
    let chart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("charts/ob-backup-operator");
    let mut command = Command::new(helm);
    command
        .args(["template", "ob-backup-operator"])
        .arg(&chart)
        .args(["--namespace", namespace]);
    for value in values {
        command.args(["--set", value]);
    }
    let output = command.output().expect("run helm");
    assert!(
        output.status.success(),
        "helm template {values:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    serde_norway::Deserializer::from_str(&text)
        .filter_map(|doc| Value::deserialize(doc).ok())
        .filter(|doc| !doc.is_null())
        .collect()
}

/// The one document of `kind` among `documents`.
pub fn find(documents: &[Value], kind: &str) -> Value {
    let mut found = documents.iter().filter(|doc| doc["kind"] == kind);
    let document = found
        .next()
        .unwrap_or_else(|| panic!("the chart renders no {kind}"));
    assert!(
        found.next().is_none(),
        "the chart renders more than one {kind}"
    );
    document.clone()
}
