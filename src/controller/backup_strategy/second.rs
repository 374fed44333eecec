//! The second backup follows the first's cleanups: a backup set or archive piece OceanBase deleted (by the
//! policy or by a CleanupTask) is deleted from the second data or log destination too, in the background,
//! once per set or piece and process. Nothing on the first destination is touched.

use super::super::{Context, Error, references};
use crate::{
    api::BackupStrategy,
    oceanbase::{FileStatus, Snapshot},
    storage::{
        copies::{CopyRequest, CopyState, Work},
        tree_under,
    },
};

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
    let ids: Vec<i64> = tenants
        .iter()
        .filter_map(|name| snapshot.tenant(name).map(|t| t.id))
        .collect();
    let sets = snapshot
        .sets
        .iter()
        .filter(|s| ids.contains(&s.tenant_id) && s.file_status == FileStatus::Deleted)
        .filter_map(|s| tree_under(&spec.data_destination.uri, &s.path));
    let pieces = snapshot
        .pieces
        .iter()
        .filter(|p| ids.contains(&p.tenant_id) && p.file_status == FileStatus::Deleted)
        .filter_map(|p| tree_under(&spec.log_destination.uri, &p.path));
    let name = strategy.metadata.name.as_deref().unwrap_or_default();
    for (destination, trees) in [
        (&second.data_destination, sets.collect::<Vec<_>>()),
        (&second.log_destination, pieces.collect()),
    ] {
        if trees.is_empty() {
            continue;
        }
        let to_keys = references::access_keys(ctx, namespace, destination).await?;
        for tree in trees {
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
            let key = format!("{namespace}/{name}/delete/{}/{tree}", destination.uri);
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
