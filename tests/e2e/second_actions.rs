//! The second copy's actions end to end through `kubectl obbackup copy` (docs/guide/second-backup.md): a
//! set's copy canceled alone (`spec.secondCopy.cancel`) and copied again (`spec.secondCopy.retry`), resuming
//! what it had verified and counted once Completed; a tenant's archive copy paused (`spec.secondCopy: Paused` on its LogBackup)
//! while archiving goes on, then resumed to catch up, with its scheduling history and Events.

use k8s_openapi::api::events::v1::Event;
use kube::{Api, api::ListParams};
use ob_backup_operator::api::{
    BackupStrategy, BackupTask, BackupTaskPhase, LogBackup,
    common::SecondCopyPhase,
    log_backup::{CopyAction, SecondLogCopy},
};
use serde_json::json;

use crate::second_backup::{
    SlowCopy, a_slow_copy_under_way, complete_files, given_a_fast_strategy_with_a_second_copy,
};
use crate::support::{
    cluster::eventually,
    plugin,
    second::{assert_same_tree, copied, files},
    world::{GIB, WAIT, World},
};

/// Runs `kubectl obbackup …`, which must succeed and say `said`.
async fn obbackup(world: &World, args: &[&str], said: &str) {
    let output = plugin::run(world, args).await;
    let out = plugin::stdout(&output);
    assert!(
        output.status.success() && out.contains(said),
        "{args:?}: {out}{}",
        plugin::stderr(&output)
    );
}

/// The BackupTask's second copy once `phase`.
async fn set_copy_is(world: &World, task: &str, phase: SecondCopyPhase) {
    eventually(&format!("the set's copy {phase:?}"), WAIT, || async {
        let copy = world
            .read::<BackupTask>(task)
            .await?
            .status?
            .second_backup?;
        (copy.phase == Some(phase)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_set_copy_canceled_alone_is_retried_resumes_and_counts() {
    let Some(SlowCopy {
        world,
        share,
        first,
        copy,
        s3: _running,
    }) = a_slow_copy_under_way("second-retry", "again", json!({})).await
    else {
        return;
    };
    obbackup(
        &world,
        &["copy", "cancel", "now"],
        "second copy cancel requested",
    )
    .await;
    set_copy_is(&world, "now", SecondCopyPhase::Canceled).await;
    let task = world.read::<BackupTask>("now").await.expect("task");
    let status = task.status.expect("status");
    assert_eq!(
        status.phase,
        Some(BackupTaskPhase::Completed),
        "the backup stays"
    );
    let finished = complete_files(&copy, &first);
    assert!(
        finished.len() < files(&first).len(),
        "the copy was not cut: {finished:?}"
    );
    obbackup(&world, &["copy", "retry", "now"], "secondCopy.retry: 1").await;
    let done = copied(&world, "now").await;
    assert_eq!(done.retry, Some(1), "{done:?}");
    // Resumed: what the first attempt had verified was not written again.
    for (name, written) in &finished {
        let now = std::fs::metadata(copy.join(name))
            .and_then(|m| m.modified())
            .expect("the copied object");
        assert_eq!(now, *written, "{name} was written again by the retry");
    }
    assert_same_tree(&first, &copy);
    // The strategy's overview counts it now.
    eventually("the set counted on the copy", WAIT, || async {
        let overview = world
            .read::<BackupStrategy>("again")
            .await?
            .status?
            .second_backup?;
        let tenant = overview.tenants.first()?;
        (tenant.data_backup_bytes.is_some_and(|b| b > 0) && !tenant.recoverable_windows.is_empty())
            .then_some(())
    })
    .await;
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}

/// The LogBackup's second copy once `ready` says so.
async fn log_copy(
    world: &World,
    name: &str,
    what: &str,
    ready: impl Fn(&SecondLogCopy, i64) -> bool,
) -> (SecondLogCopy, i64) {
    eventually(what, 3 * WAIT, || async {
        let status = world.read::<LogBackup>(name).await?.status?;
        let first = status.checkpoint_time?.0.as_second();
        let copy = status.second_backup?;
        ready(&copy, first).then_some((copy, first))
    })
    .await
}

fn checkpoint(copy: &SecondLogCopy) -> Option<i64> {
    copy.checkpoint_time.as_ref().map(|t| t.0.as_second())
}

#[tokio::test]
async fn a_paused_log_copy_stops_while_archiving_goes_on_and_catches_up_once_resumed() {
    let Some((_s3, world, share)) =
        given_a_fast_strategy_with_a_second_copy("second-pause", GIB, "pause", json!({}), 1000.0)
            .await
    else {
        return;
    };
    let name = "pause-tenant1-log";
    log_copy(&world, name, "the archive copied", |c, _| {
        checkpoint(c).is_some()
    })
    .await;
    // By the strategy and tenant, as the console's Second Log Backup tab names it.
    obbackup(
        &world,
        &["copy", "pause", "pause", "--tenant", "tenant1"],
        "pause-tenant1-log second copy pause requested",
    )
    .await;
    let (paused, at_pause) = log_copy(&world, name, "the copy paused", |c, _| {
        c.phase == Some(SecondCopyPhase::Paused)
    })
    .await;
    let held = checkpoint(&paused).expect("a checkpoint");
    // Archiving goes on (an hour of simulated time) while the copy's checkpoint stays.
    let (still, _) = log_copy(&world, name, "archiving past the pause", |_, first| {
        first > at_pause + 3600
    })
    .await;
    assert_eq!(
        checkpoint(&still),
        Some(held),
        "the copy moved while paused"
    );
    assert_eq!(still.phase, Some(SecondCopyPhase::Paused));
    assert!(still.delay_seconds.is_some_and(|d| d >= 3600), "{still:?}");
    let (_, at_resume) = log_copy(&world, name, "a look", |_, _| true).await;
    obbackup(&world, &["copy", "resume", name], "resume requested").await;
    let (caught_up, _) = log_copy(&world, name, "the copy to catch up", |c, _| {
        c.phase == Some(SecondCopyPhase::InProgress) && checkpoint(c) >= Some(at_resume)
    })
    .await;
    let actions: Vec<CopyAction> = caught_up.history.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [CopyAction::Started, CopyAction::Paused, CopyAction::Resumed],
        "{caught_up:?}"
    );
    let events: Api<Event> = Api::namespaced(world.admin.clone(), &world.namespace);
    let reasons = eventually("the copy's events", WAIT, || async {
        let listed = events
            .list(&ListParams::default().fields(&format!("regarding.name={name}")))
            .await
            .ok()?;
        let reasons: Vec<String> = listed.items.into_iter().filter_map(|e| e.reason).collect();
        reasons
            .iter()
            .any(|r| r == "SecondLogCopyResumed")
            .then_some(reasons)
    })
    .await;
    for reason in ["SecondLogCopyStarted", "SecondLogCopyPaused"] {
        assert!(reasons.iter().any(|r| r == reason), "{reasons:?}");
    }
    let _ = std::fs::remove_dir_all(share);
    world.done().await;
}
