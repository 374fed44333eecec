//! `alerts`: the console's alert list — ID, alert object, alert type, generated at, recovered at, last
//! generated at, status — of the chart's alerts (those named `OBBackup…`). With a Prometheus (`--prometheus`
//! or `OBBACKUP_PROMETHEUS_URL`) from what it evaluated: the alerts firing now (`/api/v1/alerts`) and the
//! `ALERTS` series over `--since` (`/api/v1/query_range`, a step counting an alert that fired at any
//! evaluation within it), each stretch of steps one time the alert fired.
//! Without one, from the strategies' own record (`status.alerts`).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use ob_backup_operator::api::{
    BackupStrategy,
    alert::{AlertObjectKind, AlertRecord, AlertState},
};
use serde::Serialize;

use crate::render::{Table, TimeFormat};

/// `alerts [--since D] [--prometheus URL]`.
#[derive(clap::Args, Debug)]
pub struct AlertsArgs {
    /// Alerts active now, or raised or recovered within this long, e.g. 24h, 7d or 30d.
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Prometheus's base URL, e.g. http://localhost:9090 (a path prefix is kept, so an API server's
    /// service proxy URL works too). Without one: the strategies' own record.
    #[arg(long, env = "OBBACKUP_PROMETHEUS_URL")]
    pub prometheus: Option<String>,
}

/// One row of the list: an alert of one object, as often as it fired.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertRow {
    /// Stable for the same alert of the same object in the same namespace, whichever the source.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The chart's alert.
    pub alert: String,
    /// `kind/name`: `tenant/tenant1`, `cluster/obcluster`, …
    pub object: String,
    pub generated_at: Timestamp,
    pub last_generated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<Timestamp>,
    pub count: i64,
    pub status: AlertState,
}

impl AlertRow {
    fn new(namespace: Option<String>, alert: String, object: String) -> Self {
        let id = stable_id(&[namespace.as_deref().unwrap_or(""), &alert, &object]);
        Self {
            id,
            namespace,
            alert,
            object,
            generated_at: Timestamp::UNIX_EPOCH,
            last_generated_at: Timestamp::UNIX_EPOCH,
            recovered_at: None,
            count: 0,
            status: AlertState::Recovered,
        }
    }

    /// When it last changed: recovered, or raised.
    fn changed(&self) -> Timestamp {
        self.recovered_at.unwrap_or(self.last_generated_at)
    }
}

/// Eight hex digits of FNV-1a over `parts`: an ID that stays the same from one run to the next.
fn stable_id(parts: &[&str]) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in parts.join("\u{1f}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// `--since` as a span.
pub fn since(text: &str) -> Result<SignedDuration, String> {
    ob_backup_operator::api::common::parse_duration(text)
        .filter(|d| *d > SignedDuration::ZERO)
        .ok_or_else(|| format!("--since {text:?} is not a duration like 24h, 7d or 30d"))
}

/// The rows of the strategies' records, one per namespace, alert and object (several strategies on one
/// cluster each record its unreachability), active now or changed since `from`.
pub fn from_records(strategies: &[BackupStrategy], from: Timestamp) -> Vec<AlertRow> {
    let mut rows: BTreeMap<(Option<String>, String, String), AlertRow> = BTreeMap::new();
    for strategy in strategies {
        let records = strategy.status.iter().flat_map(|s| &s.alerts);
        for record in records {
            let namespace = strategy.metadata.namespace.clone();
            let object = object_of(record);
            let row = rows
                .entry((namespace.clone(), record.alert.clone(), object.clone()))
                .or_insert_with(|| AlertRow::new(namespace, record.alert.clone(), object));
            merge_record(row, record);
        }
    }
    sorted(
        rows.into_values()
            .filter(|r| r.status == AlertState::Active || r.changed() >= from)
            .collect(),
    )
}

fn object_of(record: &AlertRecord) -> String {
    let kind = match record.object_kind {
        AlertObjectKind::Tenant => "tenant",
        AlertObjectKind::Cluster => "cluster",
    };
    format!("{kind}/{}", record.object)
}

/// Folds one strategy's record of an alert into the row: the first raise, the last, the most counted,
/// active if any strategy sees it active.
fn merge_record(row: &mut AlertRow, record: &AlertRecord) {
    let first = row.count == 0;
    let (generated, last) = (record.generated_at.0, record.last_generated_at.0);
    row.generated_at = if first {
        generated
    } else {
        row.generated_at.min(generated)
    };
    row.last_generated_at = row.last_generated_at.max(last);
    row.count = row.count.max(record.count);
    let active =
        record.status == AlertState::Active || (!first && row.status == AlertState::Active);
    row.status = if active {
        AlertState::Active
    } else {
        AlertState::Recovered
    };
    let recovered = record.recovered_at.as_ref().map(|t| t.0);
    row.recovered_at = if active {
        None
    } else {
        row.recovered_at.max(recovered)
    };
}

/// Active first, then recovered; each newest first.
fn sorted(mut rows: Vec<AlertRow>) -> Vec<AlertRow> {
    rows.sort_by_key(|r| {
        (
            r.status == AlertState::Recovered,
            std::cmp::Reverse(r.changed()),
            r.alert.clone(),
            r.object.clone(),
        )
    });
    rows
}

/// The rows as the console's table (a NAMESPACE column first when `all_namespaces`).
pub fn table(rows: &[AlertRow], clock: &TimeFormat, all_namespaces: bool) -> Table {
    let mut table = Table::new(&[
        "ID",
        "ALERT OBJECT",
        "ALERT TYPE",
        "GENERATED AT",
        "RECOVERED AT",
        "LAST GENERATED AT",
        "STATUS",
        "COUNT",
    ]);
    for row in rows {
        table.push(vec![
            row.id.clone(),
            row.object.clone(),
            row.alert.clone(),
            clock.at(row.generated_at),
            row.recovered_at
                .map_or_else(|| "-".to_string(), |at| clock.at(at)),
            clock.at(row.last_generated_at),
            format!("{:?}", row.status),
            row.count.to_string(),
        ]);
    }
    if all_namespaces {
        table.in_namespaces(
            rows.iter()
                .map(|r| r.namespace.clone().unwrap_or_else(|| "-".into())),
        )
    } else {
        table
    }
}

/// The step of the range query over `span`: about ten thousand points (Prometheus answers at most 11 000
/// per series), never finer than a second. The times shown are as precise as the step.
pub fn step_of(span: SignedDuration) -> SignedDuration {
    SignedDuration::from_secs((span.as_secs() / 10_000).max(1))
}

/// The label set of one alert, as Prometheus gives it.
pub type Labels = BTreeMap<String, String>;

/// What Prometheus said: the alerts firing now (with when they became active) and each `ALERTS` series
/// over the range, as the times it had a sample.
#[derive(Debug, Default)]
pub struct Evaluated {
    pub firing: Vec<(Labels, Option<Timestamp>)>,
    pub series: Vec<(Labels, Vec<Timestamp>)>,
}

/// The firing alerts of a `/api/v1/alerts` answer.
pub fn parse_alerts(body: &serde_json::Value) -> Result<Vec<(Labels, Option<Timestamp>)>, String> {
    let alerts = data(body)?["alerts"]
        .as_array()
        .ok_or("Prometheus's /api/v1/alerts answered without data.alerts")?;
    Ok(alerts
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| {
            let active = a["activeAt"].as_str().and_then(|t| t.parse().ok());
            (labels(&a["labels"]), active)
        })
        .collect())
}

/// The series of a `/api/v1/query_range` answer (a matrix), each with the times of its samples.
pub fn parse_range(body: &serde_json::Value) -> Result<Vec<(Labels, Vec<Timestamp>)>, String> {
    let result = data(body)?["result"]
        .as_array()
        .ok_or("Prometheus's /api/v1/query_range answered without data.result")?;
    Ok(result
        .iter()
        .map(|series| {
            let times = series["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|pair| pair[0].as_f64())
                .filter_map(|secs| Timestamp::from_millisecond((secs * 1000.0).round() as i64).ok())
                .collect();
            (labels(&series["metric"]), times)
        })
        .collect())
}

/// The `data` of a successful answer, or Prometheus's error.
fn data(body: &serde_json::Value) -> Result<&serde_json::Value, String> {
    if body["status"] == "success" {
        Ok(&body["data"])
    } else {
        Err(format!(
            "Prometheus answered {}: {}",
            body["errorType"].as_str().unwrap_or("an error"),
            body["error"].as_str().unwrap_or("(no message)")
        ))
    }
}

fn labels(value: &serde_json::Value) -> Labels {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// What an alert is about, from its labels: the tenant, else the strategy, the cluster, the kind of object.
fn object_from(labels: &Labels) -> String {
    ["tenant", "strategy", "cluster", "kind"]
        .iter()
        .find_map(|key| labels.get(*key).map(|v| format!("{key}/{v}")))
        .unwrap_or_else(|| "-".into())
}

/// The rows of what Prometheus evaluated, in `namespace` (alerts without a namespace label, such as
/// `OBBackupLogBackupFailed`, are shown in every namespace) or every namespace, at `now` with `step`.
pub fn from_prometheus(
    evaluated: &Evaluated,
    namespace: Option<&str>,
    step: SignedDuration,
    now: Timestamp,
) -> Vec<AlertRow> {
    type Key = (Option<String>, String, String);
    let key_of = |labels: &Labels| -> Option<Key> {
        let alert = labels.get("alertname")?;
        let ns = labels.get("namespace").cloned();
        let in_scope = match (namespace, &ns) {
            (Some(wanted), Some(ns)) => wanted == ns,
            _ => true,
        };
        (alert.starts_with("OBBackup") && in_scope)
            .then(|| (ns, alert.clone(), object_from(labels)))
    };
    let mut seen: BTreeMap<Key, Vec<Timestamp>> = BTreeMap::new();
    for (labels, times) in &evaluated.series {
        if let Some(key) = key_of(labels) {
            seen.entry(key).or_default().extend(times);
        }
    }
    let mut active: BTreeMap<Key, Option<Timestamp>> = BTreeMap::new();
    for (labels, since) in &evaluated.firing {
        if let Some(key) = key_of(labels) {
            active.insert(key.clone(), since.or(active.get(&key).copied().flatten()));
            seen.entry(key).or_default();
        }
    }
    let rows = seen.into_iter().filter_map(|(key, mut times)| {
        times.sort();
        times.dedup();
        let firing_now = active.get(&key).copied();
        row_of(key, &episodes(&times, step), firing_now, step, now)
    });
    sorted(rows.collect())
}

/// The stretches of `times` no more than a step and a half apart: each one time the alert fired, as (its
/// first sample, its last).
fn episodes(times: &[Timestamp], step: SignedDuration) -> Vec<(Timestamp, Timestamp)> {
    let gap = step + step / 2;
    let mut found: Vec<(Timestamp, Timestamp)> = Vec::new();
    for &at in times {
        match found.last_mut() {
            Some((_, last)) if at.duration_since(*last) <= gap => *last = at,
            _ => found.push((at, at)),
        }
    }
    found
}

/// The row of an alert that fired in `episodes` and, when it fires now, since when (`Some(None)`: firing,
/// the time unknown); `None` when it did neither.
fn row_of(
    key: (Option<String>, String, String),
    episodes: &[(Timestamp, Timestamp)],
    firing_now: Option<Option<Timestamp>>,
    step: SignedDuration,
    now: Timestamp,
) -> Option<AlertRow> {
    // Firing now but in no step of the range (it began after the last): from when it became active.
    let since = firing_now.map(|at| at.unwrap_or(now));
    let (first, last) = match (episodes.first(), episodes.last(), since) {
        (Some(first), Some(last), _) => (first.0, *last),
        (_, _, Some(since)) => (since, (since, since)),
        _ => return None,
    };
    let mut row = AlertRow::new(key.0, key.1, key.2);
    row.generated_at = first;
    row.last_generated_at = last.0;
    row.count = episodes.len().max(1) as i64;
    if firing_now.is_some() {
        row.status = AlertState::Active;
    } else {
        // The first step it was no longer seen firing.
        row.recovered_at = Some((last.1 + step).min(now));
    }
    Some(row)
}

/// Asks Prometheus at `base` for the alerts firing now and the `ALERTS` series from `now - span` to `now`.
pub async fn evaluate(
    base: &str,
    span: SignedDuration,
    now: Timestamp,
) -> Result<Evaluated, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {}", e.without_url()))?;
    let alerts = get(&client, base, "/api/v1/alerts", &[]).await?;
    let start = now.saturating_sub(span).map_err(|e| e.to_string())?;
    let step = step_of(span);
    // Over each step, not at its end: an alert that fired between two steps is not missed.
    let query = format!(
        r#"max_over_time(ALERTS{{alertstate="firing", alertname=~"OBBackup.*"}}[{}s])"#,
        step.as_secs()
    );
    let range = get(
        &client,
        base,
        "/api/v1/query_range",
        &[
            ("query", &query),
            ("start", &start.as_second().to_string()),
            ("end", &now.as_second().to_string()),
            ("step", &format!("{}s", step.as_secs())),
        ],
    )
    .await?;
    Ok(Evaluated {
        firing: parse_alerts(&alerts)?,
        series: parse_range(&range)?,
    })
}

/// GETs `path` under `base` with `query`, as JSON. Errors name the URL without its credentials.
async fn get(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<serde_json::Value, String> {
    let mut url = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| format!("--prometheus {:?} is not a URL: {e}", shown(base)))?;
    url.query_pairs_mut().extend_pairs(query);
    let at = shown(url.as_str());
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot reach Prometheus at {at}: {}", e.without_url()))?;
    let code = response.status();
    let body = response.bytes().await.map_err(|e| {
        format!(
            "cannot read Prometheus's answer from {at}: {}",
            e.without_url()
        )
    })?;
    serde_json::from_slice(&body).map_err(|_| {
        format!(
            "Prometheus at {at} answered {code} with no Prometheus API reply: is it Prometheus?"
        )
    })
}

/// A URL as it may be shown: without the user and password it may carry.
pub fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        // No URL with a host: shown from where credentials would end.
        _ => url.rsplit('@').next().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::strategy;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a time")
    }

    fn with_record(name: &str, alerts: serde_json::Value) -> BackupStrategy {
        let mut s = strategy(json!({"cluster": {"name": "ob", "connectionSecret": "ob-sys"}}));
        s.metadata.name = Some(name.into());
        s.metadata.namespace = Some("prod".into());
        s.status = serde_json::from_value(json!({ "alerts": alerts })).expect("status");
        s
    }

    #[test]
    fn the_record_shows_each_alert_once_active_first() {
        let interrupted = json!({
            "alert": "OBBackupLogArchiveInterrupted", "objectKind": "Tenant", "object": "tenant1",
            "generatedAt": "2026-11-24T10:00:00Z", "lastGeneratedAt": "2026-11-24T12:00:00Z",
            "recoveredAt": "2026-11-24T12:30:00Z", "count": 2, "status": "Recovered",
        });
        let unreachable = |generated: &str, status: &str, recovered: Option<&str>| {
            json!({
                "alert": "OBBackupClusterUnreachable", "objectKind": "Cluster", "object": "ob",
                "generatedAt": generated, "lastGeneratedAt": generated,
                "recoveredAt": recovered, "count": 1, "status": status,
            })
        };
        let strategies = [
            with_record(
                "a",
                json!([
                    unreachable("2026-11-24T13:00:00Z", "Active", None),
                    interrupted
                ]),
            ),
            // Another strategy on the same cluster saw it earlier, and recovered from an older one.
            with_record(
                "b",
                json!([unreachable(
                    "2026-11-24T09:00:00Z",
                    "Recovered",
                    Some("2026-11-24T09:05:00Z")
                )]),
            ),
        ];
        let rows = from_records(&strategies, at("2026-11-24T00:00:00Z"));
        assert_eq!(rows.len(), 2, "{rows:?}");
        let cluster = &rows[0];
        assert_eq!(
            (cluster.object.as_str(), cluster.status),
            ("cluster/ob", AlertState::Active)
        );
        assert_eq!(cluster.generated_at, at("2026-11-24T09:00:00Z"));
        assert_eq!(cluster.last_generated_at, at("2026-11-24T13:00:00Z"));
        assert_eq!(cluster.recovered_at, None);
        assert_eq!(rows[1].object, "tenant/tenant1");
        assert_eq!(rows[1].count, 2);
        // --since leaves out what recovered before it, never what is active.
        let later = from_records(&strategies, at("2026-11-24T12:45:00Z"));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].alert, "OBBackupClusterUnreachable");

        let text = table(&rows, &TimeFormat::new(true), false).render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("ID         ALERT OBJECT     ALERT TYPE"),
            "{text}"
        );
        assert!(lines[0].ends_with("LAST GENERATED AT         STATUS      COUNT"));
        assert!(lines[2].contains("tenant/tenant1"), "{text}");
        assert!(
            lines[2].contains(
                "2026-11-24 10:00:00 UTC   2026-11-24 12:30:00 UTC   2026-11-24 12:00:00 UTC   Recovered   2"
            ),
            "{text}"
        );
        assert!(lines[1].contains("-                         2026-11-24 13:00:00 UTC   Active"));
    }

    #[test]
    fn the_same_alert_has_the_same_id_from_either_source() {
        let record = with_record(
            "a",
            json!([{
                "alert": "OBBackupLogDelayHigh", "objectKind": "Tenant", "object": "tenant1",
                "generatedAt": "2026-11-24T10:00:00Z", "lastGeneratedAt": "2026-11-24T10:00:00Z",
                "count": 1, "status": "Active",
            }]),
        );
        let recorded = from_records(&[record], at("2026-11-24T00:00:00Z"));
        let labels: Labels = [
            ("alertname", "OBBackupLogDelayHigh"),
            ("namespace", "prod"),
            ("cluster", "ob"),
            ("tenant", "tenant1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let evaluated = Evaluated {
            firing: vec![(labels, Some(at("2026-11-24T10:00:00Z")))],
            series: Vec::new(),
        };
        let asked = from_prometheus(
            &evaluated,
            Some("prod"),
            SignedDuration::from_secs(10),
            at("2026-11-24T10:01:00Z"),
        );
        assert_eq!(recorded[0].id, asked[0].id);
        assert_eq!(asked[0].object, "tenant/tenant1");
        assert_eq!(asked[0].status, AlertState::Active);
        assert_eq!(recorded[0].id.len(), 8);
    }

    /// A `/api/v1/query_range` answer: `series` as (labels, sample times in seconds).
    fn range(series: &[(serde_json::Value, &[i64])]) -> serde_json::Value {
        let result: Vec<serde_json::Value> = series
            .iter()
            .map(|(metric, times)| {
                let values: Vec<serde_json::Value> =
                    times.iter().map(|t| json!([*t as f64, "1"])).collect();
                json!({"metric": metric, "values": values})
            })
            .collect();
        json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
    }

    #[test]
    fn each_stretch_of_alerts_samples_is_one_time_it_fired() {
        let t0 = 1_795_000_000;
        let interrupted = json!({
            "__name__": "ALERTS", "alertname": "OBBackupLogArchiveInterrupted", "alertstate": "firing",
            "namespace": "prod", "cluster": "ob", "tenant": "tenant1", "severity": "critical",
        });
        // Fired twice (10 s, then 5 s, 60 s apart); a second series of the same alert and object (another
        // label set) adds to the same row. Another namespace's and another rule group's are left out.
        let elsewhere = json!({"alertname": "OBBackupLogArchiveInterrupted", "namespace": "dev", "tenant": "t"});
        let not_ours = json!({"alertname": "NodeDown", "namespace": "prod"});
        let mut other_labels = interrupted.clone();
        other_labels["instance"] = json!("b:8080");
        let body = range(&[
            (interrupted, &[t0, t0 + 5, t0 + 10]),
            (other_labels, &[t0 + 70, t0 + 75]),
            (elsewhere, &[t0]),
            (not_ours, &[t0]),
        ]);
        let series = parse_range(&body).expect("a matrix");
        let failed = json!({"status": "success", "data": {"alerts": [
            {"labels": {"alertname": "OBBackupLogBackupFailed", "kind": "LogBackup", "severity": "critical"},
             "state": "firing", "activeAt": "2026-11-24T10:00:00Z", "value": "1e+00"},
            {"labels": {"alertname": "OBBackupStuck", "kind": "BackupTask"}, "state": "pending",
             "activeAt": "2026-11-24T10:00:00Z", "value": "1e+00"},
        ]}});
        let firing = parse_alerts(&failed).expect("alerts");
        assert_eq!(firing.len(), 1, "pending alerts have not fired");
        let now = Timestamp::from_second(t0 + 100).expect("time");
        let rows = from_prometheus(
            &Evaluated { firing, series },
            Some("prod"),
            SignedDuration::from_secs(5),
            now,
        );
        assert_eq!(rows.len(), 2, "{rows:?}");
        // Without a namespace label, shown in every namespace; active now.
        assert_eq!(
            (rows[0].object.as_str(), rows[0].status, rows[0].count),
            ("kind/LogBackup", AlertState::Active, 1)
        );
        let second = |s: i64| Timestamp::from_second(t0 + s).expect("time");
        let interrupted = &rows[1];
        assert_eq!(interrupted.count, 2);
        assert_eq!(interrupted.generated_at, second(0));
        assert_eq!(interrupted.last_generated_at, second(70));
        assert_eq!(interrupted.recovered_at, Some(second(80)));
        assert_eq!(interrupted.status, AlertState::Recovered);
    }

    #[test]
    fn prometheus_errors_and_credentials() {
        let error = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        assert_eq!(
            parse_range(&error).expect_err("an error"),
            "Prometheus answered bad_data: parse error"
        );
        assert_eq!(
            shown("https://admin:s3cret@prom.example:9090/proxy/"),
            "https://prom.example:9090/proxy/"
        );
        assert!(!shown("admin:s3cret@not a url").contains("s3cret"));
        assert_eq!(step_of(SignedDuration::from_hours(24)).as_secs(), 8);
        assert_eq!(step_of(SignedDuration::from_mins(10)).as_secs(), 1);
        assert!(since("0s").is_err() && since("soon").is_err());
    }
}
