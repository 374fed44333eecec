//! Beside ob-operator (docs/guide/ob-operator.md), on its real CRDs: a cluster reached through its
//! OBCluster and OBServers follows a moving observer without a second job or a false failure; the
//! wrong cluster behind an OBCluster is refused; a tenant an OBTenantBackupPolicy holds gets
//! nothing from us, whichever came first; two strategies in two namespaces on one cluster keep one
//! owner per tenant.

use ob_backup_operator::reason::Reason;
use ob_backup_operator::{
    api::{BackupStrategy, BackupTask, BackupTaskPhase},
    controller::status::StatusView,
    oboperator::Kind,
};
use obsim::model::default_cluster_id;
use serde_json::{Value, json};

use crate::support::{
    cluster::eventually,
    ob_operator::{beside, installed, listen, ob_server, policy, server_status, set_status},
    simulator::{self, connection_secret},
    world::{GIB, WAIT, World, strategy, strategy_backup_task},
};

/// A strategy over tenant1 reaching the cluster through OBCluster `ob_cluster`.
fn through(name: &str, ob_cluster: &str) -> Value {
    strategy(
        name,
        json!({"cluster": {"name": "obcluster", "obCluster": {"name": ob_cluster}}}),
    )
}

#[tokio::test]
async fn a_strategy_through_an_obcluster_follows_its_observer_to_a_new_address_mid_backup() {
    let Some(world) = beside(
        "obo-move",
        &["tenant1"],
        4 * GIB,
        5.0,
        default_cluster_id("obcluster"),
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    let first = listen(&world).await;
    ob_server(admin, ns, "test-zone1-a", "test", first, true).await;
    world.apply(through("moving", "test")).await;
    world.archiving("moving", "tenant1").await;
    world
        .apply(strategy_backup_task("now", "moving", "tenant1"))
        .await;
    // Held in progress until the observer has moved: its end can only be read at the new address.
    simulator::cluster(&world.node)
        .set_stalled("tenant1", true)
        .expect("stall");
    world
        .reaches::<BackupTask>("now", BackupTaskPhase::InProgress)
        .await;
    // The pod is recreated: a new IP, the old one gone (and its sessions with it).
    let second = listen(&world).await;
    set_status(
        admin,
        ns,
        Kind::ObServer,
        "test-zone1-a",
        server_status(second, true),
    )
    .await;
    assert!(obsim::sim::Simulator::remove_listener(&world.node, first).await);
    simulator::cluster(&world.node)
        .set_stalled("tenant1", false)
        .expect("unstall");
    world
        .reaches::<BackupTask>("now", BackupTaskPhase::Completed)
        .await;
    let description = world.uid("BackupTask", "now").await;
    assert_eq!(
        simulator::jobs_with_description(&world.node, &description),
        1,
        "exactly one job"
    );
    world.done().await;
}

#[tokio::test]
async fn the_wrong_cluster_behind_an_obcluster_is_refused_and_sent_nothing() {
    let Some(world) = beside(
        "obo-wrong",
        &["tenant1"],
        GIB,
        30.0,
        default_cluster_id("obcluster") + 1,
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    let addr = listen(&world).await;
    let other_id = default_cluster_id("obcluster") + 1;
    ob_server(admin, ns, "test-zone1-a", "test", addr, false).await;
    world.apply(through("wrong", "test")).await;
    let status = world
        .stalled_on::<BackupStrategy>("wrong", Reason::WrongCluster)
        .await;
    let message = status.message().unwrap_or_default().to_string();
    assert!(
        message.contains(&format!("cluster_id {other_id}")) && message.contains("OBCluster test"),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        0,
        "no archiving started"
    );
    world.done().await;
}

#[tokio::test]
async fn a_tenant_an_obtenantbackuppolicy_holds_gets_nothing_whichever_came_first() {
    let Some(world) = beside(
        "obo-policy",
        &["tenant1", "tenant2"],
        GIB,
        30.0,
        default_cluster_id("obcluster"),
    )
    .await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    // The strategy reaches the cluster through a plain Secret: the policy's OBCluster names the same
    // OceanBase cluster by cluster_id, which is what counts.
    policy(admin, ns, "t1-backup", "test", "tenant1", "RUNNING").await;
    world.apply(strategy("before", json!({}))).await;
    let status = world
        .stalled_on::<BackupStrategy>("before", Reason::TenantManagedByObOperator)
        .await;
    let message = status.message().unwrap_or_default().to_string();
    assert!(
        message.contains(&format!("OBTenantBackupPolicy {ns}/t1-backup")),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        0,
        "nothing sent"
    );
    // The policy stops (ob-operator says STOPPED): the tenant is free.
    set_status(
        admin,
        ns,
        Kind::ObTenantBackupPolicy,
        "t1-backup",
        json!({"status": "STOPPED"}),
    )
    .await;
    world.archiving("before", "tenant1").await;
    // A policy that appears after the strategy took tenant2 stops the strategy from driving it too.
    world
        .apply(strategy("later", json!({"tenants": ["tenant2"]})))
        .await;
    world.archiving("later", "tenant2").await;
    policy(admin, ns, "t2-backup", "test", "tenant2", "PAUSED").await;
    world
        .stalled_on::<BackupStrategy>("later", Reason::TenantManagedByObOperator)
        .await;
    // Counted for the chart's OBBackupTenantContested: "later" only, "before" being free again.
    let contested =
        r#"obbackup_objects_stalled{kind="BackupStrategy",reason="TenantManagedByObOperator"}"#;
    crate::support::cluster::eventually(
        "the contest counted",
        std::time::Duration::from_secs(40),
        || async { (world.operator.metric(contested) == Some(1.0)).then_some(()) },
    )
    .await;
    world.done().await;
}

#[tokio::test]
async fn two_strategies_in_two_namespaces_on_one_cluster_keep_one_owner_per_tenant() {
    let Some(mut world) = World::new("obo-twons", &["tenant1"], GIB, 30.0).await else {
        return;
    };
    let other = world.plane.namespace("obo-twons-b").await;
    // Another team's Secret for the same cluster, under another name.
    connection_secret(&world.admin, &other, "sys-login", &world.node).await;
    world.stop_operator().await;
    let both = format!("{},{other}", world.namespace);
    let _operator = world.plane.start_operator(
        &both,
        &world.namespace,
        &format!("{}-both", world.namespace),
    );
    world.apply(strategy("first", json!({}))).await;
    world.archiving("first", "tenant1").await;
    let mut second = strategy(
        "second",
        json!({"cluster": {"name": "prod-copy", "connectionSecret": "sys-login"}}),
    );
    second["metadata"]["namespace"] = json!(other);
    crate::support::cluster::apply(&world.admin, &other, &second)
        .await
        .expect("applied");
    let message = eventually("the second strategy refused", WAIT, || async {
        let api: kube::Api<BackupStrategy> = kube::Api::namespaced(world.admin.clone(), &other);
        let status = api.get_opt("second").await.ok()??.status?;
        let stalled = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Stalled" && c.status == "True")?;
        (stalled.reason == "TenantClaimed").then(|| stalled.message.clone())
    })
    .await;
    assert!(
        message.contains(&format!("BackupStrategy {}/first", world.namespace)),
        "{message}"
    );
    assert_eq!(
        simulator::rounds_started(&world.node, "tenant1"),
        1,
        "one archive round, the first's"
    );
    crate::support::cluster::delete_namespace(&world.admin, &other).await;
    world.done().await;
}

/// Creates `policy` in `namespace` as a dry run (admission runs, nothing is stored): `Err` with the API
/// server's message when it is refused.
async fn try_create(admin: &kube::Client, namespace: &str, policy: &Value) -> Result<(), String> {
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        admin.clone(),
        namespace,
        &Kind::ObTenantBackupPolicy.resource(),
    );
    let object: kube::api::DynamicObject =
        serde_json::from_value(policy.clone()).expect("a policy object");
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    match api.create(&dry_run, &object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(refusal)) if refusal.code == 403 || refusal.code == 422 => {
            Err(refusal.message)
        }
        Err(error) => panic!("creating {policy}: {error}"),
    }
}

/// The chart's `obOperator.admissionPolicy`: the API server itself refuses a new OBTenantBackupPolicy for a
/// tenant a BackupStrategy of its namespace holds through the same OBCluster, whatever the case of the
/// tenant's name or however the strategy names its tenants, and admits everything else: another tenant,
/// another OBCluster, a strategy being deleted, a policy naming only an OBTenant object (left to the
/// operator's own check), and any update of a policy that exists.
#[tokio::test]
async fn the_charts_admission_policy_refuses_a_new_policy_for_a_tenant_a_strategy_holds() {
    let Some(helm) = crate::support::tools::built("OBBACKUP_HELM", "helm") else {
        return;
    };
    let Some(plane) = crate::support::cluster::ControlPlane::get() else {
        return;
    };
    if !installed() {
        return;
    }
    let admin = plane.admin().await;
    let ns = plane.namespace("obo-admission").await;
    // The chart's policy and binding, renamed for this test and bound to its namespace alone: other tests
    // create policies on tenants our strategies hold on purpose.
    let documents = crate::support::chart::render(
        &helm,
        "obbackup-system",
        &["obOperator.admissionPolicy=true"],
    );
    let name = format!("{ns}-one-owner");
    let mut admission = crate::support::chart::find(&documents, "ValidatingAdmissionPolicy");
    let mut binding = crate::support::chart::find(&documents, "ValidatingAdmissionPolicyBinding");
    admission["metadata"]["name"] = json!(name);
    binding["metadata"]["name"] = json!(name);
    binding["spec"]["policyName"] = json!(name);
    binding["spec"]["matchResources"] =
        json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}});
    let cluster_scoped = |object: &Value| {
        let (_, resource) = crate::support::cluster::api_for(&admin, "", object);
        kube::Api::<kube::api::DynamicObject>::all_with(admin.clone(), &resource)
    };
    for object in [&admission, &binding] {
        cluster_scoped(object)
            .patch(
                &name,
                &kube::api::PatchParams::apply("e2e").force(),
                &kube::api::Patch::Apply(object),
            )
            .await
            .expect("the chart's admission policy installed");
    }
    let strategies = [
        through("held", "test"),
        strategy(
            "every",
            json!({"cluster": {"name": "other", "obCluster": {"name": "other"}}, "tenants": []}),
        ),
    ];
    for mut strategy in strategies {
        strategy["metadata"]["namespace"] = json!(ns);
        strategy["metadata"]["finalizers"] = json!(["e2e.obbackup.dev/hold"]);
        crate::support::cluster::apply(&admin, &ns, &strategy)
            .await
            .expect("strategy");
    }
    let held =
        crate::support::ob_operator::policy_object("p1", "test", json!({"tenantName": "TENANT1"}));
    // The binding takes effect once the API server has loaded it.
    let refusal = eventually("the policy for tenant1 refused", WAIT, || async {
        try_create(&admin, &ns, &held).await.err()
    })
    .await;
    assert!(
        refusal.contains("held by BackupStrategy held") && refusal.contains("OBCluster test"),
        "{refusal}"
    );
    let policy = crate::support::ob_operator::policy_object;
    let admitted = [
        (
            "another tenant",
            policy("p2", "test", json!({"tenantName": "tenant2"})),
        ),
        (
            "an OBTenant object",
            policy("p3", "test", json!({"tenantCRName": "tenant1"})),
        ),
    ];
    for (what, object) in &admitted {
        assert_eq!(try_create(&admin, &ns, object).await, Ok(()), "{what}");
    }
    let anything_on_other = policy("p4", "other", json!({"tenantName": "tenant9"}));
    let refusal = try_create(&admin, &ns, &anything_on_other).await;
    assert!(
        refusal
            .as_ref()
            .is_err_and(|m| m.contains("held by BackupStrategy every")),
        "a strategy of every tenant holds them all: {refusal:?}"
    );
    // A policy that exists is updated freely (ob-operator updates its own), even on a tenant now held.
    let mut tenant2 = admitted[0].1.clone();
    tenant2["metadata"]["namespace"] = json!(ns);
    crate::support::cluster::apply(&admin, &ns, &tenant2)
        .await
        .expect("tenant2's policy");
    let mut both = through("held", "test");
    both["metadata"]["namespace"] = json!(ns);
    both["metadata"]["finalizers"] = json!(["e2e.obbackup.dev/hold"]);
    both["spec"]["tenants"] = json!(["tenant1", "tenant2"]);
    crate::support::cluster::apply(&admin, &ns, &both)
        .await
        .expect("the strategy takes tenant2 too");
    tenant2["metadata"]["labels"] = json!({"updated": "yes"});
    crate::support::cluster::apply(&admin, &ns, &tenant2)
        .await
        .expect("an update is never refused");
    // A strategy being deleted holds nothing: the tenant may go to ob-operator.
    let (strategies_api, _) = crate::support::cluster::api_for(&admin, &ns, &both);
    strategies_api
        .delete("held", &Default::default())
        .await
        .expect("delete");
    let deleting = strategies_api
        .get("held")
        .await
        .expect("held by its finalizer");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    eventually("the policy for tenant1 admitted", WAIT, || async {
        try_create(&admin, &ns, &held).await.ok()
    })
    .await;
    for object in [&binding, &admission] {
        cluster_scoped(object)
            .delete(&name, &Default::default())
            .await
            .expect("removed");
    }
    for strategy in ["held", "every"] {
        strategies_api
            .patch(
                strategy,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .expect("finalizer removed");
    }
    crate::support::cluster::delete_namespace(&admin, &ns).await;
}
