//! Following each kind's caches: the per-phase, not-progressing and stalled object counts, how many objects
//! refresh figures that move by themselves (the write budget's grain), and forgetting what is kept for
//! objects that are gone.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Resource, runtime::reflector::Store};
use strum::VariantArray;
use tokio_util::sync::CancellationToken;

use super::super::{Reconcile, catalog, conditions, guarded::Guarded, write_budget};
use crate::{
    metrics::{KindLabels, Metrics, PhaseLabels, StalledLabels},
    observer::{ObjectKey, Observers},
    reason::Reason,
};

/// Every [`crate::timing::PHASE_COUNT_INTERVAL`] from the moment the controller cache has synced, follows it:
/// keeps `obbackup_objects{kind, phase}` and `obbackup_objects_stalled{kind, reason}` equal to its counts (of
/// the shards this replica holds), tells the write budget how many refresh their figures, and drops what is
/// kept for objects it no longer holds — their observer interests and their series (a deleted object gets no
/// last reconcile). An object is dropped once gone from two looks in a row: one look could race an object
/// that just arrived. Only what is kept is looked up in the cache, so a look costs no set of every cached
/// object. The first count waits for the sync: counted before, the cache is empty, and the budget's grain
/// stays the one-minute floor until the next count, so that the first looks of a restart rewrite figures a
/// grain would have left alone (at 10 000 archiving objects, every one older than a minute instead of 400 s).
pub(super) async fn follow_caches<K: Reconcile>(
    catalog: Arc<catalog::Catalog>,
    metrics: Arc<Metrics>,
    observers: Arc<Observers>,
    writes: Arc<write_budget::WriteBudget>,
    shutdown: CancellationToken,
    shards: Arc<crate::shards::Shards>,
) {
    let mut shown = Shown::default();
    let mut missing_before: HashSet<ObjectKey> = HashSet::new();
    tokio::select! {
        () = catalog.synced::<K>() => {}
        () = shutdown.cancelled() => return,
    }
    loop {
        let stores = catalog.stores::<K>();
        let mut counts = Counts::default();
        for object in stores.iter().flat_map(|store| store.state()) {
            counts.cached += 1;
            // Each replica counts its own shards' objects, so that the replicas' counts add up.
            if !shards.holds(object.meta().namespace.as_deref().unwrap_or_default()) {
                continue;
            }
            if let Ok(valid) = &object.0 {
                counts.add(valid);
            }
        }
        writes.set_refreshing(K::KIND, counts.refreshing);
        metrics.set_status_freshness(writes.freshness());
        shown.publish(&metrics, K::KIND, counts);
        missing_before = forget_gone(&stores, &metrics, &observers, &missing_before);
        metrics
            .watched_objects
            .get_or_create(&KindLabels {
                kind: K::KIND.into(),
            })
            .set(i64::try_from(observers.watched(K::KIND)).unwrap_or(i64::MAX));
        tokio::select! {
            () = tokio::time::sleep(crate::timing::PHASE_COUNT_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// What one look at a kind's caches counted.
#[derive(Default)]
struct Counts {
    cached: i64,
    phases: HashMap<&'static str, i64>,
    stalled: HashMap<&'static str, i64>,
    not_progressing: i64,
    refreshing: usize,
}

impl Counts {
    /// Counts one object of this replica's shards.
    fn add<K: Reconcile>(&mut self, object: &K) {
        let phase = object.phase_label().unwrap_or("Unknown");
        *self.phases.entry(phase).or_default() += 1;
        if let Some(reason) = stalled_reason(object.conditions()) {
            *self.stalled.entry(reason).or_default() += 1;
        }
        self.not_progressing += i64::from(object.not_progressing());
        self.refreshing += usize::from(object.refreshes());
    }
}

/// The phases and reasons a kind's series were set for, so that one no object shows any more reads 0
/// rather than its last count.
#[derive(Default)]
struct Shown {
    phases: HashSet<&'static str>,
    stalled: HashSet<&'static str>,
}

impl Shown {
    /// Sets the kind's series to `counts`.
    fn publish(&mut self, metrics: &Metrics, kind: &'static str, counts: Counts) {
        let labels = KindLabels { kind: kind.into() };
        metrics
            .cached_objects
            .get_or_create(&labels)
            .set(counts.cached);
        metrics
            .not_progressing
            .get_or_create(&labels)
            .set(counts.not_progressing);
        set_each(counts.phases, &mut self.phases, |phase, count| {
            let labels = PhaseLabels {
                kind: kind.into(),
                phase: phase.into(),
            };
            metrics.phases.get_or_create(&labels).set(count);
        });
        set_each(counts.stalled, &mut self.stalled, |reason, count| {
            let labels = StalledLabels {
                kind: kind.into(),
                reason: reason.into(),
            };
            metrics.stalled.get_or_create(&labels).set(count);
        });
    }
}

/// Sets a series per key of `counts`, and 0 for each key `shown` before that no object gives any more.
fn set_each(
    counts: HashMap<&'static str, i64>,
    shown: &mut HashSet<&'static str>,
    mut set: impl FnMut(&'static str, i64),
) {
    for gone in shown.iter().filter(|key| !counts.contains_key(*key)) {
        set(gone, 0);
    }
    for (key, count) in counts {
        set(key, count);
        shown.insert(key);
    }
}

/// The reason of a `Stalled` condition that is True among `conditions` (`Unknown` for a reason the operator
/// does not give).
fn stalled_reason(conditions: &[Condition]) -> Option<&'static str> {
    let stalled = conditions
        .iter()
        .find(|c| c.type_ == conditions::STALLED && c.status == "True")?;
    Some(
        Reason::VARIANTS
            .iter()
            .map(|reason| reason.as_str())
            .find(|name| *name == stalled.reason)
            .unwrap_or("Unknown"),
    )
}

/// Drops the observer interests and series of the objects of `K` gone from the caches now and at the
/// last look (`missing_before`); returns those gone now.
pub(super) fn forget_gone<K: Reconcile>(
    stores: &[Store<Guarded<K>>],
    metrics: &Metrics,
    observers: &Observers,
    missing_before: &HashSet<ObjectKey>,
) -> HashSet<ObjectKey> {
    let missing_now = std::cell::RefCell::new(HashSet::new());
    let alive = |key: &ObjectKey| {
        let reference = kube::runtime::reflector::ObjectRef::new(&key.name).within(&key.namespace);
        if stores.iter().any(|store| store.get(&reference).is_some()) {
            return true;
        }
        missing_now.borrow_mut().insert(key.clone());
        !missing_before.contains(key)
    };
    let forgotten = observers.forget_missing(K::KIND, alive);
    if forgotten > 0 {
        tracing::debug!(
            kind = K::KIND,
            forgotten,
            "stopped watching deleted objects"
        );
    }
    K::forget_all_but(metrics, &alive);
    missing_now.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupStrategy;

    fn strategy(stalled: Option<&str>) -> BackupStrategy {
        let conditions: Vec<_> = stalled
            .map(|reason| {
                serde_json::json!({"type": "Stalled", "status": "True", "reason": reason,
                    "message": "m", "lastTransitionTime": "2026-11-29T01:00:00Z"})
            })
            .into_iter()
            .collect();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"cluster": {"name": "c", "connectionSecret": "db"}, "tenants": ["t1"],
                     "dataDestination": {"uri": "file:///d"},
                     "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
            "status": {"phase": "Stalled", "conditions": conditions},
        }))
        .expect("a strategy")
    }

    fn stalled(metrics: &Metrics, reason: &str) -> i64 {
        metrics
            .stalled
            .get_or_create(&StalledLabels {
                kind: "BackupStrategy".into(),
                reason: reason.into(),
            })
            .get()
    }

    #[test]
    fn stalled_objects_are_counted_by_reason_and_a_reason_no_object_gives_any_more_reads_zero() {
        let metrics = Metrics::default();
        let mut shown = Shown::default();
        let mut counts = Counts::default();
        for object in [
            strategy(Some("TenantManagedByObOperator")),
            strategy(Some("TenantManagedByObOperator")),
            strategy(Some("NoSuchReasonOfOurs")),
            strategy(None),
        ] {
            counts.add(&object);
        }
        shown.publish(&metrics, "BackupStrategy", counts);
        assert_eq!(stalled(&metrics, "TenantManagedByObOperator"), 2);
        assert_eq!(stalled(&metrics, "Unknown"), 1);
        let mut counts = Counts::default();
        counts.add(&strategy(Some("TenantClaimed")));
        shown.publish(&metrics, "BackupStrategy", counts);
        assert_eq!(stalled(&metrics, "TenantManagedByObOperator"), 0);
        assert_eq!(stalled(&metrics, "Unknown"), 0);
        assert_eq!(stalled(&metrics, "TenantClaimed"), 1);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"obbackup_objects_stalled{kind="BackupStrategy",reason="TenantClaimed"} 1"#
            ),
            "{text}"
        );
    }
}
