//! Which cached objects name a strategy, by namespace and strategy name: a strategy's look reads its own
//! tasks and LogBackups without going through every cached object of the kind (with 1 000 strategies
//! sharing a namespace of 100 000 tasks, a scan per look would cost more than everything else the operator
//! does).
//!
//! An object is filed under each strategy it names: its [`STRATEGY_LABEL`] (the strategy made it) and its
//! `strategyRef` (it works through the strategy). The index only narrows a lookup: a name it files may be
//! stale (an object whose label changed stays under the old strategy until the next re-list), so a reader
//! takes each object from the cache and tests it itself. It never misses one: an object is filed when its
//! watch event reaches the cache, and a re-list rebuilds the index from the cache once the cache holds the
//! new list.

use std::collections::{HashMap, HashSet};

use kube::{ResourceExt, runtime::reflector::Store};

use crate::controller::guarded::Guarded;
use crate::names::STRATEGY_LABEL;

/// The strategies an object names: the one that made it (label) and the one it works through
/// (`strategyRef`), given by the kind.
pub type Named<K> = fn(&K) -> Option<&str>;

/// Object names by (namespace, strategy).
#[derive(Default)]
pub struct ByStrategy {
    names: HashMap<(String, String), HashSet<String>>,
}

impl ByStrategy {
    /// Files `object` under the strategies it names.
    pub fn insert<K: kube::Resource>(&mut self, object: &K, strategy_ref: Option<&str>) {
        let (Some(namespace), name) = (object.namespace(), object.name_any()) else {
            return;
        };
        for strategy in strategies(object, strategy_ref) {
            self.names
                .entry((namespace.clone(), strategy.to_string()))
                .or_default()
                .insert(name.clone());
        }
    }

    /// Takes `object` out from under the strategies it names.
    pub fn remove<K: kube::Resource>(&mut self, object: &K, strategy_ref: Option<&str>) {
        let Some(namespace) = object.namespace() else {
            return;
        };
        for strategy in strategies(object, strategy_ref) {
            let key = (namespace.clone(), strategy.to_string());
            if let Some(names) = self.names.get_mut(&key) {
                names.remove(&object.name_any());
                if names.is_empty() {
                    self.names.remove(&key);
                }
            }
        }
    }

    /// The index of what `stores` hold now.
    pub fn of<K>(stores: &[Store<Guarded<K>>], named: Named<K>) -> Self
    where
        K: kube::Resource<DynamicType = ()> + Clone,
    {
        let mut index = Self::default();
        for object in stores.iter().flat_map(Store::state) {
            if let Ok(valid) = &object.0 {
                index.insert(valid, named(valid));
            }
        }
        index
    }

    /// The names filed under `strategy` in `namespace`.
    pub fn names(&self, namespace: &str, strategy: &str) -> Vec<String> {
        self.names
            .get(&(namespace.to_string(), strategy.to_string()))
            .map(|names| names.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The strategies `object` names: its label's and its `strategyRef`'s (once when they are the same).
fn strategies<'a, K: kube::Resource>(
    object: &'a K,
    strategy_ref: Option<&'a str>,
) -> impl Iterator<Item = &'a str> {
    let made_by = object.labels().get(STRATEGY_LABEL).map(String::as_str);
    made_by
        .into_iter()
        .chain(strategy_ref.filter(|r| Some(*r) != made_by))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::BackupTask;

    fn task(name: &str, label: Option<&str>, strategy_ref: Option<&str>) -> BackupTask {
        let mut value = json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"tenant": "t1", "mode": "Full"},
        });
        if let Some(label) = label {
            value["metadata"]["labels"] = json!({STRATEGY_LABEL: label});
        }
        if let Some(strategy) = strategy_ref {
            value["spec"]["strategyRef"] = json!({"name": strategy});
        }
        serde_json::from_value(value).expect("task")
    }

    fn named(task: &BackupTask) -> Option<&str> {
        task.spec.strategy_ref.as_ref().map(|r| r.name.as_str())
    }

    #[test]
    fn an_object_is_found_under_its_label_and_its_reference_until_it_is_removed() {
        let mut index = ByStrategy::default();
        let made = task("made", Some("nightly"), Some("nightly"));
        let by_hand = task("by-hand", None, Some("nightly"));
        let elsewhere = task("elsewhere", Some("weekly"), Some("nightly"));
        let unrelated = task("unrelated", None, None);
        for t in [&made, &by_hand, &elsewhere, &unrelated] {
            index.insert(t, named(t));
        }
        let mut nightly = index.names("ns", "nightly");
        nightly.sort();
        assert_eq!(nightly, ["by-hand", "elsewhere", "made"]);
        assert_eq!(index.names("ns", "weekly"), ["elsewhere"]);
        assert!(index.names("other", "nightly").is_empty(), "per namespace");

        index.remove(&elsewhere, named(&elsewhere));
        assert!(index.names("ns", "weekly").is_empty());
        assert_eq!(index.names.len(), 1, "an emptied entry is dropped");
    }

    #[test]
    fn the_index_of_a_store_files_every_valid_object_it_holds() {
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<BackupTask>>();
        for name in ["a", "b"] {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(Guarded(Ok(task(
                name,
                Some("nightly"),
                None,
            )))));
        }
        let mut names = ByStrategy::of(&[store], named).names("ns", "nightly");
        names.sort();
        assert_eq!(names, ["a", "b"]);
    }
}
