//! What a strategy's restore drill should create, prune and show (docs/guide/restore-drills.md): the run
//! owed now (one catch-up after downtime within `startingDeadlineSeconds`, as the backup schedule), each
//! tenant's newest finished drill and newest passed one, the finished drills beyond the history limit, and
//! the `RestoreVerified` verdict. Pure, on the strategy, its drills as listed and the time.

use jiff::{SignedDuration, Timestamp};

use crate::{
    api::{
        BackupStrategy, RecoveryTaskPhase, RecoveryTaskStatus,
        drill::{DrillSummary, DrillVerdict, RestoreDrill, TenantDrills},
    },
    reason::Reason,
    schedule::{due, next, parse_cron, time_zone},
};

/// A drill RecoveryTask of the strategy, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Drill {
    pub name: String,
    /// The tenant drilled (its source tenant).
    pub tenant: String,
    /// When its run was scheduled or asked for.
    pub at: Option<Timestamp>,
    pub status: Option<RecoveryTaskStatus>,
}

impl Drill {
    fn phase(&self) -> Option<RecoveryTaskPhase> {
        self.status.as_ref().and_then(|s| s.phase)
    }

    fn ended(&self) -> bool {
        self.phase().is_some_and(RecoveryTaskPhase::is_terminal)
    }

    /// Its summary once it ended with a verdict.
    fn summary(&self) -> Option<DrillSummary> {
        let status = self.status.as_ref().filter(|_| self.ended())?;
        let drill = status.drill.clone().unwrap_or_default();
        Some(DrillSummary {
            task: self.name.clone(),
            verdict: drill.verdict.unwrap_or(DrillVerdict::Failed),
            ended_at: status.ended_at.clone(),
            recovery_time: status.recovery_time.clone(),
            restore_seconds: drill.restore_seconds,
            lag_seconds: drill.lag_seconds,
            message: drill.message,
        })
    }
}

/// The outcome of [`plan`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Tenants to drill now, and the time their run is for.
    pub create: Vec<(String, Timestamp)>,
    /// Tenants whose run (at that time) is skipped because their previous drill still runs.
    pub skipped: Vec<(String, Timestamp)>,
    /// Finished drills beyond the history limit, oldest first.
    pub prune: Vec<String>,
    /// The latest time a run was made for.
    pub last_schedule: Option<Timestamp>,
    pub next_run: Option<Timestamp>,
}

/// What keeps the drill's schedule from ever running ([`crate::schedule::faults`]). [`verified`] is then
/// false for this reason, not "no drill yet", and no drill is planned; the strategy's backups go on.
pub fn schedule_problem(drill: &RestoreDrill) -> Option<(Reason, String)> {
    let crons = [("schedule", drill.schedule.as_str())];
    crate::schedule::faults("restoreDrill.", &drill.time_zone, &crons)
        .into_iter()
        .next()
}

/// Plans the strategy's drills of `tenants` at `now`. While a restore of the user's own runs into the
/// drill's target cluster (`busy`), nothing is created and the run stays owed (within the deadline).
pub fn plan(
    strategy: &BackupStrategy,
    drill: &RestoreDrill,
    tenants: &[String],
    drills: &[Drill],
    busy: bool,
    now: Timestamp,
) -> Plan {
    let (Ok(cron), Ok(zone)) = (parse_cron(&drill.schedule), time_zone(&drill.time_zone)) else {
        return Plan::default();
    };
    let created = strategy
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    let recorded = strategy
        .status
        .as_ref()
        .and_then(|s| s.last_drill_schedule_time.as_ref())
        .map(|t| t.0);
    // Scheduled runs only: a run asked by hand does not stand for the schedule's.
    let newest_child = drills
        .iter()
        .filter(|d| !d.name.contains("-drill-now-"))
        .filter_map(|d| d.at)
        .max();
    let last = recorded.max(newest_child);
    let deadline = SignedDuration::from_secs(strategy.spec.schedule.starting_deadline_seconds);
    let owed = due(
        &cron,
        &zone,
        last.unwrap_or(created).max(created),
        now,
        Some(deadline),
    );
    let mut result = Plan {
        last_schedule: last,
        next_run: next(&cron, &zone, now),
        prune: prune(drills, drill.history_limit),
        ..Plan::default()
    };
    if let Some(at) = owed.filter(|_| !busy && !strategy.spec.suspend) {
        for tenant in tenants {
            let running = drills
                .iter()
                .any(|d| d.tenant.eq_ignore_ascii_case(tenant) && !d.ended());
            if running {
                result.skipped.push((tenant.clone(), at));
            } else {
                result.create.push((tenant.clone(), at));
            }
        }
        result.last_schedule = Some(at).max(last);
    }
    result
}

/// Each tenant's finished drills beyond the newest `limit`, oldest first.
fn prune(drills: &[Drill], limit: i32) -> Vec<String> {
    let keep = usize::try_from(limit).unwrap_or(0);
    let mut ended: Vec<&Drill> = drills.iter().filter(|d| d.ended()).collect();
    ended.sort_by_key(|d| std::cmp::Reverse(d.at));
    let mut doomed = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for drill in ended {
        let tenant = drill.tenant.to_ascii_lowercase();
        let count = match seen.iter_mut().find(|(t, _)| *t == tenant) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((tenant, 1));
                1
            }
        };
        if count > keep {
            doomed.push(drill);
        }
    }
    doomed.sort_by_key(|d| d.at);
    doomed.into_iter().map(|d| d.name.clone()).collect()
}

/// Each tenant's line: its newest finished drill and newest passed one, from its drills as listed and the
/// previous lines (a pruned drill's summary stays until a newer one replaces it).
pub fn lines(tenants: &[String], drills: &[Drill], previous: &[TenantDrills]) -> Vec<TenantDrills> {
    tenants
        .iter()
        .map(|tenant| {
            let before = previous
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(tenant));
            let mine: Vec<DrillSummary> = drills
                .iter()
                .filter(|d| d.tenant.eq_ignore_ascii_case(tenant))
                .filter_map(Drill::summary)
                .collect();
            let newest = |passed_only: bool, kept: Option<&DrillSummary>| {
                mine.iter()
                    .chain(kept)
                    .filter(|s| !passed_only || s.verdict == DrillVerdict::Passed)
                    .max_by_key(|s| s.ended_at.as_ref().map(|t| t.0))
                    .cloned()
            };
            TenantDrills {
                name: tenant.clone(),
                last: newest(false, before.and_then(|b| b.last.as_ref())),
                last_passed: newest(true, before.and_then(|b| b.last_passed.as_ref())),
            }
        })
        .collect()
}

/// The `RestoreVerified` verdict over the lines: `(true, …)` when every tenant's last drill passed
/// within `max_age`; otherwise the first tenant that fails it and why.
pub fn verified(
    lines: &[TenantDrills],
    max_age: SignedDuration,
    now: Timestamp,
) -> (bool, Reason, String) {
    for line in lines {
        let tenant = &line.name;
        match (&line.last, &line.last_passed) {
            (None, _) => {
                return (
                    false,
                    Reason::NoDrillYet,
                    format!("no drill of tenant {tenant} has finished yet"),
                );
            }
            (Some(last), _) if last.verdict == DrillVerdict::Failed => {
                let why = last.message.clone().unwrap_or_default();
                return (
                    false,
                    Reason::DrillFailed,
                    format!(
                        "the last drill of tenant {tenant} ({}) failed: {why}",
                        last.task
                    ),
                );
            }
            (_, Some(passed)) => {
                let age = passed
                    .ended_at
                    .as_ref()
                    .map_or(SignedDuration::MAX, |t| now.duration_since(t.0));
                if age > max_age {
                    return (
                        false,
                        Reason::DrillOverdue,
                        format!(
                            "tenant {tenant} has had no passed drill for {age:#}, more than the {max_age:#} allowed"
                        ),
                    );
                }
            }
            (Some(_), None) => {}
        }
    }
    if lines.is_empty() {
        // Nothing drilled (the cluster not read yet, no tenant in scope) verifies nothing.
        let message = "no tenant is drilled yet: the strategy's tenants are not known".to_string();
        return (false, Reason::NoDrillYet, message);
    }
    let message = format!(
        "every drilled tenant ({}) restored and passed its checks",
        lines.len()
    );
    (true, Reason::DrillPassed, message)
}

/// The oldest of the tenants' last passed drills (`None` while a tenant has none).
pub fn oldest_passed(
    lines: &[TenantDrills],
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    let times: Option<Vec<_>> = lines
        .iter()
        .map(|l| l.last_passed.as_ref().and_then(|p| p.ended_at.clone()))
        .collect();
    times?.into_iter().min_by_key(|t| t.0)
}

#[cfg(test)]
mod tests;
