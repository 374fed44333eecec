//! The `obsim` binary and its control API, as the demo and the operator's integration tests use them: a
//! cluster on a free port, HTTP JSON calls to add clusters and tenants, move the clock and inject faults, and
//! what a MySQL client then sees.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{PASSWORD, refused};
use mysql_async::{Conn, Opts, OptsBuilder, prelude::Queryable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `obsim` binary, killed on drop.
struct Obsim {
    child: Child,
    mysql: String,
    control: String,
}

impl Drop for Obsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on free ports with a frozen clock and reads its addresses from its first line.
fn obsim() -> Obsim {
    obsim_with(&[])
}

/// Like [`obsim`], with more arguments.
fn obsim_with(more: &[&str]) -> Obsim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_obsim"))
        .args(more)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--speed",
            "0",
            "--tenant",
            "tenant1:1073741824",
            "--ob-version",
            "4.4.1",
        ])
        .env("OBSIM_PASSWORD", PASSWORD)
        .stderr(Stdio::piped())
        .spawn()
        .expect("obsim starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("first line");
    // "obsim: cluster obcluster (OceanBase 4.4.1.0) listening on 127.0.0.1:P; control API on http://127.0.0.1:Q"
    let mysql = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("mysql address")
        .to_string();
    let control = line
        .split("http://")
        .nth(1)
        .expect("control address")
        .trim()
        .to_string();
    Obsim {
        child,
        mysql,
        control,
    }
}

fn opts(address: &str) -> Opts {
    let (host, port) = address.rsplit_once(':').expect("host:port");
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse().expect("port"))
        .user(Some("root@sys"))
        .pass(Some(PASSWORD))
        .into()
}

/// One HTTP/1.1 request; returns the status code and body.
pub(crate) async fn http(control: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(control)
        .await
        .expect("control API");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {control}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("receive");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

pub(crate) async fn post(control: &str, path: &str, body: &str) -> String {
    let (status, reply) = http(control, "POST", path, body).await;
    assert!(
        (200..300).contains(&status),
        "POST {path} {body}: {status} {reply}"
    );
    reply
}

/// Injects (or lifts) a fault in cluster `obcluster`: `body` is the fault as the control API takes it.
async fn fault(control: &str, body: &str) {
    post(control, "/clusters/obcluster/faults", body).await;
}

async fn step(control: &str, seconds: u64) {
    post(
        control,
        "/clock",
        &format!(r#"{{"stepSeconds": {seconds}}}"#),
    )
    .await;
}

/// tenant1 with destinations and archiving DOING.
async fn archiving(conn: &mut Conn, control: &str) {
    conn.query_drop(
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///b/data' TENANT = tenant1; \
         ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///b/archive' TENANT = tenant1; \
         ALTER SYSTEM ARCHIVELOG TENANT = tenant1",
    )
    .await
    .expect("archiving");
    step(control, 5).await;
}

async fn round(conn: &mut Conn) -> (String, String) {
    conn.query_first("SELECT status, comment FROM CDB_OB_ARCHIVELOG WHERE tenant_id = 1002")
        .await
        .expect("round")
        .expect("a round")
}

/// tenant1's archive checkpoint (`CHECKPOINT_SCN`, nanoseconds).
async fn checkpoint(conn: &mut Conn) -> u64 {
    conn.query_first("SELECT checkpoint_scn FROM CDB_OB_ARCHIVELOG WHERE tenant_id = 1002")
        .await
        .expect("round")
        .expect("a round")
}

async fn task_progress(conn: &mut Conn) -> Option<(String, i64)> {
    conn.query_first(
        "SELECT status, finish_tablet_count FROM CDB_OB_BACKUP_TASKS WHERE tenant_id = 1002",
    )
    .await
    .expect("task")
}

#[tokio::test]
async fn help_names_the_control_api() {
    let output = Command::new(env!("CARGO_BIN_EXE_obsim"))
        .arg("--help")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for flag in [
        "--listen",
        "--control",
        "--tenant",
        "--speed",
        "--ob-version",
        "--cluster-id",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[tokio::test]
async fn clusters_tenants_and_the_clock_through_the_control_api() {
    let sim = obsim();
    let (status, routes) = http(&sim.control, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(routes.contains("/clusters/{cluster}/faults"), "{routes}");

    let created = post(
        &sim.control,
        "/clusters",
        &format!(r#"{{"name": "second", "version": "4.2.5", "password": "{PASSWORD}", "tenants": [{{"name": "t9", "dataBytes": 1024}}]}}"#),
    )
    .await;
    let address = address_in(&created);
    let mut second = Conn::new(opts(address))
        .await
        .expect("connect to the new cluster");
    let version: Option<String> = second
        .query_first("SELECT ob_version()")
        .await
        .expect("version");
    assert_eq!(version.as_deref(), Some("4.2.5.0"));
    post(
        &sim.control,
        "/clusters/second/tenants",
        r#"{"name": "t10"}"#,
    )
    .await;
    let tenants: Vec<String> = second
        .query(
            "SELECT tenant_name FROM DBA_OB_TENANTS WHERE tenant_type = 'USER' ORDER BY tenant_id",
        )
        .await
        .expect("tenants");
    assert_eq!(tenants, ["t9", "t10"]);

    let (status, _) = http(
        &sim.control,
        "POST",
        "/clusters",
        r#"{"name": "bad", "password": "x", "version": "5"}"#,
    )
    .await;
    assert_eq!(status, 400, "an unknown version is refused");
    let (status, _) = http(
        &sim.control,
        "POST",
        "/clusters/nosuch/tenants",
        r#"{"name": "x"}"#,
    )
    .await;
    assert_eq!(status, 404);

    // The clock is frozen (--speed 0) and moves only when stepped, on every cluster alike.
    let mut first = Conn::new(opts(&sim.mysql)).await.expect("connect");
    let before: Option<String> = first.query_first("SELECT now()").await.expect("now");
    step(&sim.control, 3600).await;
    let after: Option<String> = first.query_first("SELECT now()").await.expect("now");
    let parse = |t: Option<String>| {
        t.expect("time")
            .parse::<jiff::civil::DateTime>()
            .expect("parse")
    };
    assert_eq!(
        parse(after).duration_since(parse(before)),
        jiff::SignedDuration::from_hours(1)
    );
}

#[tokio::test]
async fn injected_backup_and_archive_faults() {
    let sim = obsim();
    let mut conn = Conn::new(opts(&sim.mysql)).await.expect("connect");
    archiving(&mut conn, &sim.control).await;
    assert_eq!(round(&mut conn).await.0, "DOING");

    // A failing next backup ends FAILED with the given code in RESULT and COMMENT.
    fault(
        &sim.control,
        r#"{"kind": "fail-next-backup", "tenant": "tenant1", "code": -9082, "message": "backup device out of space"}"#,
    )
    .await;
    conn.query_drop("ALTER SYSTEM BACKUP TENANT = tenant1 DESCRIPTION 'f1'")
        .await
        .expect("backup");
    step(&sim.control, 60).await;
    let failed: Option<(String, i64, String)> = conn
        .query_first("SELECT status, result, comment FROM CDB_OB_BACKUP_JOB_HISTORY WHERE description = 'f1'")
        .await
        .expect("history");
    let (status, result, comment) = failed.expect("the job ended");
    assert_eq!((status.as_str(), result), ("FAILED", -9082));
    assert!(
        comment.contains("-9082(backup device out of space)"),
        "{comment}"
    );

    // A stalled job keeps its progress until unstalled.
    fault(&sim.control, r#"{"kind": "stall", "tenant": "tenant1"}"#).await;
    conn.query_drop("ALTER SYSTEM BACKUP TENANT = tenant1 DESCRIPTION 's1'")
        .await
        .expect("backup");
    step(&sim.control, 2).await;
    let stalled = task_progress(&mut conn).await.expect("a task");
    step(&sim.control, 30).await;
    assert_eq!(
        task_progress(&mut conn).await,
        Some(stalled),
        "no progress while stalled"
    );
    fault(&sim.control, r#"{"kind": "unstall", "tenant": "tenant1"}"#).await;
    step(&sim.control, 30).await;
    let ended: Option<String> = conn
        .query_first("SELECT status FROM CDB_OB_BACKUP_JOB_HISTORY WHERE description = 's1'")
        .await
        .expect("history");
    assert_eq!(ended.as_deref(), Some("COMPLETED"));

    // Interrupted archiving shows OceanBase's error in COMMENT and goes on when resumed.
    fault(
        &sim.control,
        r#"{"kind": "interrupt-archive", "tenant": "tenant1", "code": -9087, "message": "observer clog is recycled before archive"}"#,
    )
    .await;
    assert_eq!(
        round(&mut conn).await,
        (
            "INTERRUPTED".into(),
            "-9087(observer clog is recycled before archive)".into()
        )
    );
    fault(
        &sim.control,
        r#"{"kind": "resume-archive", "tenant": "tenant1"}"#,
    )
    .await;
    assert_eq!(round(&mut conn).await.0, "DOING");

    // A held archive stays DOING while its checkpoint stops; released, the checkpoint catches up.
    fault(
        &sim.control,
        r#"{"kind": "hold-archive", "tenant": "tenant1"}"#,
    )
    .await;
    let held = checkpoint(&mut conn).await;
    step(&sim.control, 60).await;
    assert_eq!(round(&mut conn).await.0, "DOING", "a held round goes on");
    assert_eq!(checkpoint(&mut conn).await, held, "its checkpoint stays");
    fault(
        &sim.control,
        r#"{"kind": "release-archive", "tenant": "tenant1"}"#,
    )
    .await;
    assert!(
        checkpoint(&mut conn).await >= held + 60_000_000_000,
        "released, the checkpoint catches up the minute it was held"
    );
    let (status, body) = http(
        &sim.control,
        "POST",
        "/clusters/obcluster/faults",
        r#"{"kind": "hold-archive", "tenant": "nosuch"}"#,
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "a tenant the cluster lacks is refused as the caller's error: {status} {body}"
    );

    // An unreachable destination interrupts archiving, refuses new destinations and fails backups.
    fault(
        &sim.control,
        r#"{"kind": "unreachable-dest", "tenant": "tenant1"}"#,
    )
    .await;
    assert_eq!(
        round(&mut conn).await.1,
        "-9070(can not connect to backup destination)"
    );
    let (code, message) = refused(
        &mut conn,
        "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///b/other' TENANT = tenant1",
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (9070, "can not connect to backup destination")
    );
    let (status, _) = http(&sim.control, "DELETE", "/clusters/obcluster/faults", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        round(&mut conn).await,
        ("DOING".into(), String::new()),
        "cleared faults let archiving go on"
    );

    let (status, body) = http(
        &sim.control,
        "POST",
        "/clusters/obcluster/faults",
        r#"{"kind": "meteor"}"#,
    )
    .await;
    assert_eq!((status, body.as_str()), (400, "unknown fault kind meteor"));
}

#[tokio::test]
async fn dropped_and_refused_connections() {
    let sim = obsim();
    let mut conn = Conn::new(opts(&sim.mysql)).await.expect("connect");
    conn.ping().await.expect("ping");
    fault(&sim.control, r#"{"kind": "drop-connections"}"#).await;
    // The drop reaches the connection's task asynchronously: poll with a deadline until it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.ping().await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the open connection was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    fault(
        &sim.control,
        r#"{"kind": "refuse-connections", "seconds": 2}"#,
    )
    .await;
    assert!(
        Conn::new(opts(&sim.mysql)).await.is_err(),
        "new connections are refused"
    );
    // Poll with a deadline until connections are accepted again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Conn::new(opts(&sim.mysql)).await {
            Ok(mut conn) => {
                conn.ping().await.expect("ping after the refusal");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "still refused: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `clusterId` a control API reply shows for cluster `name`.
fn cluster_id_in(reply: &str, name: &str) -> Option<i64> {
    let clusters: serde_json::Value = serde_json::from_str(reply).expect("JSON");
    let of = |c: &serde_json::Value| {
        (c["name"] == name)
            .then(|| c["clusterId"].as_i64())
            .flatten()
    };
    match clusters.as_array() {
        Some(all) => all.iter().find_map(of),
        None => of(&clusters),
    }
}

/// The queries ob-operator and the operator read a cluster's identity with, and what they answer.
async fn identity(conn: &mut Conn) -> (String, i64) {
    let by_name = "select zone, svr_ip, svr_port, name, value, scope, edit_level, coalesce(tenant_id, 0) as tenant_id \
                   from gv$ob_parameters where name = ?";
    type Parameter = (String, String, i64, String, String, String, String, i64);
    let bound: Vec<Parameter> = conn.exec(by_name, ("cluster_id",)).await.expect("bound");
    let quoted: Vec<Parameter> = conn
        .query(by_name.replace('?', "'cluster_id'"))
        .await
        .expect("quoted");
    assert_eq!(bound, quoted);
    let [(zone, _, port, name, value, scope, edit_level, tenant_id)] = &bound[..] else {
        panic!("one observer: {bound:?}");
    };
    assert_eq!(
        (
            zone.as_str(),
            *port,
            name.as_str(),
            scope.as_str(),
            edit_level.as_str(),
            *tenant_id
        ),
        ("zone1", 2882, "cluster_id", "CLUSTER", "READONLY", 0)
    );
    let both: Vec<(String, String)> = conn
        .query("SELECT name, value FROM GV$OB_PARAMETERS WHERE name IN ('cluster', 'cluster_id') ORDER BY name")
        .await
        .expect("both");
    let shown: Vec<(String, String, String)> = conn
        .query("SHOW PARAMETERS LIKE 'cluster_id'")
        .await
        .expect("show")
        .into_iter()
        .map(|row: mysql_async::Row| {
            let text = |column: &str| row.get::<String, _>(column).expect(column);
            (text("name"), text("value"), text("scope"))
        })
        .collect();
    assert_eq!(
        shown,
        [("cluster_id".into(), value.clone(), "CLUSTER".into())]
    );
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1], ("cluster_id".to_string(), value.clone()));
    (
        both[0].1.clone(),
        value.parse().expect("the cluster id is an integer"),
    )
}

#[tokio::test]
async fn the_cluster_id_comes_from_the_cli_or_the_control_api_and_gv_ob_parameters_shows_it() {
    let sim = obsim_with(&["--cluster-id", "7"]);
    let (_, clusters) = http(&sim.control, "GET", "/clusters", "").await;
    assert_eq!(cluster_id_in(&clusters, "obcluster"), Some(7), "{clusters}");
    let mut first = Conn::new(opts(&sim.mysql)).await.expect("connect");
    assert_eq!(identity(&mut first).await, ("obcluster".to_string(), 7));

    let created = post(
        &sim.control,
        "/clusters",
        &format!(r#"{{"name": "second", "password": "{PASSWORD}", "clusterId": 42}}"#),
    )
    .await;
    assert_eq!(cluster_id_in(&created, "second"), Some(42));
    let address = address_in(&created);
    let mut second = Conn::new(opts(address)).await.expect("connect");
    assert_eq!(identity(&mut second).await, ("second".to_string(), 42));

    let third = post(
        &sim.control,
        "/clusters",
        &format!(r#"{{"name": "third", "password": "{PASSWORD}"}}"#),
    )
    .await;
    let default = obsim::model::default_cluster_id("third");
    assert_eq!(
        cluster_id_in(&third, "third"),
        Some(default),
        "derived from the name"
    );
    assert_refused(
        &sim.control,
        &format!(r#"{{"name": "fourth", "password": "{PASSWORD}", "clusterId": 0}}"#),
        "a cluster id is 1 or more",
    )
    .await;
}

#[tokio::test]
async fn a_clusters_servers_hold_a_unit_of_every_tenant_in_dba_ob_units() {
    let sim = obsim_with(&[]);
    let created = post(
        &sim.control,
        "/clusters",
        &format!(
            r#"{{"name": "zones", "password": "{PASSWORD}", "servers": ["10.0.0.1:2882", "10.0.0.2:2882"],
                 "tenants": [{{"name": "t1", "dataBytes": 1}}]}}"#
        ),
    )
    .await;
    let address = address_in(&created);
    let mut conn = Conn::new(opts(address)).await.expect("connect");
    let units: Vec<(i64, String, i64, String)> = conn
        .query(
            "SELECT tenant_id, svr_ip, svr_port, zone FROM DBA_OB_UNITS ORDER BY tenant_id, svr_ip",
        )
        .await
        .expect("units");
    let expected = |tenant: i64| {
        [("10.0.0.1", "zone1"), ("10.0.0.2", "zone2")]
            .map(|(ip, zone)| (tenant, ip.to_string(), 2882, zone.to_string()))
    };
    // sys and the user tenant; the meta tenant shares the user tenant's units.
    assert_eq!(units, [expected(1), expected(1002)].concat());

    assert_refused(
        &sim.control,
        &format!(r#"{{"name": "none", "password": "{PASSWORD}", "servers": []}}"#),
        "a cluster has at least one server",
    )
    .await;
}

/// Asserts that a `POST /clusters` with `body` is refused as a bad request, for the reason `why`.
async fn assert_refused(control: &str, body: &str, why: &str) {
    let (status, reply) = http(control, "POST", "/clusters", body).await;
    assert_eq!(status, 400, "{why}: {reply}");
}

/// The MySQL address of the cluster a `POST /clusters` reply describes.
fn address_in(reply: &str) -> &str {
    reply
        .split(r#""address":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no address in {reply}"))
}

/// Whether a session still answers (a dropped one fails its next statement).
async fn answers(conn: &mut Conn) -> bool {
    conn.query_drop("SELECT 1").await.is_ok()
}

#[tokio::test]
async fn a_cluster_answers_on_added_addresses_until_they_are_removed() {
    // As a pod's IP changes: the same cluster on another loopback address, then the old one gone.
    let sim = obsim();
    let (status, routes) = http(&sim.control, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(
        routes.contains("/clusters/{cluster}/listeners/{addr}"),
        "{routes}"
    );
    let bound = post(
        &sim.control,
        "/clusters/obcluster/listeners",
        r#"{"listen": "127.0.0.3:0"}"#,
    )
    .await;
    let moved: serde_json::Value = serde_json::from_str(&bound).expect("JSON");
    let moved = moved["address"]
        .as_str()
        .expect("the bound address")
        .to_string();
    assert!(
        moved.starts_with("127.0.0.3:") && !moved.ends_with(":0"),
        "{moved}"
    );
    let (_, clusters) = http(&sim.control, "GET", "/clusters", "").await;
    assert!(
        clusters.contains(&format!(r#""listeners":["{}","{moved}"]"#, sim.mysql)),
        "{clusters}"
    );

    let mut old = Conn::new(opts(&sim.mysql)).await.expect("old address");
    let mut new = Conn::new(opts(&moved)).await.expect("new address");
    old.query_drop("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///b/moved' TENANT = tenant1")
        .await
        .expect("set through the old address");
    let seen: Option<String> = new
        .query_first("SELECT value FROM CDB_OB_BACKUP_PARAMETER WHERE tenant_id = 1002")
        .await
        .expect("read through the new address");
    assert_eq!(seen.as_deref(), Some("file:///b/moved"), "the same cluster");

    let path = format!("/clusters/obcluster/listeners/{}", sim.mysql);
    let (status, reply) = http(&sim.control, "DELETE", &path, "").await;
    assert_eq!(status, 204, "{reply}");
    let (status, _) = http(&sim.control, "DELETE", &path, "").await;
    assert_eq!(status, 404, "no longer listened on");
    let refused = tokio::net::TcpStream::connect(&sim.mysql).await;
    assert!(refused.is_err(), "a connect to the old address is refused");
    let deadline = Instant::now() + Duration::from_secs(10);
    while answers(&mut old).await {
        assert!(
            Instant::now() < deadline,
            "the old address's session is dropped"
        );
        tokio::task::yield_now().await;
    }
    assert!(answers(&mut new).await, "the new address's session stays");
    let (_, clusters) = http(&sim.control, "GET", "/clusters", "").await;
    assert!(
        clusters.contains(&format!(r#""listeners":["{moved}"]"#)),
        "{clusters}"
    );
}
