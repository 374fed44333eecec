//! Three real MySQL drivers against obsim, as the programs that talk to OceanBase use them: Go's
//! `go-sql-driver/mysql` and Python's `PyMySQL` (test-only clients under `tools/drivers/`, built by
//! `scripts/test.sh`) and Rust's `mysql_async`. Each logs in as `root@sys` and as a tenant user, sends what
//! clients send on connect (their own handshake-time statements and the usual `SET` / `SELECT @@…` / `SHOW`),
//! then reads every view the login has. What each driver reads must agree with `mysql_async` (columns and row
//! counts), and every value must decode into the driver's type for the column's declared MySQL type.

use std::{collections::BTreeMap, process::Command};

use mysql_async::{Conn, Opts, prelude::Queryable};
use obsim::{model::Version, schema::views, sql::value::SqlType, views::schema_of};
use serde_json::Value;

/// What clients send on connect and around their first queries.
const CONNECT_STATEMENTS: &[&str] = &[
    "SELECT @@version_comment LIMIT 1",
    "SET NAMES utf8mb4",
    "SET autocommit = 1",
    "SELECT @@session.autocommit, @@max_allowed_packet, @@session.transaction_isolation",
    "SHOW VARIABLES LIKE 'lower_case_table_names'",
    "SHOW VARIABLES WHERE Variable_name = 'version_comment'",
    "SHOW DATABASES",
    "SELECT DATABASE(), VERSION()",
    "SHOW WARNINGS",
];

use crate::common::{TENANT_PASSWORD, TENANT_USER};

/// A built client: the command and its leading arguments, from the variable `scripts/test.sh` sets.
pub fn client(variable: &str) -> Option<Vec<String>> {
    match std::env::var(variable) {
        Ok(command) => Some(command.split_whitespace().map(str::to_string).collect()),
        Err(_) => {
            assert!(
                std::env::var("REQUIRE_K8S").as_deref() != Ok("1"),
                "REQUIRE_K8S=1 but {variable} is not set: run the tests through scripts/test.sh"
            );
            eprintln!("skipped: {variable} is not set (scripts/test.sh builds the driver clients)");
            None
        }
    }
}

/// One statement's result as a driver printed it.
struct Read {
    columns: Vec<String>,
    /// Per row, the type each value decoded into.
    rows: Vec<Vec<String>>,
}

/// Runs a client over `statements`; one JSON line per statement.
fn run(command: &[String], args: &[String], statements: &[String]) -> Vec<Read> {
    client_lines(command, args, statements)
        .into_iter()
        .map(|line| {
            assert!(line.get("error").is_none(), "{command:?}: {line}");
            Read {
                columns: strings(&line["columns"]),
                rows: line["rows"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .map(strings)
                    .collect(),
            }
        })
        .collect()
}

/// The JSON lines a test client (`tools/drivers/`) printed for `statements`, one each; the client itself
/// must succeed.
pub fn client_lines(command: &[String], args: &[String], statements: &[String]) -> Vec<Value> {
    let output = Command::new(&command[0])
        .args(&command[1..])
        .args(args)
        .args(statements)
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), statements.len(), "{stdout}");
    lines
}

/// A JSON array of strings.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// The Go type `database/sql` scans a value of that declared type into (DSN with `parseTime=true`).
fn go_type(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::BigInt(_) => "int64",
        SqlType::BigIntUnsigned(_) => "uint64",
        SqlType::Double => "float64",
        SqlType::Timestamp(_) | SqlType::DateTime(_) => "time.Time",
        SqlType::Decimal(..) | SqlType::Varchar(_) | SqlType::LongText => "[]uint8",
    }
}

/// The Python type PyMySQL decodes a value of that declared type into.
fn python_type(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::BigInt(_) | SqlType::BigIntUnsigned(_) => "int",
        SqlType::Double => "float",
        SqlType::Timestamp(_) | SqlType::DateTime(_) => "datetime",
        SqlType::Decimal(..) => "Decimal",
        SqlType::Varchar(_) | SqlType::LongText => "str",
    }
}

/// Columns and row count of each statement as mysql_async reads them.
async fn reference(opts: &Opts, statements: &[String]) -> Vec<(Vec<String>, usize)> {
    let mut conn = Conn::new(opts.clone()).await.expect("mysql_async connects");
    let mut out = Vec::new();
    for statement in statements {
        let rows: Vec<mysql_async::Row> = conn
            .query(statement.as_str())
            .await
            .unwrap_or_else(|e| panic!("mysql_async: {statement}: {e}"));
        let columns = rows.first().map_or_else(Vec::new, |r| {
            r.columns_ref()
                .iter()
                .map(|c| c.name_str().to_string())
                .collect()
        });
        out.push((columns, rows.len()));
    }
    out
}

// The clients run as blocking child processes; obsim serves them from the runtime's other thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_python_and_rust_drivers_connect_and_read_every_view_in_both_profiles() {
    let (Some(go), Some(python)) = (client("OBSIM_GO_CLIENT"), client("OBSIM_PYTHON_CLIENT"))
    else {
        return;
    };
    let mut checked = BTreeMap::new();
    for version in [Version::V4_2_5, Version::V4_4_1] {
        let (sys, cluster) = crate::common::busy_cluster(version).await;
        crate::common::create_tenant_user(&mut cluster.lock().expect("lock"));
        let schema = views(schema_of(version)).expect("schema");
        let tenant = crate::common::login(&sys, TENANT_USER, TENANT_PASSWORD);
        for (user, password, opts) in [
            ("root@sys", crate::common::PASSWORD, &sys),
            (TENANT_USER, TENANT_PASSWORD, &tenant),
        ] {
            let in_tenant = user != "root@sys";
            let readable: Vec<&String> = schema
                .keys()
                .filter(|v| {
                    !in_tenant
                        || (v.starts_with("DBA_")
                            && !obsim::tenancy::SYS_ONLY_VIEWS.contains(&v.as_str()))
                })
                .collect();
            let mut statements: Vec<String> =
                CONNECT_STATEMENTS.iter().map(|s| s.to_string()).collect();
            statements.extend(
                readable
                    .iter()
                    .map(|v| format!("SELECT * FROM oceanbase.{v}")),
            );
            let expected = reference(opts, &statements).await;
            let port = opts.tcp_port().to_string();
            let go_dsn =
                format!("{user}:{password}@tcp(127.0.0.1:{port})/oceanbase?parseTime=true");
            let reads = [
                ("go", run(&go, &[go_dsn], &statements)),
                (
                    "python",
                    run(
                        &python,
                        &["127.0.0.1".into(), port, user.into(), password.into()],
                        &statements,
                    ),
                ),
            ];
            for (driver, reads) in &reads {
                let mut values = 0;
                for (i, (read, (columns, count))) in reads.iter().zip(&expected).enumerate() {
                    let statement = &statements[i];
                    assert_eq!(
                        read.rows.len(),
                        *count,
                        "{driver} {version} {user}: {statement}"
                    );
                    if *count > 0 {
                        assert_eq!(&read.columns, columns, "{driver} {version}: {statement}");
                    }
                    let Some(view) = statement.strip_prefix("SELECT * FROM oceanbase.") else {
                        continue;
                    };
                    for row in &read.rows {
                        for (decoded, column) in row.iter().zip(&schema[view]) {
                            if matches!(decoded.as_str(), "nil" | "NoneType") {
                                continue;
                            }
                            let ty = SqlType::parse(&column.ty).expect("a known type");
                            let wanted = match *driver {
                                "go" => go_type(&ty),
                                _ => python_type(&ty),
                            };
                            assert_eq!(
                                decoded, wanted,
                                "{driver} {version} {user}: {view}.{} ({})",
                                column.name, column.ty
                            );
                            values += 1;
                        }
                    }
                }
                *checked
                    .entry(format!("{driver} {version} {user}"))
                    .or_insert(0) += values;
            }
        }
    }
    for (run, values) in &checked {
        println!("{run}: {values} values decoded as their declared types");
        assert!(*values > 100, "{run}: rows to check ({values})");
    }
}
