//! What a strategy should create and remove (docs/contributing/design.md §2.2): the scheduled
//! BackupTasks owed now (one catch-up per schedule after downtime, within
//! `startingDeadlineSeconds`), the next run times, and the finished tasks beyond the history
//! limits. Pure, on the strategy, its children as listed and the time.

use jiff::{SignedDuration, Timestamp};

use crate::{
    api::{BackupStrategy, BackupTaskPhase},
    schedule::{due, next, parse_cron, task_name, time_zone},
};

/// Annotation on a scheduled task: the time it was scheduled for (RFC 3339).
pub const SCHEDULED_AT: &str = "obbackup.dev/scheduled-at";
pub use crate::names::STRATEGY_LABEL;

/// A BackupTask the strategy owns, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    pub name: String,
    pub incremental: bool,
    /// From [`SCHEDULED_AT`] (tasks made by hand and then adopted have none).
    pub scheduled_at: Option<Timestamp>,
    pub created: Timestamp,
    pub phase: Option<BackupTaskPhase>,
}

/// A task to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    pub name: String,
    pub tenant: String,
    pub incremental: bool,
    pub scheduled_at: Timestamp,
}

/// The outcome of [`plan`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub create: Vec<NewTask>,
    /// Finished tasks beyond the history limits, oldest first.
    pub prune: Vec<String>,
    pub next_full: Option<Timestamp>,
    pub next_incremental: Option<Timestamp>,
    /// The latest scheduled time any task was (or is now being) made for.
    pub last_schedule: Option<Timestamp>,
    /// The newest runs due since the last one made that are not made now, newest first.
    pub skipped: Vec<Skip>,
}

pub use super::history::{SKIPS_SHOWN, Skip};

impl Plan {
    /// The runs this plan makes, for the schedule's history.
    pub fn made(&self) -> Vec<super::history::Made> {
        use crate::api::backup_strategy::ScheduledRun;
        let mut made: Vec<super::history::Made> = self
            .create
            .iter()
            .map(|t| {
                let run = if t.incremental {
                    ScheduledRun::Incremental
                } else {
                    ScheduledRun::Full
                };
                (t.scheduled_at, run, None)
            })
            .collect();
        made.dedup();
        made
    }

    /// The next scheduled run, full or incremental.
    pub fn next_run(&self) -> Option<Timestamp> {
        self.next_full
            .into_iter()
            .chain(self.next_incremental)
            .min()
    }
}

/// Plans the strategy's tasks for `tenants` at `now`.
pub fn plan(
    strategy: &BackupStrategy,
    tenants: &[String],
    children: &[Child],
    now: Timestamp,
) -> Plan {
    let spec = &strategy.spec;
    let created = strategy
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    let Ok(zone) = time_zone(&spec.schedule.time_zone) else {
        return Plan::default();
    };
    let deadline = Some(SignedDuration::from_secs(
        spec.schedule.starting_deadline_seconds,
    ));
    // What is due follows from the last scheduled time the status records (as Kubernetes' CronJob does),
    // not only from the children still present: pruning or deleting a task must never make its run due
    // again. A child newer than the record (made just before a crash) counts too.
    let recorded = strategy
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .map(|t| t.0);
    let last = |incremental: bool| last_scheduled(children, incremental, recorded);
    let since = |incremental: bool| last(incremental).unwrap_or(created).max(created);
    let full = parse_cron(&spec.schedule.full).ok();
    let incremental = spec
        .schedule
        .incremental
        .as_deref()
        .and_then(|c| parse_cron(c).ok());
    let mut result = Plan {
        last_schedule: last(false).max(last(true)),
        ..Plan::default()
    };
    let due_full = full
        .as_ref()
        .and_then(|cron| due(cron, &zone, since(false), now, deadline));
    let due_incremental = incremental
        .as_ref()
        .and_then(|cron| due(cron, &zone, since(true), now, deadline))
        // A full at the same time covers it.
        .filter(|at| Some(*at) != due_full);
    if !spec.suspend {
        for (at, is_incremental) in [(due_full, false), (due_incremental, true)] {
            let Some(at) = at else { continue };
            result
                .create
                .extend(runs(strategy, tenants, is_incremental, at));
            result.last_schedule = result.last_schedule.max(Some(at));
        }
    }
    for (cron, is_incremental, made) in [
        (&full, false, due_full),
        (&incremental, true, due_incremental.or(due_full)),
    ] {
        let Some(cron) = cron else { continue };
        let after = since(is_incremental);
        result.skipped.extend(skipped(
            cron,
            &zone,
            after,
            now,
            made,
            spec.suspend,
            is_incremental,
        ));
    }
    result.skipped.sort_by_key(|s| std::cmp::Reverse(s.at));
    result.next_full = full.as_ref().and_then(|cron| next(cron, &zone, now));
    result.next_incremental = incremental.as_ref().and_then(|cron| next(cron, &zone, now));
    result.prune = prune(children, &spec.retention, recorded);
    result
}

/// The occurrences of `cron` after `after` that are not the run `made` now: each `Paused` while the strategy
/// is suspended (the due one too), else `Missed`.
fn skipped(
    cron: &croner::Cron,
    zone: &jiff::tz::TimeZone,
    after: Timestamp,
    now: Timestamp,
    made: Option<Timestamp>,
    suspended: bool,
    incremental: bool,
) -> Vec<Skip> {
    use crate::api::backup_strategy::{ScheduledRun, SkipReason};
    crate::schedule::occurrences(cron, zone, after, now, SKIPS_SHOWN)
        .into_iter()
        .filter(|at| suspended || Some(*at) != made)
        .map(|at| Skip {
            at,
            run: if incremental {
                ScheduledRun::Incremental
            } else {
                ScheduledRun::Full
            },
            tenant: None,
            reason: if suspended {
                SkipReason::Paused
            } else {
                SkipReason::Missed
            },
        })
        .collect()
}

/// The latest time a run of one kind (`incremental` or full) was scheduled for: the newest such child's, or
/// the time the status `recorded` when that is later.
fn last_scheduled(
    children: &[Child],
    incremental: bool,
    recorded: Option<Timestamp>,
) -> Option<Timestamp> {
    children
        .iter()
        .filter(|c| c.incremental == incremental)
        .filter_map(|c| c.scheduled_at)
        .max()
        .max(recorded)
}

/// The run due `at`, one task per tenant.
fn runs(
    strategy: &BackupStrategy,
    tenants: &[String],
    incremental: bool,
    at: Timestamp,
) -> Vec<NewTask> {
    let strategy_name = strategy.metadata.name.clone().unwrap_or_default();
    tenants
        .iter()
        .map(|tenant| NewTask {
            name: task_name(&strategy_name, tenant, incremental, at),
            tenant: tenant.clone(),
            incremental,
            scheduled_at: at,
        })
        .collect()
}

/// Finished tasks beyond the limits: the newest `successful` Completed and `failed` Failed or Canceled
/// tasks stay. A scheduled task newer than the recorded last schedule time stays until the status records
/// it: until then it is the only memory that its run happened.
fn prune(
    children: &[Child],
    retention: &crate::api::backup_strategy::Retention,
    recorded: Option<Timestamp>,
) -> Vec<String> {
    let mut sorted: Vec<&Child> = children
        .iter()
        .filter(|c| c.scheduled_at.is_none_or(|at| Some(at) <= recorded))
        .collect();
    sorted.sort_by_key(|c| std::cmp::Reverse(c.scheduled_at.unwrap_or(c.created)));
    let limit = |n: i32| usize::try_from(n).unwrap_or(0);
    let mut doomed: Vec<&Child> = Vec::new();
    for (phases, keep) in [
        (
            &[BackupTaskPhase::Completed][..],
            limit(retention.successful_tasks_history_limit),
        ),
        (
            &[BackupTaskPhase::Failed, BackupTaskPhase::Canceled][..],
            limit(retention.failed_tasks_history_limit),
        ),
    ] {
        doomed.extend(
            sorted
                .iter()
                .filter(|c| c.phase.is_some_and(|p| phases.contains(&p)))
                .skip(keep),
        );
    }
    doomed.sort_by_key(|c| c.scheduled_at.unwrap_or(c.created));
    doomed.into_iter().map(|c| c.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::backup_strategy::BackupStrategySpec;

    fn strategy(extra: &str) -> BackupStrategy {
        let yaml = format!(
            "cluster: {{name: obcluster, connectionSecret: ob}}\n\
             dataDestination: {{uri: 'file:///d'}}\nlogDestination: {{uri: 'file:///a'}}\n\
             schedule: {{timeZone: UTC, full: '0 1 * * 0', incremental: '0 1 * * 1-6', startingDeadlineSeconds: 3600}}\n\
             retention: {{successfulTasksHistoryLimit: 2, failedTasksHistoryLimit: 1}}\n{extra}"
        );
        let spec: BackupStrategySpec = serde_norway::from_str(&yaml).expect("spec");
        let mut strategy = BackupStrategy::new("demo", spec);
        strategy.metadata.creation_timestamp = Some(Time(at("2026-11-01T00:00:00Z")));
        strategy
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    fn child(made: &NewTask, phase: Option<BackupTaskPhase>) -> Child {
        Child {
            name: made.name.clone(),
            incremental: made.incremental,
            scheduled_at: Some(made.scheduled_at),
            created: made.scheduled_at,
            phase,
        }
    }

    #[test]
    fn a_simulated_week_makes_one_full_and_six_incrementals_per_tenant() {
        let strategy = strategy("");
        let tenants = ["t1".to_string(), "t2".to_string()];
        let mut children: Vec<Child> = Vec::new();
        // Look every ten minutes for a week, as the operator would (more often changes nothing).
        let start = at("2026-11-01T00:00:00Z");
        for step in 0..(7 * 24 * 6) {
            let now = start + SignedDuration::from_mins(10 * step);
            let plan = plan(&strategy, &tenants, &children, now);
            children.extend(
                plan.create
                    .iter()
                    .map(|t| child(t, Some(BackupTaskPhase::Completed))),
            );
        }
        let full: Vec<&str> = children
            .iter()
            .filter(|c| !c.incremental)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            full,
            ["demo-t1-full-20261101-0100", "demo-t2-full-20261101-0100"]
        );
        assert_eq!(children.iter().filter(|c| c.incremental).count(), 12);
        let again = plan(&strategy, &tenants, &children, at("2026-11-07T12:00:00Z"));
        assert!(again.create.is_empty(), "nothing twice");
        assert_eq!(again.next_full, Some(at("2026-11-08T01:00:00Z")));
        assert_eq!(again.next_incremental, Some(at("2026-11-09T01:00:00Z")));
    }

    #[test]
    fn after_a_day_down_one_catch_up_within_the_deadline() {
        let strategy = strategy("");
        let tenants = ["t1".to_string()];
        let made = plan(&strategy, &tenants, &[], at("2026-11-02T01:05:00Z")).create;
        assert_eq!(made.len(), 1, "{made:?}");
        let children: Vec<Child> = made
            .iter()
            .map(|t| child(t, Some(BackupTaskPhase::Completed)))
            .collect();
        // Down from Monday 01:10 to Wednesday 01:30: Tuesday's and Wednesday's runs collapse into one.
        let back = plan(&strategy, &tenants, &children, at("2026-11-04T01:30:00Z"));
        assert_eq!(back.create.len(), 1);
        assert_eq!(back.create[0].scheduled_at, at("2026-11-04T01:00:00Z"));
        // Tuesday's run is missed; Wednesday's is made, so it is not. Sunday's full, due an hour after
        // the strategy was created and first seen a day later, was missed too.
        let missed = |day: &str, incremental: bool| Skip {
            at: at(day),
            run: if incremental {
                crate::api::backup_strategy::ScheduledRun::Incremental
            } else {
                crate::api::backup_strategy::ScheduledRun::Full
            },
            tenant: None,
            reason: crate::api::backup_strategy::SkipReason::Missed,
        };
        assert_eq!(
            back.skipped,
            [
                missed("2026-11-03T01:00:00Z", true),
                missed("2026-11-01T01:00:00Z", false)
            ]
        );
        // Back after the deadline: nothing until the next run, and Wednesday's run missed as well.
        let late = plan(&strategy, &tenants, &children, at("2026-11-04T03:00:00Z"));
        assert!(late.create.is_empty());
        let times: Vec<Timestamp> = late.skipped.iter().map(|s| s.at).collect();
        assert_eq!(
            times,
            [
                at("2026-11-04T01:00:00Z"),
                at("2026-11-03T01:00:00Z"),
                at("2026-11-01T01:00:00Z")
            ]
        );
    }

    #[test]
    fn a_pruned_run_is_never_due_again() {
        // Issue 13, defect 3: a full every minute with both history limits at 0 re-created each pruned run
        // (same name, new UID, another OceanBase backup) while it was within the starting deadline.
        let mut strategy = strategy("");
        strategy.spec.retention.successful_tasks_history_limit = 0;
        strategy.spec.retention.failed_tasks_history_limit = 0;
        strategy.spec.schedule.full = "* * * * *".into();
        strategy.spec.schedule.incremental = None;
        let tenants = ["t1".to_string()];
        let mut children: Vec<Child> = Vec::new();
        let mut made: Vec<String> = Vec::new();
        let start = at("2026-11-02T00:00:00Z");
        // Look every 10 s for 5 minutes; each task completes at once and is pruned at the next look.
        for step in 0..30 {
            let now = start + SignedDuration::from_secs(10 * step);
            let plan = plan(&strategy, &tenants, &children, now);
            made.extend(plan.create.iter().map(|t| t.name.clone()));
            children.retain(|c| !plan.prune.contains(&c.name));
            children.extend(
                plan.create
                    .iter()
                    .map(|t| child(t, Some(BackupTaskPhase::Completed))),
            );
            // The status write that follows records the last schedule time.
            let status = strategy.status.get_or_insert_with(Default::default);
            status.last_schedule_time = plan.last_schedule.map(Time);
        }
        assert_eq!(made.len(), 5, "one task per scheduled minute: {made:?}");
        let mut unique = made.clone();
        unique.dedup();
        assert_eq!(unique, made, "no run made twice");
    }

    #[test]
    fn a_run_the_status_does_not_record_yet_is_not_pruned() {
        let mut strategy = strategy("");
        strategy.spec.retention.successful_tasks_history_limit = 0;
        strategy.spec.retention.failed_tasks_history_limit = 0;
        let made = plan(&strategy, &["t1".into()], &[], at("2026-11-02T01:05:00Z")).create;
        let children: Vec<Child> = made
            .iter()
            .map(|t| child(t, Some(BackupTaskPhase::Completed)))
            .collect();
        // The status write after the creation was lost (crash): the finished task is all that remembers it.
        let again = plan(
            &strategy,
            &["t1".into()],
            &children,
            at("2026-11-02T01:06:00Z"),
        );
        assert!(again.prune.is_empty(), "{:?}", again.prune);
        assert!(again.create.is_empty());
        assert_eq!(again.last_schedule, Some(at("2026-11-02T01:00:00Z")));
    }

    #[test]
    fn suspend_schedules_nothing_but_still_says_when() {
        let paused = strategy("suspend: true");
        let plan = plan(
            &paused,
            &["t1".to_string()],
            &[],
            at("2026-11-02T01:05:00Z"),
        );
        assert!(plan.create.is_empty());
        assert!(plan.next_full.is_some());
        // Sunday's full and Monday's incremental (both 01:00) were due while paused.
        use crate::api::backup_strategy::ScheduledRun;
        let skipped: Vec<(Timestamp, ScheduledRun)> =
            plan.skipped.iter().map(|s| (s.at, s.run)).collect();
        assert_eq!(
            skipped,
            [
                (at("2026-11-02T01:00:00Z"), ScheduledRun::Incremental),
                (at("2026-11-01T01:00:00Z"), ScheduledRun::Full)
            ]
        );
        assert!(
            plan.skipped
                .iter()
                .all(|s| s.reason == crate::api::backup_strategy::SkipReason::Paused)
        );
    }

    #[test]
    fn finished_tasks_beyond_the_limits_are_pruned_oldest_first() {
        let mut strategy = strategy("");
        strategy.status = Some(crate::api::BackupStrategyStatus {
            last_schedule_time: Some(Time(at("2026-11-07T01:00:00Z"))),
            ..Default::default()
        });
        let task = |day: u32, phase: BackupTaskPhase| Child {
            name: format!("d{day}"),
            incremental: true,
            scheduled_at: Some(at(&format!("2026-11-{day:02}T01:00:00Z"))),
            created: at("2026-11-01T00:00:00Z"),
            phase: Some(phase),
        };
        let children = [
            task(2, BackupTaskPhase::Completed),
            task(3, BackupTaskPhase::Failed),
            task(4, BackupTaskPhase::Completed),
            task(5, BackupTaskPhase::Canceled),
            task(6, BackupTaskPhase::Completed),
            task(7, BackupTaskPhase::InProgress),
        ];
        let plan = plan(
            &strategy,
            &["t1".to_string()],
            &children,
            at("2026-11-07T02:00:00Z"),
        );
        assert_eq!(
            plan.prune,
            ["d2", "d3"],
            "2 successful and 1 failed kept; running ones never pruned"
        );
    }
}
