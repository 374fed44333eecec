//! What the scale bench reads to measure: the API server's request counters, a process's memory and CPU time
//! from `/proc`, and the operator's own metrics and log.

use std::collections::{BTreeMap, HashMap};

use kube::Client;

use crate::support::cluster::OperatorProcess;
/// The API server's request counters.
pub struct ApiServer {
    /// (verb, resource/subresource, code) → count.
    requests: BTreeMap<(String, String, String), f64>,
    rejected: f64,
}

/// Write counts by (verb, resource/subresource).
pub struct Writes(BTreeMap<(String, String), f64>);

impl ApiServer {
    pub async fn read(admin: &Client) -> Self {
        let request = http::Request::get("/metrics")
            .body(Vec::new())
            .expect("request");
        let text = admin
            .request_text(request)
            .await
            .expect("apiserver metrics");
        let mut requests = BTreeMap::new();
        let mut rejected = 0.0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("apiserver_request_total{") {
                let Some((labels, value)) = rest.split_once("} ") else {
                    continue;
                };
                let labels = parse_labels(labels);
                let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
                let resource = match get("subresource").as_str() {
                    "" => get("resource"),
                    sub => format!("{}/{sub}", get("resource")),
                };
                let key = (get("verb"), resource, get("code"));
                *requests.entry(key).or_default() += value.trim().parse::<f64>().unwrap_or(0.0);
            } else if let Some(rest) =
                line.strip_prefix("apiserver_flowcontrol_rejected_requests_total{")
            {
                rejected += rest
                    .rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0);
            }
        }
        Self { requests, rejected }
    }

    pub fn code_429(&self) -> f64 {
        self.requests
            .iter()
            .filter(|((_, _, code), _)| code == "429")
            .map(|(_, n)| n)
            .sum()
    }

    pub fn rejected(&self) -> f64 {
        self.rejected
    }

    /// Writes since `before`, by verb and resource (the operator's kinds, Events, Leases).
    pub fn writes_since(&self, before: &Self) -> Writes {
        let mut writes = BTreeMap::new();
        for ((verb, resource, code), n) in &self.requests {
            let write = matches!(verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY");
            let ours = resource.starts_with("backup")
                || resource.starts_with("logbackups")
                || resource.starts_with("cleanuptasks")
                || resource.starts_with("recoverytasks")
                || resource == "events"
                || resource == "leases";
            let delta = n - before
                .requests
                .get(&(verb.clone(), resource.clone(), code.clone()))
                .copied()
                .unwrap_or(0.0);
            if write && ours && delta > 0.0 {
                *writes.entry((verb.clone(), resource.clone())).or_default() += delta;
            }
        }
        Writes(writes)
    }
}

impl Writes {
    pub fn per_minute(&self, minutes: f64) -> Self {
        Self(
            self.0
                .iter()
                .map(|(k, n)| (k.clone(), n / minutes))
                .collect(),
        )
    }

    /// Writes to the operator's own kinds (statuses, children).
    pub fn ours(&self) -> f64 {
        self.0
            .iter()
            .filter(|((_, resource), _)| resource != "events" && resource != "leases")
            .fold(0.0, |sum, (_, n)| sum + n)
    }

    pub fn print(&self, indent: &str) {
        if self.0.is_empty() {
            println!("{indent}none");
        }
        for ((verb, resource), n) in &self.0 {
            println!("{indent}{verb:<6} {resource:<32} {n:>8.1}");
        }
    }
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    text.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once("=\"")?;
            Some((k.to_string(), v.trim_end_matches('"').to_string()))
        })
        .collect()
}

/// (VmRSS, VmHWM) of a process, in bytes.
pub fn memory(pid: u32) -> (u64, u64) {
    let field = status_fields(pid);
    (field("VmRSS:"), field("VmHWM:"))
}

/// A reader of the sizes in `/proc/PID/status`, in bytes (0 for a field it lacks).
fn status_fields(pid: u32) -> impl Fn(&str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    move |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    }
}

/// Where a process's resident memory is: its heap and stacks (anonymous), the mapped binary and libraries
/// (file), shared memory; from `/proc/PID/status`.
pub fn memory_split(pid: u32) -> String {
    let field = status_fields(pid);
    format!(
        "resident: {} anonymous (heap, stacks), {} file-backed (the binary), {} shared",
        mib(field("RssAnon:")),
        mib(field("RssFile:")),
        mib(field("RssShmem:"))
    )
}

/// User plus system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 14th field, stime the 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // `after` starts at field 3 (state): utime (14) is index 11, stime (15) index 12.
    let hz = 100.0; // USER_HZ, 100 on Linux
    (ticks(11) + ticks(12)) / hz
}

pub fn reconciles(operator: &OperatorProcess, kind: &str) -> f64 {
    operator
        .metric(&format!(
            "obbackup_reconcile_duration_seconds_count{{controller=\"{kind}\"}}"
        ))
        .unwrap_or(0.0)
}

pub fn round_trips(operator: &OperatorProcess) -> f64 {
    operator
        .samples("obbackup_sql_round_trips_total")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// When the operator's last cache synced, from its log (milliseconds after start).
pub fn cache_sync_ms(operator: &OperatorProcess) -> Option<u64> {
    operator
        .log_text()
        .lines()
        .filter(|l| l.contains("cache synced"))
        .filter_map(|l| {
            // The text log colours its field names: drop the escape sequences first.
            let plain = strip_ansi(l);
            let at = plain.split("after_ms=").nth(1)?;
            at.split_whitespace().next()?.parse().ok()
        })
        .max()
}

/// `text` without ANSI colour sequences (ESC `[` … `m`).
fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    plain
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}
