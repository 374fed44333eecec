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
    cleanup_task::CleanupTaskPhase,
    common::StrategyReference,
};
use serde_json::json;

use crate::render::{Reply, TimeFormat};

/// The BackupTasks "Back up Now" makes for `tenants` of `strategy` at `now`: one per tenant, named
/// `<strategy>-<tenant>-now-<UTC second>` (an incremental's `-now-inc-<UTC second>`) — two clicks in the same
/// second make the same names, so the second makes nothing; a full and an incremental never share one. A
/// logical strategy's dump is always whole: an incremental is refused.
pub fn backup_now_tasks(
    strategy: &BackupStrategy,
    tenants: &[String],
    incremental: bool,
    now: Timestamp,
) -> Result<Vec<BackupTask>, String> {
    if incremental && strategy.spec.method == BackupMethod::Logical {
        return Err(format!(
            "BackupStrategy {} is Logical: its dumps are always whole, --incremental does not apply; \
             nothing was created",
            strategy.name_any()
        ));
    }
    let stamp = now.strftime("%Y%m%d-%H%M%S").to_string();
    let suffix = if incremental {
        format!("now-inc-{stamp}")
    } else {
        format!("now-{stamp}")
    };
    let logical = strategy.spec.method == BackupMethod::Logical;
    Ok(tenants
        .iter()
        .map(|tenant| {
            let name = ob_backup_operator::names::child_name(&strategy.name_any(), tenant, &suffix);
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
                    logical: strategy
                        .spec
                        .logical
                        .clone()
                        .filter(|_| logical)
                        .map(Box::new),
                    job_id: None,
                    cancel: false,
                    second_copy: None,
                },
            )
        })
        .collect())
}

/// The strategies of `cluster` (its display name) among `strategies`: "Back up Now for Current Cluster".
pub fn of_cluster(
    mut strategies: Vec<BackupStrategy>,
    cluster: &str,
) -> Result<Vec<BackupStrategy>, String> {
    strategies.retain(|s| s.spec.cluster.name == cluster);
    if strategies.is_empty() {
        return Err(format!(
            "no BackupStrategy of cluster {cluster}: nothing was created"
        ));
    }
    Ok(strategies)
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
pub const POLL: Duration = Duration::from_secs(2);

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
/// and asks for the same is read, not made again. Says which as `<kind>/<name> created|exists already`, with
/// the object. One of that name that asks for something else (another mode, tenant or target) is an error:
/// what was asked was not made.
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
            let differs = spec_differences(&there, object)?;
            if !differs.is_empty() {
                return Err(format!(
                    "{kind} {name} exists already and asks for something else ({}); nothing was created: \
                     ask again in a moment (names are made from the second)",
                    differs.join("; ")
                ));
            }
            ("exists already (same second)", there)
        }
        Err(e) => return Err(format!("cannot create {kind} {name}: {e}")),
    };
    Ok((format!("{}/{name} {said}\n", kind.to_lowercase()), there))
}

/// The fields of `spec` in which `there` differs from `asked`, as `field: there's (asked: asked's)`; none
/// when they ask for the same. A field one leaves out and the other sets to null is the same.
pub fn spec_differences<K: serde::Serialize>(there: &K, asked: &K) -> Result<Vec<String>, String> {
    let spec = |object: &K| -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
        Ok(value["spec"].as_object().cloned().unwrap_or_default())
    };
    let (there, asked) = (spec(there)?, spec(asked)?);
    let mut fields: Vec<&String> = there.keys().chain(asked.keys()).collect();
    fields.sort();
    fields.dedup();
    let null = serde_json::Value::Null;
    Ok(fields
        .into_iter()
        .filter_map(|field| {
            let (theirs, ours) = (
                there.get(field).unwrap_or(&null),
                asked.get(field).unwrap_or(&null),
            );
            (theirs != ours).then(|| format!("{field}: {theirs} (asked: {ours})"))
        })
        .collect())
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
    clock: &TimeFormat,
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
            if !status.phase.is_some_and(BackupTaskPhase::is_terminal) {
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

/// A task `cancel` can name: its kind, where it stands, and the object as read.
#[derive(Debug)]
pub struct Cancelable {
    pub kind: kube::discovery::ApiResource,
    pub phase: Option<String>,
    /// Its phase never changes again (the operator's own rule for each kind).
    pub ended: bool,
    /// `spec.cancel` is set already.
    pub asked: bool,
    pub object: kube::core::DynamicObject,
}

impl Cancelable {
    fn of<K>(task: &K, phase: Option<String>, ended: bool, asked: bool) -> Result<Self, String>
    where
        K: kube::Resource<DynamicType = ()> + serde::Serialize,
    {
        let value = serde_json::to_value(task).map_err(|e| e.to_string())?;
        Ok(Self {
            kind: kube::discovery::ApiResource::erase::<K>(&()),
            phase,
            ended,
            asked,
            object: serde_json::from_value(value).map_err(|e| e.to_string())?,
        })
    }

    pub fn backup(task: &BackupTask) -> Result<Self, String> {
        let phase = task.status.as_ref().and_then(|s| s.phase);
        Self::ended_as(task, phase, BackupTaskPhase::is_terminal, task.spec.cancel)
    }

    pub fn cleanup(task: &CleanupTask) -> Result<Self, String> {
        let phase = task.status.as_ref().and_then(|s| s.phase);
        Self::ended_as(task, phase, CleanupTaskPhase::is_terminal, task.spec.cancel)
    }

    /// A task whose phase `terminal` tells ended or not.
    fn ended_as<K, P>(
        task: &K,
        phase: Option<P>,
        terminal: fn(P) -> bool,
        asked: bool,
    ) -> Result<Self, String>
    where
        K: kube::Resource<DynamicType = ()> + serde::Serialize,
        P: Copy + std::fmt::Debug,
    {
        let ended = phase.is_some_and(terminal);
        Self::of(task, phase.map(|p| format!("{p:?}")), ended, asked)
    }

    pub fn recovery(task: &RecoveryTask) -> Result<Self, String> {
        let phase = task.status.as_ref().and_then(|s| s.phase);
        let ended = recovery_ended(task);
        Self::of(
            task,
            phase.map(|p| format!("{p:?}")),
            ended,
            task.spec.cancel,
        )
    }

    /// Why cancel does nothing to it, if so: it has ended.
    pub fn refusal(&self) -> Option<String> {
        let name = self.object.metadata.name.clone().unwrap_or_default();
        self.ended.then(|| {
            format!(
                "{} {name} already {}; nothing to cancel",
                self.kind.kind,
                self.phase.as_deref().unwrap_or("ended")
            )
        })
    }
}

/// Whether a RecoveryTask has ended for good, by the operator's rule: a Failed one with a retry asked for and
/// not yet taken up has not (its next attempt is coming, and can be canceled).
pub fn recovery_ended(task: &RecoveryTask) -> bool {
    use ob_backup_operator::api::recovery_task::RecoveryTaskPhase;
    let Some(status) = &task.status else {
        return false;
    };
    let retrying = status.phase == Some(RecoveryTaskPhase::Failed)
        && status.observed_retry.unwrap_or(0) < task.spec.retry;
    status.phase.is_some_and(RecoveryTaskPhase::is_terminal) && !retrying
}

/// The BackupTask, CleanupTask or RecoveryTask `name` (a read that fails — forbidden, unreachable — is an
/// error, not "no such task").
async fn cancelable(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Cancelable, String> {
    use crate::cause::get;
    let mut found: Vec<Cancelable> = Vec::new();
    if let Some(task) = get::<BackupTask>(client, namespace, name).await? {
        found.push(Cancelable::backup(&task)?);
    }
    if let Some(task) = get::<CleanupTask>(client, namespace, name).await? {
        found.push(Cancelable::cleanup(&task)?);
    }
    if let Some(task) = get::<RecoveryTask>(client, namespace, name).await? {
        found.push(Cancelable::recovery(&task)?);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "no BackupTask, CleanupTask or RecoveryTask {name} in namespace {namespace}"
        )),
        _ => {
            let kinds: Vec<&str> = found.iter().map(|k| k.kind.kind.as_str()).collect();
            Err(format!(
                "{name} names a {}: cancel it with kubectl patch",
                kinds.join(" and a ")
            ))
        }
    }
}

/// Sets `spec.cancel` on the BackupTask, CleanupTask or RecoveryTask `name`; refused for a task that has
/// ended (nothing to cancel, and `spec.cancel` cannot be unset). The write names the version read, so a
/// task that ends meanwhile is read again, not canceled after its end.
pub async fn cancel(client: &kube::Client, namespace: &str, name: &str) -> Result<Reply, String> {
    use kube::core::DynamicObject;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let task = cancelable(client, namespace, name).await?;
        if let Some(refusal) = task.refusal() {
            return Err(refusal);
        }
        let kind = task.kind.kind.to_lowercase();
        if task.asked {
            return Reply::new(format!(
                "{kind}/{name} cancel already requested, the task has not ended yet\n"
            ))
            .with(&task.object);
        }
        let patch = json!({
            "metadata": {"resourceVersion": task.object.metadata.resource_version},
            "spec": {"cancel": true},
        });
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &task.kind);
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(cancelled) => {
                return Reply::new(format!("{kind}/{name} cancel requested\n")).with(&cancelled);
            }
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 5 => continue,
            Err(e) => return Err(format!("cannot cancel {name}: {e}")),
        }
    }
}

/// Reads BackupStrategy `name` and applies the merge patch `change` asks of it (`None`: it already says so)
/// under the version read, so that a change someone else made in between is never overwritten: on a
/// conflict the patch is made again from the newer strategy, at most five times. Returns the strategy
/// (as changed, or as read) and whether this changed it.
pub async fn change_strategy(
    api: &Api<BackupStrategy>,
    name: &str,
    change: impl Fn(&BackupStrategy) -> Result<Option<serde_json::Value>, String>,
) -> Result<(BackupStrategy, bool), String> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let strategy = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read BackupStrategy {name}: {e}"))?
            .ok_or_else(|| {
                let namespace = api.namespace().unwrap_or_default();
                format!("no BackupStrategy {name} in namespace {namespace}")
            })?;
        let Some(mut patch) = change(&strategy)? else {
            return Ok((strategy, false));
        };
        patch["metadata"]["resourceVersion"] = json!(strategy.resource_version());
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(changed) => return Ok((changed, true)),
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 5 => continue,
            Err(e) => return Err(format!("cannot change BackupStrategy {name}: {e}")),
        }
    }
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
        let tasks = backup_now_tasks(&strategy, &tenants, false, at).expect("tasks");
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
        )
        .expect("tasks");
        assert_eq!(again[0].name_any(), names[0]);
        // An incremental in the same second as a full is another task, never the full one.
        let incremental = backup_now_tasks(
            &strategy,
            &tenants,
            true,
            "2026-11-25T07:01:02.950Z".parse().expect("t"),
        )
        .expect("tasks");
        assert_eq!(
            incremental[0].name_any(),
            "demo-tenant1-now-inc-20261125-070102"
        );
        assert_eq!(incremental[0].spec.mode, BackupMode::Incremental);
        let next = backup_now_tasks(
            &strategy,
            &tenants,
            true,
            "2026-11-25T07:01:03Z".parse().expect("t"),
        )
        .expect("tasks");
        assert_ne!(next[0].name_any(), names[0]);
        assert_eq!(next[0].spec.mode, BackupMode::Incremental);
    }

    #[test]
    fn back_up_now_for_a_cluster_takes_its_strategies_and_refuses_an_unknown_one() {
        let mut other = strategy(&["tenant9"], "Physical");
        other.spec.cluster.name = "elsewhere".into();
        let mut second = strategy(&["tenant2"], "Physical");
        second.metadata.name = Some("second".into());
        let all = vec![strategy(&["tenant1"], "Physical"), other, second];
        let found = of_cluster(all.clone(), "ob").expect("two strategies");
        let names: Vec<String> = found.iter().map(|s| s.name_any()).collect();
        assert_eq!(names, ["demo", "second"]);
        let at = Timestamp::UNIX_EPOCH;
        let tasks: Vec<String> = found
            .iter()
            .flat_map(|s| {
                let tenants = tenants_of(s, None, true).expect("tenants");
                backup_now_tasks(s, &tenants, false, at).expect("tasks")
            })
            .map(|t| t.name_any())
            .collect();
        assert_eq!(
            tasks,
            [
                "demo-tenant1-now-19700101-000000",
                "second-tenant2-now-19700101-000000"
            ]
        );
        let refused = of_cluster(all, "nowhere").expect_err("no strategy of that cluster");
        assert!(refused.contains("nothing was created"), "{refused}");
    }

    #[test]
    fn a_logical_strategys_back_up_now_is_a_dump_and_tenants_are_checked() {
        let logical = strategy(&["tenant1"], "Logical");
        let tasks = backup_now_tasks(&logical, &["tenant1".into()], false, Timestamp::UNIX_EPOCH)
            .expect("a dump");
        assert_eq!(tasks[0].spec.method, BackupMethod::Logical);
        assert!(tasks[0].spec.logical.is_some());
        let incremental =
            backup_now_tasks(&logical, &["tenant1".into()], true, Timestamp::UNIX_EPOCH)
                .expect_err("a dump is whole");
        assert!(
            incremental.contains("is Logical: its dumps are always whole"),
            "{incremental}"
        );
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

    fn task_in<K: serde::de::DeserializeOwned>(
        kind: &str,
        spec: serde_json::Value,
        status: serde_json::Value,
    ) -> K {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": kind,
            "metadata": {"name": "t1", "resourceVersion": "7"}, "spec": spec, "status": status,
        }))
        .expect(kind)
    }

    #[test]
    fn a_task_that_has_ended_has_nothing_to_cancel() {
        let backup = |phase: &str| -> BackupTask {
            task_in(
                "BackupTask",
                json!({"strategyRef": {"name": "demo"}, "tenant": "tenant1", "mode": "Full"}),
                json!({"phase": phase}),
            )
        };
        let done = Cancelable::backup(&backup("Completed")).expect("read");
        assert_eq!(
            done.refusal().as_deref(),
            Some("BackupTask t1 already Completed; nothing to cancel")
        );
        let running = Cancelable::backup(&backup("InProgress")).expect("read");
        assert_eq!(running.refusal(), None);
        assert!(!running.asked);
        let cleanup: CleanupTask = task_in(
            "CleanupTask",
            json!({"strategyRef": {"name": "demo"}, "tenant": "tenant1", "target": {"obsolete": true}, "cancel": true}),
            json!({"phase": "Canceled"}),
        );
        let canceled = Cancelable::cleanup(&cleanup).expect("read");
        assert_eq!(
            canceled.refusal().as_deref(),
            Some("CleanupTask t1 already Canceled; nothing to cancel")
        );
        // A failed recovery has ended — unless a retry is asked for and not yet taken up.
        let recovery = |retry: i64, observed: i64| -> RecoveryTask {
            task_in(
                "RecoveryTask",
                json!({"source": {"tenant": "tenant1", "strategyRef": {"name": "demo"}},
                       "target": {"tenant": "r1", "cluster": {"name": "ob", "connectionSecret": "ob"}},
                       "until": {"latest": true}, "retry": retry}),
                json!({"phase": "Failed", "observedRetry": observed}),
            )
        };
        let failed = Cancelable::recovery(&recovery(1, 1)).expect("read");
        assert!(
            failed
                .refusal()
                .is_some_and(|r| r == "RecoveryTask t1 already Failed; nothing to cancel")
        );
        let retrying = Cancelable::recovery(&recovery(2, 1)).expect("read");
        assert_eq!(retrying.refusal(), None, "its next attempt can be canceled");
        assert_eq!(
            retrying.object.metadata.resource_version.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn an_object_of_the_same_name_that_asks_for_something_else_is_named_as_such() {
        let strategy = strategy(&["tenant1"], "Physical");
        let at: Timestamp = "2026-11-25T07:01:02Z".parse().expect("time");
        let full = backup_now_tasks(&strategy, &["tenant1".into()], false, at)
            .expect("tasks")
            .remove(0);
        let mut incremental = full.clone();
        incremental.spec.mode = BackupMode::Incremental;
        assert_eq!(
            spec_differences(&full, &incremental).expect("compared"),
            ["mode: \"Full\" (asked: \"Incremental\")"]
        );
        assert!(
            spec_differences(&full, &full.clone())
                .expect("compared")
                .is_empty()
        );
        // As the API server gives it back: fields it fills in with their defaults ask for nothing else.
        let mut read: BackupTask =
            serde_json::from_value(serde_json::to_value(&full).expect("JSON")).expect("back");
        read.metadata.uid = Some("u".into());
        assert!(spec_differences(&read, &full).expect("compared").is_empty());
    }

    /// Another writer's change between the read and the patch is never overwritten: here `log stop` of
    /// tenant1 computed its list of stopped tenants while someone stopped Tenant2. The stale patch (it
    /// would have written [tenant1] over [Tenant2]) is refused (409) and made again from the newer
    /// strategy, so both stand.
    #[tokio::test]
    async fn a_change_made_meanwhile_by_another_writer_is_kept() {
        use crate::log::{LogAction, stopped_patch};
        let api = crate::fixtures::FakeApi::default();
        let path = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backupstrategies/demo";
        let mut stored = serde_json::to_value(crate::fixtures::strategy(json!({}))).expect("JSON");
        stored["metadata"]["resourceVersion"] = json!("1");
        api.put(path, stored);
        let strategies: Api<BackupStrategy> = Api::namespaced(api.client(), "ns");
        let looks = std::sync::atomic::AtomicUsize::new(0);
        let stop = |strategy: &BackupStrategy| {
            if looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                let mut theirs = serde_json::to_value(strategy).expect("JSON");
                theirs["spec"]["logBackup"]["stoppedTenants"] = json!(["Tenant2"]);
                theirs["metadata"]["resourceVersion"] = json!("2");
                api.put(path, theirs);
            }
            stopped_patch(strategy, LogAction::Stop, "tenant1")
        };
        let (changed, wrote) = change_strategy(&strategies, "demo", stop)
            .await
            .expect("changed");
        assert!(wrote);
        assert_eq!(
            changed.spec.log_backup.stopped_tenants,
            ["Tenant2", "tenant1"],
            "theirs and ours"
        );
        let patches = api.writes();
        assert_eq!(
            patches.len(),
            2,
            "the stale patch, then the one from the newer read: {patches:?}"
        );
        // Asked again, nothing is written.
        let again = |s: &BackupStrategy| stopped_patch(s, LogAction::Stop, "tenant1");
        let (_, wrote) = change_strategy(&strategies, "demo", again)
            .await
            .expect("read");
        assert!(!wrote);
        assert_eq!(api.writes().len(), 2);
    }
}
