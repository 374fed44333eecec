//! Whether a recovery point can be restored, from the source strategy's recoverable windows
//! (docs/reference/oceanbase-interface.md §8, docs/contributing/design.md §2.6): inside a window,
//! before or between windows (refused: no restore can reach it), after the newest window's end
//! (wait for archiving), or unverifiable (no strategy to ask). A restore naming a strategy's second copy
//! is checked against what the copy holds ([`second_copy_windows`]).

use jiff::Timestamp;

use crate::{
    api::{
        BackupStrategy,
        common::{StorageDestination, TimeWindow},
        recovery_task::RecoveryPoint,
    },
    oceanbase::scn_time,
    storage::place::{Overlap, overlap},
};

/// What is known of the recovery point before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointCheck {
    /// Inside a recoverable window of the source (the message says which).
    Inside(String),
    /// Before every window or in a gap: the restore cannot succeed.
    Outside(String),
    /// After the newest window's end: wait for archiving to get there.
    NotYet(String),
    /// Nothing to check it against (no strategy): go on, saying so.
    Unverified(String),
}

/// The recoverable windows the strategy's overview shows for `tenant` (names ignore case): what a restore
/// through the strategy is checked against, by the operator and by `kubectl obbackup restore` alike.
pub fn strategy_windows(strategy: &BackupStrategy, tenant: &str) -> Vec<TimeWindow> {
    strategy
        .status
        .as_ref()
        .and_then(|status| {
            status
                .tenants
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(tenant))
        })
        .map(|t| t.recoverable_windows.clone())
        .unwrap_or_default()
}

/// When `data` and `log` are `tenant`'s directories under the second destinations of one of `strategies`
/// (however spelled): what a restore from that copy is checked against — the strategy's name and the
/// windows its status gives the copy (`status.secondBackup.tenants[]`: the sets known whole there and the
/// archive up to the copy's checkpoint; none yet: empty). `None` when no strategy keeps that copy.
pub fn second_copy_windows(
    strategies: &[BackupStrategy],
    tenant: &str,
    data: &str,
    log: &str,
) -> Option<(String, Vec<TimeWindow>)> {
    let same = |root: &StorageDestination, uri: &str| {
        overlap(&root.for_tenant(tenant).uri, uri) == Some(Overlap::Same)
    };
    let strategy = strategies.iter().find(|s| {
        s.spec.second_backup.as_ref().is_some_and(|second| {
            same(&second.data_destination, data) && same(&second.log_destination, log)
        })
    })?;
    let windows = strategy
        .status
        .as_ref()
        .and_then(|status| status.second_backup.as_ref())
        .and_then(|copy| {
            copy.tenants
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(tenant))
        })
        .map(|t| t.recoverable_windows.clone())
        .unwrap_or_default();
    Some((strategy.metadata.name.clone().unwrap_or_default(), windows))
}

/// The point as a time: `None` for `latest`.
pub fn point_time(until: &RecoveryPoint) -> Option<Timestamp> {
    if let Some(time) = &until.time {
        return time.parse().ok();
    }
    until
        .scn
        .and_then(|scn| u64::try_from(scn).ok())
        .map(scn_time)
}

/// Checks `until` against the source tenant's windows (`None`: nothing to check against).
pub fn check(until: &RecoveryPoint, tenant: &str, windows: Option<&[TimeWindow]>) -> PointCheck {
    let Some(windows) = windows else {
        return PointCheck::Unverified(
            "no strategy to check the recovery point against: OceanBase decides".into(),
        );
    };
    let Some(newest) = windows.iter().max_by_key(|w| w.to.0) else {
        return PointCheck::NotYet(format!(
            "tenant {tenant} has no recoverable window yet (a full backup and its log are needed)"
        ));
    };
    let Some(at) = point_time(until) else {
        return PointCheck::Inside(format!(
            "latest: up to {} (the newest window's end when checked)",
            newest.to.0
        ));
    };
    if let Some(window) = windows.iter().find(|w| w.from.0 <= at && at <= w.to.0) {
        return PointCheck::Inside(format!(
            "{at} lies in the recoverable window {} – {}",
            window.from.0, window.to.0
        ));
    }
    if at > newest.to.0 {
        return PointCheck::NotYet(format!(
            "{at} is after the newest recoverable point {} of tenant {tenant}: waiting for archiving to reach it",
            newest.to.0
        ));
    }
    let listed = windows
        .iter()
        .map(|w| format!("{} – {}", w.from.0, w.to.0))
        .collect::<Vec<_>>()
        .join(", ");
    PointCheck::Outside(format!(
        "{at} is outside every recoverable window of tenant {tenant} ({listed})"
    ))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    fn window(from: i64, to: i64) -> TimeWindow {
        TimeWindow {
            from: Time(at(from)),
            to: Time(at(to)),
        }
    }

    fn time(s: i64) -> RecoveryPoint {
        RecoveryPoint {
            time: Some(at(s).to_string()),
            scn: None,
            latest: None,
        }
    }

    #[test]
    fn points_are_checked_against_the_windows() {
        let windows = [window(0, 100), window(200, 300)];
        let check = |p: RecoveryPoint| check(&p, "t1", Some(&windows));
        assert!(matches!(check(time(50)), PointCheck::Inside(_)));
        assert!(matches!(check(time(250)), PointCheck::Inside(_)));
        assert!(matches!(check(time(-10)), PointCheck::Outside(_)));
        let gap = check(time(150));
        assert!(
            matches!(&gap, PointCheck::Outside(m) if m.contains("outside every recoverable window")),
            "{gap:?}"
        );
        assert!(matches!(check(time(400)), PointCheck::NotYet(_)));
        let scn = RecoveryPoint {
            time: None,
            scn: Some((1_800_000_000 + 20) * 1_000_000_000),
            latest: None,
        };
        assert!(matches!(check(scn), PointCheck::Inside(_)));
        let latest = RecoveryPoint {
            time: None,
            scn: None,
            latest: Some(true),
        };
        assert!(matches!(check(latest.clone()), PointCheck::Inside(_)));
        assert!(matches!(
            super::check(&latest, "t1", Some(&[])),
            PointCheck::NotYet(_)
        ));
        assert!(matches!(
            super::check(&latest, "t1", None),
            PointCheck::Unverified(_)
        ));
    }

    #[test]
    fn a_restore_from_a_second_copy_is_checked_against_the_copys_own_windows() {
        let strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy", "metadata": {"name": "copied"},
            "spec": {"cluster": {"name": "c", "connectionSecret": "sys"},
                "dataDestination": {"uri": "file:///b/data"}, "logDestination": {"uri": "file:///b/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                "secondBackup": {"dataDestination": {"uri": "s3://off/data?host=h&s3_region=r"},
                    "logDestination": {"uri": "s3://off/archive?host=h&s3_region=r"}}},
            "status": {
                "tenants": [{"name": "tenant1", "recoverableWindows": [
                    {"from": at(0).to_string(), "to": at(500).to_string()}]}],
                "secondBackup": {"tenants": [{"name": "tenant1", "recoverableWindows": [
                    {"from": at(0).to_string(), "to": at(100).to_string()}]}]},
            },
        }))
        .expect("strategy");
        let strategies = [strategy];
        let copy = "s3://off/data/tenant1?host=h&s3_region=r";
        let log = "s3://off/archive//tenant1/?host=h";
        let (name, windows) =
            second_copy_windows(&strategies, "TENANT1", copy, log).expect("the copy is known");
        assert_eq!(
            (name.as_str(), windows.clone()),
            ("copied", vec![window(0, 100)])
        );
        // The first copy reaches 300; the second does not: refused, the copy's window in the message.
        let label = "tenant1 in the second copy of strategy copied";
        let refused = check(&time(300), label, Some(&windows));
        assert!(matches!(refused, PointCheck::NotYet(_)), "{refused:?}");
        let windows = [window(0, 100), window(200, 400)];
        let PointCheck::Outside(message) = check(&time(150), label, Some(&windows)) else {
            panic!("a point between the copy's windows is outside");
        };
        assert!(
            message.contains(&format!("{} – {}", at(0), at(100))),
            "{message}"
        );
        assert!(message.contains(label), "{message}");
        // The first destinations, another tenant, or a copy of the data alone: not this copy.
        let first = ("file:///b/data/tenant1", "file:///b/archive/tenant1");
        assert_eq!(
            second_copy_windows(&strategies, "tenant1", first.0, first.1),
            None
        );
        assert_eq!(second_copy_windows(&strategies, "tenant2", copy, log), None);
        assert_eq!(
            second_copy_windows(
                &strategies,
                "tenant1",
                copy,
                "s3://off/other/tenant1?host=h"
            ),
            None
        );
    }
}
