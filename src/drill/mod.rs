//! What a restore drill run is, as an object (docs/guide/restore-drills.md): the RecoveryTask a strategy's
//! schedule (or `kubectl obbackup drill run`) creates for one tenant, its name, the scratch tenant it
//! restores into and the point it restores to. Pure: the strategy's controller and the plugin build the same
//! object from the same inputs, so a run made twice is one object.

pub mod checks;

use jiff::Timestamp;
use kube::{Resource, ResourceExt};

use crate::{
    api::{
        BackupStrategy, RecoveryTask, RecoveryTaskSpec,
        common::StrategyReference,
        drill::{DrillPoint, DrillRun, RestoreDrill},
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

/// The scratch tenant of the run of `tenant` at `at`: `drill_<tenant>_<stamp>`, within OceanBase's 64
/// characters (a long tenant name is cut and a short hash of it keeps two such names apart).
pub fn scratch_tenant(tenant: &str, at: Timestamp) -> String {
    const ROOM: usize = 36;
    let stamp = at.strftime("%Y%m%d%H%M%S").to_string();
    let lower = tenant.to_ascii_lowercase();
    let short = if lower.len() <= ROOM {
        lower
    } else {
        let hash = lower.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("{}{:04x}", &lower[..ROOM - 4], hash & 0xffff)
    };
    format!("{SCRATCH_PREFIX}{short}_{stamp}")
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

/// The RecoveryTask of the run of `tenant` at `at`, owned by the strategy. `None` when the strategy has no
/// drill.
pub fn task(
    strategy: &BackupStrategy,
    tenant: &str,
    at: Timestamp,
    asked: Asked,
) -> Option<RecoveryTask> {
    let drill = strategy.spec.restore_drill.as_ref()?;
    let strategy_name = strategy.name_any();
    let name = task_name(&strategy_name, tenant, at, asked);
    let until = point(drill, &status_windows(strategy, tenant), &name);
    let spec = RecoveryTaskSpec {
        source: RecoverySource {
            strategy_ref: Some(StrategyReference {
                name: strategy_name.clone(),
            }),
            tenant: tenant.to_string(),
            cluster_name: None,
            data_destination: None,
            log_destination: None,
            logical: None,
        },
        target: RecoveryTarget {
            cluster: drill
                .target
                .cluster
                .clone()
                .unwrap_or_else(|| strategy.spec.cluster.clone()),
            tenant: scratch_tenant(tenant, at),
            resources: Some(drill.target.resources.clone()),
            logical: None,
            primary_zone: None,
            locality: None,
        },
        until: Some(until),
        decryption: strategy.spec.encryption.clone(),
        activate: true,
        cancel: false,
        retry: 0,
        drill: Some(DrillRun {
            credentials_secret: drill.credentials_secret.clone(),
            checks: drill.checks.clone(),
            freshness: drill.freshness.clone(),
            timeout: drill.timeout.clone(),
            keep_failed: drill.keep_failed,
        }),
    };
    let mut task = RecoveryTask::new(&name, spec);
    task.metadata.namespace = strategy.namespace();
    task.metadata.owner_references = strategy.controller_owner_ref(&()).map(|o| vec![o]);
    task.metadata.labels = Some(
        [
            (crate::names::STRATEGY_LABEL.to_string(), strategy_name),
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
        assert_eq!(
            scratch_tenant("Tenant_1", t),
            "drill_tenant_1_20261126030000"
        );
        let long_a = format!("{}a", "x".repeat(60));
        let long_b = format!("{}b", "x".repeat(60));
        let (a, b) = (scratch_tenant(&long_a, t), scratch_tenant(&long_b, t));
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
}
