//! `kubectl obbackup`'s buttons against the operator and obsim on the real control plane: "Back up Now" for
//! every tenant makes exactly one task per tenant even when run twice in the same second; `--wait` follows
//! the tasks to their end and fails when one fails; `cause` shows OceanBase's code and comment; `cancel`
//! ends a running backup Canceled.

use std::process::Output;

use k8s_openapi::api::events::v1::Event;
use ob_backup_operator::api::{BackupTask, BackupTaskPhase, backup_task::BackupMode};
use serde_json::json;

use crate::support::{
    cluster::eventually,
    plugin::{items, only, run, stderr, stdout},
    simulator,
    world::{GIB, WAIT, World, strategy},
};

/// The `-now-` tasks of the world, by name.
async fn now_tasks(world: &World) -> Vec<String> {
    let mut names: Vec<String> = world
        .list("BackupTask")
        .await
        .into_iter()
        .filter_map(|t| t.metadata.name)
        .filter(|n| n.contains("-now-"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_up_now_wait_cause_and_cancel_work_against_the_operator() {
    let Some(world) = World::new("plugin-actions", &["tenant1", "tenant2"], GIB, 30.0).await else {
        return;
    };
    world
        .apply(strategy("demo", json!({"tenants": ["tenant1", "tenant2"]})))
        .await;
    // Twice at once: when both runs fall in the same second they name the same tasks, and one task per
    // tenant exists; runs straddling a second, or falling in a second an earlier try already named, are tried
    // again (the claim is about one second).
    let made = eventually("two runs in one second", WAIT, || async {
        let before = now_tasks(&world).await;
        let both = ["backup-now", "demo", "--all-tenants"];
        let (a, b) = tokio::join!(run(&world, &both), run(&world, &both));
        assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
        let names = |o: &Output| -> Vec<String> {
            stdout(o)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(|n| n.trim_start_matches("backuptask/").to_string())
                .collect()
        };
        let (first, second) = (names(&a), names(&b));
        assert_eq!(first.len(), 2, "one task per tenant: {}", stdout(&a));
        if first != second || first.iter().any(|n| before.contains(n)) {
            return None;
        }
        let created = format!("{}{}", stdout(&a), stdout(&b));
        assert_eq!(created.matches(" created").count(), 2, "{created}");
        assert_eq!(created.matches("exists already").count(), 2, "{created}");
        let after = now_tasks(&world).await;
        assert_eq!(after.len(), before.len() + 2, "{before:?} → {after:?}");
        Some(first)
    })
    .await;
    for name in &made {
        world
            .reaches::<BackupTask>(name, BackupTaskPhase::Completed)
            .await;
    }
    // A task that has ended has nothing to cancel: refused, and spec.cancel stays unset.
    let ended = run(&world, &["cancel", &made[0]]).await;
    assert!(!ended.status.success(), "{ended:?}");
    assert!(stdout(&ended).is_empty(), "{ended:?}");
    assert_eq!(
        stderr(&ended),
        format!(
            "error: BackupTask {} already Completed; nothing to cancel\n",
            made[0]
        )
    );
    let untouched = world.read::<BackupTask>(&made[0]).await.expect("the task");
    assert!(!untouched.spec.cancel, "{:?}", untouched.spec);

    // A full and an incremental asked in the same second are two tasks: the incremental run never reports
    // the full one as its own.
    let (full, incremental) =
        eventually("a full and an incremental in one second", WAIT, || async {
            let (full, incremental) = tokio::join!(
                run(
                    &world,
                    &["backup-now", "demo", "--tenant", "tenant1", "-o", "json"]
                ),
                run(
                    &world,
                    &[
                        "backup-now",
                        "demo",
                        "--tenant",
                        "tenant1",
                        "--incremental",
                        "-o",
                        "json"
                    ]
                )
            );
            let (full, incremental): (BackupTask, BackupTask) = (only(&full), only(&incremental));
            // Names end with the second they were asked in (`…-20261125-070102`).
            let second = |t: &BackupTask| {
                let name = t.metadata.name.clone().unwrap_or_default();
                name.get(name.len().saturating_sub(15)..)
                    .map(str::to_string)
            };
            (second(&full) == second(&incremental)).then_some((full, incremental))
        })
        .await;
    assert_eq!(full.spec.mode, BackupMode::Full);
    assert_eq!(
        incremental.spec.mode,
        BackupMode::Incremental,
        "{incremental:?}"
    );
    assert_ne!(full.metadata.name, incremental.metadata.name);
    for task in [&full, &incremental] {
        let name = task.metadata.name.clone().expect("a name");
        world
            .reaches::<BackupTask>(&name, BackupTaskPhase::Completed)
            .await;
    }

    // For scripts, `-o json` prints what the action made and waited for as a List of API objects; what it
    // says on the way goes to stderr.
    let scripted = run(
        &world,
        &[
            "backup-now",
            "demo",
            "--tenant",
            "tenant1",
            "--wait",
            "-o",
            "json",
        ],
    )
    .await;
    let waited_for: BackupTask = only(&scripted);
    assert_eq!(
        waited_for.status.and_then(|s| s.phase),
        Some(BackupTaskPhase::Completed)
    );
    assert!(stderr(&scripted).contains(" created"), "{scripted:?}");

    // A failing backup: --wait says so and fails; `cause` shows OceanBase's code and comment.
    simulator::cluster(&world.node).faults.next_backup_failure =
        Some((None, -9082, "backup device out of space".into()));
    let waited = run(
        &world,
        &["backup-now", "demo", "--tenant", "tenant2", "--wait"],
    )
    .await;
    assert!(!waited.status.success(), "{waited:?}");
    let said = String::from_utf8_lossy(&waited.stderr).into_owned();
    assert!(
        said.contains("Failed at") && said.contains("did not complete"),
        "{said}"
    );
    let doomed = stdout(&waited)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .map(|n| n.trim_start_matches("backuptask/").to_string())
        .expect("the task's name");
    let cause = run(&world, &["cause", &doomed]).await;
    let text = stdout(&cause);
    assert!(
        text.starts_with(&format!("BackupTask {doomed}: Failed\n")),
        "{text}"
    );
    assert!(text.contains("OceanBase error -9082:"), "{text}");
    assert!(text.contains("backup device out of space"), "{text}");
    assert!(text.contains("Stalled"), "the conditions: {text}");
    let scripted = items(&run(&world, &["cause", &doomed, "-o", "yaml"]).await);
    let task: BackupTask = serde_json::from_value(scripted[0].clone()).expect("the task first");
    assert_eq!(
        task.status.and_then(|s| s.phase),
        Some(BackupTaskPhase::Failed)
    );
    assert!(scripted.len() > 1, "and the events about it: {scripted:?}");
    for event in &scripted[1..] {
        let event: Event = serde_json::from_value(event.clone()).expect("an Event");
        assert_eq!(event.regarding.and_then(|r| r.name), Some(doomed.clone()));
    }

    // Cancel a running backup (one that makes no progress, so that it is still running when canceled).
    simulator::cluster(&world.node)
        .faults
        .stalled
        .push("tenant1".into());
    let long = run(&world, &["backup-now", "demo", "--tenant", "tenant1"]).await;
    let name = stdout(&long)
        .split_whitespace()
        .next()
        .map(|n| n.trim_start_matches("backuptask/").to_string())
        .expect("name");
    world
        .reaches::<BackupTask>(&name, BackupTaskPhase::InProgress)
        .await;
    // For scripts, the object as the cancel left it: only the patch set spec.cancel.
    let scripted: BackupTask = only(&run(&world, &["cancel", &name, "-o", "json"]).await);
    assert!(scripted.spec.cancel, "the object as patched");
    world
        .reaches::<BackupTask>(&name, BackupTaskPhase::Canceled)
        .await;
    // Once it has ended, asking again is refused: the task ended Canceled, nothing more to cancel.
    let canceled = run(&world, &["cancel", &name]).await;
    assert!(!canceled.status.success(), "{canceled:?}");
    assert!(
        stderr(&canceled).contains(&format!(
            "BackupTask {name} already Canceled; nothing to cancel"
        )),
        "{canceled:?}"
    );
    let missing = run(&world, &["cancel", "no-such-task"]).await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("no BackupTask, CleanupTask or RecoveryTask no-such-task"),
        "{missing:?}"
    );
    world.done().await;
}
