//! The restore drills' series (docs/reference/metrics.md): per drilled tenant, when its last drill and last
//! passed drill ended, whether the last passed, the declared maximum age, and the last drill's restore
//! duration and measured recovery point. The chart's drill alerts read them.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus_client::{encoding::EncodeLabelSet, metrics::family::Family, metrics::gauge::Gauge};

use crate::api::drill::{DrillVerdict, TenantDrills};

/// Labels of a drilled tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DrillLabels {
    pub namespace: String,
    pub strategy: String,
    pub tenant: String,
}

/// The drills' gauges, and the tenants each strategy set them for.
#[derive(Default)]
pub struct DrillSeries {
    last_passed_at: Family<DrillLabels, Gauge>,
    last_run_at: Family<DrillLabels, Gauge>,
    last_passed: Family<DrillLabels, Gauge>,
    max_age: Family<DrillLabels, Gauge>,
    restore_seconds: Family<DrillLabels, Gauge>,
    lag_seconds: Family<DrillLabels, Gauge>,
    recorded: Mutex<HashMap<(String, String), Vec<String>>>,
}

impl DrillSeries {
    /// The six series, with their names and help, for the registry.
    pub fn families(&self) -> [(&'static str, &'static str, Family<DrillLabels, Gauge>); 6] {
        [
            (
                "restore_drill_last_passed_timestamp_seconds",
                "When the tenant's last passed restore drill ended (Unix seconds)",
                self.last_passed_at.clone(),
            ),
            (
                "restore_drill_last_run_timestamp_seconds",
                "When the tenant's last finished restore drill ended, passed or failed (Unix seconds)",
                self.last_run_at.clone(),
            ),
            (
                "restore_drill_last_passed",
                "1 if the tenant's last finished restore drill passed, 0 if it failed",
                self.last_passed.clone(),
            ),
            (
                "restore_drill_max_age_seconds",
                "restoreDrill.maxAge: how long the tenant may go without a passed drill (seconds)",
                self.max_age.clone(),
            ),
            (
                "restore_drill_restore_seconds",
                "How long the last drill's restore took (seconds)",
                self.restore_seconds.clone(),
            ),
            (
                "restore_drill_lag_seconds",
                "The last drill's measured recovery point: seconds between the point restored to and the newest write found",
                self.lag_seconds.clone(),
            ),
        ]
    }

    /// Sets the series of a strategy's drilled tenants and removes those of tenants it no longer drills.
    pub fn record(&self, namespace: &str, strategy: &str, lines: &[TenantDrills], max_age: i64) {
        let key = (namespace.to_string(), strategy.to_string());
        let labels = |tenant: &str| DrillLabels {
            namespace: namespace.to_string(),
            strategy: strategy.to_string(),
            tenant: tenant.to_string(),
        };
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        for gone in recorded.get(&key).into_iter().flatten() {
            if !lines.iter().any(|l| &l.name == gone) {
                self.remove(&labels(gone));
            }
        }
        for line in lines {
            self.set(&labels(&line.name), line, max_age);
        }
        recorded.insert(key, lines.iter().map(|l| l.name.clone()).collect());
    }

    /// Removes every series of a strategy.
    pub fn forget(&self, namespace: &str, strategy: &str) {
        self.record(namespace, strategy, &[], 0);
        let key = (namespace.to_string(), strategy.to_string());
        self.recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }

    fn set(&self, labels: &DrillLabels, line: &TenantDrills, max_age: i64) {
        self.max_age.get_or_create(labels).set(max_age);
        let ended =
            |s: &crate::api::drill::DrillSummary| s.ended_at.as_ref().map(|t| t.0.as_second());
        if let Some(at) = line.last_passed.as_ref().and_then(ended) {
            self.last_passed_at.get_or_create(labels).set(at);
        }
        let Some(last) = &line.last else { return };
        if let Some(at) = ended(last) {
            self.last_run_at.get_or_create(labels).set(at);
        }
        let passed = i64::from(last.verdict == DrillVerdict::Passed);
        self.last_passed.get_or_create(labels).set(passed);
        if let Some(seconds) = last.restore_seconds {
            self.restore_seconds.get_or_create(labels).set(seconds);
        }
        if let Some(seconds) = last.lag_seconds {
            self.lag_seconds.get_or_create(labels).set(seconds);
        }
    }

    fn remove(&self, labels: &DrillLabels) {
        for family in [
            &self.last_passed_at,
            &self.last_run_at,
            &self.last_passed,
            &self.max_age,
            &self.restore_seconds,
            &self.lag_seconds,
        ] {
            family.remove(labels);
        }
    }
}
