//! `docs/reference/fields/<kind>.md`: every field of every kind, rendered from the CRD the operator
//! generates (the same schema `crds/` holds), so that the reference cannot drift from what the API
//! server enforces: type, whether it is required, its default, its allowed values and bounds, its
//! description and the messages of the CEL rules on it.

use serde_json::Value;

use super::{cell, check_file};
use crate::api::all_crds;

/// The page of one CRD.
fn page(crd: &Value) -> String {
    let names = &crd["spec"]["names"];
    let kind = text(&names["kind"]);
    let version = &crd["spec"]["versions"][0];
    let schema = &version["schema"]["openAPIV3Schema"];
    let mut out = format!(
        "# {kind}\n\n<!-- Generated from the CRD by `UPDATE_DOCS=1 cargo test --lib docgen`: do not edit. -->\n\n"
    );
    out.push_str(&format!(
        "`{}/{}`, namespaced; plural `{}`",
        text(&crd["spec"]["group"]),
        text(&version["name"]),
        text(&names["plural"]),
    ));
    if let Some(short) = names["shortNames"].as_array() {
        let short: Vec<String> = short.iter().map(|s| format!("`{}`", text(s))).collect();
        out.push_str(&format!(", short name {}", short.join(", ")));
    }
    if let Some(categories) = names["categories"].as_array() {
        let categories: Vec<String> = categories
            .iter()
            .map(|c| format!("`kubectl get {}`", text(c)))
            .collect();
        out.push_str(&format!("; listed by {}", categories.join(", ")));
    }
    out.push_str(".\n\n");
    if let Some(description) = schema["properties"]["spec"]["description"].as_str() {
        out.push_str(&format!("{}\n\n", one_line(description)));
    }
    let rules = rule_messages(schema);
    if !rules.is_empty() {
        out.push_str("Rules on the whole object, checked by the API server:\n\n");
        for rule in rules {
            out.push_str(&format!("- {}\n", cell(&rule)));
        }
        out.push('\n');
    }
    out.push_str(&columns(version));
    if let Some(selectable) = version["selectableFields"].as_array() {
        let paths: Vec<String> = selectable
            .iter()
            .map(|f| format!("`{}`", text(&f["jsonPath"]).trim_start_matches('.')))
            .collect();
        out.push_str(&format!(
            "## Field selectors\n\n`kubectl get --field-selector` filters on {} on the server.\n\n",
            paths.join(", ")
        ));
    }
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (section, body) in &properties {
        out.push_str(&format!("## {section}\n\n"));
        // The spec's description opens the page.
        if let Some(description) = body["description"].as_str().filter(|_| section != "spec") {
            out.push_str(&format!("{}\n\n", cell(description)));
        }
        let rules = rule_messages(body);
        if !rules.is_empty() {
            out.push_str("Rules:\n\n");
            for rule in rules {
                out.push_str(&format!("- {}\n", cell(&rule)));
            }
            out.push('\n');
        }
        out.push_str("| field | type | description |\n| --- | --- | --- |\n");
        let mut rows = Vec::new();
        fields(body, "", &mut rows);
        for row in rows {
            out.push_str(&row);
        }
        out.push('\n');
    }
    out
}

/// The printer columns of `kubectl get`.
fn columns(version: &Value) -> String {
    let Some(columns) = version["additionalPrinterColumns"].as_array() else {
        return String::new();
    };
    let mut out = String::from(
        "## Columns\n\nWhat `kubectl get` shows; the columns marked *wide* only with `-o wide`.\n\n\
         | column | value | shown |\n| --- | --- | --- |\n",
    );
    for column in columns {
        let shown = if column["priority"].as_i64().unwrap_or(0) > 0 {
            "*wide*"
        } else {
            "always"
        };
        out.push_str(&format!(
            "| {} | `{}` | {shown} |\n",
            cell(&text(&column["name"])),
            text(&column["jsonPath"])
        ));
    }
    out.push('\n');
    out
}

/// One table row per field below `schema`, depth first, each path below `prefix`.
fn fields(schema: &Value, prefix: &str, rows: &mut Vec<String>) {
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, field) in properties {
        let path = format!("{prefix}{name}");
        rows.push(row(&path, field, required.contains(&name.as_str())));
        // What a value of this field holds: its own fields, an array's items' or a map's values'.
        if field["properties"].is_object() {
            fields(field, &format!("{path}."), rows);
        } else if field["items"]["properties"].is_object() {
            fields(&field["items"], &format!("{path}[]."), rows);
        } else if field["additionalProperties"]["properties"].is_object() {
            fields(
                &field["additionalProperties"],
                &format!("{path}.<key>."),
                rows,
            );
        }
    }
}

fn row(path: &str, field: &Value, required: bool) -> String {
    let mut kind = type_name(field);
    if required {
        kind.push_str(", **required**");
    }
    let mut notes: Vec<String> = Vec::new();
    if let Some(description) = field["description"].as_str() {
        notes.push(description.trim().to_string());
    }
    notes.extend(constraints(field));
    let item_rules = match (&field["items"], &field["additionalProperties"]) {
        (items, _) if items.is_object() => rule_messages(items),
        (_, values) if values.is_object() => rule_messages(values),
        _ => Vec::new(),
    };
    let rules: Vec<String> = rule_messages(field).into_iter().chain(item_rules).collect();
    if !rules.is_empty() {
        notes.push(format!("Rules: {}.", rules.join("; ")));
    }
    format!("| `{path}` | {kind} | {} |\n", cell(&notes.join(" ")))
}

/// `string`, `integer`, `[]string`, `map[string]string`, `object`, with a format where one is
/// given.
fn type_name(field: &Value) -> String {
    if field["x-kubernetes-int-or-string"] == Value::Bool(true) {
        return "integer or string".into();
    }
    match field["type"].as_str() {
        Some("array") => format!("[]{}", type_name(&field["items"])),
        Some("object") if field["additionalProperties"].is_object() => {
            format!("map[string]{}", type_name(&field["additionalProperties"]))
        }
        Some(name) => match field["format"].as_str() {
            Some(format) if name == "string" => format!("{name} ({format})"),
            _ => name.to_string(),
        },
        None => "any".into(),
    }
}

/// What the schema allows of a value, in words.
fn constraints(field: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(values) = field["enum"].as_array() {
        let values: Vec<String> = values.iter().map(|v| format!("`{}`", text(v))).collect();
        out.push(format!("One of {}.", values.join(", ")));
    }
    if !field["default"].is_null() {
        out.push(format!("Default `{}`.", text(&field["default"])));
    }
    let bound =
        |low: &str, high: &str, what: &str| match (number(&field[low]), number(&field[high])) {
            (Some(low), Some(high)) => Some(format!("{what} {low} to {high}.")),
            (Some(low), None) => Some(format!("{what} at least {low}.")),
            (None, Some(high)) => Some(format!("{what} at most {high}.")),
            (None, None) => None,
        };
    out.extend(bound("minimum", "maximum", "From"));
    out.extend(bound("minLength", "maxLength", "Length"));
    out.extend(bound("minItems", "maxItems", "Items:"));
    if let Some(pattern) = field["pattern"].as_str() {
        out.push(format!("Pattern `{pattern}`."));
    }
    if field["x-kubernetes-list-type"] == "map" {
        let keys: Vec<String> = field["x-kubernetes-list-map-keys"]
            .as_array()
            .map(|k| k.iter().map(|k| format!("`{}`", text(k))).collect())
            .unwrap_or_default();
        out.push(format!("A list keyed by {}.", keys.join(", ")));
    }
    out
}

/// The messages of the CEL rules directly on `schema`.
fn rule_messages(schema: &Value) -> Vec<String> {
    schema["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|rule| {
                    rule["message"]
                        .as_str()
                        .unwrap_or_else(|| panic!("a CEL rule without a message: {rule}"))
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON value as written in a page: strings bare, whole numbers without a fraction, the rest as
/// JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(_) => number(value).unwrap_or_default(),
        Value::Object(map) if map.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn number(value: &Value) -> Option<String> {
    let n = value.as_f64()?;
    Some(if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every CRD as JSON, with the page it is documented on.
fn pages() -> Vec<(String, String)> {
    all_crds()
        .into_iter()
        .map(|(file, crd)| {
            let crd = serde_json::to_value(&crd).expect("a CRD is JSON");
            let page_name = file.trim_end_matches(".yaml");
            (format!("docs/reference/fields/{page_name}.md"), page(&crd))
        })
        .collect()
}

mod tests {
    use super::*;

    #[test]
    fn the_field_reference_of_every_kind_is_generated_from_its_crd() {
        for (path, content) in pages() {
            check_file(&path, &content);
        }
    }

    #[test]
    fn a_field_shows_its_type_requirement_default_bounds_and_rules() {
        let schema: Value = serde_json::json!({
            "properties": {"spec": {"properties": {
                "tenants": {"type": "array", "items": {"type": "string", "maxLength": 128},
                            "description": "Tenants.", "maxItems": 10,
                            "x-kubernetes-validations": [{"rule": "true", "message": "list each once"}]},
                "mode": {"type": "string", "enum": ["Full", "Incremental"], "default": "Full"},
                "cluster": {"type": "object", "properties": {"name": {"type": "string"}},
                            "required": ["name"]},
            }, "required": ["cluster"]}}
        });
        let mut rows = Vec::new();
        fields(&schema["properties"]["spec"], "", &mut rows);
        assert_eq!(
            rows,
            [
                "| `cluster` | object, **required** |  |\n",
                "| `cluster.name` | string, **required** |  |\n",
                "| `mode` | string | One of `Full`, `Incremental`. Default `Full`. |\n",
                "| `tenants` | []string | Tenants. Items: at most 10. Rules: list each once. |\n",
            ]
        );
    }
}
