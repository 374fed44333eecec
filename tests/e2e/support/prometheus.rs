//! A real Prometheus server (`tools/prometheus/build.sh`, named by `OBBACKUP_PROMETHEUS`) that scrapes one
//! operator's `/metrics` every second and evaluates the chart's alerting rules every second, and its HTTP API.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::Deserialize;
use serde_json::{Value, json};

use super::cluster::{eventually, free_port};

/// A running Prometheus; stopped, its directory removed, when dropped.
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    /// Its base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts `binary` scraping `target` (`host:port` of an operator's HTTP endpoint) as job `operator`,
    /// evaluating the rule file `rules` (YAML); returns once it has scraped the operator.
    pub async fn start(binary: &Path, target: &str, rules: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "obbackup-prometheus-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(dir.join("data")).expect("Prometheus's directory");
        std::fs::write(dir.join("rules.yaml"), rules).expect("write the rules");
        let config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": ["rules.yaml"],
            "scrape_configs": [{"job_name": "operator", "static_configs": [{"targets": [target]}]}],
        });
        std::fs::write(
            dir.join("prometheus.yml"),
            serde_norway::to_string(&config).expect("YAML"),
        )
        .expect("write the configuration");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new(binary)
            .current_dir(&dir)
            .args([
                "--config.file=prometheus.yml",
                "--storage.tsdb.path=data",
                &format!("--web.listen-address=127.0.0.1:{port}"),
                "--log.level=warn",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start Prometheus");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let mut prometheus = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            client,
        };
        prometheus.scraping().await;
        prometheus
    }

    /// Waits until it has scraped the operator; fails with its log if it exits or does not within [`WAIT`].
    async fn scraping(&mut self) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let up = self.try_query(r#"up{job="operator"} == 1"#).await;
            if up.is_some_and(|up| !up.is_empty()) {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("Prometheus exited ({exit}):\n{}", self.log());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Prometheus did not scrape the operator within {WAIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Its log so far, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The URL of `path` with `query`.
    fn at(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.url)).expect("a URL");
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// The `data` of a successful GET of `path` with `query`; `None` while it does not answer so.
    async fn try_get(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let response = self.client.get(self.at(path, query)).send().await.ok()?;
        let body: Value = serde_json::from_slice(&response.bytes().await.ok()?).ok()?;
        (body["status"] == "success").then(|| body["data"].clone())
    }

    async fn try_query(&self, expr: &str) -> Option<Vec<Value>> {
        let data = self.try_get("/api/v1/query", &[("query", expr)]).await?;
        data["result"].as_array().cloned()
    }

    /// The result of the instant query `expr`; fails the test when Prometheus refuses it.
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        let response = self
            .client
            .get(self.at("/api/v1/query", &[("query", expr)]))
            .send()
            .await
            .expect("Prometheus answers");
        let body: Value =
            serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON");
        assert_eq!(body["status"], "success", "{expr}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The series `selector` matches (for a dashboard's `label_values`).
    pub async fn series(&self, selector: &str) -> Vec<Value> {
        let data = self
            .try_get("/api/v1/series", &[("match[]", selector)])
            .await
            .unwrap_or_else(|| panic!("Prometheus refused the series of {selector}"));
        data.as_array().cloned().unwrap_or_default()
    }

    /// Waits until every rule group has been evaluated more than a second after this call, so that an alert not firing
    /// now is one its rule found no reason for (and a rule that does not load fails here).
    pub async fn evaluated_rules(&self) {
        let since = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
        eventually("Prometheus to evaluate the rules", WAIT, || async {
            let data = self.try_get("/api/v1/rules", &[]).await?;
            let groups = data["groups"].as_array()?;
            let evaluated = |g: &Value| {
                g["lastEvaluation"]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|t| t > since)
            };
            (!groups.is_empty() && groups.iter().all(evaluated)).then_some(())
        })
        .await;
    }

    /// Every alert Prometheus holds now, pending or firing.
    pub async fn alerts(&self) -> Vec<Alert> {
        let Some(data) = self.try_get("/api/v1/alerts", &[]).await else {
            return Vec::new();
        };
        serde_json::from_value(data["alerts"].clone()).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long Prometheus gets to start, scrape, and fire or resolve an alert once the operator shows why.
pub const WAIT: Duration = Duration::from_secs(90);

/// One alert of `/api/v1/alerts`.
#[derive(Debug, Deserialize, Clone)]
pub struct Alert {
    pub labels: std::collections::BTreeMap<String, String>,
    pub state: String,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// The chart's alerting rules as `helm template` renders them (`prometheusRule.enabled`), as a rule file,
/// with `edit` applied to each rule (an object with `alert`, `expr`, `for`, `labels`, `annotations`).
pub fn chart_rules(helm: &Path, edit: impl Fn(&mut Value)) -> String {
    let documents = super::chart::render(helm, "default", &["prometheusRule.enabled=true"]);
    let rule = super::chart::find(&documents, "PrometheusRule");
    let mut groups = rule["spec"]["groups"].clone();
    for group in groups.as_array_mut().into_iter().flatten() {
        for rule in group["rules"].as_array_mut().into_iter().flatten() {
            edit(rule);
        }
    }
    serde_norway::to_string(&json!({ "groups": groups })).expect("YAML")
}
