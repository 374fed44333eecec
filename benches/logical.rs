//! Logical dump and restore throughput, one run (`scripts/bench-logical.sh`), beside OceanBase's own
//! `seekdb-dump` / `seekdb-restore` on the same data in the same run. A real seekdb server holds a generated
//! dataset (4 tables, `BENCH_LOGICAL_ROWS` rows each, default 720 000, about 370 bytes of SQL a row: over
//! 1 GB in all). Measured, each from a quiescent source into a fresh instance:
//! - the operator's dump (4 sessions, chunks of 50 000 rows, gzip) from the running server, at one snapshot;
//! - `seekdb-dump` of the same instance (it opens the instance directory itself, so the server is stopped
//!   first — after `SET GLOBAL ob_query_timeout` to an hour: it reads a table in one statement, which the
//!   default 10 s cuts off; its time includes starting the embedded instance, a few seconds);
//! - the operator's restore into a fresh server (4 sessions);
//! - `seekdb-restore` of seekdb-dump's file into a fresh instance directory (same start-up cost).
//!
//! Prints rows/s and MB/s of SQL for each (MB = 10^6 bytes of uncompressed SQL each tool produced), and the
//! bench process's peak resident memory, in which the operator's dump and restore run.

#[path = "../tests/logical/seekdb.rs"]
#[allow(dead_code)]
mod seekdb;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use mysql_async::prelude::Queryable;
use ob_backup_operator::logical::{self, DumpRequest, LoadRequest, Progress};
use opendal::{Operator, services::Fs};
use tokio_util::sync::CancellationToken;

const TABLES: usize = 4;
const PARALLEL: usize = 4;

fn main() {
    let Some(env) = seekdb::environment() else {
        eprintln!("seekdb is not installed: run scripts/bench-logical.sh");
        std::process::exit(2);
    };
    let rows: u64 = std::env::var("BENCH_LOGICAL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(720_000);
    let base = std::env::temp_dir().join(format!("obbackup-bench-logical-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("bench directory");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let storage = Operator::new(Fs::default().root(&base.to_string_lossy())).expect("fs");
    let no_progress = |_: &Progress| {};

    let source = seekdb::Seekdb::start(&env, "bench-source", "8G");
    let started = Instant::now();
    let total_rows = runtime.block_on(generate(&source, rows));
    println!(
        "dataset: {TABLES} tables x {rows} rows = {total_rows} rows, generated in {:.0} s; 2 cores, seekdb {}",
        started.elapsed().as_secs_f64(),
        env.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let dump_request = DumpRequest {
        connection: source.connection("root", ""),
        databases: vec!["bench".into()],
        tables: Vec::new(),
        parallel: PARALLEL,
        chunk_rows: 50_000,
        owner: None,
    };
    let started = Instant::now();
    let report = runtime
        .block_on(logical::dump(
            &dump_request,
            &storage,
            "ours",
            &CancellationToken::new(),
            &no_progress,
        ))
        .expect("dump");
    let ours_dump = started.elapsed();
    let dump_peak = peak_rss_mib();
    let manifest = report.manifest;
    assert_eq!(manifest.rows, total_rows, "the dump holds every row");
    // seekdb-dump reads each table in one statement with the session's default timeout (10 s), which a
    // table this size outlasts (error 4012): its sessions get an hour, as the operator's do.
    runtime.block_on(async {
        let mut conn = source.conn().await;
        for statement in [
            "SET GLOBAL ob_query_timeout = 3600000000",
            "SET GLOBAL ob_trx_timeout = 3600000000",
        ] {
            conn.query_drop(statement).await.expect(statement);
        }
    });
    let source_dir = source.stop();

    let peer_file = base.join("peer.sql");
    let started = Instant::now();
    tool(
        &env,
        "seekdb-dump",
        &[
            source_dir.as_os_str(),
            "--database".as_ref(),
            "bench".as_ref(),
            "-o".as_ref(),
            peer_file.as_os_str(),
        ],
    );
    let peer_dump = started.elapsed();
    let peer_bytes = std::fs::metadata(&peer_file).expect("peer dump").len();

    let target = seekdb::Seekdb::start(&env, "bench-target", "8G");
    let load_request = LoadRequest {
        connection: target.connection("root", ""),
        rename: Default::default(),
        parallel: PARALLEL,
        database_prefix: None,
    };
    let started = Instant::now();
    let loaded = runtime
        .block_on(logical::load(
            &load_request,
            &storage,
            "ours",
            &CancellationToken::new(),
            &no_progress,
        ))
        .expect("restore");
    let ours_load = started.elapsed();
    let load_peak = peak_rss_mib();
    assert_eq!(loaded.rows, total_rows);
    drop(target);

    let peer_target = base.join("peer-target.db");
    let started = Instant::now();
    tool(
        &env,
        "seekdb-restore",
        &[peer_target.as_os_str(), peer_file.as_os_str()],
    );
    let peer_load = started.elapsed();

    let line = |what: &str, took: Duration, bytes: u64| {
        println!(
            "  {what:<44} {:>8.0} rows/s {:>7.1} MB/s  ({:.1} s)",
            total_rows as f64 / took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64(),
            took.as_secs_f64()
        );
    };
    println!(
        "SQL: ours {:.1} MB ({:.1} MB stored, gzip), seekdb-dump {:.1} MB",
        manifest.bytes as f64 / 1e6,
        manifest.stored_bytes as f64 / 1e6,
        peer_bytes as f64 / 1e6
    );
    line(
        "dump: ob-backup-operator (4 sessions)",
        ours_dump,
        manifest.bytes,
    );
    line("dump: seekdb-dump", peer_dump, peer_bytes);
    line(
        "restore: ob-backup-operator (4 sessions)",
        ours_load,
        manifest.bytes,
    );
    line("restore: seekdb-restore", peer_load, peer_bytes);
    println!(
        "peak resident memory of this process (VmHWM): {dump_peak} MiB after the dump, {load_peak} MiB after the restore"
    );
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&source_dir);
}

/// The process's peak resident set (VmHWM), in MiB: what the operator's dump and restore, running in it,
/// needed at most.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn tool(env: &std::path::Path, name: &str, args: &[&std::ffi::OsStr]) {
    let output = Command::new(env.join("bin").join(name))
        .args(args)
        .output()
        .expect("run the tool");
    assert!(
        output.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `rows` rows in each of the tables `bench.t1…`: 1 024 written, then doubled server-side in slices. Returns
/// the rows the server counts.
async fn generate(server: &seekdb::Seekdb, rows: u64) -> u64 {
    let mut conn = server.conn().await;
    for statement in [
        "SET ob_query_timeout = 3600000000",
        "SET ob_trx_timeout = 3600000000",
        "CREATE DATABASE bench",
    ] {
        conn.query_drop(statement).await.expect(statement);
    }
    for table in 1..=TABLES {
        conn.query_drop(format!(
            "CREATE TABLE bench.t{table} (id BIGINT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, \
             c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, note VARCHAR(300), amount DECIMAL(12,2), \
             at DATETIME(6), KEY by_k (k))"
        ))
        .await
        .expect("create table");
        let seed: Vec<String> = (0..1024)
            .map(|i| {
                format!(
                    "({i}, md5({i}), md5({}), NULL, {i}.25, '2026-01-01 00:00:00.{i:06}')",
                    i * 7
                )
            })
            .collect();
        conn.query_drop(format!(
            "INSERT INTO bench.t{table} (k, c, pad, note, amount, at) VALUES {}",
            seed.join(",")
        ))
        .await
        .expect("seed");
        let mut have = 1024u64;
        while have < rows {
            let add = have.min(rows - have).min(65_536);
            conn.query_drop(format!(
                "INSERT INTO bench.t{table} (k, c, pad, note, amount, at) \
                 SELECT k + {have}, concat(md5(rand()), md5(rand()), md5(rand())), md5(rand()), \
                 concat(md5(rand()), md5(rand()), md5(rand()), md5(rand()), md5(rand()), md5(rand())), \
                 amount + 1, at FROM bench.t{table} LIMIT {add}"
            ))
            .await
            .expect("double");
            have += add;
        }
    }
    let mut total = 0;
    for table in 1..=TABLES {
        let count: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM bench.t{table}"))
            .await
            .expect("count");
        total += count.unwrap_or(0);
    }
    total
}
