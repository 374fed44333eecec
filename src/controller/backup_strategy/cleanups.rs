//! Mirrors of the delete jobs OceanBase's `'default'` policy starts about hourly
//! (docs/contributing/design.md §2.2, docs/reference/oceanbase-interface.md §5.1): one CleanupTask
//! per job, named after it and carrying its id, so the console's "Cleanup Tasks" list shows them.
//! Only jobs that started after the strategy was created are mirrored, and a job is mirrored once:
//! the newest mirror of each tenant is never pruned, and it marks where mirroring resumes.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use serde_json::json;

use super::{children, plan::STRATEGY_LABEL};
use crate::{
    api::{BackupStrategy, CleanupTask, CleanupTaskPhase, backup_strategy::Retention},
    controller::{Context, Error, FIELD_MANAGER},
    oceanbase::Snapshot,
};

/// A mirror as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Mirror {
    pub name: String,
    pub tenant: String,
    pub job_id: i64,
    pub phase: Option<CleanupTaskPhase>,
}

/// A mirror to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMirror {
    pub name: String,
    pub tenant: String,
    pub job_id: i64,
}

/// What to change: mirrors to create and finished ones to delete.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MirrorPlan {
    pub create: Vec<NewMirror>,
    pub prune: Vec<String>,
}

/// The name of the mirror of a tenant's delete job.
pub fn mirror_name(strategy: &str, tenant: &str, job_id: i64) -> String {
    crate::names::child_name(strategy, tenant, &format!("clean-{job_id}"))
}

/// Plans mirrors for the policy jobs of `tenants` and prunes finished ones beyond the history limits.
pub fn plan(
    strategy: &str,
    created: Timestamp,
    retention: &Retention,
    snapshot: &Snapshot,
    tenants: &[String],
    existing: &[Mirror],
) -> MirrorPlan {
    let mut result = MirrorPlan::default();
    // The mirrors this plan creates count against the history limits at once, with the phase their job
    // already shows: the sync never leaves more than the limits (plus running jobs) behind it.
    let mut all: Vec<Mirror> = existing.to_vec();
    for name in tenants {
        let Some(tenant) = snapshot.tenant(name) else {
            continue;
        };
        let newest = existing
            .iter()
            .filter(|m| m.tenant.eq_ignore_ascii_case(name))
            .map(|m| m.job_id)
            .max();
        result.create.extend(
            snapshot
                .clean_jobs_of(tenant.id)
                .filter(|j| j.from_policy())
                .filter(|j| newest.is_none_or(|n| j.job_id > n))
                .filter(|j| {
                    j.start
                        .is_some_and(|s| s >= created - crate::timing::CLOCK_SKEW)
                })
                .map(|j| {
                    all.push(Mirror {
                        name: mirror_name(strategy, name, j.job_id),
                        tenant: name.clone(),
                        job_id: j.job_id,
                        phase: Some(crate::controller::reading::cleanup_task_phase(&j.status)),
                    });
                    NewMirror {
                        name: mirror_name(strategy, name, j.job_id),
                        tenant: name.clone(),
                        job_id: j.job_id,
                    }
                }),
        );
    }
    let pruned = prune(&all, retention);
    // A job whose mirror would be pruned at once gets none.
    result.create.retain(|m| !pruned.contains(&m.name));
    result.prune = pruned
        .into_iter()
        .filter(|name| existing.iter().any(|m| &m.name == name))
        .collect();
    result
}

/// Finished mirrors beyond the limits, oldest first; the newest mirror of each tenant always stays.
fn prune(existing: &[Mirror], retention: &Retention) -> Vec<String> {
    let mut newest: BTreeMap<String, i64> = BTreeMap::new();
    for mirror in existing {
        let entry = newest.entry(mirror.tenant.to_lowercase()).or_default();
        *entry = (*entry).max(mirror.job_id);
    }
    let mut sorted: Vec<&Mirror> = existing.iter().collect();
    // Job ids grow per tenant; across tenants the id order is close enough for history keeping.
    sorted.sort_by_key(|m| std::cmp::Reverse(m.job_id));
    let limit = |n: i32| usize::try_from(n).unwrap_or(0);
    let mut doomed: Vec<&Mirror> = Vec::new();
    for (phases, keep) in [
        (
            &[CleanupTaskPhase::Completed][..],
            limit(retention.successful_tasks_history_limit),
        ),
        (
            &[CleanupTaskPhase::Failed, CleanupTaskPhase::Canceled][..],
            limit(retention.failed_tasks_history_limit),
        ),
    ] {
        doomed.extend(
            sorted
                .iter()
                .filter(|m| m.phase.is_some_and(|p| phases.contains(&p)))
                .skip(keep)
                .filter(|m| newest.get(&m.tenant.to_lowercase()) != Some(&m.job_id)),
        );
    }
    doomed.sort_by_key(|m| m.job_id);
    doomed.into_iter().map(|m| m.name.clone()).collect()
}

/// Lists the strategy's mirrors, creates the planned ones and deletes the pruned ones.
pub async fn sync(
    ctx: &Context,
    namespace: &str,
    strategy: &BackupStrategy,
    snapshot: &Snapshot,
    tenants: &[String],
) -> Result<(), Error> {
    let api: Api<CleanupTask> = Api::namespaced(ctx.client.clone(), namespace);
    let existing = mirrors(&api, strategy).await?;
    let created = strategy
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let planned = plan(
        &strategy.name_any(),
        created,
        &strategy.spec.retention,
        snapshot,
        tenants,
        &existing,
    );
    // Pruned first: the strategy's mirrors never outnumber the history limits while the sync runs.
    children::delete_named(&api, &planned.prune).await?;
    for mirror in &planned.create {
        crate::crash::point("child/CleanupTask/before-create");
        api.patch(
            &mirror.name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&mirror_manifest(strategy, mirror)),
        )
        .await?;
        crate::crash::point("child/CleanupTask/after-create");
    }
    Ok(())
}

/// The strategy's mirrors, as listed (a CleanupTask without a job id mirrors nothing).
async fn mirrors(api: &Api<CleanupTask>, strategy: &BackupStrategy) -> Result<Vec<Mirror>, Error> {
    let selector =
        ListParams::default().labels(&format!("{STRATEGY_LABEL}={}", strategy.name_any()));
    Ok(api
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter_map(|c| {
            Some(Mirror {
                job_id: c.spec.job_id?,
                tenant: c.spec.tenant.clone(),
                phase: c.status.as_ref().and_then(|s| s.phase),
                name: c.name_any(),
            })
        })
        .collect())
}

/// The CleanupTask that mirrors `mirror`'s delete job, as applied.
fn mirror_manifest(strategy: &BackupStrategy, mirror: &NewMirror) -> serde_json::Value {
    json!({
        "apiVersion": CleanupTask::api_version(&()),
        "kind": CleanupTask::kind(&()),
        "metadata": {
            "name": mirror.name,
            "labels": { STRATEGY_LABEL: strategy.name_any() },
            "ownerReferences": children::owner(strategy),
        },
        "spec": {
            "strategyRef": { "name": strategy.name_any() },
            "tenant": mirror.tenant,
            "target": { "obsolete": true },
            "jobId": mirror.job_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;
    use crate::oceanbase::{CleanJobRow, TenantRow};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("time")
    }

    fn job(tenant_id: i64, job_id: i64, initiator: i64, start: i64) -> CleanJobRow {
        CleanJobRow {
            tenant_id,
            job_id,
            initiator_tenant_id: initiator,
            kind: State::of("DELETE OBSOLETE BACKUP"),
            parameter: 0,
            status: State::of("COMPLETED"),
            task_count: 0,
            success_task_count: 0,
            result: 0,
            comment: String::new(),
            start: Some(at(start)),
            end: Some(at(start + 2)),
        }
    }

    fn snapshot(jobs: Vec<CleanJobRow>) -> Snapshot {
        let tenant = |id: i64, name: &str| TenantRow {
            id,
            name: name.into(),
            status: State::of("NORMAL"),
            role: State::of("PRIMARY"),
            archivelog: true,
        };
        Snapshot {
            tenants: vec![tenant(1002, "tenant1"), tenant(1004, "Tenant_2")],
            clean_jobs: jobs,
            ..Snapshot::default()
        }
    }

    fn mirror(tenant: &str, job_id: i64, phase: CleanupTaskPhase) -> Mirror {
        Mirror {
            name: mirror_name("s", tenant, job_id),
            tenant: tenant.into(),
            job_id,
            phase: Some(phase),
        }
    }

    #[test]
    fn policy_jobs_after_creation_are_mirrored_once() {
        let snapshot = snapshot(vec![
            job(1002, 1, 1002, 1_000), // before the strategy existed
            job(1002, 2, 1002, 10_000),
            job(1002, 3, 1, 11_000), // a delete someone sent from sys
            job(1002, 4, 1002, 12_000),
            job(1004, 1, 1004, 13_000),
        ]);
        let tenants = vec!["tenant1".to_string(), "Tenant_2".to_string()];
        let planned = plan(
            "s",
            at(5_000),
            &Retention::default(),
            &snapshot,
            &tenants,
            &[],
        );
        let names: Vec<&str> = planned.create.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "s-tenant1-clean-2",
                "s-tenant1-clean-4",
                "s-tenant-2-clean-1"
            ]
        );
        // Once mirrored (even if the older ones were pruned since), nothing is created again.
        let existing = [mirror("tenant1", 4, CleanupTaskPhase::Completed)];
        let planned = plan(
            "s",
            at(5_000),
            &Retention::default(),
            &snapshot,
            &tenants[..1],
            &existing,
        );
        assert!(planned.create.is_empty());
    }

    #[test]
    fn finished_mirrors_are_pruned_to_the_limits_but_each_tenants_newest_stays() {
        let retention = Retention {
            successful_tasks_history_limit: 1,
            failed_tasks_history_limit: 0,
            ..Retention::default()
        };
        let existing = [
            mirror("tenant1", 1, CleanupTaskPhase::Completed),
            mirror("tenant1", 2, CleanupTaskPhase::Failed),
            mirror("tenant1", 3, CleanupTaskPhase::Completed),
            mirror("tenant1", 4, CleanupTaskPhase::Executing),
            mirror("tenant2", 1, CleanupTaskPhase::Failed),
        ];
        let pruned = prune(&existing, &retention);
        assert_eq!(pruned, ["s-tenant1-clean-1", "s-tenant1-clean-2"]);
    }

    #[test]
    fn the_mirrors_a_plan_creates_count_against_the_limits_at_once() {
        let retention = Retention {
            successful_tasks_history_limit: 2,
            ..Retention::default()
        };
        let tenants = vec!["tenant1".to_string()];
        let existing = [
            mirror("tenant1", 1, CleanupTaskPhase::Completed),
            mirror("tenant1", 2, CleanupTaskPhase::Completed),
        ];
        // Two finished policy jobs appeared since the last look.
        let snapshot = snapshot(vec![
            job(1002, 1, 1002, 10_000),
            job(1002, 2, 1002, 11_000),
            job(1002, 3, 1002, 12_000),
            job(1002, 4, 1002, 13_000),
        ]);
        let planned = plan("s", at(5_000), &retention, &snapshot, &tenants, &existing);
        let created: Vec<&str> = planned.create.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(created, ["s-tenant1-clean-3", "s-tenant1-clean-4"]);
        assert_eq!(
            planned.prune,
            ["s-tenant1-clean-1", "s-tenant1-clean-2"],
            "after the sync: the limit's 2, not 4"
        );
        // Three new finished jobs against a limit of 2: the oldest of them gets no mirror at all.
        let more = snapshot_with(&snapshot, [job(1002, 5, 1002, 14_000)]);
        let planned = plan("s", at(5_000), &retention, &more, &tenants, &existing);
        let created: Vec<&str> = planned.create.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(created, ["s-tenant1-clean-4", "s-tenant1-clean-5"]);
    }

    fn snapshot_with(base: &Snapshot, jobs: impl IntoIterator<Item = CleanJobRow>) -> Snapshot {
        let mut snapshot = base.clone();
        snapshot.clean_jobs.extend(jobs);
        snapshot
    }
}
