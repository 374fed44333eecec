//! The second backup follows the first's cleanups: a backup set OceanBase deleted (by the policy or by a
//! CleanupTask) is deleted from the second data destination too, in the background, once per set and
//! process. Nothing on the first destination is touched.

use super::super::{Context, Error, references};
use crate::{
    api::BackupStrategy,
    controller::backup_task::second::set_tree,
    oceanbase::{FileStatus, Snapshot},
    storage::copies::{CopyRequest, CopyState, Work},
};

/// Starts deleting from the second destination every set of `tenants` that OceanBase deleted (each one's
/// end wakes the strategy).
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
    let deleted: Vec<String> = snapshot
        .sets
        .iter()
        .filter(|s| ids.contains(&s.tenant_id) && s.file_status == FileStatus::Deleted)
        .filter_map(|s| set_tree(&spec.data_destination.uri, &s.path))
        .collect();
    if deleted.is_empty() {
        return Ok(());
    }
    let to_keys = references::access_keys(ctx, namespace, &second.data_destination).await?;
    let name = strategy.metadata.name.as_deref().unwrap_or_default();
    for tree in deleted {
        let request = CopyRequest {
            work: Work::Delete,
            from: String::new(),
            from_keys: None,
            to: second.data_destination.uri.clone(),
            to_keys: to_keys.clone(),
            tree: tree.clone(),
            concurrency: 1,
            bandwidth: None,
            file_root: ctx.settings.file_root,
        };
        // Kept once done: the key is this process's memory that the set is gone from the copy too.
        let key = format!("{namespace}/{name}/delete/{tree}");
        if let CopyState::Failed { message, .. } = ctx.copies.ensure(&key, &request) {
            tracing::warn!(
                tree,
                message,
                "deleting a set from the second destination failed; retrying"
            );
        }
    }
    Ok(())
}
