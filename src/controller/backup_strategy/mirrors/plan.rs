//! Which jobs a strategy mirrors, and which mirrors it prunes: pure, on the snapshot, the strategy's tenants
//! and the mirrors as listed (docs/guide/external-jobs.md).
//!
//! A job is mirrored once. Only jobs that started after the strategy was created are mirrored, and the
//! newest mirror of each kind and tenant (of each kind, for restores, whose job ids are the cluster's) is
//! never pruned: it marks where mirroring resumes, so a pruned mirror's job is not mirrored again.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::{
    api::backup_strategy::Retention,
    names::{child_name, is_scratch, started_here},
    oceanbase::{BackupType, CleanJobRow, CleanJobType, JobStatus, Snapshot},
};

/// The three kinds of mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Backup,
    Restore,
    Cleanup,
}

/// How a mirrored job stands, as far as history keeping cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Running,
    Succeeded,
    /// Failed or canceled.
    Failed,
}

/// A mirror as listed (or as about to be created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    pub kind: Kind,
    pub name: String,
    /// The tenant for backups and cleanups (lower case); empty for restores.
    pub group: String,
    pub job_id: i64,
    pub ending: Ending,
}

/// What a new mirror's spec says beyond its job id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    Backup {
        tenant: String,
        incremental: bool,
    },
    Restore {
        tenant: String,
        backup_tenant: String,
    },
    Cleanup {
        tenant: String,
        kind: CleanJobType,
        parameter: i64,
    },
}

/// A mirror to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMirror {
    pub name: String,
    pub job_id: i64,
    pub job: Job,
}

/// What to change: mirrors to create and finished ones to delete (by kind and name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MirrorPlan {
    pub create: Vec<NewMirror>,
    pub prune: Vec<(Kind, String)>,
}

/// What the plan reads besides the snapshot.
pub struct Scope<'a> {
    pub strategy: &'a str,
    pub created: Timestamp,
    /// The tenants in scope; `every` when the strategy lists none (then every restore of the cluster is
    /// mirrored, not only those of these tenants).
    pub tenants: &'a [String],
    pub every: bool,
    /// Delete jobs our own CleanupTasks started, by lower-case tenant and job id.
    pub claimed: &'a [(String, i64)],
    /// Lower-case tenants with a CleanupTask of ours whose job is not known yet: their delete jobs sent
    /// from sys may be its, and wait.
    pub unclaimed: &'a [String],
}

/// The name of the mirror of a job: `<strategy>-<tenant>-<kind>-<job id>`.
pub fn mirror_name(strategy: &str, kind: Kind, tenant: &str, job_id: i64) -> String {
    let word = match kind {
        Kind::Backup => "backup",
        Kind::Restore => "restore",
        Kind::Cleanup => "clean",
    };
    child_name(strategy, tenant, &format!("{word}-{job_id}"))
}

/// Plans the mirrors of the jobs `snapshot` lists that no object of ours started, and prunes finished
/// mirrors beyond the history limits.
pub fn plan(
    scope: &Scope<'_>,
    retention: &Retention,
    snapshot: &Snapshot,
    existing: &[Mirror],
) -> MirrorPlan {
    let mut newest: BTreeMap<(Kind, String), i64> = BTreeMap::new();
    for mirror in existing {
        let entry = newest
            .entry((mirror.kind, mirror.group.clone()))
            .or_default();
        *entry = (*entry).max(mirror.job_id);
    }
    let after_newest = |m: &(Mirror, Job)| {
        newest
            .get(&(m.0.kind, m.0.group.clone()))
            .is_none_or(|n| m.0.job_id > *n)
    };
    let fresh: Vec<(Mirror, Job)> = candidates(scope, snapshot)
        .into_iter()
        .filter(after_newest)
        .collect();
    // The mirrors this plan creates count against the history limits at once: the sync never leaves more
    // than the limits (plus running jobs) behind it.
    let mut all: Vec<Mirror> = existing.to_vec();
    all.extend(fresh.iter().map(|(m, _)| m.clone()));
    let pruned = prune(&all, retention);
    let create = fresh
        .into_iter()
        .filter(|(m, _)| !pruned.contains(&(m.kind, m.name.clone())))
        .map(|(m, job)| NewMirror {
            name: m.name,
            job_id: m.job_id,
            job,
        })
        .collect();
    let prune = pruned
        .into_iter()
        .filter(|(kind, name)| existing.iter().any(|m| m.kind == *kind && &m.name == name))
        .collect();
    MirrorPlan { create, prune }
}

/// Every job of the snapshot a mirror would show, started after the strategy was created.
fn candidates(scope: &Scope<'_>, snapshot: &Snapshot) -> Vec<(Mirror, Job)> {
    let after_creation = |start: Option<Timestamp>| {
        start.is_some_and(|s| s >= scope.created - crate::timing::CLOCK_SKEW)
    };
    let mut found = Vec::new();
    for name in scope.tenants {
        let Some(tenant) = snapshot.tenant(name) else {
            continue;
        };
        found.extend(
            snapshot
                .jobs
                .iter()
                .filter(|j| j.tenant_id == tenant.id && !started_here(&j.description))
                .filter(|j| after_creation(j.start))
                .map(|j| backup(scope.strategy, name, j)),
        );
        found.extend(
            snapshot
                .clean_jobs_of(tenant.id)
                .filter(|j| after_creation(j.start) && !ours(scope, name, j))
                .map(|j| cleanup(scope.strategy, name, j)),
        );
    }
    found.extend(
        snapshot
            .restores
            .iter()
            .filter(|r| !started_here(&r.description) && after_creation(r.start))
            .filter(|r| !is_scratch(&r.tenant_name))
            .filter(|r| user_tenant(&r.tenant_name) && user_tenant(&r.backup_tenant_name))
            .filter(|r| {
                scope.every
                    || scope.tenants.iter().any(|t| {
                        t.eq_ignore_ascii_case(&r.tenant_name)
                            || t.eq_ignore_ascii_case(&r.backup_tenant_name)
                    })
            })
            .map(|r| {
                let ending = if r.status.succeeded() {
                    Ending::Succeeded
                } else if r.status.failed() {
                    Ending::Failed
                } else {
                    Ending::Running
                };
                let mirror = Mirror {
                    kind: Kind::Restore,
                    name: mirror_name(scope.strategy, Kind::Restore, &r.tenant_name, r.job_id),
                    group: String::new(),
                    job_id: r.job_id,
                    ending,
                };
                let job = Job::Restore {
                    tenant: r.tenant_name.clone(),
                    backup_tenant: r.backup_tenant_name.clone(),
                };
                (mirror, job)
            }),
    );
    found
}

fn backup(strategy: &str, tenant: &str, job: &crate::oceanbase::BackupJobRow) -> (Mirror, Job) {
    let mirror = Mirror {
        kind: Kind::Backup,
        name: mirror_name(strategy, Kind::Backup, tenant, job.job_id),
        group: tenant.to_lowercase(),
        job_id: job.job_id,
        ending: job_ending(&job.status),
    };
    let job = Job::Backup {
        tenant: tenant.to_string(),
        incremental: job.backup_type == BackupType::Inc,
    };
    (mirror, job)
}

fn cleanup(strategy: &str, tenant: &str, job: &CleanJobRow) -> (Mirror, Job) {
    let mirror = Mirror {
        kind: Kind::Cleanup,
        name: mirror_name(strategy, Kind::Cleanup, tenant, job.job_id),
        group: tenant.to_lowercase(),
        job_id: job.job_id,
        ending: job_ending(&job.status),
    };
    let job = Job::Cleanup {
        tenant: tenant.to_string(),
        kind: job.kind.clone(),
        parameter: job.parameter,
    };
    (mirror, job)
}

/// Whether `name` can be a mirror's tenant (a user tenant's name, as the tasks' schema requires).
fn user_tenant(name: &str) -> bool {
    crate::oceanbase::sql::identifier(name).is_ok() && !name.eq_ignore_ascii_case("sys")
}

/// Whether a delete job is (or may be) one our own CleanupTasks started: one claims it, or one of the
/// tenant's is still looking for its job and this one was sent from sys as ours are.
fn ours(scope: &Scope<'_>, tenant: &str, job: &CleanJobRow) -> bool {
    let tenant = tenant.to_lowercase();
    let claimed = scope
        .claimed
        .iter()
        .any(|(t, id)| *t == tenant && *id == job.job_id);
    claimed || (!job.from_policy() && scope.unclaimed.contains(&tenant))
}

/// How a job with this status stands.
pub fn job_ending(status: &JobStatus) -> Ending {
    match status {
        JobStatus::Completed => Ending::Succeeded,
        JobStatus::Failed | JobStatus::Canceled => Ending::Failed,
        _ => Ending::Running,
    }
}

/// Finished mirrors beyond the limits, per kind, oldest first; the newest mirror of each kind and group
/// always stays.
fn prune(existing: &[Mirror], retention: &Retention) -> Vec<(Kind, String)> {
    let mut newest: BTreeMap<(Kind, String), i64> = BTreeMap::new();
    for mirror in existing {
        let entry = newest
            .entry((mirror.kind, mirror.group.clone()))
            .or_default();
        *entry = (*entry).max(mirror.job_id);
    }
    let limit = |n: i32| usize::try_from(n).unwrap_or(0);
    let mut doomed: Vec<&Mirror> = Vec::new();
    for kind in [Kind::Backup, Kind::Restore, Kind::Cleanup] {
        let mut sorted: Vec<&Mirror> = existing.iter().filter(|m| m.kind == kind).collect();
        // Job ids grow per tenant; across tenants the id order is close enough for history keeping.
        sorted.sort_by_key(|m| std::cmp::Reverse(m.job_id));
        for (ending, keep) in [
            (
                Ending::Succeeded,
                limit(retention.successful_tasks_history_limit),
            ),
            (Ending::Failed, limit(retention.failed_tasks_history_limit)),
        ] {
            doomed.extend(
                sorted
                    .iter()
                    .filter(|m| m.ending == ending)
                    .skip(keep)
                    .filter(|m| newest.get(&(m.kind, m.group.clone())) != Some(&m.job_id)),
            );
        }
    }
    doomed.sort_by_key(|m| (m.kind, m.job_id));
    doomed
        .into_iter()
        .map(|m| (m.kind, m.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
