//! Tenant logins (docs/reference/oceanbase-interface.md §1.2–§1.3): `user@tenant` with the tenant's
//! own users and passwords, the `DBA_` views of that tenant only, no `CDB_` views, statements that
//! act on the session's tenant, and what only sys may run refused.

use mysql_async::{Conn, prelude::Queryable};
use obsim::model::{UserChange, Version};

async fn connect_as(opts: &mysql_async::Opts, user: &str, password: &str) -> Conn {
    Conn::new(crate::common::login(opts, user, password))
        .await
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
}

async fn refused_login(opts: &mysql_async::Opts, user: &str, password: &str) -> u16 {
    crate::common::server_error(
        Conn::new(crate::common::login(opts, user, password))
            .await
            .expect_err(user),
    )
    .0
}

#[tokio::test]
async fn tenant_users_log_in_with_their_own_tenants_passwords() {
    let (opts, cluster) = crate::common::start_with_cluster(Version::V4_4_1).await;
    // A new tenant's root has no password, as on a real cluster.
    let mut tenant1 = connect_as(&opts, "root@tenant1", "").await;
    tenant1
        .query_drop("ALTER USER root IDENTIFIED BY 't1-root-pw'")
        .await
        .expect("alter user");
    tenant1
        .query_drop("CREATE USER 'backup'@'%' IDENTIFIED BY 't1-backup-pw'")
        .await
        .expect("create user");
    assert_eq!(
        crate::common::refused(&mut tenant1, "CREATE USER backup IDENTIFIED BY 'x'")
            .await
            .0,
        1396,
        "a user is created once"
    );
    tenant1
        .query_drop("DROP USER IF EXISTS nobody")
        .await
        .expect("drop if exists");

    assert_eq!(refused_login(&opts, "root@tenant1", "").await, 1045);
    connect_as(&opts, "root@tenant1#obcluster", "t1-root-pw").await;
    connect_as(&opts, "backup@tenant1", "t1-backup-pw").await;
    // Users belong to their tenant: tenant2 has no `backup`, and its root kept its own (empty) password.
    assert_eq!(
        refused_login(&opts, "backup@tenant2", "t1-backup-pw").await,
        1045
    );
    connect_as(&opts, "root@tenant2", "").await;
    // Sys keeps its password; a meta tenant and an unknown tenant have no users.
    assert_eq!(refused_login(&opts, "root@sys", "t1-root-pw").await, 1045);
    connect_as(&opts, "root", crate::common::PASSWORD).await;
    assert_eq!(refused_login(&opts, "root@META$1002", "").await, 1045);
    assert_eq!(refused_login(&opts, "root@nosuch", "").await, 1045);

    // The control API's path: set_user on the model.
    cluster
        .lock()
        .expect("lock")
        .set_user(
            "tenant2",
            "reader",
            "r-pw",
            UserChange::Create {
                if_not_exists: false,
            },
        )
        .expect("set user");
    connect_as(&opts, "reader@tenant2", "r-pw").await;
}

#[tokio::test]
async fn a_tenant_sees_its_own_dba_views_and_no_cdb_views() {
    let (opts, _cluster) = crate::common::busy_cluster(Version::V4_4_1).await;
    let mut sys = Conn::new(opts.clone()).await.expect("sys");
    let mut tenant1 = connect_as(&opts, "root@tenant1", "").await;
    let mut tenant2 = connect_as(&opts, "root@tenant2", "").await;

    let names: Vec<String> = tenant1
        .query("SELECT tenant_name FROM oceanbase.DBA_OB_TENANTS")
        .await
        .expect("tenants");
    assert_eq!(names, ["tenant1"], "a user tenant lists only itself");
    let all: Vec<String> = sys
        .query("SELECT tenant_name FROM oceanbase.DBA_OB_TENANTS")
        .await
        .expect("tenants");
    assert!(all.len() > 3, "sys lists every tenant: {all:?}");

    // tenant1's sets as sys sees them in CDB_, and as tenant1 sees them in DBA_.
    let from_sys: Vec<(i64, String)> = sys
        .query(
            "SELECT backup_set_id, status FROM CDB_OB_BACKUP_SET_FILES WHERE tenant_id = 1002 \
             ORDER BY backup_set_id",
        )
        .await
        .expect("cdb");
    let own: Vec<(i64, String)> = tenant1
        .query("SELECT backup_set_id, status FROM DBA_OB_BACKUP_SET_FILES ORDER BY backup_set_id")
        .await
        .expect("dba");
    assert_eq!(own, from_sys);
    assert!(own.len() >= 3, "{own:?}");
    let others: Vec<i64> = tenant2
        .query("SELECT backup_set_id FROM DBA_OB_BACKUP_SET_FILES")
        .await
        .expect("dba");
    assert!(others.is_empty(), "tenant2 has no sets: {others:?}");

    for view in [
        "oceanbase.CDB_OB_BACKUP_JOBS",
        "CDB_OB_ARCHIVELOG",
        "oceanbase.DBA_OB_UNITS",
        "oceanbase.DBA_OB_UNIT_CONFIGS",
        "DBA_OB_RESOURCE_POOLS",
    ] {
        let (code, message) =
            crate::common::refused(&mut tenant1, &format!("SELECT * FROM {view}")).await;
        assert_eq!(code, 1146, "{view}: {message}");
    }
    // The DBA_ form drops TENANT_ID and holds exactly the tenant's CDB_ rows.
    let history: Vec<mysql_async::Row> = tenant1
        .query("SELECT * FROM oceanbase.DBA_OB_BACKUP_JOB_HISTORY ORDER BY job_id")
        .await
        .expect("dba history");
    assert!(!history.is_empty());
    assert!(!crate::common::column_names(&history).contains(&"TENANT_ID".to_string()));
    let own_jobs: Vec<i64> = history
        .iter()
        .map(|r| r.get("JOB_ID").expect("JOB_ID"))
        .collect();
    let from_sys: Vec<i64> = sys
        .query(
            "SELECT job_id FROM CDB_OB_BACKUP_JOB_HISTORY WHERE tenant_id = 1002 ORDER BY job_id",
        )
        .await
        .expect("cdb history");
    assert_eq!(own_jobs, from_sys);
}

#[tokio::test]
async fn a_tenants_statements_act_on_itself_and_what_only_sys_may_run_is_refused() {
    let (opts, cluster) = crate::common::start_with_cluster(Version::V4_4_1).await;
    let mut sys = Conn::new(opts.clone()).await.expect("sys");
    let mut tenant2 = connect_as(&opts, "root@tenant2", "").await;
    for statement in [
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///t2/data'",
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///t2/archive'",
        "ALTER SYSTEM ARCHIVELOG",
    ] {
        tenant2.query_drop(statement).await.expect(statement);
    }
    crate::common::step(&cluster, 120);
    let modes: Vec<(String, String)> = sys
        .query("SELECT tenant_name, log_mode FROM DBA_OB_TENANTS WHERE tenant_type = 'USER' ORDER BY tenant_id")
        .await
        .expect("modes");
    assert_eq!(
        modes,
        [
            ("tenant1".to_string(), "NOARCHIVELOG".to_string()),
            ("tenant2".to_string(), "ARCHIVELOG".to_string())
        ]
    );
    let dest: Option<String> = sys
        .query_first("SELECT value FROM CDB_OB_BACKUP_PARAMETER WHERE tenant_id = 1004")
        .await
        .expect("dest");
    assert_eq!(dest.as_deref(), Some("file:///t2/data"));

    // A backup from inside the tenant is the tenant's own job: no sys-side CLUSTER job.
    tenant2
        .query_drop("ALTER SYSTEM BACKUP DATABASE")
        .await
        .expect("backup from the tenant");
    let jobs: Vec<(i64, i64, String)> = sys
        .query("SELECT tenant_id, initiator_tenant_id, backup_type FROM CDB_OB_BACKUP_JOBS")
        .await
        .expect("jobs");
    assert_eq!(jobs, [(1004, 1004, "FULL".to_string())], "{jobs:?}");
    let own: Vec<i64> = tenant2
        .query("SELECT job_id FROM DBA_OB_BACKUP_JOBS")
        .await
        .expect("own jobs");
    assert_eq!(own.len(), 1);

    for (statement, code) in [
        ("ALTER SYSTEM ARCHIVELOG TENANT = tenant1", 1227),
        ("ALTER SYSTEM BACKUP TENANT = tenant2", 1227),
        (
            "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///x' TENANT = tenant1",
            1227,
        ),
        (
            "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' TENANT = tenant2",
            1227,
        ),
        (
            "CREATE RESOURCE UNIT u1 MAX_CPU = 1, MEMORY_SIZE = '2G'",
            1227,
        ),
        (
            "CREATE RESOURCE POOL p1 UNIT = 'u1', UNIT_NUM = 1, ZONE_LIST = ('zone1')",
            1227,
        ),
        (
            "ALTER SYSTEM RESTORE r FROM 'file:///t2/data,file:///t2/archive' WITH 'pool_list=p1'",
            1227,
        ),
        ("ALTER SYSTEM CANCEL BACKUP TENANT = tenant2", 1210),
    ] {
        assert_eq!(
            crate::common::refused(&mut tenant2, statement).await.0,
            code,
            "{statement}"
        );
    }
    // Canceling its own backup works without a tenant list.
    tenant2
        .query_drop("ALTER SYSTEM CANCEL BACKUP")
        .await
        .expect("cancel own backup");
    let tenant1_untouched: Option<String> = sys
        .query_first("SELECT value FROM CDB_OB_BACKUP_PARAMETER WHERE tenant_id = 1002")
        .await
        .expect("tenant1 dest");
    assert_eq!(tenant1_untouched, None, "nothing reached tenant1");
}
