//! What the second-backup tests share: a backup run to completion with its set's directory, a second copy
//! waited for, and trees compared file for file.

use std::path::Path;

use ob_backup_operator::api::{
    BackupTask, BackupTaskPhase, BackupTaskStatus,
    common::{SecondCopy, SecondCopyPhase},
};

use super::{
    cluster::eventually,
    world::{WAIT, World, strategy_backup_task},
};

/// Runs a full backup `task` of tenant1 through `strategy` to completion: its status and its set's
/// directory name (`backup_set_1_full`).
pub async fn backed_up(world: &World, task: &str, strategy: &str) -> (BackupTaskStatus, String) {
    world
        .apply(strategy_backup_task(task, strategy, "tenant1"))
        .await;
    completed(world, task).await
}

/// Waits for `task` to complete: its status and its set's directory name.
pub async fn completed(world: &World, task: &str) -> (BackupTaskStatus, String) {
    let done = world
        .reaches::<BackupTask>(task, BackupTaskPhase::Completed)
        .await;
    let set = done
        .storage_directory
        .as_deref()
        .and_then(|d| d.split('?').next()?.rsplit('/').next())
        .map(str::to_string)
        .expect("the set's directory");
    (done, set)
}

/// Waits for the second copy of `task` to be Completed (it never turns Failed on the way).
pub async fn copied(world: &World, task: &str) -> SecondCopy {
    eventually("the second copy to complete", 2 * WAIT, || async {
        let copy = world
            .read::<BackupTask>(task)
            .await?
            .status?
            .second_backup?;
        assert_ne!(copy.phase, Some(SecondCopyPhase::Failed), "{copy:?}");
        (copy.phase == Some(SecondCopyPhase::Completed)).then_some(*copy)
    })
    .await
}

/// Every file under `dir`, relative to it, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

/// The copy holds the tree `first` file for file, byte for byte; returns its file names.
pub fn assert_same_tree(first: &Path, copy: &Path) -> Vec<String> {
    let names = files(first);
    assert!(!names.is_empty(), "nothing under {}", first.display());
    assert_eq!(files(copy), names, "{}", copy.display());
    for name in &names {
        assert_eq!(
            std::fs::read(first.join(name)).expect("first"),
            std::fs::read(copy.join(name)).expect("copy"),
            "{name}"
        );
    }
    names
}

/// What the data destination's root `first` holds for set directory `set` — the format file and the set's
/// placeholders under `backup_sets/`, which a restore lists — is on the copy's root `copy` too, byte for
/// byte; returns their names.
pub fn assert_root_carries(first: &Path, copy: &Path, set: &str) -> Vec<String> {
    let mut names: Vec<String> = files(&first.join("backup_sets"))
        .into_iter()
        .filter(|n| n.starts_with(&format!("{set}_")))
        .map(|n| format!("backup_sets/{n}"))
        .collect();
    assert!(
        names.iter().any(|n| n.contains("_end_success_")),
        "{set} has no end placeholder on the first destination: {names:?}"
    );
    names.push("format.obbak".to_string());
    for name in &names {
        assert_eq!(
            std::fs::read(first.join(name)).expect("first"),
            std::fs::read(copy.join(name)).unwrap_or_else(|e| panic!("{name} on the copy: {e}")),
            "{name}"
        );
    }
    names
}
