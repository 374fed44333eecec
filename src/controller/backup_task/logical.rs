//! A BackupTask of method Logical: a consistent dump of the tenant's databases that the operator itself takes
//! through a user of the tenant ([`crate::logical`]), in the background of this process, into
//! `<data destination>/<tenant>/logical/<task>-<uid>`. Nothing is sent to OceanBase as sys; the status
//! follows the dump (Pending → InProgress → Completed, Failed or Canceled). A dump cut off by a restart or an
//! outage resumes from its plan; `cancel: true` stops it and deletes what it wrote.

use std::time::Duration;

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::decide;
use crate::{
    api::{
        BackupTask, BackupTaskPhase, BackupTaskStatus,
        common::{Failure, StorageDestination},
        logical::{LogicalBackupSpec, LogicalDumpStatus},
    },
    background::Key,
    controller::{
        Context, Error,
        conditions::{Health, api_time},
        logical::{
            Decided, Dereferenced, WorkTask,
            work::{self as work, Standing},
        },
        namespace_of, next_action,
        references::{self, Placement, ReferenceCheck},
    },
    logical::{
        DumpRequest, Progress,
        jobs::{DumpJob, Finished, JobState, Work},
        layout::{DumpOwner, Manifest},
    },
    reason::Reason,
    timing::RETRY_TRANSIENT_AFTER,
};

impl WorkTask for BackupTask {
    /// Ended: nothing runs again — a cancel set afterwards must not delete a finished dump.
    fn ended(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(BackupTaskPhase::is_terminal)
    }

    fn seen(&self) -> BackupTaskStatus {
        BackupTaskStatus {
            observed_generation: self.metadata.generation,
            ..self.status.clone().unwrap_or_default()
        }
    }

    fn canceled(&self) -> bool {
        self.spec.cancel
    }

    async fn dereference(&self, ctx: &Context) -> Result<Dereferenced<BackupTaskStatus>, Error> {
        let namespace = namespace_of(self)?;
        let Some(logical) = &self.spec.logical else {
            return Ok(Dereferenced::Later(Action::await_change()));
        };
        let (placement, destination) = match placement(self, ctx, &namespace, logical).await? {
            Ok(found) => found,
            Err(held) => return Ok(held),
        };
        let connection = references::tenant_user_connection(
            ctx,
            &namespace,
            &placement.cluster,
            logical.login(),
            &self.spec.tenant,
        )
        .await?;
        let keys = references::access_keys(ctx, &namespace, &destination).await?;
        let Some(connection) = connection else {
            // The Secrets changed between the check and the read: look again soon.
            return Ok(Dereferenced::Later(Action::requeue(
                crate::timing::RECHECK_REFERENCES_AFTER,
            )));
        };
        let directory = self.dump_directory();
        let owner = DumpOwner {
            namespace: namespace.clone(),
            task: self.name_any(),
            uid: self.metadata.uid.clone().unwrap_or_default(),
            cluster: placement.cluster.name.clone(),
            tenant: self.spec.tenant.clone(),
        };
        let work = Work::Dump(DumpJob {
            request: request(logical, connection, owner),
            destination: destination.uri.clone(),
            keys,
            directory: directory.clone(),
            file_root: ctx.settings.file_root,
        });
        let previous = self.status.clone().unwrap_or_default();
        let base = BackupTaskStatus {
            cluster_name: Some(placement.cluster.name.clone()),
            source: previous.source.or(Some(decide::source_of(self))),
            storage_directory: Some(crate::storage::directory_in(&destination.uri, &directory)),
            ..previous
        };
        let key = Key::of(&namespace, &self.name_any());
        Ok(Dereferenced::Ready {
            key,
            work: Box::new(work),
            base,
        })
    }

    fn decide(
        &self,
        base: BackupTaskStatus,
        state: &JobState,
        now: Timestamp,
    ) -> Decided<BackupTaskStatus> {
        status_of(self, base, state, now)
    }

    fn is_terminal(status: &BackupTaskStatus) -> bool {
        status.phase.is_some_and(BackupTaskPhase::is_terminal)
    }
}

/// The task's placement and the root its dumps go under, once its references are right; else what to do.
async fn placement(
    task: &BackupTask,
    ctx: &Context,
    namespace: &str,
    logical: &LogicalBackupSpec,
) -> Result<Result<(Placement, StorageDestination), Dereferenced<BackupTaskStatus>>, Error> {
    let spec = &task.spec;
    let mut check = ReferenceCheck::new(ctx, namespace);
    let placement = check
        .placement(
            crate::api::backup_strategy::BackupMethod::Logical,
            spec.strategy_ref.as_ref(),
            spec.cluster.as_deref(),
            spec.data_destination.as_ref(),
            &spec.tenant,
        )
        .await?;
    check
        .tenant_login(
            logical.login(),
            std::slice::from_ref(&spec.tenant),
            "logical backup user",
        )
        .await?;
    let (Some(placement), true) = (placement, check.problems.is_empty()) else {
        let status = decide::stalled(task, None, &check.problems, crate::clock::now());
        let then = next_action(&check.problems);
        return Ok(Err(Dereferenced::Hold { status, then }));
    };
    let Some(destination) = placement.data_destination.clone() else {
        return Ok(Err(Dereferenced::Later(Action::await_change())));
    };
    let destination = task.dump_root(destination);
    Ok(Ok((placement, destination)))
}

fn request(
    spec: &LogicalBackupSpec,
    connection: crate::oceanbase::ConnectionInfo,
    owner: DumpOwner,
) -> DumpRequest {
    DumpRequest {
        owner: Some(owner),
        connection,
        databases: spec.databases.clone(),
        tables: spec.tables.clone(),
        parallel: usize::try_from(spec.parallel).unwrap_or(1).max(1),
        chunk_rows: u64::try_from(spec.chunk_rows).unwrap_or(1).max(1),
        compression: spec.compression.into(),
    }
}

/// The status for where the dump stands, its health, and when to look again (`None`: not until something
/// changes).
fn status_of(
    task: &BackupTask,
    base: BackupTaskStatus,
    state: &JobState,
    now: Timestamp,
) -> Decided<BackupTaskStatus> {
    let standing = work::standing(state);
    let extra = work::reachability(
        &standing,
        base.cluster_name.as_deref().unwrap_or_default(),
        task.metadata.generation,
    );
    let (status, health, wait) = match standing {
        Standing::Running(progress) => running(task, base, progress, now),
        Standing::Done(Finished::Dumped(report)) => dumped(base, &report.manifest, now),
        // A dump's key never runs a load.
        Standing::Done(Finished::Loaded(_) | Finished::Verified(_) | Finished::Dropped(_)) => (
            base,
            Health::Progressing {
                reason: Reason::InProgress,
                message: "waiting for the dump".into(),
            },
            Some(crate::timing::LOGICAL_PROGRESS_EVERY),
        ),
        Standing::Canceled => {
            let health = Health::Ready {
                reason: Reason::Canceled,
                message: "canceled; what the dump had written is deleted".into(),
            };
            (ended(base, BackupTaskPhase::Canceled, now), health, None)
        }
        Standing::Interrupted { message, .. } => {
            // An outage before the dump began leaves it Pending: unreachable is not a start.
            let waiting = BackupTaskStatus {
                phase: Some(begun_or_pending(&base)),
                ..base
            };
            let health = work::interrupted("dump", message);
            (waiting, health, Some(RETRY_TRANSIENT_AFTER))
        }
        Standing::AccessDenied(message) => access_denied(task, base, message),
        Standing::Refused { reason, message } => {
            let refused = BackupTaskStatus {
                failure: Some(Failure {
                    code: None,
                    message: message.to_string(),
                }),
                ..ended(base, BackupTaskPhase::Failed, now)
            };
            let health = work::refused(reason, message, "nothing was written");
            (refused, health, None)
        }
        Standing::Failed(failure) => failed(base, failure, now),
    };
    // The status describes this generation, whatever the work's state (GitOps tools wait for it).
    let status = BackupTaskStatus {
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
type Step = (BackupTaskStatus, Health, Option<Duration>);

/// InProgress if the dump had begun before (a restart, an outage), else Pending.
fn begun_or_pending(base: &BackupTaskStatus) -> BackupTaskPhase {
    if base.phase == Some(BackupTaskPhase::InProgress) {
        BackupTaskPhase::InProgress
    } else {
        BackupTaskPhase::Pending
    }
}

/// `base` ended in `phase` at `now`.
fn ended(base: BackupTaskStatus, phase: BackupTaskPhase, now: Timestamp) -> BackupTaskStatus {
    BackupTaskStatus {
        phase: Some(phase),
        ended_at: Some(api_time(now)),
        ..base
    }
}

/// A dump under way: in progress once it has its snapshot (or was before a restart); connecting, reading
/// the schema and taking the snapshot are still Pending, as a physical task is until OceanBase has its job.
fn running(task: &BackupTask, base: BackupTaskStatus, progress: &Progress, now: Timestamp) -> Step {
    let begun = progress.snapshot.is_some() || base.phase == Some(BackupTaskPhase::InProgress);
    let running = BackupTaskStatus {
        phase: Some(if begun {
            BackupTaskPhase::InProgress
        } else {
            BackupTaskPhase::Pending
        }),
        started_at: if begun {
            base.started_at.clone().or(Some(api_time(now)))
        } else {
            base.started_at.clone()
        },
        progress: work::percent(progress.chunks_done, progress.chunks_total),
        input_bytes: i64::try_from(progress.bytes_done).ok(),
        output_bytes: i64::try_from(progress.stored_bytes).ok(),
        logical: Some(Box::new(dump_status(progress))),
        ..base
    };
    let message = if task.spec.cancel {
        "canceling the dump".to_string()
    } else if progress.chunks_total == 0 {
        "reading the schema and taking the snapshot".to_string()
    } else {
        format!(
            "dumping: {} of {} chunks, {} of {} rows",
            progress.chunks_done, progress.chunks_total, progress.rows_done, progress.rows_total
        )
    };
    let health = Health::Progressing {
        reason: Reason::InProgress,
        message,
    };
    (running, health, Some(crate::timing::LOGICAL_PROGRESS_EVERY))
}

/// A dump that completed, as its manifest describes it.
fn dumped(base: BackupTaskStatus, manifest: &Manifest, now: Timestamp) -> Step {
    let chunks = manifest.objects.iter().map(|o| o.chunks.len()).sum();
    let progress = Progress {
        chunks_done: chunks,
        chunks_total: chunks,
        rows_done: manifest.rows,
        rows_total: manifest.rows,
        bytes_done: manifest.bytes,
        stored_bytes: manifest.stored_bytes,
        tables_done: manifest.objects.len(),
        tables_total: manifest.objects.len(),
        snapshot: Some(manifest.snapshot.clone()),
        server_version: Some(manifest.server_version.clone()),
        databases: manifest.databases.len(),
        database_reached: true,
    };
    let done = BackupTaskStatus {
        started_at: base.started_at.clone().or(Some(api_time(now))),
        progress: Some(100),
        input_bytes: i64::try_from(manifest.bytes).ok(),
        output_bytes: i64::try_from(manifest.stored_bytes).ok(),
        // A dump reads at a snapshot of its own, not at a major compaction: that SCN is its data's version.
        data_version: Some(manifest.snapshot.scn.to_string()),
        logical: Some(Box::new(dump_status(&progress))),
        ..ended(base, BackupTaskPhase::Completed, now)
    };
    let health = Health::Ready {
        reason: Reason::Completed,
        message: format!(
            "dumped {} rows of {} tables and views at SCN {} ({})",
            manifest.rows,
            manifest.objects.len(),
            manifest.snapshot.scn,
            manifest.snapshot.time
        ),
    };
    (done, health, None)
}

/// A dump its user may not take: Stalled until the Secret or the grants change.
fn access_denied(task: &BackupTask, base: BackupTaskStatus, message: &str) -> Step {
    let stalled = BackupTaskStatus {
        phase: Some(base.phase.unwrap_or(BackupTaskPhase::Pending)),
        ..base
    };
    let login = task.spec.logical.as_ref().map(|l| l.login());
    let needs = "the tenant user cannot read what the dump needs";
    (
        stalled,
        work::access_denied(needs, message, login),
        Some(work::ACCESS_RETRY),
    )
}

/// A dump that failed for good.
fn failed(base: BackupTaskStatus, failure: Failure, now: Timestamp) -> Step {
    let health = Health::Stalled {
        reason: Reason::BackupFailed,
        message: format!("the logical backup failed: {}", failure.message),
    };
    let failed = BackupTaskStatus {
        started_at: base.started_at.clone().or(Some(api_time(now))),
        failure: Some(failure),
        ..ended(base, BackupTaskPhase::Failed, now)
    };
    (failed, health, None)
}

fn dump_status(progress: &Progress) -> LogicalDumpStatus {
    let count = |n: usize| i64::try_from(n).ok();
    let bytes = |n: u64| i64::try_from(n).ok();
    LogicalDumpStatus {
        snapshot_scn: progress.snapshot.as_ref().map(|s| s.scn.to_string()),
        snapshot_time: progress
            .snapshot
            .as_ref()
            .and_then(|s| s.time.parse::<Timestamp>().ok())
            .map(api_time),
        server_version: progress.server_version.clone(),
        databases: progress
            .snapshot
            .as_ref()
            .and_then(|_| count(progress.databases)),
        tables_done: count(progress.tables_done),
        tables_total: count(progress.tables_total),
        chunks_done: count(progress.chunks_done),
        chunks_total: count(progress.chunks_total),
        rows_done: bytes(progress.rows_done),
        rows_total: bytes(progress.rows_total),
        bytes: bytes(progress.bytes_done),
        stored_bytes: bytes(progress.stored_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status (health applied, as the driver applies it) and when to look again.
    fn status_of(
        task: &BackupTask,
        base: BackupTaskStatus,
        state: &JobState,
        now: Timestamp,
    ) -> (BackupTaskStatus, Option<Duration>) {
        super::status_of(task, base, state, now).applied(task.metadata.generation, now)
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    fn task() -> BackupTask {
        super::super::sample_task(None)
    }

    fn unreachable() -> JobState {
        JobState::Failed {
            message: "cannot reach the database: connection refused".into(),
            code: None,
            transient: true,
            unreachable_database: true,
            refusal: None,
        }
    }

    fn reachable(status: &BackupTaskStatus) -> Option<&str> {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::controller::conditions::CLUSTER_REACHABLE)
            .map(|c| c.status.as_str())
    }

    #[test]
    fn an_outage_before_the_dump_began_leaves_it_pending_and_says_the_cluster_is_unreachable() {
        let (status, wait) = status_of(&task(), BackupTaskStatus::default(), &unreachable(), at(0));
        assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(status.started_at, None);
        assert_eq!(reachable(&status), Some("False"));
        assert_eq!(wait, Some(RETRY_TRANSIENT_AFTER));
        // Connecting again is still Pending, and still unreachable until the database answers.
        let (connecting, _) = status_of(
            &task(),
            status.clone(),
            &JobState::Running(Progress::default()),
            at(30),
        );
        assert_eq!(connecting.phase, Some(BackupTaskPhase::Pending));
        assert_eq!(reachable(&connecting), Some("False"));
    }

    fn stalled(status: &BackupTaskStatus) -> Option<(&str, &str)> {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == crate::controller::conditions::STALLED && c.status == "True")
            .map(|c| (c.reason.as_str(), c.message.as_str()))
    }

    fn refused(message: &str, refusal: crate::logical::Refusal) -> JobState {
        JobState::Failed {
            message: message.into(),
            code: None,
            transient: false,
            unreachable_database: false,
            refusal: Some(refusal),
        }
    }

    #[test]
    fn tables_the_user_cannot_read_stall_the_dump_until_a_grant_and_another_owner_fails_it() {
        let denied = refused(
            "user dumper cannot read all the dump covers: shop.secrets (1142: denied)",
            crate::logical::Refusal::AccessDenied,
        );
        let (status, wait) = status_of(&task(), BackupTaskStatus::default(), &denied, at(0));
        assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
        assert_eq!(wait, Some(work::ACCESS_RETRY));
        let (reason, message) = stalled(&status).expect("Stalled");
        assert_eq!(reason, "LogicalAccessDenied");
        assert!(message.contains("shop.secrets"), "{message}");
        let owned = refused(
            "the dump's directory logical/t-1 holds the dump of BackupTask other/t",
            crate::logical::Refusal::Owned,
        );
        let (status, wait) = status_of(&task(), BackupTaskStatus::default(), &owned, at(0));
        assert_eq!(status.phase, Some(BackupTaskPhase::Failed));
        assert_eq!(wait, None);
        let (reason, message) = stalled(&status).expect("Stalled");
        assert_eq!(reason, "DumpDirectoryOwned");
        assert!(
            message.contains("BackupTask other/t") && message.ends_with("nothing was written"),
            "{message}"
        );
    }

    #[test]
    fn a_dump_under_way_stays_in_progress_through_an_outage_and_is_reachable_once_answered() {
        let snapshot = crate::logical::layout::SnapshotPoint {
            scn: 7,
            time: "2027-01-15T08:00:00Z".into(),
        };
        let begun = Progress {
            chunks_total: 4,
            snapshot: Some(snapshot),
            database_reached: true,
            ..Progress::default()
        };
        let (running, _) = status_of(
            &task(),
            BackupTaskStatus::default(),
            &JobState::Running(begun),
            at(0),
        );
        assert_eq!(running.phase, Some(BackupTaskPhase::InProgress));
        assert_eq!(running.observed_generation, Some(1));
        assert_eq!(running.started_at, Some(api_time(at(0))));
        assert_eq!(reachable(&running), Some("True"));
        let (cut, _) = status_of(&task(), running.clone(), &unreachable(), at(10));
        assert_eq!(cut.phase, Some(BackupTaskPhase::InProgress));
        assert_eq!(cut.started_at, running.started_at);
        assert_eq!(reachable(&cut), Some("False"));
    }

    #[test]
    fn a_completed_dump_shows_the_scn_it_read_at_as_its_data_version() {
        use crate::logical::{DumpReport, job::Finished, layout::Manifest};
        let manifest = Manifest {
            format_version: 1,
            snapshot: crate::logical::layout::SnapshotPoint {
                scn: 1_768_464_000_000_000_123,
                time: "2026-01-15T08:00:00Z".into(),
            },
            server_version: "4.3.5".into(),
            started_at: None,
            owner: None,
            compression: Default::default(),
            databases: vec!["shop".into()],
            objects: Vec::new(),
            rows: 10,
            bytes: 100,
            stored_bytes: 40,
        };
        let report = DumpReport {
            manifest,
            chunks_written: 0,
            chunks_resumed: 0,
        };
        let done = JobState::Done(Finished::Dumped(Box::new(report)));
        let (status, _) = status_of(&task(), BackupTaskStatus::default(), &done, at(0));
        assert_eq!(status.phase, Some(BackupTaskPhase::Completed));
        assert_eq!(status.data_version.as_deref(), Some("1768464000000000123"));
        let logical = status.logical.expect("the dump's figures");
        assert_eq!(
            logical.snapshot_scn.as_deref(),
            status.data_version.as_deref()
        );
    }
}
