//! A logical backup through an OBTenant (docs/guide/ob-operator.md, "Logical backups as an OBTenant's
//! root"), on ob-operator's real CRD and a real engine (seekdb, reached through a stand-in for OBProxy's
//! tenant routing): the dump and its load log in as `root@<tenantName>` with the password the OBTenant's
//! status names, not its spec's; an OBTenant of another tenant is refused, naming both.

use ob_backup_operator::{
    api::{BackupTask, BackupTaskPhase},
    logical::layout::Manifest,
    reason::Reason,
};
use serde_json::{Value, json};

use crate::{
    logical_backup::{assert_copy_equals_snapshot, dump_dir, engine, renamed},
    support::{
        logical_schema::Workload,
        ob_operator::{installed, ob_tenant},
        simulator::secret,
        tenant_router::TenantRouter,
        world::World,
    },
};

/// A logical BackupTask of `tenant` into the world's share, logging in through OBTenant `obtenant`.
fn through_obtenant(name: &str, tenant: &str, obtenant: &str, databases: &[&str]) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask", "metadata": {"name": name},
        "spec": {"cluster": {"name": "engine", "connectionSecret": "engine"},
                 "dataDestination": {"uri": "file:///backup/logical"},
                 "tenant": tenant, "mode": "Full", "method": "Logical",
                 "logical": {"obTenant": obtenant, "databases": databases, "parallel": 2}},
    })
}

/// A logical RecoveryTask loading BackupTask `dump`'s dump into tenant1 under `rename`, logging in through
/// OBTenant `obtenant`.
fn load_through_obtenant(
    name: &str,
    dump: &str,
    obtenant: &str,
    rename: &serde_json::Map<String, Value>,
) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "RecoveryTask", "metadata": {"name": name},
        "spec": {"source": {"tenant": "tenant1", "logical": {"backupTask": dump}},
                 "target": {"cluster": {"name": "engine", "connectionSecret": "engine"}, "tenant": "tenant1",
                            "logical": {"obTenant": obtenant, "renameDatabases": rename, "parallel": 2}}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logical_backup_through_an_obtenant_logs_in_as_its_root_with_the_password_its_status_names()
 {
    if !installed() {
        return;
    }
    let Some(server) = engine().await else { return };
    let Some((world, share)) = World::with_file_share("obo-login", &["tenant1"], 0, 1.0).await
    else {
        return;
    };
    let (admin, ns) = (&world.admin, world.namespace.as_str());
    let router = TenantRouter::start(server.port, "tenant1").await;
    let port = router.port.to_string();
    let connection = [
        ("host", "127.0.0.1"),
        ("port", &port),
        ("user", "root@sys"),
        ("password", "unused"),
    ];
    secret(admin, ns, "engine", &connection).await;
    let workload = Workload::create(server, "e2e_obt", 200).await;

    // An OBTenant naming no root Secret: ob-operator made its root without a password.
    ob_tenant(admin, ns, ("t1", "tenant1"), json!({}), json!({})).await;
    world
        .apply(through_obtenant(
            "as-root",
            "tenant1",
            "t1",
            &workload.databases(),
        ))
        .await;
    let status = world.phase("BackupTask", "as-root", "Completed").await;
    assert!(status["logical"]["rowsDone"].as_i64() > Some(0), "{status}");
    // And loads it back the same way, under other names, equal to the source at the dump's snapshot.
    let dir = dump_dir(&share, &status);
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    let rename = renamed(&workload, "_obt");
    world
        .apply(load_through_obtenant("load", "as-root", "t1", &rename))
        .await;
    world.phase("RecoveryTask", "load", "Completed").await;
    assert_copy_equals_snapshot(server, &workload, &manifest, "_obt").await;
    let logins = router.logins();
    assert!(
        !logins.is_empty() && logins.iter().all(|u| u == "root@tenant1"),
        "the dump and the load log in as the tenant's root only: {logins:?}"
    );

    // The password was changed through ob-operator: the status names the new Secret, the spec still the
    // first (never made here). The status's is used; its password is not the engine's, which refuses it.
    let changed = "changed-Rw2-pw";
    secret(admin, ns, "t1-root-changed", &[("password", changed)]).await;
    ob_tenant(
        admin,
        ns,
        ("t1-changed", "tenant1"),
        json!({"root": "t1-root-first"}),
        json!({"root": "t1-root-changed"}),
    )
    .await;
    world
        .apply(through_obtenant(
            "changed",
            "tenant1",
            "t1-changed",
            &workload.databases(),
        ))
        .await;
    let status = world
        .stalled_on::<BackupTask>("changed", Reason::LogicalAccessDenied)
        .await;
    let message = status.message.clone().unwrap_or_default();
    assert!(
        message.contains("1045") && message.contains("OBTenant t1-changed"),
        "{message}"
    );
    assert!(!message.contains("t1-root-first"), "{message}");
    assert_ne!(status.phase, Some(BackupTaskPhase::Failed));

    // An OBTenant of another tenant is refused before anything is sent.
    ob_tenant(admin, ns, ("t9", "tenant9"), json!({}), json!({})).await;
    let before = router.logins().len();
    world
        .apply(through_obtenant(
            "elsewhere",
            "tenant1",
            "t9",
            &workload.databases(),
        ))
        .await;
    let status = world
        .stalled_on::<BackupTask>("elsewhere", Reason::ObTenantUnusable)
        .await;
    let message = status.message.clone().unwrap_or_default();
    assert!(
        message.contains("OBTenant t9 is tenant tenant9") && message.contains("tenant1"),
        "{message}"
    );
    // Whatever the operator wrote holds no password, and the refused task logged in nowhere.
    assert!(!world.everything_written().await.contains(changed));
    let after: Vec<String> = router.logins().split_off(before);
    assert!(
        after.iter().all(|u| u == "root@tenant1"),
        "only the changed task's retries log in: {after:?}"
    );
    world.done().await;
}
