//! The alerts of `docs/reference/alerts.md`: the summary table is rendered from the chart's
//! PrometheusRule template (with the chart's default values where the template reads one), and
//! every alert must have a runbook section on that page — what it means, what to check, what to do
//! — and every section an alert.

use super::{check_block, repo_root};

const RULES: &str = "charts/ob-backup-operator/templates/prometheusrule.yaml";
const VALUES: &str = "charts/ob-backup-operator/values.yaml";
const PAGE: &str = "docs/reference/alerts.md";

/// One alerting rule of the chart, as the template spells it.
#[derive(Debug, Default, PartialEq)]
struct Alert {
    name: String,
    severity: String,
    pending: Option<String>,
}

/// The alerts of the template, in its order.
fn alerts(template: &str) -> Vec<Alert> {
    let mut found: Vec<Alert> = Vec::new();
    for line in template.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert: ") {
            found.push(Alert {
                name: name.trim().into(),
                ..Alert::default()
            });
        } else if let Some(alert) = found.last_mut() {
            if let Some(pending) = line.strip_prefix("for: ") {
                alert.pending = Some(pending.trim().into());
            } else if let Some(severity) = line.strip_prefix("severity: ") {
                alert.severity = severity.trim().into();
            }
        }
    }
    found
}

/// `{{ .Values.prometheusRule.x }}` as the chart value it names and its default.
fn with_values(text: &str, values: &serde_json::Value) -> String {
    let Some(path) = text
        .strip_prefix("{{ .Values.")
        .and_then(|t| t.strip_suffix(" }}"))
    else {
        return format!("`{text}`");
    };
    let value = path.split('.').fold(values, |v, key| &v[key]);
    let default = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    format!("`{default}` (chart value `{path}`)")
}

fn table(alerts: &[Alert], values: &serde_json::Value) -> String {
    let mut out =
        String::from("| alert | severity | fires after | runbook |\n| --- | --- | --- | --- |\n");
    for alert in alerts {
        out.push_str(&format!(
            "| `{}` | {} | {} | [{}](#{}) |\n",
            alert.name,
            alert.severity,
            alert
                .pending
                .as_deref()
                .map(|p| with_values(p, values))
                .unwrap_or_else(|| "at once".into()),
            alert.name,
            alert.name.to_lowercase()
        ));
    }
    out
}

/// The runbook sections of the page: `## <alert>` headings with their text.
fn runbooks(page: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in page.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            sections.push((heading.trim().into(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections
        .into_iter()
        .filter(|(heading, _)| heading.starts_with("OBBackup"))
        .collect()
}

mod tests {
    use super::*;

    fn read(relative: &str) -> String {
        std::fs::read_to_string(repo_root().join(relative))
            .unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    #[test]
    fn every_alert_of_the_chart_has_a_runbook_and_every_runbook_an_alert() {
        let alerts = alerts(&read(RULES));
        assert!(!alerts.is_empty(), "no alert read from {RULES}");
        let values: serde_json::Value =
            serde_norway::from_str(&read(VALUES)).expect("values.yaml parses");
        check_block(PAGE, "alerts", &table(&alerts, &values));
        let runbooks = runbooks(&read(PAGE));
        let names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
        let documented: Vec<&str> = runbooks.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(
            documented, names,
            "{PAGE} needs one `## <alert>` runbook section per alert of {RULES}, in the chart's order"
        );
        for (name, body) in &runbooks {
            for part in [
                "**What it means.**",
                "**What to check.**",
                "**What to do.**",
            ] {
                assert!(
                    body.contains(part),
                    "{PAGE}: the runbook of {name} lacks {part}"
                );
            }
        }
    }

    #[test]
    fn an_alert_is_read_with_its_severity_and_pending_time() {
        let template = "        - alert: A\n          expr: x > 1\n          for: 5m\n          labels:\n            severity: warning\n        - alert: B\n          labels:\n            severity: critical\n";
        assert_eq!(
            alerts(template),
            [
                Alert {
                    name: "A".into(),
                    severity: "warning".into(),
                    pending: Some("5m".into()),
                },
                Alert {
                    name: "B".into(),
                    severity: "critical".into(),
                    pending: None,
                },
            ]
        );
        let values = serde_json::json!({"prometheusRule": {"unreachableFor": "10m"}});
        assert_eq!(
            with_values("{{ .Values.prometheusRule.unreachableFor }}", &values),
            "`10m` (chart value `prometheusRule.unreachableFor`)"
        );
    }
}
