//! The move from ob-operator's backup policy to a BackupStrategy (`kubectl obbackup import
//! obtenantbackuppolicy NAME --handover`, docs/guide/ob-operator-import.md) on the real control plane, with
//! ob-operator's own CRDs and obsim as the cluster its policy set up: archiving never stops (the same round
//! runs on, none ends), the strategy starts no backup job of its own, and a restore to a point inside the
//! handover (`kubectl obbackup restore … --wait`) succeeds from the sets and logs ob-operator left — and so
//! does ob-operator's own restore into the OBTenant `restore … --ob-tenant --wait` makes, played here as
//! ob-operator would do it (it cannot run here: docs/contributing/testing.md).

use jiff::{Timestamp, ToSpan};
use mysql_async::prelude::Queryable;
use ob_backup_operator::{
    api::{RecoveryTask, RecoveryTaskPhase},
    oboperator::{Kind, POLICY_FINALIZER},
};
use obsim::{
    model::{archive::RoundStatus, backup::JobStatus, default_cluster_id, restore::RestorePhase},
    sim::Node,
};
use serde_json::json;

use crate::support::{
    cluster::{eventually, eventually_seen},
    ob_operator::{beside, create_with_status, listen, ob_server, policy_object, set_status},
    plugin::{self, stderr},
    recovery::restore_jobs,
    simulator::{self, SYS_PASSWORD},
    world::{GIB, WAIT, World},
};

/// How long a window's end may trail the archive in the strategy's status: the figures are rewritten once
/// they are a grain old, from the last whole read of the cluster (every idle poll), by a write that may yield
/// to urgent ones; with room for the reconcile itself. (90 s was seen missed once in seven runs.)
const WINDOW_SHOWN: std::time::Duration = std::time::Duration::from_secs(
    ob_backup_operator::timing::STATUS_FRESHNESS
        .as_secs()
        .unsigned_abs()
        + ob_backup_operator::timing::IDLE_POLL.as_secs()
        + ob_backup_operator::timing::BACKGROUND_MAX_WAIT.as_secs()
        + 30,
);

/// `kubectl obbackup restore` of tenant1 through the imported strategy to `point` on a unit in zone1, waiting
/// for its end, with `target`'s flags.
fn restore<'a>(point: &'a str, target: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["restore", "t1-backup", "--tenant", "tenant1", "--to", point];
    args.extend(target);
    args.extend(["--unit-cpu", "2", "--unit-memory", "4G", "--zones", "zone1"]);
    args.extend(["--wait", "--timeout", "3m"]);
    args
}

/// Sends `statements` to the cluster from its sys tenant, as ob-operator's policy does.
async fn as_ob_operator(node: &Node, statements: &[&str]) {
    let options = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(node.addr.port())
        .user(Some("root@sys"))
        .pass(Some(SYS_PASSWORD))
        .prefer_socket(false);
    let mut session = mysql_async::Conn::new(options)
        .await
        .expect("ob-operator logs in to sys");
    for statement in statements {
        session
            .query_drop(*statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    session.disconnect().await.expect("disconnected");
}

/// The tenant's archive round: its id and status, and how many rounds have ended.
fn archive_of(world: &World) -> (Option<(i64, RoundStatus)>, usize) {
    let mut cluster = simulator::cluster(&world.node);
    // Brought to now, as a statement would (nothing else reads the cluster before the strategy exists).
    cluster.advance();
    let archive = &cluster.tenant("tenant1").expect("tenant1").archive;
    (
        archive.round.as_ref().map(|r| (r.round_id, r.status)),
        archive.history.len(),
    )
}

/// A RUNNING policy of tenant1 whose NFS directories end in the tenant's name, with ob-operator's finalizer.
async fn running_policy(world: &World) {
    let mut policy = policy_object("t1-backup", "test", json!({"tenantName": "tenant1"}));
    policy["metadata"]["finalizers"] = json!([POLICY_FINALIZER]);
    policy["spec"]["logArchive"]["destination"]["path"] = json!("handover/archive/tenant1");
    policy["spec"]["dataBackup"]["destination"]["path"] = json!("handover/data/tenant1");
    policy["status"] = json!({"status": "RUNNING", "tenantName": "tenant1"});
    create_with_status(
        &world.admin,
        &world.namespace,
        Kind::ObTenantBackupPolicy,
        policy,
    )
    .await;
}

#[tokio::test]
async fn a_tenant_moves_from_ob_operators_policy_without_a_gap_in_its_archive() {
    let Some(world) = beside(
        "handover",
        &["tenant1"],
        GIB,
        30.0,
        default_cluster_id("obcluster"),
    )
    .await
    else {
        return;
    };
    let addr = listen(&world).await;
    ob_server(
        &world.admin,
        &world.namespace,
        "test-zone1-a",
        "test",
        addr,
        true,
    )
    .await;
    // What ob-operator's policy left in OceanBase: the tenant's destinations, archiving on, a full backup.
    as_ob_operator(
        &world.node,
        &[
            "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///ob-backup/handover/archive/tenant1' TENANT = tenant1",
            "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///ob-backup/handover/data/tenant1' TENANT = tenant1",
            "ALTER SYSTEM ARCHIVELOG TENANT = tenant1",
        ],
    )
    .await;
    eventually("ob-operator's archive round DOING", WAIT, || async {
        matches!(archive_of(&world).0, Some((_, RoundStatus::Doing))).then_some(())
    })
    .await;
    as_ob_operator(&world.node, &["ALTER SYSTEM BACKUP TENANT = tenant1"]).await;
    eventually("ob-operator's full backup completed", WAIT, || async {
        let mut cluster = simulator::cluster(&world.node);
        cluster.advance();
        let backups = &cluster.tenant("tenant1")?.backups;
        backups
            .history
            .iter()
            .any(|job| job.status == JobStatus::Completed)
            .then_some(())
    })
    .await;
    running_policy(&world).await;
    let (round, ended) = archive_of(&world);
    let (round, _) = round.expect("ob-operator's archive round");
    let jobs = simulator::backup_jobs(&world.node);

    // Times on the cluster's clock (obsim's runs faster than the wall clock).
    let started = simulator::cluster(&world.node).now();
    let output = plugin::run(
        &world,
        &[
            "import",
            "obtenantbackuppolicy",
            "t1-backup",
            "--handover",
            "--yes",
            "--wait",
            "--timeout",
            "2m",
            "--time-zone",
            "UTC",
        ],
    )
    .await;
    let finished = simulator::cluster(&world.node).now();
    assert!(output.status.success(), "{}", stderr(&output));
    let policies: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        world.admin.clone(),
        &world.namespace,
        &Kind::ObTenantBackupPolicy.resource(),
    );
    let left = policies.get_opt("t1-backup").await.expect("read");
    assert!(left.is_none(), "the policy is gone: {left:?}");
    assert_eq!(
        archive_of(&world),
        (Some((round, RoundStatus::Doing)), ended),
        "the same round runs on and none ended: no NOARCHIVELOG, no new ARCHIVELOG"
    );

    // A point inside the handover, once the archive has passed it.
    let inside = (started + (finished.duration_since(started) / 2))
        .round(jiff::Unit::Second)
        .expect("a whole second");
    eventually_seen(
        "the strategy's window over the handover",
        WINDOW_SHOWN,
        || async {
            let status = world.status("BackupStrategy", "t1-backup").await;
            let windows = &status["tenants"][0]["recoverableWindows"];
            let covers = windows.as_array().into_iter().flatten().any(|w| {
                let edge = |at: &str| w[at].as_str().and_then(|t| t.parse::<Timestamp>().ok());
                edge("from").is_some_and(|from| from <= started)
                    && edge("to").is_some_and(|to| to >= finished + 1.second())
            });
            if covers {
                Ok(())
            } else {
                Err(format!(
                    "{} (asked: from {started} to {finished})",
                    status["tenants"][0]
                ))
            }
        },
    )
    .await;
    // Through the plugin, which checks the point against that window and follows the task to its end.
    let point = inside.to_string();
    let output = plugin::run(
        &world,
        &restore(&point, &["--target-tenant", "handed1", "--name", "inside"]),
    )
    .await;
    let said = plugin::stdout(&output);
    assert!(output.status.success(), "{said}{}", stderr(&output));
    assert!(said.contains("recoverytask/inside Completed at"), "{said}");
    world
        .reaches::<RecoveryTask>("inside", RecoveryTaskPhase::Completed)
        .await;
    assert_eq!(
        simulator::backup_jobs(&world.node),
        jobs,
        "the strategy started no backup of its own"
    );
    assert_eq!(
        archive_of(&world).0.map(|(id, _)| id),
        Some(round),
        "still ob-operator's round after the restore"
    );
    restored_by_ob_operator(&world, inside).await;
    world.done().await;
}

/// `kubectl obbackup restore … --ob-tenant … --wait` to the same point: an OBTenant whose restore, sent as
/// ob-operator sends it from that spec (its pools, then RESTORE from both sources until the SCN), completes;
/// the plugin waits until ob-operator shows the tenant running.
async fn restored_by_ob_operator(world: &World, inside: Timestamp) {
    let point = inside.to_string();
    let tenants: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(
        world.admin.clone(),
        &world.namespace,
        &Kind::ObTenant.resource(),
    );
    // What the API server refuses in a RecoveryTask is refused here too, before any OBTenant is made.
    let mut half_a_core = restore(
        &point,
        &["--target-tenant", "handed2", "--ob-tenant", "handed2"],
    );
    let cpu = half_a_core
        .iter()
        .position(|a| *a == "--unit-cpu")
        .expect("--unit-cpu");
    half_a_core[cpu + 1] = "0.5";
    let refused = plugin::run(world, &half_a_core).await;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(stderr(&refused).contains("maxCpu"), "{}", stderr(&refused));
    let made = tenants.get_opt("handed2").await.expect("read");
    assert!(made.is_none(), "nothing made: {made:?}");
    let args = ["--target-tenant", "handed2", "--ob-tenant", "handed2"];
    let waiting = plugin::spawn(world, &restore(&point, &args));
    let made = eventually("the OBTenant made", WAIT, || async {
        tenants.get_opt("handed2").await.ok().flatten()
    })
    .await;
    let spec = &made.data["spec"];
    let restore = &spec["source"]["restore"];
    let nfs = |source: &serde_json::Value| {
        assert_eq!(source["type"], "NFS", "{source}");
        format!(
            "file:///ob-backup/{}",
            source["path"].as_str().expect("a path")
        )
    };
    let scn = restore["until"]["scn"].as_str().expect("until.scn");
    assert_eq!(scn, inside.as_nanosecond().to_string());
    let zone = spec["pools"][0]["zone"].as_str().expect("a zone");
    assert_eq!(
        (spec["obcluster"].as_str(), spec["tenantName"].as_str()),
        (Some("test"), Some("handed2"))
    );
    assert_eq!(spec["unitNum"], 1);
    assert_eq!(
        spec["pools"][0]["resource"],
        json!({"maxCPU": "2", "memorySize": "4Gi"}),
        "the unit ob-operator creates, as the statements below create it"
    );
    let shown = |state: &'static str| {
        let status = json!({"status": state, "resourcePool": []});
        set_status(
            &world.admin,
            &world.namespace,
            Kind::ObTenant,
            "handed2",
            status,
        )
    };
    shown("restoring").await;
    as_ob_operator(
        &world.node,
        &[
            "CREATE RESOURCE UNIT unitconfig_handed2_zone1 MAX_CPU = 2, MEMORY_SIZE = '4G'",
            &format!(
                "CREATE RESOURCE POOL pool_handed2_zone1 UNIT = 'unitconfig_handed2_zone1', UNIT_NUM = 1, ZONE_LIST = ('{zone}')"
            ),
            &format!(
                "ALTER SYSTEM RESTORE handed2 FROM '{},{}' UNTIL SCN = {scn} WITH 'pool_list=pool_handed2_zone1&primary_zone={zone}'",
                nfs(&restore["bakDataSource"]),
                nfs(&restore["archiveSource"])
            ),
        ],
    )
    .await;
    eventually_seen("ob-operator's restore of handed2", WAIT, || async {
        let jobs = restore_jobs(world, "handed2");
        let phases: Vec<_> = jobs.iter().map(|j| j.phase).collect();
        if phases == [RestorePhase::Success] {
            Ok(())
        } else {
            Err(format!("{phases:?}"))
        }
    })
    .await;
    assert!(
        !waiting.is_finished(),
        "the plugin waits while ob-operator restores"
    );
    shown("running").await;
    let output = waiting.await.expect("the plugin ran");
    assert!(output.status.success(), "{}", stderr(&output));
    let said = plugin::stdout(&output);
    assert!(said.contains("obtenant/handed2 running"), "{said}");
}
