//! The one way a task kind (BackupTask, LogBackup, CleanupTask, RecoveryTask) is reconciled. A kind says,
//! through [`Task`], what it refers to, what it decides from an observation, what statements a step sends and
//! what the status becomes after them; [`drive`] does the rest, the same way for every kind:
//!
//! 1. a task that is done and whose status describes its spec is left alone;
//! 2. its references are read — wrong ones give a Stalled status and nothing is sent;
//! 3. its cluster is observed and the pure decision made; an object that does not own what the step would
//!    change is refused;
//! 4. the statement memory ([`super::gate`]) may hold the step back;
//! 5. the status is written — for a submission, the intent (`submittedAt`) *before* anything is sent — then
//!    the statements are sent and the status after them written;
//! 6. it is looked at again when the decision, the submit grace or the safety recheck says.

use std::{fmt::Debug, future::Future, sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{ResourceExt, core::object::HasStatus, runtime::controller::Action};

use super::references::Placement;
use super::{
    Context, Error, Gate, Kind, Reconcile,
    conditions::Health,
    error::Problem,
    namespace_of, next_action, refuse,
    status::{self, StatusView},
};
use crate::{
    api::common::{ClusterConnection, StorageDestination},
    observer::{ClusterKey, ClusterObserver, Interest, ObjectKey, Observation},
    oceanbase::{ObError, Redactor},
    timing::Clock,
};

/// What a task kind decided: its status, the health that status shows, and the one step to take. The driver
/// gives the status its health ([`Self::settled`]) once, right after the decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision<S, P> {
    /// The status, before the driver gives it [`Self::health`].
    pub status: S,
    /// Where the object stands: its Ready/Reconciling/Stalled conditions and its message. `None` leaves the
    /// status's conditions as decided (an ended task looked at again).
    pub health: Option<Health>,
    /// The conditions beside the health (see [`status::with_health`]): `None` keeps the other conditions the
    /// status had.
    pub extra: Option<Vec<Condition>>,
    pub step: P,
    /// What to watch in the observer (`None` once the task has ended).
    pub interest: Option<Interest>,
    /// When to look again even if nothing changes (to notice a stuck job, a delay, a recovery point).
    pub recheck: Option<Duration>,
}

impl<S, P> Decision<S, P> {
    /// `status` as it stands and `step`, watching with `interest`, with no recheck of its own.
    pub fn new(status: S, step: P, interest: Option<Interest>) -> Self {
        Self {
            status,
            health: None,
            extra: None,
            step,
            interest,
            recheck: None,
        }
    }

    /// This decision with its status showing `health`, and `extra` beside it.
    #[must_use]
    pub fn health(self, health: Health, extra: Option<Vec<Condition>>) -> Self {
        Self {
            health: Some(health),
            extra,
            ..self
        }
    }

    /// This decision, looked at again after `recheck` even if nothing changes.
    #[must_use]
    pub fn recheck(self, recheck: Option<Duration>) -> Self {
        Self { recheck, ..self }
    }
}

impl<S: StatusView, P> Decision<S, P> {
    /// This decision with its health given to its status (and none left to give).
    #[must_use]
    pub fn settled(mut self, generation: Option<i64>, now: Timestamp) -> Self {
        let extra = self.extra.take();
        if let Some(health) = self.health.take() {
            self.status = status::with_health(self.status, generation, &health, extra, now);
        }
        self
    }
}

/// What an object's references came to.
pub enum References<R> {
    /// Everything it needs.
    Found(R),
    /// Something is wrong or missing: the problems, and the cluster name its status shows meanwhile.
    Wrong {
        problems: Vec<Problem>,
        cluster: Option<String>,
    },
    /// Something the schema requires is absent: nothing to do until the object changes.
    Incomplete,
}

impl<R> References<R> {
    /// What a reference check came to: `found` when it found it and no problem, else the problems.
    pub fn of(found: Option<R>, problems: Vec<Problem>) -> Self {
        match found {
            Some(found) if problems.is_empty() => Self::Found(found),
            _ => Self::Wrong {
                problems,
                cluster: None,
            },
        }
    }
}

/// A task's cluster and the one destination it writes to (a backup's data, an archive's log destination).
pub struct Target {
    pub placement: Placement,
    pub destination: StorageDestination,
}

impl Target {
    /// The placement of a task with the destination `pick` chooses from it (present once the check found
    /// no problem: the schema requires one).
    pub fn of(
        found: References<Placement>,
        pick: impl FnOnce(&Placement) -> Option<StorageDestination>,
    ) -> References<Self> {
        match found {
            References::Found(placement) => match pick(&placement) {
                Some(destination) => References::Found(Self {
                    placement,
                    destination,
                }),
                None => References::Incomplete,
            },
            References::Wrong { problems, cluster } => References::Wrong { problems, cluster },
            References::Incomplete => References::Incomplete,
        }
    }
}

/// When a task's submission went out, as its status records it.
pub trait Submission {
    /// When the submission went out, while its job is not known yet (the status names no job): the intent
    /// still to settle. A task following its job has none, whatever `submittedAt` still says.
    fn unsettled_intent(&self) -> Option<Timestamp>;
    /// The status recording that a submission goes out at `now`.
    fn with_intent(&self, now: Timestamp) -> Self;
}

/// Implements [`Submission`] for a kind's status type with a `submittedAt` (each kind registers its own, in
/// its module: this layer names no kind).
macro_rules! submission {
    ($status:ty) => {
        impl $crate::controller::task::Submission for $status {
            fn unsettled_intent(&self) -> Option<jiff::Timestamp> {
                self.submitted_at
                    .as_ref()
                    .filter(|_| self.job_id.is_none())
                    .map(|t| t.0)
            }
            fn with_intent(&self, now: jiff::Timestamp) -> Self {
                Self {
                    submitted_at: Some($crate::controller::conditions::api_time(now)),
                    ..self.clone()
                }
            }
        }
    };
}
pub(crate) use submission;

/// What a step does to OceanBase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: the status is written, nothing is sent.
    None,
    /// Statements sent after the status is written.
    Send(Kind),
    /// A submission: the intent is written first, the statements (tagged so that a lookup finds the job)
    /// sent after; it may be sent again only once a lookup proves it never arrived.
    Submit,
}

/// The statements a step sends, with the secrets they carry (hidden from any error).
pub struct Batch {
    pub statements: Vec<Result<String, ObError>>,
    pub redactor: Redactor,
}

impl Batch {
    /// Statements that carry no secret.
    pub fn plain(statements: Vec<Result<String, ObError>>) -> Self {
        Self {
            statements,
            redactor: Redactor::default(),
        }
    }
}

/// What a step turned out to need once its secrets were read.
pub enum Prepared<S> {
    /// Send these.
    Send(Batch),
    /// Send nothing; write this status instead (a missing password, nothing left to release).
    Hold(S),
}

/// A task kind, as [`drive`] needs it.
pub trait Task:
    Reconcile + HasStatus<Status: StatusView + Submission + Clone + Debug + Send + Sync>
{
    type Step: Copy + Debug + PartialEq + Send + Sync;
    /// What the object's references resolve to.
    type Refs: Send + Sync;
    /// Look again at least this often while the task is watched.
    const SAFETY_RECHECK: Duration;

    /// Whether nothing is left to do: a final phase, nothing to release, no retry asked for.
    fn done(&self) -> bool;

    /// Reads what the object refers to.
    fn dereference(
        &self,
        ctx: &Context,
        namespace: &str,
    ) -> impl Future<Output = Result<References<Self::Refs>, Error>> + Send;

    /// The cluster the task acts on.
    fn cluster(refs: &Self::Refs) -> &ClusterConnection;

    /// The status of an object that cannot go on: Stalled on the first problem, phase kept.
    fn stalled(
        &self,
        cluster: Option<String>,
        problems: &[Problem],
        now: Timestamp,
    ) -> Self::Status;

    /// The pure decision: the status, the health it shows (given to it by [`drive`]) and the step.
    fn decide(
        &self,
        ctx: &Context,
        refs: &Self::Refs,
        observation: &Observation,
        clock: Clock,
    ) -> Decision<Self::Status, Self::Step>;

    /// Another object owns what `step` would change (the tenant's destination, its archiving): why.
    fn conflict(
        &self,
        _ctx: &Context,
        _namespace: &str,
        _refs: &Self::Refs,
        _step: Self::Step,
    ) -> impl Future<Output = Result<Option<Problem>, Error>> + Send {
        async { Ok(None) }
    }

    /// Work the operator does itself beside OceanBase (a second backup's copy): started or read here, its
    /// state folded into the decided status (which shows its health already). Never waits for the work; never
    /// runs for a refused object.
    fn background(
        &self,
        _ctx: &Context,
        _namespace: &str,
        _refs: &Self::Refs,
        _seen: &Observation,
        _decision: &mut Decision<Self::Status, Self::Step>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// After the decision, with the observation it read (a metric to export beside it).
    fn observed(&self, _ctx: &Context, _namespace: &str, _refs: &Self::Refs, _seen: &Observation) {}

    /// What `step` does.
    fn effect(step: Self::Step) -> Effect;

    /// The statements `step` sends, given the status written before them.
    fn prepare(
        &self,
        ctx: &Context,
        namespace: &str,
        refs: &Self::Refs,
        step: Self::Step,
        status: &Self::Status,
    ) -> impl Future<Output = Result<Prepared<Self::Status>, Error>> + Send;

    /// The status after `step`'s statements, and a step that must follow at once (without a decision).
    fn after(
        &self,
        step: Self::Step,
        sent: Self::Status,
        outcome: Result<(), ObError>,
        now: Timestamp,
    ) -> (Self::Status, Option<Self::Step>);

    /// An error that still means the step is done (already in the asked mode).
    fn done_anyway(_error: &ObError) -> bool {
        false
    }
}

/// Whether nothing is left to do and the status already describes the spec: such a task's reconcile reads and
/// writes nothing ([`drive`]), so its cached copy may keep less ([`Reconcile::settle_cached`]).
pub fn settled<T: Task>(obj: &T) -> bool {
    obj.done() && obj.status().map(StatusView::observed_generation) == Some(obj.meta().generation)
}

/// Reconciles one task of kind `T`.
pub async fn drive<T: Task>(obj: Arc<T>, ctx: Arc<Context>) -> Result<Action, Error> {
    let generation = obj.meta().generation;
    if settled(obj.as_ref()) {
        // Nothing left to do or to show: no reference to read, no cluster to watch. A cluster with years
        // of finished tasks costs nothing per task at start.
        return Ok(Action::await_change());
    }
    let namespace = namespace_of(obj.as_ref())?;
    let refs = match obj.dereference(&ctx, &namespace).await? {
        References::Found(refs) => refs,
        References::Incomplete => return Ok(Action::await_change()),
        References::Wrong { .. } if obj.done() => return Ok(Action::await_change()),
        References::Wrong { problems, cluster } => {
            let desired = obj.stalled(cluster, &problems, crate::clock::now());
            status::write(&ctx, obj.as_ref(), obj.status(), &desired).await?;
            return Ok(next_action(&problems));
        }
    };
    let connection = T::cluster(&refs);
    let observer = ctx
        .observers
        .observe(ClusterKey::of(&namespace, connection), &connection.name);
    let observation = observer.latest();
    let clock = Clock::current();
    let mut decision = obj
        .decide(&ctx, &refs, &observation, clock)
        .settled(generation, clock.now);
    let object = ObjectKey {
        kind: T::KIND,
        namespace: namespace.clone(),
        name: obj.name_any(),
    };
    if let Some(problem) = obj.conflict(&ctx, &namespace, &refs, decision.step).await? {
        let problems = [problem];
        let cluster = Some(connection.name.clone());
        let desired = obj.stalled(cluster, &problems, crate::clock::now());
        let current = obj.status();
        return refuse(&ctx, obj.as_ref(), &object, current, &desired, &problems).await;
    }
    obj.background(&ctx, &namespace, &refs, &observation, &mut decision)
        .await?;
    ctx.observers
        .watch(&observer, object, decision.interest.clone());
    obj.observed(&ctx, &namespace, &refs, &observation);
    if matches!(observation, Observation::Unknown)
        && obj.status().map(StatusView::observed_generation) == Some(generation)
    {
        // Nothing read of the cluster yet (the operator just started): the status this spec already has
        // stays until the first read, rather than saying "reading cluster" and back. The read wakes the
        // task; it also looks again each active poll until then, so that a wake-up lost to a read that
        // began before its interest was known costs a second, not a safety recheck.
        return Ok(Action::requeue(crate::timing::ACTIVE_POLL));
    }
    let place = Place {
        ctx: &ctx,
        namespace: &namespace,
        refs: &refs,
        observer: &observer,
    };
    carry_out(obj.as_ref(), &place, &decision).await
}

/// Carries out a decision the statement memory lets through, and says when to look again.
async fn carry_out<T: Task>(
    obj: &T,
    place: &Place<'_, T::Refs>,
    decision: &Decision<T::Status, T::Step>,
) -> Result<Action, Error> {
    let ctx = place.ctx;
    let key = format!("{}/{}", place.namespace, obj.name_any());
    let attempt = format!("{:?}", decision.step);
    let kind = match T::effect(decision.step) {
        Effect::Send(kind) => kind,
        Effect::None | Effect::Submit => Kind::Repeatable,
    };
    match ctx.statements.gate(&key, &attempt, kind) {
        Gate::Open => {}
        // The status already says why the last attempt failed; try again later, writing nothing now.
        Gate::Refused(wait) => return Ok(Action::requeue(wait)),
        Gate::Settling(wait) => {
            status::write(ctx, obj, obj.status(), &decision.status).await?;
            return Ok(Action::requeue(wait));
        }
    }
    match act(obj, place, decision).await? {
        Acted::Done(None) => {}
        Acted::Done(Some(went_through)) => {
            super::statement_sent(ctx, place.observer, &key, &attempt, kind, went_through);
        }
        Acted::Stale => {
            tracing::info!(object = %key, kind = T::KIND, "changed since it was read: nothing sent; deciding again");
            return Ok(Action::requeue(crate::timing::STALE_COPY_RECHECK));
        }
    }
    Ok(ctx.statements.requeue(&key, next_look::<T>(decision)))
}

/// How soon to look again after a decision was carried out, if nothing wakes the task first. Only an
/// intent not yet settled is looked at again at its grace's end and every few seconds after it (a
/// `submittedAt` kept beside the job it found made every running task look again every five seconds).
fn next_look<T: Task>(decision: &Decision<T::Status, T::Step>) -> Option<Duration> {
    let grace = Clock::current().grace_recheck(decision.status.unsettled_intent());
    let recheck = decision.recheck.map(crate::clock::real);
    match decision.interest {
        // Watched: the observer wakes it; look again at least this often anyway.
        Some(_) => Some(
            recheck
                .into_iter()
                .chain(grace)
                .fold(T::SAFETY_RECHECK, Duration::min),
        ),
        // Nothing left to watch in OceanBase; work of the operator's own may still want a look.
        None => recheck,
    }
}

/// Where a task acts.
struct Place<'a, R> {
    ctx: &'a Context,
    namespace: &'a str,
    refs: &'a R,
    observer: &'a ClusterObserver,
}

/// What carrying out a decision came to.
enum Acted {
    /// Whether statements were sent and went through (`None`: none were sent; an unanswered submission
    /// counts as through: the lookup by its tag settles it).
    Done(Option<bool>),
    /// The object changed after the copy the decision was made from (its intent could not be stored over
    /// it): nothing was sent.
    Stale,
}

/// The status writes of one look at an object, which know the object's resourceVersion after each: an
/// intent is stored only over the version this look read or last wrote.
struct Writes<'a, T> {
    ctx: &'a Context,
    obj: &'a T,
    version: Option<String>,
}

impl<T: Task> Writes<'_, T> {
    async fn status(
        &mut self,
        current: Option<&T::Status>,
        desired: &T::Status,
    ) -> Result<(), Error> {
        let written = status::write_over(self.ctx, self.obj, current, desired, None).await?;
        self.note(written);
        Ok(())
    }

    /// Stores the intent unless the object changed since this look read or last wrote it (another look
    /// from another copy may have stored an intent and sent its statement meanwhile). Returns whether it
    /// is stored.
    async fn intent(
        &mut self,
        current: Option<&T::Status>,
        intent: &T::Status,
    ) -> Result<bool, Error> {
        let over = self.version.clone();
        let written =
            status::write_over(self.ctx, self.obj, current, intent, over.as_deref()).await?;
        let stored = written != status::Written::Stale;
        self.note(written);
        Ok(stored)
    }

    fn note(&mut self, written: status::Written) {
        if let status::Written::Stored(version) = written {
            self.version = version;
        }
    }
}

/// Writes the decided status and carries out its step (and any step that must follow it).
async fn act<T: Task>(
    obj: &T,
    place: &Place<'_, T::Refs>,
    decision: &Decision<T::Status, T::Step>,
) -> Result<Acted, Error> {
    let ctx = place.ctx;
    let mut writes = Writes {
        ctx,
        obj,
        version: obj.resource_version(),
    };
    let mut current = obj.status().cloned();
    let mut step = decision.step;
    let mut status = decision.status.clone();
    let mut first = None;
    loop {
        let effect = T::effect(step);
        if effect == Effect::None {
            writes.status(current.as_ref(), &status).await?;
            return Ok(Acted::Done(first));
        }
        let batch = match obj
            .prepare(ctx, place.namespace, place.refs, step, &status)
            .await?
        {
            Prepared::Send(batch) => batch,
            Prepared::Hold(held) => {
                writes.status(current.as_ref(), &held).await?;
                return Ok(Acted::Done(first));
            }
        };
        let sent = if effect == Effect::Submit {
            // The intent goes to the API server before the statement goes to OceanBase.
            let intent = status.with_intent(crate::clock::now());
            if !writes.intent(current.as_ref(), &intent).await? {
                return Ok(first.map_or(Acted::Stale, |sent| Acted::Done(Some(sent))));
            }
            crate::crash::point(&format!("intent/{}/after", T::KIND));
            intent
        } else {
            writes.status(current.as_ref(), &status).await?;
            status
        };
        let outcome = ctx
            .observers
            .execute(place.observer, batch.statements, &batch.redactor)
            .await;
        let went_through = went_through::<T>(effect, step, &outcome);
        first.get_or_insert(went_through);
        let (after, then) = obj.after(step, sent.clone(), outcome, crate::clock::now());
        writes.status(Some(&sent), &after).await?;
        match then {
            Some(next) => {
                current = Some(after.clone());
                status = after;
                step = next;
            }
            None => return Ok(Acted::Done(first)),
        }
    }
}

/// Whether a step's statements went through: an unanswered submission counts (the lookup by its tag
/// settles it), and so does a statement OceanBase says is already in effect.
fn went_through<T: Task>(effect: Effect, step: T::Step, outcome: &Result<(), ObError>) -> bool {
    match outcome {
        Ok(()) => true,
        // A look on a read taken before the last statement sends it again: nothing failed.
        Err(error) if T::done_anyway(error) => {
            tracing::info!(%error, ?step, kind = T::KIND, "statement already in effect");
            true
        }
        Err(error) => {
            tracing::warn!(%error, ?step, kind = T::KIND, "statement failed; retrying on a later look");
            effect == Effect::Submit && error.is_transient()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        api::{BackupTask, BackupTaskStatus},
        controller::{backup_task::decide::Step, conditions::api_time},
    };

    /// A running task's decision: its status as `job_id` and `submitted` leave it, watched.
    fn following(job_id: Option<i64>, submitted: Timestamp) -> Decision<BackupTaskStatus, Step> {
        let status = BackupTaskStatus {
            job_id,
            submitted_at: Some(api_time(submitted)),
            ..BackupTaskStatus::default()
        };
        Decision::new(status, Step::Wait, Some(Interest::default()))
    }

    /// Past its grace, an intent whose job is not known is looked at again within seconds; a task that
    /// found its job keeps `submittedAt` and is looked at again only at its safety recheck (the observer
    /// wakes it on a change). It was every five seconds: 1 000 reconciles a second for 5 000 running tasks.
    #[test]
    fn only_an_unsettled_intent_is_looked_at_again_within_seconds() {
        let long_ago = crate::clock::now() - jiff::SignedDuration::from_mins(10);
        let unsettled = next_look::<BackupTask>(&following(None, long_ago));
        assert!(
            unsettled.is_some_and(|d| d <= Duration::from_secs(5)),
            "{unsettled:?}"
        );
        let settled = next_look::<BackupTask>(&following(Some(2), long_ago));
        assert_eq!(settled, Some(crate::timing::TASK_SAFETY_RECHECK));
    }
}
