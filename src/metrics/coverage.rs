//! The tenants no strategy covers (docs/reference/metrics.md): one series per such tenant, set by the
//! strategy that reports its cluster's (docs/guide/cluster-overview.md). The chart's
//! `OBBackupTenantWithoutStrategy` alert reads it.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus_client::{encoding::EncodeLabelSet, metrics::family::Family, metrics::gauge::Gauge};

/// Labels of a tenant without a strategy: the strategy that reports it, its cluster and the tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UncoveredLabels {
    pub namespace: String,
    pub strategy: String,
    pub cluster: String,
    pub tenant: String,
}

/// The series, and the tenants each strategy set it for.
#[derive(Default)]
pub struct CoverageSeries {
    without_strategy: Family<UncoveredLabels, Gauge>,
    recorded: Mutex<HashMap<(String, String), Vec<UncoveredLabels>>>,
}

impl CoverageSeries {
    /// The family, with its name and help, for the registry.
    pub fn family(&self) -> (&'static str, &'static str, Family<UncoveredLabels, Gauge>) {
        (
            "tenant_without_strategy",
            "1 for each tenant of a cluster that no BackupStrategy covers or ignores (the console's No Backup Strategy)",
            self.without_strategy.clone(),
        )
    }

    /// Sets a strategy's series to `tenants` of `cluster`, removing those it no longer reports.
    pub fn record(&self, namespace: &str, strategy: &str, cluster: &str, tenants: &[String]) {
        let labels: Vec<UncoveredLabels> = tenants
            .iter()
            .map(|tenant| UncoveredLabels {
                namespace: namespace.to_string(),
                strategy: strategy.to_string(),
                cluster: cluster.to_string(),
                tenant: tenant.clone(),
            })
            .collect();
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        let key = (namespace.to_string(), strategy.to_string());
        for gone in recorded.get(&key).into_iter().flatten() {
            if !labels.contains(gone) {
                self.without_strategy.remove(gone);
            }
        }
        for series in &labels {
            self.without_strategy.get_or_create(series).set(1);
        }
        if labels.is_empty() {
            recorded.remove(&key);
        } else {
            recorded.insert(key, labels);
        }
    }

    /// Removes every series of a strategy.
    pub fn forget(&self, namespace: &str, strategy: &str) {
        self.record(namespace, strategy, "", &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strategy_s_series_follow_its_report_and_go_with_it() {
        let series = CoverageSeries::default();
        let tenants = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        series.record("prod", "a", "ob", &tenants(&["t1", "t2"]));
        series.record("prod", "a", "ob", &tenants(&["t2"]));
        let labels = |tenant: &str| UncoveredLabels {
            namespace: "prod".into(),
            strategy: "a".into(),
            cluster: "ob".into(),
            tenant: tenant.into(),
        };
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        let (name, help, family) = series.family();
        registry.register(name, help, family);
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encoded");
        assert!(text.contains("tenant=\"t2\""), "{text}");
        assert!(!text.contains("tenant=\"t1\""), "{text}");
        assert_eq!(
            series.without_strategy.get_or_create(&labels("t2")).get(),
            1
        );
        series.forget("prod", "a");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encoded");
        assert!(!text.contains("tenant=\"t2\""), "{text}");
    }
}
