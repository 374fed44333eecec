//! The console's "Initiate Recovery" (`restore`) and its action on a failed recovery (`retry`). A restore's
//! point is checked against the strategy's recoverable windows first, with the operator's own check and
//! words: the window it falls in, or why no restore can reach it.

use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use ob_backup_operator::{
    api::{
        BackupStrategy, BackupTask, RecoveryTask, RecoveryTaskSpec,
        backup_strategy::BackupMethod,
        common::StrategyReference,
        recovery_task::{
            RecoveryPoint, RecoverySource, RecoveryTarget, RecoveryTaskPhase, TenantResources,
            UnitSpec,
        },
    },
    windows::point::{self, PointCheck},
};
use serde_json::json;

pub use crate::restore_args::RestoreArgs;
use crate::{
    actions,
    render::{Reply, TimeFormat},
    restore_args::{point_of, target_cluster, task_name},
    restore_logical, restore_obtenant,
};

/// The RecoveryTask `args` ask for through `strategy`, or why there is none.
pub fn recovery_task(
    strategy: &BackupStrategy,
    args: &RestoreArgs,
) -> Result<RecoveryTask, String> {
    refuse_logical(strategy, args)?;
    let tenant = actions::tenants_of(strategy, Some(&args.tenant), false)?.remove(0);
    let until = recovery_point(&args.to)?;
    let resources = resources(args)?;
    let cluster = match &args.ob_tenant {
        Some(_) => restore_obtenant::target_cluster(strategy, args)?,
        None => target_cluster(strategy, args),
    };
    let name = task_name(strategy, &tenant, args);
    let decryption = args
        .decryption_secret
        .clone()
        .map(|password_secret| ob_backup_operator::api::common::PasswordSecret { password_secret })
        .or_else(|| strategy.spec.encryption.clone());
    Ok(RecoveryTask::new(
        &name,
        RecoveryTaskSpec {
            source: RecoverySource {
                strategy_ref: Some(StrategyReference {
                    name: strategy.name_any(),
                }),
                tenant,
                cluster_name: None,
                data_destination: None,
                log_destination: None,
                logical: None,
            },
            target: RecoveryTarget {
                cluster,
                tenant: args.target_tenant.clone(),
                resources: Some(resources),
                logical: None,
                primary_zone: args.unit.primary_zone.clone(),
                locality: None,
            },
            until: Some(until),
            decryption,
            activate: !args.unit.standby,
            cancel: false,
            retry: 0,
            drill: None,
            job_id: None,
        },
    ))
}

/// Refuses a physical restore through a logical strategy, and a logical restore's flags.
fn refuse_logical(strategy: &BackupStrategy, args: &RestoreArgs) -> Result<(), String> {
    if strategy.spec.method == BackupMethod::Logical {
        return Err(format!(
            "BackupStrategy {} is Logical: its restore loads a dump",
            strategy.name_any()
        ));
    }
    if args.loader_secret.is_some() || !args.rename_database.is_empty() {
        return Err(format!(
            "--loader-secret and --rename-database load a logical strategy's dump; BackupStrategy {} is \
             Physical: its restore makes a new tenant (--pool, --unit-name or --unit-cpu)",
            strategy.name_any()
        ));
    }
    Ok(())
}

/// `--to` as the task's point: a time, or the latest.
fn recovery_point(to: &str) -> Result<RecoveryPoint, String> {
    Ok(match point_of(to)? {
        None => RecoveryPoint {
            time: None,
            scn: None,
            latest: Some(true),
        },
        Some(at) => RecoveryPoint {
            time: Some(at.to_string()),
            scn: None,
            latest: None,
        },
    })
}

/// Where the new tenant runs: a pool, a unit config or a new unit (one of them is required).
fn resources(args: &RestoreArgs) -> Result<TenantResources, String> {
    let unit = match (args.unit.unit_cpu, &args.unit.unit_memory) {
        (Some(max_cpu), Some(memory_size)) => Some(UnitSpec {
            max_cpu,
            memory_size: memory_size.clone(),
            log_disk_size: args.unit.unit_log_disk.clone(),
        }),
        _ => None,
    };
    if args.pool.is_none() && args.unit.unit_name.is_none() && unit.is_none() {
        return Err(
            "say where the new tenant runs: --pool, --unit-name or --unit-cpu with --unit-memory"
                .into(),
        );
    }
    Ok(TenantResources {
        pool_name: args.pool.clone(),
        unit_name: args.unit.unit_name.clone(),
        unit,
        unit_num: args.unit.unit_num,
        zones: args.unit.zones.clone(),
    })
}

/// A physical restore and what its point check says: the window the point falls in, or why it waits.
pub fn physical(
    strategy: &BackupStrategy,
    args: &RestoreArgs,
) -> Result<(RecoveryTask, String), String> {
    let task = recovery_task(strategy, args)?;
    let source = &task.spec.source.tenant;
    let windows = point::strategy_windows(strategy, source);
    let Some(until) = &task.spec.until else {
        return Err("a restore needs a point (--to)".into());
    };
    let verdict = match point::check(until, source, Some(&windows)) {
        PointCheck::Outside(message) => {
            return Err(format!("refused: {message}; nothing was created"));
        }
        PointCheck::Inside(message) => format!("recovery point: {message}\n"),
        PointCheck::NotYet(message) | PointCheck::Unverified(message) => {
            format!("recovery point: {message}; the task waits until it can be reached\n")
        }
    };
    Ok((task, verdict))
}

/// What the API shows of a physical restore's target tenant, which must not exist: the operator refuses a
/// target its cluster already has (`TargetTenantExists`, read from OceanBase when the task runs), and the
/// plugin has no SQL access — so it looks where the API shows a cluster's tenants: the overviews of the
/// strategies of that cluster (the tenants the operator last read from OceanBase) and the other
/// RecoveryTasks into it (one that completed made the tenant; one still running is making it). A tenant
/// seen there is refused in the operator's words; otherwise says what was looked at, and what was not.
pub fn target_check(
    task: &RecoveryTask,
    strategies: &[BackupStrategy],
    recoveries: &[RecoveryTask],
) -> Result<String, String> {
    let (tenant, cluster) = (&task.spec.target.tenant, &task.spec.target.cluster);
    let overviews: Vec<&BackupStrategy> = strategies
        .iter()
        .filter(|s| s.spec.cluster.same_cluster(cluster) && s.status.is_some())
        .collect();
    let lists = |s: &BackupStrategy| {
        s.status
            .iter()
            .flat_map(|status| &status.tenants)
            .any(|t| t.name.eq_ignore_ascii_case(tenant))
    };
    let refused = |why: String| {
        Err(format!(
            "refused: {why}: choose another target tenant name; nothing was created"
        ))
    };
    if let Some(strategy) = overviews.iter().find(|s| lists(s)) {
        return refused(format!(
            "cluster {} already has a tenant {tenant} (the overview of BackupStrategy {} lists it)",
            cluster.name,
            strategy.name_any()
        ));
    }
    if let Some(why) = restored_into(task, recoveries) {
        return refused(why);
    }
    let looked = if overviews.is_empty() {
        format!(
            "no BackupStrategy here shows cluster {}'s tenants",
            cluster.name
        )
    } else {
        let names: Vec<String> = overviews.iter().map(|s| s.name_any()).collect();
        format!(
            "not among the tenants of cluster {} that the overview of BackupStrategy {} shows",
            cluster.name,
            names.join(", ")
        )
    };
    Ok(format!(
        "target tenant {tenant}: {looked}, and no other RecoveryTask restores into it; whether the cluster \
         has it is read from OceanBase only when the task runs\n"
    ))
}

/// Why another of `recoveries` shows `task`'s target taken, if one does: it made the tenant (Completed), or is
/// making it (not ended, a pending retry counting as running).
fn restored_into(task: &RecoveryTask, recoveries: &[RecoveryTask]) -> Option<String> {
    let (tenant, cluster) = (&task.spec.target.tenant, &task.spec.target.cluster);
    let ours = task.name_any();
    recoveries
        .iter()
        .filter(|r| {
            r.name_any() != ours
                && r.spec.target.logical.is_none()
                && r.spec.target.cluster.same_cluster(cluster)
                && r.spec.target.tenant.eq_ignore_ascii_case(tenant)
        })
        .find_map(|other| {
            let phase = other.status.as_ref().and_then(|s| s.phase);
            let (name, cluster) = (other.name_any(), &cluster.name);
            if phase == Some(RecoveryTaskPhase::Completed) {
                Some(format!(
                    "RecoveryTask {name} restored tenant {tenant} into cluster {cluster} (Completed), so the \
                     cluster has it unless it was dropped since (then delete that RecoveryTask first)"
                ))
            } else {
                (!actions::recovery_ended(other)).then(|| {
                    format!(
                        "RecoveryTask {name} is already restoring tenant {tenant} into cluster {cluster}"
                    )
                })
            }
        })
}

/// The BackupStrategies and RecoveryTasks of `namespace`, for [`target_check`].
async fn neighbours(
    client: &kube::Client,
    namespace: &str,
) -> Result<(Vec<BackupStrategy>, Vec<RecoveryTask>), String> {
    let strategies = Api::<BackupStrategy>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list backupstrategies: {e}"))?
        .items;
    let recoveries = Api::<RecoveryTask>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list recoverytasks: {e}"))?
        .items;
    Ok((strategies, recoveries))
}

/// Runs `restore`: checks the point (a logical strategy's: picks the dump) and a physical restore's target
/// tenant, then creates the task (or with --dry-run has the API server check it without creating it).
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    strategy: &BackupStrategy,
    args: RestoreArgs,
    clock: &TimeFormat,
) -> Result<Reply, String> {
    let (task, verdict) = if strategy.spec.method == BackupMethod::Logical {
        let tasks = Api::<BackupTask>::namespaced(client.clone(), namespace)
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("cannot list backuptasks: {e}"))?
            .items;
        let (task, dump) =
            restore_logical::plan(strategy, &args, &tasks, jiff::Timestamp::now(), clock)?;
        let target = format!(
            "target tenant {}: what it holds is read from OceanBase only when the task runs (a tenant that \
             holds what the dump creates is refused then, before anything is written)\n",
            args.target_tenant
        );
        (task, format!("{dump}{target}"))
    } else {
        let (task, point) = physical(strategy, &args)?;
        let (strategies, recoveries) = neighbours(client, namespace).await?;
        let target = target_check(&task, &strategies, &recoveries)?;
        if let Some(name) = &args.ob_tenant {
            // The OBTenant says what the task would: the API server's checks of the task (the target
            // tenant's name, the unit, the zones) stand for it.
            admitted(client, namespace, &task).await?;
            let tenant = restore_obtenant::ob_tenant(&task, strategy, name)?;
            let checked = format!("{point}{target}");
            return restore_obtenant::create(client, namespace, tenant, &args, checked).await;
        }
        (task, format!("{point}{target}"))
    };
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    let params = PostParams {
        dry_run: args.dry_run,
        ..PostParams::default()
    };
    let name = task.name_any();
    let (made, said) = match api.create(&params, &task).await {
        // The task as asked for, without what the server stamps on a created object (a uid, a version):
        // a manifest to apply or commit.
        Ok(_) if args.dry_run => (
            task,
            format!(
                "recoverytask/{name}: the API server accepts it (dry run: nothing was created)\n"
            ),
        ),
        Ok(made) => (made, format!("recoverytask/{name} created\n")),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            return Err(format!(
                "recoverytask/{name} exists already: see `kubectl obbackup tasks recovery`, or name \
                 another with --name"
            ));
        }
        Err(e) => return Err(format!("cannot create RecoveryTask {name}: {e}")),
    };
    let reply = Reply::new(format!("{verdict}{said}")).with(&made)?;
    if !args.wait {
        return Ok(reply);
    }
    let timeout = actions::timeout(args.timeout.as_deref())?;
    let (said, task) = ended(&api, &name, timeout, clock).await?;
    reply.and(Reply::new(said)).with(&task)
}

/// Whether the API server would admit `task` (a dry-run create; one of that name existing already means it
/// passed the checks that come before).
async fn admitted(
    client: &kube::Client,
    namespace: &str,
    task: &RecoveryTask,
) -> Result<(), String> {
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    match api.create(&dry_run, task).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(format!("refused: {e}; nothing was created")),
    }
}

/// Follows the RecoveryTask `name` to its final phase: said with the task when it completed, an error with
/// its failure otherwise.
async fn ended(
    api: &Api<RecoveryTask>,
    name: &str,
    timeout: Option<std::time::Duration>,
    clock: &TimeFormat,
) -> Result<(String, RecoveryTask), String> {
    let what = format!("recoverytask/{name} to end");
    let task = actions::until(timeout, &what, || async {
        let task = api
            .get(name)
            .await
            .map_err(|e| format!("cannot read RecoveryTask {name}: {e}"))?;
        let phase = task.status.as_ref().and_then(|s| s.phase);
        Ok(phase
            .is_some_and(RecoveryTaskPhase::is_terminal)
            .then_some(task))
    })
    .await?;
    let status = task.status.clone().unwrap_or_default();
    let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
    if status.phase != Some(RecoveryTaskPhase::Completed) {
        let why = status.failure.map(|f| f.message).unwrap_or_default();
        return Err(format!("recoverytask/{name} {phase}: {why}"));
    }
    let at = clock.show(status.ended_at.as_ref());
    Ok((format!("recoverytask/{name} {phase} at {at}\n"), task))
}

/// Why `task` cannot be retried, if it cannot: only a Failed recovery is, and not one canceled since — its
/// `spec.cancel` cannot be unset, so the operator would end the new attempt Canceled before it starts.
pub fn retry_refusal(task: &RecoveryTask) -> Option<String> {
    let name = task.name_any();
    let phase = task.status.as_ref().and_then(|s| s.phase);
    if phase != Some(RecoveryTaskPhase::Failed) {
        let shown = phase.map_or_else(|| "not started".to_string(), |p| format!("{p:?}"));
        return Some(format!(
            "RecoveryTask {name} is {shown}: only a failed recovery is retried"
        ));
    }
    task.spec.cancel.then(|| {
        format!(
            "RecoveryTask {name} has spec.cancel set, which cannot be undone: a retry would end Canceled \
             before it starts; nothing was changed (restore again under another --name)"
        )
    })
}

/// Runs `retry`: asks the operator to run a failed RecoveryTask again (bumps `spec.retry`).
pub async fn retry(client: &kube::Client, namespace: &str, name: &str) -> Result<Reply, String> {
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    let task = api
        .get_opt(name)
        .await
        .map_err(|e| format!("cannot read RecoveryTask {name}: {e}"))?
        .ok_or_else(|| format!("no RecoveryTask {name} in namespace {namespace}"))?;
    if let Some(refusal) = retry_refusal(&task) {
        return Err(refusal);
    }
    // A retry asked for that the operator has not taken up yet is not asked for again.
    let observed = task.status.as_ref().and_then(|s| s.observed_retry);
    if observed.unwrap_or(0) < task.spec.retry {
        return Reply::new(format!(
            "recoverytask/{name} retry already requested (spec.retry: {}), not taken up yet\n",
            task.spec.retry
        ))
        .with(&task);
    }
    let attempt = task.spec.retry + 1;
    // Made from the version read: a retry someone else asked for meanwhile is not asked for twice.
    let patch = json!({
        "metadata": {"resourceVersion": task.resource_version()},
        "spec": {"retry": attempt},
    });
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(retried) => Reply::new(format!(
            "recoverytask/{name} retry requested (spec.retry: {attempt})\n"
        ))
        .with(&retried),
        Err(kube::Error::Api(e)) if e.code == 409 => Err(format!(
            "RecoveryTask {name} changed while retrying it (someone else may have retried it): look \
             again with `kubectl obbackup cause {name}`"
        )),
        Err(e) => Err(format!("cannot retry RecoveryTask {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{parse_restore as parse, restore_args as args, strategy};

    #[test]
    fn a_restore_is_a_recovery_task_through_the_strategy() {
        let encrypted = strategy(json!({"encryption": {"passwordSecret": "backup-password"}}));
        let task = recovery_task(
            &encrypted,
            &args(
                "--tenant TENANT1 --to 2026-11-20T08:30:00+08:00 --target-tenant tenant1_restored \
                 --unit-cpu 2 --unit-memory 4G --zones zone1,zone2 --standby",
            ),
        )
        .expect("a task");
        assert_eq!(task.name_any(), "demo-tenant1-to-tenant1-restored");
        let spec = &task.spec;
        assert_eq!(spec.source.tenant, "TENANT1");
        assert_eq!(
            spec.until.as_ref().and_then(|u| u.time.as_deref()),
            Some("2026-11-20T00:30:00Z"),
            "a time in any offset, sent in UTC"
        );
        assert_eq!(
            spec.target.cluster.connection_secret.as_deref(),
            Some("ob-sys")
        );
        let resources = spec.target.resources.as_ref().expect("resources");
        assert_eq!(resources.zones, ["zone1", "zone2"]);
        assert_eq!(resources.unit.as_ref().map(|u| u.max_cpu), Some(2.0));
        assert!(!spec.activate, "--standby");
        assert_eq!(
            spec.decryption.as_ref().map(|d| d.password_secret.as_str()),
            Some("backup-password"),
            "the strategy's password by default"
        );
        let latest = recovery_task(
            &strategy(json!({})),
            &args("--tenant tenant1 --to latest --target-tenant t2 --pool p1"),
        )
        .expect("latest");
        assert_eq!(latest.spec.until.and_then(|u| u.latest), Some(true));
        assert!(latest.spec.decryption.is_none() && latest.spec.activate);
    }

    #[test]
    fn a_restore_that_cannot_be_asked_for_says_why() {
        let physical = strategy(json!({}));
        for (line, says) in [
            (
                "--tenant tenant1 --to yesterday --target-tenant t2 --pool p",
                "neither `latest` nor an RFC 3339 time",
            ),
            (
                "--tenant tenant1 --to latest --target-tenant t2",
                "say where the new tenant runs",
            ),
            (
                "--tenant tenant9 --to latest --target-tenant t2 --pool p",
                "does not cover tenant tenant9",
            ),
            (
                "--tenant tenant1 --to latest --target-tenant t2 --pool p --loader-secret l",
                "load a logical strategy's dump",
            ),
        ] {
            let error = recovery_task(&physical, &args(line)).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
        let logical = strategy(json!({"method": "Logical", "logical": {"credentialsSecret": "d"}}));
        let error = recovery_task(
            &logical,
            &args("--tenant tenant1 --to latest --target-tenant t2 --pool p"),
        )
        .expect_err("refused");
        assert!(error.contains("is Logical"), "{error}");
        // Flags that cannot go together are refused before anything is read.
        assert!(parse("--tenant t --to latest --target-tenant u --pool p --unit-name n").is_err());
    }

    /// A restore through `demo` into `target` (`more` flags), named `name`, in `phase` (retry asked
    /// `retry` times, `observed` taken up).
    fn into(target: &str, name: &str, more: &str, status: serde_json::Value) -> RecoveryTask {
        let line = format!(
            "--tenant tenant1 --to latest --target-tenant {target} --pool p --name {name} {more}"
        );
        let mut task = recovery_task(&strategy(json!({})), &args(&line)).expect("a task");
        task.status = serde_json::from_value(status).expect("a status");
        task
    }

    #[test]
    fn a_target_tenant_the_api_shows_taken_is_refused_and_otherwise_what_was_looked_at_is_said() {
        let mut demo = strategy(json!({}));
        demo.status =
            serde_json::from_value(json!({"tenants": [{"name": "tenant1"}, {"name": "Tenant2"}]}))
                .expect("a status");
        let others = [
            into("r1", "made-r1", "", json!({"phase": "Completed"})),
            into("r2", "making-r2", "", json!({"phase": "InProgress"})),
            into(
                "r3",
                "failed-r3",
                "",
                json!({"phase": "Failed", "observedRetry": 0}),
            ),
            into(
                "r4",
                "retrying-r4",
                "",
                json!({"phase": "Failed", "observedRetry": 0}),
            ),
            into(
                "r5",
                "elsewhere-r5",
                "--target-cluster ob2 --target-secret ob2-sys",
                json!({"phase": "Completed"}),
            ),
        ];
        let mut others = others.to_vec();
        others[3].spec.retry = 1;
        let check = |target: &str| {
            let task = into(target, "mine", "", json!({}));
            target_check(&task, std::slice::from_ref(&demo), &others)
        };
        for (target, says) in [
            (
                "TENANT1",
                "refused: cluster ob already has a tenant TENANT1 (the overview of BackupStrategy demo lists it): \
                 choose another target tenant name; nothing was created",
            ),
            ("tenant2", "already has a tenant tenant2"),
            (
                "r1",
                "RecoveryTask made-r1 restored tenant r1 into cluster ob (Completed)",
            ),
            (
                "r2",
                "RecoveryTask making-r2 is already restoring tenant r2 into cluster ob",
            ),
            (
                "R4",
                "RecoveryTask retrying-r4 is already restoring tenant R4",
            ),
        ] {
            let refused = check(target).expect_err(target);
            assert!(refused.contains(says), "{target}: {refused}");
        }
        for target in ["r3", "r5", "fresh"] {
            let said = check(target).expect(target);
            assert_eq!(
                said,
                format!(
                    "target tenant {target}: not among the tenants of cluster ob that the overview of \
                     BackupStrategy demo shows, and no other RecoveryTask restores into it; whether the \
                     cluster has it is read from OceanBase only when the task runs\n"
                )
            );
        }
        // The task of the same name is not another one (creating it says it exists already).
        let again = into("r1", "made-r1", "", json!({}));
        assert!(target_check(&again, &[], &others).is_ok());
        let unseen =
            target_check(&into("x", "mine", "", json!({})), &[], &[]).expect("nothing seen");
        assert!(
            unseen.contains("no BackupStrategy here shows cluster ob's tenants"),
            "{unseen}"
        );
    }

    #[test]
    fn only_a_failed_recovery_is_retried() {
        let failed = into("r1", "failed", "", json!({"phase": "Failed"}));
        assert_eq!(retry_refusal(&failed), None);
        for (status, says) in [
            (
                json!({"phase": "Completed"}),
                "is Completed: only a failed recovery is retried",
            ),
            (
                json!({}),
                "is not started: only a failed recovery is retried",
            ),
        ] {
            let task = into("r1", "other", "", status);
            let refusal = retry_refusal(&task).expect("refused");
            assert!(refusal.contains(says), "{refusal}");
        }
        // Canceled after it failed: spec.cancel cannot be unset, so a retry would end Canceled at once.
        let mut canceled = failed.clone();
        canceled.spec.cancel = true;
        let refusal = retry_refusal(&canceled).expect("refused");
        assert!(
            refusal.contains("RecoveryTask failed has spec.cancel set")
                && refusal.contains("nothing was changed"),
            "{refusal}"
        );
    }
}
