//! Prometheus metrics (prefix `obbackup_`), registered once at start and served on `/metrics`.

pub mod coverage;
pub mod drills;

use std::{collections::HashMap, time::Instant};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        MetricType, TypedMetric, counter::Counter, family::Family, gauge::Gauge,
        histogram::Histogram,
    },
    registry::Registry,
};

/// (namespace, strategy name).
type StrategyKey = (String, String);
/// (cluster, tenants) a strategy's overview series were set for.
type RecordedTenants = (String, Vec<String>);

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The kind the controller reconciles, e.g. `BackupTask`.
    pub controller: String,
}

/// Labels of a failed reconcile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The kind the controller reconciles.
    pub controller: String,
    /// The error's reason, e.g. `KubeApi`.
    pub reason: String,
}

/// Labels naming an OceanBase cluster (its display name and the namespace of its objects).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub namespace: String,
    pub cluster: String,
}

/// Labels naming a tenant of a cluster.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub namespace: String,
    pub cluster: String,
    pub tenant: String,
}

/// Labels naming a tenant as one strategy backs it up: each strategy covering a tenant (a physical and a
/// logical one, two logical ones) has series of its own, and removes only those.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StrategyTenantLabels {
    pub namespace: String,
    pub cluster: String,
    pub tenant: String,
    pub strategy: String,
}

/// The labels of `tenant` of `cluster` as `strategy` of `namespace` backs it up.
pub fn strategy_tenant(
    namespace: &str,
    cluster: &str,
    tenant: &str,
    strategy: &str,
) -> StrategyTenantLabels {
    StrategyTenantLabels {
        namespace: namespace.into(),
        cluster: cluster.into(),
        tenant: tenant.into(),
        strategy: strategy.into(),
    }
}

/// Labels of a tenant's backup mode.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackupModeLabels {
    pub namespace: String,
    pub cluster: String,
    pub tenant: String,
    /// `Full` or `Incremental`.
    pub mode: String,
}

/// Labels of a tenant's backup storage.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageLabels {
    pub namespace: String,
    pub cluster: String,
    pub tenant: String,
    /// `data` or `log`.
    pub kind: String,
    /// The strategy whose destinations hold them.
    pub strategy: String,
}

/// Labels naming a strategy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StrategyLabels {
    pub namespace: String,
    pub strategy: String,
}

/// Labels of a phase count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub kind: String,
    pub phase: String,
}

/// Every metric the operator exports.
/// Labels of a finished task: its namespace, kind and final phase.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub namespace: String,
    pub kind: String,
    pub phase: String,
}

/// Labels of a per-kind count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// Labels of a count of stalled objects: their kind and the reason their `Stalled` condition gives.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StalledLabels {
    pub kind: String,
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    /// SQL statements and queries sent, per cluster.
    pub sql_round_trips: Family<ClusterLabels, Counter>,
    /// Of those, the ones that failed.
    pub sql_errors: Family<ClusterLabels, Counter>,
    /// 1 while the cluster answers, 0 while it cannot be reached.
    pub cluster_reachable: Family<ClusterLabels, Gauge>,
    /// Log archive delay (now − checkpoint) per tenant with archiving DOING.
    pub log_backup_delay: Family<TenantLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Each archiving tenant's LogBackup `delayAlertThreshold`, in seconds (the delay alert compares per tenant).
    pub log_backup_delay_threshold: Family<TenantLabels, Gauge>,
    /// How far each tenant's second log copy is behind its first log destination, in seconds.
    pub second_log_copy_delay: Family<TenantLabels, Gauge>,
    /// Objects of a tenant's backup sets found damaged or lost on the second destination and copied again.
    pub second_copy_repaired: Family<TenantLabels, Counter>,
    /// 1 while a tenant's archive round is INTERRUPTED, 0 while it runs otherwise.
    pub log_archive_interrupted: Family<TenantLabels, Gauge>,
    /// End time of the newest successful backup set per tenant and mode, in Unix seconds.
    pub last_successful_backup: Family<BackupModeLabels, Gauge>,
    /// Objects per kind and phase.
    pub phases: Family<PhaseLabels, Gauge>,
    /// Tasks that reached Completed, Failed or Canceled.
    pub tasks_finished: Family<OutcomeLabels, Counter>,
    /// Objects whose `Progressing` condition is False (a backup without progress).
    pub not_progressing: Family<KindLabels, Gauge>,
    /// Objects whose `Stalled` condition is True, by kind and reason.
    pub stalled: Family<StalledLabels, Gauge>,
    /// Objects the cluster observers watch, per kind (what every read looks for; deleted objects leave it).
    pub watched_objects: Family<KindLabels, Gauge>,
    /// Objects in this replica's caches, per kind.
    pub cached_objects: Family<KindLabels, Gauge>,
    /// Each tenant's backups on the strategy's destinations: newest recoverable window and bytes.
    pub first_copy: CopySeries,
    /// The same for the strategy's second copy (series named `second_…`).
    pub second_copy: CopySeries,
    /// When the newest dump a logical strategy keeps of each tenant has its data as of (Unix seconds).
    pub last_dump: Family<StrategyTenantLabels, Gauge>,
    /// The next scheduled data backup of each strategy (Unix seconds).
    pub next_backup: Family<StrategyLabels, Gauge>,
    /// The restore drills of each drilled tenant.
    pub drills: drills::DrillSeries,
    /// The tenants no strategy covers.
    pub coverage: coverage::CoverageSeries,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram>,
    status_writes: Family<ControllerLabels, Counter>,
    leader: Gauge,
    shards_held: Gauge,
    shards_filled: Gauge,
    status_freshness: Gauge,
    names: Vec<String>,
    /// Per (namespace, strategy): the cluster and tenants its overview series were set for.
    strategy_series: std::sync::Mutex<HashMap<StrategyKey, RecordedTenants>>,
}

/// Registers `metric` as `obbackup_<name>` and records the sample names it exports (a counter's with
/// `_total`, a histogram's `_bucket`, `_sum` and `_count`).
fn add<M>(registry: &mut Registry, names: &mut Vec<String>, name: &str, help: &str, metric: M)
where
    M: prometheus_client::registry::Metric + TypedMetric,
{
    let full = format!("obbackup_{name}");
    match M::TYPE {
        MetricType::Counter => names.push(format!("{full}_total")),
        MetricType::Histogram => {
            names.extend(["_bucket", "_sum", "_count"].map(|s| format!("{full}{s}")));
        }
        _ => names.push(full),
    }
    registry.register(name, help, metric);
}

/// One copy of each tenant's backups as series: the start and end of its newest recoverable window (Unix
/// seconds) and its bytes in backup sets (`kind=data`) and archived logs (`kind=log`).
#[derive(Clone, Debug, Default)]
pub struct CopySeries {
    window_start: Family<StrategyTenantLabels, Gauge>,
    window_end: Family<StrategyTenantLabels, Gauge>,
    storage_bytes: Family<StorageLabels, Gauge>,
}

impl CopySeries {
    /// Registers the three series as `obbackup_<prefix>recoverable_window_{start,end}_timestamp_seconds`
    /// and `obbackup_<prefix>backup_storage_bytes`, described as of `what`.
    fn register(
        registry: &mut Registry,
        names: &mut Vec<String>,
        prefix: &str,
        what: &str,
    ) -> Self {
        let series = Self::default();
        for (edge, family) in [("start", &series.window_start), ("end", &series.window_end)] {
            add(
                registry,
                names,
                &format!("{prefix}recoverable_window_{edge}_timestamp_seconds"),
                &format!("{edge} of the newest recoverable window of {what} (Unix seconds)"),
                family.clone(),
            );
        }
        add(
            registry,
            names,
            &format!("{prefix}backup_storage_bytes"),
            &format!(
                "Bytes in backup sets or dumps (kind=data) and archived logs (kind=log) of {what}"
            ),
            series.storage_bytes.clone(),
        );
        series
    }

    /// Sets a tenant's series: its newest window `(from, to)` in Unix seconds, if any, and its bytes.
    pub fn record(
        &self,
        tenant: &StrategyTenantLabels,
        window: Option<(i64, i64)>,
        data: Option<i64>,
        log: Option<i64>,
    ) {
        if let Some((from, to)) = window {
            self.window_start.get_or_create(tenant).set(from);
            self.window_end.get_or_create(tenant).set(to);
        }
        for (kind, bytes) in [("data", data), ("log", log)] {
            if let Some(bytes) = bytes {
                self.storage_bytes
                    .get_or_create(&Self::storage(tenant, kind))
                    .set(bytes);
            }
        }
    }

    fn remove(&self, tenant: &StrategyTenantLabels) {
        self.window_start.remove(tenant);
        self.window_end.remove(tenant);
        for kind in ["data", "log"] {
            self.storage_bytes.remove(&Self::storage(tenant, kind));
        }
    }

    fn storage(tenant: &StrategyTenantLabels, kind: &str) -> StorageLabels {
        StorageLabels {
            namespace: tenant.namespace.clone(),
            cluster: tenant.cluster.clone(),
            tenant: tenant.tenant.clone(),
            kind: kind.into(),
            strategy: tenant.strategy.clone(),
        }
    }
}

/// The registry under construction, and the sample names it exports.
struct Registrar {
    registry: Registry,
    names: Vec<String>,
}

impl Registrar {
    fn new() -> Self {
        Self {
            registry: Registry::with_prefix("obbackup"),
            names: Vec::new(),
        }
    }

    /// Registers `metric` (see [`add`]) and returns it, to be kept and updated.
    fn add<M>(&mut self, name: &str, help: &str, metric: M) -> M
    where
        M: prometheus_client::registry::Metric + TypedMetric + Clone,
    {
        add(
            &mut self.registry,
            &mut self.names,
            name,
            help,
            metric.clone(),
        );
        metric
    }
}

/// The operator's own series: its reconciles, their errors and durations, its status writes, its leadership.
struct OperatorSeries {
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Family<ControllerLabels, Histogram>,
    status_writes: Family<ControllerLabels, Counter>,
    leader: Gauge,
    shards_held: Gauge,
    shards_filled: Gauge,
    status_freshness: Gauge,
}

impl OperatorSeries {
    /// Registers the group's series, in the order they are exposed.
    fn register(r: &mut Registrar) -> Self {
        Self {
            reconciles: r.add(
                "reconcile",
                "Reconciles run, per controller",
                Family::<ControllerLabels, Counter>::default(),
            ),
            reconcile_errors: r.add(
                "reconcile_errors",
                "Reconciles that failed, per controller and error reason",
                Family::<ErrorLabels, Counter>::default(),
            ),
            reconcile_duration: r.add(
                "reconcile_duration_seconds",
                "Time spent in one reconcile, per controller",
                Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
                    Histogram::new([
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ])
                }),
            ),
            status_writes: r.add(
                "status_writes",
                "Status updates sent to the Kubernetes API, per controller",
                Family::<ControllerLabels, Counter>::default(),
            ),
            leader: r.add(
                "leader",
                "1 while this replica holds the leader lease (with shards: the lease of at least one shard)",
                Gauge::default(),
            ),
            shards_held: r.add(
                "shards_held",
                "The shards whose lease this replica holds (it reconciles their namespaces' objects)",
                Gauge::default(),
            ),
            shards_filled: r.add(
                "shards_filled",
                "The shards held whose tasks this replica has cached: it reconciles their objects (fewer than \
                 obbackup_shards_held while a shard just taken is listed)",
                Gauge::default(),
            ),
            status_freshness: r.add(
                "status_freshness_seconds",
                "How far log checkpoints and delays shown in status may trail OceanBase's: 60, or longer when \
                 more objects archive than the write budget affords a status write a minute each",
                Gauge::default(),
            ),
        }
    }
}

/// Per cluster: the SQL sent to it and whether it answers.
struct ClusterSeries {
    sql_round_trips: Family<ClusterLabels, Counter>,
    sql_errors: Family<ClusterLabels, Counter>,
    cluster_reachable: Family<ClusterLabels, Gauge>,
}

impl ClusterSeries {
    /// Registers the group's series, in the order they are exposed.
    fn register(r: &mut Registrar) -> Self {
        Self {
            sql_round_trips: r.add(
                "sql_round_trips",
                "SQL queries and statements sent to OceanBase, per cluster",
                Family::<ClusterLabels, Counter>::default(),
            ),
            sql_errors: r.add(
                "sql_errors",
                "SQL round trips that failed (unreachable, refused, timed out), per cluster",
                Family::<ClusterLabels, Counter>::default(),
            ),
            cluster_reachable: r.add(
                "cluster_reachable",
                "1 while the cluster's sys tenant answers, 0 while it cannot be reached",
                Family::<ClusterLabels, Gauge>::default(),
            ),
        }
    }
}

/// Per tenant: its log archiving, its second copy and its newest backups.
struct TenantSeries {
    log_backup_delay: Family<TenantLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    log_backup_delay_threshold: Family<TenantLabels, Gauge>,
    second_log_copy_delay: Family<TenantLabels, Gauge>,
    second_copy_repaired: Family<TenantLabels, Counter>,
    log_archive_interrupted: Family<TenantLabels, Gauge>,
    last_successful_backup: Family<BackupModeLabels, Gauge>,
}

impl TenantSeries {
    /// Registers the group's series, in the order they are exposed.
    fn register(r: &mut Registrar) -> Self {
        Self {
            log_backup_delay: r.add(
                "log_backup_delay_seconds",
                "Log archive delay (now minus the archive checkpoint) per tenant while archiving is meant to run",
                Family::<TenantLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default(),
            ),
            log_backup_delay_threshold: r.add(
                "log_backup_delay_threshold_seconds",
                "The delayAlertThreshold of the LogBackup archiving each tenant",
                Family::<TenantLabels, Gauge>::default(),
            ),
            second_log_copy_delay: r.add(
                "second_log_copy_delay_seconds",
                "How far the second copy of a tenant's archive is behind its first log destination",
                Family::<TenantLabels, Gauge>::default(),
            ),
            second_copy_repaired: r.add(
                "second_copy_repaired_objects",
                "Objects of a tenant's backup sets found damaged or lost on the second destination and copied again",
                Family::<TenantLabels, Counter>::default(),
            ),
            log_archive_interrupted: r.add(
                "log_archive_interrupted",
                "1 while a tenant's archive round is INTERRUPTED",
                Family::<TenantLabels, Gauge>::default(),
            ),
            last_successful_backup: r.add(
                "last_successful_backup_timestamp_seconds",
                "End of the newest successful, available backup set per tenant and mode (Unix seconds)",
                Family::<BackupModeLabels, Gauge>::default(),
            ),
        }
    }
}

/// Per kind of object: their phases, the tasks finished, what the observers watch, what does not progress.
struct ObjectSeries {
    phases: Family<PhaseLabels, Gauge>,
    tasks_finished: Family<OutcomeLabels, Counter>,
    watched_objects: Family<KindLabels, Gauge>,
    cached_objects: Family<KindLabels, Gauge>,
    not_progressing: Family<KindLabels, Gauge>,
    stalled: Family<StalledLabels, Gauge>,
}

impl ObjectSeries {
    /// Registers the group's series, in the order they are exposed.
    fn register(r: &mut Registrar) -> Self {
        Self {
            phases: r.add(
                "objects",
                "Objects per kind and phase",
                Family::<PhaseLabels, Gauge>::default(),
            ),
            tasks_finished: r.add(
                "tasks_finished",
                "Tasks that reached a final phase (Completed, Failed, Canceled), by namespace, kind and phase",
                Family::<OutcomeLabels, Counter>::default(),
            ),
            watched_objects: r.add(
                "watched_objects",
                "Objects the cluster observers watch, per kind",
                Family::<KindLabels, Gauge>::default(),
            ),
            cached_objects: r.add(
                "cached_objects",
                "Objects in this replica's caches, per kind (with shards, only its own shards' BackupTasks and those without a shard label)",
                Family::<KindLabels, Gauge>::default(),
            ),
            not_progressing: r.add(
                "objects_not_progressing",
                "Objects whose Progressing condition is False (a running backup without progress), by kind",
                Family::<KindLabels, Gauge>::default(),
            ),
            stalled: r.add(
                "objects_stalled",
                "Objects whose Stalled condition is True, by kind and reason (the condition's message says what \
                 to fix)",
                Family::<StalledLabels, Gauge>::default(),
            ),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registrar::new();
        let operator = OperatorSeries::register(&mut r);
        let cluster = ClusterSeries::register(&mut r);
        let tenant = TenantSeries::register(&mut r);
        let objects = ObjectSeries::register(&mut r);
        let first_copy =
            CopySeries::register(&mut r.registry, &mut r.names, "", "the tenant's backups");
        let second_copy = CopySeries::register(
            &mut r.registry,
            &mut r.names,
            "second_",
            "the tenant's second copy (what a restore from it alone can reach)",
        );
        let last_dump = r.add(
            "last_dump_timestamp_seconds",
            "When the newest dump a logical strategy keeps of the tenant has its data as of (Unix seconds)",
            Family::<StrategyTenantLabels, Gauge>::default(),
        );
        let next_backup = r.add(
            "next_backup_timestamp_seconds",
            "When the strategy's next scheduled data backup is due (Unix seconds)",
            Family::<StrategyLabels, Gauge>::default(),
        );
        let drills = drills::DrillSeries::default();
        for (name, help, family) in drills.families() {
            r.add(name, help, family);
        }
        let coverage = coverage::CoverageSeries::default();
        let (name, help, family) = coverage.family();
        r.add(name, help, family);
        Self {
            registry: r.registry,
            names: r.names,
            strategy_series: std::sync::Mutex::default(),
            first_copy,
            second_copy,
            last_dump,
            next_backup,
            drills,
            coverage,
            reconciles: operator.reconciles,
            reconcile_errors: operator.reconcile_errors,
            reconcile_duration: operator.reconcile_duration,
            status_writes: operator.status_writes,
            leader: operator.leader,
            shards_held: operator.shards_held,
            shards_filled: operator.shards_filled,
            status_freshness: operator.status_freshness,
            sql_round_trips: cluster.sql_round_trips,
            sql_errors: cluster.sql_errors,
            cluster_reachable: cluster.cluster_reachable,
            log_backup_delay: tenant.log_backup_delay,
            log_backup_delay_threshold: tenant.log_backup_delay_threshold,
            second_log_copy_delay: tenant.second_log_copy_delay,
            second_copy_repaired: tenant.second_copy_repaired,
            log_archive_interrupted: tenant.log_archive_interrupted,
            last_successful_backup: tenant.last_successful_backup,
            phases: objects.phases,
            tasks_finished: objects.tasks_finished,
            watched_objects: objects.watched_objects,
            cached_objects: objects.cached_objects,
            not_progressing: objects.not_progressing,
            stalled: objects.stalled,
        }
    }
}

impl Metrics {
    /// Counts a reconcile and returns a guard that records its duration when dropped.
    pub fn reconcile_started(&self, controller: &str) -> ReconcileTimer {
        let labels = ControllerLabels {
            controller: controller.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer {
            histogram: self.reconcile_duration.get_or_create(&labels).clone(),
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile.
    pub fn reconcile_failed(&self, controller: &str, reason: crate::reason::Reason) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a status write.
    pub fn status_written(&self, controller: &str) {
        self.status_writes
            .get_or_create(&ControllerLabels {
                controller: controller.to_string(),
            })
            .inc();
    }

    /// Makes the finished-task counters of `namespace` exist at zero, every task kind and final phase, before
    /// any task there ends: Prometheus's `increase()` sees no increase in a series that first appears at 1,
    /// so without them the first failed task of a namespace would never fire `OBBackupTaskFailed` (found
    /// by tests/e2e/prometheus.rs against a real Prometheus).
    pub fn tasks_may_finish_in(&self, namespace: &str) {
        for kind in ["BackupTask", "CleanupTask", "RecoveryTask"] {
            for phase in ["Completed", "Failed", "Canceled"] {
                let _ = self.tasks_finished.get_or_create(&OutcomeLabels {
                    namespace: namespace.to_string(),
                    kind: kind.to_string(),
                    phase: phase.to_string(),
                });
            }
        }
    }

    /// Counts a task that reached a final phase.
    pub fn task_finished(&self, namespace: &str, kind: &str, phase: &str) {
        self.tasks_finished
            .get_or_create(&OutcomeLabels {
                namespace: namespace.to_string(),
                kind: kind.to_string(),
                phase: phase.to_string(),
            })
            .inc();
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Records how many shards this replica holds.
    pub fn set_shards_held(&self, held: usize) {
        self.shards_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// Records how many of the shards held have their tasks cached.
    pub fn set_shards_filled(&self, filled: usize) {
        self.shards_filled
            .set(i64::try_from(filled).unwrap_or(i64::MAX));
    }

    /// Records the freshness grain of log checkpoints and delays in status.
    pub fn set_status_freshness(&self, grain: jiff::SignedDuration) {
        self.status_freshness.set(grain.as_secs());
    }

    /// Remembers which tenants' overview series (recoverable window, storage, newest dump) a strategy set,
    /// on `cluster`, and removes those of the tenants it no longer covers: a tenant taken out of a strategy
    /// must not raise its alerts days later. Each strategy's series are its own (labelled with it), so what
    /// another strategy of the tenant set stays.
    pub fn strategy_recorded(
        &self,
        namespace: &str,
        strategy: &str,
        cluster: &str,
        tenants: Vec<String>,
    ) {
        let before = self
            .strategy_series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (namespace.into(), strategy.into()),
                (cluster.into(), tenants.clone()),
            );
        for (was, tenant) in before
            .iter()
            .flat_map(|(c, ts)| ts.iter().map(move |t| (c, t)))
            .filter(|(c, t)| *c != cluster || !tenants.contains(t))
        {
            self.forget_overview(&strategy_tenant(namespace, was, tenant, strategy));
        }
    }

    /// Removes the overview series a strategy set for a tenant.
    fn forget_overview(&self, labels: &StrategyTenantLabels) {
        self.first_copy.remove(labels);
        self.second_copy.remove(labels);
        self.last_dump.remove(labels);
    }

    /// Removes every series of the strategies `alive` says are gone: a deleted strategy gets no last
    /// reconcile, and its alerts must not fire days later.
    pub fn retain_strategies(&self, alive: impl Fn(&str, &str) -> bool) {
        let mut recorded = self
            .strategy_series
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        recorded.retain(|(namespace, strategy), (cluster, tenants)| {
            if alive(namespace, strategy) {
                return true;
            }
            self.next_backup.remove(&StrategyLabels {
                namespace: namespace.clone(),
                strategy: strategy.clone(),
            });
            self.drills.forget(namespace, strategy);
            self.coverage.forget(namespace, strategy);
            for tenant in tenants.iter() {
                self.forget_overview(&strategy_tenant(namespace, cluster, tenant, strategy));
            }
            false
        });
    }

    /// Every sample name the operator can export (for checking alert and dashboard expressions).
    pub fn sample_names(&self) -> &[String] {
        &self.names
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Records a reconcile's duration when dropped, whichever way the reconcile returns.
pub struct ReconcileTimer {
    histogram: Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_reconciles_errors_durations_and_leadership() {
        let metrics = Metrics::default();
        drop(metrics.reconcile_started("BackupTask"));
        metrics.reconcile_failed("BackupTask", crate::reason::Reason::KubeApi);
        metrics.status_written("BackupTask");
        metrics.set_leader(true);
        let text = metrics.render();
        assert!(
            text.contains(r#"obbackup_reconcile_total{controller="BackupTask"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"obbackup_reconcile_errors_total{controller="BackupTask",reason="KubeApi"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"obbackup_reconcile_duration_seconds_count{controller="BackupTask"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"obbackup_status_writes_total{controller="BackupTask"} 1"#),
            "{text}"
        );
        assert!(text.contains("obbackup_leader 1"), "{text}");
    }

    #[test]
    fn a_namespace_s_task_outcomes_are_counted_from_zero() {
        let metrics = Metrics::default();
        metrics.tasks_may_finish_in("ns");
        let text = metrics.render();
        assert!(
            text.contains(
                r#"obbackup_tasks_finished_total{namespace="ns",kind="BackupTask",phase="Failed"} 0"#
            ),
            "{text}"
        );
        metrics.task_finished("ns", "BackupTask", "Failed");
        metrics.tasks_may_finish_in("ns");
        assert!(metrics.render().contains(
            r#"obbackup_tasks_finished_total{namespace="ns",kind="BackupTask",phase="Failed"} 1"#
        ));
    }

    #[test]
    fn a_strategy_that_is_gone_leaves_none_of_its_series() {
        let metrics = Metrics::default();
        let tenant = strategy_tenant("ns", "ob", "t1", "demo");
        for copy in [&metrics.first_copy, &metrics.second_copy] {
            copy.record(&tenant, Some((1, 2)), Some(1), Some(1));
        }
        metrics.last_dump.get_or_create(&tenant).set(1);
        assert!(
            metrics
                .render()
                .contains("obbackup_second_backup_storage_bytes{")
        );
        metrics
            .next_backup
            .get_or_create(&StrategyLabels {
                namespace: "ns".into(),
                strategy: "demo".into(),
            })
            .set(1);
        metrics.strategy_recorded("ns", "demo", "ob", vec!["t1".into()]);
        assert!(metrics.render().contains(r#"strategy="demo""#));
        metrics.retain_strategies(|_, name| name != "demo");
        let text = metrics.render();
        assert!(
            !text.contains(r#"strategy="demo""#) && !text.contains(r#"tenant="t1""#),
            "{text}"
        );
    }

    /// A tenant backed up by three strategies (a physical one's windows and bytes; two logical ones' bytes
    /// and newest dumps, as with a daily and a weekly dump elsewhere): each has series of its own, and one
    /// that no longer covers the tenant removes its own only.
    #[test]
    fn a_tenant_taken_out_of_a_strategy_leaves_none_of_its_series_and_another_strategys_stay() {
        let metrics = Metrics::default();
        let strategies = [
            ("sets", Some((1, 2)), 10),
            ("daily", None, 30),
            ("weekly", None, 40),
        ];
        for tenant in ["t1", "t2"] {
            for (strategy, window, bytes) in strategies {
                let labels = strategy_tenant("ns", "ob", tenant, strategy);
                metrics
                    .first_copy
                    .record(&labels, window, Some(bytes), None);
                if window.is_none() {
                    metrics.last_dump.get_or_create(&labels).set(bytes);
                }
            }
        }
        for (strategy, _, _) in strategies {
            metrics.strategy_recorded("ns", strategy, "ob", vec!["t1".into(), "t2".into()]);
        }
        let data = |tenant: &str, strategy: &str, bytes: i64| {
            format!(
                r#"obbackup_backup_storage_bytes{{namespace="ns",cluster="ob",tenant="{tenant}",kind="data",strategy="{strategy}"}} {bytes}"#
            )
        };
        let text = metrics.render();
        for (strategy, _, bytes) in strategies {
            assert!(text.contains(&data("t2", strategy, bytes)), "{text}");
        }
        // The daily dumps no longer cover t2: their series of t2 go; the physical strategy's and the weekly
        // dumps' stay.
        metrics.strategy_recorded("ns", "daily", "ob", vec!["t1".into()]);
        let text = metrics.render();
        assert!(!text.contains(r#"tenant="t2",strategy="daily""#), "{text}");
        assert!(!text.contains(&data("t2", "daily", 30)), "{text}");
        for kept in [
            r#"obbackup_recoverable_window_end_timestamp_seconds{namespace="ns",cluster="ob",tenant="t2",strategy="sets"} 2"#.to_string(),
            data("t2", "sets", 10),
            data("t2", "weekly", 40),
            r#"obbackup_last_dump_timestamp_seconds{namespace="ns",cluster="ob",tenant="t2",strategy="weekly"} 40"#.to_string(),
            r#"obbackup_last_dump_timestamp_seconds{namespace="ns",cluster="ob",tenant="t1",strategy="daily"} 30"#.to_string(),
        ] {
            assert!(text.contains(&kept), "{kept} in {text}");
        }
        // Nor do the others: nothing of t2 is left.
        metrics.strategy_recorded("ns", "sets", "ob", vec!["t1".into()]);
        metrics.strategy_recorded("ns", "weekly", "ob", vec!["t1".into()]);
        assert!(!metrics.render().contains(r#"tenant="t2""#));
    }
}
