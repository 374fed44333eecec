//! The work this operator process runs in the background — second copies ([`crate::storage::copies`]) and
//! logical dumps and restores ([`crate::logical::jobs`]) — each under a [`Key`] naming the object it belongs
//! to. A reconcile asks for work and reads its state; it never waits for it. Work that ends calls back with
//! its key, so that its object is looked at again. Work that ended in a way worth another attempt (an
//! outage, as the work itself judges) is started again when asked for after
//! [`RETRY_TRANSIENT_AFTER`]; work asked for with other settings is started again at once; work that
//! failed for good is not.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{sync::lock, timing::RETRY_TRANSIENT_AFTER};

/// A kind of background work: what it does and how its state reads.
pub trait Work: Clone + PartialEq + Send + Sync + 'static {
    /// What the work reports as it goes, read while it runs.
    type Progress: Default + Send + Sync + 'static;
    /// Where the work stands: running, or how it ended.
    type State: Clone + Send + 'static;

    /// Does the work, reporting into `progress`, until it ends or `cancel` stops it: how it ended.
    fn run(
        self,
        progress: Arc<Self::Progress>,
        cancel: CancellationToken,
    ) -> impl Future<Output = Self::State> + Send;

    /// Where it stands while it runs; `retrying` is how the attempt it retries ended, if it retries one.
    fn running(&self, progress: &Self::Progress, retrying: Option<&Self::State>) -> Self::State;

    /// Whether work that ended in `state` is started again after [`RETRY_TRANSIENT_AFTER`].
    fn worth_retrying(&self, state: &Self::State) -> bool;

    /// Whether `state` is an end that did the work.
    fn succeeded(state: &Self::State) -> bool;
}

/// Whose background work it is: the object (`namespace/name`, of the controller that asks) and which of
/// its pieces of work (empty for an object's one piece).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub namespace: String,
    pub name: String,
    pub part: String,
}

impl Key {
    /// The one piece of work of the object `namespace/name`.
    pub fn of(namespace: &str, name: &str) -> Self {
        Self::part(namespace, name, String::new())
    }

    /// The piece `part` of the object `namespace/name`'s work.
    pub fn part(namespace: &str, name: &str, part: String) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            part,
        }
    }
}

/// Called with a piece of work's key when it ends.
pub type OnEnd = Arc<dyn Fn(&Key) + Send + Sync>;

/// How a run ended, and when.
type Ended<S> = Arc<Mutex<Option<(S, Instant)>>>;

struct Run<W: Work> {
    work: W,
    progress: Arc<W::Progress>,
    ended: Ended<W::State>,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    /// How the attempt this one retries ended: its state until this one gets further.
    retrying: Option<W::State>,
    /// The point a pass of repeated work is as of, and the point the last finished pass covered.
    as_of: u64,
    covered: Option<u64>,
    /// Whether its end was taken ([`Background::take`]).
    taken: bool,
}

/// The background work of one kind in this process.
pub struct Background<W: Work> {
    runs: Mutex<HashMap<Key, Run<W>>>,
    on_end: OnEnd,
    /// [`RETRY_TRANSIENT_AFTER`], shorter in tests.
    retry_after: Duration,
}

impl<W: Work> Background<W> {
    pub fn new(on_end: OnEnd) -> Self {
        Self {
            runs: Mutex::default(),
            on_end,
            retry_after: RETRY_TRANSIENT_AFTER,
        }
    }

    /// Retries after `retry_after` from now on (tests).
    #[cfg(test)]
    pub fn retry_after(&mut self, retry_after: Duration) {
        self.retry_after = retry_after;
    }

    /// The state of the work under `key`, starting it when there is none, when it was asked for with other
    /// settings, or when it ended worth retrying a while ago (it then reads as that end until it gets
    /// further).
    pub fn ensure(&self, key: &Key, work: &W) -> W::State {
        let mut runs = lock(&self.runs);
        self.ensure_locked(&mut runs, key, work)
    }

    /// As [`Self::ensure`], unless work runs under one of `others` (work on the same thing under another
    /// key): then nothing starts and `None` says so. Checked and started under one lock, so that two
    /// callers never both start.
    pub fn ensure_alone(&self, key: &Key, work: &W, others: &[Key]) -> Option<W::State> {
        let mut runs = lock(&self.runs);
        if busy(&runs, others) {
            return None;
        }
        Some(self.ensure_locked(&mut runs, key, work))
    }

    fn ensure_locked(&self, runs: &mut HashMap<Key, Run<W>>, key: &Key, work: &W) -> W::State {
        let mut retrying = None;
        if let Some(run) = runs.get(key) {
            let retry = self.retry_due(run);
            if run.work == *work && retry.is_none() {
                return run.state();
            }
            retrying = retry.filter(|_| run.work == *work);
            run.handle.abort();
        }
        let started = Run {
            retrying,
            ..self.start(key, work, CancellationToken::new())
        };
        let state = started.state();
        runs.insert(key.clone(), started);
        state
    }

    /// Cancels the work under `key`: it stops and says how. When this process runs none (it restarted
    /// since), `work` is started already canceled, to undo what an earlier process's run left.
    pub fn cancel(&self, key: &Key, work: &W) -> W::State {
        let mut runs = lock(&self.runs);
        if let Some(run) = runs.get(key).filter(|run| self.retry_due(run).is_none()) {
            run.cancel.cancel();
            return run.state();
        }
        let cancel = CancellationToken::new();
        cancel.cancel();
        let started = self.start(key, work, cancel);
        let state = started.state();
        runs.insert(key.clone(), started);
        state
    }

    /// Work done pass after pass while its source grows. Each pass is as of a point the caller names, and
    /// the next pass starts once the last one succeeded, the point moved on, and `gap` has passed (a pass
    /// worth retrying starts again after [`RETRY_TRANSIENT_AFTER`]). Returns the point the newest
    /// finished pass covers, and the state of the current (or last) pass.
    pub fn repeat(
        &self,
        key: &Key,
        work: &W,
        as_of: u64,
        gap: Duration,
    ) -> (Option<u64>, W::State) {
        let mut runs = lock(&self.runs);
        self.repeat_locked(&mut runs, key, work, as_of, gap)
    }

    /// As [`Self::repeat`], unless work runs under one of `others`: then no pass starts and `None` says
    /// so (checked and started under one lock).
    pub fn repeat_alone(
        &self,
        key: &Key,
        work: &W,
        (as_of, gap): (u64, Duration),
        others: &[Key],
    ) -> Option<(Option<u64>, W::State)> {
        let mut runs = lock(&self.runs);
        if busy(&runs, others) && runs.get(key).is_none_or(|run| run.handle.is_finished()) {
            return None;
        }
        Some(self.repeat_locked(&mut runs, key, work, as_of, gap))
    }

    fn repeat_locked(
        &self,
        runs: &mut HashMap<Key, Run<W>>,
        key: &Key,
        work: &W,
        as_of: u64,
        gap: Duration,
    ) -> (Option<u64>, W::State) {
        let mut covered = None;
        if let Some(run) = runs.get(key).filter(|run| run.work == *work) {
            covered = run.covered;
            let ended = lock(&run.ended).as_ref().map(|(state, at)| {
                let passed = W::succeeded(state);
                let retry = run.work.worth_retrying(state);
                (passed, retry, at.elapsed())
            });
            match ended {
                None => return (covered, run.state()),
                Some((true, _, since)) => {
                    covered = Some(run.as_of);
                    if as_of <= run.as_of || since < gap {
                        return (covered, run.state());
                    }
                }
                Some((false, true, since)) if since >= self.retry_after => {}
                Some(_) => return (covered, run.state()),
            }
        }
        if let Some(old) = runs.remove(key) {
            old.handle.abort();
        }
        let started = Run {
            as_of,
            covered,
            ..self.start(key, work, CancellationToken::new())
        };
        let state = started.state();
        runs.insert(key.clone(), started);
        (covered, state)
    }

    /// How the work under `key` ended, once it succeeded — once per run (or pass): a second call gives
    /// nothing, so that what it found is told once.
    pub fn take(&self, key: &Key) -> Option<W::State> {
        let mut runs = lock(&self.runs);
        let run = runs.get_mut(key).filter(|run| !run.taken)?;
        let state = lock(&run.ended)
            .as_ref()
            .map(|(state, _)| state.clone())
            .filter(W::succeeded)?;
        run.taken = true;
        Some(state)
    }

    /// The state of the work under `key`, if any was asked for.
    pub fn state(&self, key: &Key) -> Option<W::State> {
        lock(&self.runs).get(key).map(Run::state)
    }

    /// Forgets the work under `key` (its end is in a status now), stopping it if it still runs.
    pub fn forget(&self, key: &Key) {
        if let Some(run) = lock(&self.runs).remove(key) {
            run.handle.abort();
        }
    }

    /// Stops the work under `key` without forgetting it, so that [`Self::idle`] tells when it has really
    /// stopped: a copy asked for again meanwhile must not run beside the one still ending.
    pub fn stop(&self, key: &Key) {
        if let Some(run) = lock(&self.runs).get(key) {
            run.cancel.cancel();
            run.handle.abort();
        }
    }

    /// Makes way for the work under `key` to start afresh: forgets a run that has ended (also one
    /// stopped); false while a stopped run is still ending. A run going on, not stopped, is kept.
    pub fn make_way(&self, key: &Key) -> bool {
        let mut runs = lock(&self.runs);
        let Some(run) = runs.get(key) else {
            return true;
        };
        if run.handle.is_finished() {
            runs.remove(key);
            return true;
        }
        !run.cancel.is_cancelled()
    }

    /// Stops and forgets every piece of work of the object `namespace/name`.
    pub fn forget_object(&self, namespace: &str, name: &str) {
        lock(&self.runs).retain(|key, run| {
            let theirs = key.namespace == namespace && key.name == name;
            if theirs {
                run.handle.abort();
            }
            !theirs
        });
    }

    /// How `run` ended, when that is worth another attempt and long enough ago.
    fn retry_due(&self, run: &Run<W>) -> Option<W::State> {
        match &*lock(&run.ended) {
            Some((state, at))
                if run.work.worth_retrying(state) && at.elapsed() >= self.retry_after =>
            {
                Some(state.clone())
            }
            _ => None,
        }
    }

    fn start(&self, key: &Key, work: &W, cancel: CancellationToken) -> Run<W> {
        let progress = Arc::new(W::Progress::default());
        let ended: Ended<W::State> = Arc::default();
        let task = {
            let (work, progress, ended, cancel) = (
                work.clone(),
                progress.clone(),
                ended.clone(),
                cancel.clone(),
            );
            let (key, on_end) = (key.clone(), self.on_end.clone());
            async move {
                let state = work.run(progress, cancel).await;
                *lock(&ended) = Some((state, Instant::now()));
                on_end(&key);
            }
        };
        Run {
            work: work.clone(),
            progress,
            ended,
            cancel,
            handle: tokio::spawn(task),
            retrying: None,
            as_of: 0,
            covered: None,
            taken: false,
        }
    }
}

/// Whether work runs under one of `keys`.
fn busy<W: Work>(runs: &HashMap<Key, Run<W>>, keys: &[Key]) -> bool {
    keys.iter()
        .any(|key| runs.get(key).is_some_and(|run| !run.handle.is_finished()))
}

impl<W: Work> Drop for Background<W> {
    fn drop(&mut self) {
        for run in lock(&self.runs).values() {
            run.handle.abort();
        }
    }
}

impl<W: Work> Run<W> {
    fn state(&self) -> W::State {
        match &*lock(&self.ended) {
            Some((state, _)) => state.clone(),
            None => self.work.running(&self.progress, self.retrying.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work that runs until it is stopped.
    #[derive(Clone, PartialEq)]
    struct Forever;

    impl Work for Forever {
        type Progress = ();
        type State = bool;
        async fn run(self, _: Arc<()>, _: CancellationToken) -> bool {
            std::future::pending::<()>().await;
            true
        }
        fn running(&self, _: &(), _: Option<&bool>) -> bool {
            false
        }
        fn worth_retrying(&self, _: &bool) -> bool {
            false
        }
        fn succeeded(state: &bool) -> bool {
            *state
        }
    }

    #[tokio::test]
    async fn stopped_work_makes_way_only_once_it_has_ended_and_other_work_holds_it_back() {
        let work = Background::new(Arc::new(|_: &Key| {}));
        let (one, two) = (
            Key::part("ns", "a", "1".into()),
            Key::part("ns", "a", "2".into()),
        );
        let other = Key::of("ns", "b");
        for key in [&one, &two] {
            work.ensure(key, &Forever);
        }
        assert!(work.make_way(&one), "a run going on is kept");
        assert!(
            work.ensure_alone(&other, &Forever, std::slice::from_ref(&one))
                .is_none()
        );
        assert!(
            work.repeat_alone(
                &other,
                &Forever,
                (1, Duration::ZERO),
                std::slice::from_ref(&one)
            )
            .is_none()
        );
        work.stop(&one);
        crate::controller::fixtures::eventually("the stopped work to end", || {
            work.make_way(&one).then_some(())
        })
        .await;
        assert!(work.state(&one).is_none(), "an ended run is forgotten");
        assert!(
            work.ensure_alone(&other, &Forever, std::slice::from_ref(&one))
                .is_some()
        );
        work.forget_object("ns", "a");
        assert!(work.state(&two).is_none() && work.state(&other).is_some());
    }
}
