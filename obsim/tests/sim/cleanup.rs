//! obsim's backup cleanup against docs/reference/oceanbase-interface.md §5 (policy, obsolete and
//! manual deletes, cancel), through `mysql_async`.

use crate::common::*;
use mysql_async::{Conn, Row, prelude::Queryable};
use obsim::model::Version;

const DAY: i64 = 86_400;

#[tokio::test]
async fn delete_policy_statements_and_their_errors() {
    // §5.1 and OB-clean (newest) add_delete_policy_ / drop_delete_policy_.
    let mut conn = connect(Version::V4_2_5).await;
    conn.query_drop(
        "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '1d' TENANT = tenant1",
    )
    .await
    .expect("add");
    let rows: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_DELETE_POLICY")
        .await
        .expect("policy");
    assert_eq!(
        column_names(&rows),
        ["TENANT_ID", "POLICY_NAME", "RECOVERY_WINDOW"]
    );
    let policies: Vec<(i64, String, String)> = conn
        .query("SELECT tenant_id, policy_name, recovery_window FROM CDB_OB_BACKUP_DELETE_POLICY")
        .await
        .expect("policy");
    assert_eq!(policies, [(1002, "default".to_string(), "1d".to_string())]);
    let again =
        "ALTER SYSTEM ADD DELETE BACKUP POLICY = 'default' RECOVERY_WINDOW = '3d' TENANT tenant1";
    assert_eq!(
        refused(&mut conn, again).await,
        (4017, "Entry already exist".into())
    );
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM ADD DELETE BACKUP POLICY 'weekly' TENANT = tenant2"
        )
        .await
        .0,
        1210,
        "only 'default' is a policy name"
    );
    assert_eq!(
        refused(&mut conn, "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default'")
            .await
            .0,
        1210,
        "from sys one tenant must be named"
    );
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM DROP DELETE BACKUP POLICY 'default' TENANT = tenant2"
        )
        .await,
        (4018, "Entry not exist".into())
    );
    conn.query_drop("ALTER SYSTEM DROP DELETE BACKUP POLICY 'default' TENANT = tenant1")
        .await
        .expect("drop");
    let left: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_DELETE_POLICY")
        .await
        .expect("policy");
    assert!(left.is_empty());
}

#[tokio::test]
async fn the_policy_starts_an_obsolete_cleanup_about_hourly() {
    // §5.1: with a policy a DELETE OBSOLETE BACKUP job starts about every hour; §5.3 views; §8 what is kept.
    let (opts, cluster) = start_with_cluster(Version::V4_2_5).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    let first = completed_backup(&mut conn, &cluster, false).await;
    step(&cluster, 2 * DAY);
    let second = completed_backup(&mut conn, &cluster, false).await;
    step(&cluster, DAY);
    conn.query_drop(
        "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '1d' TENANT = tenant1",
    )
    .await
    .expect("policy");
    step(&cluster, 3_599);
    let none: Vec<Row> = conn
        .query("SELECT * FROM CDB_OB_BACKUP_DELETE_JOBS")
        .await
        .expect("jobs");
    assert!(none.is_empty(), "no job before the hour");
    step(&cluster, 1);
    let job: Option<(i64, String, String, String)> = conn
        .query_first("SELECT job_id, type, job_level, status FROM CDB_OB_BACKUP_DELETE_JOBS WHERE tenant_id = 1002")
        .await
        .expect("job");
    assert_eq!(
        job,
        Some((
            1,
            "DELETE OBSOLETE BACKUP".into(),
            "USER_TENANT".into(),
            "INIT".into()
        ))
    );
    step(&cluster, 60);
    let done: Option<(String, i64, i64, i64)> = conn
        .query_first(
            "SELECT status, task_count, success_task_count, result FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY \
             WHERE tenant_id = 1002 AND job_id = 1",
        )
        .await
        .expect("history");
    let (status, tasks, succeeded, result) = done.expect("the job finished");
    assert_eq!((status.as_str(), result), ("COMPLETED", 0));
    assert!(
        tasks >= 2 && succeeded == tasks,
        "{tasks} tasks, {succeeded} succeeded"
    );
    assert_eq!(
        set_file_status(&mut conn, first).await.as_deref(),
        Some("DELETED")
    );
    assert_eq!(
        set_file_status(&mut conn, second).await.as_deref(),
        Some("AVAILABLE"),
        "the newest full set that restores the window's start is kept"
    );
    let task_types: Vec<(String, i64, String)> = conn
        .query(
            "SELECT task_type, id, status FROM CDB_OB_BACKUP_DELETE_TASK_HISTORY WHERE job_id = 1 ORDER BY task_id",
        )
        .await
        .expect("tasks");
    assert_eq!(
        task_types[0],
        ("BACKUP SET".to_string(), first, "COMPLETED".to_string())
    );
    assert!(task_types[1..].iter().all(|t| t.0 == "BACKUP PIECE"));
    // Pieces are deleted oldest first and the log the kept set replays from stays.
    let replay_from: Option<u64> = conn
        .exec_first(
            "SELECT start_replay_scn FROM CDB_OB_BACKUP_SET_FILES WHERE tenant_id = 1002 AND backup_set_id = ?",
            (second,),
        )
        .await
        .expect("replay scn");
    let pieces: Vec<(i64, u64, u64, String)> = conn
        .query("SELECT piece_id, start_scn, checkpoint_scn, file_status FROM CDB_OB_ARCHIVELOG_PIECE_FILES ORDER BY piece_id")
        .await
        .expect("pieces");
    assert_eq!(pieces[0].3, "DELETED");
    let covering = pieces
        .iter()
        .find(|p| p.1 <= replay_from.unwrap_or_default() && replay_from.unwrap_or_default() <= p.2)
        .expect("a piece covers the replay start");
    assert_eq!(covering.3, "AVAILABLE");
    // PARAMETER is the cut-off: the job's start minus the recovery window.
    let times: Option<(String, String)> = conn
        .query_first(
            "SELECT parameter, start_timestamp FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY WHERE job_id = 1",
        )
        .await
        .expect("times");
    let (parameter, started) = times.expect("times");
    let parse = |t: &str| t.parse::<jiff::civil::DateTime>().expect("time");
    assert_eq!(
        parse(&started).duration_since(parse(&parameter)),
        jiff::SignedDuration::from_hours(24)
    );
}

#[tokio::test]
async fn manual_deletes_need_4_4_1() {
    // §5.2: the resolver rejects manual clean below 4.4.1; CANCEL DELETE is allowed.
    let mut conn = connect(Version::V4_2_5).await;
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM DELETE BACKUPSET 1 TENANT = tenant1"
        )
        .await,
        (1235, "manual backup clean not supported".into())
    );
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM DELETE OBSOLETE BACKUP TENANT = tenant1"
        )
        .await
        .0,
        1235
    );
    conn.query_drop("ALTER SYSTEM CANCEL DELETE BACKUP TENANT = tenant1")
        .await
        .expect("cancel delete is not manual clean");
}

#[tokio::test]
async fn manual_deletes_keep_what_a_restore_needs() {
    // §5.2 resolver texts and the rules: keep incremental dependencies, keep a restorable full set, delete
    // pieces in order and only those no retained set needs; §5.4 one clean at a time (9044).
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    let full = completed_backup(&mut conn, &cluster, false).await;
    let inc = completed_backup(&mut conn, &cluster, true).await;

    let cases = [
        (
            "ALTER SYSTEM DELETE BACKUPSET 1",
            "need to specify a tenant name not supported",
        ),
        (
            "ALTER SYSTEM DELETE BACKUPSET 1 TENANT = tenant1, tenant2",
            "Too many tenant names specified, only one tenant name can be specified not supported",
        ),
    ];
    for (sql, message) in cases {
        assert_eq!(
            refused(&mut conn, sql).await,
            (1235, message.to_string()),
            "{sql}"
        );
    }
    let many: Vec<String> = (1..=33).map(|i| i.to_string()).collect();
    let (code, message) = refused(
        &mut conn,
        &format!(
            "ALTER SYSTEM DELETE BACKUPSET {} TENANT = tenant1",
            many.join(", ")
        ),
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (
            1235,
            "the number of ids to be deleted more than 32 not supported"
        )
    );
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM DELETE BACKUPSET 99 TENANT = tenant1"
        )
        .await
        .0,
        9046
    );
    let only_full = format!("ALTER SYSTEM DELETE BACKUPSET {full} TENANT = tenant1");
    assert_eq!(
        refused(&mut conn, &only_full).await.0,
        9045,
        "the incremental needs it"
    );

    // A second full set makes the first chain deletable.
    step(&cluster, 2 * DAY);
    completed_backup(&mut conn, &cluster, false).await;
    conn.query_drop(format!(
        "ALTER SYSTEM DELETE BACKUPSET {full}, {inc} TENANT = tenant1"
    ))
    .await
    .expect("delete the old chain");
    assert_eq!(
        refused(
            &mut conn,
            "ALTER SYSTEM DELETE OBSOLETE BACKUP TENANT = tenant1"
        )
        .await
        .0,
        9044,
        "one clean job at a time"
    );
    let job: Option<(String, String, String)> = conn
        .query_first("SELECT type, parameter, status FROM CDB_OB_BACKUP_DELETE_JOBS")
        .await
        .expect("job");
    let (kind, parameter, status) = job.expect("job");
    assert_eq!(kind, "DELETE BACKUPSET");
    // Manual deletes are 4.4.1's, whose schema has PARAMETER as a varchar: the id as stored
    // (docs/reference/oceanbase-interface.md §14).
    assert_eq!(parameter, "1", "the set id");
    assert_eq!(status, "INIT");
    step(&cluster, 2);
    assert_eq!(
        set_file_status(&mut conn, full).await.as_deref(),
        Some("DELETING")
    );
    step(&cluster, 10);
    assert_eq!(
        set_file_status(&mut conn, full).await.as_deref(),
        Some("DELETED")
    );
    assert_eq!(
        set_file_status(&mut conn, inc).await.as_deref(),
        Some("DELETED")
    );

    // Pieces: oldest first, frozen only.
    let pieces: Vec<(i64, String)> = conn
        .query("SELECT piece_id, status FROM CDB_OB_ARCHIVELOG_PIECE_FILES WHERE file_status = 'AVAILABLE' ORDER BY piece_id")
        .await
        .expect("pieces");
    assert!(pieces.len() >= 3, "{pieces:?}");
    let (oldest, second) = (pieces[0].0, pieces[1].0);
    let out_of_order = format!("ALTER SYSTEM DELETE ARCHIVELOG_PIECE {second} TENANT = tenant1");
    assert_eq!(
        refused(&mut conn, &out_of_order).await,
        (9069, "deleting backup piece is not allowed".into())
    );
    let active = pieces.last().map(|p| p.0).unwrap_or_default();
    let active = format!("ALTER SYSTEM DELETE ARCHIVELOG_PIECE {active} TENANT = tenant1");
    assert_eq!(refused(&mut conn, &active).await.0, 9069);
    conn.query_drop(format!(
        "ALTER SYSTEM DELETE ARCHIVELOG_PIECE {oldest} TENANT = tenant1"
    ))
    .await
    .expect("oldest piece");
    step(&cluster, 10);
    let deleted: Option<String> = conn
        .exec_first(
            "SELECT file_status FROM CDB_OB_ARCHIVELOG_PIECE_FILES WHERE piece_id = ?",
            (oldest,),
        )
        .await
        .expect("piece");
    assert_eq!(deleted.as_deref(), Some("DELETED"));
    let kinds: Vec<String> = conn
        .query("SELECT type FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY ORDER BY job_id")
        .await
        .expect("history");
    assert_eq!(kinds, ["DELETE BACKUPSET", "DELETE ARCHIVELOG_PIECE"]);
}

#[tokio::test]
async fn cancel_delete_backup_moves_running_jobs_to_canceled() {
    // §5.4: INIT|DOING → CANCELING with RESULT −4072 → CANCELED; finished jobs are untouched.
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    let old = completed_backup(&mut conn, &cluster, false).await;
    completed_backup(&mut conn, &cluster, false).await;
    conn.query_drop(format!(
        "ALTER SYSTEM DELETE BACKUPSET {old} TENANT = tenant1"
    ))
    .await
    .expect("delete");
    step(&cluster, 1);
    conn.query_drop("ALTER SYSTEM CANCEL DELETE BACKUP")
        .await
        .expect("cancel");
    let canceling: Option<(String, i64)> = conn
        .query_first("SELECT status, result FROM CDB_OB_BACKUP_DELETE_JOBS")
        .await
        .expect("job");
    assert_eq!(canceling, Some(("CANCELING".into(), -4072)));
    step(&cluster, 5);
    let canceled: Option<(String, i64)> = conn
        .query_first("SELECT status, result FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY")
        .await
        .expect("history");
    assert_eq!(canceled, Some(("CANCELED".into(), -4072)));
    assert_eq!(
        set_file_status(&mut conn, old).await.as_deref(),
        Some("AVAILABLE"),
        "a canceled delete leaves the set usable"
    );
}
