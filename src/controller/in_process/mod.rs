//! The in-process tier: a kind's real reconcile against the fake API server ([`super::fixtures::FakeApi`])
//! and a scripted OceanBase ([`crate::oceanbase::fake::FakeCluster`]), both writing one journal, so the order
//! of the side effects is what the tests read: the intent is stored before the statement that acts on it,
//! a statement goes once, a refused one is not retried at once, an unchanged status is not written again.

use std::sync::Arc;

use kube::runtime::controller::Action;

use super::{Context, Reconcile, fixtures::FakeApi};
use crate::controller::guarded::Guarded;
use crate::{
    api::common::ClusterSource,
    observer::{ClusterKey, Observation},
    oceanbase::{
        Snapshot,
        fake::{self, Entry, FakeCluster, FakeConnect, Journal},
    },
};

mod backup_strategy;
mod backup_task;
mod cleanup_task;
mod log_backup;
mod logical_backup_task;
mod observer_reach;
mod recovery_task;

const SECRET: &str = "/api/v1/namespaces/ns/secrets/db";

/// A fake API server and a fake cluster sharing a journal, and a controller context on both.
pub struct Rig {
    kind: &'static str,
    api: FakeApi,
    cluster: Arc<FakeCluster>,
    journal: Journal,
    ctx: Arc<Context>,
}

impl Rig {
    /// A cluster showing `snapshot`, and its connection Secret.
    fn new(kind: &'static str, snapshot: Snapshot) -> Self {
        let journal = Journal::default();
        let cluster = FakeCluster::new(snapshot, journal.clone());
        let api = FakeApi::new(journal.clone());
        let data = [
            ("host", "127.0.0.1"),
            ("port", "2881"),
            ("user", "root@sys"),
            ("password", "pw"),
        ]
        .into_iter()
        .map(|(key, value)| {
            (
                key.to_string(),
                k8s_openapi::ByteString(value.as_bytes().to_vec()),
            )
        })
        .collect();
        let secret = k8s_openapi::api::core::v1::Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("db".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        api.put(SECRET, serde_json::to_value(secret).expect("JSON"));
        let ctx = Arc::new(Context::for_tests_on(
            api.client(),
            kind,
            Arc::new(FakeConnect(cluster.clone())),
        ));
        Self {
            kind,
            api,
            cluster,
            journal,
            ctx,
        }
    }

    /// The same API server and cluster seen by a new operator process: nothing read yet.
    fn restarted(&self) -> Self {
        let ctx = Arc::new(Context::for_tests_on(
            self.api.client(),
            self.kind,
            Arc::new(FakeConnect(self.cluster.clone())),
        ));
        Self {
            kind: self.kind,
            api: self.api.clone(),
            cluster: self.cluster.clone(),
            journal: self.journal.clone(),
            ctx,
        }
    }

    /// Reconciles the object stored at `path` as it is stored now, and as a controller's cache holds it
    /// ([`super::runtime::trim_cached`]): what the cache lets go must not be what a reconcile needs. The
    /// catalog's caches hold what the API holds, as the operator's would once synced.
    async fn reconcile<K: Reconcile>(&self, path: &str) -> Action {
        self.reconcile_copy::<K>(self.api.get(path).expect("a stored object"))
            .await
    }

    /// Reconciles `copy`, an object as it was stored at some moment (a cache behind the API), as
    /// [`Self::reconcile`] does.
    async fn reconcile_copy<K: Reconcile>(&self, copy: serde_json::Value) -> Action {
        self.fill_caches();
        let mut cached: Guarded<K> = serde_json::from_value(copy).expect("an object");
        super::runtime::trim_cached(&mut cached);
        let object = cached.0.expect("a valid object");
        K::reconcile(Arc::new(object), self.ctx.clone())
            .await
            .expect("reconcile")
    }

    /// Reconciles the object at `path` ([`Self::reconcile`]) and returns the API requests that sent, each in
    /// a few words ([`request_kind`]).
    async fn requests_of<K: Reconcile>(&self, path: &str) -> Vec<String> {
        let before = self.api.requests().len();
        self.reconcile::<K>(path).await;
        let requests = self.api.requests().split_off(before);
        requests.iter().map(|r| request_kind(r)).collect()
    }

    /// Fills the catalog's caches of every kind with what the API holds now, trimmed as the controllers'
    /// caches trim it.
    fn fill_caches(&self) {
        use crate::api::{BackupStrategy, BackupTask, CleanupTask, LogBackup, RecoveryTask};
        self.fill_cache::<BackupStrategy>();
        self.fill_cache::<BackupTask>();
        self.fill_cache::<LogBackup>();
        self.fill_cache::<CleanupTask>();
        self.fill_cache::<RecoveryTask>();
    }

    fn fill_cache<K: Reconcile>(&self) {
        use kube::runtime::watcher::Event;
        let (store, mut writer) = kube::runtime::reflector::store::<Guarded<K>>();
        let collection = format!(
            "{}/namespaces/ns/{}",
            super::fixtures::GROUP,
            K::plural(&())
        );
        for object in self.api.items(&collection) {
            let mut cached: Guarded<K> = serde_json::from_value(object).expect("an object");
            super::runtime::trim_cached(&mut cached);
            writer.apply_watcher_event(&Event::Apply(cached));
        }
        let catalog = &self.ctx.catalog;
        catalog.register::<K>(vec![store]);
        catalog.follow::<K>(&Event::InitDone, K::strategy_ref, K::ON_CLUSTER);
        catalog.cache_synced::<K>(K::KIND, 0, 1);
    }

    /// The first looks at a new object: one before the cluster was read (it starts the observer), then one
    /// after.
    async fn first_looks<K: Reconcile>(&self, path: &str) {
        self.reconcile::<K>(path).await;
        self.observed().await;
        self.reconcile::<K>(path).await;
    }

    /// The observer of the cluster the connection Secret names (started if it was not).
    fn observer(&self) -> Arc<crate::observer::ClusterObserver> {
        self.ctx.observers.observe(
            ClusterKey {
                namespace: "ns".into(),
                source: ClusterSource::Secret("db".into()),
            },
            "obcluster",
        )
    }

    /// Waits until the cluster's observer has read the cluster after this moment.
    async fn observed(&self) {
        let observer = self.observer();
        let asked = crate::clock::now();
        observer.poke();
        super::fixtures::eventually("a fresh observation", || {
            matches!(observer.latest(), Observation::Seen { at, .. } if at >= asked).then_some(())
        })
        .await;
    }

    /// Asserts that the first statement containing `statement` went once, and after an intent was stored.
    fn assert_intent_then_once(&self, statement: &str) {
        let entries = self.journal.entries();
        let intent = position(
            &entries,
            |e| matches!(e, Entry::Status { status, .. } if status.get("submittedAt").is_some()),
        )
        .expect("an intent was stored");
        let sent = position(
            &entries,
            |e| matches!(e, Entry::Sql(batch) if batch.iter().any(|s| s.contains(statement))),
        )
        .unwrap_or_else(|| panic!("{statement} was not sent: {entries:#?}"));
        assert!(
            intent < sent,
            "the intent precedes {statement}: {entries:#?}"
        );
        assert_eq!(self.sent(statement), 1, "{:#?}", self.journal.statements());
    }

    /// The entries recorded after the first `from`.
    fn since(&self, from: usize) -> Vec<Entry> {
        self.journal.entries().split_off(from)
    }

    /// The statements sent so far that contain `text`.
    fn sent(&self, text: &str) -> usize {
        self.journal
            .statements()
            .iter()
            .filter(|s| s.contains(text))
            .count()
    }
}

/// tenant1 (1002) NORMAL, archiving (DOING), DATA_BACKUP_DEST file:///data, on 4.4.1.
pub fn ready_cluster() -> Snapshot {
    fake::snapshot()
        .version("4.4.1.0")
        .tenant(fake::tenant(1002, "tenant1"))
        .round(fake::round(1002, "DOING"))
        .data_dest(1002, "file:///data")
        .build()
}

/// Strategy `nightly` of tenant1 with `method` (`Physical` or `Logical`, dumping as Secret `dumper`), stored.
pub fn strategy_of_method(rig: &Rig, method: &str) {
    let logical = (method == "Logical").then(|| serde_json::json!({"credentialsSecret": "dumper"}));
    let strategy = serde_json::json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "nightly", "namespace": "ns", "uid": "uid-s", "generation": 1,
                     "resourceVersion": "1"},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "db"}, "tenants": ["tenant1"],
                 "method": method, "logical": logical,
                 "dataDestination": {"uri": "file:///data"}, "logDestination": {"uri": "file:///archive"},
                 "schedule": {"timeZone": "UTC", "full": "0 * * * *"}},
    });
    rig.api.put(
        "/apis/obbackup.dev/v1alpha1/namespaces/ns/backupstrategies/nightly",
        strategy,
    );
}

/// The `Stalled` condition of `conditions` that is True, if any.
pub fn stalled(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions
        .iter()
        .find(|c| c.type_ == crate::controller::conditions::STALLED && c.status == "True")
}

/// Where in the journal the first entry `matches` accepts is.
pub fn position(entries: &[Entry], matches: impl Fn(&Entry) -> bool) -> Option<usize> {
    entries.iter().position(matches)
}

/// What a request to the fake API is, in a few words: `read Secret`, `list <plural>`, `write status`,
/// `apply <plural>`, `delete <plural>`, `Event`.
pub fn request_kind(request: &str) -> String {
    let (method, path) = request.split_once(' ').unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let plural = |from_end: usize| {
        segments
            .len()
            .checked_sub(from_end)
            .and_then(|i| segments.get(i))
            .copied()
            .unwrap_or_default()
    };
    match method {
        "GET" if path.contains("/secrets/") => "read Secret".into(),
        "GET" if super::fixtures::is_collection(path) => format!("list {}", plural(1)),
        "PATCH" if path.ends_with("/status") => "write status".into(),
        "PATCH" => format!("apply {}", plural(2)),
        "POST" if path.ends_with("/events") => "Event".into(),
        "DELETE" => format!("delete {}", plural(2)),
        _ => format!("unexpected {request}"),
    }
}

/// Expected steps of a request guard, `(step, requests)`, in the shape the guard records them.
pub fn steps<'a>(expected: &[(&'a str, &[&str])]) -> Vec<(&'a str, Vec<String>)> {
    expected
        .iter()
        .map(|(step, requests)| (*step, requests.iter().map(|r| r.to_string()).collect()))
        .collect()
}
