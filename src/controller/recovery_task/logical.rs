//! A RecoveryTask with `source.logical`: loads a logical dump — a Completed logical BackupTask's, or one named
//! by destination and path (the operator's dump directory, or a `mysqldump` / `seekdb-dump` script) — into
//! the existing tenant `target.tenant` through one of its users, in the background of this process
//! ([`crate::logical::load`], [`crate::logical::import`]). A rename the dump does not fit (onto a system
//! database, two databases onto one, a key the dump lacks) ends it Failed, Stalled `InvalidInput`, before
//! anything is written; a target that already holds what the dump creates is refused (Failed, naming the
//! objects). `cancel: true` stops the load, leaving what it loaded; `retry`
//! starts a new attempt, which needs the objects of the last one dropped first.

use std::time::Duration;

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::decide;
use crate::{
    api::{
        BackupTask, BackupTaskPhase, RecoveryTask, RecoveryTaskPhase, RecoveryTaskStatus,
        backup_strategy::BackupMethod,
        common::{Failure, StorageDestination},
        logical::{LogicalRecoverySource, LogicalRecoveryTarget},
    },
    background::Key,
    controller::{
        Context, Error,
        conditions::{Health, api_time},
        error::Problem,
        logical::{
            Decided, Dereferenced, WorkTask,
            work::{self as work, Standing},
        },
        namespace_of, next_action,
        references::{self, ReferenceCheck},
    },
    logical::{
        LoadReport, LoadRequest, Progress,
        jobs::{Finished, JobState, LoadJob},
    },
    reason::Reason,
    timing::RETRY_TRANSIENT_AFTER,
};

/// Where a dump lies: its destination, its path under it, and the cluster it came from.
struct DumpLocation {
    destination: StorageDestination,
    path: String,
    source_cluster: Option<String>,
}

impl WorkTask for RecoveryTask {
    /// Ended, and no retry asked for: nothing runs again — a cancel set afterwards must not load again over
    /// what was loaded.
    fn ended(&self) -> bool {
        let status = self.status.as_ref();
        status
            .and_then(|s| s.phase)
            .is_some_and(RecoveryTaskPhase::is_terminal)
            && status.and_then(|s| s.observed_retry) == Some(self.spec.retry)
    }

    fn seen(&self) -> RecoveryTaskStatus {
        RecoveryTaskStatus {
            observed_generation: self.metadata.generation,
            ..self.status.clone().unwrap_or_default()
        }
    }

    /// A drill's drop of its copy is never canceled: a canceled drill still leaves nothing behind.
    fn canceled(&self) -> bool {
        let dropping =
            self.status.as_ref().and_then(|s| s.phase) == Some(RecoveryTaskPhase::Dropping);
        self.spec.cancel && !(self.spec.drill.is_some() && dropping)
    }

    async fn dereference(&self, ctx: &Context) -> Result<Dereferenced<RecoveryTaskStatus>, Error> {
        let spec = &self.spec;
        let namespace = namespace_of(self)?;
        let (Some(source), Some(target)) = (&spec.source.logical, &spec.target.logical) else {
            return Ok(Dereferenced::Later(Action::await_change()));
        };
        let location = match checked_location(self, ctx, &namespace, source, target).await? {
            Ok(location) => location,
            Err(held) => return Ok(held),
        };
        let connection = references::tenant_user_connection(
            ctx,
            &namespace,
            &spec.target.cluster,
            target.login(),
            &spec.target.tenant,
        )
        .await?;
        let Some(connection) = connection else {
            return Ok(Dereferenced::Later(Action::requeue(
                crate::timing::RECHECK_REFERENCES_AFTER,
            )));
        };
        let keys = references::access_keys(ctx, &namespace, &location.destination).await?;
        let load = LoadJob {
            request: LoadRequest {
                connection,
                rename: target.rename_databases.clone(),
                parallel: usize::try_from(target.parallel).unwrap_or(1).max(1),
                database_prefix: target.database_prefix.clone(),
            },
            source: location.destination.uri.clone(),
            keys,
            path: location.path.clone(),
            file_root: ctx.settings.file_root,
        };
        // Each attempt (retry) is a load of its own; a drill's checks and drop are work of their own.
        let load_key = Key::part(&namespace, &self.name_any(), spec.retry.to_string());
        let base = attempt_base(self, location.source_cluster);
        let (key, work) = super::logical_drill::work(ctx, self, &base, load, load_key);
        Ok(Dereferenced::Ready {
            key,
            work: Box::new(work),
            base,
        })
    }

    fn decide(
        &self,
        base: RecoveryTaskStatus,
        state: &JobState,
        now: Timestamp,
    ) -> Decided<RecoveryTaskStatus> {
        status_of(self, base, state, now)
    }

    fn is_terminal(status: &RecoveryTaskStatus) -> bool {
        status.phase.is_some_and(RecoveryTaskPhase::is_terminal)
    }
}

/// The status this attempt starts from: the last one's, or a clean slate for a new attempt (a retry).
fn attempt_base(task: &RecoveryTask, source_cluster: Option<String>) -> RecoveryTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let base = if previous.observed_retry == Some(task.spec.retry) {
        previous
    } else {
        RecoveryTaskStatus {
            conditions: previous.conditions,
            ..RecoveryTaskStatus::default()
        }
    };
    RecoveryTaskStatus {
        observed_retry: Some(task.spec.retry),
        source_cluster_name: source_cluster.or(base.source_cluster_name.clone()),
        method: Some(crate::api::backup_strategy::BackupMethod::Logical),
        ..base
    }
}

/// Where the dump lies, once the references are right and the dump is there; else what to do.
async fn checked_location(
    task: &RecoveryTask,
    ctx: &Context,
    namespace: &str,
    source: &LogicalRecoverySource,
    target: &LogicalRecoveryTarget,
) -> Result<Result<DumpLocation, Dereferenced<RecoveryTaskStatus>>, Error> {
    let mut check = ReferenceCheck::new(ctx, namespace);
    check.cluster(&task.spec.target.cluster).await?;
    check
        .tenant_login(
            target.login(),
            std::slice::from_ref(&task.spec.target.tenant),
            "logical restore user",
        )
        .await?;
    let location = match locate(ctx, namespace, source, &mut check).await? {
        Located::At(location) => Some(location),
        Located::Nowhere => None,
        Located::Waiting(message) if check.problems.is_empty() => {
            return Ok(Err(waiting_for_dump(task, message)));
        }
        Located::Waiting(_) => None,
    };
    match (location, check.problems.is_empty()) {
        (Some(location), true) => Ok(Ok(location)),
        _ => {
            let status = decide::stalled(task, None, &check.problems, now());
            let then = next_action(&check.problems);
            Ok(Err(Dereferenced::Hold { status, then }))
        }
    }
}

/// Pending until the logical BackupTask it loads has ended (`message` says which and how far).
fn waiting_for_dump(task: &RecoveryTask, message: String) -> Dereferenced<RecoveryTaskStatus> {
    let waiting = RecoveryTaskStatus {
        phase: Some(RecoveryTaskPhase::Pending),
        observed_generation: task.metadata.generation,
        observed_retry: Some(task.spec.retry),
        ..task.status.clone().unwrap_or_default()
    };
    let health = Health::Progressing {
        reason: Reason::WaitingForDump,
        message,
    };
    Dereferenced::Hold {
        status: decide::with_health(waiting, task, &health, None, now()),
        then: Action::requeue(crate::timing::RECHECK_REFERENCES_AFTER),
    }
}

fn now() -> Timestamp {
    crate::clock::now()
}

/// Where the dump a RecoveryTask names stands.
enum Located {
    At(DumpLocation),
    /// Its logical BackupTask has not ended yet: why the load waits.
    Waiting(String),
    /// Not there: the problems say why.
    Nowhere,
}

/// Where the dump `source` names lies: a Completed logical BackupTask's directory, or the given place.
async fn locate(
    ctx: &Context,
    namespace: &str,
    source: &LogicalRecoverySource,
    check: &mut ReferenceCheck<'_>,
) -> Result<Located, Error> {
    if let (Some(destination), Some(path)) = (&source.destination, &source.path) {
        check.destination(destination).await?;
        return Ok(Located::At(DumpLocation {
            destination: destination.clone(),
            path: path.trim_matches('/').to_string(),
            source_cluster: None,
        }));
    }
    let Some(name) = &source.backup_task else {
        return Ok(Located::Nowhere);
    };
    let tasks = ctx
        .catalog
        .list_where(namespace, |t: &BackupTask| t.name_any() == *name)
        .await?;
    let Some(dump) = tasks.into_iter().next() else {
        check.problems.push(Problem::elsewhere(
            Reason::DumpNotFound,
            format!(
                "BackupTask {name} (source.logical.backupTask) not found in namespace {namespace}"
            ),
        ));
        return Ok(Located::Nowhere);
    };
    let phase = dump.status.as_ref().and_then(|s| s.phase);
    if dump.spec.method == BackupMethod::Logical && !phase.is_some_and(BackupTaskPhase::is_terminal)
    {
        let phase = phase.map_or_else(|| "not started".to_string(), |p| format!("{p:?}"));
        return Ok(Located::Waiting(format!(
            "waiting for BackupTask {name} (source.logical.backupTask) to complete its dump ({phase})"
        )));
    }
    if dump.spec.method != BackupMethod::Logical || phase != Some(BackupTaskPhase::Completed) {
        check.problems.push(Problem::elsewhere(
            Reason::DumpNotFound,
            format!(
                "BackupTask {name} (source.logical.backupTask) is not a Completed logical backup; \
                 name one that is"
            ),
        ));
        return Ok(Located::Nowhere);
    }
    let placement = check
        .placement(
            dump.spec.method,
            dump.spec.strategy_ref.as_ref(),
            dump.spec.cluster.as_deref(),
            dump.spec.data_destination.as_ref(),
            &dump.spec.tenant,
        )
        .await?;
    let Some(destination) = placement.and_then(|p| p.data_destination) else {
        return Ok(Located::Nowhere);
    };
    check.destination(&destination).await?;
    Ok(Located::At(DumpLocation {
        destination: dump.dump_root(destination),
        path: dump.dump_directory(),
        source_cluster: dump.status.as_ref().and_then(|s| s.cluster_name.clone()),
    }))
}

/// The status for where the load stands, its health, and when to look again.
fn status_of(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    state: &JobState,
    now: Timestamp,
) -> Decided<RecoveryTaskStatus> {
    let standing = work::standing(state);
    if let Some(stage) = super::logical_drill::stage(task, &base, &standing, now) {
        return stage;
    }
    let loaded = load_status(task, base, state, now);
    super::logical_drill::after_load(task, loaded, now)
}

/// The status for where the load stands.
fn load_status(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    state: &JobState,
    now: Timestamp,
) -> Decided<RecoveryTaskStatus> {
    let standing = work::standing(state);
    let extra = work::reachability(
        &standing,
        &task.spec.target.cluster.name,
        task.metadata.generation,
    );
    let (status, health, wait) = match standing {
        Standing::Running(progress) => running(task, base, progress, now),
        Standing::Done(Finished::Loaded(report)) => loaded(task, base, report, now),
        // A load's key never runs a dump.
        Standing::Done(Finished::Dumped(_) | Finished::Verified(_) | Finished::Dropped(_)) => (
            base,
            Health::Progressing {
                reason: Reason::InProgress,
                message: "waiting for the load".into(),
            },
            Some(crate::timing::LOGICAL_PROGRESS_EVERY),
        ),
        Standing::Canceled => {
            let health = Health::Ready {
                reason: Reason::Canceled,
                message: "canceled; what was loaded stays in the target tenant".into(),
            };
            (ended(base, RecoveryTaskPhase::Canceled, now), health, None)
        }
        Standing::Interrupted { message, .. } => {
            // An outage before the load began leaves it Pending: unreachable is not a start.
            let waiting = RecoveryTaskStatus {
                phase: Some(if base.phase == Some(RecoveryTaskPhase::InProgress) {
                    RecoveryTaskPhase::InProgress
                } else {
                    RecoveryTaskPhase::Pending
                }),
                ..base
            };
            let health = work::interrupted("load", message);
            (waiting, health, Some(RETRY_TRANSIENT_AFTER))
        }
        Standing::AccessDenied(message) => access_denied(task, base, message),
        Standing::Refused { reason, message } => {
            let refused = RecoveryTaskStatus {
                failure: Some(Failure {
                    code: None,
                    message: message.to_string(),
                }),
                ..ended(base, RecoveryTaskPhase::Failed, now)
            };
            let nothing = format!("nothing was written to tenant {}", task.spec.target.tenant);
            (refused, work::refused(reason, message, &nothing), None)
        }
        Standing::Failed(failure) => failed(base, failure, now),
    };
    // The status describes this generation, whatever the work's state (GitOps tools wait for it).
    let status = RecoveryTaskStatus {
        observed_generation: task.metadata.generation,
        ..status
    };
    Decided {
        status,
        health,
        extra,
        wait,
    }
}

/// A status, its health and when to look again.
type Step = (RecoveryTaskStatus, Health, Option<Duration>);

/// `base` ended in `phase` at `now`.
fn ended(base: RecoveryTaskStatus, phase: RecoveryTaskPhase, now: Timestamp) -> RecoveryTaskStatus {
    RecoveryTaskStatus {
        phase: Some(phase),
        ended_at: Some(api_time(now)),
        ..base
    }
}

/// A load under way: in progress once the target answered (or before a restart); connecting is still
/// Pending.
fn running(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    progress: &Progress,
    now: Timestamp,
) -> Step {
    let begun = progress.database_reached || base.phase == Some(RecoveryTaskPhase::InProgress);
    let running = RecoveryTaskStatus {
        phase: Some(if begun {
            RecoveryTaskPhase::InProgress
        } else {
            RecoveryTaskPhase::Pending
        }),
        started_at: if begun {
            base.started_at.clone().or(Some(api_time(now)))
        } else {
            base.started_at.clone()
        },
        progress: work::percent(progress.chunks_done, progress.chunks_total),
        ..base
    };
    let message = if task.spec.cancel {
        "canceling the load".to_string()
    } else {
        format!(
            "loading: {} of {} chunks, {} rows",
            progress.chunks_done, progress.chunks_total, progress.rows_done
        )
    };
    let health = Health::Progressing {
        reason: Reason::InProgress,
        message,
    };
    (running, health, Some(crate::timing::LOGICAL_PROGRESS_EVERY))
}

/// A load that completed, as of the dump's snapshot.
fn loaded(
    task: &RecoveryTask,
    base: RecoveryTaskStatus,
    report: &LoadReport,
    now: Timestamp,
) -> Step {
    let snapshot = report.snapshot.as_ref();
    let done = RecoveryTaskStatus {
        started_at: base.started_at.clone().or(Some(api_time(now))),
        progress: Some(100),
        restore_scn: snapshot.and_then(|s| i64::try_from(s.scn).ok()),
        recovery_time: snapshot
            .and_then(|s| s.time.parse::<Timestamp>().ok())
            .map(api_time),
        failure: None,
        ..ended(base, RecoveryTaskPhase::Completed, now)
    };
    let health = Health::Ready {
        reason: Reason::Completed,
        message: format!(
            "loaded {} rows into {} tables and {} views of tenant {}",
            report.rows, report.tables, report.views, task.spec.target.tenant
        ),
    };
    (done, health, None)
}

/// A load its user may not make: Stalled until the Secret or the grants change.
fn access_denied(task: &RecoveryTask, base: RecoveryTaskStatus, message: &str) -> Step {
    let login = task.spec.target.logical.as_ref().map(|l| l.login());
    let stalled = RecoveryTaskStatus {
        phase: Some(base.phase.unwrap_or(RecoveryTaskPhase::Pending)),
        ..base
    };
    let needs = "the target tenant's user cannot load the dump";
    (
        stalled,
        work::access_denied(needs, message, login),
        Some(work::ACCESS_RETRY),
    )
}

/// A load that failed for good.
fn failed(base: RecoveryTaskStatus, failure: Failure, now: Timestamp) -> Step {
    let health = Health::Stalled {
        reason: Reason::RestoreFailed,
        message: format!("the logical restore failed: {}", failure.message),
    };
    let failed = RecoveryTaskStatus {
        started_at: base.started_at.clone().or(Some(api_time(now))),
        failure: Some(failure),
        ..ended(base, RecoveryTaskPhase::Failed, now)
    };
    (failed, health, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status (health applied, as the driver applies it) and when to look again.
    fn status_of(
        task: &RecoveryTask,
        base: RecoveryTaskStatus,
        state: &JobState,
        now: Timestamp,
    ) -> (RecoveryTaskStatus, Option<Duration>) {
        super::status_of(task, base, state, now).applied(task.metadata.generation, now)
    }
    use crate::api::RecoveryTaskSpec;

    #[test]
    fn an_outage_before_the_load_began_leaves_it_pending_for_this_generation() {
        let spec: RecoveryTaskSpec = serde_norway::from_str(
            "source: {tenant: tenant1, logical: {backupTask: dump}}\n\
             target:\n  cluster: {name: ob, connectionSecret: ob}\n  tenant: tenant2\n  \
             logical: {credentialsSecret: loader}\n",
        )
        .expect("spec");
        let mut task = RecoveryTask::new("r", spec);
        task.metadata.generation = Some(2);
        let unreachable = JobState::Failed {
            message: "cannot reach the database: connection refused".into(),
            code: None,
            transient: true,
            unreachable_database: true,
            refusal: None,
        };
        let at = Timestamp::from_second(1_800_000_000).expect("time");
        let (status, _) = status_of(&task, RecoveryTaskStatus::default(), &unreachable, at);
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.started_at, None);
        let reachable = status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::controller::conditions::CLUSTER_REACHABLE);
        assert_eq!(reachable.map(|c| c.status.as_str()), Some("False"));
    }

    #[test]
    fn a_rename_the_dump_does_not_fit_fails_the_load_saying_nothing_was_written() {
        let spec: RecoveryTaskSpec = serde_norway::from_str(
            "source: {tenant: tenant1, logical: {backupTask: dump}}\n\
             target:\n  cluster: {name: ob, connectionSecret: ob}\n  tenant: tenant2\n  \
             logical: {credentialsSecret: loader, renameDatabases: {nothere: x}}\n",
        )
        .expect("spec");
        let task = RecoveryTask::new("r", spec);
        let refused = JobState::Failed {
            message: "renameDatabases names nothere, which the dump does not hold (it holds shop)"
                .into(),
            code: None,
            transient: false,
            unreachable_database: false,
            refusal: Some(crate::logical::Refusal::Invalid),
        };
        let at = Timestamp::from_second(1_800_000_000).expect("time");
        let (status, wait) = status_of(&task, RecoveryTaskStatus::default(), &refused, at);
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Failed));
        assert_eq!(wait, None);
        assert!(
            status
                .failure
                .as_ref()
                .is_some_and(|f| f.message.contains("nothere")),
            "{status:?}"
        );
        let stalled = status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::controller::conditions::STALLED)
            .expect("Stalled");
        assert_eq!(
            (stalled.status.as_str(), stalled.reason.as_str()),
            ("True", "InvalidInput")
        );
        assert!(
            stalled
                .message
                .ends_with("nothing was written to tenant tenant2"),
            "{}",
            stalled.message
        );
    }
}
