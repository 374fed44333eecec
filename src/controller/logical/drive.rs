//! The one way a task whose work runs in this process (a logical dump or load) is reconciled, mirroring
//! [`crate::controller::task`] for the work OceanBase runs. A kind says, through [`WorkTask`], what its work
//! needs and what its status becomes for the work's state; [`drive`] does the rest, the same way for both:
//!
//! 1. a task that ended is left alone (its status only records that it saw a new generation);
//! 2. its references are read — wrong ones give a Stalled status and nothing runs;
//! 3. its work is asked for (or canceled) in the background registry under the task's key;
//! 4. the pure decision is made from the work's state and written, health applied once;
//! 5. work whose end is in the status is forgotten; the task is looked at again when the decision says.

use std::{fmt::Debug, future::Future, sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Resource,
    core::{NamespaceResourceScope, object::HasStatus},
    runtime::controller::Action,
};
use serde::de::DeserializeOwned;

use crate::{
    background::Key,
    controller::{
        Context, Error,
        conditions::Health,
        status::{self, StatusView},
    },
    logical::jobs::{JobState, Work},
};

/// What a task's references came to.
pub enum Dereferenced<S> {
    /// Everything its work needs: the work, under its key, and the status it starts from.
    Ready { key: Key, work: Box<Work>, base: S },
    /// Something is wrong or not there yet: the status to show meanwhile, and when to look again.
    Hold { status: S, then: Action },
    /// Nothing to write now: when to look again.
    Later(Action),
}

/// What a task's status becomes for its work's state: the status, its health (and extra conditions), and
/// when to look again (`None`: not until something changes).
pub struct Decided<S> {
    pub status: S,
    pub health: Health,
    pub extra: Option<Vec<Condition>>,
    pub wait: Option<Duration>,
}

impl<S: StatusView> Decided<S> {
    /// The status with its health applied, for an object at `generation`, and when to look again.
    pub fn applied(self, generation: Option<i64>, now: Timestamp) -> (S, Option<Duration>) {
        let status = status::with_health(self.status, generation, &self.health, self.extra, now);
        (status, self.wait)
    }
}

/// A task kind whose work runs in this process.
pub trait WorkTask:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasStatus<Status: StatusView + Clone + Default + Send + Sync>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
{
    /// Whether it ended and nothing asks it to run again.
    fn ended(&self) -> bool;
    /// Its status once it saw its current generation.
    fn seen(&self) -> Self::Status;
    /// Whether its spec asks to stop the work.
    fn canceled(&self) -> bool;
    /// Reads what its work needs.
    fn dereference(
        &self,
        ctx: &Context,
    ) -> impl Future<Output = Result<Dereferenced<Self::Status>, Error>> + Send;
    /// Its status, from `base`, for the work's `state`.
    fn decide(&self, base: Self::Status, state: &JobState, now: Timestamp)
    -> Decided<Self::Status>;
    /// Whether `status` is an end (its work is then forgotten).
    fn is_terminal(status: &Self::Status) -> bool;
}

/// Reconciles a task whose work runs in this process.
pub async fn drive<T: WorkTask>(task: Arc<T>, ctx: Arc<Context>) -> Result<Action, Error> {
    let generation = task.meta().generation;
    if task.ended() {
        if task.status().map(StatusView::observed_generation) != Some(generation) {
            let seen = task.seen();
            status::write(&ctx, task.as_ref(), task.status(), &seen).await?;
        }
        return Ok(Action::await_change());
    }
    let (key, work, base) = match task.dereference(&ctx).await? {
        Dereferenced::Ready { key, work, base } => (key, work, base),
        Dereferenced::Hold { status, then } => {
            status::write(&ctx, task.as_ref(), task.status(), &status).await?;
            return Ok(then);
        }
        Dereferenced::Later(then) => return Ok(then),
    };
    let state = if task.canceled() {
        ctx.logical_work.cancel(&key, &work)
    } else {
        ctx.logical_work.ensure(&key, &work)
    };
    let now = crate::clock::now();
    let (desired, wait) = task.decide(base, &state, now).applied(generation, now);
    status::write(&ctx, task.as_ref(), task.status(), &desired).await?;
    if T::is_terminal(&desired) {
        // Its end is in the status now.
        ctx.logical_work.forget(&key);
    }
    Ok(wait.map_or_else(Action::await_change, Action::requeue))
}
