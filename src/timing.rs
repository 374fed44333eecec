//! Every wait the operator chooses, in one place: how long the client waits for the cluster, how long a
//! submitted statement may still be creating its job, how soon an object is looked at again — and the
//! operator's own waits (its caches, status writes, storage, leadership, shutdown).
//! The constants that depend on each other are derived here, not restated.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// How long connecting to OceanBase may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the controllers wait at start for ob-operator's objects to be read once…
pub const OB_OPERATOR_SYNC: Duration = Duration::from_secs(30);
/// …looking this often whether they have been.
pub const OB_OPERATOR_SYNC_POLL: Duration = Duration::from_millis(100);
/// An idle pooled connection to OceanBase is closed after this long.
pub const POOLED_CONNECTION_TTL: Duration = Duration::from_secs(60);
/// How long a session may take to say goodbye before it is dropped.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// An observer reads its cluster this often while something it watches is changing (the default of
/// `--active-poll-seconds`)…
pub const ACTIVE_POLL: Duration = Duration::from_secs(1);
/// …and this often otherwise (`--idle-poll-seconds`).
pub const IDLE_POLL: Duration = Duration::from_secs(30);
/// While only backup jobs are followed closely, an observer reads tenants, archive rounds and delete jobs
/// at every this many active polls (and the jobs at each).
pub const CHANGING_EVERY: u32 = 5;
/// While its cluster is unreachable an observer backs off: this long times 2^failures (from 2 s)…
pub const UNREACHABLE_BACKOFF_UNIT: Duration = Duration::from_secs(1);
/// …up to this long, so that status follows again within seconds of the cluster's return however long it
/// was away, while a cluster still down sees one connection attempt per this long.
pub const UNREACHABLE_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How long an observer waits after `failures` (≥ 1) reads in a row failed: 2 s, 4 s, then
/// [`UNREACHABLE_BACKOFF_MAX`].
pub fn unreachable_backoff(failures: u32) -> Duration {
    UNREACHABLE_BACKOFF_UNIT
        .saturating_mul(1 << failures.clamp(1, 6))
        .min(UNREACHABLE_BACKOFF_MAX)
}

/// How long one read may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one batch of administrative statements may take, connecting included: after this the client
/// has given up on every statement of the batch.
pub const BATCH_TIMEOUT: Duration = Duration::from_secs(40);
/// What OceanBase may still take to list a job after the client gave up on the statement that creates it.
const SERVER_MARGIN: Duration = Duration::from_secs(5);

/// How long after the recorded intent a missing job may still be on its way: the client's whole batch plus
/// the server's margin. Past it, a read that lists no such job proves the statement created none.
pub const SUBMIT_GRACE: SignedDuration =
    SignedDuration::from_secs((BATCH_TIMEOUT.as_secs() + SERVER_MARGIN.as_secs()) as i64);

/// How far OceanBase's clock may be behind the operator's when a job's start is compared with an intent.
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(60);

/// How soon after a statement went out its object is decided again (to take in what OceanBase made of it).
pub const ACTED_RECHECK: Duration = Duration::from_secs(2);
/// How soon an object is decided again when the copy a reconcile was given is behind: older than the
/// controller's own last status write, or changed before its intent could be stored over it. By then the
/// watch has brought the newer copy.
pub const STALE_COPY_RECHECK: Duration = Duration::from_secs(1);
/// How long a controller remembers the version its status write left on an object (a cached copy older
/// than it is not reconciled): far longer than a watch takes to bring the write back, short enough that a
/// watch that stopped delivering holds an object back no longer than this.
pub const OWN_WRITE_REMEMBERED: Duration = Duration::from_secs(10);
/// How long after a one-shot statement (cancel, activate) went through it is not sent again for the same
/// object: until the observer has read the cluster again.
pub const SENT_SETTLE: Duration = Duration::from_secs(10);
/// How long after OceanBase refused a statement it is sent again.
pub const RETRY_REFUSED_AFTER: Duration = Duration::from_secs(30);
/// How soon an object whose references are wrong (a missing Secret, cluster, strategy) is looked at again.
pub const RECHECK_REFERENCES_AFTER: Duration = Duration::from_secs(30);

/// How long the outcome of a Secret check is reused. Shorter than [`RECHECK_REFERENCES_AFTER`], so an object
/// waiting for a Secret to be fixed always reads it afresh when it looks again.
pub const SECRET_CHECK_TTL: Duration = Duration::from_secs(15);

/// A running task (backup, cleanup, restore) is looked at at least this often, whatever the observer says.
pub const TASK_SAFETY_RECHECK: Duration = Duration::from_secs(300);
/// An archiving LogBackup is looked at at least this often.
pub const LOG_SAFETY_RECHECK: Duration = Duration::from_secs(600);

/// An archive lagging less than its alert threshold is looked at again when the lag would reach it, but no
/// sooner than this…
pub const DELAY_RECHECK_MIN: Duration = Duration::from_secs(30);
/// …and no later than this.
pub const DELAY_RECHECK_MAX: Duration = Duration::from_secs(600);

/// The longest a strategy goes unlooked at (a logical strategy's dumps' expiry is checked then)…
pub const STRATEGY_MAX_WAIT: Duration = Duration::from_secs(300);
/// …and the soonest it is looked at again by itself (a run falling due in a moment).
pub const STRATEGY_MIN_WAIT: Duration = Duration::from_millis(200);
/// A deleted strategy whose LogBackups were just removed is looked at again this soon, to stop archiving.
pub const LOG_BACKUPS_REMOVED_RECHECK: Duration = Duration::from_secs(1);
/// How soon a deleted strategy that cannot be released yet (archiving still stopping) is tried again.
pub const RELEASE_RETRY: Duration = Duration::from_secs(10);

/// A restore waiting for archiving to reach its recovery point looks again this often (the strategy's
/// windows growing changes no object the restore watches).
pub const POINT_RECHECK: Duration = Duration::from_secs(10);

/// Background work stopped by an outage (a second copy, a logical dump or restore) may start again this
/// long after it stopped.
pub const RETRY_TRANSIENT_AFTER: Duration = Duration::from_secs(30);

/// A second copy running in the background shows its progress in the status this often.
pub const SECOND_COPY_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// An active archive piece is copied to the second destination again at most this often (each pass lists
/// the piece and copies what grew).
pub const ACTIVE_PIECE_PASS_GAP: Duration = Duration::from_secs(10);

/// A running backup without progress for this long gets `Progressing=False` (the default of
/// `--backup-stall-timeout`).
pub const BACKUP_STALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// How often a strategy's destinations are checked from the operator's pod (the default of
/// `--destination-check-seconds`).
pub const DESTINATION_CHECK: Duration = Duration::from_secs(5 * 60);
/// A destination check that has no answer within this long says so (the check waits no longer).
pub const DESTINATION_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

// The operator's own waits: its caches, its status writes, storage, leadership and shutdown.

/// An object whose reconcile failed is retried after this long, doubling with each failure in a row…
pub const BACKOFF_FIRST: Duration = Duration::from_secs(2);
/// …up to this long (plus up to 10% jitter).
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// The statement memory never asks for a look sooner than this (a wait about to run out is not worth a
/// reconcile of its own).
pub const GATE_RECHECK_FLOOR: Duration = Duration::from_millis(100);

/// A status write that waited this long for the write budget is logged (at debug).
pub const SLOW_WRITE_LOGGED: Duration = Duration::from_millis(100);

/// How soon a logical drill that moved to its next stage (checks, drop) is looked at again to start it: the
/// work of a stage is asked for when the task is looked at, and a status write alone wakes nothing.
pub const DRILL_NEXT_STAGE: Duration = Duration::from_secs(1);

/// A running dump's or load's status is written this often.
pub const LOGICAL_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How often the per-phase object counts are refreshed from the controllers' caches.
pub const PHASE_COUNT_INTERVAL: Duration = Duration::from_secs(15);

/// The longest a background write yields to urgent ones; then it queues with them. Under a steady urgent
/// load a background write is late, never lost, and never holds its reconcile forever.
pub const BACKGROUND_MAX_WAIT: Duration = Duration::from_secs(10);

/// How long one storage request may take, and how often a failed one is tried again at once.
pub const STORAGE_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Shutdown budget, well inside Kubernetes' default 30 s grace period: reconciles under way get this long…
pub const CONTROLLERS_TIMEOUT: Duration = Duration::from_secs(8);

/// …handing the lease back this long (it expires on its own otherwise)…
pub const LEASE_RELEASE_TIMEOUT: Duration = Duration::from_secs(4);

/// …and open HTTP requests this long.
pub const HTTP_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a replica waiting for the lease looks whether another one holds it, until one does (it is then a
/// ready standby).
pub const STANDBY_CHECK: Duration = Duration::from_secs(5);

/// The time a decision is made at, on the operator's clock (simulated in some tests), with the waits that
/// are real time stretched to it. Decisions take it as an input and never read a clock themselves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    /// Now.
    pub now: Timestamp,
    /// How many times faster than real time the clock runs.
    pub speed: f64,
}

impl Clock {
    /// The operator's clock now.
    pub fn current() -> Self {
        Self {
            now: crate::clock::now(),
            speed: crate::clock::speed(),
        }
    }

    /// A real-time clock at `now`.
    pub fn at(now: Timestamp) -> Self {
        Self { now, speed: 1.0 }
    }

    /// [`SUBMIT_GRACE`] on this clock: a statement takes real time whatever the clock says.
    pub fn submit_grace(&self) -> SignedDuration {
        SignedDuration::from_secs_f64(SUBMIT_GRACE.as_secs_f64() * self.speed)
    }

    /// How long to really wait for `span` of this clock's time to pass.
    pub fn real(&self, span: Duration) -> Duration {
        span.div_f64(self.speed)
    }

    /// Whether a statement sent at `submitted` (its recorded intent) may still be creating its job, judged
    /// by a snapshot read at `read_at`.
    pub fn in_flight(&self, submitted: Timestamp, read_at: Timestamp) -> bool {
        read_at < submitted + self.submit_grace()
    }

    /// How soon a task holding the intent `submitted` must look again, so that the end of its submit grace
    /// is acted on at once rather than at the next safety recheck (a statement that never left — the
    /// operator died between the intent and the statement — creates no job and so wakes nobody). Past the
    /// grace, a short recheck settles the intent at the next read. `None` without an intent.
    pub fn grace_recheck(&self, submitted: Option<Timestamp>) -> Option<Duration> {
        let end = submitted? + self.submit_grace();
        let left = Duration::try_from(end.duration_since(self.now)).unwrap_or_default();
        Some(self.real(left) + Duration::from_secs(if left.is_zero() { 5 } else { 1 }))
    }
}

/// The status rule for the log checkpoint and delay: what status shows is never further than a grain from
/// OceanBase (plus one poll), and the grain is this, or longer when more objects refresh than the write
/// budget affords ([`crate::controller::write_budget::freshness_for`]). The checkpoint and delay are rewritten
/// when they were read a grain ago and moved since ([`grain_old`], [`refresh_recheck`]) — so steady archiving
/// costs one status write a grain per archiving tenant, not one per poll. The live figure is the
/// `obbackup_log_backup_delay_seconds` metric.
pub const STATUS_FRESHNESS: SignedDuration = SignedDuration::from_secs(60);

/// A freshness grain as a requeue: the longest the operator may go without looking at an archiving tenant.
pub fn freshness_recheck(grain: SignedDuration) -> Duration {
    Duration::from_secs(grain.as_secs().unsigned_abs())
}

/// A look for freshness alone is never sooner than this after the last: one that found nothing to refresh
/// does not loop.
pub const REFRESH_RECHECK_MIN: Duration = Duration::from_secs(5);

/// A log checkpoint and delay, as a status shows them or as just read: the status rule's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogFigures {
    pub checkpoint: Option<Timestamp>,
    pub delay_seconds: Option<i64>,
}

impl LogFigures {
    /// When figures shown were read: the checkpoint plus the lag measured then.
    pub fn read_at(self) -> Option<Timestamp> {
        self.checkpoint?
            .checked_add(SignedDuration::from_secs(self.delay_seconds?))
            .ok()
    }

    /// Whether `fresh` replaces these figures shown at `now`: at once when archiving starts or stops (one
    /// of them appears or goes), else once these were read a grain ago and moved since.
    pub fn replaced_by(self, fresh: LogFigures, now: Timestamp, grain: SignedDuration) -> bool {
        let appeared = self.checkpoint.is_some() != fresh.checkpoint.is_some()
            || self.delay_seconds.is_some() != fresh.delay_seconds.is_some();
        appeared || (self != fresh && grain_old(self.read_at(), now, grain))
    }

    /// When to look again so that these figures shown are rewritten once a grain old
    /// ([`refresh_recheck`]).
    pub fn recheck(self, now: Timestamp, grain: SignedDuration) -> Duration {
        refresh_recheck(self.read_at(), now, grain)
    }
}

/// Whether figures read at `read` (never, when `None`) are a grain old at `now`: then, if they moved, they
/// are rewritten. A read time ahead of `now` (OceanBase's clock ahead of the operator's, so that the delay
/// was 0 and the checkpoint later than the read) says nothing of when they were read: they are rewritten at
/// the next look, which [`refresh_recheck`] puts a grain later.
pub fn grain_old(read: Option<Timestamp>, now: Timestamp, grain: SignedDuration) -> bool {
    read.is_none_or(|read| read > now || now.duration_since(read) >= grain)
}

/// When to look again so that figures read at `read` are rewritten once they are a grain old: then, but
/// not within [`REFRESH_RECHECK_MIN`] nor later than a grain. Nothing else wakes an archive's watchers while
/// its checkpoint moves, so what status shows trails OceanBase by a grain and a poll at most.
pub fn refresh_recheck(read: Option<Timestamp>, now: Timestamp, grain: SignedDuration) -> Duration {
    let bound = freshness_recheck(grain);
    let left = read.map_or(grain, |read| grain - now.duration_since(read));
    Duration::try_from(left)
        .unwrap_or_default()
        .clamp(REFRESH_RECHECK_MIN.min(bound), bound)
}

/// Whether a shown delay (seconds) is a `grain` or more from the real one.
pub fn delay_stale(shown: Option<i64>, real: Option<i64>, grain: SignedDuration) -> bool {
    match (shown, real) {
        (Some(shown), Some(real)) => (shown - real).abs() >= grain.as_secs(),
        (shown, real) => shown.is_some() != real.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_submit_grace_outlasts_the_clients_whole_batch() {
        assert!(SUBMIT_GRACE > SignedDuration::try_from(BATCH_TIMEOUT).expect("fits"));
        assert!(BATCH_TIMEOUT > CONNECT_TIMEOUT);
    }

    #[test]
    fn an_intent_is_looked_at_again_when_its_grace_ends() {
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        assert_eq!(Clock::at(at(10)).grace_recheck(None), None);
        assert_eq!(
            Clock::at(at(10)).grace_recheck(Some(at(0))),
            Some(Duration::from_secs(36))
        );
        assert_eq!(
            Clock::at(at(100)).grace_recheck(Some(at(0))),
            Some(Duration::from_secs(5))
        );
        assert!(Clock::at(at(0)).in_flight(at(0), at(44)));
        assert!(!Clock::at(at(0)).in_flight(at(0), at(45)));
        // Ten times faster: the grace is ten times longer on the clock, the wait for it as long in real time.
        let fast = Clock {
            now: at(100),
            speed: 10.0,
        };
        assert!(fast.in_flight(at(0), at(449)));
        assert_eq!(
            fast.grace_recheck(Some(at(0))),
            Some(Duration::from_secs(36))
        );
    }

    #[test]
    fn figures_are_looked_at_again_when_a_grain_old_but_never_in_a_loop() {
        let read = Timestamp::from_second(1_000).expect("time");
        let grain = SignedDuration::from_secs(80);
        let after = |secs| read + SignedDuration::from_secs(secs);
        assert_eq!(
            refresh_recheck(Some(read), after(30), grain),
            Duration::from_secs(50)
        );
        assert!(!grain_old(Some(read), after(79), grain));
        assert!(grain_old(Some(read), after(80), grain));
        assert!(grain_old(None, after(0), grain), "never read");
        assert!(grain_old(Some(read), after(-1), grain), "read ahead of now");
        // Overdue, or read "later" than now (a clock ahead): within bounds.
        assert_eq!(
            refresh_recheck(Some(read), after(500), grain),
            REFRESH_RECHECK_MIN
        );
        assert_eq!(
            refresh_recheck(Some(read), after(-500), grain),
            Duration::from_secs(80)
        );
        assert_eq!(refresh_recheck(None, read, grain), Duration::from_secs(80));
        let shown = |delay_seconds| LogFigures {
            checkpoint: Some(read),
            delay_seconds,
        };
        assert_eq!(
            shown(Some(7)).read_at(),
            Some(after(7)),
            "the checkpoint plus the lag then"
        );
        assert_eq!(shown(None).read_at(), None);
    }

    #[test]
    fn an_unreachable_cluster_is_tried_again_within_seconds_and_never_more_often_than_every_two() {
        let waits: Vec<u64> = (1..=40).map(|n| unreachable_backoff(n).as_secs()).collect();
        assert_eq!(waits[..4], [2, 4, 5, 5]);
        assert!(waits.iter().all(|w| (2..=5).contains(w)), "{waits:?}");
        assert_eq!(unreachable_backoff(u32::MAX), UNREACHABLE_BACKOFF_MAX);
    }
}
