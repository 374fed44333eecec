//! Helpers the obsim tests share: a simulator on a free loopback port, a frozen clock to step, and
//! error and column helpers.

use mysql_async::{Conn, Opts, OptsBuilder, Row, prelude::Queryable};
use obsim::{
    clock::Clock,
    engine::SharedCluster,
    model::{Cluster, Version},
    sim::Simulator,
};

pub const PASSWORD: &str = "sys-password";

/// Starts obsim for one cluster on a free loopback port with tenants `tenant1` and `tenant2`.
pub async fn start(version: Version) -> Opts {
    start_with_cluster(version).await.0
}

/// Like [`start`], also returning the cluster so that a test can step its (frozen) clock.
pub async fn start_with_cluster(version: Version) -> (Opts, SharedCluster) {
    let mut cluster = Cluster::new(
        "obcluster",
        version,
        PASSWORD,
        Clock::new(
            jiff::Timestamp::from_second(1_763_600_000).expect("time"),
            0.0,
        ),
    );
    cluster
        .add_user_tenant("tenant1", 10 << 30)
        .expect("tenant1");
    cluster
        .add_user_tenant("tenant2", 1 << 30)
        .expect("tenant2");
    let node = Simulator::new()
        .start(cluster, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("serve");
    let opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(node.addr.port())
        .user(Some("root@sys"))
        .pass(Some(PASSWORD))
        .prefer_socket(false)
        .into();
    (opts, node.cluster.clone())
}

/// A cluster with rows in every view: archiving, backups, an expiry cleanup, resources and a restore; its
/// clock frozen afterwards. Connect as `root@sys` with the options.
pub async fn busy_cluster(version: Version) -> (Opts, SharedCluster) {
    const DAY: i64 = 86_400;
    let (opts, cluster) = start_with_cluster(version).await;
    let mut conn = Conn::new(opts.clone()).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    completed_backup(&mut conn, &cluster, false).await;
    completed_backup(&mut conn, &cluster, true).await;
    step(&cluster, 2 * DAY);
    completed_backup(&mut conn, &cluster, false).await;
    for statement in [
        "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '1d' TENANT = tenant1",
        "CREATE RESOURCE UNIT IF NOT EXISTS unit_r MAX_CPU = 2, MEMORY_SIZE = '4G'",
        "CREATE RESOURCE POOL pool_r UNIT = 'unit_r', UNIT_NUM = 1, ZONE_LIST = ('zone1')",
    ] {
        conn.query_drop(statement).await.expect(statement);
    }
    step(&cluster, 3_600 + 600);
    let checkpoint: Option<u64> = conn
        .query_first("SELECT checkpoint_scn FROM CDB_OB_ARCHIVELOG WHERE tenant_id = 1002")
        .await
        .expect("checkpoint");
    let until = checkpoint.expect("a checkpoint") - 30_000_000_000;
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE restored FROM 'file:///backup/data,file:///backup/archive' \
         UNTIL SCN = {until} WITH 'pool_list=pool_r' DESCRIPTION 'uid-1'"
    ))
    .await
    .expect("restore");
    step(&cluster, 3);
    conn.disconnect().await.expect("disconnect");
    (opts, cluster)
}

/// Options to log in as `user@tenant` with `password` where `opts` logs in as root@sys.
pub fn login(opts: &Opts, user: &str, password: &str) -> Opts {
    OptsBuilder::from_opts(opts.clone())
        .user(Some(user))
        .pass(Some(password))
        .into()
}

pub fn step(cluster: &SharedCluster, seconds: i64) {
    let mut cluster = cluster.lock().expect("cluster lock");
    cluster.clock.step(jiff::SignedDuration::from_secs(seconds));
}

pub async fn connect(version: Version) -> Conn {
    Conn::new(start(version).await)
        .await
        .expect("connect as root@sys")
}

/// The column names of a result, in order.
pub fn column_names(rows: &[Row]) -> Vec<String> {
    rows[0]
        .columns_ref()
        .iter()
        .map(|c| c.name_str().to_string())
        .collect()
}

/// Runs a statement that must fail; returns the server's error number and message.
pub async fn refused(conn: &mut Conn, sql: &str) -> (u16, String) {
    server_error(conn.query_drop(sql).await.expect_err(sql))
}

pub fn server_error(error: mysql_async::Error) -> (u16, String) {
    match error {
        mysql_async::Error::Server(e) => (e.code, e.message),
        other => panic!("expected a server error, got {other}"),
    }
}

pub async fn archive_status(conn: &mut Conn) -> Option<String> {
    conn.query_first("SELECT status FROM oceanbase.CDB_OB_ARCHIVELOG_SUMMARY WHERE tenant_id = 1002 ORDER BY round_id DESC LIMIT 1")
        .await
        .expect("latest round (docs/reference/oceanbase-interface.md §3.3: as ob-operator and obshell find it)")
}

/// Sets tenant1's destinations and starts archiving it, stepping until its round is DOING.
pub async fn archiving_tenant1(conn: &mut Conn, cluster: &SharedCluster) {
    conn.query_drop("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant1")
        .await
        .expect("data dest");
    conn.query_drop(
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///backup/archive' TENANT = tenant1",
    )
    .await
    .expect("log dest");
    conn.query_drop("ALTER SYSTEM ARCHIVELOG TENANT = tenant1")
        .await
        .expect("archivelog");
    step(cluster, 5);
    assert_eq!(archive_status(conn).await.as_deref(), Some("DOING"));
}

/// Runs a backup of tenant1 to completion (stepping the frozen clock) and returns its backup set id.
pub async fn completed_backup(conn: &mut Conn, cluster: &SharedCluster, incremental: bool) -> i64 {
    let statement = if incremental {
        "ALTER SYSTEM BACKUP INCREMENTAL TENANT = tenant1"
    } else {
        "ALTER SYSTEM BACKUP TENANT = tenant1"
    };
    conn.query_drop(statement).await.expect("backup");
    step(cluster, 120);
    let set: Option<(i64, String)> = conn
        .query_first(
            "SELECT backup_set_id, status FROM CDB_OB_BACKUP_SET_FILES WHERE tenant_id = 1002 \
             ORDER BY backup_set_id DESC LIMIT 1",
        )
        .await
        .expect("set");
    let (id, status) = set.expect("a backup set");
    assert_eq!(status, "SUCCESS");
    id
}

/// FILE_STATUS of tenant1's backup set.
pub async fn set_file_status(conn: &mut Conn, id: i64) -> Option<String> {
    conn.exec_first(
        "SELECT file_status FROM CDB_OB_BACKUP_SET_FILES WHERE tenant_id = 1002 AND backup_set_id = ?",
        (id,),
    )
    .await
    .expect("set file status")
}

/// The tenant user the driver tests log in as (`backup@tenant1`) and its password.
pub const TENANT_USER: &str = "backup@tenant1";
pub const TENANT_PASSWORD: &str = "tenant1-backup-pw";

/// Creates [`TENANT_USER`] in `cluster`'s tenant1.
pub fn create_tenant_user(cluster: &mut obsim::model::Cluster) {
    cluster
        .set_user(
            "tenant1",
            "backup",
            TENANT_PASSWORD,
            obsim::model::UserChange::Create {
                if_not_exists: false,
            },
        )
        .expect("tenant user");
}
