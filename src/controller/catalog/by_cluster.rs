//! Which cached objects are on which cluster, by namespace: a strategy's look and every LogBackup's and
//! submission's ownership check read the strategies on their cluster, and a scan of every strategy per look
//! costs as much as the look's own work once an estate holds a thousand strategies (it was a twelfth of the
//! operator's CPU at 100 000 tasks).
//!
//! "On the same cluster" is by display name or by where the login comes from (an OBCluster, or a Secret's
//! name), so an object is filed under both. Across namespaces it is by what OceanBase says the cluster is,
//! which a reader asks once per (namespace, source) of [`ByCluster::sources`] rather than once per object.
//! An object changing its cluster is taken out from under the old one first, so the index names exactly
//! what the cache holds; a reader still takes each object from the cache and tests it (the index may run a
//! moment ahead of the cache it follows).

use std::collections::{HashMap, HashSet};

use kube::{ResourceExt, runtime::reflector::Store};

use crate::api::common::ClusterConnection;
use crate::controller::guarded::Guarded;

/// The cluster an object is on, given by the kind (`None`: the kind is not indexed, or the object names
/// none).
pub type OnCluster<K> = fn(&K) -> Option<&ClusterConnection>;

/// Where a cluster's login comes from: whether an OBCluster, and its or the Secret's name.
type Source = (bool, String);

/// Object names by namespace and cluster.
#[derive(Default)]
pub struct ByCluster {
    namespaces: HashMap<String, Clusters>,
}

/// One namespace's objects by the cluster's display name and by its source.
#[derive(Default)]
struct Clusters {
    by_name: HashMap<String, HashSet<String>>,
    by_source: HashMap<Source, Filed>,
    /// Where each object is filed (display name, source), to take it out when it moves or goes.
    filed: HashMap<String, (String, Source)>,
}

/// The objects filed under one source, and one of their connections (to ask who the cluster is).
struct Filed {
    connection: ClusterConnection,
    names: HashSet<String>,
}

impl ByCluster {
    /// Files `object` under `cluster` (after taking it out from under where it was), or only takes it out
    /// when it names no cluster.
    pub fn insert<K: kube::Resource>(&mut self, object: &K, cluster: Option<&ClusterConnection>) {
        let Some(namespace) = object.namespace() else {
            return;
        };
        let name = object.name_any();
        let clusters = self.namespaces.entry(namespace.clone()).or_default();
        clusters.take_out(&name);
        if let Some(cluster) = cluster {
            clusters.file(name, cluster);
        }
        if clusters.filed.is_empty() {
            self.namespaces.remove(&namespace);
        }
    }

    /// Takes `object` out of the index.
    pub fn remove<K: kube::Resource>(&mut self, object: &K) {
        self.insert(object, None);
    }

    /// The index of what `stores` hold now.
    pub fn of<K>(stores: &[Store<Guarded<K>>], on_cluster: OnCluster<K>) -> Self
    where
        K: kube::Resource<DynamicType = ()> + Clone,
    {
        let mut index = Self::default();
        for object in stores.iter().flat_map(Store::state) {
            if let Ok(valid) = &object.0 {
                index.insert(valid, on_cluster(valid));
            }
        }
        index
    }

    /// The names in `namespace` on `cluster`: by its display name or its source.
    pub fn names(&self, namespace: &str, cluster: &ClusterConnection) -> HashSet<String> {
        let Some(clusters) = self.namespaces.get(namespace) else {
            return HashSet::new();
        };
        let (ob_cluster, source) = cluster.source_parts();
        let by_name = clusters.by_name.get(&cluster.name);
        let by_source = clusters
            .by_source
            .get(&(ob_cluster, source.to_string()))
            .map(|filed| &filed.names);
        by_name
            .into_iter()
            .chain(by_source)
            .flatten()
            .cloned()
            .collect()
    }

    /// Every (namespace, one connection, the names filed under its source) the index holds: one entry per
    /// cluster as each namespace reaches it.
    pub fn sources(&self) -> impl Iterator<Item = (&str, &ClusterConnection, &HashSet<String>)> {
        self.namespaces.iter().flat_map(|(namespace, clusters)| {
            clusters
                .by_source
                .values()
                .map(move |filed| (namespace.as_str(), &filed.connection, &filed.names))
        })
    }
}

impl Clusters {
    fn file(&mut self, name: String, cluster: &ClusterConnection) {
        let (ob_cluster, source) = cluster.source_parts();
        let source = (ob_cluster, source.to_string());
        self.by_name
            .entry(cluster.name.clone())
            .or_default()
            .insert(name.clone());
        self.by_source
            .entry(source.clone())
            .or_insert_with(|| Filed {
                connection: cluster.clone(),
                names: HashSet::new(),
            })
            .names
            .insert(name.clone());
        self.filed.insert(name, (cluster.name.clone(), source));
    }

    fn take_out(&mut self, name: &str) {
        let Some((display, source)) = self.filed.remove(name) else {
            return;
        };
        if let Some(names) = self.by_name.get_mut(&display) {
            names.remove(name);
            if names.is_empty() {
                self.by_name.remove(&display);
            }
        }
        if let Some(filed) = self.by_source.get_mut(&source) {
            filed.names.remove(name);
            if filed.names.is_empty() {
                self.by_source.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::BackupStrategy;

    fn strategy(namespace: &str, name: &str, display: &str, secret: &str) -> BackupStrategy {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"cluster": {"name": display, "connectionSecret": secret}, "tenants": ["t1"],
                     "dataDestination": {"uri": "file:///d"}, "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
        }))
        .expect("strategy")
    }

    fn on_cluster(strategy: &BackupStrategy) -> Option<&ClusterConnection> {
        Some(&strategy.spec.cluster)
    }

    fn sorted(names: HashSet<String>) -> Vec<String> {
        let mut names: Vec<_> = names.into_iter().collect();
        names.sort();
        names
    }

    #[test]
    fn a_cluster_is_found_by_its_display_name_or_its_source_within_a_namespace() {
        let mut index = ByCluster::default();
        for s in [
            strategy("ns", "a", "east", "east-db"),
            strategy("ns", "b", "east-again", "east-db"),
            strategy("ns", "c", "east", "other-db"),
            strategy("ns", "d", "west", "west-db"),
            strategy("other", "e", "east", "east-db"),
        ] {
            index.insert(&s, on_cluster(&s));
        }
        let east = ClusterConnection::through_secret("east", "east-db");
        assert_eq!(sorted(index.names("ns", &east)), ["a", "b", "c"]);
        assert_eq!(sorted(index.names("other", &east)), ["e"]);
        assert!(index.names("none", &east).is_empty());
        let mut sources: Vec<_> = index
            .sources()
            .map(|(ns, connection, names)| {
                (ns, connection.source_parts().1.to_string(), names.len())
            })
            .collect();
        sources.sort();
        assert_eq!(
            sources,
            [
                ("ns", "east-db".into(), 2),
                ("ns", "other-db".into(), 1),
                ("ns", "west-db".into(), 1),
                ("other", "east-db".into(), 1)
            ]
        );
    }

    #[test]
    fn an_object_that_moves_or_goes_is_taken_out_from_under_its_old_cluster() {
        let mut index = ByCluster::default();
        let before = strategy("ns", "a", "east", "east-db");
        index.insert(&before, on_cluster(&before));
        let moved = strategy("ns", "a", "west", "west-db");
        index.insert(&moved, on_cluster(&moved));
        let east = ClusterConnection::through_secret("east", "east-db");
        let west = ClusterConnection::through_secret("west", "west-db");
        assert!(index.names("ns", &east).is_empty(), "not under the old one");
        assert_eq!(sorted(index.names("ns", &west)), ["a"]);
        assert_eq!(index.sources().count(), 1, "the old source is dropped");
        index.remove(&moved);
        assert!(index.names("ns", &west).is_empty());
        assert!(
            index.namespaces.is_empty(),
            "an emptied namespace is dropped"
        );
    }

    #[test]
    fn the_index_of_a_store_files_every_valid_object_it_holds() {
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<BackupStrategy>>();
        for name in ["a", "b"] {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(Guarded(Ok(
                strategy("ns", name, "east", "east-db"),
            ))));
        }
        let east = ClusterConnection::through_secret("east", "east-db");
        let index = ByCluster::of(&[store], on_cluster);
        assert_eq!(sorted(index.names("ns", &east)), ["a", "b"]);
    }
}
