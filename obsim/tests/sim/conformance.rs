//! Conformance of obsim to the interface in `docs/reference/oceanbase-interface.md`, through a real
//! MySQL client library (`mysql_async`, the operator's driver). Each test names the section of
//! docs/reference/oceanbase-interface.md it checks.

use mysql_async::{Conn, OptsBuilder, Row, prelude::Queryable};
use obsim::model::Version;

use crate::common::*;

#[tokio::test]
async fn root_at_sys_authenticates_and_a_wrong_password_gets_1045() {
    // §1.2: the operator talks to the sys tenant as root@sys.
    let opts = start(Version::V4_4_1).await;
    let mut conn = Conn::new(opts.clone()).await.expect("right password");
    conn.ping().await.expect("ping");
    conn.disconnect().await.expect("quit");
    let wrong = OptsBuilder::from_opts(opts).pass(Some("wrong"));
    let (code, message) = server_error(Conn::new(wrong).await.expect_err("refused"));
    assert_eq!(code, 1045);
    assert!(
        message.starts_with("Access denied for user 'root@sys'"),
        "{message}"
    );
}

#[tokio::test]
async fn ob_version_reports_the_profile() {
    // §1.5: SELECT ob_version().
    let mut conn = connect(Version::V4_2_5).await;
    let version: Option<String> = conn
        .query_first("SELECT ob_version()")
        .await
        .expect("query");
    assert_eq!(version.as_deref(), Some("4.2.5.0"));
}

#[tokio::test]
async fn dba_ob_tenants_lists_sys_then_each_user_tenant_after_its_meta_tenant() {
    // §1.1. (Its columns, like every view's, are checked against the real desc output in tests/schemas.rs.)
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let mut conn = connect(version).await;
        let rows: Vec<Row> = conn
            .query("SELECT tenant_id, tenant_name, tenant_type FROM oceanbase.DBA_OB_TENANTS")
            .await
            .expect("query");
        let kinds: Vec<(Option<i64>, Option<String>, Option<String>)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(kinds[0], (Some(1), Some("sys".into()), Some("SYS".into())));
        assert_eq!(
            kinds[1],
            (Some(1001), Some("META$1002".into()), Some("META".into()))
        );
        assert_eq!(
            kinds[2],
            (Some(1002), Some("tenant1".into()), Some("USER".into()))
        );
    }
}

#[tokio::test]
async fn where_order_by_and_limit_are_applied() {
    // §1.4 "Queries used in practice": a filtered, ordered lookup as ob-operator and obshell issue it.
    let mut conn = connect(Version::V4_4_1).await;
    let latest: Option<(i64, String)> = conn
        .query_first(
            "SELECT tenant_id, tenant_name FROM oceanbase.DBA_OB_TENANTS \
             WHERE tenant_type = 'USER' AND status IN ('NORMAL', 'RESTORE') ORDER BY tenant_id DESC LIMIT 1",
        )
        .await
        .expect("query");
    assert_eq!(latest, Some((1004, "tenant2".into())));
    let count: Option<i64> = conn
        .query_first("SELECT count(*) FROM DBA_OB_TENANTS WHERE tenant_type <> 'USER'")
        .await
        .expect("count");
    assert_eq!(count, Some(3));
    let log_mode: Option<String> = conn
        .query_first("select log_mode from DBA_OB_TENANTS where tenant_name = 'tenant1'")
        .await
        .expect("log mode");
    assert_eq!(
        log_mode.as_deref(),
        Some("NOARCHIVELOG"),
        "§1.4: a new tenant is not archiving"
    );
}

#[tokio::test]
async fn prepared_statements_bind_parameters() {
    // §1.4: ob-operator's QueryTenantWithName binds the name as a parameter.
    let mut conn = connect(Version::V4_4_1).await;
    let row: Option<(i64, String, Option<u64>)> = conn
        .exec_first(
            "SELECT tenant_id, tenant_role, sync_scn FROM DBA_OB_TENANTS WHERE tenant_name = ? AND tenant_type = ?",
            ("tenant2", "USER"),
        )
        .await
        .expect("execute");
    let (id, role, scn) = row.expect("a row");
    assert_eq!((id, role.as_str()), (1004, "PRIMARY"));
    assert_eq!(
        scn,
        Some(1_763_600_000_000_000_000),
        "SCN is the nanosecond time (§0.3)"
    );
    let sys_scn: Option<Option<u64>> = conn
        .exec_first(
            "SELECT sync_scn FROM DBA_OB_TENANTS WHERE tenant_id = ?",
            (1,),
        )
        .await
        .expect("execute");
    assert_eq!(
        sys_scn,
        Some(Some(0)),
        "§14: SCN columns are NOT NULL in both real schemas (§1.4's NULL for sys and meta loses); 0 is obsim's \
         guess of the value"
    );
}

#[tokio::test]
async fn a_tenant_without_a_recovery_limit_shows_the_maximum_scn() {
    // A real server shows SCN::max_scn(), 2^62 − 1, where there is no limit; never u64::MAX.
    let mut conn = connect(Version::V4_2_5).await;
    let until: Option<u64> = conn
        .query_first("SELECT recovery_until_scn FROM DBA_OB_TENANTS WHERE tenant_name = 'tenant1'")
        .await
        .expect("tenant1");
    assert_eq!(until, Some(4_611_686_018_427_387_903));
    assert_eq!(until, Some(obsim::model::archive::MAX_SCN));
}

#[tokio::test]
async fn multi_statement_packets_return_one_result_per_statement() {
    // §11.2: multi-statement packets must work (SET ENCRYPTION …; ALTER SYSTEM BACKUP … arrive together).
    let mut conn = connect(Version::V4_4_1).await;
    let mut results = conn
        .query_iter("SELECT 1 AS a; SELECT 'x;y' AS b")
        .await
        .expect("query");
    let first: Vec<i64> = results.collect().await.expect("first result");
    let second: Vec<String> = results.collect().await.expect("second result");
    assert_eq!((first, second), (vec![1], vec!["x;y".to_string()]));
}

#[tokio::test]
async fn errors_use_mysql_numbers_and_texts() {
    // §0.3 and §12: syntax errors are 1064, unknown views 1146.
    let mut conn = connect(Version::V4_4_1).await;
    let (code, _) = refused(&mut conn, "SELEC 1").await;
    assert_eq!(code, 1064);
    let (code, message) = refused(&mut conn, "SELECT * FROM oceanbase.DBA_OB_NOPE").await;
    assert_eq!(
        (code, message.as_str()),
        (1146, "Table 'oceanbase.DBA_OB_NOPE' doesn't exist")
    );
    // The connection stays usable after errors.
    let one: Option<i64> = conn.query_first("SELECT 1").await.expect("query");
    assert_eq!(one, Some(1));
}

#[tokio::test]
async fn time_functions_follow_the_scn_conventions() {
    // §0.3: SCN is nanoseconds; *_DISPLAY is SCN_TO_TIMESTAMP(scn), NULL for 0; USEC_TO_TIME / TIME_TO_USEC.
    let mut conn = connect(Version::V4_4_1).await;
    let row: Option<(Option<String>, Option<String>, i64)> = conn
        .query_first(
            "SELECT scn_to_timestamp(0), scn_to_timestamp(1763600000000000000), \
             time_to_usec(usec_to_time(1763600000123456))",
        )
        .await
        .expect("query");
    let (zero, display, micros) = row.expect("a row");
    assert_eq!(zero, None);
    assert_eq!(display.as_deref(), Some("2025-11-20 00:53:20.000000"));
    assert_eq!(micros, 1_763_600_000_123_456);
}

#[tokio::test]
async fn log_archiving_moves_through_the_reference_states() {
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");

    // §2.2: the archive destination, stored as key/value rows.
    conn.query_drop(
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///backup/archive BINDING=OPTIONAL PIECE_SWITCH_INTERVAL=1d' TENANT = tenant1",
    )
    .await
    .expect("set dest");
    let dest: Vec<(String, String)> = conn
        .query("SELECT name, value FROM CDB_OB_ARCHIVE_DEST WHERE tenant_id = 1002 AND dest_no = 0 ORDER BY name")
        .await
        .expect("dest rows");
    let names: Vec<&str> = dest.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "binding",
            "dest_id",
            "path",
            "piece_switch_interval",
            "state"
        ]
    );
    assert_eq!(dest[2].1, "file:///backup/archive");
    assert_eq!(dest[4].1, "ENABLE");

    // §3.1: ARCHIVELOG starts a round; a second ARCHIVELOG is 9091.
    conn.query_drop("ALTER SYSTEM ARCHIVELOG TENANT = tenant1")
        .await
        .expect("archivelog");
    let mode: Option<String> = conn
        .query_first("SELECT log_mode FROM DBA_OB_TENANTS WHERE tenant_name = 'tenant1'")
        .await
        .expect("log mode");
    assert_eq!(mode.as_deref(), Some("ARCHIVELOG"));
    assert_eq!(archive_status(&mut conn).await.as_deref(), Some("PREPARE"));
    let (code, message) = refused(&mut conn, "ALTER SYSTEM ARCHIVELOG TENANT = tenant1").await;
    assert_eq!(
        (code, message.as_str()),
        (9091, "Already in ARCHIVELOG mode")
    );

    // §3.2: PREPARE → BEGINNING → DOING over (simulated) seconds, never straight to the end.
    step(&cluster, 2);
    assert_eq!(
        archive_status(&mut conn).await.as_deref(),
        Some("BEGINNING")
    );
    step(&cluster, 10);
    assert_eq!(archive_status(&mut conn).await.as_deref(), Some("DOING"));

    // §3.4: the delay as obshell computes it.
    let delay: Option<f64> = conn
        .query_first(
            "SELECT truncate((time_to_usec(now()) - checkpoint_scn/1000)/1000000, 4) AS DELAY \
             FROM CDB_OB_ARCHIVELOG_SUMMARY WHERE tenant_id = 1002 AND status IN ('BEGINNING','DOING','STOPPING','PREPARE','SUSPEND')",
        )
        .await
        .expect("delay");
    assert_eq!(delay, Some(1.0));

    // §2.2: the destination cannot change while archiving runs.
    let (code, message) = refused(
        &mut conn,
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///elsewhere' TENANT = tenant1",
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (
            1235,
            "change archive dest when archive is running is not supported"
        )
    );

    // §3.3: DBA_OB_ARCHIVELOG ends COMMENT, PATH; the summary ends PATH, COMMENT.
    for (view, tail) in [
        ("CDB_OB_ARCHIVELOG", ["COMMENT", "PATH"]),
        ("CDB_OB_ARCHIVELOG_SUMMARY", ["PATH", "COMMENT"]),
    ] {
        let rows: Vec<Row> = conn
            .query(format!("SELECT * FROM {view}"))
            .await
            .expect("rows");
        let names: Vec<String> = column_names(&rows);
        assert_eq!(names.len(), 27, "{view}");
        assert_eq!(&names[..3], ["TENANT_ID", "DEST_ID", "ROUND_ID"], "{view}");
        assert_eq!(&names[25..], tail, "{view}");
    }

    // §3.1/§3.2: NOARCHIVELOG stops the round; it moves to history and shows as STOP in the summary only.
    conn.query_drop("ALTER SYSTEM NOARCHIVELOG TENANT = tenant1")
        .await
        .expect("noarchivelog");
    assert_eq!(archive_status(&mut conn).await.as_deref(), Some("STOPPING"));
    step(&cluster, 3);
    assert_eq!(archive_status(&mut conn).await.as_deref(), Some("STOP"));
    let current: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_ARCHIVELOG")
        .await
        .expect("rows");
    assert!(current.is_empty());
    let (code, _) = refused(&mut conn, "ALTER SYSTEM NOARCHIVELOG TENANT = tenant1").await;
    assert_eq!(code, 9092);
}

#[tokio::test]
async fn data_backup_dest_is_per_user_tenant() {
    // §2.1 and §1.2: set from sys with TENANT =; visible in CDB_OB_BACKUP_PARAMETER.
    let mut conn = connect(Version::V4_2_5).await;
    conn.query_drop("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant2")
        .await
        .expect("set");
    let rows: Vec<(i64, String, String)> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_PARAMETER")
        .await
        .expect("rows");
    assert_eq!(
        rows,
        [(
            1004,
            "data_backup_dest".to_string(),
            "file:///backup/data".to_string()
        )]
    );
    // In sys, DBA_ views show only sys's own rows.
    let own: Vec<Row> = conn
        .query("SELECT * FROM DBA_OB_BACKUP_PARAMETER")
        .await
        .expect("rows");
    assert!(own.is_empty());
    // Without TENANT the statement targets sys, which cannot have a backup destination.
    let (code, _) = refused(&mut conn, "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///x'").await;
    assert_eq!(code, 1235);
    let (code, message) = refused(
        &mut conn,
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///x' TENANT = nosuch",
    )
    .await;
    assert_eq!((code, message.as_str()), (5157, "Unknown tenant 'nosuch'"));
}

/// §2.3, §12: a destination must be a URI of a storage scheme (file, oss, cos, s3); anything else is refused
/// with OB_INVALID_BACKUP_DEST (−9026), wherever a statement names a destination.
#[tokio::test]
async fn destinations_that_are_not_uris_are_refused_as_invalid() {
    let mut conn = connect(Version::V4_4_1).await;
    for statement in [
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'notauri' TENANT = tenant1",
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'ftp://host/backup/data' TENANT = tenant1",
        "ALTER SYSTEM SET DATA_BACKUP_DEST = '/backup/data' TENANT = tenant1",
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=notauri' TENANT = tenant1",
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=ftp://host/archive BINDING=OPTIONAL' TENANT = tenant1",
        "ALTER SYSTEM BACKUP TENANT = tenant1 TO 'notauri'",
        "ALTER SYSTEM RESTORE r1 FROM 'notauri' WITH 'pool_list=p1'",
        "ALTER SYSTEM RESTORE r1 FROM 'file:///backup/data,ftp://host/archive' WITH 'pool_list=p1'",
    ] {
        let (code, message) = refused(&mut conn, statement).await;
        assert_eq!(
            (code, message.as_str()),
            (9026, "backup destination is not valid"),
            "{statement}"
        );
    }
    let kept: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_PARAMETER")
        .await
        .expect("rows");
    assert!(kept.is_empty(), "nothing refused was stored");
    for (tenant, uri) in [
        (
            "tenant1",
            "oss://bucket/t1?host=oss-cn-hangzhou.aliyuncs.com",
        ),
        (
            "tenant1",
            "cos://bucket/t1?host=cos.ap-guangzhou.myqcloud.com&appid=1",
        ),
        (
            "tenant1",
            "s3://bucket/t1?host=s3.us-east-1.amazonaws.com&s3_region=us-east-1",
        ),
        ("tenant1", "file:///backup/t1"),
    ] {
        conn.query_drop(format!(
            "ALTER SYSTEM SET DATA_BACKUP_DEST = '{uri}' TENANT = {tenant}"
        ))
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    }
    conn.query_drop("ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=s3://bucket/a?host=h&s3_region=r' TENANT = tenant2")
        .await
        .expect("an s3 archive destination");
}

/// A destination belongs to the tenant (and the kind) whose format file it holds: another tenant's, or the
/// other kind's, is refused with −9081 (OceanBase's `ObBackupDestMgr::check_dest_validity`).
#[tokio::test]
async fn a_destination_another_tenant_or_kind_owns_is_refused() {
    let mut conn = connect(Version::V4_4_1).await;
    for statement in [
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant1",
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///backup/archive' TENANT = tenant1",
    ] {
        conn.query_drop(statement).await.expect(statement);
    }
    for statement in [
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data/' TENANT = tenant2",
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///backup/archive' TENANT = tenant2",
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/archive' TENANT = tenant1",
    ] {
        let (code, message) = refused(&mut conn, statement).await;
        assert_eq!(
            (code, message.as_str()),
            (
                9081,
                "the content of the format file at the destination does not match"
            ),
            "{statement}"
        );
    }
    // Its own destination again, and a directory of tenant2's own, are fine.
    for statement in [
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant1",
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data/tenant2' TENANT = tenant2",
    ] {
        conn.query_drop(statement).await.expect(statement);
    }
}

async fn job_by_description(
    conn: &mut Conn,
    description: &str,
) -> Option<(i64, String, i64, String)> {
    // §4.3: find the job by its DESCRIPTION, in the active table first, then in history.
    for view in ["CDB_OB_BACKUP_JOBS", "CDB_OB_BACKUP_JOB_HISTORY"] {
        let row: Option<(i64, String, i64, String)> = conn
            .exec_first(
                format!("SELECT job_id, status, backup_set_id, encryption_mode FROM {view} WHERE tenant_id = ? AND description = ?"),
                (1002, description),
            )
            .await
            .expect("job lookup");
        if row.is_some() {
            return row;
        }
    }
    None
}

#[tokio::test]
async fn a_data_backup_runs_through_its_states_and_leaves_a_backup_set() {
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts.clone()).await.expect("connect");

    // §4.2: admission checks, with the exact 9040 texts.
    let (code, message) = refused(&mut conn, "ALTER SYSTEM BACKUP TENANT = tenant1").await;
    assert_eq!(
        (code, message.as_str()),
        (
            9040,
            "backup can not start, because backup dest is not set."
        )
    );
    conn.query_drop("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant1")
        .await
        .expect("dest");
    let (code, message) = refused(&mut conn, "ALTER SYSTEM BACKUP TENANT = tenant1").await;
    assert_eq!(
        (code, message.as_str()),
        (
            9040,
            "backup can not start, because log archive status is not doing."
        )
    );
    archiving_tenant1(&mut conn, &cluster).await;

    // §2.4: SET ENCRYPTION applies to the BACKUP sent after it on the same session.
    conn.query_drop("SET ENCRYPTION ON IDENTIFIED BY 'secret' ONLY; ALTER SYSTEM BACKUP TENANT = tenant1 DESCRIPTION = 'uid-1'")
        .await
        .expect("encrypted backup");
    let (job_id, status, set_id, encryption) =
        job_by_description(&mut conn, "uid-1").await.expect("job");
    assert_eq!(
        (job_id, status.as_str(), set_id, encryption.as_str()),
        (1, "INIT", 1, "PASSWORD")
    );
    // §4.2: a second backup of the tenant is 9036 while the first runs.
    let (code, message) = refused(&mut conn, "ALTER SYSTEM BACKUP TENANT = tenant1").await;
    assert_eq!((code, message.as_str()), (9036, "Backup is in progress"));
    // §2.1: and the data destination cannot change meanwhile.
    let (code, _) = refused(
        &mut conn,
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///elsewhere' TENANT = tenant1",
    )
    .await;
    assert_eq!(code, 9036);

    // §4.6: INIT → DOING, with a task walking the phase strings and tablets finishing.
    step(&cluster, 20);
    assert_eq!(
        job_by_description(&mut conn, "uid-1")
            .await
            .map(|j| j.1)
            .as_deref(),
        Some("DOING")
    );
    let task: Option<(String, i64, i64)> = conn
        .query_first("SELECT status, tablet_count, finish_tablet_count FROM CDB_OB_BACKUP_TASKS WHERE job_id = 1")
        .await
        .expect("task");
    let (phase, tablets, finished) = task.expect("a task");
    assert_eq!(phase, "BACKUP_DATA_MAJOR");
    assert!(0 < finished && finished < tablets, "{finished}/{tablets}");

    // 10 GiB at 200 MiB/s: done after about a minute, then moved to history.
    step(&cluster, 60);
    assert_eq!(
        job_by_description(&mut conn, "uid-1")
            .await
            .map(|j| j.1)
            .as_deref(),
        Some("COMPLETED")
    );
    let active: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_JOBS WHERE tenant_id = 1002")
        .await
        .expect("jobs");
    assert!(active.is_empty(), "§4.4: finished jobs end up in *_HISTORY");
    let set: Option<(String, String, String, u64, u64)> = conn
        .query_first(
            "SELECT backup_type, status, file_status, start_replay_scn, min_restore_scn FROM CDB_OB_BACKUP_SET_FILES \
             WHERE tenant_id = 1002 AND backup_set_id = 1",
        )
        .await
        .expect("set");
    let (kind, status, file_status, replay, restore) = set.expect("a set");
    assert_eq!(
        (kind.as_str(), status.as_str(), file_status.as_str()),
        ("FULL", "SUCCESS", "AVAILABLE")
    );
    assert!(
        replay < restore,
        "MIN_RESTORE_SCN is after START_REPLAY_SCN"
    );
    let rows: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_SET_FILES")
        .await
        .expect("sets");
    assert!(
        rows[0]
            .columns_ref()
            .iter()
            .any(|c| c.name_str() == "ELAPSED_SECONDES"),
        "§4.4: the real column name"
    );

    // §2.4: encryption is per session: a new connection's backup is not encrypted.
    let mut other = Conn::new(opts).await.expect("second connection");
    other
        .query_drop("ALTER SYSTEM BACKUP INCREMENTAL TENANT = tenant1 DESCRIPTION 'uid-2'")
        .await
        .expect("incremental");
    let (_, _, set_id, encryption) = job_by_description(&mut conn, "uid-2").await.expect("job");
    assert_eq!((set_id, encryption.as_str()), (2, "NONE"));
    let kind: Option<String> = conn
        .query_first("SELECT backup_type FROM CDB_OB_BACKUP_JOBS WHERE description = 'uid-2'")
        .await
        .expect("type");
    assert_eq!(kind.as_deref(), Some("INC"));

    // §4.6: CANCEL BACKUP → CANCELING → CANCELED with RESULT -4072.
    conn.query_drop("ALTER SYSTEM CANCEL BACKUP TENANT = tenant1")
        .await
        .expect("cancel");
    assert_eq!(
        job_by_description(&mut conn, "uid-2")
            .await
            .map(|j| j.1)
            .as_deref(),
        Some("CANCELING")
    );
    step(&cluster, 1);
    let result: Option<(String, i64)> = conn
        .query_first("SELECT status, result FROM CDB_OB_BACKUP_JOBS WHERE tenant_id = 1002 AND description = 'uid-2'")
        .await
        .expect("canceled");
    assert_eq!(result, Some(("CANCELED".into(), -4072)));
}

#[tokio::test]
async fn a_backup_from_sys_lists_its_cluster_job_in_sys() {
    // §4.3: the sys path inserts one CLUSTER job in sys (BACKUP_SET_ID 0, INITIATOR_JOB_ID = JOB_ID) that
    // spawns the tenant jobs; §1.3: DBA_ views in sys show only it.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    conn.query_drop("ALTER SYSTEM BACKUP DATABASE DESCRIPTION 'all'")
        .await
        .expect("backup of every eligible tenant");
    type Job = (i64, i64, i64, String, String, String);
    let sql = "SELECT job_id, backup_set_id, initiator_job_id, executor_tenant_id, job_level, status FROM";
    let sys: Vec<Job> = conn
        .query(format!("{sql} DBA_OB_BACKUP_JOBS"))
        .await
        .expect("sys jobs");
    assert_eq!(
        sys,
        [(1, 0, 1, "1002".into(), "CLUSTER".into(), "INIT".into())]
    );
    let tenant: Vec<(i64, i64, String)> = conn
        .query("SELECT initiator_tenant_id, initiator_job_id, job_level FROM CDB_OB_BACKUP_JOBS WHERE tenant_id = 1002")
        .await
        .expect("tenant jobs");
    assert_eq!(tenant, [(1, 1, "USER_TENANT".into())]);
    step(&cluster, 2);
    let doing: Option<String> = conn
        .query_first("SELECT status FROM DBA_OB_BACKUP_JOBS")
        .await
        .expect("sys job");
    assert_eq!(doing.as_deref(), Some("DOING"));
    step(&cluster, 120);
    let done: Vec<Job> = conn
        .query(format!("{sql} DBA_OB_BACKUP_JOB_HISTORY"))
        .await
        .expect("sys history");
    assert_eq!(
        done,
        [(1, 0, 1, "1002".into(), "CLUSTER".into(), "COMPLETED".into())]
    );
}

#[tokio::test]
async fn archive_pieces_cover_the_round_one_interval_each() {
    // §3.3 DBA_OB_ARCHIVELOG_PIECE_FILES and §8: pieces joined by START_SCN give the log coverage.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    step(&cluster, 2 * 86_400 + 3_600); // two days and an hour of archiving with the default 1d pieces
    let pieces: Vec<(i64, String, u64, u64, u64)> = conn
        .query(
            "SELECT piece_id, status, start_scn, checkpoint_scn, end_scn FROM CDB_OB_ARCHIVELOG_PIECE_FILES \
             WHERE tenant_id = 1002 AND file_status = 'AVAILABLE' ORDER BY start_scn",
        )
        .await
        .expect("pieces");
    let statuses: Vec<&str> = pieces.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(statuses, ["FROZEN", "FROZEN", "ACTIVE"]);
    for pair in pieces.windows(2) {
        assert_eq!(
            pair[1].2, pair[0].3,
            "a piece starts where the previous one's checkpoint ends"
        );
        assert_eq!(
            pair[0].3, pair[0].4,
            "a frozen piece is archived to its end"
        );
    }
    let rows: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_ARCHIVELOG_PIECE_FILES")
        .await
        .expect("rows");
    let names: Vec<String> = column_names(&rows);
    assert_eq!(names.len(), 24);
    assert_eq!(&names[names.len() - 2..], ["FILE_STATUS", "PATH"]);
}
