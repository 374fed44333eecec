//! The console's buttons: "Back up Now" for a whole cluster or one tenant (`backup-now`), "Cancel"
//! (`cancel`) and "View Cause" (`cause`).

use std::time::Duration;

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use ob_backup_operator::api::{
    BackupStrategy, BackupTask, BackupTaskSpec, CleanupTask, RecoveryTask,
    backup_strategy::BackupMethod,
    backup_task::{BackupMode, BackupTaskPhase},
    common::StrategyReference,
};
use serde_json::json;

use ob_backup_operator::controller::backup_task::decide::is_terminal;

use crate::render::{Clock, Reply};

/// The BackupTasks "Back up Now" makes for `tenants` of `strategy` at `now`: one per tenant, named
/// `<strategy>-<tenant>-now-<UTC second>` — two clicks in the same second make the same names, so the second
/// makes nothing.
pub fn backup_now_tasks(
    strategy: &BackupStrategy,
    tenants: &[String],
    incremental: bool,
    now: Timestamp,
) -> Vec<BackupTask> {
    let stamp = now.strftime("%Y%m%d-%H%M%S").to_string();
    let logical = strategy.spec.method == BackupMethod::Logical;
    tenants
        .iter()
        .map(|tenant| {
            let name = ob_backup_operator::names::child_name(
                &strategy.name_any(),
                tenant,
                &format!("now-{stamp}"),
            );
            BackupTask::new(
                &name,
                BackupTaskSpec {
                    strategy_ref: Some(StrategyReference {
                        name: strategy.name_any(),
                    }),
                    cluster: None,
                    data_destination: None,
                    tenant: tenant.clone(),
                    mode: if incremental {
                        BackupMode::Incremental
                    } else {
                        BackupMode::Full
                    },
                    plus_archivelog: false,
                    method: strategy.spec.method,
                    logical: strategy.spec.logical.clone().filter(|_| logical),
                    cancel: false,
                },
            )
        })
        .collect()
}

/// The tenants "Back up Now" covers: `tenant` (which the strategy must cover: its list, or the tenants its
/// overview shows when it lists none and shows some), or with `all` every tenant of the strategy.
pub fn tenants_of(
    strategy: &BackupStrategy,
    tenant: Option<&str>,
    all: bool,
) -> Result<Vec<String>, String> {
    let listed = &strategy.spec.tenants;
    let known: Vec<String> = if listed.is_empty() {
        strategy
            .status
            .iter()
            .flat_map(|s| &s.tenants)
            .map(|t| t.name.clone())
            .collect()
    } else {
        listed.clone()
    };
    match (tenant, all) {
        (Some(_), true) => Err("use --tenant or --all-tenants, not both".into()),
        (None, false) => Err("name a tenant with --tenant, or use --all-tenants".into()),
        (Some(t), false)
            if !listed.is_empty() && !listed.iter().any(|l| l.eq_ignore_ascii_case(t)) =>
        {
            Err(format!(
                "BackupStrategy {} does not cover tenant {t} (it covers {})",
                strategy.name_any(),
                listed.join(", ")
            ))
        }
        (Some(t), false)
            if listed.is_empty()
                && !known.is_empty()
                && !known.iter().any(|k| k.eq_ignore_ascii_case(t)) =>
        {
            Err(format!(
                "BackupStrategy {} does not cover tenant {t} (its overview shows {})",
                strategy.name_any(),
                known.join(", ")
            ))
        }
        (Some(t), false) => Ok(vec![t.to_string()]),
        (None, true) if known.is_empty() => Err(format!(
            "BackupStrategy {} knows no tenant yet (its overview lists none)",
            strategy.name_any()
        )),
        (None, true) => Ok(known),
    }
}

/// `--timeout`'s duration, e.g. `30m`.
pub fn timeout(given: Option<&str>) -> Result<Option<Duration>, String> {
    given
        .map(|t| {
            ob_backup_operator::api::common::parse_duration(t)
                .and_then(|d| Duration::try_from(d).ok())
                .ok_or_else(|| format!("--timeout {t:?} is not a duration like 30m or 2h"))
        })
        .transpose()
}

/// How long `--wait` waits between reads.
const POLL: Duration = Duration::from_secs(2);

/// Reads with `read` until it has an answer (or an error), or `timeout` has passed (an error naming
/// `what` it waited for).
pub async fn until<T, F, Fut>(
    timeout: Option<Duration>,
    what: &str,
    mut read: F,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, String>>,
{
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        if let Some(answer) = read().await? {
            return Ok(answer);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(format!("gave up waiting for {what} after the timeout"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Creates `object` named by the second it was asked in; one that exists already (asked in the same second)
/// is read, not made again. Says which as `<kind>/<name> created|exists already`, with the object.
pub async fn create_once<K>(api: &Api<K>, object: &K) -> Result<(String, K), String>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let (name, kind) = (object.name_any(), K::kind(&()));
    let (said, there) = match api.create(&PostParams::default(), object).await {
        Ok(made) => ("created", made),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let there = api
                .get(&name)
                .await
                .map_err(|e| format!("cannot read {kind} {name}: {e}"))?;
            ("exists already (same second)", there)
        }
        Err(e) => return Err(format!("cannot create {kind} {name}: {e}")),
    };
    Ok((format!("{}/{name} {said}\n", kind.to_lowercase()), there))
}

/// Creates `tasks` ([`create_once`] each).
pub async fn create(api: &Api<BackupTask>, tasks: &[BackupTask]) -> Result<Reply, String> {
    let mut reply = Reply::default();
    for task in tasks {
        let (said, there) = create_once(api, task).await?;
        reply = reply.and(Reply::new(said)).with(&there)?;
    }
    Ok(reply)
}

/// Follows `names` until each has ended, saying each end (the tasks as they ended for scripts); an error
/// when any did not complete.
pub async fn wait(
    api: &Api<BackupTask>,
    names: &[String],
    clock: &Clock,
    timeout: Option<Duration>,
) -> Result<Reply, String> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut reply = Reply::default();
    let mut left: Vec<String> = names.to_vec();
    let mut failed = Vec::new();
    while !left.is_empty() {
        let tasks = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("cannot list backuptasks: {e}"))?
            .items;
        for task in &tasks {
            let name = task.name_any();
            let Some(status) = task.status.as_ref().filter(|_| left.contains(&name)) else {
                continue;
            };
            if !status.phase.is_some_and(is_terminal) {
                continue;
            }
            let phase = status.phase.map(|p| format!("{p:?}")).unwrap_or_default();
            let said = format!(
                "backuptask/{name} {phase} at {}\n",
                clock.show(status.ended_at.as_ref())
            );
            reply = reply.and(Reply::new(said)).with(task)?;
            if status.phase != Some(BackupTaskPhase::Completed) {
                failed.push(name.clone());
            }
            left.retain(|l| *l != name);
        }
        if !left.is_empty() {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Err(format!(
                    "{}still running after the timeout: {}",
                    reply.text,
                    left.join(", ")
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
    if failed.is_empty() {
        Ok(reply)
    } else {
        Err(format!(
            "{}did not complete: {} (see `kubectl obbackup cause NAME`)",
            reply.text,
            failed.join(", ")
        ))
    }
}

/// Sets `spec.cancel` on the BackupTask, CleanupTask or RecoveryTask `name`.
pub async fn cancel(client: &kube::Client, namespace: &str, name: &str) -> Result<Reply, String> {
    use crate::cause::get;
    use kube::{core::DynamicObject, discovery::ApiResource};
    // A read that fails (forbidden, unreachable) is an error, not "no such task".
    let mut found: Vec<ApiResource> = Vec::new();
    if get::<BackupTask>(client, namespace, name).await?.is_some() {
        found.push(ApiResource::erase::<BackupTask>(&()));
    }
    if get::<CleanupTask>(client, namespace, name).await?.is_some() {
        found.push(ApiResource::erase::<CleanupTask>(&()));
    }
    if get::<RecoveryTask>(client, namespace, name)
        .await?
        .is_some()
    {
        found.push(ApiResource::erase::<RecoveryTask>(&()));
    }
    let kind = match found.as_slice() {
        [one] => one,
        [] => {
            return Err(format!(
                "no BackupTask, CleanupTask or RecoveryTask {name} in namespace {namespace}"
            ));
        }
        many => {
            let kinds: Vec<&str> = many.iter().map(|k| k.kind.as_str()).collect();
            return Err(format!(
                "{name} names a {}: cancel it with kubectl patch",
                kinds.join(" and a ")
            ));
        }
    };
    let cancelled = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, kind)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cancel": true}})),
        )
        .await
        .map_err(|e| format!("cannot cancel {name}: {e}"))?;
    Reply::new(format!(
        "{}/{name} cancel requested\n",
        kind.kind.to_lowercase()
    ))
    .with(&cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(tenants: &[&str], method: &str) -> BackupStrategy {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo"},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": tenants, "method": method,
                "logical": if method == "Logical" { json!({"credentialsSecret": "dumper"}) } else { json!(null) },
                "dataDestination": {"uri": "file:///d"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
        }))
        .expect("strategy")
    }

    #[test]
    fn back_up_now_makes_one_task_per_tenant_named_by_the_second() {
        let at: Timestamp = "2026-11-25T07:01:02.900Z".parse().expect("time");
        let strategy = strategy(&["tenant1", "Tenant_2"], "Physical");
        let tenants = tenants_of(&strategy, None, true).expect("all");
        let tasks = backup_now_tasks(&strategy, &tenants, false, at);
        let names: Vec<String> = tasks.iter().map(|t| t.name_any()).collect();
        assert_eq!(
            names,
            [
                "demo-tenant1-now-20261125-070102",
                "demo-tenant-2-now-20261125-070102"
            ]
        );
        assert_eq!(tasks[1].spec.tenant, "Tenant_2");
        assert_eq!(
            tasks[0].spec.strategy_ref.as_ref().map(|r| r.name.as_str()),
            Some("demo")
        );
        // Later in the same second: the same names; the next second: new ones.
        let again = backup_now_tasks(
            &strategy,
            &tenants,
            false,
            "2026-11-25T07:01:02.999Z".parse().expect("t"),
        );
        assert_eq!(again[0].name_any(), names[0]);
        let next = backup_now_tasks(
            &strategy,
            &tenants,
            true,
            "2026-11-25T07:01:03Z".parse().expect("t"),
        );
        assert_ne!(next[0].name_any(), names[0]);
        assert_eq!(next[0].spec.mode, BackupMode::Incremental);
    }

    #[test]
    fn a_logical_strategys_back_up_now_is_a_dump_and_tenants_are_checked() {
        let logical = strategy(&["tenant1"], "Logical");
        let tasks = backup_now_tasks(&logical, &["tenant1".into()], false, Timestamp::UNIX_EPOCH);
        assert_eq!(tasks[0].spec.method, BackupMethod::Logical);
        assert!(tasks[0].spec.logical.is_some());
        for (tenant, all, says) in [
            (Some("tenant9"), false, "does not cover tenant tenant9"),
            (None, false, "name a tenant"),
            (Some("tenant1"), true, "not both"),
        ] {
            let error = tenants_of(&logical, tenant, all).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
        assert_eq!(
            tenants_of(&logical, Some("TENANT1"), false).expect("any case"),
            ["TENANT1"]
        );
        let every = strategy(&[], "Physical");
        assert!(
            tenants_of(&every, None, true)
                .expect_err("none known")
                .contains("knows no tenant")
        );
    }
}
