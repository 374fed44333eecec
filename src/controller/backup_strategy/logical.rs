//! A BackupStrategy of method Logical: scheduled dumps of its tenants, each a logical BackupTask it owns
//! (the operator takes it through the tenant user of `logical.credentialsSecret`), kept on
//! `<dataDestination>/<tenant>/logical/` for `retention.recoveryWindow`. Nothing is sent to OceanBase as
//! sys: no destination is set, no archiving runs, no delete policy is kept — so a logical strategy owns
//! nothing a physical one does, and the two may cover the same tenant.
//!
//! Each look: the Secrets and destination it names are checked, the scheduled BackupTasks are created and
//! the finished ones beyond the history limits pruned ([`super::plan`], as for physical backups), the
//! finished dumps on each tenant's directory are listed, those that began more than the recovery window
//! ago are deleted (never a tenant's newest), so are unfinished dumps no task writes any more (a failed
//! dump's leftovers), and the overview shows what is kept.
//!
//! It stays in the strategy's folder, beside [`super::physical`], because it is the strategy's second
//! method, not a task of its own: it shares the strategy's checks ([`super::checks`]), schedule
//! ([`super::plan`]), children ([`super::children`]), status vocabulary ([`super::summary`]) and metrics
//! ([`super::overview_metrics`]), and the strategy's reconcile dispatches to it on `spec.method`.

use crate::reason::Reason;
use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    ResourceExt,
    runtime::{
        controller::Action,
        events::{Event, EventType},
    },
};

use super::{
    checks::{first_checks, stop_on_problems},
    children,
    overview_metrics::record_metrics,
    plan,
    summary::{DESTINATION_READY, RETENTION_APPLIED, scheduled, scheduling_phase, size_display},
};
use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus, BackupTask, BackupTaskPhase, StrategyPhase,
        backup_strategy::{BackupMethod, TenantBackupState, TenantBackupStatus},
    },
    controller::{
        Context, Error,
        conditions::{Health, api_time, condition, with_extra},
        references, status,
    },
    logical::retention::{self, KeptDump},
    storage::StorageError,
};

/// Reconciles a BackupStrategy of method Logical.
pub async fn reconcile(
    strategy: Arc<BackupStrategy>,
    ctx: Arc<Context>,
    namespace: String,
) -> Result<Action, Error> {
    let spec = &strategy.spec;
    let same = super::exclusive::on_same_cluster(&ctx, &namespace, &strategy).await?;
    let mut check = first_checks(&ctx, &namespace, &strategy, &same).await?;
    if let Some(logical) = &spec.logical {
        check
            .tenant_login(logical.login(), &spec.tenants, "logical backup user")
            .await?;
    }
    if let Some(action) = stop_on_problems(&ctx, &strategy, &check.problems).await? {
        return Ok(action);
    }
    let now = crate::clock::now();
    let plan = children::sync_tasks(&ctx, &namespace, &strategy, &spec.tenants, now).await?;
    // The dumps being written: those of every logical task that has not ended (its own or another's).
    let writing = |t: &BackupTask| {
        let phase = t.status.as_ref().and_then(|s| s.phase);
        t.spec.method == BackupMethod::Logical && !phase.is_some_and(BackupTaskPhase::is_terminal)
    };
    let written: Vec<String> = ctx
        .catalog
        .list_where(&namespace, writing)
        .await?
        .iter()
        .map(BackupTask::dump_directory)
        .collect();
    let mut swept = Vec::new();
    for tenant in &spec.tenants {
        swept.push((
            tenant.clone(),
            sweep(&ctx, &namespace, &strategy, tenant, &written, now).await?,
        ));
    }
    let mut desired = overview(&strategy, &plan, &swept, now);
    let made = plan.made();
    super::history::record(&ctx, &strategy, &plan.skipped, &made, &mut desired, now).await;
    let drills = super::drills::look(
        &ctx,
        &namespace,
        &strategy,
        &spec.tenants,
        &mut desired,
        now,
    )
    .await?;
    status::write(&ctx, strategy.as_ref(), strategy.status.as_ref(), &desired).await?;
    record_metrics(&ctx, &namespace, &strategy, &desired);
    let next = plan
        .next_full
        .and_then(|at| Duration::try_from(at.duration_since(now)).ok())
        .map_or(crate::timing::STRATEGY_MAX_WAIT, crate::clock::real);
    let next = next.clamp(
        crate::timing::STRATEGY_MIN_WAIT,
        crate::timing::STRATEGY_MAX_WAIT,
    );
    let object = format!("{namespace}/{}", strategy.name_any());
    Ok(ctx
        .statements
        .requeue(&object, Some(super::drills::sooner(next, drills))))
}

/// What one tenant's directory holds after expired dumps were deleted, or why it could not be read.
type Swept = Result<Vec<KeptDump>, StorageError>;

/// Lists `tenant`'s dumps, deletes the finished ones past the recovery window and the unfinished ones no
/// task writes any more (`written`: the directories being written), a Normal Event each.
async fn sweep(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    tenant: &str,
    written: &[String],
    now: Timestamp,
) -> Result<Swept, Error> {
    let destination = strategy.spec.data_destination.for_tenant(tenant);
    let keys = references::access_keys(ctx, namespace, &destination).await?;
    let storage =
        match crate::storage::open(&destination.uri, keys.as_ref(), ctx.settings.file_root) {
            Ok(storage) => storage,
            Err(error) => return Ok(Err(error)),
        };
    // Another cluster's or namespace's dumps of the tenant (a destination they share) are left alone.
    let keeper = retention::Keeper {
        namespace: namespace.to_string(),
        cluster: strategy.spec.cluster.name.clone(),
        tenant: tenant.to_string(),
    };
    let (dumps, unfinished) = match retention::dumps(&storage, Some(&keeper)).await {
        Ok(all) => (all.finished, all.unfinished),
        Err(error) => return Ok(Err(error)),
    };
    if let Err(error) = delete_abandoned(
        ctx,
        strategy,
        &storage,
        &keeper,
        &destination.uri,
        &unfinished,
        written,
    )
    .await
    {
        return Ok(Err(error));
    }
    let window = retention::window_of(strategy);
    let mut deleted = Vec::new();
    for dump in retention::expired(&dumps, window, now) {
        if let Err(error) = retention::delete(&storage, &dump.directory).await {
            return Ok(Err(error));
        }
        deleted.push(dump.directory.clone());
        let note = format!(
            "deleted tenant {tenant}'s dump {} (begun {}, data as of {}): older than \
             retention.recoveryWindow {}",
            crate::storage::directory_in(&destination.uri, &dump.directory),
            api_time(dump.started_at).0,
            api_time(dump.snapshot_at).0,
            strategy.spec.retention.recovery_window
        );
        publish(ctx, strategy, Reason::DumpExpired, "ExpireDump", note).await;
    }
    Ok(Ok(dumps
        .into_iter()
        .filter(|d| !deleted.contains(&d.directory))
        .collect()))
}

/// Deletes the unfinished dumps `keeper` keeps that are abandoned ([`retention::abandoned`]; `written`: the
/// directories being written), a Normal Event each.
async fn delete_abandoned(
    ctx: &Context,
    strategy: &BackupStrategy,
    storage: &opendal::Operator,
    keeper: &retention::Keeper,
    uri: &str,
    unfinished: &[retention::UnfinishedDump],
    written: &[String],
) -> Result<(), StorageError> {
    // Storage keeps wall-clock times: quiet is measured on the wall clock, whatever the operator's.
    let wall = Timestamp::now();
    let quiet_since = wall
        .saturating_sub(retention::ABANDONED_GRACE)
        .unwrap_or(Timestamp::MIN);
    for dump in unfinished
        .iter()
        .filter(|d| !retention::is_written(d, written))
    {
        let last = retention::last_written(storage, &dump.directory, quiet_since).await?;
        if !retention::abandoned(dump, written, last, wall)
            || !keeper.keeps(
                retention::plan_owner(storage, &dump.directory)
                    .await?
                    .as_ref(),
            )
        {
            continue;
        }
        let begun = retention::plan_started_at(storage, &dump.directory)
            .await
            .ok()
            .flatten()
            .map_or_else(|| "when unknown".into(), |at| api_time(at).0.to_string());
        retention::delete(storage, &dump.directory).await?;
        let note = format!(
            "deleted tenant {}'s unfinished dump {} (begun {begun}): no BackupTask writes it any \
             more (its task failed or is gone) and nothing was written to it for an hour, so nothing \
             would ever finish it",
            keeper.tenant,
            crate::storage::directory_in(uri, &dump.directory),
        );
        publish(
            ctx,
            strategy,
            Reason::DumpAbandoned,
            "DeleteAbandonedDump",
            note,
        )
        .await;
    }
    Ok(())
}

/// A Normal Event about the strategy.
async fn publish(
    ctx: &Context,
    strategy: &BackupStrategy,
    reason: Reason,
    action: &str,
    note: String,
) {
    ctx.publish(
        strategy,
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        },
    )
    .await;
}

/// The strategy's status: its schedule, and per tenant the dumps kept (the newest one's data version is
/// the tenant's last data backup).
fn overview(
    strategy: &BackupStrategy,
    plan: &plan::Plan,
    swept: &[(String, Swept)],
    now: Timestamp,
) -> BackupStrategyStatus {
    let previous = strategy.status.clone().unwrap_or_default();
    let generation = strategy.metadata.generation;
    let tenants = kept_lines(swept, &previous.tenants);
    let unreadable = swept
        .iter()
        .find_map(|(name, result)| result.as_ref().err().map(|e| (name, e)));
    let phase = scheduling_phase(strategy, plan);
    let next = plan.next_full;
    let health = health(strategy, phase, unreadable, next);
    let extra = conditions(strategy, next, unreadable.map(|(t, e)| (t.as_str(), e)));
    let bytes: i64 = tenants.iter().filter_map(|t| t.data_backup_bytes).sum();
    BackupStrategyStatus {
        phase: Some(phase),
        conditions: with_extra(&previous.conditions, &health, Some(extra), generation, now),
        observed_generation: generation,
        message: Some(health.message().to_string()),
        last_data_backup_time: tenants
            .iter()
            .filter_map(|t| t.last_data_backup_time.clone())
            .max_by_key(|t| t.0),
        log_checkpoint_time: None,
        log_delay_seconds: None,
        backup_size: Some(size_display(bytes)),
        next_full_backup_time: next.map(api_time),
        next_incremental_backup_time: None,
        last_schedule_time: plan.last_schedule.map(api_time),
        tenants,
        second_backup: None,

        // Set by the drills' own look (physical strategies).
        drills: Vec::new(),
        last_passed_drill_time: None,
        last_drill_schedule_time: None,
        tenants_without_strategy: Vec::new(),
        // Added to from the plan by the schedule's history (super::history).
        skipped_runs: super::history::so_far(strategy),
        // Followed by the alert record (alert_record::note), after the drills' look.
        alerts: previous.alerts,
    }
}

/// A line per tenant swept: the dumps kept (the newest one's data version, their bytes), or, while its
/// directory cannot be read, what the `previous` lines knew.
fn kept_lines(
    swept: &[(String, Swept)],
    previous: &[TenantBackupStatus],
) -> Vec<TenantBackupStatus> {
    swept
        .iter()
        .map(|(name, result)| match result {
            Ok(dumps) => TenantBackupStatus {
                name: name.clone(),
                status: Some(if dumps.is_empty() {
                    TenantBackupState::PendingBackupScheduling
                } else {
                    TenantBackupState::InProgress
                }),
                method: Some(BackupMethod::Logical),
                last_data_backup_time: dumps.last().map(|d| api_time(d.snapshot_at)),
                last_full_backup_time: dumps.last().map(|d| api_time(d.snapshot_at)),
                data_backup_bytes: Some(
                    dumps
                        .iter()
                        .map(|d| i64::try_from(d.stored_bytes).unwrap_or(i64::MAX))
                        .sum(),
                ),
                ..TenantBackupStatus::default()
            },
            // Unreadable for now: what was known stays.
            Err(_) => previous
                .iter()
                .find(|t| &t.name == name)
                .cloned()
                .unwrap_or_else(|| TenantBackupStatus {
                    name: name.clone(),
                    method: Some(BackupMethod::Logical),
                    ..TenantBackupStatus::default()
                }),
        })
        .collect()
}

/// The strategy's health: Ready while paused, scheduling or waiting for its first run; Progressing while a
/// tenant's dumps cannot be listed (`unreadable`, with why).
fn health(
    strategy: &BackupStrategy,
    phase: StrategyPhase,
    unreadable: Option<(&String, &StorageError)>,
    next: Option<Timestamp>,
) -> Health {
    match (phase, unreadable) {
        (StrategyPhase::Paused, _) => Health::Ready {
            reason: Reason::Paused,
            message: "logical backups are paused".into(),
        },
        (_, Some((tenant, error))) => Health::Progressing {
            reason: Reason::DestinationUnreachable,
            message: format!(
                "tenant {tenant}'s dumps cannot be listed on the destination ({error}); expired dumps \
                 are deleted once it answers"
            ),
        },
        (StrategyPhase::InProgress, None) => Health::Ready {
            reason: Reason::Scheduling,
            message: format!(
                "scheduling logical backups of {} tenant(s)",
                strategy.spec.tenants.len()
            ),
        },
        _ => Health::Ready {
            reason: Reason::PendingScheduling,
            message: match next {
                Some(at) => format!("the first scheduled backup is at {}", api_time(at).0),
                None => "configured; the schedule has no next run".into(),
            },
        },
    }
}

/// `Scheduled`, `DestinationReady` and `RetentionApplied`.
fn conditions(
    strategy: &BackupStrategy,
    next: Option<Timestamp>,
    unreadable: Option<(&str, &StorageError)>,
) -> Vec<Condition> {
    let generation = strategy.metadata.generation;
    let window = &strategy.spec.retention.recovery_window;
    let scheduled = scheduled(
        strategy,
        next,
        ("logical backups are paused", "logical backup"),
    );
    let (destination, retention) = match unreadable {
        None => (
            condition(
                DESTINATION_READY,
                true,
                Reason::Ready,
                "every tenant's dumps are listed on dataDestination",
                generation,
            ),
            condition(
                RETENTION_APPLIED,
                true,
                Reason::Applied,
                &format!(
                    "dumps begun more than {window} ago are deleted (each tenant's newest always stays)"
                ),
                generation,
            ),
        ),
        Some((tenant, error)) => {
            let message = format!("tenant {tenant}: {error}");
            (
                condition(
                    DESTINATION_READY,
                    false,
                    Reason::DestinationUnreachable,
                    &message,
                    generation,
                ),
                condition(
                    RETENTION_APPLIED,
                    false,
                    Reason::DestinationUnreachable,
                    &message,
                    generation,
                ),
            )
        }
    };
    vec![scheduled, destination, retention]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(directory: &str, snapshot: i64, bytes: u64) -> KeptDump {
        let at = Timestamp::from_second(1_800_000_000 + snapshot).expect("time");
        KeptDump {
            directory: directory.into(),
            started_at: at,
            snapshot_at: at,
            stored_bytes: bytes,
        }
    }

    #[test]
    fn the_overview_shows_what_is_kept_and_keeps_what_it_knew_while_a_destination_is_down() {
        let mut strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "dumps", "generation": 3},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["t1", "t2"],
                "method": "Logical", "logical": {"credentialsSecret": "dumper"},
                "dataDestination": {"uri": "file:///d"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * *"},
            },
        }))
        .expect("strategy");
        let now = Timestamp::from_second(1_800_000_100).expect("time");
        let plan = plan::Plan {
            last_schedule: Some(now),
            ..plan::Plan::default()
        };
        let listed: Swept = Ok(vec![kept("logical/a", 0, 10), kept("logical/b", 50, 32)]);
        let first = overview(
            &strategy,
            &plan,
            &[("t1".into(), listed), ("t2".into(), Ok(vec![]))],
            now,
        );
        assert_eq!(first.phase, Some(StrategyPhase::InProgress));
        assert_eq!(first.observed_generation, Some(3));
        let t1 = &first.tenants[0];
        assert_eq!(t1.data_backup_bytes, Some(42));
        assert_eq!(
            t1.last_data_backup_time,
            Some(api_time(Timestamp::from_second(1_800_000_050).expect("t")))
        );
        assert_eq!(first.last_data_backup_time, t1.last_data_backup_time);
        let ready = |status: &BackupStrategyStatus, type_: &str| {
            status
                .conditions
                .iter()
                .find(|c| c.type_ == type_)
                .map(|c| c.status.clone())
        };
        assert_eq!(ready(&first, DESTINATION_READY).as_deref(), Some("True"));
        // t1's storage goes down: its line stays as it was, and the conditions say why nothing is expired.
        strategy.status = Some(first.clone());
        let down: Swept = Err(StorageError::Io("connection refused".into()));
        let second = overview(
            &strategy,
            &plan,
            &[("t1".into(), down), ("t2".into(), Ok(vec![]))],
            now,
        );
        assert_eq!(second.tenants[0], first.tenants[0]);
        assert_eq!(ready(&second, DESTINATION_READY).as_deref(), Some("False"));
        assert_eq!(ready(&second, RETENTION_APPLIED).as_deref(), Some("False"));
        assert!(
            second
                .message
                .as_deref()
                .is_some_and(|m| m.contains("tenant t1") && m.contains("connection refused")),
            "{second:?}"
        );
    }
}
