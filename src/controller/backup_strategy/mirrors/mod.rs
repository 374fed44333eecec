//! Mirrors of the jobs OceanBase ran for a strategy's tenants that no object of ours started
//! (docs/guide/external-jobs.md): the delete policy's cleanups, and backups, restores and deletes started
//! by SQL, OCP or another tool. Each is one read-only task of source `External`, named after its job and
//! carrying its id, owned by the strategy and pruned by its history limits ([`plan`]).

mod plan;

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

pub use plan::Kind;
use plan::{Ending, Job, Mirror, NewMirror, Scope};

use super::{children, plan::STRATEGY_LABEL};
use crate::{
    api::{
        BackupStrategy, BackupTask, BackupTaskPhase, CleanupTask, CleanupTaskPhase, RecoveryTask,
        RecoveryTaskPhase,
    },
    controller::catalog::Cached,
    controller::{Context, Error, FIELD_MANAGER},
    oceanbase::{CleanJobType, Snapshot},
};

/// Lists the strategy's mirrors, creates the planned ones and deletes the pruned ones.
pub async fn sync(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
) -> Result<(), Error> {
    let name = strategy.name_any();
    let listed = Listed::read(ctx, namespace, &name).await?;
    let scope = Scope {
        strategy: &name,
        created: strategy
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        tenants,
        every: strategy.spec.tenants.is_empty(),
        claimed: &listed.claimed,
        unclaimed: &listed.unclaimed,
    };
    let planned = plan::plan(&scope, &strategy.spec.retention, snapshot, &listed.mirrors);
    // Pruned first: the strategy's mirrors never outnumber the history limits while the sync runs.
    let pruned = |kind: Kind| -> Vec<String> {
        let named = planned.prune.iter().filter(move |(k, _)| *k == kind);
        named.map(|(_, name)| name.clone()).collect()
    };
    children::delete_named(&api::<BackupTask>(ctx, namespace), &pruned(Kind::Backup)).await?;
    children::delete_named(&api::<RecoveryTask>(ctx, namespace), &pruned(Kind::Restore)).await?;
    children::delete_named(&api::<CleanupTask>(ctx, namespace), &pruned(Kind::Cleanup)).await?;
    for mirror in &planned.create {
        let spec = spec(strategy, mirror);
        match mirror.job {
            Job::Backup { .. } => {
                create::<BackupTask>(ctx, namespace, strategy, mirror, spec).await
            }
            Job::Restore { .. } => {
                create::<RecoveryTask>(ctx, namespace, strategy, mirror, spec).await
            }
            Job::Cleanup { .. } => {
                create::<CleanupTask>(ctx, namespace, strategy, mirror, spec).await
            }
        }?;
    }
    Ok(())
}

fn api<K: Cached>(ctx: &Context, namespace: &str) -> Api<K> {
    Api::namespaced(ctx.client.clone(), namespace)
}

/// What the sync reads from the controllers' caches: the strategy's mirrors, and which delete jobs our
/// own CleanupTasks started (or may have: those still looking for their job).
struct Listed {
    mirrors: Vec<Mirror>,
    claimed: Vec<(String, i64)>,
    unclaimed: Vec<String>,
}

impl Listed {
    async fn read(ctx: &Context, namespace: &str, strategy: &str) -> Result<Self, Error> {
        let mine = |labels: &std::collections::BTreeMap<String, String>| {
            labels.get(STRATEGY_LABEL).map(String::as_str) == Some(strategy)
        };
        let backups: Vec<BackupTask> = ctx
            .catalog
            .of_strategy(namespace, strategy, |t: &BackupTask| {
                t.spec.job_id.is_some() && mine(t.labels())
            })
            .await?;
        let restores: Vec<RecoveryTask> = ctx
            .catalog
            .of_strategy(namespace, strategy, |t: &RecoveryTask| {
                t.spec.job_id.is_some() && mine(t.labels())
            })
            .await?;
        let cleanups: Vec<CleanupTask> = ctx.catalog.list(namespace).await?;
        let mut listed = Self {
            mirrors: Vec::new(),
            claimed: Vec::new(),
            unclaimed: Vec::new(),
        };
        listed
            .mirrors
            .extend(backups.iter().filter_map(backup_mirror));
        listed
            .mirrors
            .extend(restores.iter().filter_map(restore_mirror));
        for cleanup in &cleanups {
            listed.cleanup(cleanup, mine(cleanup.labels()));
        }
        Ok(listed)
    }

    /// A CleanupTask: the strategy's mirror, or one of ours that claims its job (or is looking for it).
    fn cleanup(&mut self, cleanup: &CleanupTask, mine: bool) {
        let tenant = cleanup.spec.tenant.to_lowercase();
        let status = cleanup.status.as_ref();
        match (cleanup.spec.job_id, status.and_then(|s| s.job_id)) {
            (Some(job_id), _) if mine => self.mirrors.push(Mirror {
                kind: Kind::Cleanup,
                name: cleanup.name_any(),
                group: tenant,
                job_id,
                ending: cleanup_ending(status.and_then(|s| s.phase)),
            }),
            (Some(_), _) => {}
            (None, Some(job_id)) => self.claimed.push((tenant, job_id)),
            (None, None) if status.is_some_and(|s| s.submitted_at.is_some()) => {
                self.unclaimed.push(tenant);
            }
            (None, None) => {}
        }
    }
}

fn backup_mirror(task: &BackupTask) -> Option<Mirror> {
    let ending = match task.status.as_ref().and_then(|s| s.phase) {
        Some(BackupTaskPhase::Completed) => Ending::Succeeded,
        Some(BackupTaskPhase::Failed | BackupTaskPhase::Canceled) => Ending::Failed,
        _ => Ending::Running,
    };
    Some(Mirror {
        kind: Kind::Backup,
        name: task.name_any(),
        group: task.spec.tenant.to_lowercase(),
        job_id: task.spec.job_id?,
        ending,
    })
}

fn restore_mirror(task: &RecoveryTask) -> Option<Mirror> {
    let ending = match task.status.as_ref().and_then(|s| s.phase) {
        Some(RecoveryTaskPhase::Completed) => Ending::Succeeded,
        Some(RecoveryTaskPhase::Failed | RecoveryTaskPhase::Canceled) => Ending::Failed,
        _ => Ending::Running,
    };
    Some(Mirror {
        kind: Kind::Restore,
        name: task.name_any(),
        group: String::new(),
        job_id: task.spec.job_id?,
        ending,
    })
}

fn cleanup_ending(phase: Option<CleanupTaskPhase>) -> Ending {
    match phase {
        Some(CleanupTaskPhase::Completed) => Ending::Succeeded,
        Some(CleanupTaskPhase::Failed | CleanupTaskPhase::Canceled) => Ending::Failed,
        _ => Ending::Running,
    }
}

/// Creates one mirror of kind `K` (server-side apply: one that exists already is left as it is).
async fn create<K: crate::controller::Reconcile>(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    mirror: &NewMirror,
    spec: serde_json::Value,
) -> Result<(), Error> {
    let kind = K::kind(&());
    let manifest = json!({
        "apiVersion": K::api_version(&()),
        "kind": kind,
        "metadata": {
            "name": mirror.name,
            "labels": children::child_labels::<K>(ctx, namespace, strategy),
            "ownerReferences": children::owner(strategy),
        },
        "spec": spec,
    });
    crate::crash::point(&format!("child/{kind}/before-create"));
    api::<K>(ctx, namespace)
        .patch(
            &mirror.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&manifest),
        )
        .await?;
    crate::crash::point(&format!("child/{kind}/after-create"));
    Ok(())
}

/// The kind and spec of a mirror.
fn spec(strategy: &BackupStrategy, mirror: &NewMirror) -> serde_json::Value {
    let strategy_ref = json!({ "name": strategy.name_any() });
    match &mirror.job {
        Job::Backup {
            tenant,
            incremental,
        } => json!({
                "strategyRef": strategy_ref,
                "tenant": tenant,
                "mode": if *incremental { "Incremental" } else { "Full" },
                "jobId": mirror.job_id,
        }),
        Job::Restore {
            tenant,
            backup_tenant,
        } => json!({
                "source": { "strategyRef": strategy_ref, "tenant": backup_tenant },
                "target": { "cluster": strategy.spec.cluster, "tenant": tenant },
                "jobId": mirror.job_id,
        }),
        Job::Cleanup {
            tenant,
            kind,
            parameter,
        } => json!({
                "strategyRef": strategy_ref,
                "tenant": tenant,
                "target": delete_target(kind, *parameter),
                "jobId": mirror.job_id,
        }),
    }
}

/// What a delete job deleted, as a CleanupTask's target.
fn delete_target(kind: &CleanJobType, parameter: i64) -> serde_json::Value {
    match kind {
        CleanJobType::DeleteBackupSet if parameter > 0 => json!({ "backupSetIds": [parameter] }),
        CleanJobType::DeleteArchivelogPiece if parameter > 0 => {
            json!({ "archivelogPieceIds": [parameter] })
        }
        _ => json!({ "obsolete": true }),
    }
}
