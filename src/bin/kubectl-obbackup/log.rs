//! The console's log backup "Start" and "Stop" on one tenant of a strategy: the tenant is added to or
//! removed from the strategy's `logBackup.stoppedTenants`, and the strategy turns its LogBackup for the
//! tenant to `Stopped` or `Running`. The strategy stays the one place that says what runs, so the operator
//! never undoes the change (it would, were the LogBackup edited) and GitOps sees it as a change of the
//! strategy.

use kube::{Api, ResourceExt};
use ob_backup_operator::api::{
    BackupStrategy, LogBackup, backup_strategy::BackupMethod, log_backup::LogBackupPhase,
};
use serde_json::json;

use crate::{
    actions,
    render::{self, Format, Reply, TimeFormat},
};

/// Start or stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogAction {
    Start,
    Stop,
}

/// `log start|stop STRATEGY --tenant T`.
#[derive(clap::Args, Debug)]
pub struct LogArgs {
    #[arg(value_enum)]
    action: LogAction,
    strategy: String,
    /// The tenant whose log archiving starts or stops.
    #[arg(long)]
    tenant: String,
    /// Follow the tenant's LogBackup until archiving runs (start) or has stopped (stop).
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long, e.g. 10m (default: wait until it gets there).
    #[arg(long, requires = "wait")]
    timeout: Option<String>,
}

/// The strategy's `logBackup.stoppedTenants` after `action` on `tenant`, or why the strategy cannot take it;
/// `None` when it already says so.
pub fn stopped_after(
    strategy: &BackupStrategy,
    action: LogAction,
    tenant: &str,
) -> Result<Option<Vec<String>>, String> {
    let name = strategy.name_any();
    if strategy.spec.method == BackupMethod::Logical {
        return Err(format!(
            "BackupStrategy {name} is Logical: it takes dumps and archives no log"
        ));
    }
    let settings = &strategy.spec.log_backup;
    if !settings.enabled {
        return Err(format!(
            "BackupStrategy {name} has log backup disabled (logBackup.enabled: false): it manages no \
             tenant's archiving; enable it first"
        ));
    }
    actions::tenants_of(strategy, Some(tenant), false)?;
    let stopped = settings.stopped(tenant);
    Ok(match action {
        LogAction::Stop if stopped => None,
        LogAction::Stop => {
            let mut list = settings.stopped_tenants.clone();
            list.push(tenant.to_string());
            Some(list)
        }
        LogAction::Start if !stopped => None,
        LogAction::Start => Some(
            settings
                .stopped_tenants
                .iter()
                .filter(|t| !t.eq_ignore_ascii_case(tenant))
                .cloned()
                .collect(),
        ),
    })
}

/// The merge patch of the strategy's `logBackup.stoppedTenants` after `action` on `tenant`
/// ([`stopped_after`]).
pub fn stopped_patch(
    strategy: &BackupStrategy,
    action: LogAction,
    tenant: &str,
) -> Result<Option<serde_json::Value>, String> {
    let list = stopped_after(strategy, action, tenant)?;
    Ok(list.map(|list| {
        let list = if list.is_empty() {
            json!(null)
        } else {
            json!(list)
        };
        json!({"spec": {"logBackup": {"stoppedTenants": list}}})
    }))
}

/// Runs `log start|stop`.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    args: LogArgs,
    clock: &TimeFormat,
    format: Format,
) -> Result<Reply, String> {
    let timeout = actions::timeout(args.timeout.as_deref())?;
    let api: Api<BackupStrategy> = Api::namespaced(client.clone(), namespace);
    let verb = match args.action {
        LogAction::Start => "start",
        LogAction::Stop => "stop",
    };
    let (strategy, changed) = actions::change_strategy(&api, &args.strategy, |strategy| {
        stopped_patch(strategy, args.action, &args.tenant)
    })
    .await?;
    let said = if changed {
        format!(
            "backupstrategy/{}: log backup of tenant {} asked to {verb} \
             (logBackup.stoppedTenants: [{}])\n",
            args.strategy,
            args.tenant,
            strategy.spec.log_backup.stopped_tenants.join(", ")
        )
    } else {
        format!(
            "backupstrategy/{}: log backup of tenant {} is already asked to {verb}\n",
            args.strategy, args.tenant
        )
    };
    if !args.wait {
        return Reply::new(said).with(&strategy);
    }
    render::progress(format, &said);
    let name = ob_backup_operator::names::log_backup_name(&strategy.name_any(), &args.tenant);
    let wanted = match args.action {
        LogAction::Start => LogBackupPhase::InProgress,
        LogAction::Stop => LogBackupPhase::Stopped,
    };
    let logs: Api<LogBackup> = Api::namespaced(client.clone(), namespace);
    until_phase(&logs, &name, wanted, clock, timeout).await
}

/// Follows the LogBackup `name` until a status written for its current generation says `wanted` (its
/// checkpoint said, the LogBackup the reply's object); a Failed one is an error.
pub async fn until_phase(
    logs: &Api<LogBackup>,
    name: &str,
    wanted: LogBackupPhase,
    clock: &TimeFormat,
    timeout: Option<std::time::Duration>,
) -> Result<Reply, String> {
    actions::until(
        timeout,
        &format!("logbackup/{name} to be {wanted:?}"),
        || async {
            let Some(log) = logs
                .get_opt(name)
                .await
                .map_err(|e| format!("cannot read LogBackup {name}: {e}"))?
            else {
                return Ok(None);
            };
            let Some(status) = &log.status else {
                return Ok(None);
            };
            // Only a status written for the LogBackup as the strategy now wants it counts.
            let current = status.observed_generation == log.metadata.generation;
            match status.phase {
                Some(phase) if current && phase == wanted => {
                    let checkpoint = status
                        .checkpoint_time
                        .as_ref()
                        .map(|at| format!(" (checkpoint {})", clock.show(Some(at))))
                        .unwrap_or_default();
                    let said = format!("logbackup/{name} {wanted:?}{checkpoint}\n");
                    Reply::new(said).with(&log).map(Some)
                }
                Some(LogBackupPhase::Failed) if current => Err(format!(
                    "logbackup/{name} Failed: {} (see `kubectl obbackup cause {name}`)",
                    status.message.clone().unwrap_or_default()
                )),
                _ => Ok(None),
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::strategy;

    #[test]
    fn stop_and_start_edit_the_stopped_tenants_once() {
        let running = strategy(json!({}));
        assert_eq!(
            stopped_after(&running, LogAction::Stop, "tenant2").expect("stop"),
            Some(vec!["tenant2".to_string()])
        );
        assert_eq!(
            stopped_after(&running, LogAction::Start, "tenant1").expect("start"),
            None,
            "already running: nothing to write"
        );
        let stopped = strategy(json!({"logBackup": {"stoppedTenants": ["TENANT2", "tenant1"]}}));
        assert_eq!(
            stopped_after(&stopped, LogAction::Stop, "tenant2").expect("stop"),
            None,
            "names ignore case"
        );
        assert_eq!(
            stopped_after(&stopped, LogAction::Start, "tenant2").expect("start"),
            Some(vec!["tenant1".to_string()])
        );
    }

    #[test]
    fn strategies_that_cannot_take_it_say_why() {
        for (extra, tenant, says) in [
            (json!({}), "tenant9", "does not cover tenant tenant9"),
            (
                json!({"logBackup": {"enabled": false}}),
                "tenant1",
                "log backup disabled",
            ),
            (
                json!({"method": "Logical", "logical": {"credentialsSecret": "d"}}),
                "tenant1",
                "archives no log",
            ),
        ] {
            let error =
                stopped_after(&strategy(extra), LogAction::Stop, tenant).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
    }
}
