//! What a restore drill (issue 36) does against obsim, through the control API and `mysql_async`: a restored
//! tenant has the source tenant's users, refuses logins while it restores and then answers the drill's
//! checks on its heartbeat; a lost archive piece fails the restores that need it during their log restore
//! and no other; the scratch tenant, its pool and its unit are dropped afterwards
//! (docs/reference/oceanbase-interface.md §6, §6.6).

use std::path::{Path, PathBuf};

use crate::{common::*, control::http};
use mysql_async::{Conn, Opts, prelude::Queryable};
use obsim::{
    clock::Clock,
    engine::SharedCluster,
    model::{Cluster, Version, files::Files},
    sim::Simulator,
};

const FROM: &str = "file:///backup/data,file:///backup/archive";
const DAY: i64 = 86_400;

/// A cluster with tenant1 (frozen clock) and its control API, in this process.
struct Drill {
    opts: Opts,
    cluster: SharedCluster,
    control: String,
}

impl Drill {
    /// Starts the cluster, writing its backup files under `files` if given, and its control API.
    async fn start(files: Option<&Path>) -> Self {
        let simulator = Simulator::new();
        let clock = Clock::new(
            jiff::Timestamp::from_second(1_763_600_000).expect("time"),
            0.0,
        );
        let mut cluster = Cluster::new("obcluster", Version::V4_4_1, PASSWORD, clock);
        cluster
            .add_user_tenant("tenant1", 10 << 30)
            .expect("tenant1");
        cluster.files = files.map(Files::new);
        let node = simulator
            .start(cluster, "127.0.0.1:0".parse().expect("address"))
            .await
            .expect("serve");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("control listener");
        let control = listener.local_addr().expect("control address").to_string();
        tokio::spawn(obsim::control::serve(listener, simulator.clone()));
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(node.addr.port())
            .user(Some("root@sys"))
            .pass(Some(PASSWORD))
            .into();
        Self {
            opts,
            cluster: node.cluster.clone(),
            control,
        }
    }

    async fn sys(&self) -> Conn {
        Conn::new(self.opts.clone()).await.expect("root@sys")
    }

    async fn fault(&self, body: &str) -> (u16, String) {
        http(&self.control, "POST", "/clusters/obcluster/faults", body).await
    }
}

/// Creates unit `u_<pool>` and pool `<pool>` for a restore.
async fn pool(conn: &mut Conn, pool: &str) {
    for sql in [
        format!("CREATE RESOURCE UNIT u_{pool} MAX_CPU = 2, MEMORY_SIZE = '4G'"),
        format!(
            "CREATE RESOURCE POOL {pool} UNIT = 'u_{pool}', UNIT_NUM = 1, ZONE_LIST = ('zone1')"
        ),
    ] {
        conn.query_drop(&sql).await.expect(&sql);
    }
}

/// Starts a restore of tenant1 into `tenant` on pool `pool` (`until`: empty for the latest point).
async fn restore(conn: &mut Conn, tenant: &str, until: &str, pool: &str) {
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE {tenant} FROM '{FROM}' {until} WITH 'pool_list={pool}'"
    ))
    .await
    .expect("the restore is accepted");
}

/// Steps the clock a second at a time until `tenant`'s restore is in history (`SUCCESS` or `FAIL`), at most
/// `seconds`; its status and comment.
async fn ended(
    conn: &mut Conn,
    cluster: &SharedCluster,
    tenant: &str,
    seconds: i64,
) -> (String, String) {
    for _ in 0..seconds {
        let row: Option<(String, String)> = conn
            .exec_first(
                "SELECT status, comment FROM DBA_OB_RESTORE_HISTORY WHERE restore_tenant_name = ?",
                (tenant,),
            )
            .await
            .expect("history");
        if let Some(row) = row {
            return row;
        }
        step(cluster, 1);
    }
    panic!("the restore of {tenant} did not end within {seconds} simulated seconds");
}

async fn tenant_status(conn: &mut Conn, tenant: &str) -> Option<String> {
    conn.exec_first(
        "SELECT status FROM DBA_OB_TENANTS WHERE tenant_name = ?",
        (tenant,),
    )
    .await
    .expect("tenants")
}

fn login_error(result: Result<Conn, mysql_async::Error>) -> (u16, String) {
    server_error(result.expect_err("the login is refused"))
}

#[tokio::test]
async fn a_restored_tenant_has_the_source_users_and_opens_once_restored() {
    // §6.4: a physical restore brings back the tenant's users with their passwords.
    let drill = Drill::start(None).await;
    let (status, _) = http(
        &drill.control,
        "PUT",
        "/clusters/obcluster/tenants/tenant1/users/checker",
        r#"{"password": "checker-pw"}"#,
    )
    .await;
    assert_eq!(status, 204);
    let mut conn = drill.sys().await;
    archiving_tenant1(&mut conn, &drill.cluster).await;
    completed_backup(&mut conn, &drill.cluster, false).await;
    step(&drill.cluster, 60);
    pool(&mut conn, "p1").await;
    restore(&mut conn, "scratch", "", "p1").await;
    step(&drill.cluster, 3);
    assert_eq!(
        tenant_status(&mut conn, "scratch").await.as_deref(),
        Some("RESTORE")
    );

    // Still restoring: the right password is refused with OB_STATE_NOT_MATCH, a wrong one with 1045 first.
    let checker = login(&drill.opts, "checker@scratch", "checker-pw");
    assert_eq!(
        login_error(Conn::new(checker.clone()).await),
        (4109, "Server state or role not the same as expected".into())
    );
    let wrong = Conn::new(login(&drill.opts, "checker@scratch", "nope")).await;
    assert_eq!(login_error(wrong).0, 1045);

    // A user created on the source afterwards is not in the restore (its users as the restore started).
    let (status, _) = http(
        &drill.control,
        "PUT",
        "/clusters/obcluster/tenants/tenant1/users/late",
        r#"{"password": "late-pw"}"#,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        ended(&mut conn, &drill.cluster, "scratch", 300).await.0,
        "SUCCESS"
    );
    assert_eq!(
        tenant_status(&mut conn, "scratch").await.as_deref(),
        Some("NORMAL")
    );
    let late = Conn::new(login(&drill.opts, "late@scratch", "late-pw")).await;
    assert_eq!(login_error(late).0, 1045);

    // Restored: the source's users log in with their passwords (root's is the source's: none), and the
    // drill's checks run.
    Conn::new(login(&drill.opts, "root@scratch", ""))
        .await
        .expect("the source's root");
    let mut scratch = Conn::new(checker).await.expect("checker@scratch");
    let one: Option<i64> = scratch.query_first("SELECT 1").await.expect("SELECT 1");
    assert_eq!(one, Some(1));
    let count: Option<i64> = scratch
        .query_first("SELECT COUNT(*) FROM HEARTBEAT")
        .await
        .expect("COUNT(*)");
    assert_eq!(count, Some(1));
    let newest: Option<String> = scratch
        .query_first("SELECT MAX(TS) FROM HEARTBEAT")
        .await
        .expect("MAX(TS)");
    let point: Option<u64> = conn
        .query_first(
            "SELECT restore_scn FROM DBA_OB_RESTORE_HISTORY WHERE restore_tenant_name = 'scratch'",
        )
        .await
        .expect("restore point");
    let point = jiff::Timestamp::from_nanosecond(i128::from(point.expect("a restore point")))
        .expect("time")
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(newest.as_deref().map(|t| &t[..19]), Some(point.as_str()));
}

/// (piece id, start SCN, checkpoint SCN, path) of tenant1's pieces, oldest first.
async fn pieces(conn: &mut Conn) -> Vec<(i64, u64, u64, String)> {
    conn.query(
        "SELECT piece_id, start_scn, checkpoint_scn, path FROM CDB_OB_ARCHIVELOG_PIECE_FILES \
         WHERE tenant_id = 1002 ORDER BY piece_id",
    )
    .await
    .expect("pieces")
}

/// The local directory of a `file://` path under `root`.
fn local(root: &Path, path: &str) -> PathBuf {
    root.join(path.strip_prefix("file:///").expect("a file:// path"))
}

#[tokio::test]
async fn a_lost_archive_piece_fails_the_restores_that_need_it_during_their_log_restore() {
    let root = std::env::temp_dir().join(format!("obsim-lost-piece-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let drill = Drill::start(Some(&root)).await;
    let mut conn = drill.sys().await;
    archiving_tenant1(&mut conn, &drill.cluster).await;
    completed_backup(&mut conn, &drill.cluster, false).await;
    step(&drill.cluster, 2 * DAY + 600);
    let before = pieces(&mut conn).await;
    let (newest, _, _, path) = before.last().expect("pieces").clone();
    assert!(before.len() >= 3, "{before:?}");
    assert!(local(&root, &path).join("checkpoint").is_dir());

    let (status, body) = drill
        .fault(r#"{"kind": "lose-archive-piece", "tenant": "tenant1", "piece": 99}"#)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = drill.fault(r#"{"kind": "lose-archive-piece"}"#).await;
    assert_eq!((status, body.as_str()), (400, "this fault needs a tenant"));
    let (status, body) = drill
        .fault(r#"{"kind": "lose-archive-piece", "tenant": "tenant1"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    // The piece's directory is gone; OceanBase's metadata still lists it as it was.
    assert!(!local(&root, &path).exists());
    let after = pieces(&mut conn).await;
    assert_eq!(
        after.iter().map(|p| p.0).collect::<Vec<_>>(),
        before.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    let file_status: Option<String> = conn
        .exec_first(
            "SELECT file_status FROM CDB_OB_ARCHIVELOG_PIECE_FILES WHERE tenant_id = 1002 AND piece_id = ?",
            (newest,),
        )
        .await
        .expect("file status");
    assert_eq!(file_status.as_deref(), Some("AVAILABLE"));

    // To the latest point the plan needs the lost piece: the restore starts, restores its data, then fails.
    pool(&mut conn, "p1").await;
    restore(&mut conn, "latest", "", "p1").await;
    step(&drill.cluster, 10);
    assert_eq!(
        tenant_status(&mut conn, "latest").await.as_deref(),
        Some("RESTORE")
    );
    let (status, comment) = ended(&mut conn, &drill.cluster, "latest", 300).await;
    assert_eq!(status, "FAIL");
    assert!(
        comment.contains("module: CLOG, result: -9011(cannot find backup file)"),
        "{comment}"
    );
    let restored: Option<(i64, i64)> = conn
        .query_first(
            "SELECT total_bytes, finish_bytes FROM DBA_OB_RESTORE_HISTORY WHERE restore_tenant_name = 'latest'",
        )
        .await
        .expect("bytes");
    let (total, finished) = restored.expect("history");
    assert_eq!(
        total, finished,
        "the data was restored before the log failed"
    );

    // A point the first piece holds does not need the lost one: that restore succeeds.
    let (first, start, checkpoint, _) = after.first().expect("the first piece").clone();
    assert_ne!(first, newest);
    let until = checkpoint.min(start + 3_600_000_000_000);
    pool(&mut conn, "p2").await;
    restore(&mut conn, "earlier", &format!("UNTIL SCN = {until}"), "p2").await;
    let pieces_used: Option<String> = conn
        .query_first(
            "SELECT backup_piece_list FROM DBA_OB_RESTORE_PROGRESS WHERE restore_tenant_name = 'earlier'",
        )
        .await
        .expect("progress");
    assert_eq!(pieces_used, Some(first.to_string()));
    assert_eq!(
        ended(&mut conn, &drill.cluster, "earlier", 300).await.0,
        "SUCCESS"
    );

    // Clearing faults brings no file back: the latest point still fails.
    let (status, _) = http(&drill.control, "DELETE", "/clusters/obcluster/faults", "").await;
    assert_eq!(status, 200);
    restore(&mut conn, "again", "", "p1").await;
    assert_eq!(
        ended(&mut conn, &drill.cluster, "again", 300).await.0,
        "FAIL"
    );
    // The archive went on writing, but never the lost piece's files again; its placeholders stay listed.
    let dir = local(&root, &path);
    assert!(!dir.exists(), "{dir:?} came back");
    let name = dir
        .file_name()
        .expect("piece dir")
        .to_string_lossy()
        .to_string();
    let listed = std::fs::read_dir(dir.parent().expect("archive root").join("pieces"))
        .expect("placeholders")
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}_start_"))
        });
    assert!(listed, "the piece's start placeholder stays");
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn a_scratch_tenant_its_pool_and_unit_go_after_a_finished_or_a_failed_drill() {
    // §6.6: the drill's clean-up, whatever became of the restore.
    let drill = Drill::start(None).await;
    let mut conn = drill.sys().await;
    archiving_tenant1(&mut conn, &drill.cluster).await;
    completed_backup(&mut conn, &drill.cluster, false).await;
    step(&drill.cluster, 60);
    pool(&mut conn, "p1").await;
    restore(&mut conn, "finished", "", "p1").await;
    assert_eq!(
        ended(&mut conn, &drill.cluster, "finished", 300).await.0,
        "SUCCESS"
    );
    let (status, body) = drill
        .fault(r#"{"kind": "lose-archive-piece", "tenant": "tenant1"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    pool(&mut conn, "p2").await;
    restore(&mut conn, "failed", "", "p2").await;
    assert_eq!(
        ended(&mut conn, &drill.cluster, "failed", 300).await.0,
        "FAIL"
    );
    for (tenant, pool) in [("finished", "p1"), ("failed", "p2")] {
        for sql in [
            format!("DROP TENANT IF EXISTS {tenant} FORCE"),
            format!("DROP RESOURCE POOL IF EXISTS {pool}"),
            format!("DROP RESOURCE UNIT IF EXISTS u_{pool}"),
        ] {
            conn.query_drop(&sql).await.expect(&sql);
        }
        assert_eq!(tenant_status(&mut conn, tenant).await, None);
    }
    let pools: Vec<String> = conn
        .query("SELECT name FROM DBA_OB_RESOURCE_POOLS")
        .await
        .expect("pools");
    assert!(pools.is_empty(), "{pools:?}");
    // Again, on what is gone: IF EXISTS tolerates it; without it, OceanBase's errors.
    for sql in [
        "DROP TENANT IF EXISTS failed FORCE",
        "DROP RESOURCE POOL IF EXISTS p2",
        "DROP RESOURCE UNIT IF EXISTS u_p2",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    assert_eq!(
        refused(&mut conn, "DROP RESOURCE POOL p2").await,
        (4650, "resource pool 'p2' not exist".into())
    );
    assert_eq!(
        refused(&mut conn, "DROP RESOURCE UNIT u_p2").await,
        (4648, "resource unit 'u_p2' not exist".into())
    );
    assert_eq!(
        refused(&mut conn, "DROP TENANT failed FORCE").await,
        (5157, "Unknown tenant 'failed'".into())
    );
}

#[tokio::test]
async fn a_broken_middle_piece_shows_broken_and_no_restore_plans_on_it() {
    let drill = Drill::start(None).await;
    let mut conn = drill.sys().await;
    archiving_tenant1(&mut conn, &drill.cluster).await;
    completed_backup(&mut conn, &drill.cluster, false).await;
    step(&drill.cluster, 2 * DAY + 600);
    let before = pieces(&mut conn).await;
    assert!(before.len() >= 3, "{before:?}");
    let (middle, start, end, _) = before[1].clone();
    let (status, body) = drill
        .fault(r#"{"kind": "break-archive-piece", "tenant": "tenant1", "piece": 99}"#)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = drill
        .fault(&format!(
            r#"{{"kind": "break-archive-piece", "tenant": "tenant1", "piece": {middle}}}"#
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<(i64, String)> = conn
        .query(
            "SELECT piece_id, file_status FROM CDB_OB_ARCHIVELOG_PIECE_FILES WHERE tenant_id = 1002 \
             ORDER BY piece_id",
        )
        .await
        .expect("file status");
    assert_eq!(statuses[1], (middle, "BROKEN".to_string()), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .filter(|(id, _)| *id != middle)
            .all(|(_, s)| s == "AVAILABLE"),
        "{statuses:?}"
    );

    // A point only the broken piece holds cannot be reached (§8): refused at once, nothing created.
    pool(&mut conn, "p1").await;
    let inside = start + (end - start) / 2;
    let refused = conn
        .query_drop(format!(
            "ALTER SYSTEM RESTORE hole FROM '{FROM}' UNTIL SCN = {inside} WITH 'pool_list=p1'"
        ))
        .await
        .expect_err("no plan reaches the hole");
    assert_eq!(server_error(refused).0, 9119);
    assert_eq!(tenant_status(&mut conn, "hole").await, None);
    // A point before the broken piece is restored as before.
    restore(
        &mut conn,
        "before",
        &format!("UNTIL SCN = {}", start - 1),
        "p1",
    )
    .await;
    assert_eq!(
        ended(&mut conn, &drill.cluster, "before", 300).await.0,
        "SUCCESS"
    );
}
