//! `import obtenantbackuppolicy NAME --handover`: moves a tenant from ob-operator's backup policy to the
//! imported BackupStrategy without stopping its log archiving (docs/guide/ob-operator-import.md).
//!
//! Deleting a live policy the ordinary way runs ob-operator's finalizer, which sends `NOARCHIVELOG`: a gap
//! in the recoverable window. The handover never lets that finalizer run:
//!
//! 1. refuses a policy that holds no running archive it can hand over cleanly (its `status.status` is not
//!    RUNNING, MAINTAINING, PAUSED or PREPARED, or it is being deleted already), and one whose destinations
//!    would move unless that is allowed;
//! 2. has the API server check the strategy (a dry-run create): nothing is touched when it would refuse it;
//! 3. annotates the policy `oceanbase.oceanbase.com/pause-reconciling: "true"`: ob-operator stops touching it,
//!    and runs no finalizer of a paused object;
//! 4. deletes the policy and removes ob-operator's finalizer (only that one, by a merge patch made from the
//!    version read), then waits, to a deadline, until the policy is gone;
//! 5. creates the strategy, whose LogBackup finds archiving running at its own destination;
//! 6. optionally waits until that LogBackup is InProgress.

use std::time::Duration;

use kube::{
    Api, ResourceExt,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
};
use ob_backup_operator::{
    api::{BackupStrategy, LogBackup, log_backup::LogBackupPhase},
    names::log_backup_name,
    oboperator::{Kind, PAUSE_ANNOTATION, POLICY_FINALIZER, text},
};
use serde_json::json;

use crate::{
    actions,
    import::Imported,
    log,
    render::{Reply, TimeFormat},
};

/// The policy states that hold an archive that can be handed over as it runs.
pub const HANDOVER_STATES: &[&str] = &["RUNNING", "MAINTAINING", "PAUSED", "PREPARED"];

/// How long the deleted policy has to be gone by default.
pub const GONE_WITHIN: Duration = Duration::from_secs(120);

/// What the handover may do, and how long it waits.
#[derive(Clone, Debug)]
pub struct Options {
    /// Hand over even when the destinations move (a new full backup and archive round).
    pub allow_move: bool,
    /// Wait until the strategy's LogBackup of the tenant is InProgress.
    pub wait: bool,
    /// How long that wait may take (none: until it gets there).
    pub timeout: Option<Duration>,
    /// How long the deleted policy may take to be gone.
    pub gone_within: Duration,
}

/// Why `policy` cannot be handed over as `imported`, if it cannot.
pub fn refusal(policy: &DynamicObject, imported: &Imported, allow_move: bool) -> Option<String> {
    let name = policy.name_any();
    if policy.metadata.deletion_timestamp.is_some() {
        return Some(format!(
            "OBTenantBackupPolicy {name} is being deleted already: ob-operator's finalizer may be stopping \
             archiving; nothing to hand over"
        ));
    }
    let state = text(policy, &["status", "status"]).unwrap_or("(none)");
    if !HANDOVER_STATES.contains(&state) {
        return Some(format!(
            "OBTenantBackupPolicy {name} is {state}: only a policy {} holds an archive to hand over \
             (import it without --handover and apply the strategy once the policy is STOPPED)",
            HANDOVER_STATES.join(", ")
        ));
    }
    if !imported.moves.is_empty() && !allow_move {
        return Some(format!(
            "the destinations would move ({}): give --allow-move to hand over anyway (the strategy then \
             takes a new full backup and a new archive round at the new place)",
            imported.moves.join("; ")
        ));
    }
    None
}

/// Hands the tenant of `policy` over to `imported.strategy` (the steps in the module's comment), saying
/// each step to `report` as it is done. The reply says what was made, with the strategy (and its
/// LogBackup when waited for).
pub async fn handover(
    client: &kube::Client,
    policy: &DynamicObject,
    imported: &Imported,
    options: &Options,
    clock: &TimeFormat,
    report: &mut dyn FnMut(&str),
) -> Result<Reply, String> {
    if let Some(why) = refusal(policy, imported, options.allow_move) {
        return Err(why);
    }
    let namespace = policy.namespace().unwrap_or_default();
    let (name, strategy) = (policy.name_any(), &imported.strategy);
    let policies: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &Kind::ObTenantBackupPolicy.resource(),
    );
    let strategies: Api<BackupStrategy> = Api::namespaced(client.clone(), &namespace);
    check(&strategies, strategy, report).await?;
    pause(&policies, &name).await?;
    report(&format!(
        "obtenantbackuppolicy/{name}: annotated {PAUSE_ANNOTATION}=true (ob-operator leaves it alone)\n"
    ));
    retire(&policies, &name, options.gone_within, report)
        .await
        .map_err(|e| {
            format!(
                "{e}\nThe strategy to apply once the policy is gone:\n{}",
                crate::import::manifest(strategy, false).unwrap_or_default()
            )
        })?;
    let made = create(&strategies, strategy).await?;
    let said = handed_over(&made, imported, &name, options.wait);
    report(&said);
    if !options.wait {
        return Reply::new(said).with(&made);
    }
    let running = archiving(client, &namespace, &made, imported, options, clock).await?;
    report(&running.text);
    let now = strategies
        .get(&made.name_any())
        .await
        .map_err(|e| format!("cannot read BackupStrategy {}: {e}", made.name_any()))?;
    Ok(Reply::new(said).with(&now)?.and(running))
}

/// Step 2: the API server checks the strategy (a dry-run create).
async fn check(
    strategies: &Api<BackupStrategy>,
    strategy: &BackupStrategy,
    report: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    strategies
        .create(&dry_run, strategy)
        .await
        .map_err(|e| format!("the API server refuses the strategy (nothing was changed): {e}"))?;
    report(&format!(
        "backupstrategy/{}: the API server accepts it (dry run)\n",
        strategy.name_any()
    ));
    Ok(())
}

/// Step 5: the strategy created (the policy is gone by then: a refusal says what to apply).
async fn create(
    strategies: &Api<BackupStrategy>,
    strategy: &BackupStrategy,
) -> Result<BackupStrategy, String> {
    strategies
        .create(&PostParams::default(), strategy)
        .await
        .map_err(|e| {
            format!(
                "cannot create BackupStrategy {}: {e}. The policy is gone and archiving runs as ob-operator \
                 left it; apply this strategy once the cause is fixed:\n{}",
                strategy.name_any(),
                crate::import::manifest(strategy, false).unwrap_or_default()
            )
        })
}

/// The line saying the tenant was handed over from the policy `name` to the strategy `made`.
fn handed_over(made: &BackupStrategy, imported: &Imported, name: &str, wait: bool) -> String {
    format!(
        "backupstrategy/{} created: tenant {} handed over from obtenantbackuppolicy/{name} (ob-operator's stop \
         statements never ran){}\n",
        made.name_any(),
        imported.tenant,
        if wait {
            ""
        } else {
            "; --wait follows its LogBackup until it archives"
        }
    )
}

/// Step 6: waits until the strategy's LogBackup of the tenant is InProgress.
async fn archiving(
    client: &kube::Client,
    namespace: &str,
    made: &BackupStrategy,
    imported: &Imported,
    options: &Options,
    clock: &TimeFormat,
) -> Result<Reply, String> {
    let logs: Api<LogBackup> = Api::namespaced(client.clone(), namespace);
    let log_name = log_backup_name(&made.name_any(), &imported.tenant);
    log::until_phase(
        &logs,
        &log_name,
        LogBackupPhase::InProgress,
        clock,
        options.timeout,
    )
    .await
}

/// Step 3: the pause annotation.
async fn pause(policies: &Api<DynamicObject>, name: &str) -> Result<(), String> {
    let patch = json!({"metadata": {"annotations": {PAUSE_ANNOTATION: "true"}}});
    policies
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            format!("cannot annotate OBTenantBackupPolicy {name} (nothing was changed): {e}")
        })?;
    Ok(())
}

/// Step 4: deletes the paused policy, removes ob-operator's finalizer, and waits until it is gone.
async fn retire(
    policies: &Api<DynamicObject>,
    name: &str,
    gone_within: Duration,
    report: &mut dyn FnMut(&str),
) -> Result<(), String> {
    policies
        .delete(name, &DeleteParams::default())
        .await
        .map_err(|e| format!("cannot delete OBTenantBackupPolicy {name} (it is paused): {e}"))?;
    report(&format!(
        "obtenantbackuppolicy/{name}: deleted (paused: its finalizer does not run)\n"
    ));
    let left = drop_finalizer(policies, name).await?;
    report(&format!(
        "obtenantbackuppolicy/{name}: finalizer {POLICY_FINALIZER} removed (no NOARCHIVELOG is sent)\n"
    ));
    let what = match left.is_empty() {
        true => format!("obtenantbackuppolicy/{name} to be gone"),
        false => format!(
            "obtenantbackuppolicy/{name} to be gone (still held by finalizers {})",
            left.join(", ")
        ),
    };
    actions::until(Some(gone_within), &what, || async {
        let there = policies
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read OBTenantBackupPolicy {name}: {e}"))?;
        Ok(there.is_none().then_some(()))
    })
    .await
    .map_err(|e| {
        format!(
            "{e}: the policy is deleted and paused (archiving runs as ob-operator left it; never unpause it); \
             no strategy was created"
        )
    })?;
    report(&format!("obtenantbackuppolicy/{name}: gone\n"));
    Ok(())
}

/// Removes [`POLICY_FINALIZER`] from the policy, and only it: a merge patch of the finalizers read,
/// naming the version read (made again from a newer one when that changed). The finalizers left.
async fn drop_finalizer(policies: &Api<DynamicObject>, name: &str) -> Result<Vec<String>, String> {
    for _ in 0..5 {
        let Some(policy) = policies
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read OBTenantBackupPolicy {name}: {e}"))?
        else {
            return Ok(Vec::new());
        };
        let finalizers = policy.finalizers();
        if !finalizers.iter().any(|f| f == POLICY_FINALIZER) {
            return Ok(finalizers.to_vec());
        }
        let left: Vec<String> = finalizers
            .iter()
            .filter(|f| *f != POLICY_FINALIZER)
            .cloned()
            .collect();
        let patch = json!({"metadata": {
            "resourceVersion": policy.resource_version(),
            "finalizers": left,
        }});
        match policies
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok(left),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Vec::new()),
            Err(e) => {
                return Err(format!(
                    "cannot remove the finalizer of OBTenantBackupPolicy {name} (it is deleted and paused: \
                     remove {POLICY_FINALIZER} by hand, never unpause it): {e}"
                ));
            }
        }
    }
    Err(format!(
        "OBTenantBackupPolicy {name} kept changing: its finalizer {POLICY_FINALIZER} is still there (the \
         policy is deleted and paused: remove the finalizer by hand, never unpause it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures::FakeApi, import, import::tests::policy};
    use serde_json::Value;

    const POLICIES: &str =
        "/apis/oceanbase.oceanbase.com/v1alpha1/namespaces/ns/obtenantbackuppolicies";
    const STRATEGIES: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/backupstrategies";

    /// A fake API holding policy `p1` (COS data destination, `finalizers`), its OBCluster and the COS
    /// Secret (with access keys, which must never show).
    fn cluster_with(finalizers: &[&str], state: &str) -> FakeApi {
        let api = FakeApi::default();
        let mut p1 = policy(json!({"dataBackup": {"destination": {
            "type": "COS", "ossAccessSecret": "cos-keys", "path": "cos://b/data/t1?host=cos.example.com"}}}));
        p1.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
        p1.metadata.resource_version = Some("7".into());
        p1.data["status"]["status"] = json!(state);
        let p1 = serde_json::to_value(&p1).expect("policy");
        api.put(&format!("{POLICIES}/p1"), p1);
        let cluster = import::tests::sources(policy(json!({}))).cluster;
        api.put(
            "/apis/oceanbase.oceanbase.com/v1alpha1/namespaces/ns/obclusters/obc",
            serde_json::to_value(&cluster).expect("cluster"),
        );
        // accessId ID-AKIA1, accessKey KEY-S3CR3T, appId 125.
        api.put(
            "/api/v1/namespaces/ns/secrets/cos-keys",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cos-keys"},
                   "data": {"accessId": "SUQtQUtJQTE=", "accessKey": "S0VZLVMzQ1IzVA==", "appId": "MTI1"}}),
        );
        api
    }

    fn options(wait: bool, gone_within: Duration) -> Options {
        Options {
            allow_move: false,
            wait,
            timeout: Some(Duration::ZERO),
            gone_within,
        }
    }

    /// Reads, imports and hands over `p1`: the reply (or error) and the lines reported.
    async fn hand_over(api: &FakeApi, options: &Options) -> (Result<Reply, String>, String) {
        let client = api.client();
        let sources = import::sources::read(&client, "ns", "p1")
            .await
            .expect("read");
        let imported = import::import(&sources, None).expect("imported");
        let mut said = String::new();
        let mut report = |line: &str| said.push_str(line);
        let clock = TimeFormat::new(true);
        let reply = handover(
            &client,
            &sources.policy,
            &imported,
            options,
            &clock,
            &mut report,
        )
        .await;
        (reply, said)
    }

    #[tokio::test]
    async fn a_handover_pauses_deletes_drops_only_the_finalizer_then_creates() {
        let api = cluster_with(&[POLICY_FINALIZER], "RUNNING");
        let (reply, said) = hand_over(&api, &options(false, Duration::from_secs(5))).await;
        let reply = reply.expect("handed over");
        assert_eq!(
            api.writes(),
            vec![
                format!("POST {STRATEGIES} dry-run"),
                format!("PATCH {POLICIES}/p1"),
                format!("DELETE {POLICIES}/p1"),
                format!("PATCH {POLICIES}/p1"),
                format!("POST {STRATEGIES}"),
            ]
        );
        let patches: Vec<Value> = api
            .requests()
            .into_iter()
            .filter(|(line, _)| line.starts_with("PATCH"))
            .map(|(_, body)| body)
            .collect();
        assert_eq!(
            patches[0],
            json!({"metadata": {"annotations": {PAUSE_ANNOTATION: "true"}}})
        );
        // The finalizer patch names the version it was made from (the one after the annotation and the
        // delete): nothing another writer changed meanwhile is overwritten.
        assert_eq!(
            patches[1],
            json!({"metadata": {"resourceVersion": "8", "finalizers": []}})
        );
        assert_eq!(
            api.get(&format!("{POLICIES}/p1")),
            None,
            "the policy is gone"
        );
        let made: BackupStrategy =
            serde_json::from_value(api.get(&format!("{STRATEGIES}/p1")).expect("created"))
                .expect("a strategy");
        assert_eq!(
            made.spec.data_destination.uri,
            "cos://b/data?host=cos.example.com&appid=125"
        );
        assert_eq!(made.spec.tenants, vec!["T1".to_string()]);
        let steps: Vec<&str> = said.lines().collect();
        assert_eq!(steps.len(), 6, "{said}");
        for (step, expected) in steps.iter().zip([
            "the API server accepts it (dry run)",
            "annotated oceanbase.oceanbase.com/pause-reconciling=true",
            "deleted (paused",
            "finalizer obtenantbackuppolicy.finalizers.oceanbase.com removed",
            "obtenantbackuppolicy/p1: gone",
            "backupstrategy/p1 created: tenant T1 handed over",
        ]) {
            assert!(step.contains(expected), "{expected:?} not in {step:?}");
        }
        let json = reply.show(crate::render::Format::Json).expect("json");
        assert!(json.contains("\"kind\": \"BackupStrategy\""), "{json}");
        for shown in [&json, &said] {
            assert!(
                !shown.contains("KEY-S3CR3T") && !shown.contains("ID-AKIA1"),
                "{shown}"
            );
        }
    }

    #[tokio::test]
    async fn with_wait_the_reply_ends_with_the_running_log_backup() {
        let api = cluster_with(&[POLICY_FINALIZER], "PAUSED");
        let strategy = import::import(&import::tests::sources(policy(json!({}))), None)
            .expect("imported")
            .strategy;
        let name = log_backup_name(&strategy.name_any(), "T1");
        api.put(
            &format!("/apis/obbackup.dev/v1alpha1/namespaces/ns/logbackups/{name}"),
            json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
                   "metadata": {"name": name, "generation": 2},
                   "spec": {"strategyRef": {"name": "p1"}, "tenant": "T1", "desiredState": "Running"},
                   "status": {"phase": "InProgress", "observedGeneration": 2}}),
        );
        let (reply, said) = hand_over(&api, &options(true, Duration::from_secs(5))).await;
        let reply = reply.expect("handed over");
        assert!(
            reply.text.starts_with("backupstrategy/p1 created"),
            "{}",
            reply.text
        );
        assert!(
            reply
                .text
                .ends_with(&format!("logbackup/{name} InProgress\n")),
            "{}",
            reply.text
        );
        assert!(
            said.ends_with(&format!("logbackup/{name} InProgress\n")),
            "{said}"
        );
        let list: Value =
            serde_json::from_str(&reply.show(crate::render::Format::Json).expect("json"))
                .expect("parses");
        assert_eq!(list["items"][0]["kind"], "BackupStrategy");
        assert_eq!(list["items"][1]["kind"], "LogBackup");
    }

    #[tokio::test]
    async fn another_finalizer_is_left_and_named_when_the_policy_does_not_go() {
        let api = cluster_with(&["example.com/keep", POLICY_FINALIZER], "MAINTAINING");
        let (reply, _) = hand_over(&api, &options(false, Duration::ZERO)).await;
        let error = reply.expect_err("the policy stays");
        assert!(
            error.contains("still held by finalizers example.com/keep"),
            "{error}"
        );
        assert!(
            error.contains(
                "The strategy to apply once the policy is gone:\napiVersion: obbackup.dev/v1alpha1"
            ),
            "{error}"
        );
        let left = api.get(&format!("{POLICIES}/p1")).expect("still there");
        assert_eq!(left["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert!(
            !api.writes().contains(&format!("POST {STRATEGIES}")),
            "no strategy while the policy may still act"
        );
    }

    #[tokio::test]
    async fn refusals_change_nothing() {
        // A policy in a state with nothing to hand over: not one write.
        let api = cluster_with(&[POLICY_FINALIZER], "PREPARING");
        let (reply, _) = hand_over(&api, &options(false, Duration::ZERO)).await;
        let error = reply.expect_err("refused");
        assert!(
            error.contains("is PREPARING: only a policy RUNNING, MAINTAINING, PAUSED, PREPARED"),
            "{error}"
        );
        assert!(api.writes().is_empty(), "{:?}", api.writes());
        // The server refuses the strategy (one of that name exists): only the dry run was sent.
        let api = cluster_with(&[POLICY_FINALIZER], "RUNNING");
        api.put(
            &format!("{STRATEGIES}/p1"),
            json!({"metadata": {"name": "p1"}}),
        );
        let (reply, _) = hand_over(&api, &options(false, Duration::ZERO)).await;
        let error = reply.expect_err("refused");
        assert!(
            error.starts_with("the API server refuses the strategy (nothing was changed)"),
            "{error}"
        );
        assert_eq!(api.writes(), vec![format!("POST {STRATEGIES} dry-run")]);
        assert!(api.get(&format!("{POLICIES}/p1")).is_some());
    }

    #[test]
    fn moving_destinations_and_deleting_policies_are_refused() {
        let moving = import::import(
            &import::tests::sources(policy(
                json!({"dataBackup": {"destination": {"path": "ob/data"}}}),
            )),
            None,
        )
        .expect("imported");
        let p1 = policy(json!({}));
        let why = refusal(&p1, &moving, false).expect("refused");
        assert!(
            why.contains("the destinations would move") && why.contains("--allow-move"),
            "{why}"
        );
        assert_eq!(refusal(&p1, &moving, true), None);
        let mut deleting = p1.clone();
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        let why = refusal(&deleting, &moving, true).expect("refused");
        assert!(why.contains("being deleted already"), "{why}");
        let mut failed = p1;
        failed.data["status"]["status"] = json!("Failed");
        assert!(refusal(&failed, &moving, true).is_some_and(|w| w.contains("is Failed")));
    }
}
