//! The console's actions on second copies (docs/guide/second-backup.md): cancel or retry the copy of a
//! BackupTask's set (`spec.secondCopy`), pause or resume a tenant's archive copy (a LogBackup's
//! `spec.secondCopy`).

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use ob_backup_operator::api::{
    BackupTask, LogBackup,
    common::{SecondCopy, SecondCopyPhase},
    log_backup::{CopyScheduling, DesiredCopyState},
};
use serde_json::{Value, json};

use crate::render::{Reply, Table, TimeFormat};

/// `copy retry|cancel TASK`, `copy pause|resume (LOGBACKUP | STRATEGY --tenant T)`.
#[derive(clap::Subcommand, Debug)]
pub enum CopyCommand {
    /// Copies a completed BackupTask's set to the second destination again after its copy was canceled or
    /// failed (bumps `spec.secondCopy.retry`); the copy resumes from what it verified before.
    Retry { task: String },
    /// Cancels only the second copy of a BackupTask's set (sets `spec.secondCopy.cancel`); the backup
    /// stays, and `copy retry` copies the set again later.
    Cancel { task: String },
    /// Pauses a tenant's archive copy to the second destination (a LogBackup's `spec.secondCopy`);
    /// archiving goes on.
    Pause(LogTarget),
    /// Resumes a paused archive copy where it stopped.
    Resume(LogTarget),
}

/// A LogBackup by name, or a strategy's for one tenant.
#[derive(clap::Args, Debug)]
pub struct LogTarget {
    /// The LogBackup, or the BackupStrategy (with --tenant).
    name: String,
    /// With a strategy: the tenant whose archive copy to pause or resume.
    #[arg(long)]
    tenant: Option<String>,
}

/// Runs `copy …` in `namespace`.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    command: CopyCommand,
) -> Result<Reply, String> {
    match command {
        CopyCommand::Retry { task } => act_on_set(client, namespace, &task, retry_patch).await,
        CopyCommand::Cancel { task } => act_on_set(client, namespace, &task, cancel_patch).await,
        CopyCommand::Pause(target) => {
            act_on_archive(client, namespace, target, DesiredCopyState::Paused).await
        }
        CopyCommand::Resume(target) => {
            act_on_archive(client, namespace, target, DesiredCopyState::Running).await
        }
    }
}

/// Reads BackupTask `name`, makes the patch `patch` asks for (or its refusal) and applies it.
async fn act_on_set(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    patch: fn(&BackupTask) -> Result<(Value, String), String>,
) -> Result<Reply, String> {
    let api: Api<BackupTask> = Api::namespaced(client.clone(), namespace);
    let task = api
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read BackupTask {name}: {e}"))?
        .ok_or_else(|| format!("no BackupTask {name} in namespace {namespace}"))?;
    let (body, said) = patch(&task)?;
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        Ok(changed) => Reply::new(said).with(&changed),
        Err(kube::Error::Api(e)) if e.code == 409 => Err(format!(
            "BackupTask {name} changed meanwhile (someone else may have acted on its copy): look again \
             with `kubectl obbackup cause {name}`"
        )),
        Err(kube::Error::Api(e)) => Err(format!("refused: {}", e.message)),
        Err(e) => Err(format!("cannot change BackupTask {name}: {e}")),
    }
}

/// The task's second copy, or why it has none to act on.
fn copy_of(task: &BackupTask) -> Result<&SecondCopy, String> {
    let name = task.name_any();
    if task.spec.cancel {
        return Err(format!(
            "BackupTask {name} was canceled (cancel: true), which is final also for its second copy"
        ));
    }
    task.status
        .as_ref()
        .and_then(|s| s.second_backup.as_deref())
        .ok_or_else(|| {
            format!(
                "BackupTask {name} has no second copy (its strategy keeps none, or the set is not \
                 completed yet)"
            )
        })
}

/// `copy retry`: the next `secondCopy.retry`, with cancel false, from the version read (a retry someone
/// else asked for meanwhile is not asked for twice); only for a copy that was canceled or failed.
pub fn retry_patch(task: &BackupTask) -> Result<(Value, String), String> {
    let copy = copy_of(task)?;
    let name = task.name_any();
    let phase = copy.phase;
    if !matches!(
        phase,
        Some(SecondCopyPhase::Canceled | SecondCopyPhase::Failed)
    ) {
        return Err(format!(
            "the second copy of BackupTask {name} is {}: only a Canceled or Failed copy is copied again",
            phase.map_or("not started".to_string(), |p| format!("{p:?}"))
        ));
    }
    let asked = task.spec.copy_actions().retry;
    if copy.retry.unwrap_or(0) < asked {
        return Err(format!(
            "a retry of the second copy of BackupTask {name} is already asked for (secondCopy.retry: \
             {asked}), not taken up yet"
        ));
    }
    let retry = asked + 1;
    let body = json!({
        "metadata": {"resourceVersion": task.resource_version()},
        "spec": {"secondCopy": {"cancel": false, "retry": retry}},
    });
    Ok((
        body,
        format!("backuptask/{name} second copy retry requested (secondCopy.retry: {retry})\n"),
    ))
}

/// `copy cancel`: `secondCopy.cancel: true`, for a copy that has not ended.
pub fn cancel_patch(task: &BackupTask) -> Result<(Value, String), String> {
    let copy = copy_of(task)?;
    let name = task.name_any();
    if let Some(phase) = copy.phase.filter(|p| p.is_terminal()) {
        return Err(format!(
            "the second copy of BackupTask {name} already ended {phase:?}: nothing to cancel"
        ));
    }
    Ok((
        json!({"spec": {"secondCopy": {"cancel": true}}}),
        format!("backuptask/{name} second copy cancel requested (secondCopy.cancel: true)\n"),
    ))
}

/// Finds the LogBackup `target` names and sets its `spec.secondCopy` to `state`.
async fn act_on_archive(
    client: &kube::Client,
    namespace: &str,
    target: LogTarget,
    state: DesiredCopyState,
) -> Result<Reply, String> {
    let api: Api<LogBackup> = Api::namespaced(client.clone(), namespace);
    let archives = api
        .list(&Default::default())
        .await
        .map_err(|e| format!("cannot list LogBackups in {namespace}: {e}"))?
        .items;
    let archive = pick(&archives, &target.name, target.tenant.as_deref())?;
    let name = archive.name_any();
    let said = pause_words(archive, state)?;
    let body = json!({"spec": {"secondCopy": state}});
    let changed = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .map_err(|e| format!("cannot change LogBackup {name}: {e}"))?;
    Reply::new(said).with(&changed)
}

/// The LogBackup named `name`, or — with `tenant` — the one strategy `name` keeps for that tenant.
pub fn pick<'a>(
    archives: &'a [LogBackup],
    name: &str,
    tenant: Option<&str>,
) -> Result<&'a LogBackup, String> {
    let Some(tenant) = tenant else {
        return archives
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| {
                format!("no LogBackup {name} (for a strategy's tenant, add --tenant T)")
            });
    };
    archives
        .iter()
        .find(|a| {
            a.spec.strategy_ref.as_ref().is_some_and(|r| r.name == name)
                && a.spec.tenant.eq_ignore_ascii_case(tenant)
        })
        .ok_or_else(|| format!("BackupStrategy {name} has no LogBackup for tenant {tenant}"))
}

/// What pausing or resuming `archive` says, or why it is refused (no second copy to act on).
pub fn pause_words(archive: &LogBackup, state: DesiredCopyState) -> Result<String, String> {
    let name = archive.name_any();
    if archive
        .status
        .as_ref()
        .and_then(|s| s.second_backup.as_ref())
        .is_none()
    {
        return Err(format!(
            "LogBackup {name} has no second copy: its strategy keeps none (spec.secondBackup)"
        ));
    }
    Ok(match (archive.spec.second_copy, state) {
        (DesiredCopyState::Paused, DesiredCopyState::Paused) => {
            format!("logbackup/{name} second copy already paused\n")
        }
        (_, DesiredCopyState::Paused) => format!(
            "logbackup/{name} second copy pause requested (secondCopy: Paused); archiving goes on\n"
        ),
        (DesiredCopyState::Running, DesiredCopyState::Running) => {
            format!("logbackup/{name} second copy already running\n")
        }
        (_, DesiredCopyState::Running) => {
            format!("logbackup/{name} second copy resume requested (secondCopy: Running)\n")
        }
    })
}

/// The scheduling history of a LogBackup's second copy (`status.secondBackup.history` of `object`), oldest
/// first; empty for anything else.
pub fn schedule(object: &Value, clock: &TimeFormat) -> Table {
    let mut table = Table::new(&["SECOND COPY", "ACTION", "WHY"]);
    let history = object.pointer("/status/secondBackup/history").cloned();
    let entries: Vec<CopyScheduling> = history
        .and_then(|h| serde_json::from_value(h).ok())
        .unwrap_or_default();
    for entry in entries {
        table.push(vec![
            clock.show(Some(&entry.at)),
            format!("{:?}", entry.action),
            entry.message,
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use ob_backup_operator::api::{
        BackupTaskStatus, LogBackupStatus, backup_task::SecondCopyActions,
        log_backup::SecondLogCopy,
    };

    fn task(cancel: bool, actions: Option<(bool, i32)>, copy: Option<SecondCopy>) -> BackupTask {
        let mut task: BackupTask = serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "t1-full", "resourceVersion": "7"},
            "spec": {"strategyRef": {"name": "demo"}, "tenant": "t1", "mode": "Full", "cancel": cancel},
        }))
        .expect("task");
        task.spec.second_copy = actions.map(|(cancel, retry)| SecondCopyActions { cancel, retry });
        task.status = Some(BackupTaskStatus {
            second_backup: copy.map(Box::new),
            ..BackupTaskStatus::default()
        });
        task
    }

    fn copy(phase: SecondCopyPhase, retry: Option<i32>) -> Option<SecondCopy> {
        Some(SecondCopy {
            phase: Some(phase),
            retry,
            ..SecondCopy::default()
        })
    }

    #[test]
    fn a_retry_bumps_the_counter_from_the_version_read_and_only_for_an_ended_copy() {
        let canceled = task(
            false,
            Some((true, 1)),
            copy(SecondCopyPhase::Canceled, Some(1)),
        );
        let (body, said) = retry_patch(&canceled).expect("retried");
        assert_eq!(
            body,
            json!({"metadata": {"resourceVersion": "7"},
                   "spec": {"secondCopy": {"cancel": false, "retry": 2}}})
        );
        assert!(said.contains("secondCopy.retry: 2"), "{said}");
        let running = task(false, None, copy(SecondCopyPhase::InProgress, None));
        let refused = retry_patch(&running).expect_err("running");
        assert!(refused.contains("is InProgress"), "{refused}");
        let pending = task(
            false,
            Some((false, 2)),
            copy(SecondCopyPhase::Failed, Some(1)),
        );
        assert!(
            retry_patch(&pending)
                .expect_err("asked")
                .contains("already asked for")
        );
        let final_cancel = task(true, None, copy(SecondCopyPhase::Canceled, None));
        assert!(
            retry_patch(&final_cancel)
                .expect_err("final")
                .contains("final")
        );
        assert!(
            retry_patch(&task(false, None, None))
                .expect_err("none")
                .contains("no second copy")
        );
    }

    #[test]
    fn a_cancel_is_for_a_copy_that_has_not_ended() {
        let running = task(false, None, copy(SecondCopyPhase::InProgress, None));
        let (body, _) = cancel_patch(&running).expect("canceled");
        assert_eq!(body, json!({"spec": {"secondCopy": {"cancel": true}}}));
        let done = task(false, None, copy(SecondCopyPhase::Completed, None));
        assert!(
            cancel_patch(&done)
                .expect_err("done")
                .contains("already ended Completed")
        );
    }

    fn archive(name: &str, strategy: &str, tenant: &str, copied: bool) -> LogBackup {
        let mut archive: LogBackup = serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": name},
            "spec": {"strategyRef": {"name": strategy}, "tenant": tenant},
        }))
        .expect("archive");
        archive.status = Some(LogBackupStatus {
            second_backup: copied.then(SecondLogCopy::default),
            ..LogBackupStatus::default()
        });
        archive
    }

    #[test]
    fn an_archive_is_found_by_name_or_by_strategy_and_tenant() {
        let archives = [
            archive("demo-t1-log", "demo", "t1", true),
            archive("demo-t2-log", "demo", "t2", false),
        ];
        let by_name = pick(&archives, "demo-t2-log", None).expect("by name");
        assert_eq!(by_name.name_any(), "demo-t2-log");
        let by_tenant = pick(&archives, "demo", Some("T1")).expect("by tenant");
        assert_eq!(by_tenant.name_any(), "demo-t1-log");
        assert!(
            pick(&archives, "demo", None)
                .expect_err("no such")
                .contains("--tenant")
        );
        assert!(pick(&archives, "demo", Some("t3")).is_err());
    }

    #[test]
    fn the_cause_of_a_log_backup_shows_its_copys_schedule() {
        let object = json!({"status": {"secondBackup": {"history": [
            {"at": "2026-11-24T10:00:00Z", "action": "Started", "message": "copying the archive to s3://b/a"},
            {"at": "2026-11-24T11:00:00Z", "action": "Paused", "message": "spec.secondCopy: Paused; archiving goes on"},
        ]}}});
        let text = schedule(&object, &TimeFormat::new(true)).render(false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains("Started") && lines[2].contains("Paused"),
            "{text}"
        );
        assert!(
            schedule(&json!({"status": {}}), &TimeFormat::new(true))
                .rows
                .is_empty()
        );
    }

    #[test]
    fn pausing_says_what_changes_and_needs_a_second_copy() {
        let copied = archive("demo-t1-log", "demo", "t1", true);
        let said = pause_words(&copied, DesiredCopyState::Paused).expect("paused");
        assert!(said.contains("pause requested"), "{said}");
        let mut paused = copied.clone();
        paused.spec.second_copy = DesiredCopyState::Paused;
        assert!(
            pause_words(&paused, DesiredCopyState::Paused)
                .expect("again")
                .contains("already")
        );
        assert!(
            pause_words(&paused, DesiredCopyState::Running)
                .expect("resumed")
                .contains("resume")
        );
        let alone = archive("demo-t2-log", "demo", "t2", false);
        assert!(
            pause_words(&alone, DesiredCopyState::Paused)
                .expect_err("none")
                .contains("no second copy")
        );
    }
}
