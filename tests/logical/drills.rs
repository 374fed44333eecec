//! Restore drills against a real engine: a dump loaded under a `drill_` prefix into the server it was taken
//! from verifies equal to the dump while the source moves on; a changed row, a missing row, a missing table
//! and a missing view each fail their own check and no other; the copy is dropped and the originals stay.
//! A prefix is never combined with a rename, and only a `drill_` copy is ever dropped.

use std::sync::{Arc, Mutex};

use mysql_async::prelude::Queryable;
use ob_backup_operator::{
    background::Work as _,
    logical::{
        self, LogicalError, Progress, TableCheck,
        jobs::{Finished, JobState, LoadJob, Work},
    },
};
use tokio_util::sync::CancellationToken;

use super::{
    dump_at, dump_request, load_at, load_request, schema::Workload, seekdb, storage, tempfile_dir,
};

/// A drill's copy of the dump in `dump` under `dir`, on `server`, under `prefix`.
fn copy_of(server: &seekdb::Seekdb, dir: &std::path::Path, dump: &str, prefix: &str) -> LoadJob {
    let mut request = load_request(server);
    request.database_prefix = Some(prefix.into());
    LoadJob {
        request,
        source: format!("file://{}", dir.display()),
        keys: None,
        path: dump.into(),
        file_root: None,
    }
}

/// Runs `work` as the operator's background work does, to its end.
async fn run(work: Work) -> JobState {
    work.run(
        Arc::new(Mutex::new(Progress::default())),
        CancellationToken::new(),
    )
    .await
}

async fn verified(job: &LoadJob) -> Vec<TableCheck> {
    logical::verify(job, &CancellationToken::new())
        .await
        .expect("verify")
}

/// The tables and views whose check failed.
fn failed(checks: &[TableCheck]) -> Vec<&str> {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.table.as_str())
        .collect()
}

fn check<'a>(checks: &'a [TableCheck], table: &str) -> &'a TableCheck {
    checks
        .iter()
        .find(|c| c.table == table)
        .unwrap_or_else(|| panic!("no check of {table}: {checks:?}"))
}

/// The databases of `server` whose name starts with `prefix`.
async fn databases_named(server: &seekdb::Seekdb, prefix: &str) -> Vec<String> {
    let mut conn = server.conn().await;
    conn.exec(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE CONCAT(?, '%') \
         ORDER BY SCHEMA_NAME",
        (prefix.replace('_', "\\_"),),
    )
    .await
    .expect("databases")
}

/// Runs `statements` as root on `server`.
async fn execute(server: &seekdb::Seekdb, statements: &[String]) {
    let mut conn = server.conn().await;
    for statement in statements {
        conn.query_drop(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drill_copy_verifies_equal_to_the_dump_fails_where_it_differs_and_is_dropped_alone() {
    let Some(server) = seekdb::server("source") else {
        return;
    };
    const PREFIX: &str = "drill_20261126030000_";
    let workload = Workload::create(server, "verify", 1200).await;
    let [shop, crm] = workload.databases()[..] else {
        panic!("two databases")
    };
    let copies = [format!("{PREFIX}{shop}"), format!("{PREFIX}{crm}")];
    execute(
        server,
        &copies
            .clone()
            .map(|c| format!("DROP DATABASE IF EXISTS `{c}`")),
    )
    .await;
    let dir = tempfile_dir("verify");
    let report = dump_at(
        &dump_request(server, &workload.databases(), 400),
        &storage(&dir),
        "dumps/drill",
    )
    .await
    .expect("dump");
    let scn = report.manifest.snapshot.scn;
    // The source moves on after the snapshot: the copy is compared with the dump, not with the source now.
    execute(
        server,
        &[format!(
            "UPDATE `{shop}`.orders SET note = 'after the snapshot' WHERE id <= 10"
        )],
    )
    .await;
    let job = copy_of(server, &dir, "dumps/drill", PREFIX);
    load_at(&job.request, &storage(&dir), "dumps/drill")
        .await
        .expect("load the copy");

    let checks = verified(&job).await;
    let mut expected: Vec<String> = workload.tables();
    expected.push(format!("{crm}.big_orders"));
    let mut named: Vec<String> = checks.iter().map(|c| c.table.clone()).collect();
    named.sort();
    expected.sort();
    assert_eq!(named, expected, "one check per table and view of the dump");
    assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:#?}");
    assert_eq!(
        check(&checks, &workload.orders()).message,
        format!("1200 rows in 3 chunks equal the dump taken at SCN {scn}")
    );
    assert_eq!(
        check(&checks, &format!("{crm}.notes")).message,
        format!("120 rows in 1 chunk equal the dump taken at SCN {scn}"),
        "a table without a primary key reads back in load order"
    );

    // One row of one copied table changed: that table fails, naming its chunk, and no other does.
    execute(
        server,
        &[format!(
            "UPDATE `{PREFIX}{shop}`.orders SET note = 'changed in the copy' WHERE id = 500"
        )],
    )
    .await;
    let checks = verified(&job).await;
    assert_eq!(failed(&checks), [workload.orders()], "{checks:#?}");
    assert_eq!(
        check(&checks, &workload.orders()).message,
        "chunk 2 of 3 differs from the dump: same row count (400), other contents"
    );

    // A row missing, a table missing, a view missing: each fails its own check.
    execute(
        server,
        &[
            format!("DELETE FROM `{PREFIX}{crm}`.notes WHERE customer = 7 LIMIT 1"),
            format!("DROP TABLE `{PREFIX}{crm}`.addresses"),
            format!("DROP VIEW `{PREFIX}{crm}`.big_orders"),
        ],
    )
    .await;
    let JobState::Done(Finished::Verified(checks)) = run(Work::Verify(job.clone())).await else {
        panic!("a verification's work reports its checks");
    };
    let mut failing = failed(&checks);
    failing.sort();
    let mut expected = vec![
        format!("{crm}.addresses"),
        format!("{crm}.big_orders"),
        format!("{crm}.notes"),
        workload.orders(),
    ];
    expected.sort();
    assert_eq!(failing, expected, "{checks:#?}");
    assert_eq!(
        check(&checks, &format!("{crm}.notes")).message,
        "chunk 1 of 1 differs from the dump: 119 rows read, 120 dumped"
    );
    let missing = &check(&checks, &format!("{crm}.addresses")).message;
    assert!(
        missing.contains("cannot be read from the copy") && missing.contains("1146"),
        "the engine's error: {missing}"
    );
    assert!(
        check(&checks, &format!("{crm}.big_orders"))
            .message
            .contains("missing from the copy"),
        "{checks:#?}"
    );
    // Canceled, it stops.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let canceled = logical::verify(&job, &cancel).await.expect_err("canceled");
    assert!(matches!(canceled, LogicalError::Canceled), "{canceled}");

    // The copy is dropped, and nothing else.
    let JobState::Done(Finished::Dropped(mut dropped)) = run(Work::DropCopy(job.clone())).await
    else {
        panic!("a drop's work reports what it dropped");
    };
    dropped.sort();
    let mut copies = copies.to_vec();
    copies.sort();
    assert_eq!(dropped, copies);
    assert_eq!(databases_named(server, PREFIX).await, Vec::<String>::new());
    for database in [shop, crm] {
        assert_eq!(databases_named(server, database).await, [database]);
    }
    // Dropped again, nothing is left to drop: it says the same.
    let mut again = logical::drop_copy(&job).await.expect("drop again");
    again.sort();
    assert_eq!(again, copies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_is_never_combined_with_a_rename_and_only_a_drill_copy_is_dropped() {
    let Some(server) = seekdb::server("source") else {
        return;
    };
    execute(
        server,
        &[
            "DROP DATABASE IF EXISTS pf_a".into(),
            "DROP DATABASE IF EXISTS keep_pf_a".into(),
            "CREATE DATABASE pf_a".into(),
            "CREATE TABLE pf_a.t (id INT PRIMARY KEY, v VARCHAR(10))".into(),
            "INSERT INTO pf_a.t VALUES (1, 'one'), (2, 'two')".into(),
        ],
    )
    .await;
    let dir = tempfile_dir("prefixes");
    dump_at(&dump_request(server, &["pf_a"], 1000), &storage(&dir), "d")
        .await
        .expect("dump");
    // A prefix and a rename: refused before anything is written.
    let mut both = copy_of(server, &dir, "d", "drill_1_");
    both.request.rename = [("pf_a".to_string(), "pf_b".to_string())].into();
    let refused = load_at(&both.request, &storage(&dir), "d")
        .await
        .expect_err("a prefix with a rename");
    assert!(
        matches!(&refused, LogicalError::Invalid(m) if m.contains("not both")),
        "{refused}"
    );
    assert_eq!(
        databases_named(server, "drill_1_").await,
        Vec::<String>::new()
    );
    assert_eq!(databases_named(server, "pf_b").await, Vec::<String>::new());

    // A load may take any prefix; the check for what the target already holds applies to the prefixed
    // names.
    let kept = copy_of(server, &dir, "d", "keep_");
    load_at(&kept.request, &storage(&dir), "d")
        .await
        .expect("load under keep_");
    let again = load_at(&kept.request, &storage(&dir), "d")
        .await
        .expect_err("the copy is there");
    assert!(
        matches!(&again, LogicalError::Refused(m) if m.contains("keep_pf_a.t")),
        "{again}"
    );
    let checks = verified(&kept).await;
    assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
    // But only a drill's copy is dropped: the database stays.
    let refused = logical::drop_copy(&kept)
        .await
        .expect_err("not a drill's copy");
    assert!(
        matches!(&refused, LogicalError::Invalid(m) if m.contains("does not start with drill_")),
        "{refused}"
    );
    assert_eq!(databases_named(server, "keep_pf_a").await, ["keep_pf_a"]);
    execute(server, &["DROP DATABASE keep_pf_a".into()]).await;
}
