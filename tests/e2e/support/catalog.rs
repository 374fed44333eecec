//! Reads the manifest catalog under `tests/catalog/`: invalid cases (one file each, with the message the
//! apiserver must answer) and accepted objects and updates.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

/// Which part of the apiserver rejects a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// An `x-kubernetes-validations` CEL rule, with our own message.
    Cel,
    /// The OpenAPI schema (enum, required, range, pattern), with the apiserver's message.
    OpenApi,
}

/// One manifest file: a single object to create, or an object and an update applied over it.
#[derive(Debug)]
pub struct Case {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// For invalid cases, the message the apiserver must include in its answer.
    pub expect: Option<String>,
    /// For invalid cases, which layer rejects them.
    pub layer: Option<Layer>,
    /// The object created first.
    pub object: Value,
    /// The update applied over `object`, for update cases.
    pub update: Option<Value>,
}

impl Case {
    /// The object that is checked: the update when there is one, else the object.
    pub fn checked(&self) -> &Value {
        self.update.as_ref().unwrap_or(&self.object)
    }

    /// The `kind` of the case's object.
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every invalid case, sorted by path.
pub fn invalid_cases() -> Vec<Case> {
    read_dir_cases(&repo_root().join("tests/catalog/invalid"))
}

/// Every accepted object and update, sorted by path.
pub fn valid_cases() -> Vec<Case> {
    read_dir_cases(&repo_root().join("tests/catalog/valid"))
}

/// Every YAML document of a file, as JSON values (empty documents skipped).
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every `.yaml` file below `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read_dir_cases(dir: &Path) -> Vec<Case> {
    yaml_files(dir).iter().map(|p| read_case(p)).collect()
}

fn read_case(path: &Path) -> Case {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .map(str::to_string)
    };
    let layer = header("layer").map(|l| match l.as_str() {
        "cel" => Layer::Cel,
        "openapi" => Layer::OpenApi,
        other => panic!("{}: unknown layer {other}", path.display()),
    });
    let mut docs = yaml_documents(path).into_iter();
    let object = docs
        .next()
        .unwrap_or_else(|| panic!("{}: no object", path.display()));
    let update = docs.next();
    assert!(
        docs.next().is_none(),
        "{}: at most two documents",
        path.display()
    );
    Case {
        path: path.strip_prefix(repo_root()).unwrap_or(path).to_path_buf(),
        expect: header("expect"),
        layer,
        object,
        update,
    }
}
