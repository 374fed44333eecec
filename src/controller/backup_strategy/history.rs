//! The schedule's history of runs that did not run (docs/guide/strategies.md): each skipped or missed run
//! of a look's plan is recorded once in the strategy's `status.skippedRuns` (the newest 20) and announced
//! once by a Warning event saying why.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::events::{Event, EventType};

use super::plan::{Plan, SKIPS_SHOWN, Skip};
use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus,
        backup_strategy::{SkipReason, SkippedRun},
        backup_task::BackupMode,
    },
    controller::Context,
};

/// Records the plan's skipped runs in `desired` and announces the ones not recorded before.
pub async fn apply(
    ctx: &Context,
    strategy: &BackupStrategy,
    plan: &Plan,
    desired: &mut BackupStrategyStatus,
    now: Timestamp,
) {
    let previous = strategy
        .status
        .as_ref()
        .map(|s| s.skipped_runs.as_slice())
        .unwrap_or_default();
    let (record, fresh) = merge(previous, &plan.skipped, now);
    desired.skipped_runs = record;
    for run in fresh {
        ctx.publish(strategy, event(&run)).await;
    }
}

/// The record with `skipped` added (a run already recorded keeps its first reason), newest first and at
/// most [`SKIPS_SHOWN`] long; and the runs it did not hold before.
pub fn merge(
    previous: &[SkippedRun],
    skipped: &[Skip],
    now: Timestamp,
) -> (Vec<SkippedRun>, Vec<SkippedRun>) {
    let mode = |incremental: bool| {
        if incremental {
            BackupMode::Incremental
        } else {
            BackupMode::Full
        }
    };
    let fresh: Vec<SkippedRun> = skipped
        .iter()
        .filter(|s| {
            !previous
                .iter()
                .any(|p| p.scheduled_at.0 == s.at && p.mode == mode(s.incremental))
        })
        .map(|s| SkippedRun {
            scheduled_at: Time(s.at),
            mode: mode(s.incremental),
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
    let mode = match run.mode {
        BackupMode::Full => "full",
        BackupMode::Incremental => "incremental",
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
    };
    Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(format!(
            "the {mode} backup due at {} did not run: {why}",
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
            incremental: false,
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
