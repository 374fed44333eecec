//! Logical dump and restore throughput, one run (`scripts/bench-logical.sh`), beside OceanBase's own
//! `seekdb-dump` / `seekdb-restore` and the tools MySQL users reach for first, `mydumper` / `myloader` and
//! `mysqldump` / `mysql`, on the same data in the same run. A real seekdb server holds a generated dataset
//! (4 tables, `BENCH_LOGICAL_ROWS` rows each, default 720 000, about 370 bytes of SQL a row: over 1 GB in
//! all). Measured, each from a quiescent source into a fresh instance:
//! - the operator's dump (4 sessions, chunks of 50 000 rows, gzip) from the running server, at one snapshot;
//! - `mydumper` (4 threads, `--no-locks`: seekdb refuses its default `FLUSH TABLES WITH READ LOCK`, so each
//!   thread reads at a snapshot of its own), plain and with `--compress` (gzip, as the operator stores its
//!   dumps: the like-for-like pair), and `mysqldump --single-transaction` of the running server;
//! - `seekdb-dump` of the same instance (it opens the instance directory itself, so the server is stopped
//!   first; its time includes starting the embedded instance, a few seconds);
//! - the operator's restore into a fresh server (4 sessions), `myloader` (4 threads) of each of mydumper's
//!   dumps and `mysql` with mysqldump's file, each into a fresh server;
//! - `seekdb-restore` of seekdb-dump's file into a fresh instance directory (same start-up cost).
//!
//! Every peer reads a table in one statement, which the engine's default `ob_query_timeout` (10 s) cuts off
//! at the default size (error 4012): the source's and the targets' sessions get an hour, as the operator's
//! do. Prints rows/s and MB/s of SQL for each (MB = 10^6 bytes of uncompressed SQL each tool produced), the
//! target "the operator's dump and restore are faster than mydumper/myloader (gzip and plain) and than
//! mysqldump/mysql" as met or NOT MET, and the bench process's peak resident memory, in which the operator's dump and restore run.
//! Then the consistency of each dump under writes (`logical/consistency.rs`). mydumper and the MySQL client
//! are skipped, saying so, when `OBBACKUP_MYDUMPER` / `OBBACKUP_MARIADB_CLIENT` are unset.

#[path = "logical/consistency.rs"]
mod consistency;
#[path = "logical/peers.rs"]
mod peers;
#[path = "../tests/logical/seekdb.rs"]
#[allow(dead_code)]
mod seekdb;
#[path = "../tests/e2e/support/tools.rs"]
mod tools;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use mysql_async::prelude::Queryable;
use ob_backup_operator::logical::{self, DumpRequest, LoadRequest, Progress, layout::Manifest};
use opendal::{Operator, services::Fs};
use tokio_util::sync::CancellationToken;

use seekdb::Seekdb;

const TABLES: usize = 4;
const PARALLEL: usize = 4;
/// mysqldump's flags beside its defaults: seekdb accepts `--single-transaction` (REPEATABLE READ and
/// `START TRANSACTION WITH CONSISTENT SNAPSHOT`), which also turns its default `--lock-tables` off.
const MYSQLDUMP_FLAGS: &[&str] = &["--single-transaction"];
/// Where the peers' dumps of `bench` go, under the bench's directory.
const MYDUMPER_DIR: &str = "mydumper";
/// mydumper's dump with `--compress` (gzip, like the operator's).
const MYDUMPER_GZIP_DIR: &str = "mydumper-gzip";
const MYSQLDUMP_FILE: &str = "mysqldump.sql";

/// What the run shares: the seekdb environment, the tools beside it, the scratch directory and the dataset.
struct Bench {
    env: PathBuf,
    peers: peers::Peers,
    base: PathBuf,
    runtime: tokio::runtime::Runtime,
    storage: Operator,
    total_rows: u64,
}

/// One measured line: a tool (`tool`: its short name), how long it took, the bytes of SQL it produced or read.
struct Figure {
    tool: &'static str,
    what: String,
    took: Duration,
    bytes: u64,
}

fn main() {
    let Some(env) = seekdb::environment() else {
        eprintln!("seekdb is not installed: run scripts/bench-logical.sh");
        std::process::exit(2);
    };
    let peers = peers::Peers::from_env();
    let rows: u64 = std::env::var("BENCH_LOGICAL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(720_000);
    let base = std::env::temp_dir().join(format!("obbackup-bench-logical-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("bench directory");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let storage = Operator::new(Fs::default().root(&base.to_string_lossy())).expect("fs");
    let source = Seekdb::start(&env, "bench-source", "8G");
    let started = Instant::now();
    let total_rows = runtime.block_on(generate(&source, rows));
    println!(
        "dataset: {TABLES} tables x {rows} rows = {total_rows} rows, generated in {:.0} s; 2 cores, seekdb {}",
        started.elapsed().as_secs_f64(),
        env.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let bench = Bench {
        peers,
        env,
        base,
        runtime,
        storage,
        total_rows,
    };
    bench.run(source);
}

impl Bench {
    fn run(&self, source: Seekdb) {
        let (manifest, mut dumps) = self.dump_ours(&source);
        let dump_peak = peak_rss_mib();
        long_sessions(&self.runtime, &source);
        dumps.extend(self.dump_peers(&source));
        let started = Instant::now();
        let verdicts = self.consistency(&source);
        let consistency_took = started.elapsed();
        let source_dir = source.stop();
        dumps.push(self.seekdb_dump(&source_dir));
        let mut loads = vec![self.load_ours(&manifest)];
        let load_peak = peak_rss_mib();
        loads.extend(self.load_peers());
        loads.push(self.seekdb_restore());
        self.report(&manifest, &dumps, &loads);
        println!(
            "peak resident memory of this process (VmHWM): {dump_peak} MiB after the dump, {load_peak} MiB after the restore"
        );
        print_consistency(&verdicts, consistency_took);
        let _ = std::fs::remove_dir_all(&self.base);
        let _ = std::fs::remove_dir_all(&source_dir);
        assert!(
            verdicts[0].consistent(),
            "the operator's dump is taken at one snapshot, so it must be consistent under writes"
        );
    }

    fn dump_request(&self, source: &Seekdb, database: &str) -> DumpRequest {
        DumpRequest {
            connection: source.connection("root", ""),
            databases: vec![database.into()],
            tables: Vec::new(),
            parallel: PARALLEL,
            chunk_rows: 50_000,
            owner: None,
        }
    }

    fn dump_ours(&self, source: &Seekdb) -> (Manifest, Vec<Figure>) {
        let started = Instant::now();
        let report = self
            .runtime
            .block_on(logical::dump(
                &self.dump_request(source, "bench"),
                &self.storage,
                "ours",
                &CancellationToken::new(),
                &|_: &Progress| {},
            ))
            .expect("dump");
        let took = started.elapsed();
        let manifest = report.manifest;
        assert_eq!(manifest.rows, self.total_rows, "the dump holds every row");
        let figure = Figure {
            tool: "ours",
            what: "dump: ob-backup-operator (4 sessions)".into(),
            took,
            bytes: manifest.bytes,
        };
        (manifest, vec![figure])
    }

    fn dump_peers(&self, source: &Seekdb) -> Vec<Figure> {
        [
            self.mydumper(source),
            self.mydumper_gzip(source),
            self.mysqldump(source),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn mydumper(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        println!(
            "mydumper runs with --no-locks: seekdb's answer to its default FLUSH TABLES WITH READ LOCK: {}",
            self.runtime.block_on(peers::global_lock_answer(source))
        );
        let (took, bytes) = peers::mydumper(dir, source, "bench", &self.base.join(MYDUMPER_DIR));
        Some(Figure {
            tool: "mydumper",
            what: "dump: mydumper (4 threads, --no-locks)".into(),
            took,
            bytes,
        })
    }

    /// mydumper writing gzip, as the operator does: the like-for-like comparison.
    fn mydumper_gzip(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        let out = self.base.join(MYDUMPER_GZIP_DIR);
        let (took, stored) = peers::mydumper_with(dir, source, "bench", &["--compress"], &out);
        println!(
            "mydumper --compress stored {:.1} MB of gzip",
            stored as f64 / 1e6
        );
        Some(Figure {
            tool: "mydumper --compress",
            what: "dump: mydumper --compress (gzip)".into(),
            took,
            // MB/s of SQL, as for every tool: the uncompressed dump's size.
            bytes: peers::bytes_under(&self.base.join(MYDUMPER_DIR)),
        })
    }

    fn mysqldump(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mysql_client.as_ref()?;
        let out = self.base.join(MYSQLDUMP_FILE);
        let (took, bytes) = peers::mysqldump(dir, source, "bench", MYSQLDUMP_FLAGS, &out);
        Some(Figure {
            tool: "mysqldump",
            what: "dump: mysqldump --single-transaction".into(),
            took,
            bytes,
        })
    }

    fn seekdb_dump(&self, source_dir: &Path) -> Figure {
        let file = self.base.join("peer.sql");
        let started = Instant::now();
        seekdb_tool(
            &self.env,
            "seekdb-dump",
            &[
                source_dir.as_os_str(),
                "--database".as_ref(),
                "bench".as_ref(),
                "-o".as_ref(),
                file.as_os_str(),
            ],
        );
        let took = started.elapsed();
        Figure {
            tool: "seekdb-dump",
            what: "dump: seekdb-dump".into(),
            took,
            bytes: std::fs::metadata(&file).expect("peer dump").len(),
        }
    }

    /// A fresh server whose sessions may run for an hour.
    fn target(&self, name: &str) -> Seekdb {
        let target = Seekdb::start(&self.env, name, "8G");
        long_sessions(&self.runtime, &target);
        target
    }

    fn load_ours(&self, manifest: &Manifest) -> Figure {
        let target = self.target("bench-target");
        let request = LoadRequest {
            connection: target.connection("root", ""),
            rename: Default::default(),
            parallel: PARALLEL,
            database_prefix: None,
        };
        let started = Instant::now();
        let loaded = self
            .runtime
            .block_on(logical::load(
                &request,
                &self.storage,
                "ours",
                &CancellationToken::new(),
                &|_: &Progress| {},
            ))
            .expect("restore");
        let took = started.elapsed();
        assert_eq!(loaded.rows, self.total_rows);
        retire(target);
        Figure {
            tool: "ours",
            what: "restore: ob-backup-operator (4 sessions)".into(),
            took,
            bytes: manifest.bytes,
        }
    }

    fn load_peers(&self) -> Vec<Figure> {
        [
            self.myloader(MYDUMPER_DIR, "myloader"),
            self.myloader(MYDUMPER_GZIP_DIR, "myloader (gzip)"),
            self.mysql(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// myloader of mydumper's dump in `dump_dir` (plain or gzipped), as `tool`.
    fn myloader(&self, dump_dir: &str, tool: &'static str) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        let dump = self.base.join(dump_dir);
        let target = self.target("bench-myloader");
        let took = peers::myloader(dir, &target, &dump);
        self.assert_loaded(&target);
        retire(target);
        Some(Figure {
            tool,
            what: format!("restore: {tool} (4 threads)"),
            took,
            bytes: peers::bytes_under(&self.base.join(MYDUMPER_DIR)),
        })
    }

    fn mysql(&self) -> Option<Figure> {
        let dir = self.peers.mysql_client.as_ref()?;
        let file = self.base.join(MYSQLDUMP_FILE);
        let target = self.target("bench-mysql");
        self.runtime.block_on(async {
            let mut conn = target.conn().await;
            conn.query_drop("CREATE DATABASE bench")
                .await
                .expect("create bench");
        });
        let took = peers::mysql(dir, &target, "bench", &file);
        self.assert_loaded(&target);
        retire(target);
        Some(Figure {
            tool: "mysql",
            what: "restore: mysql < mysqldump's file".into(),
            took,
            bytes: std::fs::metadata(&file).expect("mysqldump's file").len(),
        })
    }

    fn assert_loaded(&self, target: &Seekdb) {
        let loaded = self.runtime.block_on(count_rows(target));
        assert_eq!(loaded, self.total_rows, "the load holds every row");
    }

    fn seekdb_restore(&self) -> Figure {
        let file = self.base.join("peer.sql");
        let target = self.base.join("peer-target.db");
        let started = Instant::now();
        seekdb_tool(
            &self.env,
            "seekdb-restore",
            &[target.as_os_str(), file.as_os_str()],
        );
        let took = started.elapsed();
        Figure {
            tool: "seekdb-restore",
            what: "restore: seekdb-restore".into(),
            took,
            bytes: std::fs::metadata(&file).expect("peer dump").len(),
        }
    }

    fn report(&self, manifest: &Manifest, dumps: &[Figure], loads: &[Figure]) {
        let sizes: Vec<String> = dumps[1..]
            .iter()
            .filter(|f| f.tool != "mydumper --compress")
            .map(|f| format!("{} {:.1} MB", f.tool, f.bytes as f64 / 1e6))
            .collect();
        println!(
            "SQL: ours {:.1} MB ({:.1} MB stored, gzip), {}",
            manifest.bytes as f64 / 1e6,
            manifest.stored_bytes as f64 / 1e6,
            sizes.join(", ")
        );
        for figure in dumps.iter().chain(loads) {
            println!(
                "  {:<44} {:>8.0} rows/s {:>7.1} MB/s  ({:.1} s)",
                figure.what,
                self.total_rows as f64 / figure.took.as_secs_f64(),
                figure.bytes as f64 / 1e6 / figure.took.as_secs_f64(),
                figure.took.as_secs_f64()
            );
        }
        self.targets(dumps, loads);
    }

    /// The target beside each tool: the operator's dump and its restore both faster.
    fn targets(&self, dumps: &[Figure], loads: &[Figure]) {
        let took = |figures: &[Figure], tool: &str| {
            figures.iter().find(|f| f.tool == tool).map(|f| f.took)
        };
        let (ours_dump, ours_load) = (dumps[0].took, loads[0].took);
        for (dumper, loader, variable) in [
            (
                "mydumper --compress",
                "myloader (gzip)",
                "OBBACKUP_MYDUMPER",
            ),
            ("mydumper", "myloader", "OBBACKUP_MYDUMPER"),
            ("mysqldump", "mysql", "OBBACKUP_MARIADB_CLIENT"),
        ] {
            let line =
                format!("target: the operator's dump and restore faster than {dumper}/{loader}:");
            let (Some(their_dump), Some(their_load)) = (took(dumps, dumper), took(loads, loader))
            else {
                println!("{line} not measured ({variable} is not set)");
                continue;
            };
            println!(
                "{line} dump {:.1} s vs {:.1} s, restore {:.1} s vs {:.1} s — {}",
                ours_dump.as_secs_f64(),
                their_dump.as_secs_f64(),
                ours_load.as_secs_f64(),
                their_load.as_secs_f64(),
                verdict(ours_dump < their_dump && ours_load < their_load)
            );
        }
    }

    /// Each tool's dump of the small `consistency` database, under writes; the operator's first.
    fn consistency(&self, source: &Seekdb) -> Vec<consistency::Verdict> {
        self.runtime.block_on(consistency::prepare(source));
        let scratch = self.base.join("consistency");
        let check = |tool: &str, dump: &dyn Fn(&Path)| {
            consistency::check(&self.runtime, source, &scratch, tool, dump)
        };
        let mut verdicts = vec![check("ob-backup-operator (4 sessions)", &|into| {
            self.dump_ours_into(source, into)
        })];
        if let Some(dir) = &self.peers.mydumper {
            verdicts.push(check("mydumper (4 threads, --no-locks)", &|into| {
                peers::mydumper(dir, source, consistency::DATABASE, into);
            }));
        }
        if let Some(dir) = &self.peers.mysql_client {
            for (tool, flags) in [
                ("mysqldump --single-transaction", MYSQLDUMP_FLAGS),
                ("mysqldump (its default --lock-tables)", &[][..]),
            ] {
                verdicts.push(check(tool, &|into| {
                    peers::mysqldump(
                        dir,
                        source,
                        consistency::DATABASE,
                        flags,
                        &into.join("dump.sql"),
                    );
                }));
            }
        }
        verdicts
    }

    /// The operator's dump of the consistency database into `into` (a directory under the bench's).
    fn dump_ours_into(&self, source: &Seekdb, into: &Path) {
        let dir = into
            .strip_prefix(&self.base)
            .expect("under the bench directory");
        self.runtime
            .block_on(logical::dump(
                &self.dump_request(source, consistency::DATABASE),
                &self.storage,
                &dir.to_string_lossy(),
                &CancellationToken::new(),
                &|_: &Progress| {},
            ))
            .expect("dump under writes");
    }
}

fn print_consistency(verdicts: &[consistency::Verdict], took: Duration) {
    println!(
        "consistency under writes ({:.1} s): {} writers commit one row into consistency.a and one into consistency.b \
         per transaction while each tool dumps, {} dumps a tool; one snapshot holds as many writer rows in a as in b",
        took.as_secs_f64(),
        consistency::WRITERS,
        consistency::ROUNDS
    );
    for verdict in verdicts {
        println!("{}", verdict.line());
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

/// Stops a server and removes its directory before going on, so that no removal overlaps what is measured next.
fn retire(server: Seekdb) {
    let dir = server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// The peers (and seekdb-dump) read a table in one statement, which the engine's default 10 s
/// `ob_query_timeout` cuts off (error 4012) at the default size: new sessions get an hour, as the operator's do.
fn long_sessions(runtime: &tokio::runtime::Runtime, server: &Seekdb) {
    runtime.block_on(async {
        let mut conn = server.conn().await;
        for statement in [
            "SET GLOBAL ob_query_timeout = 3600000000",
            "SET GLOBAL ob_trx_timeout = 3600000000",
        ] {
            conn.query_drop(statement).await.expect(statement);
        }
    });
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

fn seekdb_tool(env: &Path, name: &str, args: &[&std::ffi::OsStr]) {
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
async fn generate(server: &Seekdb, rows: u64) -> u64 {
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
    drop(conn);
    count_rows(server).await
}

/// The rows of `bench.t1…` as the server counts them.
async fn count_rows(server: &Seekdb) -> u64 {
    let mut conn = server.conn().await;
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
