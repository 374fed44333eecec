//! No silent omission, against a real engine: a dump never leaves out a table its user cannot read (it is
//! refused, naming what and what to grant, before anything is written), names resolve as the engine
//! resolves them, a restore never writes into a system database, onto another database or under a rename
//! the dump does not fit, and a dump never takes over a directory holding another owner's dump.

use mysql_async::prelude::Queryable;
use ob_backup_operator::logical::{
    DumpRequest, LogicalError,
    layout::{Compression, DumpOwner},
};

use super::{dump_at, load_at, load_request, seekdb, storage, tempfile_dir};

/// Runs `statements` as root on `server`.
async fn run(server: &seekdb::Seekdb, statements: &[String]) {
    let mut conn = server.conn().await;
    for statement in statements {
        conn.query_drop(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// A dump of `databases` and `tables` as `user` (password `pw`).
fn dump_as(
    server: &seekdb::Seekdb,
    user: &str,
    databases: &[&str],
    tables: &[&str],
) -> DumpRequest {
    DumpRequest {
        connection: server.connection(user, "pw"),
        databases: databases.iter().map(|d| d.to_string()).collect(),
        tables: tables.iter().map(|t| t.to_string()).collect(),
        parallel: 2,
        chunk_rows: 1000,
        compression: Compression::Zstd,
        owner: None,
    }
}

/// The message of an access refusal, or a failure naming what came instead.
fn denied(result: Result<impl std::fmt::Debug, LogicalError>) -> String {
    match result {
        Err(LogicalError::AccessDenied(message)) => message,
        other => panic!("expected LogicalAccessDenied, got {other:?}"),
    }
}

/// The message of a refusal of the request, or a failure naming what came instead.
fn invalid(result: Result<impl std::fmt::Debug, LogicalError>) -> String {
    match result {
        Err(LogicalError::Invalid(message)) => message,
        other => panic!("expected the request refused, got {other:?}"),
    }
}

/// Databases `acl_shop` (orders, customers, secrets, a view) and `acl_crm` (a), and users: `acl_partial`
/// with SELECT on two tables of acl_shop, `acl_wide` with INSERT on all of acl_shop but SELECT on orders
/// only, `acl_db` with SELECT and SHOW VIEW on acl_shop.*, `acl_role` with them on acl_crm.* through a
/// role only, `acl_noview` with SELECT on acl_shop.* but not SHOW VIEW.
async fn privileges(server: &seekdb::Seekdb) {
    let mut statements: Vec<String> = [
        "DROP DATABASE IF EXISTS acl_shop",
        "DROP DATABASE IF EXISTS acl_crm",
        "CREATE DATABASE acl_shop",
        "CREATE DATABASE acl_crm",
        "CREATE TABLE acl_shop.orders (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE acl_shop.customers (id INT PRIMARY KEY, name VARCHAR(20))",
        "CREATE TABLE acl_shop.secrets (id INT PRIMARY KEY, s VARCHAR(20))",
        "CREATE VIEW acl_shop.v AS SELECT id FROM acl_shop.orders",
        "CREATE TABLE acl_crm.a (id INT PRIMARY KEY)",
        "INSERT INTO acl_shop.orders VALUES (1, 1), (2, 2)",
        "INSERT INTO acl_shop.secrets VALUES (1, 'hidden')",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for user in [
        "acl_partial",
        "acl_wide",
        "acl_db",
        "acl_role",
        "acl_noview",
    ] {
        statements.push(format!("DROP USER IF EXISTS {user}"));
        statements.push(format!("CREATE USER {user} IDENTIFIED BY 'pw'"));
    }
    statements.extend(
        [
            "GRANT SELECT ON acl_shop.orders TO acl_partial",
            "GRANT SELECT ON acl_shop.customers TO acl_partial",
            "GRANT INSERT ON acl_shop.* TO acl_wide",
            "GRANT SELECT ON acl_shop.orders TO acl_wide",
            "GRANT SELECT, SHOW VIEW ON acl_shop.* TO acl_db",
            "GRANT SELECT ON acl_shop.* TO acl_noview",
            "DROP ROLE IF EXISTS acl_reader",
            "CREATE ROLE acl_reader",
            "GRANT SELECT, SHOW VIEW ON acl_crm.* TO acl_reader",
            "GRANT acl_reader TO acl_role",
            "SET DEFAULT ROLE acl_reader TO acl_role",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    run(server, &statements).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_never_leaves_out_a_table_its_user_cannot_read() {
    let Some(server) = seekdb::server("source") else {
        return;
    };
    privileges(server).await;
    let dir = tempfile_dir("acl");
    let storage = storage(&dir);
    // The user sees two of the four: the dump is refused, saying why, and nothing is written.
    let message = denied(
        dump_at(
            &dump_as(server, "acl_partial", &["acl_shop"], &[]),
            &storage,
            "d1",
        )
        .await,
    );
    assert!(
        message.contains("database acl_shop needs SELECT on `acl_shop`.*")
            && message.contains("(customers, orders)"),
        "{message}"
    );
    assert!(!dir.join("d1").exists(), "nothing is written");
    // Named, a table the user may not read is denied, not missing; one that is missing is missing.
    let message = denied(
        dump_at(
            &dump_as(server, "acl_partial", &[], &["acl_shop.secrets"]),
            &storage,
            "d2",
        )
        .await,
    );
    assert!(message.contains("acl_shop.secrets (1142"), "{message}");
    let missing = dump_at(
        &dump_as(server, "acl_partial", &[], &["acl_shop.nothing"]),
        &storage,
        "d3",
    )
    .await
    .expect_err("missing");
    assert!(
        matches!(&missing, LogicalError::Refused(m) if m.contains("acl_shop.nothing does not exist")),
        "{missing}"
    );
    // A privilege on the database that is not SELECT shows every table: each one it cannot read is named.
    let message = denied(
        dump_at(
            &dump_as(server, "acl_wide", &["acl_shop"], &[]),
            &storage,
            "d4",
        )
        .await,
    );
    for table in [
        "acl_shop.customers (1142",
        "acl_shop.secrets (1142",
        "acl_shop.v (1142",
    ] {
        assert!(message.contains(table), "{table}: {message}");
    }
    assert!(!message.contains("acl_shop.orders ("), "{message}");
    // Every database needs SELECT on *.*: without it, other databases are invisible.
    let message = denied(dump_at(&dump_as(server, "acl_db", &[], &[]), &storage, "d5").await);
    assert!(
        message.contains("a dump of every database needs SELECT on *.*")
            && message.contains("(acl_shop)"),
        "{message}"
    );
    // A view's definition needs SHOW VIEW too.
    let message = denied(
        dump_at(
            &dump_as(server, "acl_noview", &["acl_shop"], &[]),
            &storage,
            "d8",
        )
        .await,
    );
    assert!(
        message.contains("acl_shop.v (1142") && !message.contains("needs SELECT"),
        "{message}"
    );
    // SELECT on the database proves the list whole.
    let whole = dump_at(
        &dump_as(server, "acl_db", &["acl_shop"], &[]),
        &storage,
        "d6",
    )
    .await
    .expect("SELECT on acl_shop.* dumps it");
    let names: Vec<&str> = whole
        .manifest
        .objects
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["customers", "orders", "secrets", "v"]);
    // Through a role it does not: OceanBase drops the role when the pool resets a session.
    let message = denied(
        dump_at(
            &dump_as(server, "acl_role", &["acl_crm"], &[]),
            &storage,
            "d7",
        )
        .await,
    );
    assert!(
        message
            .contains("database acl_crm needs SELECT on `acl_crm`.* (granted to the user itself"),
        "{message}"
    );
    // The grant the refusal asked for lifts it.
    run(
        server,
        &["GRANT SELECT, SHOW VIEW ON acl_shop.* TO acl_partial".into()],
    )
    .await;
    let granted = dump_at(
        &dump_as(server, "acl_partial", &["acl_shop"], &[]),
        &storage,
        "d1",
    )
    .await
    .expect("after the grant");
    assert_eq!(granted.manifest.objects.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolve_as_the_engine_resolves_them() {
    let Some(server) = seekdb::server("source") else {
        return;
    };
    run(
        server,
        &[
            "DROP DATABASE IF EXISTS Case_Shop".into(),
            "CREATE DATABASE Case_Shop".into(),
            "CREATE TABLE Case_Shop.Orders (id INT PRIMARY KEY)".into(),
            "INSERT INTO Case_Shop.Orders VALUES (1)".into(),
        ],
    )
    .await;
    let mut conn = server.conn().await;
    let setting: Option<i64> = conn
        .query_first("SELECT @@lower_case_table_names")
        .await
        .expect("setting");
    assert_eq!(setting, Some(1), "seekdb compares names without case");
    let dir = tempfile_dir("names");
    let mut request = super::dump_request(server, &["CASE_SHOP"], 1000);
    request.tables = vec!["case_shop.ORDERS".into()];
    let report = dump_at(&request, &storage(&dir), "upper")
        .await
        .expect("CASE_SHOP is the engine's case_shop");
    // The engine's own spelling is what the dump records.
    assert_eq!(report.manifest.databases, ["case_shop"]);
    assert_eq!(report.manifest.objects[0].name, "orders");
    assert_eq!(report.manifest.rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refuses_system_databases_collisions_and_renames_the_dump_does_not_fit() {
    let (Some(source), Some(target)) = (seekdb::server("source"), seekdb::server("target")) else {
        return;
    };
    let mut statements = Vec::new();
    for database in ["rn_a", "rn_b"] {
        statements.extend([
            format!("DROP DATABASE IF EXISTS {database}"),
            format!("CREATE DATABASE {database}"),
            format!("CREATE TABLE {database}.t (id INT PRIMARY KEY)"),
            format!("INSERT INTO {database}.t VALUES (1), (2)"),
        ]);
    }
    run(source, &statements).await;
    let dir = tempfile_dir("renames");
    let storage = storage(&dir);
    dump_at(
        &super::dump_request(source, &["rn_a", "rn_b"], 1000),
        &storage,
        "d",
    )
    .await
    .expect("dump");
    let load = |pairs: &[(&str, &str)]| {
        let mut request = load_request(target);
        request.rename = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        request
    };
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("rn_a", "mysql"), ("rn_b", "rn_b2")],
            "into the system database mysql",
        ),
        (
            &[("rn_a", "rn_x"), ("rn_b", "RN_X")],
            "databases rn_a and rn_b would all be restored into rn_x",
        ),
        // Onto a database the dump holds and keeps: the load would fail half-way.
        (
            &[("rn_a", "rn_b")],
            "databases rn_a and rn_b would all be restored into rn_b",
        ),
        (
            &[("nothere", "rn_y")],
            "renameDatabases names nothere, which the dump does not hold (it holds rn_a, rn_b)",
        ),
    ];
    for (pairs, expected) in cases {
        let message = invalid(load_at(&load(pairs), &storage, "d").await);
        assert!(message.contains(expected), "{pairs:?}: {message}");
    }
    // Nothing was written by any of them.
    let mut conn = target.conn().await;
    let created: Vec<String> = conn
        .query(
            "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES \
             WHERE TABLE_NAME = 't' AND TABLE_SCHEMA IN ('mysql', 'rn_a', 'rn_b', 'rn_b2', 'rn_x', 'rn_y')",
        )
        .await
        .expect("tables");
    assert_eq!(created, Vec::<String>::new());
    // A key names a database as the engine does; both databases land apart.
    load_at(&load(&[("RN_A", "rn_a_copy")]), &storage, "d")
        .await
        .expect("restore");
    let rows: Vec<u64> = conn
        .query("SELECT COUNT(*) FROM rn_a_copy.t UNION ALL SELECT COUNT(*) FROM rn_b.t")
        .await
        .expect("restored");
    assert_eq!(rows, [2, 2]);
}

fn owner(task: &str, uid: &str) -> DumpOwner {
    DumpOwner {
        namespace: "team".into(),
        task: task.into(),
        uid: uid.into(),
        cluster: "ob".into(),
        tenant: "tenant1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_never_takes_over_a_directory_holding_another_owners_dump() {
    let Some(server) = seekdb::server("source") else {
        return;
    };
    run(
        server,
        &[
            "DROP DATABASE IF EXISTS own_a".into(),
            "CREATE DATABASE own_a".into(),
            "CREATE TABLE own_a.t (id INT PRIMARY KEY)".into(),
            "INSERT INTO own_a.t VALUES (1)".into(),
        ],
    )
    .await;
    let dir = tempfile_dir("owners");
    let storage = storage(&dir);
    let mut first = super::dump_request(server, &["own_a"], 1000);
    first.owner = Some(owner("nightly", "uid-first"));
    dump_at(&first, &storage, "logical/nightly-1")
        .await
        .expect("first");
    let manifest = std::fs::read(dir.join("logical/nightly-1/manifest.json")).expect("manifest");
    // Another task whose directory is the same (a task of the same name elsewhere) is refused, naming the
    // first; the first's dump is as it was.
    let mut second = first.clone();
    second.owner = Some(owner("nightly", "uid-second"));
    let refused = dump_at(&second, &storage, "logical/nightly-1")
        .await
        .expect_err("another owner's directory");
    assert!(
        matches!(&refused, LogicalError::Owned(m) if m.contains("BackupTask team/nightly (uid uid-first)")),
        "{refused}"
    );
    assert_eq!(
        std::fs::read(dir.join("logical/nightly-1/manifest.json")).expect("manifest"),
        manifest
    );
    // An unfinished dump (its plan only) is not resumed by another either, but is by its own task.
    std::fs::remove_file(dir.join("logical/nightly-1/manifest.json")).expect("unfinish");
    let refused = dump_at(&second, &storage, "logical/nightly-1")
        .await
        .expect_err("another owner's plan");
    assert!(matches!(refused, LogicalError::Owned(_)), "{refused}");
    let resumed = dump_at(&first, &storage, "logical/nightly-1")
        .await
        .expect("its own task resumes it");
    assert_eq!(resumed.manifest.owner, first.owner);
}
