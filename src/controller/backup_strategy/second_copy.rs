//! The second backup follows the first's cleanups: a backup set or archive piece OceanBase deleted (by the
//! policy or by a CleanupTask) is deleted from the second data or log destination too, in the background,
//! once per set or piece and process. Nothing on the first destination is touched.
//!
//! And it checks the copy: once per `verifyEvery`, every set still on the first destination is read back
//! from the second, one set at a time, and whatever is damaged, lost or missing there is copied again (a
//! Warning event and a metric say so) — which also copies the sets completed before `secondBackup` was set.
//! A set its BackupTask is still copying, or copied within the period, is left alone.

use crate::background::Key;
use crate::reason::Reason;
use kube::ResourceExt;
use std::{collections::HashMap, time::Duration};

use jiff::Timestamp;
use kube::runtime::events::{Event, EventType};

use super::super::{
    Context, Error, conditions::SECOND_BACKUP_READY, error::Problem, references, storage_owners,
};
use crate::{
    api::backup_strategy::BackupMethod,
    api::{
        BackupStrategy, BackupStrategySpec, BackupTask, BackupTaskPhase, LogBackup,
        backup_strategy::{SecondBackup, SecondBackupOverview, SecondTenantCopy},
        common::{SecondCopy, SecondCopyPhase, StorageDestination},
    },
    controller::{
        conditions::api_time,
        overview::{Destinations, second_copy_windows},
        references::ReferenceCheck,
    },
    oceanbase::{AccessKeys, BackupSetRow, FileStatus, SetStatus, Snapshot},
    storage::{
        copies::{CopyRequest, CopyState, Work},
        tree_under,
    },
};

/// Why `strategy`'s second copies of `tenants` cannot be made now, if they cannot: a credentials Secret of a
/// second destination missing or incomplete, or a second directory that is, holds or lies inside one where
/// other backups are kept ([`storage_owners`]). Never a reason to hold up the first backups.
pub async fn readiness(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenants: &[String],
) -> Result<Option<Problem>, Error> {
    let Some(second) = &strategy.spec.second_backup else {
        return Ok(None);
    };
    let mut check = ReferenceCheck::new(ctx, namespace);
    check.destination(&second.data_destination).await?;
    check.destination(&second.log_destination).await?;
    if let Some(problem) = check.problems.into_iter().next() {
        return Ok(Some(Problem {
            message: format!("second backup: {}", problem.message),
            ..problem
        }));
    }
    let physical = |t: &BackupTask| t.spec.method == BackupMethod::Physical;
    let known = storage_owners::known_claims(
        &ctx.catalog
            .list_everywhere(namespace, |_: &BackupStrategy| true)
            .await?,
        &ctx.catalog
            .list_everywhere(namespace, |t: &BackupTask| {
                physical(t) && t.spec.cluster.is_some()
            })
            .await?,
        &ctx.catalog
            .list_everywhere(namespace, |l: &LogBackup| l.spec.cluster.is_some())
            .await?,
        &ctx.observers.snapshots(),
    );
    Ok(storage_owners::second_destination_problem(
        strategy, tenants, &known,
    ))
}

/// Starts deleting from the second destinations every set and piece of `tenants` that OceanBase deleted
/// (each one's end wakes the strategy).
pub async fn follow_cleanups(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
) -> Result<(), Error> {
    let spec = &strategy.spec;
    let Some(second) = &spec.second_backup else {
        return Ok(());
    };
    let (sets, pieces) = deleted_trees(spec, snapshot, tenants);
    let name = strategy.metadata.name.as_deref().unwrap_or_default();
    for (root, trees) in [
        (&second.data_destination, sets),
        (&second.log_destination, pieces),
    ] {
        if trees.is_empty() {
            continue;
        }
        let to_keys = references::access_keys(ctx, namespace, root).await?;
        for (tenant, tree) in trees {
            let destination = root.for_tenant(&tenant);
            let request = CopyRequest {
                work: Work::Delete,
                from: String::new(),
                from_keys: None,
                to: destination.uri.clone(),
                to_keys: to_keys.clone(),
                tree: tree.clone(),
                concurrency: 1,
                bandwidth: None,
                file_root: ctx.settings.file_root,
            };
            // Kept once done: the key is this process's memory that the tree is gone from the copy too.
            let key = crate::background::Key::part(
                namespace,
                name,
                format!("delete/{}/{tree}", destination.uri),
            );
            if let CopyState::Failed { message, .. } = ctx.copies.ensure(&key, &request) {
                tracing::warn!(
                    tree,
                    message,
                    "deleting from the second destination failed; retrying"
                );
            }
        }
    }
    Ok(())
}

/// A tenant and a directory under its own destination.
type TenantTree = (String, String);

/// The set and piece directories of `tenants` OceanBase deleted, each with its tenant, to delete from the
/// tenant's directories on the second data and log destinations — none when the copy keeps them
/// (`followCleanup: false`).
fn deleted_trees(
    spec: &BackupStrategySpec,
    snapshot: &Snapshot,
    tenants: &[String],
) -> (Vec<TenantTree>, Vec<TenantTree>) {
    let (mut sets, mut pieces) = (Vec::new(), Vec::new());
    if !spec
        .second_backup
        .as_ref()
        .is_some_and(|s| s.follow_cleanup)
    {
        return (sets, pieces);
    }
    for tenant in tenants.iter().filter_map(|name| snapshot.tenant(name)) {
        // (tenant id, file status, path) rows under `destination`'s directory for the tenant.
        let gone = |destination: &StorageDestination, rows: Vec<(i64, &FileStatus, &str)>| {
            let own = destination.for_tenant(&tenant.name);
            rows.into_iter()
                .filter(|(id, status, _)| *id == tenant.id && **status == FileStatus::Deleted)
                .filter_map(|(_, _, path)| tree_under(&own.uri, path))
                .map(|tree| (tenant.name.clone(), tree))
                .collect::<Vec<_>>()
        };
        let set_rows = snapshot.sets.iter();
        let piece_rows = snapshot.pieces.iter();
        sets.extend(gone(
            &spec.data_destination,
            set_rows
                .map(|s| (s.tenant_id, &s.file_status, s.path.as_str()))
                .collect(),
        ));
        if let Some(log) = &spec.log_destination {
            pieces.extend(gone(
                log,
                piece_rows
                    .map(|p| (p.tenant_id, &p.file_status, p.path.as_str()))
                    .collect(),
            ));
        }
    }
    (sets, pieces)
}

/// The strategy's overview of its second copy (each tenant's recoverable windows and bytes there, how far
/// its archive is behind), after the verification pass of the period has moved on ([`verify_pass`]).
/// A verification pass runs only when `cleared` ([`readiness`] found nothing wrong); one that cannot be
/// made for good comes back as the problem to report.
pub async fn copy_overview(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
    cleared: bool,
) -> Result<(Option<SecondBackupOverview>, Option<Problem>), Error> {
    let spec = &strategy.spec;
    if spec.second_backup.is_none() {
        return Ok((None, None));
    }
    let name = strategy.metadata.name.as_deref().unwrap_or_default();
    let archives = ctx
        .catalog
        .of_strategy(namespace, name, |l: &LogBackup| {
            l.spec.strategy_ref.as_ref().is_some_and(|r| r.name == name)
        })
        .await?;
    let mut overview = archive_progress(strategy, &archives);
    let tasks = ctx
        .catalog
        .of_strategy(namespace, name, |t: &BackupTask| {
            t.spec.method == crate::api::backup_strategy::BackupMethod::Physical
                && t.spec.strategy_ref.as_ref().is_some_and(|r| r.name == name)
        })
        .await?;
    let failed = if cleared {
        verify_pass(
            ctx,
            namespace,
            strategy,
            snapshot,
            tenants,
            &tasks,
            &mut overview,
        )
        .await?
    } else {
        None
    };
    let verified_at = overview.last_verified_at.as_ref().map(|t| t.0);
    overview.tenants = tenant_copies(spec, snapshot, tenants, &archives, &tasks, verified_at);
    let problem = failed
        .map(|message| format!("verifying the second copy: {message}"))
        .or_else(|| failed_since_the_last_pass(&tasks, &overview))
        .map(|message| Problem::elsewhere(Reason::SecondCopyFailed, message));
    Ok((Some(overview), problem))
}

/// The overview as the status had it, with the archive's progress on the second copy as the strategy's
/// LogBackups (`archives`) report it: the oldest checkpoint and the largest delay.
fn archive_progress(strategy: &BackupStrategy, archives: &[LogBackup]) -> SecondBackupOverview {
    let previous = strategy
        .status
        .as_ref()
        .and_then(|s| s.second_backup.clone())
        .unwrap_or_default();
    let copies: Vec<_> = archives
        .iter()
        .filter_map(|l| l.status.as_ref()?.second_backup.as_ref())
        .collect();
    SecondBackupOverview {
        log_checkpoint_time: copies
            .iter()
            .filter_map(|c| c.checkpoint_time.clone())
            .min_by_key(|t| t.0),
        log_delay_seconds: copies.iter().filter_map(|c| c.delay_seconds).max(),
        ..previous
    }
}

/// Each tenant's second copy: its recoverable windows and data bytes there (from the sets [`on_copy`]
/// finds whole, `verified_at` the last pass), and the bytes its LogBackup archived there. None for a tenant
/// the cluster does not have.
fn tenant_copies(
    spec: &BackupStrategySpec,
    snapshot: &Snapshot,
    tenants: &[String],
    archives: &[LogBackup],
    tasks: &[BackupTask],
    verified_at: Option<Timestamp>,
) -> Vec<SecondTenantCopy> {
    tenants
        .iter()
        .filter_map(|name| {
            let tenant = snapshot.tenant(name)?;
            let log_copy = archives
                .iter()
                .find(|l| &l.spec.tenant == name)
                .and_then(|l| l.status.as_ref()?.second_backup.as_ref());
            let (data, log) = (
                spec.data_destination.for_tenant(name),
                spec.log_destination.as_ref()?.for_tenant(name),
            );
            let (recoverable_windows, data_bytes) = second_copy_windows(
                snapshot,
                tenant,
                Destinations {
                    data: &data.uri,
                    log: &log.uri,
                },
                |set| on_copy(set, name, tasks, verified_at),
                log_copy
                    .and_then(|c| c.checkpoint_time.as_ref())
                    .and_then(|t| u64::try_from(t.0.as_nanosecond()).ok()),
            );
            Some(SecondTenantCopy {
                name: name.clone(),
                recoverable_windows,
                data_backup_bytes: Some(data_bytes),
                log_backup_bytes: log_copy.and_then(|c| c.bytes),
            })
        })
        .collect()
}

/// Why a BackupTask's copy failed for good since the last verification pass, if one did: the strategy says
/// so until the next pass copies that set again.
fn failed_since_the_last_pass(
    tasks: &[BackupTask],
    overview: &SecondBackupOverview,
) -> Option<String> {
    let since = overview.last_verified_at.as_ref().map(|t| t.0);
    tasks.iter().find_map(|task| {
        let copy = task.status.as_ref()?.second_backup.as_ref()?;
        let ended = copy.ended_at.as_ref()?.0;
        (copy.phase == Some(SecondCopyPhase::Failed) && since.is_none_or(|at| ended > at)).then(|| {
            format!(
                "the copy of BackupTask {} failed: {}; the next verification pass copies its set again",
                task.metadata.name.as_deref().unwrap_or_default(),
                copy.message.as_deref().unwrap_or("no message")
            )
        })
    })
}

/// Whether backup set `set` of `tenant` is whole on the second copy: its BackupTask copied it, or — when
/// no task is copying it now — it ended before the last verification pass, which found or made it whole.
fn on_copy(
    set: &BackupSetRow,
    tenant: &str,
    tasks: &[BackupTask],
    verified_at: Option<Timestamp>,
) -> bool {
    let phase = tasks
        .iter()
        .filter(|t| t.spec.tenant == tenant)
        .filter_map(|t| t.status.as_ref())
        .find(|s| s.backup_set_id == Some(set.backup_set_id))
        .and_then(|s| s.second_backup.as_ref()?.phase);
    match phase {
        Some(SecondCopyPhase::Completed) => true,
        Some(
            SecondCopyPhase::Canceled
            | SecondCopyPhase::Pending
            | SecondCopyPhase::InProgress
            | SecondCopyPhase::Paused,
        ) => false,
        Some(SecondCopyPhase::Failed) | None => {
            verified_at.zip(set.end).is_some_and(|(at, end)| end < at)
        }
    }
}

/// Once per `verifyEvery`, reads every set of `tenants` back from the second destination, one set at a
/// time, and copies again what is damaged, lost or missing; records the pass in `overview`. Returns why a
/// set cannot be verified for good (a storage that refuses, not one that is down), if one cannot.
async fn verify_pass(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
    tasks: &[BackupTask],
    overview: &mut SecondBackupOverview,
) -> Result<Option<String>, Error> {
    let spec = &strategy.spec;
    let Some(second) = &spec.second_backup else {
        return Ok(None);
    };
    let Some(every) = second.verify_interval() else {
        return Ok(None);
    };
    let now = crate::clock::now();
    let (period, period_start) = verify_period(every, now);
    if overview
        .last_verified_at
        .as_ref()
        .is_some_and(|t| t.0 >= period_start)
    {
        return Ok(None);
    }
    let left_alone = left_to_their_tasks(tasks, period_start);
    let sets = pass_sets(spec, snapshot, tenants);
    let pass = Pass::open(ctx, namespace, strategy, snapshot, second, period).await?;
    let (mut passed, mut failed, mut verified) = (true, None, 0i64);
    for (tenant, set, tree) in &sets {
        if let Some(copied) = left_alone.get(&(*tenant, set.backup_set_id)) {
            verified += i64::from(*copied);
            continue;
        }
        // A BackupTask copying this set again (a retry) has it: the pass waits for it.
        let copying: Vec<Key> = tasks
            .iter()
            .filter(|t| {
                t.spec.tenant.eq_ignore_ascii_case(tenant)
                    && t.status.as_ref().and_then(|s| s.backup_set_id) == Some(set.backup_set_id)
            })
            .map(|t| Key::of(namespace, &t.name_any()))
            .collect();
        match pass.verify(tenant, set, tree, &copying, overview).await {
            CopyState::Done(_) => verified += 1,
            CopyState::Running { .. } => return Ok(None),
            CopyState::Failed { message, transient } => {
                tracing::warn!(tree, message, "verifying the second copy failed; retrying");
                passed = false;
                if !transient {
                    failed.get_or_insert(format!("{tenant}'s {tree}: {message}"));
                }
            }
        }
    }
    if passed {
        overview.last_verified_at = Some(api_time(now));
        overview.verified_sets = Some(verified);
    }
    Ok(failed)
}

/// The period of `every` that `now` falls in: its number since the epoch, and when it began.
fn verify_period(every: Duration, now: Timestamp) -> (u64, Timestamp) {
    let every_s = every.as_secs().max(1);
    let period = u64::try_from(now.as_second()).unwrap_or(0) / every_s;
    let start = Timestamp::from_second(i64::try_from(period * every_s).unwrap_or(0)).unwrap_or(now);
    (period, start)
}

/// The sets a verification pass reads, by set id: every set of `tenants` that succeeded and is still on
/// the first destination, each with its tenant and its tree under the tenant's first data directory (a set
/// lying outside it is not the strategy's to copy).
fn pass_sets<'s>(
    spec: &BackupStrategySpec,
    snapshot: &'s Snapshot,
    tenants: &[String],
) -> Vec<(&'s str, &'s BackupSetRow, String)> {
    let ids: Vec<i64> = tenants
        .iter()
        .filter_map(|name| snapshot.tenant(name).map(|t| t.id))
        .collect();
    let mut sets: Vec<_> = snapshot
        .sets
        .iter()
        .filter(|s| {
            ids.contains(&s.tenant_id)
                && s.status == SetStatus::Success
                && s.file_status == FileStatus::Available
        })
        .collect();
    sets.sort_by_key(|s| s.backup_set_id);
    sets.into_iter()
        .filter_map(|set| {
            let tenant = snapshot.tenants.iter().find(|t| t.id == set.tenant_id);
            let tenant = tenant.map(|t| t.name.as_str()).unwrap_or_default();
            let from = spec.data_destination.for_tenant(tenant);
            let tree = tree_under(&from.uri, &set.path)?;
            Some((tenant, set, tree))
        })
        .collect()
}

/// A verification pass under way: what it reads the sets with, and the period it is for (each set is
/// read once per period).
struct Pass<'a> {
    ctx: &'a Context,
    namespace: &'a str,
    strategy: &'a BackupStrategy,
    snapshot: &'a Snapshot,
    second: &'a SecondBackup,
    from_keys: Option<AccessKeys>,
    to_keys: Option<AccessKeys>,
    period: u64,
}

impl<'a> Pass<'a> {
    /// A pass of `strategy`'s second copy (`second`) for `period`, with the keys of both data
    /// destinations.
    async fn open(
        ctx: &'a Context,
        namespace: &'a str,
        strategy: &'a BackupStrategy,
        snapshot: &'a Snapshot,
        second: &'a SecondBackup,
        period: u64,
    ) -> Result<Pass<'a>, Error> {
        let first = &strategy.spec.data_destination;
        Ok(Pass {
            ctx,
            namespace,
            strategy,
            snapshot,
            second,
            from_keys: references::access_keys(ctx, namespace, first).await?,
            to_keys: references::access_keys(ctx, namespace, &second.data_destination).await?,
            period,
        })
    }

    /// Reads `tree` (backup set `set` of `tenant`) back from the second destination, copying again what
    /// is damaged, lost or missing there ([`Work::Verify`]); tells what was copied again ([`repaired`])
    /// and counts it in `overview`. Returns where the reading is.
    async fn verify(
        &self,
        tenant: &str,
        set: &BackupSetRow,
        tree: &str,
        copying: &[Key],
        overview: &mut SecondBackupOverview,
    ) -> CopyState {
        let (ctx, second) = (self.ctx, self.second);
        let name = self.strategy.metadata.name.as_deref().unwrap_or_default();
        let request = CopyRequest {
            work: Work::Verify,
            from: self.strategy.spec.data_destination.for_tenant(tenant).uri,
            from_keys: self.from_keys.clone(),
            to: second.data_destination.for_tenant(tenant).uri,
            to_keys: self.to_keys.clone(),
            tree: tree.to_string(),
            concurrency: usize::try_from(second.concurrency).unwrap_or(1).max(1),
            bandwidth: second.bandwidth(),
            file_root: ctx.settings.file_root,
        };
        let key = crate::storage::copies::verify_key(self.namespace, name, tenant, tree);
        let Some((_, state)) =
            ctx.copies
                .repeat_alone(&key, &request, (self.period, Duration::ZERO), copying)
        else {
            return CopyState::Running {
                objects: 0,
                total_objects: 0,
                bytes: 0,
                total_bytes: 0,
            };
        };
        if let Some(report) = ctx.copies.take_report(&key)
            && report.damaged > 0
        {
            let (namespace, strategy, snapshot) = (self.namespace, self.strategy, self.snapshot);
            let damaged = report.damaged;
            repaired(
                ctx,
                namespace,
                strategy,
                snapshot,
                set.tenant_id,
                tree,
                damaged,
            )
            .await;
            overview.repaired_objects = Some(
                overview
                    .repaired_objects
                    .unwrap_or(0)
                    .saturating_add(i64::try_from(damaged).unwrap_or(i64::MAX)),
            );
        }
        state
    }
}

/// Sets (tenant, set id) the pass leaves to their BackupTask: still copying them or whose copy was
/// canceled (false), or copied them within the period that began at `since` (true).
fn left_to_their_tasks(tasks: &[BackupTask], since: Timestamp) -> HashMap<(&str, i64), bool> {
    tasks
        .iter()
        .filter_map(|task| {
            let status = task.status.as_ref()?;
            let id = status.backup_set_id?;
            let copy = status.second_backup.as_deref();
            // A task that completed before `secondBackup` was set never copies: the pass does.
            let copying = status.phase == Some(BackupTaskPhase::Completed)
                && copy.is_some()
                && !SecondCopy::settled(copy);
            let canceled = copy.is_some_and(|c| c.phase == Some(SecondCopyPhase::Canceled));
            let fresh = copy.is_some_and(|c| {
                c.phase == Some(SecondCopyPhase::Completed)
                    && c.ended_at.as_ref().is_some_and(|t| t.0 >= since)
            });
            (copying || canceled || fresh).then_some(((task.spec.tenant.as_str(), id), fresh))
        })
        .collect()
}

/// Whether the `SecondBackupReady` condition changed (its status, or the spec it speaks of).
pub fn readiness_changed(
    strategy: &BackupStrategy,
    desired: &crate::api::BackupStrategyStatus,
) -> bool {
    let find = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conditions
            .iter()
            .find(|c| c.type_ == SECOND_BACKUP_READY)
            .map(|c| (c.status.clone(), c.observed_generation))
    };
    let before = strategy.status.as_ref().and_then(|s| find(&s.conditions));
    before != find(&desired.conditions)
}

/// A Warning event when the `SecondBackupReady` condition turns False or says something new (once, not on
/// every look).
pub async fn warn_when_not_ready(
    ctx: &Context,
    strategy: &BackupStrategy,
    desired: &crate::api::BackupStrategyStatus,
) {
    let find = |conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]| {
        conditions
            .iter()
            .find(|c| c.type_ == SECOND_BACKUP_READY && c.status == "False")
            .cloned()
    };
    let Some(now) = find(&desired.conditions) else {
        return;
    };
    let before = strategy.status.as_ref().and_then(|s| find(&s.conditions));
    if before.is_some_and(|b| b.message == now.message) {
        return;
    }
    ctx.publish(
        strategy,
        Event {
            type_: EventType::Warning,
            reason: now.reason.clone(),
            note: Some(now.message.clone()),
            action: "CopyToSecondDestination".into(),
            secondary: None,
        },
    )
    .await;
}

/// Tells that `damaged` objects of `tree` were copied again: a Warning event on the strategy and the metric.
async fn repaired(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenant_id: i64,
    tree: &str,
    damaged: usize,
) {
    let tenant = snapshot
        .tenants
        .iter()
        .find(|t| t.id == tenant_id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    ctx.metrics
        .second_copy_repaired
        .get_or_create(&crate::metrics::TenantLabels {
            namespace: namespace.to_string(),
            cluster: strategy.spec.cluster.name.clone(),
            tenant,
        })
        .inc_by(u64::try_from(damaged).unwrap_or(u64::MAX));
    ctx.publish(
        strategy,
        Event {
            type_: EventType::Warning,
            reason: Reason::SecondCopyRepaired.into(),
            note: Some(format!(
                "{damaged} object(s) of {tree} differed on the second destination or were gone, and were \
                 copied again from the first"
            )),
            action: "VerifySecondCopy".into(),
            secondary: None,
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;
    use serde_json::json;

    fn task(tenant: &str, set: i64, copy: Option<&str>) -> BackupTask {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask", "metadata": {"name": "t"},
            "spec": {"tenant": tenant, "mode": "Full"},
            "status": {"phase": "Completed", "backupSetId": set, "secondBackup": copy.map(|p| json!({"phase": p}))},
        }))
        .expect("task")
    }

    fn set(id: i64, end: i64) -> BackupSetRow {
        BackupSetRow {
            tenant_id: 1002,
            backup_set_id: id,
            backup_type: State::of("FULL"),
            status: State::of("SUCCESS"),
            file_status: State::of("AVAILABLE"),
            input_bytes: 0,
            output_bytes: 0,
            end: Some(Timestamp::from_second(end).expect("time")),
            path: String::new(),
            prev_full_backup_set_id: 0,
            prev_inc_backup_set_id: 0,
            start_replay_scn: 0,
            min_restore_scn: 0,
            data_version: "4.2.5.0".into(),
        }
    }

    #[test]
    fn the_pass_leaves_a_set_to_its_task_only_for_that_tenant_and_a_canceled_copy_alone() {
        let since = Timestamp::from_second(1_000).expect("time");
        let mut fresh = task("tenant1", 3, Some("Completed"));
        if let Some(copy) = fresh.status.as_mut().and_then(|s| s.second_backup.as_mut()) {
            copy.ended_at = Some(api_time(Timestamp::from_second(1_500).expect("time")));
        }
        let tasks = [
            task("tenant1", 1, Some("InProgress")),
            task("tenant1", 2, Some("Canceled")),
            fresh,
            task("tenant1", 4, Some("Failed")),
        ];
        let left = left_to_their_tasks(&tasks, since);
        assert_eq!(
            left.get(&("tenant1", 1)),
            Some(&false),
            "its task is copying it"
        );
        assert_eq!(
            left.get(&("tenant1", 2)),
            Some(&false),
            "its copy was canceled"
        );
        assert_eq!(
            left.get(&("tenant1", 3)),
            Some(&true),
            "copied within the period"
        );
        assert_eq!(
            left.get(&("tenant1", 4)),
            None,
            "a failed copy is the pass's to repair"
        );
        // Set ids are per tenant: tenant2's set 1 is the pass's, whatever tenant1's task does.
        assert_eq!(left.get(&("tenant2", 1)), None);
    }

    /// A copy refused by the storage for good shows on the strategy until a verification pass after it.
    #[test]
    fn a_copy_that_failed_since_the_last_pass_is_the_strategys_to_say() {
        let mut failed = task("tenant1", 4, Some("Failed"));
        if let Some(copy) = failed
            .status
            .as_mut()
            .and_then(|s| s.second_backup.as_mut())
        {
            copy.ended_at = Some(api_time(Timestamp::from_second(2_000).expect("time")));
            copy.message = Some("storage refused: PermissionDenied".into());
        }
        let tasks = [task("tenant1", 3, Some("Completed")), failed];
        let never_verified = SecondBackupOverview::default();
        let said = failed_since_the_last_pass(&tasks, &never_verified).expect("said");
        assert!(said.contains("PermissionDenied"), "{said}");
        let verified_after = SecondBackupOverview {
            last_verified_at: Some(api_time(Timestamp::from_second(3_000).expect("time"))),
            ..SecondBackupOverview::default()
        };
        assert_eq!(failed_since_the_last_pass(&tasks, &verified_after), None);
    }

    #[test]
    fn cleanups_are_followed_on_the_copy_unless_the_copy_keeps_everything() {
        let spec = |follow: &str| -> BackupStrategySpec {
            serde_norway::from_str(&format!(
                "cluster: {{name: obcluster, connectionSecret: ob}}\n\
                 dataDestination: {{uri: 'file:///d'}}\nlogDestination: {{uri: 'file:///a'}}\n\
                 schedule: {{timeZone: UTC, full: '0 1 * * 0'}}\n\
                 secondBackup: {{dataDestination: {{uri: 'file:///d2'}}, logDestination: {{uri: 'file:///a2'}}{follow}}}"
            ))
            .expect("spec")
        };
        let mut deleted = set(1, 0);
        deleted.file_status = State::of("DELETED");
        deleted.path = "file:///d/tenant1/backup_set_1_full".into();
        let mut kept = set(2, 0);
        kept.path = "file:///d/tenant1/backup_set_2_full".into();
        let snapshot = Snapshot {
            tenants: vec![crate::oceanbase::TenantRow {
                id: 1002,
                name: "tenant1".into(),
                status: State::of("NORMAL"),
                role: State::of("PRIMARY"),
                archivelog: true,
            }],
            sets: vec![deleted, kept],
            ..Snapshot::default()
        };
        let tenants = ["tenant1".to_string()];
        assert_eq!(
            deleted_trees(&spec(""), &snapshot, &tenants),
            (
                vec![("tenant1".to_string(), "backup_set_1_full".to_string())],
                vec![]
            ),
            "followCleanup defaults to true; the tree lies in the tenant's own directory"
        );
        assert_eq!(
            deleted_trees(&spec(", followCleanup: false"), &snapshot, &tenants),
            (vec![], vec![])
        );
        assert_eq!(
            deleted_trees(&spec(""), &snapshot, &["tenant2".to_string()]),
            (vec![], vec![])
        );
    }

    #[test]
    fn a_set_is_on_the_copy_once_its_task_copied_it_or_a_later_pass_found_it_and_no_task_is_copying_it()
     {
        let verified = Some(Timestamp::from_second(1_000).expect("time"));
        let on =
            |tasks: &[BackupTask], end, verified| on_copy(&set(1, end), "tenant1", tasks, verified);
        assert!(
            on(&[task("tenant1", 1, Some("Completed"))], 2_000, None),
            "its task copied it"
        );
        assert!(
            !on(&[task("tenant1", 1, Some("InProgress"))], 500, verified),
            "still being copied"
        );
        assert!(
            on(&[task("tenant1", 1, Some("Failed"))], 500, verified),
            "the pass made it whole"
        );
        assert!(
            !on(&[task("tenant1", 1, Some("Canceled"))], 500, verified),
            "a canceled copy never counts"
        );
        assert!(
            on(&[], 500, verified),
            "taken before secondBackup was set, found by the pass"
        );
        assert!(
            !on(&[], 1_500, verified),
            "ended after the pass, no task copied it"
        );
        assert!(!on(&[], 500, None), "no pass yet");
        // Set ids are per tenant: another tenant's task with the same id says nothing about this one.
        assert!(!on(&[task("tenant2", 1, Some("Completed"))], 2_000, None));
    }
}
