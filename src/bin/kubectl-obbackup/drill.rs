//! `drill run`: a strategy's restore drill now, for one or more of its tenants — the very RecoveryTask the
//! drill's schedule makes (`ob_backup_operator::drill::task`), named `-drill-now-` and the second; with
//! `--wait`, followed through its phases to its verdict. `drill list` is in `drill_list.rs`.

use std::{collections::BTreeMap, time::Duration};

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{ListParams, ObjectList},
};
use ob_backup_operator::{
    api::{
        BackupStrategy, RecoveryTask,
        drill::RestoreDrill,
        recovery_task::{RecoveryPoint, RecoveryTaskPhase},
    },
    drill::{Asked, task},
    names::STRATEGY_LABEL,
    windows::point::point_time,
};

use crate::{
    actions,
    render::{Reply, TimeFormat},
};

/// `drill run|list`.
#[derive(clap::Subcommand, Debug)]
pub enum DrillCommand {
    /// Runs the strategy's restore drill now: one RecoveryTask per tenant that restores it into a scratch
    /// tenant, runs the drill's checks and drops it again.
    Run(RunArgs),
    /// The strategy's drills, newest first: status, verdict, point restored to, restore duration, measured
    /// lag and the failed check.
    List(ListArgs),
}

/// `drill run STRATEGY [--tenant T]... [--wait [--timeout D]]`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub strategy: String,
    /// A tenant to drill (repeat for more). Default: the drill's tenants, else the strategy's, else the
    /// tenants its overview shows.
    #[arg(long)]
    pub tenant: Vec<String>,
    /// Follow the drills to their end, saying each phase; fails when any does not pass.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long, e.g. 2h (default: until they end; each drill has its own
    /// restoreDrill.timeout).
    #[arg(long, requires = "wait")]
    pub timeout: Option<String>,
}

/// `drill list STRATEGY [--tenant T]`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    pub strategy: String,
    /// Only the drills of this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// The strategy's restore drill, or why there is none.
pub fn declared(strategy: &BackupStrategy) -> Result<&RestoreDrill, String> {
    strategy.spec.restore_drill.as_ref().ok_or_else(|| {
        format!(
            "BackupStrategy {} declares no restore drill: add spec.restoreDrill (a schedule, a target and \
             credentialsSecret) first; nothing was created",
            strategy.name_any()
        )
    })
}

/// The tenants a run drills: those `asked` (which the strategy must cover, spelled as the strategy spells
/// them), else the drill's tenants, else the strategy's, else those its overview shows.
pub fn tenants(strategy: &BackupStrategy, asked: &[String]) -> Result<Vec<String>, String> {
    let drill = declared(strategy)?;
    if asked.is_empty() {
        if !drill.tenants.is_empty() {
            return Ok(drill.tenants.clone());
        }
        return actions::tenants_of(strategy, None, true);
    }
    let known: Vec<&String> = drill
        .tenants
        .iter()
        .chain(&strategy.spec.tenants)
        .chain(
            strategy
                .status
                .iter()
                .flat_map(|s| &s.tenants)
                .map(|t| &t.name),
        )
        .collect();
    let mut chosen: Vec<String> = Vec::new();
    for tenant in asked {
        actions::tenants_of(strategy, Some(tenant), false)?;
        let spelled = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(tenant))
            .map_or_else(|| tenant.clone(), |k| k.to_string());
        if !chosen.iter().any(|c| c.eq_ignore_ascii_case(&spelled)) {
            chosen.push(spelled);
        }
    }
    Ok(chosen)
}

/// The RecoveryTasks of a run of `tenants` at `now`, as the library builds them.
/// A logical strategy's runs load each tenant's newest dump among `dumps` (see
/// [`ob_backup_operator::drill::newest_dumps`]).
pub fn planned(
    strategy: &BackupStrategy,
    tenants: &[String],
    now: Timestamp,
    dumps: &[(String, String)],
) -> Result<Vec<RecoveryTask>, String> {
    if strategy.spec.restore_drill.is_none() {
        return Err(format!(
            "BackupStrategy {} declares no restore drill",
            strategy.name_any()
        ));
    }
    tenants
        .iter()
        .map(|tenant| {
            let dump = ob_backup_operator::drill::dump_of(dumps, tenant);
            task(strategy, tenant, now, Asked::Manual, dump).ok_or_else(|| {
                format!(
                    "tenant {tenant} has no Completed dump of BackupStrategy {} to load yet",
                    strategy.name_any()
                )
            })
        })
        .collect()
}

/// The strategy's BackupTasks, when its drills load dumps (none for a physical strategy).
async fn dumps(
    client: &kube::Client,
    namespace: &str,
    strategy: &BackupStrategy,
) -> Result<Vec<(String, String)>, String> {
    if strategy.spec.method != ob_backup_operator::api::backup_strategy::BackupMethod::Logical {
        return Ok(Vec::new());
    }
    let api: Api<ob_backup_operator::api::BackupTask> = Api::namespaced(client.clone(), namespace);
    let selector = format!(
        "{}={}",
        ob_backup_operator::names::STRATEGY_LABEL,
        strategy.name_any()
    );
    let tasks = api
        .list(&kube::api::ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("listing the strategy's dumps: {e}"))?;
    Ok(ob_backup_operator::drill::newest_dumps(
        strategy,
        &tasks.items,
    ))
}

/// The drill of `ours`'s tenant still running among `existing` (another task than `ours`), if one is.
pub fn running<'a>(ours: &RecoveryTask, existing: &'a [RecoveryTask]) -> Option<&'a RecoveryTask> {
    let name = ours.name_any();
    existing.iter().find(|other| {
        other.spec.drill.is_some()
            && other.name_any() != name
            && other
                .spec
                .source
                .tenant
                .eq_ignore_ascii_case(&ours.spec.source.tenant)
            && !actions::recovery_ended(other)
    })
}

/// Why `ours` is not made while `other` runs.
fn refusal(strategy: &BackupStrategy, ours: &RecoveryTask, other: &RecoveryTask) -> String {
    let name = other.name_any();
    let phase = other
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .map_or_else(|| "not started yet".to_string(), |p| format!("{p:?}"));
    format!(
        "a drill of tenant {} is still running: recoverytask/{name} is {phase}; follow it with `kubectl \
         obbackup drill list {}` or cancel it with `kubectl obbackup cancel {name}`; nothing was created",
        ours.spec.source.tenant,
        strategy.name_any()
    )
}

/// The drills of the strategy named `strategy` (its RecoveryTasks with `spec.drill`).
pub async fn drills_of(
    api: &Api<RecoveryTask>,
    strategy: &str,
) -> Result<Vec<RecoveryTask>, String> {
    let params = ListParams::default().labels(&format!("{STRATEGY_LABEL}={strategy}"));
    let listed: ObjectList<RecoveryTask> = api
        .list(&params)
        .await
        .map_err(|e| format!("cannot list recoverytasks: {e}"))?;
    Ok(listed
        .items
        .into_iter()
        .filter(|t| t.spec.drill.is_some())
        .collect())
}

/// A point as people read it.
fn point(until: Option<&RecoveryPoint>, clock: &TimeFormat) -> String {
    match until.and_then(point_time) {
        Some(at) => clock.at(at),
        None => "the newest restorable point".into(),
    }
}

/// Runs `drill run` at `now`: refused without a drill, or while a drill of a tenant still runs; else one
/// task per tenant (made once: the same second makes the same name). With `--wait`, says each phase to
/// `report` and ends with the verdicts.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    strategy: &BackupStrategy,
    args: RunArgs,
    now: Timestamp,
    clock: &TimeFormat,
    report: &mut dyn FnMut(&str),
) -> Result<Reply, String> {
    let timeout = actions::timeout(args.timeout.as_deref())?;
    let dumps = dumps(client, namespace, strategy).await?;
    let tasks = planned(strategy, &tenants(strategy, &args.tenant)?, now, &dumps)?;
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    let existing = drills_of(&api, &strategy.name_any()).await?;
    if let Some((ours, other)) = tasks
        .iter()
        .find_map(|t| running(t, &existing).map(|other| (t, other)))
    {
        return Err(refusal(strategy, ours, other));
    }
    let mut made = Reply::default();
    for task in &tasks {
        let (said, there) = actions::create_once(&api, task).await?;
        let said = format!(
            "{}: tenant {} into scratch tenant {}, to {}\n",
            said.trim_end(),
            task.spec.source.tenant,
            task.spec.target.tenant,
            point(task.spec.until.as_ref(), clock)
        );
        made = made.and(Reply::new(said)).with(&there)?;
    }
    if !args.wait {
        return Ok(made);
    }
    report(&made.text);
    let names: Vec<String> = tasks.iter().map(|t| t.name_any()).collect();
    follow(&api, &strategy.name_any(), &names, clock, timeout, report).await
}

/// Reads the strategy's drills until `names` have ended (or `timeout` has passed), saying what changed.
async fn follow(
    api: &Api<RecoveryTask>,
    strategy: &str,
    names: &[String],
    clock: &TimeFormat,
    timeout: Option<Duration>,
    report: &mut dyn FnMut(&str),
) -> Result<Reply, String> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut follow = Follow::new(names);
    loop {
        let drills = drills_of(api, strategy).await?;
        report(&follow.look(&drills, clock));
        if follow.done() {
            return follow.verdict();
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(format!(
                "gave up waiting after the timeout; still running: {}",
                follow.left().join(", ")
            ));
        }
        tokio::time::sleep(actions::POLL).await;
    }
}

/// What `--wait` has seen of the drills it follows: each one's last phase, and those that ended.
#[derive(Debug, Default)]
pub struct Follow {
    names: Vec<String>,
    phases: BTreeMap<String, RecoveryTaskPhase>,
    ended: BTreeMap<String, RecoveryTask>,
    gone: Vec<String>,
}

impl Follow {
    pub fn new(names: &[String]) -> Self {
        Self {
            names: names.to_vec(),
            ..Self::default()
        }
    }

    /// The lines for what changed in `drills` since the last look: a phase entered, a drill ended (with
    /// its verdict, message and failed checks), a drill deleted before its end.
    pub fn look(&mut self, drills: &[RecoveryTask], clock: &TimeFormat) -> String {
        let mut said = String::new();
        for name in self.left() {
            let Some(task) = drills.iter().find(|t| t.name_any() == name) else {
                if self.phases.contains_key(&name) {
                    said.push_str(&format!(
                        "recoverytask/{name} was deleted before it ended\n"
                    ));
                    self.gone.push(name);
                }
                continue;
            };
            let Some(phase) = task.status.as_ref().and_then(|s| s.phase) else {
                continue;
            };
            if actions::recovery_ended(task) {
                said.push_str(&ended(task, clock));
                self.ended.insert(name.clone(), task.clone());
            } else if self.phases.get(&name) != Some(&phase) {
                said.push_str(&format!("recoverytask/{name} {phase:?}\n"));
            }
            self.phases.insert(name, phase);
        }
        said
    }

    /// The drills followed that have not ended.
    pub fn left(&self) -> Vec<String> {
        self.names
            .iter()
            .filter(|n| !self.ended.contains_key(*n) && !self.gone.contains(n))
            .cloned()
            .collect()
    }

    pub fn done(&self) -> bool {
        self.left().is_empty()
    }

    /// Every drill passed (the drills as they ended, for scripts), or which did not.
    pub fn verdict(self) -> Result<Reply, String> {
        let failed: Vec<&String> = self
            .names
            .iter()
            .filter(|n| {
                self.ended
                    .get(*n)
                    .and_then(|t| t.status.as_ref())
                    .and_then(|s| s.phase)
                    != Some(RecoveryTaskPhase::Completed)
            })
            .collect();
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|n| n.as_str()).collect();
            return Err(format!(
                "{} of {} drills did not pass: {} (see `kubectl obbackup cause NAME`)",
                failed.len(),
                self.names.len(),
                names.join(", ")
            ));
        }
        let mut reply = Reply::new(format!("every drill passed: {}\n", self.names.join(", ")));
        for task in self.ended.values() {
            reply = reply.with(task)?;
        }
        Ok(reply)
    }
}

/// A drill's end: its phase and time, its verdict and message, and each check that failed.
pub fn ended(task: &RecoveryTask, clock: &TimeFormat) -> String {
    let status = task.status.clone().unwrap_or_default();
    let drill = status.drill.clone().unwrap_or_default();
    let passed = status.phase == Some(RecoveryTaskPhase::Completed);
    let message = drill
        .message
        .or(status.message)
        .unwrap_or_else(|| "no message".into());
    let mut said = format!(
        "recoverytask/{} {} at {}: drill {}: {message}\n",
        task.name_any(),
        status.phase.map(|p| format!("{p:?}")).unwrap_or_default(),
        clock.show(status.ended_at.as_ref()),
        if passed { "passed" } else { "failed" },
    );
    for check in drill.checks.iter().filter(|c| !c.passed) {
        said.push_str(&format!("  ✗ check {}: {}\n", check.name, check.message));
    }
    said
}

#[cfg(test)]
mod tests;
