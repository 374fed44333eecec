//! What every reconcile of one controller shares ([`Context`]): the clients, the observers, the caches, the
//! write budget, what was sent lately ([`super::gate::Statements`]) and the per-object failure backoff.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use kube::{
    Client, Resource, ResourceExt,
    runtime::events::{Event, Recorder, Reporter},
};
#[cfg(test)]
use tokio_util::sync::CancellationToken;

use super::{catalog, gate, write_budget};
use crate::{
    metrics::Metrics,
    observer::{Observers, PollIntervals},
    sync::lock,
};

/// Field manager of every status the operator writes.
pub const FIELD_MANAGER: &str = "ob-backup-operator";

/// What every reconcile of one controller shares.
pub struct Context {
    /// Kubernetes client, authenticated as the operator.
    pub client: Client,
    /// Exported metrics.
    pub metrics: Arc<Metrics>,
    /// The kind this controller reconciles, e.g. `BackupTask`.
    pub controller: &'static str,
    /// The observers of the OceanBase clusters.
    pub observers: Arc<Observers>,
    /// Operator-wide settings.
    pub settings: Settings,
    /// Every controller's cache of its objects.
    pub catalog: Arc<catalog::Catalog>,
    /// Outcomes of recent Secret checks, so that objects naming one Secret share a GET.
    pub secret_checks: super::secret_checks::SecretChecks,
    /// The operator's write rate to the API, shared by every controller.
    pub writes: Arc<write_budget::WriteBudget>,
    recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
    /// Malformed objects already reported, with the generation reported: the report is a status write, which
    /// is itself a watch event, so without this every report would trigger the next one.
    malformed: Mutex<HashMap<String, Option<i64>>>,
    /// The statements sent lately, per object.
    pub statements: gate::Statements,
    /// The copies this controller runs itself (the second backups); one ending wakes its object.
    pub copies: crate::storage::copies::Copies,
    /// The logical dumps and restores this controller runs itself; one ending wakes its task.
    pub logical_work: crate::logical::jobs::Jobs,
    /// The restore drills' checks this controller runs itself; one ending wakes its RecoveryTask.
    pub drill_checks: crate::background::Background<crate::drill::checks::Checks>,
    /// When each strategy's destinations were last checked from this process, and what was found.
    pub destination_checks: super::destination_checks::DestinationChecks,
    /// Which namespaces' objects this replica reconciles (all of them unless the operator is sharded).
    pub shards: Arc<crate::shards::Shards>,
    /// One reconcile at a time per object across this kind's controllers (with shards, a task whose label
    /// changes is in two of them for a moment).
    pub turns: crate::sync::Turns,
    /// The versions this controller's status writes left lately, per object (a cached copy behind them is
    /// not reconciled).
    pub own_writes: super::own_writes::OwnWrites,
}

/// Operator-wide settings the controllers read.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How often observers poll OceanBase while something is active, and while idle.
    pub poll: PollIntervals,
    /// A running backup without progress for this long gets `Progressing=False`.
    pub backup_stall_timeout: Duration,
    /// Where `file://` destinations are reached in this process (`None`: at their own paths).
    pub file_root: Option<&'static std::path::Path>,
    /// How often a strategy's destinations are checked from this process.
    pub destination_check: Duration,
    /// Whether ob-operator's objects are read (when its CRDs are installed).
    pub ob_operator: bool,
    /// How the controllers' watches list what exists at the start.
    pub initial_list: super::initial_list::InitialList,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll: PollIntervals::default(),
            backup_stall_timeout: crate::timing::BACKUP_STALL_TIMEOUT,
            file_root: None,
            destination_check: crate::timing::DESTINATION_CHECK,
            ob_operator: true,
            initial_list: super::initial_list::InitialList::Auto,
        }
    }
}

impl Context {
    /// A context for the controller of `controller`, publishing Events as `reporter`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        controller: &'static str,
        reporter: Reporter,
        observers: Arc<Observers>,
        settings: Settings,
        catalog: Arc<catalog::Catalog>,
        writes: Arc<write_budget::WriteBudget>,
    ) -> Self {
        let waker = observers.clone();
        // Background work's end wakes the object its key names.
        let wake: crate::background::OnEnd = Arc::new(move |key: &crate::background::Key| {
            waker.wake(&crate::observer::ObjectKey {
                kind: controller,
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            });
        });
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            controller,
            observers,
            settings,
            catalog,
            secret_checks: super::secret_checks::SecretChecks::default(),
            writes,
            failures: Mutex::default(),
            malformed: Mutex::default(),
            statements: gate::Statements::default(),
            copies: crate::storage::copies::Copies::new(wake.clone()),
            logical_work: crate::logical::jobs::Jobs::new(wake.clone()),
            drill_checks: crate::background::Background::new(wake),
            destination_checks: Default::default(),
            shards: Arc::new(crate::shards::Shards::whole()),
            turns: crate::sync::Turns::default(),
            own_writes: Default::default(),
        }
    }

    /// A context for unit tests, on a mocked API.
    #[cfg(test)]
    pub fn for_tests(client: Client, controller: &'static str) -> Self {
        Self::for_tests_on(client, controller, Arc::new(crate::oceanbase::MysqlConnect))
    }

    /// A context for unit tests, on a mocked API, reaching clusters through `connector`.
    #[cfg(test)]
    pub fn for_tests_on(
        client: Client,
        controller: &'static str,
        connector: Arc<dyn crate::oceanbase::Connect>,
    ) -> Self {
        let observers = Observers::new(
            client.clone(),
            connector,
            Arc::default(),
            PollIntervals::default(),
            CancellationToken::new(),
        );
        let catalog = Arc::new(catalog::Catalog::new(
            client.clone(),
            Arc::new(crate::readiness::Readiness::new(0)),
        ));
        Self::new(
            client,
            Arc::default(),
            controller,
            Reporter {
                controller: FIELD_MANAGER.into(),
                instance: None,
            },
            observers,
            Settings::default(),
            catalog,
            Arc::default(),
        )
    }

    /// Publishes an Event about `obj`, within the write budget. Events accompany transitions (a phase, a
    /// stall): news, so urgent. A failure to publish is logged, never fatal.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, event: Event) {
        self.writes.acquire(write_budget::Priority::Urgent).await;
        if let Err(error) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(%error, reason = %event.reason, object = %obj.name_any(), "could not publish event");
        }
    }

    /// The delay before retrying an object that failed `attempt` times in a row: 2 s doubling to 5 min,
    /// with up to 10% jitter so that many failing objects do not retry in step.
    pub(super) fn backoff(&self, key: &str) -> Duration {
        let attempt = {
            let mut failures = lock(&self.failures);
            let n = failures.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let base =
            crate::timing::BACKOFF_FIRST.saturating_mul(1 << attempt.min(10).saturating_sub(1));
        let capped = base.min(crate::timing::BACKOFF_MAX);
        capped + capped.mul_f64(jitter_fraction(key, attempt) * 0.1)
    }

    pub(super) fn succeeded(&self, key: &str) {
        lock(&self.failures).remove(key);
    }

    /// Whether this generation of a malformed object is yet to be reported (and records it as reported).
    pub(super) fn first_report(&self, key: &str, generation: Option<i64>) -> bool {
        let mut reported = lock(&self.malformed);
        reported.insert(key.to_string(), generation) != Some(generation)
    }

    /// Forgets a malformed report once the object parses again.
    pub(super) fn parsed(&self, key: &str) {
        lock(&self.malformed).remove(key);
    }
}

/// A number in [0, 1) that differs between objects and attempts, without a random number generator.
fn jitter_fraction(key: &str, attempt: u32) -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let hash = RandomState::new().hash_one((key, attempt));
    (hash % 1000) as f64 / 1000.0
}
