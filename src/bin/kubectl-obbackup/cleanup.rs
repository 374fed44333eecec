//! The console's manual cleanup: a CleanupTask through a strategy deleting one tenant's obsolete backups
//! (outside the recovery window), given backup sets, or given archive log pieces.

use jiff::Timestamp;
use kube::{Api, ResourceExt};
use ob_backup_operator::api::{
    BackupStrategy, CleanupTask, CleanupTaskSpec,
    backup_strategy::BackupMethod,
    cleanup_task::{CleanupTarget, CleanupTaskPhase},
    common::StrategyReference,
};

use crate::{
    actions,
    render::{self, Format, Reply, TimeFormat},
};

/// `cleanup STRATEGY --tenant T (--obsolete | --backup-set ID… | --piece ID…)`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["obsolete", "backup_set", "piece"])))]
pub struct CleanupArgs {
    pub strategy: String,
    /// The tenant whose backups are deleted.
    #[arg(long)]
    tenant: String,
    /// Delete what lies outside the strategy's recovery window now (instead of at the policy's next run).
    #[arg(long)]
    obsolete: bool,
    /// Delete these backup sets, e.g. 1,2.
    #[arg(long, value_delimiter = ',')]
    backup_set: Vec<i64>,
    /// Delete these archive log pieces, e.g. 3,4.
    #[arg(long, value_delimiter = ',')]
    piece: Vec<i64>,
    /// Follow the task to its end; fails when it does not complete.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long, e.g. 30m.
    #[arg(long, requires = "wait")]
    timeout: Option<String>,
}

/// The CleanupTask `args` ask for through `strategy` at `now` (named by the UTC second, like "Back up Now":
/// the same request twice in one second makes one task), or why there is none.
pub fn cleanup_task(
    strategy: &BackupStrategy,
    args: &CleanupArgs,
    now: Timestamp,
) -> Result<CleanupTask, String> {
    if strategy.spec.method == BackupMethod::Logical {
        return Err(format!(
            "BackupStrategy {} is Logical: its dumps are deleted by retention.recoveryWindow, not by \
             OceanBase's cleanup",
            strategy.name_any()
        ));
    }
    let tenant = actions::tenants_of(strategy, Some(&args.tenant), false)?.remove(0);
    let target = CleanupTarget {
        obsolete: args.obsolete.then_some(true),
        backup_set_ids: (!args.backup_set.is_empty()).then(|| args.backup_set.clone()),
        archivelog_piece_ids: (!args.piece.is_empty()).then(|| args.piece.clone()),
    };
    let stamp = now.strftime("%Y%m%d-%H%M%S").to_string();
    let name = ob_backup_operator::names::child_name(
        &strategy.name_any(),
        &tenant,
        &format!("cleanup-{stamp}"),
    );
    Ok(CleanupTask::new(
        &name,
        CleanupTaskSpec {
            strategy_ref: Some(StrategyReference {
                name: strategy.name_any(),
            }),
            cluster: None,
            tenant,
            target,
            job_id: None,
            cancel: false,
        },
    ))
}

/// Runs `cleanup`.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    strategy: &BackupStrategy,
    args: CleanupArgs,
    clock: &TimeFormat,
    format: Format,
) -> Result<Reply, String> {
    let timeout = actions::timeout(args.timeout.as_deref())?;
    let task = cleanup_task(strategy, &args, Timestamp::now())?;
    let name = task.name_any();
    let api: Api<CleanupTask> = Api::namespaced(client.clone(), namespace);
    let (said, made) = actions::create_once(&api, &task).await?;
    if !args.wait {
        return Reply::new(said).with(&made);
    }
    render::progress(format, &said);
    actions::until(timeout, &format!("cleanuptask/{name} to end"), || async {
        let task = api
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read CleanupTask {name}: {e}"))?;
        let Some(status) = task.as_ref().and_then(|t| t.status.clone()) else {
            return Ok(None);
        };
        let ended = format!(
            "cleanuptask/{name} {} at {}",
            status.phase.map(|p| format!("{p:?}")).unwrap_or_default(),
            clock.show(status.ended_at.as_ref())
        );
        match status.phase {
            Some(CleanupTaskPhase::Completed) => {
                Reply::new(format!("{ended}\n")).with(&task).map(Some)
            }
            Some(CleanupTaskPhase::Failed | CleanupTaskPhase::Canceled) => Err(format!(
                "{ended}: {} (see `kubectl obbackup cause {name}`)",
                status.failure.map(|f| f.message).unwrap_or_default()
            )),
            _ => Ok(None),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::json;

    use super::*;
    use crate::{Cli, Command};

    fn args(line: &[&str]) -> Result<CleanupArgs, clap::Error> {
        let all = ["kubectl-obbackup", "cleanup", "demo"].iter().chain(line);
        Cli::try_parse_from(all).map(|cli| match cli.command {
            Command::Cleanup(args) => args,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn a_cleanup_is_one_task_per_second_and_says_what_it_deletes() {
        let strategy = crate::fixtures::strategy(json!({}));
        let at: Timestamp = "2026-11-25T07:01:02.5Z".parse().expect("time");
        let sets = args(&["--tenant", "tenant1", "--backup-set", "1,2"]).expect("parsed");
        let task = cleanup_task(&strategy, &sets, at).expect("task");
        assert_eq!(task.name_any(), "demo-tenant1-cleanup-20261125-070102");
        assert_eq!(task.spec.target.backup_set_ids, Some(vec![1, 2]));
        assert_eq!(task.spec.target.obsolete, None);
        let obsolete = args(&["--tenant", "tenant1", "--obsolete"]).expect("parsed");
        assert_eq!(
            cleanup_task(&strategy, &obsolete, at)
                .expect("task")
                .spec
                .target
                .obsolete,
            Some(true)
        );
        assert!(
            args(&["--tenant", "tenant1"]).is_err(),
            "what to delete is required"
        );
        assert!(args(&["--tenant", "tenant1", "--obsolete", "--piece", "3"]).is_err());
        let other = args(&["--tenant", "tenant3", "--obsolete"]).expect("parsed");
        assert!(
            cleanup_task(&strategy, &other, at)
                .expect_err("refused")
                .contains("does not cover tenant tenant3")
        );
    }
}
