//! obsim's restore against docs/reference/oceanbase-interface.md §6 (resource pools, RESTORE,
//! progress and history, standby and activation, cancel), through `mysql_async`.

use crate::common::*;
use mysql_async::{Conn, Row, prelude::Queryable};
use obsim::{
    clock::Clock,
    engine::SharedCluster,
    model::{Cluster, Version},
    sim::Simulator,
};

const FROM: &str = "file:///backup/data,file:///backup/archive";

async fn pool(conn: &mut Conn, name: &str) {
    conn.query_drop(format!(
        "CREATE RESOURCE UNIT IF NOT EXISTS unit_{name} MAX_CPU = 2, MEMORY_SIZE = '4G'"
    ))
    .await
    .expect("unit");
    conn.query_drop(format!(
        "CREATE RESOURCE POOL {name} UNIT = 'unit_{name}', UNIT_NUM = 1, ZONE_LIST = ('zone1')"
    ))
    .await
    .expect("pool");
}

/// tenant1 archiving with one full backup and a minute of log after it.
async fn backed_up(conn: &mut Conn, cluster: &SharedCluster) {
    archiving_tenant1(conn, cluster).await;
    completed_backup(conn, cluster, false).await;
    step(cluster, 60);
}

async fn tenant_state(conn: &mut Conn, name: &str) -> Option<(String, String)> {
    conn.exec_first(
        "SELECT status, tenant_role FROM DBA_OB_TENANTS WHERE tenant_name = ?",
        (name,),
    )
    .await
    .expect("tenant")
}

async fn progress_rows(conn: &mut Conn) -> Vec<(i64, String)> {
    conn.query("SELECT tenant_id, status FROM CDB_OB_RESTORE_PROGRESS ORDER BY tenant_id")
        .await
        .expect("progress")
}

#[tokio::test]
async fn resource_units_and_pools_with_their_errors() {
    // §6.1; codes and texts from ob_errno.def at 017bf592 (−4648 … −4651, −4626, −4634).
    let mut conn = connect(Version::V4_4_1).await;
    pool(&mut conn, "p1").await;
    let cases = [
        (
            "CREATE RESOURCE UNIT unit_p1 MAX_CPU 1, MEMORY_SIZE '2G'",
            4649,
            "resource unit 'unit_p1' already exist",
        ),
        (
            "CREATE RESOURCE POOL p1 UNIT = 'unit_p1'",
            4651,
            "resource pool 'p1' exist",
        ),
        (
            "CREATE RESOURCE POOL p2 UNIT = 'nosuch'",
            4648,
            "resource unit 'nosuch' not exist",
        ),
        (
            "DROP RESOURCE UNIT unit_p1",
            4634,
            "resource unit 'unit_p1' is referenced by some resource pool",
        ),
        (
            "DROP RESOURCE POOL nosuch",
            4650,
            "resource pool 'nosuch' not exist",
        ),
    ];
    for (sql, code, message) in cases {
        assert_eq!(
            refused(&mut conn, sql).await,
            (code, message.to_string()),
            "{sql}"
        );
    }
    conn.query_drop("CREATE RESOURCE POOL IF NOT EXISTS p1 UNIT = 'unit_p1'")
        .await
        .expect("IF NOT EXISTS tolerates it");
    let pools: Vec<(String, Option<i64>, String)> = conn
        .query("SELECT name, tenant_id, zone_list FROM DBA_OB_RESOURCE_POOLS")
        .await
        .expect("pools");
    // TENANT_ID is NOT NULL in the real view (§14): a free pool shows -1 (obsim's guess of the value).
    assert_eq!(pools, [("p1".to_string(), Some(-1), "zone1".to_string())]);
    conn.query_drop("DROP RESOURCE POOL p1")
        .await
        .expect("drop pool");
    conn.query_drop("DROP RESOURCE UNIT unit_p1")
        .await
        .expect("drop unit");
    conn.query_drop("DROP RESOURCE UNIT IF EXISTS unit_p1")
        .await
        .expect("IF EXISTS");
}

#[tokio::test]
async fn restore_admission_checks() {
    // §6.2 errors, in the order a client meets them.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    backed_up(&mut conn, &cluster).await;
    pool(&mut conn, "p1").await;
    let restore = |tenant: &str, from: &str, until: &str, pools: &str| {
        format!(
            "ALTER SYSTEM RESTORE {tenant} FROM '{from}' {until} WITH 'pool_list={pools}&primary_zone=zone1'"
        )
    };
    let cases = [
        (restore("tenant2", FROM, "", "p1"), 5156),
        (restore("r1", FROM, "", ""), 4647),
        (restore("r1", FROM, "", "nosuch"), 4650),
        (
            restore(
                "r1",
                "file:///elsewhere/data,file:///elsewhere/archive",
                "",
                "p1",
            ),
            9080,
        ),
        (
            restore("r1", FROM, "UNTIL TIME = '2020-01-01 00:00:00'", "p1"),
            9119,
        ),
        (restore("r1", FROM, "UNTIL SCN = 1", "p1"), 9119),
    ];
    for (sql, code) in &cases {
        assert_eq!(refused(&mut conn, sql).await.0, *code, "{sql}");
    }
    assert_eq!(
        refused(
            &mut conn,
            &restore("r1", FROM, "UNTIL TIME = '2020-01-01 00:00:00'", "p1")
        )
        .await
        .1,
        "do not have enough restore source"
    );
    conn.query_drop(restore("r1", FROM, "", "p1"))
        .await
        .expect("restore");
    assert_eq!(
        refused(&mut conn, &restore("r1", FROM, "", "p1")).await,
        (9014, "Another restore is in progress".into())
    );
    pool(&mut conn, "p2").await;
    assert_eq!(
        refused(&mut conn, &restore("r2", FROM, "", "p1")).await.0,
        4626,
        "p1 is granted to r1"
    );
}

#[tokio::test]
async fn an_encrypted_backup_needs_its_password_on_the_same_session() {
    // §2.4: SET DECRYPTION is session-scoped; a wrong or missing password → 9047.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts.clone()).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    conn.query_drop(
        "SET ENCRYPTION ON IDENTIFIED BY 'secret-1' ONLY; ALTER SYSTEM BACKUP TENANT = tenant1",
    )
    .await
    .expect("encrypted backup");
    step(&cluster, 120);
    pool(&mut conn, "p1").await;
    let restore = format!("ALTER SYSTEM RESTORE r1 FROM '{FROM}' WITH 'pool_list=p1'");
    assert_eq!(
        refused(&mut conn, &restore).await,
        (9047, "invalid password for backup".into())
    );
    conn.query_drop("SET DECRYPTION IDENTIFIED BY 'wrong'")
        .await
        .expect("set");
    assert_eq!(refused(&mut conn, &restore).await.0, 9047);
    let mut other = Conn::new(opts).await.expect("second session");
    other
        .query_drop("SET DECRYPTION IDENTIFIED BY 'wrong', 'secret-1'")
        .await
        .expect("set");
    assert_eq!(
        refused(&mut conn, &restore).await.0,
        9047,
        "another session's password does not count"
    );
    other
        .query_drop(&restore)
        .await
        .expect("the right password");
}

#[tokio::test]
async fn a_restore_runs_through_both_progress_rows_into_history_and_a_standby() {
    // §6.3 (two rows, RESTORING mapping, history SUCCESS) and §6.4 (STANDBY until ACTIVATE).
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    backed_up(&mut conn, &cluster).await;
    pool(&mut conn, "p1").await;
    let checkpoint: Option<u64> = conn
        .query_first("SELECT checkpoint_scn FROM CDB_OB_ARCHIVELOG WHERE tenant_id = 1002")
        .await
        .expect("checkpoint");
    let until = checkpoint.expect("checkpoint") - 30_000_000_000;
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE restored FROM '{FROM}' UNTIL SCN = {until} WITH 'pool_list=p1' DESCRIPTION 'uid-7'"
    ))
    .await
    .expect("restore");

    let rows: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_RESTORE_PROGRESS")
        .await
        .expect("progress");
    // Its columns are the real ones (tests/schemas.rs); here, that the job shows at once.
    assert_eq!(rows.len(), 1, "the sys tenant's progress row");
    assert_eq!(
        progress_rows(&mut conn).await,
        [(1, "CREATE_TENANT".to_string())]
    );
    assert_eq!(
        tenant_state(&mut conn, "restored").await,
        Some(("RESTORE".into(), "RESTORE".into()))
    );
    step(&cluster, 3);
    assert_eq!(
        progress_rows(&mut conn).await,
        [
            (1, "WAIT_TENANT_RESTORE_FINISH".to_string()),
            (1006, "RESTORING".to_string())
        ]
    );
    let sys_only: Vec<(String, String, String, String)> = conn
        .query(
            "SELECT status, restore_scn, backup_set_list, description FROM DBA_OB_RESTORE_PROGRESS",
        )
        .await
        .expect("dba view");
    assert_eq!(
        sys_only.len(),
        1,
        "§1.3: the DBA_ view in sys shows the sys row"
    );
    assert_eq!(
        sys_only[0].1,
        until.to_string(),
        "pivoted columns are strings"
    );
    assert_eq!(
        (sys_only[0].2.as_str(), sys_only[0].3.as_str()),
        ("1", "uid-7")
    );

    step(&cluster, 120);
    let history: Vec<(i64, String, String)> = conn
        .query("SELECT tenant_id, status, comment FROM CDB_OB_RESTORE_HISTORY ORDER BY tenant_id")
        .await
        .expect("history");
    assert_eq!(
        history,
        [
            (1, "SUCCESS".to_string(), String::new()),
            (1006, "SUCCESS".to_string(), String::new())
        ]
    );
    let bytes: Option<(i64, i64)> = conn
        .query_first("SELECT total_bytes, finish_bytes FROM DBA_OB_RESTORE_HISTORY")
        .await
        .expect("bytes");
    let (total, finished) = bytes.expect("bytes");
    assert!(total > 0 && total == finished);
    let version: Option<String> = conn
        .query_first("SELECT backup_cluster_version FROM DBA_OB_RESTORE_HISTORY")
        .await
        .expect("version");
    assert_eq!(
        version.as_deref(),
        Some("17180131584"),
        "a bigint: 4.4.1.0 as OceanBase encodes a cluster version (4 << 32 | 4 << 16 | 1 << 8)"
    );
    assert_eq!(
        tenant_state(&mut conn, "restored").await,
        Some(("NORMAL".into(), "STANDBY".into()))
    );
    conn.query_drop("ALTER SYSTEM ACTIVATE STANDBY TENANT = restored")
        .await
        .expect("activate");
    assert_eq!(
        tenant_state(&mut conn, "restored").await,
        Some(("NORMAL".into(), "PRIMARY".into()))
    );
}

#[tokio::test]
async fn a_failed_or_canceled_restore_ends_fail_with_its_reason() {
    // §6.3: failure → history FAIL with the reason in COMMENT; §6.4 cancel.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    backed_up(&mut conn, &cluster).await;
    pool(&mut conn, "p1").await;
    cluster.lock().expect("lock").faults.next_restore_failure =
        Some((-9094, "Restore log stream failed".into()));
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE r1 FROM '{FROM}' WITH 'pool_list=p1'"
    ))
    .await
    .expect("restore");
    step(&cluster, 120);
    let failed: Option<(String, String)> = conn
        .query_first("SELECT status, comment FROM DBA_OB_RESTORE_HISTORY")
        .await
        .expect("history");
    let (status, comment) = failed.expect("history row");
    assert_eq!(status, "FAIL");
    assert!(
        comment.contains("result: -9094(Restore log stream failed)"),
        "{comment}"
    );
    assert_eq!(tenant_state(&mut conn, "r1").await, None);

    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE r1 FROM '{FROM}' WITH 'pool_list=p1'"
    ))
    .await
    .expect("the pool is free again");
    step(&cluster, 3);
    conn.query_drop("ALTER SYSTEM CANCEL RESTORE r1")
        .await
        .expect("cancel");
    step(&cluster, 2);
    let statuses: Vec<(i64, String)> = conn
        .query("SELECT job_id, status FROM DBA_OB_RESTORE_HISTORY ORDER BY job_id")
        .await
        .expect("history");
    assert_eq!(statuses, [(1, "FAIL".to_string()), (2, "FAIL".to_string())]);
    assert_eq!(
        refused(&mut conn, "ALTER SYSTEM CANCEL RESTORE r1").await.0,
        5157
    );
}

#[tokio::test]
async fn a_tenant_restores_into_another_cluster_of_the_simulator() {
    // §6.2: FROM names any reachable backup; the source here is another simulated cluster.
    let simulator = Simulator::new();
    let clock = || {
        Clock::new(
            jiff::Timestamp::from_second(1_763_600_000).expect("time"),
            0.0,
        )
    };
    let mut source = Cluster::new("source", Version::V4_4_1, PASSWORD, clock());
    source.add_user_tenant("tenant1", 1 << 30).expect("tenant");
    let target = Cluster::new("target", Version::V4_2_5, PASSWORD, clock());
    let address = "127.0.0.1:0".parse().expect("address");
    let source = simulator.start(source, address).await.expect("source");
    let target = simulator.start(target, address).await.expect("target");
    let opts = |port: u16| -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("root@sys"))
            .pass(Some(PASSWORD))
            .into()
    };
    let mut on_source = Conn::new(opts(source.addr.port())).await.expect("source");
    backed_up(&mut on_source, &source.cluster).await;
    let mut on_target = Conn::new(opts(target.addr.port())).await.expect("target");
    pool(&mut on_target, "p1").await;
    on_target
        .query_drop(format!(
            "ALTER SYSTEM RESTORE copy FROM '{FROM}' WITH 'pool_list=p1'"
        ))
        .await
        .expect("restore");
    let origin: Option<(String, String)> = on_target
        .query_first("SELECT backup_cluster_name, backup_tenant_name FROM DBA_OB_RESTORE_PROGRESS")
        .await
        .expect("progress");
    assert_eq!(origin, Some(("source".into(), "tenant1".into())));
}

#[tokio::test]
async fn a_scratch_tenant_is_dropped_with_force_then_its_pool_and_unit() {
    // §6.6: a restoring tenant needs FORCE (1235); its pool stays granted (4626) until the tenant is gone;
    // a NORMAL tenant dropped without FORCE is DROPPING and keeps its pool; unknown tenants are 5157.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    backed_up(&mut conn, &cluster).await;
    pool(&mut conn, "p1").await;
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE scratch FROM '{FROM}' WITH 'pool_list=p1'"
    ))
    .await
    .expect("restore");
    step(&cluster, 3);
    let refusals = [
        (
            "DROP TENANT scratch",
            1235,
            "should drop tenant force, delay drop tenant not supported",
        ),
        (
            "DROP TENANT scratch PURGE",
            1235,
            "should drop tenant force, delay drop tenant not supported",
        ),
        (
            "DROP RESOURCE POOL p1",
            4626,
            "resource pool 'p1' has already been granted to a tenant",
        ),
        ("DROP TENANT nosuch", 5157, "Unknown tenant 'nosuch'"),
        (
            "DROP TENANT sys FORCE",
            1235,
            "Not supported feature or function",
        ),
    ];
    for (sql, code, message) in refusals {
        assert_eq!(
            refused(&mut conn, sql).await,
            (code, message.to_string()),
            "{sql}"
        );
    }
    conn.query_drop("DROP TENANT IF EXISTS nosuch")
        .await
        .expect("IF EXISTS tolerates it");
    conn.query_drop("DROP TENANT scratch FORCE")
        .await
        .expect("force drop");
    assert_eq!(tenant_state(&mut conn, "scratch").await, None);
    step(&cluster, 2);
    let ended: Option<String> = conn
        .query_first("SELECT status FROM DBA_OB_RESTORE_HISTORY")
        .await
        .expect("history");
    assert_eq!(
        ended.as_deref(),
        Some("FAIL"),
        "the restore ends as canceled"
    );
    conn.query_drop("DROP RESOURCE POOL p1")
        .await
        .expect("the pool is free once the tenant is gone");
    conn.query_drop("DROP RESOURCE UNIT unit_p1")
        .await
        .expect("and then its unit");

    // A NORMAL tenant dropped without FORCE waits, DROPPING, holding its pool, until a FORCE drop.
    pool(&mut conn, "p2").await;
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE kept FROM '{FROM}' WITH 'pool_list=p2'"
    ))
    .await
    .expect("restore");
    step(&cluster, 120);
    conn.query_drop("ALTER SYSTEM ACTIVATE STANDBY TENANT = kept")
        .await
        .expect("activate");
    conn.query_drop("DROP TENANT kept")
        .await
        .expect("delayed drop");
    assert_eq!(
        tenant_state(&mut conn, "kept")
            .await
            .map(|(status, _)| status),
        Some("DROPPING".into())
    );
    assert_eq!(refused(&mut conn, "DROP RESOURCE POOL p2").await.0, 4626);
    conn.query_drop("DROP TENANT kept FORCE")
        .await
        .expect("force drop");
    conn.query_drop("DROP RESOURCE POOL p2")
        .await
        .expect("the pool is free");
}

/// The newest heartbeat `user@tenant` reads, in seconds since the epoch.
async fn heartbeat(opts: &mysql_async::Opts, user: &str) -> i64 {
    let mut conn = Conn::new(login(opts, user, TENANT_PASSWORD))
        .await
        .expect("tenant login");
    let usec: Option<i64> = conn
        .query_first("SELECT time_to_usec(ts) FROM app.heartbeat")
        .await
        .expect("heartbeat");
    usec.expect("a heartbeat row") / 1_000_000
}

#[tokio::test]
async fn a_restored_tenants_heartbeat_is_its_restore_point_and_the_sources_is_now() {
    // The drills' freshness check (issue 36): an application writes the source every second; a restore to T
    // holds the data as of T, and nothing writes to it afterwards.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts.clone()).await.expect("connect");
    backed_up(&mut conn, &cluster).await;
    pool(&mut conn, "p1").await;
    create_tenant_user(&mut cluster.lock().expect("lock"));
    let now = || cluster.lock().expect("lock").now().as_second();
    assert_eq!(heartbeat(&opts, "backup@tenant1").await, now());
    let checkpoint: Option<u64> = conn
        .query_first("SELECT checkpoint_scn FROM CDB_OB_ARCHIVELOG WHERE tenant_id = 1002")
        .await
        .expect("checkpoint");
    let until = checkpoint.expect("checkpoint") - 30_500_000_000;
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE restored FROM '{FROM}' UNTIL SCN = {until} WITH 'pool_list=p1'"
    ))
    .await
    .expect("restore");
    step(&cluster, 120);
    cluster
        .lock()
        .expect("lock")
        .set_user(
            "restored",
            "checker",
            TENANT_PASSWORD,
            obsim::model::UserChange::Create {
                if_not_exists: false,
            },
        )
        .expect("a user of the restored tenant");
    let point = i64::try_from(until / 1_000_000_000).expect("seconds");
    assert_eq!(heartbeat(&opts, "checker@restored").await, point);
    step(&cluster, 60);
    assert_eq!(
        heartbeat(&opts, "checker@restored").await,
        point,
        "nothing writes to a restored tenant"
    );
    assert_eq!(heartbeat(&opts, "backup@tenant1").await, now());
    assert_eq!(
        refused(&mut conn, "SELECT ts FROM heartbeat").await.0,
        1146,
        "the sys tenant has none"
    );
}
