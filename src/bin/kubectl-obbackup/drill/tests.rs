//! `drill run`'s tests, against the in-memory API server.

use clap::Parser;
use ob_backup_operator::drill::{DRILL_TENANT_LABEL, task};
use serde_json::{Value, json};

use super::*;
use crate::fixtures::{FakeApi, drill_strategy, drill_task, recovery_path, strategy};

const RECOVERIES: &str = "/apis/obbackup.dev/v1alpha1/namespaces/ns/recoverytasks";
const AT: &str = "2026-11-25T09:10:10Z";

fn at(text: &str) -> Timestamp {
    text.parse().expect("a time")
}

/// `kubectl obbackup drill run demo <line>`, parsed.
fn args(line: &str) -> RunArgs {
    let words = ["kubectl-obbackup", "drill", "run", "demo"]
        .into_iter()
        .chain(line.split_whitespace());
    match crate::Cli::try_parse_from(words).expect("parsed").command {
        crate::Command::Drill {
            command: DrillCommand::Run(args),
        } => args,
        other => panic!("{other:?}"),
    }
}

/// Runs `drill run demo <line>` at [`AT`] against `api`: the reply (or error) and the lines reported.
async fn run_at(
    api: &FakeApi,
    strategy: &BackupStrategy,
    line: &str,
) -> (Result<Reply, String>, String) {
    let mut said = String::new();
    let mut report = |line: &str| said.push_str(line);
    let clock = TimeFormat::new(true);
    let reply = run(
        &api.client(),
        "ns",
        strategy,
        args(line),
        at(AT),
        &clock,
        &mut report,
    )
    .await;
    (reply, said)
}

/// Stores `task` in `api`.
fn put(api: &FakeApi, task: &RecoveryTask) {
    let value = serde_json::to_value(task).expect("JSON");
    api.put(&recovery_path(&task.name_any()), value);
}

#[tokio::test]
async fn a_strategy_without_a_drill_is_refused_and_nothing_is_made() {
    let mut plain = strategy(json!({}));
    plain.metadata.namespace = Some("ns".into());
    let api = FakeApi::default();
    let (reply, _) = run_at(&api, &plain, "--tenant tenant1").await;
    let error = reply.expect_err("refused");
    assert_eq!(
        error,
        "BackupStrategy demo declares no restore drill: add spec.restoreDrill (a schedule, a target and \
         credentialsSecret) first; nothing was created"
    );
    assert!(api.writes().is_empty(), "{:?}", api.writes());
}

#[test]
fn tenants_default_to_the_drills_then_the_strategys_then_the_overviews() {
    let listed = drill_strategy(json!({"tenants": ["Tenant2"]}));
    assert_eq!(tenants(&listed, &[]).expect("the drill's"), ["Tenant2"]);
    let every = drill_strategy(json!({}));
    assert_eq!(
        tenants(&every, &[]).expect("the strategy's"),
        ["tenant1", "Tenant2"]
    );
    let mut seen = every.clone();
    seen.spec.tenants.clear();
    seen.status = serde_json::from_value(json!({"tenants": [{"name": "sales"}]})).expect("status");
    assert_eq!(tenants(&seen, &[]).expect("the overview's"), ["sales"]);
    seen.status = None;
    assert!(
        tenants(&seen, &[])
            .expect_err("none known")
            .contains("knows no tenant yet")
    );
    // Asked ones: covered by the strategy, spelled as it spells them, each once.
    let asked = ["TENANT2".to_string(), "tenant2".into(), "tenant1".into()];
    assert_eq!(
        tenants(&every, &asked).expect("asked"),
        ["Tenant2", "tenant1"]
    );
    let error = tenants(&every, &["tenant9".into()]).expect_err("not covered");
    assert!(error.contains("does not cover tenant tenant9"), "{error}");
}

#[tokio::test]
async fn a_run_makes_the_librarys_task_once_per_tenant_and_again_is_the_same_object() {
    let strategy = drill_strategy(json!({}));
    let api = FakeApi::default();
    let (first, _) = run_at(&api, &strategy, "").await;
    let first = first.expect("made");
    let names = [
        "demo-tenant1-drill-now-20261125-091010",
        "demo-tenant2-drill-now-20261125-091010",
    ];
    assert_eq!(
        first.text,
        format!(
            "recoverytask/{} created: tenant tenant1 into scratch tenant drill_tenant1_20261125091010_5130, to \
             the newest restorable point\nrecoverytask/{} created: tenant Tenant2 into scratch tenant \
             drill_tenant2_20261125091010_5130, to the newest restorable point\n",
            names[0], names[1]
        )
    );
    // Exactly what the library builds: name, scratch tenant, point, owner and labels.
    let stored = api.get(&recovery_path(names[1])).expect("stored");
    let mut expected = serde_json::to_value(
        task(&strategy, "Tenant2", at(AT), Asked::Manual, None).expect("a drill"),
    )
    .expect("JSON");
    expected["metadata"]["resourceVersion"] = json!("1");
    expected["metadata"]["generation"] = json!(1);
    assert_eq!(stored, expected);
    assert_eq!(stored["metadata"]["ownerReferences"][0]["uid"], "demo-uid");
    assert_eq!(stored["metadata"]["labels"][DRILL_TENANT_LABEL], "tenant2");
    // Again in the same second: the same objects, found, not made twice, and not taken for running drills.
    let (again, _) = run_at(&api, &strategy, "").await;
    let again = again.expect("the same");
    assert!(
        again.text.starts_with(&format!(
            "recoverytask/{} exists already (same second): ",
            names[0]
        )),
        "{}",
        again.text
    );
    let posts: Vec<String> = api.writes();
    assert_eq!(posts, vec![format!("POST {RECOVERIES}"); 4]);
    assert_eq!(
        api.get(&recovery_path(names[0]))
            .map(|t| t["metadata"]["resourceVersion"].clone()),
        Some(json!("1"))
    );
}

#[tokio::test]
async fn a_drill_still_running_refuses_another_of_its_tenant() {
    let strategy = drill_strategy(json!({}));
    let api = FakeApi::default();
    let earlier = "2026-11-25T03:00:00Z";
    put(
        &api,
        &drill_task(
            &strategy,
            "tenant1",
            earlier,
            Asked::Schedule,
            json!({"phase": "Verifying"}),
        ),
    );
    put(
        &api,
        &drill_task(
            &strategy,
            "Tenant2",
            earlier,
            Asked::Schedule,
            json!({"phase": "Failed"}),
        ),
    );
    let (reply, _) = run_at(&api, &strategy, "").await;
    let error = reply.expect_err("refused");
    assert_eq!(
        error,
        "a drill of tenant tenant1 is still running: recoverytask/demo-tenant1-drill-20261125-030000 is \
         Verifying; follow it with `kubectl obbackup drill list demo` or cancel it with `kubectl obbackup \
         cancel demo-tenant1-drill-20261125-030000`; nothing was created"
    );
    assert!(
        !api.writes().iter().any(|w| w.starts_with("POST")),
        "nothing made for any tenant: {:?}",
        api.writes()
    );
    // The other tenant's last drill has ended: it may run.
    let (reply, _) = run_at(&api, &strategy, "--tenant tenant2").await;
    assert!(
        reply
            .expect("made")
            .text
            .contains("created: tenant Tenant2")
    );
}

fn failed() -> Value {
    json!({"phase": "Failed", "source": "Drill", "endedAt": "2026-11-25T09:40:00Z",
           "drill": {"verdict": "Failed", "message": "check orders failed: returned 0, expected 1", "dropped": true,
                     "checks": [{"name": "opens", "passed": true, "message": "SELECT 1 answered"},
                                {"name": "orders", "passed": false, "message": "returned 0, expected 1"}]}})
}

#[tokio::test]
async fn wait_ends_with_the_verdict_and_a_failed_drill_names_its_failed_checks() {
    let strategy = drill_strategy(json!({}));
    let api = FakeApi::default();
    // The drill of this second has already ended (made by the same command a moment ago).
    let name = "demo-tenant1-drill-now-20261125-091010";
    put(
        &api,
        &drill_task(&strategy, "tenant1", AT, Asked::Manual, failed()),
    );
    let (reply, said) = run_at(&api, &strategy, "--tenant tenant1 --wait").await;
    let error = reply.expect_err("failed");
    assert_eq!(
        error,
        format!("1 of 1 drills did not pass: {name} (see `kubectl obbackup cause NAME`)")
    );
    assert!(
        said.ends_with(&format!(
            "recoverytask/{name} Failed at 2026-11-25 09:40:00 UTC: drill failed: check orders failed: \
             returned 0, expected 1\n  ✗ check orders: returned 0, expected 1\n"
        )),
        "{said}"
    );
    assert!(!said.contains("check opens"), "{said}");
    // Passed: the reply names it, with the task for scripts.
    let passed = json!({"phase": "Completed", "endedAt": "2026-11-25T09:40:00Z",
                        "drill": {"verdict": "Passed", "message": "restored and every check passed (1 checks)"}});
    put(
        &api,
        &drill_task(&strategy, "tenant1", AT, Asked::Manual, passed),
    );
    let (reply, said) = run_at(&api, &strategy, "--tenant tenant1 --wait").await;
    let reply = reply.expect("passed");
    assert_eq!(reply.text, format!("every drill passed: {name}\n"));
    assert!(
        said.contains("drill passed: restored and every check passed"),
        "{said}"
    );
    let json = reply.show(crate::render::Format::Json).expect("json");
    assert!(json.contains("\"verdict\": \"Passed\""), "{json}");
}

#[test]
fn following_says_each_phase_once_and_each_end() {
    let strategy = drill_strategy(json!({}));
    let names = [
        "demo-tenant1-drill-now-20261125-091010".to_string(),
        "demo-tenant2-drill-now-20261125-091010".to_string(),
    ];
    let clock = TimeFormat::new(true);
    let mut follow = Follow::new(&names);
    let look = |follow: &mut Follow, one: Value, two: Value| {
        let drills = [
            drill_task(&strategy, "tenant1", AT, Asked::Manual, one),
            drill_task(&strategy, "Tenant2", AT, Asked::Manual, two),
        ];
        follow.look(&drills, &clock)
    };
    assert_eq!(
        look(&mut follow, json!(null), json!(null)),
        "",
        "no status yet"
    );
    assert_eq!(
        look(
            &mut follow,
            json!({"phase": "Pending"}),
            json!({"phase": "InProgress"})
        ),
        format!(
            "recoverytask/{} Pending\nrecoverytask/{} InProgress\n",
            names[0], names[1]
        )
    );
    assert_eq!(
        look(
            &mut follow,
            json!({"phase": "Pending"}),
            json!({"phase": "InProgress"})
        ),
        "",
        "nothing changed"
    );
    for phase in ["Activating", "Verifying", "Dropping"] {
        assert_eq!(
            look(
                &mut follow,
                json!({"phase": phase}),
                json!({"phase": "InProgress"})
            ),
            format!("recoverytask/{} {phase}\n", names[0])
        );
    }
    let ended = look(
        &mut follow,
        json!({"phase": "Completed", "endedAt": "2026-11-25T09:30:00Z",
               "drill": {"verdict": "Passed", "message": "restored and every check passed (2 checks)"}}),
        failed(),
    );
    assert_eq!(
        ended,
        format!(
            "recoverytask/{} Completed at 2026-11-25 09:30:00 UTC: drill passed: restored and every check \
             passed (2 checks)\nrecoverytask/{} Failed at 2026-11-25 09:40:00 UTC: drill failed: check \
             orders failed: returned 0, expected 1\n  ✗ check orders: returned 0, expected 1\n",
            names[0], names[1]
        )
    );
    assert!(follow.done());
    let error = follow.verdict().expect_err("one failed");
    assert!(
        error.starts_with(&format!("1 of 2 drills did not pass: {}", names[1])),
        "{error}"
    );
    // A drill deleted while followed ends the wait as not passed.
    let mut follow = Follow::new(&names[..1]);
    look(&mut follow, json!({"phase": "InProgress"}), json!(null));
    assert_eq!(
        follow.look(&[], &clock),
        format!("recoverytask/{} was deleted before it ended\n", names[0])
    );
    assert!(follow.done() && follow.verdict().is_err());
}
