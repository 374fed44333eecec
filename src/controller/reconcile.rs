//! The [`Reconcile`] trait every kind implements, and the helpers every kind's reconcile uses: when to look
//! again, refusing to act, summarizing problems as conditions, an object's namespace.

use std::{fmt::Debug, sync::Arc};

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{Resource, runtime::controller::Action};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    Context, Error,
    conditions::{Health, merge},
    error,
    gate::Kind,
    status,
};
use crate::{metrics::Metrics, observer::ObjectKey};

/// A kind with a controller.
pub trait Reconcile:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    /// The kind's name, used as the controller label in logs and metrics.
    const KIND: &'static str;

    /// The annotations of this kind the operator reads; the cached copy keeps only these (an annotation
    /// takes a map of its own, and a touch by another tool then wakes nothing).
    const READ_ANNOTATIONS: &'static [&'static str];

    /// Drops from the cached copy what nothing reads once the object has settled; by default nothing.
    fn settle_cached(&mut self) {}

    /// The strategy the object works through (its `strategyRef`), for the catalog's index of a strategy's
    /// objects; by default none.
    fn strategy_ref(&self) -> Option<&str> {
        None
    }

    /// Whether the object's reconcile has nothing to do until it changes (it returns at once): such an
    /// object is not woken when this replica takes its shard; by default every object is.
    fn settled(&self) -> bool {
        false
    }

    /// Whether a replica caches only the objects of this kind of the shards it holds, selected by their
    /// [`crate::shards::SHARD_LABEL`] (and every object without one); by default every replica caches
    /// every object. Only one kind may say so: its caches decide when a shard is filled.
    const CACHED_BY_SHARD: bool = false;

    /// The cluster an object of this kind is on, for the catalog's index by cluster; `None` for a kind
    /// the catalog does not index so (every object costs the index a few names).
    const ON_CLUSTER: Option<super::catalog::OnCluster<Self>> = None;

    /// The phase the object's status shows, if any (for the per-phase object counts).
    fn phase_label(&self) -> Option<&'static str>;

    /// Whether the object's status refreshes figures that move by themselves (an archive checkpoint, a
    /// delay): such objects share a part of the write budget between them
    /// ([`super::write_budget::WriteBudget::freshness`]).
    fn refreshes(&self) -> bool {
        false
    }

    /// The conditions the object's status shows (for `obbackup_objects_stalled`); by default none.
    fn conditions(&self) -> &[Condition] {
        &[]
    }

    /// Whether the object's `Progressing` condition is False (for `obbackup_objects_not_progressing`).
    fn not_progressing(&self) -> bool {
        false
    }

    /// Drops what the operator exports about objects of this kind that `alive` says are gone (a deleted
    /// object gets no last reconcile).
    fn forget_all_but(_metrics: &Metrics, _alive: &dyn Fn(&ObjectKey) -> bool) {}

    /// Brings the world one step closer to the object's spec and records what was observed.
    fn reconcile(
        obj: Arc<Self>,
        ctx: Arc<Context>,
    ) -> impl Future<Output = Result<Action, Error>> + Send;
}

/// After a statement went out for `object`: the gate remembers it (OceanBase's reason is in the status
/// already; `went_through` is false when it refused), and the observer reads the cluster again at once.
pub fn statement_sent(
    ctx: &Context,
    observer: &crate::observer::ClusterObserver,
    object: &str,
    what: &str,
    kind: Kind,
    went_through: bool,
) {
    let outcome = if went_through {
        Ok(())
    } else {
        Err(String::new())
    };
    ctx.statements.record(object, what, kind, outcome);
    observer.poke();
}

/// When to look at an object again: only after a spec change when its spec is wrong, after a while when
/// something it refers to is missing, and otherwise when something changes.
pub fn next_action(problems: &[error::Problem]) -> Action {
    if problems.is_empty() || problems.iter().any(|p| p.fix == error::Fix::Spec) {
        Action::await_change()
    } else {
        Action::requeue(error::RECHECK_REFERENCES_AFTER)
    }
}

/// Refuses to act for an object that does not own the side effect it would change: writes `desired` (its
/// status Stalled on `problems`), stops watching any cluster for it, and says when to look again.
pub async fn refuse<K, S>(
    ctx: &Context,
    obj: &K,
    object: &ObjectKey,
    current: Option<&S>,
    desired: &S,
    problems: &[error::Problem],
) -> Result<Action, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: status::StatusView,
{
    ctx.observers.unwatch(object);
    status::write(ctx, obj, current, desired).await?;
    Ok(next_action(problems))
}

/// The conditions and message of a status that cannot go on because of `problems` (Stalled on the first),
/// or, without any, is `otherwise`; unchanged conditions keep their times.
pub fn summarize(
    previous: &[Condition],
    generation: Option<i64>,
    problems: &[error::Problem],
    otherwise: Health,
    now: jiff::Timestamp,
) -> (Vec<Condition>, Option<String>) {
    let health = match problems.first() {
        Some(p) => Health::Stalled {
            reason: p.reason,
            message: p.message.clone(),
        },
        None => otherwise,
    };
    (
        merge(previous, health.conditions(generation), now),
        Some(health.message().to_string()),
    )
}
