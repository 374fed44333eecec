//! `kubectl obbackup`'s recovery, log backup and cleanup actions against the operator and obsim on the real
//! control plane: `restore --dry-run` refuses a point outside the windows with the operator's own words and
//! names the window of a point inside; `restore` makes a task that completes, and only once; `retry` runs a
//! failed recovery again; `log stop|start` stops and starts a tenant's archiving in OceanBase through the
//! strategy; `pause` and `resume` set and clear its `suspend`; `cleanup --obsolete --wait` follows a delete job to its end; with `-o json|yaml` each prints
//! the objects it made, changed or waited for.

use jiff::SignedDuration;
use ob_backup_operator::api::{
    BackupStrategy, CleanupTask, LogBackup, RecoveryTask, RecoveryTaskPhase,
    backup_strategy::StrategyPhase, cleanup_task::CleanupTaskPhase, log_backup::LogBackupPhase,
};
use obsim::model::Version;
use serde_json::json;

use crate::support::{
    cluster::eventually,
    plugin::{only, run, stderr, stdout},
    recovery::{backed_up, recovery, refused_too_early, restores_of},
    simulator,
    typed::condition_of,
    world::{GIB, WAIT, World},
};

/// `restore` of the strategy `src`'s tenant1 into `target` at `to`, with `more` flags.
fn restore<'a>(target: &'a str, to: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "restore",
        "src",
        "--tenant",
        "tenant1",
        "--to",
        to,
        "--target-tenant",
        target,
        "--unit-cpu",
        "2",
        "--unit-memory",
        "4G",
        "--zones",
        "zone1",
        "--primary-zone",
        "zone1",
    ];
    args.extend_from_slice(more);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_retry_log_stop_start_and_cleanup_work_against_the_operator() {
    let version = simulator::profile_at_least(Version::V4_4_1);
    let Some(mut world) = World::running(
        "plugin-console",
        &["tenant1", "tenant2"],
        4 * GIB,
        10.0,
        version,
    )
    .await
    else {
        return;
    };
    let (from, to) = backed_up(&world, false).await;

    // Outside the windows: refused before anything is made, in the operator's words.
    let early = (from - SignedDuration::from_hours(1)).to_string();
    let windows_before = world.status("BackupStrategy", "src").await["tenants"].clone();
    let refused = run(&world, &restore("early1", &early, &["--dry-run"])).await;
    assert!(!refused.status.success(), "{refused:?}");
    let said = stderr(&refused);
    assert!(
        world.list("RecoveryTask").await.is_empty(),
        "nothing was created"
    );
    let operator_said = refused_too_early(&world, &early).await;
    let windows_after = world.status("BackupStrategy", "src").await["tenants"].clone();
    if windows_before == windows_after {
        // The same windows: the very same words.
        assert_eq!(
            said,
            format!("error: refused: {operator_said}; nothing was created\n")
        );
    } else {
        // The windows moved between the two checks (a refresh of their end): the same verdict and point.
        let point = operator_said.split(" (").next().expect("the verdict");
        assert!(said.contains(point), "{said} / {operator_said}");
    }

    // Inside: the window it falls in; the API server admits the task, and nothing is made.
    let inside = (from + to.duration_since(from) / 2).to_string();
    let dry = run(&world, &restore("restored1", &inside, &["--dry-run"])).await;
    assert!(dry.status.success(), "{}", stderr(&dry));
    let text = stdout(&dry);
    assert!(
        text.starts_with(&format!(
            "recovery point: {inside} lies in the recoverable window {from}"
        )),
        "{text}"
    );
    // What was looked at, and what was not: the plugin cannot read the cluster's tenants.
    assert!(
        text.ends_with(
            "target tenant restored1: not among the tenants of cluster obcluster that the overview of \
             BackupStrategy src shows, and no other RecoveryTask restores into it; whether the cluster has it \
             is read from OceanBase only when the task runs\n\
             recoverytask/src-tenant1-to-restored1: the API server accepts it (dry run: nothing was created)\n"
        ),
        "{text}"
    );
    // Onto a tenant the cluster has (the source itself): refused, in the words the operator stalls with.
    let onto_existing = run(&world, &restore("tenant1", &inside, &["--dry-run"])).await;
    assert!(!onto_existing.status.success(), "{onto_existing:?}");
    assert!(stdout(&onto_existing).is_empty(), "{onto_existing:?}");
    let said = stderr(&onto_existing);
    assert!(
        said.contains("(the overview of BackupStrategy src lists it)")
            && said.contains("nothing was created"),
        "{said}"
    );
    world
        .apply(recovery(
            "onto-existing",
            "tenant1",
            json!({"time": inside}),
            json!({}),
        ))
        .await;
    let stalled = eventually(
        "the operator to refuse the existing target",
        WAIT,
        || async {
            let status = world.status("RecoveryTask", "onto-existing").await;
            let conditions = status["conditions"].as_array()?.clone();
            conditions
                .iter()
                .find(|c| c["type"] == "Stalled" && c["reason"] == "TargetTenantExists")
                .and_then(|c| c["message"].as_str().map(str::to_string))
        },
    )
    .await;
    let words = stalled.split(": choose").next().expect("the verdict");
    assert!(said.contains(words), "{said} / {stalled}");
    assert!(said.contains("choose another target tenant name"), "{said}");
    world.delete("RecoveryTask", "onto-existing").await;
    let as_json = run(
        &world,
        &restore("restored1", &inside, &["--dry-run", "-o", "json"]),
    )
    .await;
    let list: serde_json::Value = serde_json::from_slice(&as_json.stdout).expect("JSON");
    let parsed: RecoveryTask =
        serde_json::from_value(list["items"][0].clone()).expect("a RecoveryTask");
    assert_eq!(parsed.spec.target.tenant, "restored1");
    assert!(
        parsed.metadata.uid.is_none() && parsed.metadata.resource_version.is_none(),
        "a manifest to apply, not a stored object: {:?}",
        parsed.metadata
    );
    assert_eq!(list["items"][0]["kind"], "RecoveryTask");
    assert!(
        world
            .read::<RecoveryTask>("src-tenant1-to-restored1")
            .await
            .is_none()
    );

    // For real: restored; asking again makes nothing.
    let made = run(&world, &restore("restored1", &inside, &[])).await;
    assert!(
        stdout(&made).ends_with("recoverytask/src-tenant1-to-restored1 created\n"),
        "{made:?}"
    );
    let done = world
        .reaches::<RecoveryTask>("src-tenant1-to-restored1", RecoveryTaskPhase::Completed)
        .await;
    assert_eq!(
        condition_of(&done.conditions, "RecoveryPointVerified"),
        Some("True")
    );
    let again = run(&world, &restore("restored1", &inside, &[])).await;
    assert!(stderr(&again).contains("exists already"), "{again:?}");
    // Under another name: the completed restore made that tenant.
    let other = run(
        &world,
        &restore("restored1", &inside, &["--dry-run", "--name", "another"]),
    )
    .await;
    assert!(!other.status.success(), "{other:?}");
    assert!(
        stderr(&other).contains(
            "RecoveryTask src-tenant1-to-restored1 restored tenant restored1 into cluster obcluster (Completed)"
        ),
        "{other:?}"
    );
    assert_eq!(restores_of(&world, "restored1"), 1);
    let not_failed = run(&world, &["retry", "src-tenant1-to-restored1"]).await;
    assert!(
        stderr(&not_failed).contains("is Completed: only a failed recovery is retried"),
        "{not_failed:?}"
    );
    // A failed recovery canceled since (spec.cancel cannot be unset): a retry would end Canceled at once, so
    // none is asked for.
    world
        .patch_spec("RecoveryTask", "too-early", json!({"cancel": true}))
        .await;
    let canceled = run(&world, &["retry", "too-early"]).await;
    assert!(!canceled.status.success(), "{canceled:?}");
    assert!(
        stderr(&canceled).contains("RecoveryTask too-early has spec.cancel set"),
        "{canceled:?}"
    );
    let unchanged = world
        .read::<RecoveryTask>("too-early")
        .await
        .expect("the task");
    assert_eq!(unchanged.spec.retry, 0, "no retry asked for");

    // A failed recovery, retried: completes.
    simulator::cluster(&world.node).faults.next_restore_failure =
        Some((-4016, "restore failed: injected".into()));
    let flaky = run(&world, &restore("restored2", "latest", &["--standby"])).await;
    assert!(flaky.status.success(), "{}", stderr(&flaky));
    let name = "src-tenant1-to-restored2";
    world
        .reaches::<RecoveryTask>(name, RecoveryTaskPhase::Failed)
        .await;
    // Two people retrying at once, then one again, all before the operator takes it up (it is stopped
    // meanwhile): one retry asked for; the others say it is asked for already, or that the task changed.
    world.stop_operator().await;
    let retry = ["retry", name];
    let (first, second) = tokio::join!(run(&world, &retry), run(&world, &retry));
    let third = run(&world, &retry).await;
    let said: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|o| format!("{}{}", stdout(o), stderr(o)))
        .collect();
    let asked = format!("recoverytask/{name} retry requested (spec.retry: 1)\n");
    assert_eq!(said.iter().filter(|s| **s == asked).count(), 1, "{said:?}");
    assert!(
        said.iter().all(|s| *s == asked
            || s.contains("retry already requested (spec.retry: 1)")
            || s.contains("changed while retrying it")),
        "{said:?}"
    );
    assert!(said[2].contains("retry already requested"), "{said:?}");
    let task = world.read::<RecoveryTask>(name).await.expect("the task");
    assert_eq!(task.spec.retry, 1, "asked for once");
    let scripted: RecoveryTask = only(&run(&world, &["retry", name, "-o", "json"]).await);
    assert_eq!(scripted.spec.retry, 1, "-o json: the task as it stands");
    world.start_operator("after-retries");
    world
        .reaches::<RecoveryTask>(name, RecoveryTaskPhase::Completed)
        .await;
    assert_eq!(
        restores_of(&world, "restored2"),
        2,
        "the failed attempt and the retry"
    );

    // Log backup "Stop" and "Start" through the strategy: OceanBase stops and starts archiving.
    let archiving = |world: &World| {
        simulator::cluster(&world.node)
            .tenant("tenant1")
            .is_some_and(|t| t.archive.log_mode_archive)
    };
    let stop = run(
        &world,
        &["log", "stop", "src", "--tenant", "tenant1", "--wait"],
    )
    .await;
    assert!(stop.status.success(), "{}", stderr(&stop));
    assert_eq!(
        stdout(&stop).lines().next(),
        Some(
            "backupstrategy/src: log backup of tenant tenant1 asked to stop (logBackup.stoppedTenants: [tenant1])"
        )
    );
    assert!(
        stdout(&stop).contains("logbackup/src-tenant1-log Stopped"),
        "{stop:?}"
    );
    assert!(!archiving(&world));
    let stopped = world
        .read::<LogBackup>("src-tenant1-log")
        .await
        .expect("the LogBackup");
    assert_eq!(
        stopped.status.and_then(|s| s.phase),
        Some(LogBackupPhase::Stopped)
    );
    eventually(
        "the strategy to say tenant1 is stopped on request",
        WAIT,
        || async {
            let status = world.status("BackupStrategy", "src").await;
            let conditions = status["conditions"].as_array()?.clone();
            conditions
                .iter()
                .find(|c| c["type"] == "LogBackupHealthy")
                .filter(|c| {
                    c["message"] == "tenant1: stopped on request (logBackup.stoppedTenants)"
                })
                .map(|_| ())
        },
    )
    .await;
    let twice = run(&world, &["log", "stop", "src", "--tenant", "tenant1"]).await;
    assert!(
        stdout(&twice).contains("already asked to stop"),
        "{twice:?}"
    );
    let asked: BackupStrategy = only(
        &run(
            &world,
            &["log", "stop", "src", "--tenant", "tenant1", "-o", "json"],
        )
        .await,
    );
    assert_eq!(asked.spec.log_backup.stopped_tenants, ["tenant1"]);
    let start = run(
        &world,
        &["log", "start", "src", "--tenant", "tenant1", "--wait"],
    )
    .await;
    assert!(start.status.success(), "{}", stderr(&start));
    assert!(
        stdout(&start).contains("logbackup/src-tenant1-log InProgress"),
        "{start:?}"
    );
    // For scripts: the LogBackup it waited for on stdout, what it said on the way on stderr.
    let scripted = run(
        &world,
        &[
            "log", "start", "src", "--tenant", "tenant1", "--wait", "-o", "json",
        ],
    )
    .await;
    let running: LogBackup = only(&scripted);
    assert_eq!(
        running.status.and_then(|s| s.phase),
        Some(LogBackupPhase::InProgress)
    );
    assert!(
        stderr(&scripted).contains("already asked to start"),
        "{scripted:?}"
    );
    assert!(archiving(&world));
    let unknown = run(&world, &["log", "stop", "src", "--tenant", "tenant9"]).await;
    assert!(
        stderr(&unknown).contains("does not cover tenant tenant9"),
        "{unknown:?}"
    );

    // Pause and resume: the strategy's spec.suspend, and the phase it shows.
    let paused = run(&world, &["pause", "src"]).await;
    assert!(paused.status.success(), "{}", stderr(&paused));
    assert_eq!(
        stdout(&paused).lines().next(),
        Some(
            "backupstrategy/src asked to pause (spec.suspend: true): no scheduled backup starts until resumed"
        )
    );
    // The phase of the strategy's current generation, once its status is written for it.
    let phase = async |paused: bool| {
        eventually(&format!("the strategy paused: {paused}"), WAIT, || async {
            let strategy = world.read::<BackupStrategy>("src").await?;
            let status = strategy.status.clone()?;
            let current = status.observed_generation == strategy.metadata.generation;
            let phase = status.phase?;
            (current && (phase == StrategyPhase::Paused) == paused).then_some((strategy, phase))
        })
        .await
    };
    let before = world
        .read::<BackupStrategy>("src")
        .await
        .and_then(|s| s.status?.phase);
    assert!(phase(true).await.0.spec.suspend);
    let twice = run(&world, &["pause", "src"]).await;
    assert!(
        stdout(&twice).contains("already asked to pause"),
        "{twice:?}"
    );
    let resumed: BackupStrategy = only(&run(&world, &["resume", "src", "-o", "json"]).await);
    assert!(!resumed.spec.suspend);
    assert_eq!(
        Some(phase(false).await.1),
        before,
        "back to its phase before the pause"
    );
    let unknown = run(&world, &["pause", "nosuch"]).await;
    assert!(
        stderr(&unknown).contains("no BackupStrategy nosuch in namespace"),
        "{unknown:?}"
    );

    // Cleanup: obsolete backups of tenant1, followed to the end.
    let cleanup = [
        "cleanup",
        "src",
        "--tenant",
        "tenant1",
        "--obsolete",
        "--wait",
    ];
    let cleaned = run(&world, &cleanup).await;
    assert!(cleaned.status.success(), "{}", stderr(&cleaned));
    let name = stdout(&cleaned)
        .split_whitespace()
        .next()
        .map(|n| n.trim_start_matches("cleanuptask/").to_string())
        .expect("the task's name");
    assert!(
        stdout(&cleaned).contains(&format!("cleanuptask/{name} Completed at ")),
        "{cleaned:?}"
    );
    let task = world
        .read::<CleanupTask>(&name)
        .await
        .expect("the CleanupTask");
    assert!(
        task.status.and_then(|s| s.job_id).is_some(),
        "a job of OceanBase's"
    );
    let again = run(&world, &[&cleanup[..], &["-o", "yaml"]].concat()).await;
    let ended: CleanupTask = only(&again);
    assert_eq!(
        ended.status.and_then(|s| s.phase),
        Some(CleanupTaskPhase::Completed),
        "{again:?}"
    );
    // Two people stopping two tenants' log backup at once: neither edit of the strategy is lost.
    world
        .patch_spec(
            "BackupStrategy",
            "src",
            json!({"tenants": ["tenant1", "tenant2"]}),
        )
        .await;
    let (one, two) = tokio::join!(
        run(&world, &["log", "stop", "src", "--tenant", "tenant1"]),
        run(&world, &["log", "stop", "src", "--tenant", "tenant2"])
    );
    assert!(
        one.status.success() && two.status.success(),
        "{one:?} {two:?}"
    );
    let strategy = world
        .get("BackupStrategy", "src")
        .await
        .expect("the strategy");
    let mut stopped: Vec<String> =
        serde_json::from_value(strategy.data["spec"]["logBackup"]["stoppedTenants"].clone())
            .expect("stoppedTenants");
    stopped.sort();
    assert_eq!(stopped, ["tenant1", "tenant2"]);
    world.done().await;
}
