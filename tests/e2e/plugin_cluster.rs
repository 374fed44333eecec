//! `kubectl obbackup`'s cluster-wide actions against the operator and obsim on the real control plane
//! (docs/guide/cluster-overview.md): `status --ob-cluster` shows a tenant no strategy covers as No Backup
//! Strategy; `backup-now --ob-cluster` backs up every tenant of the cluster's strategies; `restore-cluster`
//! makes one RecoveryTask per tenant that completes, and a second run makes nothing more.

use ob_backup_operator::api::{RecoveryTask, RecoveryTaskPhase};

use crate::support::{
    cluster::eventually,
    plugin::{run, stderr, stdout},
    recovery::backed_up,
    world::{GIB, WAIT, World},
};

const RESTORE: [&str; 16] = [
    "restore-cluster",
    "obcluster",
    "--to",
    "latest",
    "--target-cluster",
    "obcluster",
    "--target-secret",
    "ob",
    "--target-suffix",
    "_copy",
    "--unit-cpu",
    "2",
    "--unit-memory",
    "4G",
    "--zones",
    "zone1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clusters_tenants_are_shown_backed_up_and_restored_together() {
    let Some(world) = World::new("plugin-cluster", &["tenant1", "tenant2"], GIB, 10.0).await else {
        return;
    };
    backed_up(&world, false).await;

    // tenant2 belongs to no strategy.
    eventually("the strategy to report tenant2", WAIT, || async {
        let status = world.status("BackupStrategy", "src").await;
        (status["tenantsWithoutStrategy"] == serde_json::json!(["tenant2"])).then_some(())
    })
    .await;
    let output = run(&world, &["status", "--ob-cluster", "obcluster"]).await;
    let shown = stdout(&output);
    assert!(
        shown
            .lines()
            .any(|l| l.contains("tenant2") && l.contains("No Backup Strategy")),
        "{shown}{}",
        stderr(&output)
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains("tenant1") && l.contains("Physical")),
        "{shown}"
    );
    // A cluster no strategy names: refused, saying what that means and what to do.
    let none = run(&world, &["status", "--ob-cluster", "elsewhere"]).await;
    assert!(!none.status.success(), "{}", stdout(&none));
    assert!(
        stderr(&none)
            .contains("none of its tenants is backed up (the console's No Backup Strategy)"),
        "{}",
        stderr(&none)
    );

    // Back up Now for the cluster: one task per tenant of its strategies.
    let made = run(&world, &["backup-now", "--ob-cluster", "obcluster"]).await;
    assert!(made.status.success(), "{}", stderr(&made));
    let said = stdout(&made);
    assert!(said.contains("backuptask/src-tenant1-now-"), "{said}");
    assert!(!said.contains("tenant2"), "{said}");

    // Initiate Recovery for the cluster, under new names in the same cluster.
    let restored = run(&world, &RESTORE).await;
    assert!(restored.status.success(), "{}", stderr(&restored));
    let said = stdout(&restored);
    assert!(said.contains("tenant tenant1: recovery point:"), "{said}");
    assert!(
        said.contains("recoverytask/src-tenant1-to-tenant1-copy created"),
        "{said}"
    );
    world
        .reaches::<RecoveryTask>("src-tenant1-to-tenant1-copy", RecoveryTaskPhase::Completed)
        .await;
    // Again: nothing more is made.
    let again = run(&world, &RESTORE).await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("exists already"),
        "{}",
        stdout(&again)
    );
    let tasks = world.list("RecoveryTask").await;
    assert_eq!(tasks.len(), 1, "one restore per tenant: {tasks:?}");
    world.done().await;
}
