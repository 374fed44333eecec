//! The schedule's history of runs that did not run (docs/guide/strategies.md): each skipped or missed run
//! of a look — a data backup of the plan, a tenant's drill — is recorded once in the strategy's
//! `status.skippedRuns` (the newest 20) and announced once by a Warning event saying why.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::{Event, EventType};

use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus,
        backup_strategy::{ScheduledRun, SkipReason, SkippedRun},
    },
    controller::Context,
};

/// A scheduled run not made when due (the data backups' plan, the drills' plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub at: Timestamp,
    pub run: ScheduledRun,
    /// The tenant, for a run per tenant (a drill).
    pub tenant: Option<String>,
    pub reason: SkipReason,
}

/// How many skipped runs the record holds, and each look reports at most.
pub const SKIPS_SHOWN: usize = 20;

/// A run made now: (when it was due, which run, whose).
pub type Made = (Timestamp, ScheduledRun, Option<String>);

/// Records `skipped` in `desired` (whose record starts as the strategy's last one), drops the runs `made`
/// now (one due while paused, made late after a resume within the deadline, did run), and announces the
/// runs it did not hold before.
pub async fn record(
    ctx: &Context,
    strategy: &BackupStrategy,
    skipped: &[Skip],
    made: &[Made],
    desired: &mut BackupStrategyStatus,
    now: Timestamp,
) {
    let (record, fresh) = settle(&desired.skipped_runs, skipped, made, now);
    desired.skipped_runs = record;
    for run in fresh {
        ctx.publish(strategy, event(&run)).await;
    }
}

/// The strategy's record so far: what a new status starts from.
pub fn so_far(strategy: &BackupStrategy) -> Vec<SkippedRun> {
    strategy
        .status
        .as_ref()
        .map(|s| s.skipped_runs.clone())
        .unwrap_or_default()
}

/// [`merge`], then without the runs `made` now.
pub fn settle(
    previous: &[SkippedRun],
    skipped: &[Skip],
    made: &[Made],
    now: Timestamp,
) -> (Vec<SkippedRun>, Vec<SkippedRun>) {
    let (mut record, fresh) = merge(previous, skipped, now);
    record.retain(|r| {
        !made.iter().any(|(at, run, tenant)| {
            r.scheduled_at.0 == *at && r.run == *run && &r.tenant == tenant
        })
    });
    (record, fresh)
}

/// The record with `skipped` added (a run already recorded keeps its first reason), newest first and at
/// most [`SKIPS_SHOWN`] long; and the runs it did not hold before.
pub fn merge(
    previous: &[SkippedRun],
    skipped: &[Skip],
    now: Timestamp,
) -> (Vec<SkippedRun>, Vec<SkippedRun>) {
    let same = |p: &SkippedRun, s: &Skip| {
        p.scheduled_at.0 == s.at && p.run == s.run && p.tenant == s.tenant
    };
    let fresh: Vec<SkippedRun> = skipped
        .iter()
        .filter(|s| !previous.iter().any(|p| same(p, s)))
        .map(|s| SkippedRun {
            scheduled_at: Time(s.at),
            run: s.run,
            tenant: s.tenant.clone(),
            reason: s.reason,
            recorded_at: Time(now),
        })
        .collect();
    let mut record: Vec<SkippedRun> = previous.iter().chain(&fresh).cloned().collect();
    record.sort_by_key(|r| std::cmp::Reverse(r.scheduled_at.0));
    record.truncate(SKIPS_SHOWN);
    // A fresh run older than the whole record is not announced either: it would never show.
    let fresh = fresh.into_iter().filter(|f| record.contains(f)).collect();
    (record, fresh)
}

/// The Warning event of a skipped run.
fn event(run: &SkippedRun) -> Event {
    let what = match (run.run, &run.tenant) {
        (ScheduledRun::Full, _) => "full backup".to_string(),
        (ScheduledRun::Incremental, _) => "incremental backup".to_string(),
        (ScheduledRun::Drill, Some(tenant)) => format!("restore drill of {tenant}"),
        (ScheduledRun::Drill, None) => "restore drill".to_string(),
    };
    let (reason, why) = match run.reason {
        SkipReason::Missed => (
            "ScheduledRunMissed",
            "it was found past schedule.startingDeadlineSeconds (the operator was down or the cluster \
             unreadable); the next run is made on time",
        ),
        SkipReason::Paused => (
            "ScheduledRunPaused",
            "the strategy is suspended (spec.suspend)",
        ),
        SkipReason::Busy => (
            "ScheduledRunBusy",
            "the tenant's previous drill still runs; see kubectl obbackup drill list",
        ),
        SkipReason::NoDump => (
            "ScheduledRunNoDump",
            "the tenant has no completed dump to load yet",
        ),
    };
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(format!(
            "the {what} due at {} did not run: {why}",
            run.scheduled_at.0
        )),
        action: "Schedule".into(),
        secondary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("time")
    }

    fn skip(seconds: i64, reason: SkipReason) -> Skip {
        Skip {
            at: at(seconds),
            run: ScheduledRun::Full,
            tenant: None,
            reason,
        }
    }

    #[test]
    fn a_skipped_run_is_recorded_and_announced_once_and_the_record_stays_bounded() {
        let first = [skip(100, SkipReason::Paused), skip(50, SkipReason::Paused)];
        let (record, fresh) = merge(&[], &first, at(200));
        assert_eq!((record.len(), fresh.len()), (2, 2));
        // The next look sees the same runs (now as missed, the strategy resumed): nothing new, and the
        // first reason stays.
        let again = [skip(100, SkipReason::Missed)];
        let (record, fresh) = merge(&record, &again, at(300));
        assert!(fresh.is_empty());
        assert_eq!(record[0].reason, SkipReason::Paused);
        // Resumed within the deadline, the run due at 50 is made late: it did run after all.
        let made = [(at(50), ScheduledRun::Full, None)];
        let (settled, _) = settle(&record, &[], &made, at(350));
        assert_eq!(settled.len(), 1);
        assert_eq!(settled[0].scheduled_at, Time(at(100)));
        // Two tenants' drills due at the same time are two runs.
        let drills: Vec<Skip> = ["t1", "t2"]
            .map(|t| Skip {
                at: at(100),
                run: ScheduledRun::Drill,
                tenant: Some(t.into()),
                reason: SkipReason::Busy,
            })
            .to_vec();
        let (record, fresh) = merge(&record, &drills, at(300));
        assert_eq!((record.len(), fresh.len()), (4, 2));
        // Thirty more: the newest twenty stay, and only those are announced.
        let many: Vec<Skip> = (1..=30)
            .map(|i| skip(1_000 + i, SkipReason::Missed))
            .collect();
        let (record, fresh) = merge(&record, &many, at(400));
        assert_eq!(record.len(), SKIPS_SHOWN);
        assert_eq!(record[0].scheduled_at, Time(at(1_030)));
        assert_eq!(fresh.len(), SKIPS_SHOWN);
    }
}
