//! The chart's monitoring against a real Prometheus (issue 37): a Prometheus server built from the same Go
//! module as promtool scrapes the operator under test every second and evaluates the chart's alerting rules
//! every second. Real failures in obsim — a backup OceanBase fails, then the tenant's destination unreachable
//! (archiving INTERRUPTED, the log delay past its threshold) — fire the alerts on them, and they resolve once
//! the destination is back and a backup completes; `kubectl obbackup alerts` shows them from Prometheus and from
//! the strategy's own record. Every query of the Grafana dashboard returns data from that Prometheus.
//!
//! The rules are the chart's as `helm template` renders them, with one change made to a copy here so that a
//! test does not wait for minutes: every `for:` is `2s`, and `OBBackupTaskFailed` counts failures over 20 s
//! instead of 15 minutes (so that it resolves 20 s after the failure rather than 15 minutes).

use std::path::PathBuf;

use ob_backup_operator::api::{BackupTask, BackupTaskPhase};
use serde_json::{Value, json};

use crate::support::{
    cluster::eventually,
    drill::{drill_user, drilled, next_minute},
    plugin,
    prometheus::{self, Prometheus, chart_rules},
    recovery::backed_up,
    simulator,
    tools::built,
    world::{GIB, World, strategy, strategy_backup_task},
};

/// The Prometheus server and helm `scripts/test.sh` built; `None` (after saying why) without them.
fn tools() -> Option<(PathBuf, PathBuf)> {
    Some((
        built("OBBACKUP_PROMETHEUS", "the Prometheus server")?,
        built("OBBACKUP_HELM", "helm")?,
    ))
}

/// The chart's rules as this test runs them (see the module's comment).
fn rules_for_the_test(helm: &std::path::Path) -> String {
    chart_rules(helm, |rule| {
        if rule.get("for").is_some() {
            rule["for"] = json!("2s");
        }
        if rule["alert"] == "OBBackupTaskFailed" {
            let expr = rule["expr"].as_str().unwrap_or_default().to_string();
            assert!(expr.contains("[15m]"), "{expr}");
            rule["expr"] = json!(expr.replace("[15m]", "[20s]"));
        }
    })
}

/// The alerts of ours Prometheus holds firing now, as (name, the tenant if it names one).
async fn firing(prometheus: &Prometheus) -> Vec<(String, String)> {
    let mut firing: Vec<(String, String)> = prometheus
        .alerts()
        .await
        .into_iter()
        .filter(|a| a.state == "firing" && a.name().starts_with("OBBackup"))
        .map(|a| {
            let tenant = a.labels.get("tenant").cloned().unwrap_or_default();
            (a.name().to_string(), tenant)
        })
        .collect();
    firing.sort();
    firing.dedup();
    firing
}

/// What the archive's destination going away fires: on tenant1, and on what has no tenant label.
const ARCHIVE_ALERTS: [(&str, &str); 3] = [
    ("OBBackupLogArchiveInterrupted", "tenant1"),
    ("OBBackupLogBackupFailed", ""),
    ("OBBackupLogDelayHigh", "tenant1"),
];

const TASK_FAILED: &str = "OBBackupTaskFailed";

#[tokio::test]
async fn alerts_fire_on_real_failures_and_resolve_when_they_are_fixed() {
    let Some((binary, helm)) = tools() else {
        return;
    };
    let start = (jiff::Timestamp::now(), 20.0);
    let Some(world) = World::simulated(
        "prom-alerts",
        &["tenant1"],
        GIB,
        start,
        simulator::profile(),
    )
    .await
    else {
        return;
    };
    world
        .apply(strategy(
            "s",
            json!({"logBackup": {"delayAlertThreshold": "1m"}}),
        ))
        .await;
    world.archiving("s", "tenant1").await;
    let prometheus =
        Prometheus::start(&binary, &world.operator.addr(), &rules_for_the_test(&helm)).await;
    prometheus.evaluated_rules().await;
    assert_eq!(
        firing(&prometheus).await,
        Vec::new(),
        "healthy, nothing fires"
    );

    // OceanBase fails a backup (its device full).
    simulator::cluster(&world.node).faults.next_backup_failure =
        Some((None, -9082, "backup device out of space".into()));
    world
        .apply(strategy_backup_task("doomed", "s", "tenant1"))
        .await;
    world
        .reaches::<BackupTask>("doomed", BackupTaskPhase::Failed)
        .await;
    eventually("OBBackupTaskFailed to fire", prometheus::WAIT, || async {
        let now = firing(&prometheus).await;
        (now == [(TASK_FAILED.to_string(), String::new())]).then_some(())
    })
    .await;

    // The tenant's destination goes away: OceanBase interrupts the archive, whose delay then grows.
    simulator::cluster(&world.node)
        .set_unreachable("tenant1", true)
        .expect("unreachable");
    let expected: Vec<(String, String)> = ARCHIVE_ALERTS
        .iter()
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect();
    eventually("the archive's alerts to fire", prometheus::WAIT, || async {
        let mut now = firing(&prometheus).await;
        // The failed backup's may have ended meanwhile (it counts 20 s back).
        now.retain(|(alert, _)| alert != TASK_FAILED);
        (now == expected).then_some(())
    })
    .await;

    // Fixed: the destination is back, archiving catches up, a backup completes.
    simulator::cluster(&world.node)
        .set_unreachable("tenant1", false)
        .expect("reachable");
    world
        .apply(strategy_backup_task("after", "s", "tenant1"))
        .await;
    world
        .reaches::<BackupTask>("after", BackupTaskPhase::Completed)
        .await;
    eventually("every alert to resolve", prometheus::WAIT, || async {
        firing(&prometheus).await.is_empty().then_some(())
    })
    .await;

    the_plugin_lists_them_from_prometheus(&world, &prometheus).await;
    the_plugin_lists_them_from_the_record(&world).await;
    world.done().await;
}

/// `kubectl obbackup alerts --prometheus`: each alert once, recovered, the tenant's as `tenant/tenant1`.
async fn the_plugin_lists_them_from_prometheus(world: &World, prometheus: &Prometheus) {
    let output = plugin::run(
        world,
        &[
            "alerts",
            "--prometheus",
            &prometheus.url,
            "--since",
            "1h",
            "-o",
            "json",
        ],
    )
    .await;
    let rows = plugin::items(&output);
    let shown: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r["alert"].as_str()?,
                r["object"].as_str()?,
                r["status"].as_str()?,
            ))
        })
        .collect();
    for (alert, object) in [
        ("OBBackupLogArchiveInterrupted", "tenant/tenant1"),
        ("OBBackupLogDelayHigh", "tenant/tenant1"),
        ("OBBackupLogBackupFailed", "kind/LogBackup"),
        ("OBBackupTaskFailed", "kind/BackupTask"),
    ] {
        assert!(
            shown.contains(&(alert, object, "Recovered")),
            "{alert} on {object} in {shown:?}"
        );
    }
    for row in &rows {
        assert!(row["count"].as_i64() >= Some(1), "{row}");
        assert!(row["recoveredAt"].is_string(), "{row}");
    }
    let table = plugin::run(world, &["alerts", "--prometheus", &prometheus.url]).await;
    let text = plugin::stdout(&table);
    println!(
        "kubectl obbackup alerts --prometheus {}:\n{text}",
        prometheus.url
    );
    assert!(
        text.starts_with("ID ") && text.contains("ALERT OBJECT") && text.contains("Recovered"),
        "{text}{}",
        plugin::stderr(&table)
    );
}

/// `kubectl obbackup alerts` without a Prometheus: the strategy's record names the same failure, on the
/// tenant, recovered.
async fn the_plugin_lists_them_from_the_record(world: &World) {
    let recovered = |rows: &[Value], alert: &str| {
        rows.iter().any(|r| {
            r["alert"] == alert && r["object"] == "tenant/tenant1" && r["status"] == "Recovered"
        })
    };
    let rows = eventually(
        "the strategy's record to show the alerts recovered",
        prometheus::WAIT,
        || async {
            let output = plugin::run(world, &["alerts", "-o", "json"]).await;
            let rows = plugin::items(&output);
            [
                "OBBackupLogArchiveInterrupted",
                "OBBackupLogDelayHigh",
                "OBBackupTaskFailed",
            ]
            .iter()
            .all(|alert| recovered(&rows, alert))
            .then_some(rows)
        },
    )
    .await;
    let table = plugin::run(world, &["alerts"]).await;
    println!("kubectl obbackup alerts:\n{}", plugin::stdout(&table));
    let status = world.status("BackupStrategy", "s").await;
    assert_eq!(
        status["alerts"].as_array().map(Vec::len),
        Some(rows.len()),
        "{status}"
    );
}

/// Every `expr` of the chart's Grafana dashboard, with its variables set to the world's namespace and
/// cluster, returns data from a Prometheus scraping the operator; and each variable's `label_values` finds
/// the world's.
#[tokio::test]
async fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    let Some((binary, helm)) = tools() else {
        return;
    };
    let Some(world) = World::new("prom-dash", &["tenant1"], 4 * GIB, 10.0).await else {
        return;
    };
    let prometheus =
        Prometheus::start(&binary, &world.operator.addr(), &chart_rules(&helm, |_| {})).await;
    // A backup, a recoverable window, archiving, and a restore drill that passes: every panel has a series.
    drill_user(&world).await;
    backed_up(&world, false).await;
    drilled(&world, &next_minute(10), "Latest", json!(["tenant1"])).await;
    eventually(
        "a passed drill",
        std::time::Duration::from_secs(180),
        || async {
            let status = world.status("BackupStrategy", "src").await;
            status["drills"][0]["lastPassed"]["task"]
                .is_string()
                .then_some(())
        },
    )
    .await;

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("charts/ob-backup-operator/files/dashboard.json"),
        )
        .expect("the dashboard"),
    )
    .expect("JSON");
    let variables = [
        ("namespace", world.namespace.clone()),
        ("cluster", "obcluster".to_string()),
    ];
    let exprs = exprs(&dashboard);
    assert!(exprs.len() >= 8, "{exprs:?}");
    let mut answers = std::collections::BTreeMap::new();
    for (title, expr) in &exprs {
        let query = substituted(expr, &variables);
        let result = eventually(
            &format!("data for {title}: {query}"),
            prometheus::WAIT,
            || async {
                let result = prometheus.query(&query).await;
                (!result.is_empty()).then_some(result)
            },
        )
        .await;
        answers.insert(title.clone(), result);
    }
    // Data that says what happened: the completed backup counted, the cluster reachable.
    let value = |title: &str, labels: &[(&str, &str)]| -> Option<f64> {
        answers[title]
            .iter()
            .find(|s| labels.iter().all(|(k, v)| s["metric"][*k] == *v))
            .and_then(|s| s["value"][1].as_str()?.parse().ok())
    };
    let completed = value(
        "Task outcomes per hour",
        &[("kind", "BackupTask"), ("phase", "Completed")],
    );
    assert!(
        completed > Some(0.0),
        "{:?}",
        answers["Task outcomes per hour"]
    );
    assert_eq!(value("Clusters reachable", &[]), Some(1.0));
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(query) = variable["query"].as_str() else {
            continue;
        };
        let Some((selector, label)) = label_values(query) else {
            continue;
        };
        let selector = substituted(&selector, &variables);
        let wanted = variables
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, value)| value.clone())
            .expect("a variable of the test");
        let series = prometheus.series(&selector).await;
        assert!(
            series.iter().any(|s| s[&label] == wanted.as_str()),
            "{query}: {series:?}"
        );
    }
    drop(prometheus);
    world.done().await;
}

/// Every panel's `targets[].expr` with the panel's title, panels in rows too.
fn exprs(dashboard: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut panels: Vec<&Value> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().into_iter().flatten());
        let title = panel["title"].as_str().unwrap_or_default();
        for (i, target) in panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(expr) = target["expr"].as_str() {
                let name = if i == 0 {
                    title.to_string()
                } else {
                    format!("{title} ({})", i + 1)
                };
                found.push((name, expr.to_string()));
            }
        }
    }
    found
}

/// `text` with Grafana's `$name` and `${name}` set; a variable left over fails the test.
fn substituted(text: &str, variables: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in variables {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(
        !out.contains('$'),
        "a variable the test does not set: {out}"
    );
    out
}

/// `label_values(selector, label)` as its selector and label.
fn label_values(query: &str) -> Option<(String, String)> {
    let inner = query.strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim().to_string(), label.trim().to_string()))
}
