//! Jobs started outside the operator, end to end (docs/guide/external-jobs.md): a backup, a restore and a
//! delete sent to obsim by SQL, as a person or OCP would, each appear once as a read-only `External` mirror
//! owned by the strategy — also across a restart of the operator, and for a job that starts and ends
//! while the operator is down. A mirror's cancel is refused at admission.

use std::collections::BTreeMap;

use crate::support::{
    cluster::eventually,
    recovery::backed_up,
    simulator::{self, SYS_PASSWORD},
    world::{GIB, WAIT, World},
};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use ob_backup_operator::{
    api::{BackupTask, RecoveryTask},
    oceanbase::{
        OceanBase, connection::ConnectionInfo, mysql::MysqlCluster, sql, sql::DeleteTarget,
        sql::RestoreUntil,
    },
};
use obsim::model::Version;
use serde_json::json;

/// A sys session on the world's cluster, as someone outside the operator has.
fn sys(world: &World) -> MysqlCluster {
    let info = ConnectionInfo {
        host: "127.0.0.1".into(),
        port: world.node.addr.port(),
        user: "root@sys".into(),
        password: SYS_PASSWORD.into(),
        ca_cert: None,
    };
    MysqlCluster::new(&info, [])
}

/// The id of tenant1's backup job that `description` names (`finished`: once it has ended).
fn backup_job_id(world: &World, description: &str, finished: bool) -> Option<i64> {
    let mut cluster = simulator::cluster(&world.node);
    // As any statement would: with the operator down nobody else moves the simulated cluster on.
    cluster.advance();
    let backups = &cluster.tenant("tenant1")?.backups;
    let running = backups.jobs.iter().filter(|_| !finished);
    running
        .chain(&backups.history)
        .find(|j| j.level == "USER_TENANT" && j.description == description)
        .map(|j| j.job_id)
}

/// The newest delete job of tenant1 sent from sys.
fn clean_job_from_sys(world: &World) -> Option<i64> {
    let cluster = simulator::cluster(&world.node);
    let clean = &cluster.tenant("tenant1")?.clean;
    clean
        .jobs
        .iter()
        .chain(&clean.history)
        .filter(|j| j.initiator_tenant_id == 1)
        .map(|j| j.job_id)
        .max()
}

/// Every task of `kind` whose `spec.jobId` is set, by job id, with how many there are of each.
async fn mirrors(world: &World, kind: &str) -> BTreeMap<i64, Vec<DynamicObject>> {
    let mut by_job: BTreeMap<i64, Vec<DynamicObject>> = BTreeMap::new();
    for object in world.list(kind).await {
        if let Some(id) = object.data["spec"]["jobId"].as_i64() {
            by_job.entry(id).or_default().push(object);
        }
    }
    by_job
}

/// The one mirror of job `job_id`, once its status shows it `phase`, source `External`.
async fn mirrored(world: &World, kind: &str, job_id: i64, phase: &str) -> DynamicObject {
    eventually(
        &format!("the {kind} mirror of job {job_id} {phase}"),
        WAIT,
        || async {
            let all = mirrors(world, kind).await;
            let [mirror] = all.get(&job_id)?.as_slice() else {
                panic!("job {job_id} has more than one {kind} mirror: {all:?}");
            };
            let status = &mirror.data["status"];
            (status["phase"] == phase && status["source"] == "External").then(|| mirror.clone())
        },
    )
    .await
}

/// Exactly one mirror per job of each kind, and `count` jobs mirrored of each.
async fn one_mirror_each(world: &World, counts: [(&str, usize); 3]) {
    for (kind, count) in counts {
        let all = mirrors(world, kind).await;
        assert_eq!(all.len(), count, "{kind} mirrors: {all:?}");
        assert!(
            all.values().all(|m| m.len() == 1),
            "{kind} mirrors: {all:?}"
        );
    }
}

#[tokio::test]
async fn backups_restores_and_deletes_started_elsewhere_appear_once_as_read_only_mirrors() {
    // A delete sent by hand is 4.4.1's.
    let version = simulator::profile_at_least(Version::V4_4_1);
    let Some(mut world) = World::running("external", &["tenant1"], GIB, 10.0, version).await else {
        return;
    };
    backed_up(&world, false).await;
    let client = sys(&world);

    // A backup someone sends by SQL: mirrored Completed, as an incremental of tenant1.
    client
        .execute(&[sql::backup("tenant1", true, false, "by hand").expect("sql")])
        .await
        .expect("an incremental backup by hand");
    let by_hand = eventually("the backup by hand in obsim", WAIT, || async {
        backup_job_id(&world, "by hand", false)
    })
    .await;
    let backup = mirrored(&world, "BackupTask", by_hand, "Completed").await;
    assert_eq!(backup.data["spec"]["mode"], "Incremental");
    assert_eq!(backup.data["spec"]["strategyRef"]["name"], "src");
    assert!(backup.data["status"]["backupSetId"].as_i64().is_some());

    // A mirror is never acted upon: its cancel is refused at admission.
    let name = backup.metadata.name.clone().expect("a name");
    let tasks: Api<BackupTask> =
        Api::namespaced(world.objects.admin.clone(), &world.objects.namespace);
    let refused = tasks
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cancel": true}})),
        )
        .await
        .expect_err("a mirror's cancel is refused");
    assert!(
        refused.to_string().contains("never acted upon"),
        "{refused}"
    );

    // A restore run by hand into a new tenant: mirrored with the backup tenant it read.
    restore_by_hand(&client, "copy1", "restore by hand").await;
    let restore_id = eventually("the restore by hand in obsim", WAIT, || async {
        restore_job_id(&world, "copy1")
    })
    .await;
    let restore = mirrored(&world, "RecoveryTask", restore_id, "Completed").await;
    assert_eq!(restore.data["spec"]["source"]["tenant"], "tenant1");
    assert_eq!(restore.data["spec"]["target"]["tenant"], "copy1");
    let recoveries: Api<RecoveryTask> =
        Api::namespaced(world.objects.admin.clone(), &world.objects.namespace);
    let refused = recoveries
        .patch(
            &restore.metadata.name.clone().expect("a name"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"retry": 1}})),
        )
        .await
        .expect_err("a mirror's retry is refused");
    assert!(
        refused.to_string().contains("never acted upon"),
        "{refused}"
    );

    // A delete someone sends from sys: mirrored, not taken for one of the operator's CleanupTasks.
    client
        .execute(&[sql::delete_backup("tenant1", &DeleteTarget::Obsolete).expect("sql")])
        .await
        .expect("a delete by hand");
    let clean_id = eventually("the delete by hand in obsim", WAIT, || async {
        clean_job_from_sys(&world)
    })
    .await;
    mirrored(&world, "CleanupTask", clean_id, "Completed").await;
    one_mirror_each(
        &world,
        [("BackupTask", 1), ("RecoveryTask", 1), ("CleanupTask", 1)],
    )
    .await;

    // Down while a backup starts and ends: mirrored after the restart, and no job twice.
    world.stop_operator().await;
    client
        .execute(&[sql::backup("tenant1", true, false, "while down").expect("sql")])
        .await
        .expect("a backup while the operator is down");
    let while_down = eventually("the backup while down to end", WAIT, || async {
        backup_job_id(&world, "while down", true)
    })
    .await;
    world.start_operator("b");
    mirrored(&world, "BackupTask", while_down, "Completed").await;
    one_mirror_each(
        &world,
        [("BackupTask", 2), ("RecoveryTask", 1), ("CleanupTask", 1)],
    )
    .await;
    assert_eq!(
        mirrors(&world, "BackupTask")
            .await
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [by_hand, while_down]
    );
    world.done().await;
}

/// `RESTORE copy1` from tenant1's backups into a pool of its own, as an SRE would type it.
async fn restore_by_hand(client: &MysqlCluster, tenant: &str, description: &str) {
    let zones = ["zone1".to_string()];
    let uris = [
        "file:///backup/src/data/tenant1".to_string(),
        "file:///backup/src/archive/tenant1".to_string(),
    ];
    client
        .execute(&[
            sql::create_unit("by_hand_unit", 2.0, "4G", None).expect("sql"),
            sql::create_pool("by_hand_pool", "by_hand_unit", 1, &zones).expect("sql"),
            sql::restore(
                tenant,
                &uris,
                RestoreUntil::Latest,
                &[("pool_list", "by_hand_pool")],
                description,
            )
            .expect("sql"),
        ])
        .await
        .expect("a restore by hand");
}

/// The id of the restore into `tenant`.
fn restore_job_id(world: &World, tenant: &str) -> Option<i64> {
    crate::support::recovery::restore_jobs(world, tenant)
        .first()
        .map(|j| j.job_id)
}
