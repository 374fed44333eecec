//! Proves the CRD schemas without a cluster: every invalid manifest of the catalog is rejected (CEL cases with
//! their exact message), every CEL rule has a case that trips it, and every example and accepted manifest
//! passes both CEL and the OpenAPI schema. `tests/apiserver_*.rs` replays the same catalog on a real apiserver.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::catalog::{
    Case, Layer, invalid_cases, repo_root, valid_cases, yaml_documents, yaml_files,
};
use kube::core::cel::Validator;
use ob_backup_operator::api::{self, all_crds};
use serde::Deserialize;
use serde_json::Value;

/// The openAPIV3Schema of every kind, keyed by kind.
fn schemas() -> BTreeMap<String, Value> {
    all_crds()
        .into_iter()
        .map(|(_, crd)| {
            let schema = crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .expect("derived CRDs have a schema");
            (
                crd.spec.names.kind.clone(),
                serde_json::to_value(schema).expect("schema is JSON"),
            )
        })
        .collect()
}

/// Messages of the CEL rules the object (or update) breaks.
fn cel_messages(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(schema, object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

/// What the OpenAPI schema (types, enums, ranges, patterns, required fields) finds wrong with the object.
fn openapi_errors(schema: &Value, object: &Value) -> Vec<String> {
    let validator =
        jsonschema::validator_for(schema).expect("the CRD schema is a valid JSON schema");
    validator
        .iter_errors(object)
        .map(|e| e.to_string())
        .collect()
}

fn check_case(schemas: &BTreeMap<String, Value>, case: &Case) -> (Vec<String>, Vec<String>) {
    let schema = schemas
        .get(case.kind())
        .unwrap_or_else(|| panic!("{:?}: unknown kind", case.path));
    let old = case.update.as_ref().map(|_| &case.object);
    (
        cel_messages(schema, case.checked(), old),
        openapi_errors(schema, case.checked()),
    )
}

#[test]
fn catalog_holds_at_least_thirty_invalid_cases_across_all_kinds() {
    let cases = invalid_cases();
    assert!(cases.len() >= 30, "only {} invalid cases", cases.len());
    let kinds: BTreeSet<_> = cases.iter().map(|c| c.kind().to_string()).collect();
    let all: BTreeSet<_> = schemas().into_keys().collect();
    assert_eq!(kinds, all, "every kind needs invalid cases");
}

#[test]
fn every_invalid_case_is_rejected_with_its_message() {
    let schemas = schemas();
    for case in invalid_cases() {
        let expect = case
            .expect
            .as_deref()
            .unwrap_or_else(|| panic!("{:?}: no '# expect:' line", case.path));
        if let Some(update) = &case.update {
            let created = Case {
                update: None,
                object: case.object.clone(),
                ..copy_header(&case)
            };
            assert_eq!(
                check_case(&schemas, &created),
                (vec![], vec![]),
                "{:?}: the created object must be valid",
                case.path
            );
            assert_eq!(update["kind"], case.object["kind"], "{:?}", case.path);
        }
        let (cel, openapi) = check_case(&schemas, &case);
        match case.layer {
            Some(Layer::Cel) => assert!(
                cel.iter().any(|m| m == expect),
                "{:?}: expected CEL message {expect:?}, got {cel:?} (OpenAPI: {openapi:?})",
                case.path
            ),
            Some(Layer::OpenApi) => assert!(
                !openapi.is_empty(),
                "{:?}: the OpenAPI schema accepted it (CEL: {cel:?})",
                case.path
            ),
            None => panic!("{:?}: no '# layer:' line", case.path),
        }
    }
}

fn copy_header(case: &Case) -> Case {
    Case {
        path: case.path.clone(),
        expect: case.expect.clone(),
        layer: case.layer,
        object: Value::Null,
        update: None,
    }
}

#[test]
fn every_cel_rule_has_a_case_that_trips_it() {
    let tested: BTreeSet<String> = invalid_cases()
        .into_iter()
        .filter(|c| c.layer == Some(Layer::Cel))
        .filter_map(|c| c.expect)
        .collect();
    let mut missing = Vec::new();
    for (kind, schema) in schemas() {
        let mut messages = Vec::new();
        collect_rule_messages(&schema, &mut messages);
        assert!(!messages.is_empty(), "{kind} has no CEL rules");
        missing.extend(
            messages
                .into_iter()
                .filter(|m| !tested.contains(m))
                .map(|m| format!("{kind}: {m}")),
        );
    }
    assert!(
        missing.is_empty(),
        "CEL rules without an invalid case:\n{}",
        missing.join("\n")
    );
}

fn collect_rule_messages(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                for rule in rules {
                    let message = rule["message"]
                        .as_str()
                        .unwrap_or_else(|| panic!("rule without message: {rule}"));
                    out.push(message.to_string());
                }
            }
            map.values().for_each(|v| collect_rule_messages(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_rule_messages(v, out)),
        _ => {}
    }
}

#[test]
fn accepted_objects_and_updates_pass_cel_and_openapi() {
    let schemas = schemas();
    let cases = valid_cases();
    assert!(
        cases.iter().any(|c| c.update.is_some()),
        "valid updates are part of the catalog"
    );
    for case in cases {
        assert_eq!(
            check_case(&schemas, &case),
            (vec![], vec![]),
            "{:?}",
            case.path
        );
        deserializes_into_its_type(case.checked(), &case.path.display().to_string());
    }
}

#[test]
fn every_example_is_accepted_and_deserializes() {
    let schemas = schemas();
    let mut kinds = BTreeSet::new();
    for path in yaml_files(&repo_root().join("examples")) {
        for object in yaml_documents(&path) {
            let Some(schema) = schemas.get(object["kind"].as_str().unwrap_or_default()) else {
                continue; // Secrets and other built-in kinds that the examples need.
            };
            accepted(schema, &object, &path.display().to_string());
            kinds.insert(object["kind"].as_str().unwrap_or_default().to_string());
        }
    }
    assert_eq!(kinds.len(), 5, "examples cover every kind: {kinds:?}");
}

/// `object` passes its kind's CEL rules and OpenAPI schema and deserializes into its type; `name`
/// says where it came from.
fn accepted(schema: &Value, object: &Value, name: &str) {
    assert_eq!(
        cel_messages(schema, object, None),
        Vec::<String>::new(),
        "{name}"
    );
    assert_eq!(
        openapi_errors(schema, object),
        Vec::<String>::new(),
        "{name}"
    );
    deserializes_into_its_type(object, name);
}

/// Every whole manifest of this project's kinds written into a page of `docs/` (a ```yaml block
/// holding `apiVersion: obbackup.dev/…`) passes CEL and the OpenAPI schema, as the examples do.
/// Pages show the examples themselves by including them; a manifest written into a page is checked
/// here.
#[test]
fn every_manifest_in_the_docs_is_accepted_and_deserializes() {
    let schemas = schemas();
    let mut checked = 0;
    for page in markdown_files(&repo_root().join("docs")) {
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        for (line, block) in yaml_blocks(&text) {
            if !block.contains("apiVersion: obbackup.dev/") {
                continue;
            }
            let name = format!("{}:{line}", page.display());
            for document in serde_norway::Deserializer::from_str(&block) {
                let object = Value::deserialize(document).unwrap_or_else(|e| panic!("{name}: {e}"));
                let Some(schema) = schemas.get(object["kind"].as_str().unwrap_or_default()) else {
                    continue; // a Secret or another built-in kind beside it
                };
                accepted(schema, &object, &name);
                checked += 1;
            }
        }
    }
    assert!(
        checked > 0,
        "no manifest found in docs/: is the block syntax still ```yaml?"
    );
}

/// Every `.md` file below `dir`, sorted.
fn markdown_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The ```yaml blocks of a page, each with the line it starts on (one-based).
fn yaml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match current.take() {
            Some(block) if fence => blocks.push(block),
            Some((start, mut body)) => {
                body.push_str(line);
                body.push('\n');
                current = Some((start, body));
            }
            None if fence
                && line
                    .trim_start()
                    .trim_start_matches('`')
                    .starts_with("yaml") =>
            {
                current = Some((index + 1, String::new()));
            }
            None => {}
        }
    }
    blocks
}

fn deserializes_into_its_type(object: &Value, name: &str) {
    let parsed = match object["kind"].as_str() {
        Some("BackupStrategy") => {
            serde_json::from_value::<api::BackupStrategy>(object.clone()).map(drop)
        }
        Some("BackupTask") => serde_json::from_value::<api::BackupTask>(object.clone()).map(drop),
        Some("LogBackup") => serde_json::from_value::<api::LogBackup>(object.clone()).map(drop),
        Some("CleanupTask") => serde_json::from_value::<api::CleanupTask>(object.clone()).map(drop),
        Some("RecoveryTask") => {
            serde_json::from_value::<api::RecoveryTask>(object.clone()).map(drop)
        }
        other => panic!("{name}: unexpected kind {other:?}"),
    };
    parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn crds_directory_matches_the_rust_types() {
    let rendered = ob_backup_operator::crdgen::render().expect("CRDs render to YAML");
    for (file, yaml) in rendered {
        let path = repo_root().join("crds").join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == yaml,
            "{} is out of date: run `cargo run -- crdgen` and commit crds/",
            path.display()
        );
    }
}

/// Point-in-time columns print the time itself, as the console's tables do: a `date` column prints an age
/// ("5m32s"), which loses a restore point and prints `<invalid>` for a time in the future. Only Age is an age.
#[test]
fn point_in_time_columns_print_times_not_ages() {
    let rendered = ob_backup_operator::crdgen::render().expect("CRDs render to YAML");
    let mut ages = Vec::new();
    for (file, yaml) in rendered {
        let crd: Value = serde_norway::from_str(&yaml).expect("CRD YAML");
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            for column in version["additionalPrinterColumns"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if column["type"] == "date" && column["jsonPath"] != ".metadata.creationTimestamp" {
                    ages.push(format!("{file}: {}", column["name"]));
                }
            }
        }
    }
    assert!(ages.is_empty(), "columns printed as ages: {ages:?}");
}

#[test]
fn every_field_is_documented_for_kubectl_explain() {
    let mut undocumented = Vec::new();
    for (kind, schema) in schemas() {
        for part in ["spec", "status"] {
            undocumented_fields(
                &schema["properties"][part],
                &format!("{kind}.{part}"),
                &mut undocumented,
            );
        }
    }
    assert!(
        undocumented.is_empty(),
        "fields without a description:\n{}",
        undocumented.join("\n")
    );
}

fn undocumented_fields(schema: &Value, path: &str, out: &mut Vec<String>) {
    if schema
        .get("description")
        .and_then(Value::as_str)
        .is_none_or(|d| d.trim().is_empty())
    {
        out.push(path.to_string());
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            undocumented_fields(property, &format!("{path}.{name}"), out);
        }
    }
    if let Some(Value::Object(properties)) = schema
        .get("items")
        .filter(|_| !path.ends_with(".conditions"))
        .and_then(|items| items.get("properties"))
    {
        for (name, property) in properties {
            undocumented_fields(property, &format!("{path}[].{name}"), out);
        }
    }
}
