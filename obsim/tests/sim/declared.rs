//! Every view obsim serves, read through Go's `go-sql-driver/mysql` (the test-only client under
//! `tools/drivers/go`) with rows in each, in both profiles: each value's text must be a value of the type the
//! real `desc` declares — a signed `bigint` parses into an i64, a `bigint unsigned` into a u64, a `decimal`
//! is a number, a `datetime` / `timestamp` a time — and every SCN is at most the maximum SCN a real server
//! shows. The column's type on the wire must be the declared one too.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use mysql_async::{Conn, Opts, prelude::Queryable};
use obsim::{
    engine::SharedCluster,
    model::{TenantType, Version},
    schema::views,
    sql::value::SqlType,
    views::schema_of,
};
use serde_json::Value;

use crate::common::{PASSWORD, busy_cluster, step};

/// The largest SCN (OceanBase's `SCN::max_scn()`, 2^62 − 1): what a real server shows for "no limit".
const MAX_SCN: u64 = (1 << 62) - 1;
use crate::common::{TENANT_PASSWORD, TENANT_USER};

/// One statement's result as the Go client printed it.
struct GoRead {
    columns: Vec<String>,
    types: Vec<String>,
    /// Per row, each value as text (`None`: NULL).
    values: Vec<Vec<Option<String>>>,
}

/// Runs the Go client over `statements` with `dsn`; a statement the driver could not read is an error.
fn go_read(go: &[String], dsn: &str, statements: &[String]) -> Vec<Result<GoRead, String>> {
    crate::drivers::client_lines(go, &[dsn.to_string()], statements)
        .iter()
        .map(parsed)
        .collect()
}

fn parsed(line: &Value) -> Result<GoRead, String> {
    if let Some(error) = line.get("error") {
        return Err(format!("{}: {error}", line["sql"]));
    }
    let strings = crate::drivers::strings;
    let values = line["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a row")
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .collect();
    Ok(GoRead {
        columns: strings(&line["columns"]),
        types: strings(&line["types"]),
        values,
    })
}

/// The type name `go-sql-driver/mysql` reports for a column of that declared type, where it says the type.
fn wire_type(ty: &SqlType) -> Option<&'static str> {
    match ty {
        SqlType::BigInt(_) => Some("BIGINT"),
        SqlType::BigIntUnsigned(_) => Some("UNSIGNED BIGINT"),
        SqlType::Double => Some("DOUBLE"),
        SqlType::Decimal(..) => Some("DECIMAL"),
        SqlType::Timestamp(_) => Some("TIMESTAMP"),
        SqlType::DateTime(_) => Some("DATETIME"),
        SqlType::Varchar(_) | SqlType::LongText => None,
    }
}

/// Whether `text` is a decimal number: an optional sign, digits, optionally a point and digits.
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// What is wrong with `text` as a value of column `name` of type `ty`, if anything.
fn fault(name: &str, ty: &SqlType, text: &str) -> Option<String> {
    match ty {
        SqlType::BigInt(_) => text
            .parse::<i64>()
            .err()
            .map(|e| format!("{text:?} is not an i64 ({e})")),
        SqlType::BigIntUnsigned(_) => match text.parse::<u64>() {
            Err(e) => Some(format!("{text:?} is not a u64 ({e})")),
            Ok(scn) if name.ends_with("_SCN") && scn > MAX_SCN => {
                Some(format!("{scn} is above the maximum SCN {MAX_SCN}"))
            }
            Ok(_) => None,
        },
        SqlType::Double => text
            .parse::<f64>()
            .err()
            .map(|e| format!("{text:?} is not a double ({e})")),
        SqlType::Decimal(..) => {
            (!is_decimal(text)).then(|| format!("{text:?} is not a decimal number"))
        }
        SqlType::Timestamp(_) | SqlType::DateTime(_) => text
            .parse::<jiff::civil::DateTime>()
            .err()
            .map(|e| format!("{text:?} is not a time ({e})")),
        SqlType::Varchar(_) | SqlType::LongText => None,
    }
}

/// The faults of one view's read: its columns and wire types against the declared ones, then every value.
fn faults_of(view: &str, read: &GoRead, declared: &[obsim::schema::ColumnDesc]) -> Vec<String> {
    let names: Vec<&str> = declared.iter().map(|c| c.name.as_str()).collect();
    if read.columns != names {
        return vec![format!("{view}: columns {:?}", read.columns)];
    }
    let mut faults = Vec::new();
    for (column, wire) in declared.iter().zip(&read.types) {
        let ty = SqlType::parse(&column.ty).expect("a known type");
        if wire_type(&ty).is_some_and(|t| t != wire) {
            faults.push(format!(
                "{view}.{} ({}): sent as {wire}",
                column.name, column.ty
            ));
        }
    }
    for row in &read.values {
        for (column, value) in declared.iter().zip(row) {
            let ty = SqlType::parse(&column.ty).expect("a known type");
            // NULL is no value of any type (whether a NOT NULL column may show it is not checked here).
            if let Some(text) = value {
                faults.extend(
                    fault(&column.name, &ty, text)
                        .map(|f| format!("{view}.{} ({}): {f}", column.name, column.ty)),
                );
            }
        }
    }
    faults
}

/// Two obsolete cleanups of tenant1 that have something to delete, each caught as it starts (the clock
/// stepped to each hourly start in turn, at most `limit` of them) and stalled there with tenant1's backups:
/// the first canceled into the history, the second left running.
fn stalled_cleanup_with_tasks(cluster: &SharedCluster, limit: usize) {
    let mut cluster = cluster.lock().expect("lock");
    for _ in 0..limit {
        cluster.advance();
        let tenant1 = cluster.tenant("tenant1").expect("tenant1");
        let with_tasks =
            |jobs: &[obsim::model::clean::DeleteJob]| jobs.iter().any(|j| !j.tasks.is_empty());
        if with_tasks(&tenant1.clean.jobs) {
            let canceled_before = with_tasks(&tenant1.clean.history);
            cluster.set_stalled("tenant1", true).expect("stall");
            if canceled_before {
                cluster.advance();
                return;
            }
            cluster
                .cancel_delete(Some(&["tenant1".to_string()]))
                .expect("cancel");
            cluster.clock.step(SignedDuration::from_secs(2));
            continue;
        }
        let last: Option<Timestamp> = tenant1
            .clean
            .jobs
            .iter()
            .chain(&tenant1.clean.history)
            .map(|j| j.start)
            .max();
        let next = last.expect("the policy started a cleanup") + SignedDuration::from_hours(1);
        let to_next = cluster
            .now()
            .duration_until(next)
            .max(SignedDuration::from_secs(1));
        cluster.clock.step(to_next);
    }
    panic!("no two cleanups with tasks in {limit} hours");
}

/// A cluster with rows in every view, its clock frozen: [`busy_cluster`]'s, its restore finished, then a
/// cleanup and a backup of tenant1 stalled while running and a second restore under way.
async fn every_view_filled(version: Version) -> (Opts, SharedCluster) {
    let (opts, cluster) = busy_cluster(version).await;
    stalled_cleanup_with_tasks(&cluster, 100);
    {
        let mut cluster = cluster.lock().expect("lock");
        let restored = |c: &obsim::model::Cluster| {
            c.tenant("restored")
                .is_some_and(|t| t.kind == TenantType::User && t.status == "NORMAL")
        };
        assert!(restored(&cluster), "the first restore finished");
        crate::common::create_tenant_user(&mut cluster);
    }
    let mut conn = Conn::new(opts.clone()).await.expect("connect");
    for statement in [
        "ALTER SYSTEM BACKUP TENANT = tenant1",
        "CREATE RESOURCE UNIT unit_r2 MAX_CPU = 2, MEMORY_SIZE = '4G'",
        "CREATE RESOURCE POOL pool_r2 UNIT = 'unit_r2', UNIT_NUM = 1, ZONE_LIST = ('zone1')",
        "ALTER SYSTEM RESTORE restored2 FROM 'file:///backup/data,file:///backup/archive' \
         WITH 'pool_list=pool_r2'",
    ] {
        conn.query_drop(statement).await.expect(statement);
    }
    step(&cluster, 3);
    conn.disconnect().await.expect("disconnect");
    (opts, cluster)
}

/// The views a login reads: every view as sys; as a tenant user, the `DBA_` views a tenant has.
fn readable<'a>(names: impl Iterator<Item = &'a String>, in_tenant: bool) -> Vec<&'a String> {
    names
        .filter(|v| {
            !in_tenant
                || (v.starts_with("DBA_") && !obsim::tenancy::SYS_ONLY_VIEWS.contains(&v.as_str()))
        })
        .collect()
}

// The client runs as a blocking child process; obsim serves it from the runtime's other thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_reads_every_view_with_values_of_the_declared_types_in_both_profiles() {
    let Some(go) = crate::drivers::client("OBSIM_GO_CLIENT") else {
        return;
    };
    let mut faults = Vec::new();
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let (opts, _cluster) = every_view_filled(version).await;
        let schema = views(schema_of(version)).expect("schema");
        let port = opts.tcp_port();
        let mut rows: BTreeMap<&String, usize> = schema.keys().map(|v| (v, 0)).collect();
        for (user, password) in [("root@sys", PASSWORD), (TENANT_USER, TENANT_PASSWORD)] {
            let in_tenant = user != "root@sys";
            let names = readable(schema.keys(), in_tenant);
            let statements: Vec<String> = names
                .iter()
                .map(|v| format!("SELECT * FROM oceanbase.{v}"))
                .collect();
            let dsn = format!("{user}:{password}@tcp(127.0.0.1:{port})/oceanbase?parseTime=true");
            for (view, read) in names.iter().zip(go_read(&go, &dsn, &statements)) {
                match read {
                    Err(e) => faults.push(format!("{version} {user}: {e}")),
                    Ok(read) => {
                        *rows.entry(view).or_default() += read.values.len();
                        faults.extend(
                            faults_of(view, &read, &schema[*view])
                                .into_iter()
                                .map(|f| format!("{version} {user}: {f}")),
                        );
                    }
                }
            }
        }
        faults.extend(
            rows.iter()
                .filter(|(_, n)| **n == 0)
                .map(|(view, _)| format!("{version}: no rows read from {view}")),
        );
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

#[test]
fn the_checks_know_each_declared_type() {
    let ty = |t: &str| SqlType::parse(t).expect("a type");
    assert!(fault("RESULT", &ty("bigint(20)"), "-9082").is_none());
    assert!(fault("BACKUP_CLUSTER_VERSION", &ty("bigint(20)"), "4.4.1.0").is_some());
    assert!(fault("START_SCN", &ty("bigint(20) unsigned"), "-1").is_some());
    assert!(fault("END_SCN", &ty("bigint(20) unsigned"), &MAX_SCN.to_string()).is_none());
    assert!(
        fault(
            "RECOVERY_UNTIL_SCN",
            &ty("bigint(20) unsigned"),
            &u64::MAX.to_string()
        )
        .is_some()
    );
    assert!(fault("X", &ty("decimal(6,2)"), "12.50").is_none());
    assert!(fault("X", &ty("decimal(6,2)"), "12.5%").is_some());
    assert!(fault("X", &ty("timestamp(6)"), "2025-11-20 01:02:03.5").is_none());
    assert!(fault("X", &ty("datetime(6)"), "yesterday").is_some());
}
