//! The cluster-wide series an observer exports from each snapshot — log delay and interruption per archiving
//! tenant, newest successful backup per tenant and mode — and their removal: a tenant's series go when the
//! tenant leaves OceanBase, all of a cluster's when nothing watches the cluster any more, so an alert never
//! fires days later about something no longer there or no longer managed.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::observation::archive_lag;
use crate::{
    metrics::{BackupModeLabels, ClusterLabels, Metrics, TenantLabels},
    oceanbase::{BackupType, RoundStatus, Snapshot},
};

const MODES: [(BackupType, &str); 2] =
    [(BackupType::Full, "Full"), (BackupType::Inc, "Incremental")];

/// The tenants an observer has exported series for.
#[derive(Default)]
pub struct Recorded {
    tenants: HashSet<String>,
}

impl Recorded {
    /// Sets every tenant's series from `snapshot`, and removes those of tenants it no longer lists.
    pub fn record(
        &mut self,
        metrics: &Metrics,
        cluster: &ClusterLabels,
        snapshot: &Snapshot,
        now: Timestamp,
    ) {
        let mut present = HashSet::new();
        let newest = newest_usable_sets(snapshot);
        for tenant in &snapshot.tenants {
            present.insert(tenant.name.clone());
            let labels = tenant_labels(cluster, &tenant.name);
            let round = snapshot.round(tenant.id);
            // The lag keeps growing while archiving is stuck; the series goes when archiving stops.
            match round.and_then(|r| archive_lag(r, now)) {
                Some(lag) => {
                    metrics
                        .log_backup_delay
                        .get_or_create(&labels)
                        .set(lag.as_secs_f64());
                }
                None => {
                    metrics.log_backup_delay.remove(&labels);
                }
            }
            match round {
                Some(round) if !round.status.is_stopped() => {
                    metrics
                        .log_archive_interrupted
                        .get_or_create(&labels)
                        .set(i64::from(round.status == RoundStatus::Interrupted));
                }
                _ => {
                    metrics.log_archive_interrupted.remove(&labels);
                }
            }
            for (kind, mode) in MODES {
                let labels = mode_labels(cluster, &tenant.name, mode);
                match newest.get(&(tenant.id, kind)) {
                    Some(end) => {
                        metrics
                            .last_successful_backup
                            .get_or_create(&labels)
                            .set(end.as_second());
                    }
                    None => {
                        metrics.last_successful_backup.remove(&labels);
                    }
                }
            }
        }
        for gone in self.tenants.difference(&present) {
            remove_tenant(metrics, cluster, gone);
        }
        self.tenants = present;
    }

    /// Removes every series exported for the cluster (nothing watches it any more).
    pub fn forget_all(&mut self, metrics: &Metrics, cluster: &ClusterLabels) {
        for tenant in self.tenants.drain() {
            remove_tenant(metrics, cluster, &tenant);
        }
        metrics.cluster_reachable.remove(cluster);
    }
}

/// The end of each tenant's newest usable backup set of each type, in one pass over the sets (a cluster
/// keeps every tenant's history, read at every cycle).
fn newest_usable_sets(snapshot: &Snapshot) -> HashMap<(i64, BackupType), Timestamp> {
    let mut newest: HashMap<(i64, BackupType), Timestamp> = HashMap::new();
    for set in snapshot.sets.iter().filter(|s| s.usable()) {
        if let Some(end) = set.end {
            newest
                .entry((set.tenant_id, set.backup_type.clone()))
                .and_modify(|e| *e = (*e).max(end))
                .or_insert(end);
        }
    }
    newest
}

fn tenant_labels(cluster: &ClusterLabels, tenant: &str) -> TenantLabels {
    TenantLabels {
        namespace: cluster.namespace.clone(),
        cluster: cluster.cluster.clone(),
        tenant: tenant.to_string(),
    }
}

fn mode_labels(cluster: &ClusterLabels, tenant: &str, mode: &str) -> BackupModeLabels {
    BackupModeLabels {
        namespace: cluster.namespace.clone(),
        cluster: cluster.cluster.clone(),
        tenant: tenant.to_string(),
        mode: mode.to_string(),
    }
}

fn remove_tenant(metrics: &Metrics, cluster: &ClusterLabels, tenant: &str) {
    let labels = tenant_labels(cluster, tenant);
    metrics.log_backup_delay.remove(&labels);
    metrics.log_archive_interrupted.remove(&labels);
    metrics.log_backup_delay_threshold.remove(&labels);
    for (_, mode) in MODES {
        metrics
            .last_successful_backup
            .remove(&mode_labels(cluster, tenant, mode));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;
    use crate::oceanbase::{ArchiveRound, BackupSetRow, TenantRow};

    /// An available set of `tenant_id` that ended `end` seconds after the epoch.
    fn set(tenant_id: i64, id: i64, kind: &str, status: &str, end: i64) -> BackupSetRow {
        BackupSetRow {
            tenant_id,
            backup_set_id: id,
            backup_type: State::of(kind),
            status: State::of(status),
            file_status: State::of("AVAILABLE"),
            input_bytes: 1,
            output_bytes: 1,
            end: Some(Timestamp::from_second(end).expect("a time")),
            path: String::new(),
            prev_full_backup_set_id: 0,
            prev_inc_backup_set_id: 0,
            start_replay_scn: 1,
            min_restore_scn: 1,
            data_version: "4.2.5.0".into(),
        }
    }

    fn tenant(id: i64, name: &str) -> TenantRow {
        TenantRow {
            id,
            name: name.into(),
            status: State::of("NORMAL"),
            role: State::of("PRIMARY"),
            archivelog: true,
        }
    }

    #[test]
    fn a_tenant_that_leaves_and_a_cluster_nobody_watches_leave_no_series() {
        let metrics = Metrics::default();
        let cluster = ClusterLabels {
            namespace: "ns".into(),
            cluster: "ob".into(),
        };
        let round = |tenant_id| ArchiveRound {
            tenant_id,
            round_id: 1,
            status: State::of("DOING"),
            start_scn: 1,
            checkpoint_scn: 1_000_000_000,
            path: String::new(),
            comment: String::new(),
        };
        let set = |tenant_id| set(tenant_id, 1, "FULL", "SUCCESS", 0);
        let both = Snapshot {
            tenants: vec![tenant(1002, "t1"), tenant(1004, "t2")],
            rounds: vec![round(1002), round(1004)],
            sets: vec![set(1002), set(1004)],
            ..Snapshot::default()
        };
        let mut recorded = Recorded::default();
        let now = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(60);
        recorded.record(&metrics, &cluster, &both, now);
        let text = metrics.render();
        assert!(text.contains(r#"tenant="t2""#), "{text}");
        let only_t1 = Snapshot {
            tenants: vec![tenant(1002, "t1")],
            rounds: vec![round(1002)],
            sets: vec![set(1002)],
            ..Snapshot::default()
        };
        recorded.record(&metrics, &cluster, &only_t1, now);
        let text = metrics.render();
        assert!(!text.contains(r#"tenant="t2""#), "t2 dropped: {text}");
        assert!(text.contains(r#"tenant="t1""#), "{text}");
        recorded.forget_all(&metrics, &cluster);
        let text = metrics.render();
        assert!(
            !text.contains(r#"cluster="ob""#),
            "nothing watches ob: {text}"
        );
    }

    #[test]
    fn the_newest_usable_set_of_each_tenant_and_type_is_found_in_one_pass() {
        let snapshot = Snapshot {
            sets: vec![
                set(1002, 1, "FULL", "SUCCESS", 100),
                set(1002, 2, "FULL", "SUCCESS", 300),
                set(1002, 3, "FULL", "FAILED", 500),
                set(1002, 4, "INC", "SUCCESS", 400),
                set(1004, 5, "FULL", "SUCCESS", 200),
            ],
            ..Snapshot::default()
        };
        let newest = newest_usable_sets(&snapshot);
        let at = |t, kind: BackupType| newest.get(&(t, kind)).map(|e| e.as_second());
        assert_eq!(
            at(1002, BackupType::Full),
            Some(300),
            "a failed set is not usable"
        );
        assert_eq!(at(1002, BackupType::Inc), Some(400));
        assert_eq!(at(1004, BackupType::Full), Some(200));
        assert_eq!(at(1004, BackupType::Inc), None);
    }
}
