//! A physical strategy's restore drills in the API (docs/guide/restore-drills.md): its drill RecoveryTasks
//! listed by label, the run owed created ([`crate::drill::task`], exactly once: the name comes from the
//! scheduled time and an existing object is left as it is), the finished drills beyond the history limit
//! deleted, and the status lines, `RestoreVerified` condition and metrics written from what they show.

pub mod plan;

use jiff::Timestamp;
use kube::{Api, ResourceExt};

use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus, BackupTask, RecoveryTask,
        backup_strategy::BackupMethod, drill::RestoreDrill,
    },
    controller::{
        Context, Error,
        conditions::{api_time, condition, merge},
    },
    drill::{Asked, DRILL_AT, DRILL_TENANT_LABEL},
    names::STRATEGY_LABEL,
};
use plan::{Drill, Plan};

/// Condition type: every drilled tenant's last drill passed, within `restoreDrill.maxAge`.
pub const RESTORE_VERIFIED: &str = "RestoreVerified";

/// How often a strategy looks at its drills while one runs (a drill's end does not wake the strategy).
pub const DRILL_RUNNING_RECHECK: std::time::Duration = std::time::Duration::from_secs(15);

/// What the drills' look found, for the status.
pub struct Drills {
    plan: Plan,
    listed: Vec<Drill>,
    tenants: Vec<String>,
    /// The runs this look did not make, for the schedule's history.
    skipped: Vec<super::history::Skip>,
}

impl Drills {
    /// When to look again: the next run, or soon while a drill runs.
    pub fn next_look(&self, now: Timestamp) -> Option<std::time::Duration> {
        // The drills just made run too: their end must reach the status without waiting for the next run.
        let running = !self.plan.create.is_empty()
            || self.listed.iter().any(|d| {
                d.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .is_none_or(|p| !p.is_terminal())
            });
        let until_next = self.plan.next_run.and_then(|at| {
            std::time::Duration::try_from(at.duration_since(now))
                .ok()
                .map(crate::clock::real)
        });
        let soon = running.then_some(DRILL_RUNNING_RECHECK);
        until_next.into_iter().chain(soon).min()
    }

    /// The status with the drills' lines, their verdict and the schedule's record.
    pub fn report(
        &self,
        strategy: &BackupStrategy,
        drill: &RestoreDrill,
        desired: &mut BackupStrategyStatus,
        now: Timestamp,
    ) {
        let previous = strategy.status.clone().unwrap_or_default();
        let lines = plan::lines(&self.tenants, &self.listed, &previous.drills);
        let generation = strategy.metadata.generation;
        let max_age =
            crate::api::common::parse_duration(&drill.max_age).unwrap_or(jiff::SignedDuration::MAX);
        let (ok, reason, message) = match plan::schedule_problem(drill) {
            Some((reason, message)) => (false, reason, message),
            None => plan::verified(&lines, max_age, now),
        };
        let verified = condition(RESTORE_VERIFIED, ok, reason, &message, generation);
        desired.conditions.retain(|c| c.type_ != RESTORE_VERIFIED);
        desired
            .conditions
            .extend(merge(&previous.conditions, vec![verified], now));
        desired.last_passed_drill_time = plan::oldest_passed(&lines);
        desired.last_drill_schedule_time = self.plan.last_schedule.map(api_time);
        desired.drills = lines;
    }
}

/// The drills' look, for a strategy of either method: synced ([`sync`]), written into `desired`; returns
/// when to look again for them (`None`: the strategy declares none). The last step before either method
/// writes its status, it also brings the alert record up to date ([`super::alert_record`]).
pub async fn look(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    in_scope: &[String],
    desired: &mut BackupStrategyStatus,
    now: Timestamp,
) -> Result<Option<std::time::Duration>, Error> {
    let next = match (
        sync(ctx, namespace, strategy, in_scope, now).await?,
        &strategy.spec.restore_drill,
    ) {
        (Some(drills), Some(drill)) => {
            let made: Vec<super::history::Made> = (drills.plan.create.iter())
                .map(|(tenant, at)| {
                    let run = crate::api::backup_strategy::ScheduledRun::Drill;
                    (*at, run, Some(tenant.clone()))
                })
                .collect();
            super::history::record(ctx, strategy, &drills.skipped, &made, desired, now).await;
            drills.report(strategy, drill, desired, now);
            drills.next_look(now)
        }
        _ => None,
    };
    super::alert_record::note(ctx, namespace, strategy, desired, now).await?;
    Ok(next)
}

/// `look`, or the drills' own next look when that is sooner (never sooner than a strategy's least wait).
pub fn sooner(
    look: std::time::Duration,
    drills: Option<std::time::Duration>,
) -> std::time::Duration {
    drills.map_or(look, |d| look.min(d.max(crate::timing::STRATEGY_MIN_WAIT)))
}

/// Lists the strategy's drills, creates the run owed for `tenants` at `now` and prunes the finished drills
/// beyond the history limit. `None` when the strategy declares no drill.
pub async fn sync(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    in_scope: &[String],
    now: Timestamp,
) -> Result<Option<Drills>, Error> {
    let Some(drill) = &strategy.spec.restore_drill else {
        return Ok(None);
    };
    let tenants = if drill.tenants.is_empty() {
        in_scope.to_vec()
    } else {
        drill.tenants.clone()
    };
    // From the controllers' cache: a strategy looks often, and exactly once rests on the run's name.
    let all = ctx
        .catalog
        .list_where(namespace, |_: &RecoveryTask| true)
        .await?;
    let strategy_name = strategy.name_any();
    let target = drill
        .target
        .cluster
        .as_ref()
        .unwrap_or(&strategy.spec.cluster);
    let busy = all.iter().any(|t| {
        t.spec.drill.is_none()
            && t.spec.target.cluster.same_cluster(target)
            && t.status
                .as_ref()
                .and_then(|s| s.phase)
                .is_none_or(|p| !p.is_terminal())
    });
    let listed: Vec<Drill> = all
        .into_iter()
        .filter(|t| is_drill_of(t, &strategy_name))
        .map(|t| Drill {
            at: t.annotations().get(DRILL_AT).and_then(|v| v.parse().ok()),
            tenant: t.spec.source.tenant.clone(),
            name: t.name_any(),
            status: t.status,
        })
        .collect();
    let plan = plan::plan(strategy, drill, &tenants, &listed, busy, now);
    let skipped = create(ctx, namespace, strategy, &plan).await?;
    let api: Api<RecoveryTask> = Api::namespaced(ctx.client.clone(), namespace);
    super::children::delete_named(&api, &plan.prune).await?;
    Ok(Some(Drills {
        plan,
        listed,
        tenants,
        skipped,
    }))
}

/// A logical strategy's newest Completed dump of each tenant, as (tenant, BackupTask); none for a physical
/// strategy.
async fn newest_dumps(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<(String, String)>, Error> {
    if strategy.spec.method != BackupMethod::Logical {
        return Ok(Vec::new());
    }
    let own = |t: &BackupTask| crate::drill::is_dump_of(strategy, t);
    let tasks = ctx
        .catalog
        .of_strategy(namespace, &strategy.name_any(), own)
        .await?;
    Ok(crate::drill::newest_dumps(strategy, &tasks))
}

/// Whether `task` is one of the strategy's drills.
fn is_drill_of(task: &RecoveryTask, strategy: &str) -> bool {
    let labels = task.labels();
    task.spec.drill.is_some()
        && labels.get(STRATEGY_LABEL).map(String::as_str) == Some(strategy)
        && labels.contains_key(DRILL_TENANT_LABEL)
}

/// Creates the runs the plan owes; one that exists already (made before a restart) is left as it is.
/// Returns the runs not made: the plan's (a tenant's previous drill still runs) and those with no dump to
/// load.
async fn create(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    plan: &Plan,
) -> Result<Vec<super::history::Skip>, Error> {
    use crate::api::backup_strategy::{ScheduledRun, SkipReason};
    let skip = |tenant: &str, at: Timestamp, reason: SkipReason| super::history::Skip {
        at,
        run: ScheduledRun::Drill,
        tenant: Some(tenant.to_string()),
        reason,
    };
    let mut skipped: Vec<super::history::Skip> = plan
        .skipped
        .iter()
        .map(|(tenant, at)| skip(tenant, *at, SkipReason::Busy))
        .collect();
    let api: Api<RecoveryTask> = Api::namespaced(ctx.client.clone(), namespace);
    let dumps = newest_dumps(ctx, namespace, strategy).await?;
    for (tenant, at) in &plan.create {
        let dump = crate::drill::dump_of(&dumps, tenant);
        let Some(task) = crate::drill::task(strategy, tenant, *at, Asked::Schedule, dump) else {
            skipped.push(skip(tenant, *at, SkipReason::NoDump));
            continue;
        };
        crate::crash::point("child/RecoveryTask/before-create");
        match api.create(&Default::default(), &task).await {
            Ok(_) => crate::crash::point("child/RecoveryTask/after-create"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strategy_that_just_made_drills_looks_again_soon_to_show_their_end() {
        let now: Timestamp = "2026-11-26T03:00:05Z".parse().expect("now");
        let tomorrow: Timestamp = "2026-11-27T03:00:00Z".parse().expect("tomorrow");
        let made = Drills {
            plan: Plan {
                create: vec![("tenant1".into(), now)],
                next_run: Some(tomorrow),
                ..Plan::default()
            },
            listed: Vec::new(),
            tenants: vec!["tenant1".into()],
            skipped: Vec::new(),
        };
        assert_eq!(made.next_look(now), Some(DRILL_RUNNING_RECHECK));
        let idle = Drills {
            plan: Plan {
                next_run: Some(tomorrow),
                ..Plan::default()
            },
            listed: Vec::new(),
            tenants: vec!["tenant1".into()],
            skipped: Vec::new(),
        };
        assert!(idle.next_look(now) > Some(DRILL_RUNNING_RECHECK));
    }
}
