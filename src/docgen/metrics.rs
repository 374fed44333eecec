//! The metrics table of `docs/reference/metrics.md`, rendered from the operator's own registry:
//! each family is given one sample so that the rendered text shows its labels, and the table lists
//! name, type, labels and help as `/metrics` serves them.

use crate::reason::Reason;
use std::collections::BTreeMap;

use super::{cell, check_block};
use crate::metrics::{
    BackupModeLabels, ClusterLabels, KindLabels, Metrics, PhaseLabels, StalledLabels,
    StrategyLabels, TenantLabels,
};

/// One sample in every family.
fn populated() -> Metrics {
    let metrics = Metrics::default();
    let cluster = ClusterLabels {
        namespace: "n".into(),
        cluster: "c".into(),
    };
    let tenant = TenantLabels {
        namespace: "n".into(),
        cluster: "c".into(),
        tenant: "t".into(),
    };
    let kind = KindLabels { kind: "k".into() };
    drop(metrics.reconcile_started("BackupTask"));
    metrics.reconcile_failed("BackupTask", Reason::KubeApi);
    metrics.status_written("BackupTask");
    metrics.set_leader(true);
    metrics.task_finished("n", "BackupTask", "Completed");
    metrics.sql_round_trips.get_or_create(&cluster).inc();
    metrics.sql_errors.get_or_create(&cluster).inc();
    metrics.cluster_reachable.get_or_create(&cluster).set(1);
    metrics.log_backup_delay.get_or_create(&tenant).set(1.0);
    metrics
        .log_backup_delay_threshold
        .get_or_create(&tenant)
        .set(1);
    metrics.second_log_copy_delay.get_or_create(&tenant).set(1);
    metrics.second_copy_repaired.get_or_create(&tenant).inc();
    metrics
        .log_archive_interrupted
        .get_or_create(&tenant)
        .set(1);
    metrics
        .last_successful_backup
        .get_or_create(&BackupModeLabels {
            namespace: "n".into(),
            cluster: "c".into(),
            tenant: "t".into(),
            mode: "Full".into(),
        })
        .set(1);
    metrics
        .phases
        .get_or_create(&PhaseLabels {
            kind: "k".into(),
            phase: "p".into(),
        })
        .set(1);
    metrics.not_progressing.get_or_create(&kind).set(1);
    metrics
        .stalled
        .get_or_create(&StalledLabels {
            kind: "k".into(),
            reason: "r".into(),
        })
        .set(1);
    metrics.watched_objects.get_or_create(&kind).set(1);
    metrics.cached_objects.get_or_create(&kind).set(1);
    let of_strategy = crate::metrics::strategy_tenant("n", "c", "t", "s");
    for copy in [&metrics.first_copy, &metrics.second_copy] {
        copy.record(&of_strategy, Some((1, 2)), Some(1), Some(1));
    }
    metrics.last_dump.get_or_create(&of_strategy).set(1);
    metrics
        .next_backup
        .get_or_create(&StrategyLabels {
            namespace: "n".into(),
            strategy: "s".into(),
        })
        .set(1);
    let drilled = crate::api::drill::TenantDrills {
        name: "t".into(),
        last: Some(drill_summary()),
        last_passed: Some(drill_summary()),
    };
    metrics.drills.record("n", "s", &[drilled], 1);
    metrics.coverage.record("n", "s", "c", &["t".to_string()]);
    metrics
}

/// A passed drill with every figure, for [`populated`].
fn drill_summary() -> crate::api::drill::DrillSummary {
    let at = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH);
    crate::api::drill::DrillSummary {
        task: "d".into(),
        verdict: crate::api::drill::DrillVerdict::Passed,
        ended_at: Some(at.clone()),
        recovery_time: Some(at),
        restore_seconds: Some(1),
        lag_seconds: Some(1),
        message: None,
    }
}

/// A family as `/metrics` describes it.
#[derive(Default)]
struct Family {
    kind: String,
    help: String,
    samples: Vec<String>,
    labels: Vec<String>,
}

/// The families of the OpenMetrics text, by name.
fn families(text: &str) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            families.entry(name.into()).or_default().help = help.into();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            families.entry(name.into()).or_default().kind = kind.into();
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let sample = &line[..name_end];
            let Some((_, entry)) = families
                .iter_mut()
                .filter(|(name, _)| sample.starts_with(name.as_str()))
                .max_by_key(|(name, _)| name.len())
            else {
                panic!("a sample of no family: {line}");
            };
            if !entry.samples.iter().any(|s| s == sample) {
                entry.samples.push(sample.into());
            }
            let labels = line[name_end..]
                .strip_prefix('{')
                .and_then(|l| l.split_once('}'))
                .map(|(l, _)| l)
                .unwrap_or_default();
            for label in labels.split(',').filter_map(|l| l.split_once('=')) {
                let name = label.0.to_string();
                if name != "le" && !entry.labels.contains(&name) {
                    entry.labels.push(name);
                }
            }
        }
    }
    families
}

fn table() -> String {
    let text = populated().render();
    let mut out =
        String::from("| metric | type | labels | what it counts |\n| --- | --- | --- | --- |\n");
    for (name, family) in families(&text) {
        assert!(
            !family.samples.is_empty(),
            "{name} has no sample: give it one in docgen::metrics::populated, so that its labels are known"
        );
        // A histogram's samples are its name with `_bucket`, `_sum` and `_count`.
        let samples: Vec<String> = if family.kind == "histogram" {
            vec![format!("`{name}` (`_bucket`, `_sum`, `_count`)")]
        } else {
            family.samples.iter().map(|s| format!("`{s}`")).collect()
        };
        let labels: Vec<String> = family.labels.iter().map(|l| format!("`{l}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            samples.join("<br>"),
            family.kind,
            if labels.is_empty() {
                "—".into()
            } else {
                labels.join(", ")
            },
            cell(&family.help)
        ));
    }
    out
}

mod tests {
    use super::*;

    #[test]
    fn the_metrics_reference_lists_every_metric_the_operator_exports() {
        let table = table();
        let exported = Metrics::default();
        for name in exported.sample_names() {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(
                table.contains(&format!("`{name}`")) || table.contains(&format!("`{family}`")),
                "{name} is exported but not in the table"
            );
        }
        check_block("docs/reference/metrics.md", "metrics", &table);
    }

    #[test]
    fn a_family_is_read_with_its_samples_and_labels() {
        let text = "# HELP x_seconds How long.\n# TYPE x_seconds histogram\n\
                    x_seconds_bucket{controller=\"a\",le=\"1.0\"} 1\nx_seconds_count{controller=\"a\"} 1\n";
        let families = families(text);
        let family = &families["x_seconds"];
        assert_eq!(family.samples, ["x_seconds_bucket", "x_seconds_count"]);
        assert_eq!(family.labels, ["controller"]);
        assert_eq!(family.kind, "histogram");
    }
}
