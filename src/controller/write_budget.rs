//! A bound on how fast the operator writes to the Kubernetes API (status writes and Events), with a share
//! kept for the writes that matter now. A cold start over thousands of objects whose statuses all need
//! rewriting (after an upgrade that adds a field, say) then trickles at the budget's rate instead of
//! flooding the API server's flow control, while a running task's intent or phase change never queues
//! behind that backlog.
//!
//! A token bucket: `rate` tokens a second up to `burst`. An urgent write takes a token whenever there is
//! one; a background write only while more than `reserve` tokens are left, so `reserve` tokens are always
//! there for urgent writes. (The `governor` crate has no priorities; this is the one piece it would add.)

use std::{collections::HashMap, sync::Mutex, time::Duration};

use jiff::SignedDuration;
use tokio::time::Instant;

/// How much a write matters now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Part of something under way or news: an intent before a statement, a phase change, a first status,
    /// the Event that says so.
    Urgent,
    /// Could wait: rewriting a finished object's status.
    Background,
}

/// The operator's write budget, shared by every controller.
pub struct WriteBudget {
    rate: f64,
    burst: f64,
    reserve: f64,
    bucket: Mutex<Bucket>,
    /// One queue per priority: writers of one priority get their tokens in the order they asked (tokio's
    /// mutex is fair), so a busy writer retrying in a loop never starves another.
    urgent: tokio::sync::Mutex<()>,
    background: tokio::sync::Mutex<()>,
    /// Objects of each kind whose status refreshes figures that move by themselves ([`Self::freshness`]).
    refreshing: Mutex<HashMap<&'static str, usize>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Writes a second the operator sends at most, once its burst is spent.
pub const WRITES_PER_SECOND: f64 = 50.0;
/// Writes it may send at once after a quiet while.
pub const WRITE_BURST: f64 = 100.0;
/// Of those, kept for urgent writes.
pub const URGENT_RESERVE: f64 = 20.0;
/// The share of [`WRITES_PER_SECOND`] the refreshes of figures that move by themselves (an archive
/// checkpoint, a delay) may take between them; the rest stays for what happens (a new object, a phase, an
/// intent).
pub const REFRESH_SHARE: f64 = 0.5;

/// How far a status may trail the figures that move by themselves when `objects` refresh them: a minute
/// ([`crate::timing::STATUS_FRESHNESS`]), or longer once one write a minute each would take more than
/// [`REFRESH_SHARE`] of the budget (1 500 objects at 50 writes a second; 5 000 archiving tenants, a
/// LogBackup and a strategy each, are refreshed every 400 s). Without it, such refreshes beyond the budget
/// left no write for anything else: new strategies waited for their first status without end.
pub fn freshness_for(objects: usize) -> SignedDuration {
    let afforded = WRITES_PER_SECOND * REFRESH_SHARE;
    let seconds = (objects as f64 / afforded).ceil() as i64;
    crate::timing::STATUS_FRESHNESS.max(SignedDuration::from_secs(seconds))
}

impl Default for WriteBudget {
    /// The operator's budget. Its rate is per second of the operator's clock, like every other period it
    /// keeps: on a simulated clock (tests) that runs faster, the periodic writes come faster too.
    fn default() -> Self {
        let second = crate::clock::real(Duration::from_secs(1)).as_secs_f64();
        let rate = if second > 0.0 {
            WRITES_PER_SECOND / second
        } else {
            WRITES_PER_SECOND
        };
        Self::new(rate, WRITE_BURST, URGENT_RESERVE)
    }
}

impl WriteBudget {
    /// A budget of `rate` writes a second, `burst` at once, `reserve` of them kept for urgent writes.
    pub fn new(rate: f64, burst: f64, reserve: f64) -> Self {
        Self {
            rate,
            burst,
            reserve: reserve.min(burst - 1.0).max(0.0),
            bucket: Mutex::new(Bucket {
                tokens: burst,
                at: Instant::now(),
            }),
            urgent: tokio::sync::Mutex::new(()),
            background: tokio::sync::Mutex::new(()),
            refreshing: Mutex::new(HashMap::new()),
        }
    }

    /// Records that `objects` of `kind` refresh figures that move by themselves (the caches' count).
    pub fn set_refreshing(&self, kind: &'static str, objects: usize) {
        crate::sync::lock(&self.refreshing).insert(kind, objects);
    }

    /// How far their statuses may trail those figures now ([`freshness_for`] all of them).
    pub fn freshness(&self) -> SignedDuration {
        freshness_for(crate::sync::lock(&self.refreshing).values().sum())
    }

    /// Waits until a write of `priority` may be sent, and takes its token. A background write that has
    /// yielded for [`crate::timing::BACKGROUND_MAX_WAIT`] queues with the urgent ones.
    pub async fn acquire(&self, priority: Priority) {
        let asked = Instant::now();
        self.acquire_in_turn(priority).await;
        let waited = asked.elapsed();
        if waited >= crate::timing::SLOW_WRITE_LOGGED {
            tracing::debug!(
                ?priority,
                waited_ms = waited.as_millis(),
                "write waited for the budget"
            );
        }
    }

    async fn acquire_in_turn(&self, priority: Priority) {
        if priority == Priority::Background {
            let _turn = self.background.lock().await;
            let took = tokio::time::timeout(
                crate::timing::BACKGROUND_MAX_WAIT,
                self.take(Priority::Background),
            );
            if took.await.is_ok() {
                return;
            }
        }
        let _turn = self.urgent.lock().await;
        self.take(Priority::Urgent).await;
    }

    /// Waits for a token `priority` may have and takes it.
    async fn take(&self, priority: Priority) {
        while let Some(wait) = self.try_take(priority) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token if `priority` may have one now; else says how long until it may.
    fn try_take(&self, priority: Priority) -> Option<Duration> {
        let mut bucket = crate::sync::lock(&self.bucket);
        let now = Instant::now();
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        let needed = match priority {
            Priority::Urgent => 1.0,
            Priority::Background => 1.0 + self.reserve,
        };
        if bucket.tokens >= needed {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (needed - bucket.tokens) / self.rate,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// How many writes of `priority` go through within `window` (simulated time), all asking at once.
    async fn writes_within(budget: &WriteBudget, priority: Priority, window: Duration) -> usize {
        let start = Instant::now();
        let mut done = 0;
        loop {
            budget.acquire(priority).await;
            if start.elapsed() > window {
                return done;
            }
            done += 1;
        }
    }

    /// The refreshes of every object, one per grain each, stay within their share of the budget at any
    /// count; a minute up to the count that share affords.
    #[test]
    fn refreshes_stay_within_their_share_of_the_budget() {
        let share_a_minute = WRITES_PER_SECOND * REFRESH_SHARE * 60.0;
        for objects in [0, 1, 1_500, 1_501, 3_516, 10_000, 200_000] {
            let grain = freshness_for(objects).as_secs_f64();
            assert!(grain >= 60.0, "{objects}: {grain}");
            let writes_a_minute = objects as f64 * 60.0 / grain;
            assert!(
                writes_a_minute <= share_a_minute,
                "{objects}: {writes_a_minute}"
            );
        }
        assert_eq!(freshness_for(1_500).as_secs(), 60);
        assert_eq!(freshness_for(10_000).as_secs(), 400);
        let budget = WriteBudget::default();
        budget.set_refreshing("LogBackup", 5_000);
        budget.set_refreshing("BackupStrategy", 5_000);
        budget.set_refreshing("LogBackup", 4_000);
        assert_eq!(budget.freshness().as_secs(), 360);
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_is_held_to_the_rate_after_the_burst() {
        let budget = WriteBudget::new(10.0, 20.0, 5.0);
        let written = writes_within(&budget, Priority::Background, Duration::from_secs(10)).await;
        // 15 of the burst (5 kept back), then 10 a second for 10 s.
        assert!((110..=116).contains(&written), "{written}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_write_under_a_steady_urgent_load_is_late_but_not_starved() {
        let budget = Arc::new(WriteBudget::new(10.0, 20.0, 5.0));
        let urgent = {
            let budget = budget.clone();
            tokio::spawn(async move {
                loop {
                    budget.acquire(Priority::Urgent).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        budget.acquire(Priority::Background).await;
        let waited = start.elapsed();
        urgent.abort();
        assert!(
            waited >= crate::timing::BACKGROUND_MAX_WAIT
                && waited <= crate::timing::BACKGROUND_MAX_WAIT + Duration::from_secs(1),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn writers_that_never_stop_asking_do_not_starve_one_that_asks_once() {
        let budget = Arc::new(WriteBudget::new(10.0, 1.0, 0.0));
        let hogs: Vec<_> = (0..5)
            .map(|_| {
                let budget = budget.clone();
                tokio::spawn(async move {
                    loop {
                        budget.acquire(Priority::Urgent).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let start = Instant::now();
        budget.acquire(Priority::Urgent).await;
        // Behind at most the five already waiting, at 10 a second.
        assert!(
            start.elapsed() <= Duration::from_millis(700),
            "{:?}",
            start.elapsed()
        );
        for hog in hogs {
            hog.abort();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_writes_pass_a_background_backlog_at_once() {
        let budget = WriteBudget::new(10.0, 20.0, 5.0);
        writes_within(&budget, Priority::Background, Duration::from_secs(3)).await;
        let start = Instant::now();
        for _ in 0..5 {
            budget.acquire(Priority::Urgent).await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "the reserve serves urgent writes without waiting: {:?}",
            start.elapsed()
        );
        // Background writes wait while the reserve is being refilled.
        let start = Instant::now();
        budget.acquire(Priority::Background).await;
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "{:?}",
            start.elapsed()
        );
    }
}
