//! What a restore drill run is, as an object (docs/guide/restore-drills.md): the RecoveryTask a strategy's
//! schedule (or `kubectl obbackup drill run`) creates for one tenant, its name, the scratch tenant it
//! restores into and the point it restores to. Pure: the strategy's controller and the plugin build the same
//! object from the same inputs, so a run made twice is one object.

pub mod checks;

use jiff::Timestamp;
use kube::{Resource, ResourceExt};

use crate::{
    api::{
        BackupStrategy, BackupTask, BackupTaskPhase, RecoveryTask, RecoveryTaskSpec,
        backup_strategy::BackupMethod,
        common::{ClusterConnection, StrategyReference},
        drill::{DrillPoint, DrillRun, RestoreDrill},
        logical::LogicalRecoveryTarget,
        recovery_task::{RecoveryPoint, RecoverySource, RecoveryTarget},
    },
    windows::{
        Window,
        drill::{PointChoice, drill_point},
    },
};

/// Label on a drill's RecoveryTask: the tenant it drills (with the strategy label, which lists a
/// strategy's drills).
pub const DRILL_TENANT_LABEL: &str = "obbackup.dev/drill-tenant";
/// Annotation on a drill's RecoveryTask: the time the run was scheduled (or asked) for, RFC 3339.
pub const DRILL_AT: &str = "obbackup.dev/drill-at";
use crate::names::STRATEGY_LABEL;
pub use crate::names::{SCRATCH_PREFIX, is_scratch};

/// Who asked for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// The drill's schedule, for its scheduled time.
    Schedule,
    /// A user, now (`kubectl obbackup drill run`).
    Manual,
}

/// The name of the drill run of `tenant` at `at`: `<strategy>-<tenant>-drill-<stamp>` (`drill-now-` when
/// asked by hand), derived from the time so that one run is one object however often it is made.
pub fn task_name(strategy: &str, tenant: &str, at: Timestamp, asked: Asked) -> String {
    let stamp = at.strftime("%Y%m%d-%H%M%S").to_string();
    let kind = match asked {
        Asked::Schedule => "drill",
        Asked::Manual => "drill-now",
    };
    crate::names::child_name(strategy, tenant, &format!("{kind}-{stamp}"))
}

/// The scratch tenant of `owner`'s run of `tenant` at `at`: `drill_<tenant>_<stamp>_<owner hash>`, within
/// OceanBase's 64 characters. `owner` (the strategy's namespace and name) keeps apart the drills of two
/// strategies — of two clusters with a tenant of the same name — run at the same second into one target;
/// a long tenant name is cut and a short hash of it keeps two such names apart.
pub fn scratch_tenant(owner: &str, tenant: &str, at: Timestamp) -> String {
    const ROOM: usize = 32;
    let stamp = at.strftime("%Y%m%d%H%M%S").to_string();
    let lower = tenant.to_ascii_lowercase();
    let short = if lower.len() <= ROOM {
        lower
    } else {
        format!("{}{:04x}", &lower[..ROOM - 4], short_hash(&lower))
    };
    format!("{SCRATCH_PREFIX}{short}_{stamp}_{:04x}", short_hash(owner))
}

/// 16 bits of FNV-1a: the same text, the same hash, on every run and every machine.
fn short_hash(text: &str) -> u64 {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash & 0xffff
}

/// Whose drills a strategy's are: its namespace and name.
fn owner_of(strategy: &BackupStrategy) -> String {
    format!(
        "{}/{}",
        strategy.namespace().unwrap_or_default(),
        strategy.name_any()
    )
}

/// The point a run restores to: the newest point, or for `Random` an SCN of the tenant's windows chosen by
/// the run's name (the same name chooses the same point).
pub fn point(drill: &RestoreDrill, windows: &[Window], name: &str) -> RecoveryPoint {
    let latest = RecoveryPoint {
        time: None,
        scn: None,
        latest: Some(true),
    };
    if drill.point == DrillPoint::Latest {
        return latest;
    }
    match drill_point(windows, PointChoice::Random, name).and_then(|s| i64::try_from(s).ok()) {
        Some(scn) => RecoveryPoint {
            time: None,
            scn: Some(scn),
            latest: None,
        },
        // No window: the restore's own pre-flight says so.
        None => latest,
    }
}

/// Whether `task` is a Completed logical dump of `strategy` (scheduled by it, or a "Back up Now" naming it).
pub fn is_dump_of(strategy: &BackupStrategy, task: &BackupTask) -> bool {
    let name = strategy.name_any();
    let of_strategy = task.labels().get(STRATEGY_LABEL) == Some(&name)
        || task
            .spec
            .strategy_ref
            .as_ref()
            .is_some_and(|r| r.name == name);
    of_strategy
        && task.spec.method == BackupMethod::Logical
        && task.status.as_ref().and_then(|s| s.phase) == Some(BackupTaskPhase::Completed)
}

/// A logical strategy's newest Completed dump of each tenant among `tasks`, as (tenant, BackupTask name).
pub fn newest_dumps(strategy: &BackupStrategy, tasks: &[BackupTask]) -> Vec<(String, String)> {
    let mut kept: Vec<&BackupTask> = tasks.iter().filter(|t| is_dump_of(strategy, t)).collect();
    let ended = |t: &BackupTask| {
        t.status
            .as_ref()
            .and_then(|s| s.ended_at.as_ref())
            .map(|e| e.0)
    };
    kept.sort_by_key(|t| std::cmp::Reverse(ended(t)));
    let mut newest: Vec<(String, String)> = Vec::new();
    for task in kept {
        if !newest
            .iter()
            .any(|(t, _)| t.eq_ignore_ascii_case(&task.spec.tenant))
        {
            newest.push((task.spec.tenant.clone(), task.name_any()));
        }
    }
    newest
}

/// The dump `newest` names for `tenant`.
pub fn dump_of<'a>(newest: &'a [(String, String)], tenant: &str) -> Option<&'a str> {
    newest
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(tenant))
        .map(|(_, d)| d.as_str())
}

/// When a drill run must have ended: the time it was made for (its [`DRILL_AT`], on the operator's clock)
/// plus its timeout; its creation when it carries no such time. `None` for a task that is no drill.
pub fn deadline(task: &RecoveryTask) -> Option<Timestamp> {
    let drill = task.spec.drill.as_ref()?;
    let made_for = task
        .annotations()
        .get(DRILL_AT)
        .and_then(|at| at.parse::<Timestamp>().ok());
    let start = made_for.or(task.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    let timeout = crate::api::common::parse_duration(&drill.timeout)?;
    start.checked_add(timeout).ok()
}

/// The windows a tenant's status shows, as SCN ranges.
pub fn status_windows(strategy: &BackupStrategy, tenant: &str) -> Vec<Window> {
    let scn = |t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time| {
        u64::try_from(t.0.as_nanosecond()).unwrap_or(0)
    };
    crate::windows::point::strategy_windows(strategy, tenant)
        .iter()
        .map(|w| Window {
            from_scn: scn(&w.from),
            to_scn: scn(&w.to),
        })
        .collect()
}

/// The RecoveryTask of the run of `tenant` at `at`, owned by the strategy: a physical restore into a scratch
/// tenant, or — for a logical strategy — a load of the dump of BackupTask `dump` (its newest kept one) into
/// `drill_` databases. `None` when the strategy has no drill, or a logical one no dump to load.
pub fn task(
    strategy: &BackupStrategy,
    tenant: &str,
    at: Timestamp,
    asked: Asked,
    dump: Option<&str>,
) -> Option<RecoveryTask> {
    let drill = strategy.spec.restore_drill.as_ref()?;
    let strategy_name = strategy.name_any();
    let name = task_name(&strategy_name, tenant, at, asked);
    let spec = if strategy.spec.method == BackupMethod::Logical {
        logical_spec(strategy, drill, tenant, at, dump?)
    } else {
        physical_spec(strategy, drill, tenant, at, &name)
    };
    let mut task = RecoveryTask::new(&name, spec);
    task.metadata.namespace = strategy.namespace();
    task.metadata.owner_references = strategy.controller_owner_ref(&()).map(|o| vec![o]);
    task.metadata.labels = Some(
        [
            (STRATEGY_LABEL.to_string(), strategy_name),
            (
                DRILL_TENANT_LABEL.to_string(),
                crate::names::dns_form(tenant),
            ),
        ]
        .into(),
    );
    task.metadata.annotations = Some([(DRILL_AT.to_string(), at.to_string())].into());
    Some(task)
}

/// What a drill's RecoveryTask runs after its restore or load.
fn run(drill: &RestoreDrill) -> DrillRun {
    DrillRun {
        credentials_secret: drill.credentials_secret.clone(),
        checks: drill.checks.clone(),
        freshness: drill.freshness.clone(),
        timeout: drill.timeout.clone(),
        keep_failed: drill.keep_failed,
    }
}

/// A physical drill: `tenant` restored from the strategy's backups into its scratch tenant.
fn physical_spec(
    strategy: &BackupStrategy,
    drill: &RestoreDrill,
    tenant: &str,
    at: Timestamp,
    name: &str,
) -> RecoveryTaskSpec {
    RecoveryTaskSpec {
        source: RecoverySource {
            strategy_ref: Some(StrategyReference {
                name: strategy.name_any(),
            }),
            tenant: tenant.to_string(),
            cluster_name: None,
            data_destination: None,
            log_destination: None,
            logical: None,
        },
        target: RecoveryTarget {
            cluster: target_cluster(strategy, drill),
            tenant: scratch_tenant(&owner_of(strategy), tenant, at),
            resources: drill.target.resources.clone(),
            logical: None,
            primary_zone: None,
            locality: None,
        },
        until: Some(point(drill, &status_windows(strategy, tenant), name)),
        decryption: strategy.spec.encryption.clone(),
        activate: true,
        cancel: false,
        retry: 0,
        drill: Some(run(drill)),
        job_id: None,
    }
}

/// A logical drill: the dump of BackupTask `dump` loaded into `drill_<tenant>_<time>_<database>` databases
/// of the drill's target tenant (the drilled tenant by default).
fn logical_spec(
    strategy: &BackupStrategy,
    drill: &RestoreDrill,
    tenant: &str,
    at: Timestamp,
    dump: &str,
) -> RecoveryTaskSpec {
    RecoveryTaskSpec {
        source: RecoverySource::of_dump(tenant, dump),
        target: RecoveryTarget {
            cluster: target_cluster(strategy, drill),
            tenant: drill
                .target
                .tenant
                .clone()
                .unwrap_or_else(|| tenant.to_string()),
            resources: None,
            logical: Some(LogicalRecoveryTarget {
                credentials_secret: Some(drill.credentials_secret.clone()),
                ob_tenant: None,
                rename_databases: Default::default(),
                database_prefix: Some(format!(
                    "{}_",
                    scratch_tenant(&owner_of(strategy), tenant, at)
                )),
                parallel: crate::api::logical::default_parallel(),
            }),
            primary_zone: None,
            locality: None,
        },
        until: None,
        decryption: None,
        activate: true,
        cancel: false,
        retry: 0,
        drill: Some(run(drill)),
        job_id: None,
    }
}

fn target_cluster(strategy: &BackupStrategy, drill: &RestoreDrill) -> ClusterConnection {
    drill
        .target
        .cluster
        .clone()
        .unwrap_or_else(|| strategy.spec.cluster.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn names_come_from_the_time_and_a_scratch_tenant_fits_oceanbase() {
        let t = at("2026-11-26T03:00:00Z");
        assert_eq!(
            task_name("nightly", "tenant_1", t, Asked::Schedule),
            "nightly-tenant-1-drill-20261126-030000"
        );
        assert_eq!(
            task_name("nightly", "tenant_1", t, Asked::Manual),
            "nightly-tenant-1-drill-now-20261126-030000"
        );
        assert_ne!(
            scratch_tenant("ns/a", "tenant_1", t),
            scratch_tenant("ns/b", "tenant_1", t),
            "two strategies' drills of one tenant name at one second"
        );
        assert_eq!(
            scratch_tenant("ns/a", "Tenant_1", t),
            "drill_tenant_1_20261126030000_8b1e"
        );
        let long_a = format!("{}a", "x".repeat(60));
        let long_b = format!("{}b", "x".repeat(60));
        let (a, b) = (
            scratch_tenant("ns/a", &long_a, t),
            scratch_tenant("ns/a", &long_b, t),
        );
        assert!(a.len() <= 64 && b.len() <= 64, "{a} {b}");
        assert_ne!(a, b, "two long tenants never share a scratch tenant");
        assert!(a.starts_with(SCRATCH_PREFIX));
    }

    #[test]
    fn a_random_point_is_recorded_as_an_scn_of_a_window_and_latest_as_latest() {
        let mut drill: RestoreDrill = serde_json::from_value(serde_json::json!({
            "schedule": "0 3 * * *", "timeZone": "UTC", "credentialsSecret": "app",
            "target": {"resources": {"unitName": "small", "zones": ["zone1"]}},
            "point": "Random",
        }))
        .expect("drill");
        let windows = [Window {
            from_scn: 1_000,
            to_scn: 2_000,
        }];
        let chosen = point(&drill, &windows, "run-a").scn.expect("an scn");
        assert!((1_000..=2_000).contains(&chosen));
        assert_eq!(point(&drill, &windows, "run-a").scn, Some(chosen));
        assert_eq!(point(&drill, &[], "run-a").latest, Some(true));
        drill.point = DrillPoint::Latest;
        assert_eq!(point(&drill, &windows, "run-a").latest, Some(true));
    }

    fn logical_strategy() -> BackupStrategy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "dumps", "namespace": "ns", "uid": "u1"},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["tenant1"],
                "method": "Logical", "logical": {"credentialsSecret": "dumper"},
                "dataDestination": {"uri": "file:///d"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * *"},
                "restoreDrill": {
                    "schedule": "0 3 * * *", "timeZone": "UTC", "credentialsSecret": "loader",
                    "target": {},
                },
            },
        }))
        .expect("strategy")
    }

    fn dump(name: &str, tenant: &str, phase: &str, ended: &str) -> BackupTask {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": name, "labels": {"obbackup.dev/strategy": "dumps"}},
            "spec": {"strategyRef": {"name": "dumps"}, "tenant": tenant, "mode": "Full", "method": "Logical",
                     "logical": {"credentialsSecret": "dumper"}},
            "status": {"phase": phase, "endedAt": ended},
        }))
        .expect("dump")
    }

    #[test]
    fn a_logical_drill_loads_the_newest_completed_dump_into_prefixed_databases() {
        let strategy = logical_strategy();
        let tasks = [
            dump("old", "tenant1", "Completed", "2026-11-24T01:10:00Z"),
            dump("new", "tenant1", "Completed", "2026-11-25T01:10:00Z"),
            dump("failed", "tenant1", "Failed", "2026-11-26T01:10:00Z"),
            dump("other", "tenant2", "Completed", "2026-11-26T01:10:00Z"),
        ];
        let newest = newest_dumps(&strategy, &tasks);
        assert_eq!(dump_of(&newest, "TENANT1"), Some("new"));
        assert_eq!(dump_of(&newest, "tenant2"), Some("other"));
        let t = at("2026-11-26T03:00:00Z");
        assert!(
            task(&strategy, "tenant1", t, Asked::Schedule, None).is_none(),
            "no dump, no drill"
        );
        let made = task(&strategy, "tenant1", t, Asked::Schedule, Some("new")).expect("a drill");
        let spec = &made.spec;
        let source = spec.source.logical.as_ref().expect("a logical source");
        assert_eq!(source.backup_task.as_deref(), Some("new"));
        let target = spec.target.logical.as_ref().expect("a logical target");
        assert_eq!(
            target.database_prefix.as_deref(),
            Some("drill_tenant1_20261126030000_563a_")
        );
        assert_eq!(target.credentials_secret.as_deref(), Some("loader"));
        assert_eq!(
            spec.target.tenant, "tenant1",
            "the drilled tenant by default"
        );
        assert!(spec.until.is_none() && spec.target.resources.is_none());
        assert!(spec.drill.is_some());
    }

    #[test]
    fn a_drills_deadline_counts_from_the_time_it_was_made_for_on_the_operators_clock() {
        let strategy = logical_strategy();
        let t = at("2026-11-26T03:00:00Z");
        let mut made =
            task(&strategy, "tenant1", t, Asked::Schedule, Some("new")).expect("a drill");
        // The API server's creation time (another clock under a simulated one) does not count.
        made.metadata.creation_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at("2020-01-01T00:00:00Z")),
        );
        assert_eq!(
            deadline(&made),
            Some(at("2026-11-26T09:00:00Z")),
            "6h, the default"
        );
        made.metadata.annotations = None;
        assert_eq!(deadline(&made), Some(at("2020-01-01T06:00:00Z")));
        made.spec.drill = None;
        assert_eq!(deadline(&made), None);
    }
}
