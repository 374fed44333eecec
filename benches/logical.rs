//! Logical dump and restore throughput (`scripts/bench-logical.sh`), beside OceanBase's own
//! `seekdb-dump` / `seekdb-restore` and the tools MySQL users reach for first, `mydumper` / `myloader` and
//! `mysqldump` / `mysql`, on the same data in the same run. A real seekdb server holds a generated dataset
//! (4 tables, `BENCH_LOGICAL_ROWS` rows each, default 720 000, about 370 bytes of SQL a row: over 1 GB in
//! all). Once the source has gone quiet after the load (a loaded server compacts for a while, which the
//! first step measured would pay for), measured, each from a quiescent source into a fresh instance:
//! - the operator's dump (4 sessions, chunks of 50 000 rows, or `BENCH_LOGICAL_CHUNK_ROWS`) from the
//!   running server, at one snapshot, in zstd (its default, which the targets compare with the compressed
//!   peers), in gzip, and plain (which they compare with the plain peers);
//! - `mydumper` (4 threads, `--no-locks`: seekdb refuses its default `FLUSH TABLES WITH READ LOCK`, so each
//!   thread reads at a snapshot of its own), plain and with `--compress` (gzip, as the operator stores its
//!   dumps: the like-for-like pair), and `mysqldump --single-transaction` of the running server;
//! - `seekdb-dump` of the same instance (it opens the instance directory itself, so the server is stopped
//!   first; its time includes starting the embedded instance, a few seconds);
//! - the operator's restore of each of its dumps into a fresh server (4 sessions), `myloader` (4 threads)
//!   of each of mydumper's dumps and `mysql` with mysqldump's file, each into a fresh server;
//! - `seekdb-restore` of seekdb-dump's file into a fresh instance directory (same start-up cost).
//!
//! Every dump and restore but seekdb's runs `BENCH_LOGICAL_ROUNDS` times (5 by default), the tools taking
//! turns, and each prints its median run and the rounds' range: one run of a restore cannot rank two tools.
//!
//! Every peer reads a table in one statement, which the engine's default `ob_query_timeout` (10 s) cuts off
//! at the default size (error 4012): the source's and the targets' sessions get an hour, as the operator's
//! do. Prints rows/s and MB/s of SQL for each (MB = 10^6 bytes of uncompressed SQL each tool produced), the
//! CPU-seconds of the seekdb server and of the client each step took (`logical/meter.rs`), the
//! target "the operator's dump and restore are faster than mydumper/myloader (gzip and plain) and than
//! mysqldump/mysql", like for like, as met or NOT MET, and the bench process's peak resident memory, in which the operator's dump and restore run.
//! Then the consistency of each dump under writes (`logical/consistency.rs`). mydumper and the MySQL client
//! are skipped, saying so, when `OBBACKUP_MYDUMPER` / `OBBACKUP_MARIADB_CLIENT` are unset.

#[path = "logical/consistency.rs"]
mod consistency;
#[path = "logical/meter.rs"]
mod meter;
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
use ob_backup_operator::logical::{
    self, DumpRequest, LoadRequest, Progress,
    layout::{Compression, Manifest},
};
use opendal::{Operator, services::Fs};
use tokio_util::sync::CancellationToken;

use meter::{Cost, Meter, Phases};
use seekdb::Seekdb;

/// The operator's allocator (src/main.rs): its dumps and restores run in the operator's process, and are
/// measured here as they run there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TABLES: usize = 4;
/// The operator's dumps of a round, in the order of the first round.
const OURS: [Compression; 3] = [Compression::Zstd, Compression::Gzip, Compression::None];
/// The peers' dumps of a round ([`Bench::dump_peer`]).
const PEER_DUMPS: usize = 3;
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

/// One measured line: a tool (`tool`: its short name), what it took (wall and CPU), the bytes of SQL it
/// produced or read.
struct Figure {
    tool: &'static str,
    what: String,
    cost: Cost,
    bytes: u64,
    /// The operator's: when its first and last progress reports came ([`Phases`]).
    phases: Option<(Duration, Duration)>,
    /// Of a median ([`medians`]): the rounds, and the fastest and slowest of them.
    range: Option<(usize, Duration, Duration)>,
}

/// One figure a step: the median run by wall time of the rounds of each (`what`), in the order first met,
/// with the rounds' range.
fn medians(figures: Vec<Figure>) -> Vec<Figure> {
    let mut steps: Vec<Vec<Figure>> = Vec::new();
    for figure in figures {
        match steps.iter_mut().find(|s| s[0].what == figure.what) {
            Some(step) => step.push(figure),
            None => steps.push(vec![figure]),
        }
    }
    steps
        .into_iter()
        .map(|mut step| {
            step.sort_by_key(|f| f.cost.took);
            let range = (
                step.len(),
                step[0].cost.took,
                step[step.len() - 1].cost.took,
            );
            let mut median = step.swap_remove((step.len() - 1) / 2);
            median.range = Some(range);
            median
        })
        .collect()
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
    let source_started = Instant::now();
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
    bench.run(source, source_started);
}

impl Bench {
    fn run(&self, source: Seekdb, source_started: Instant) {
        let (settled, quiet) = meter::settle(&source, source_started, Duration::from_secs(180));
        println!(
            "the source server {} {:.0} s after the dataset was generated (under 5 % of a core for 3 s in a row)",
            if quiet { "was quiet" } else { "was still busy" },
            settled.as_secs_f64()
        );
        long_sessions(&self.runtime, &source);
        let rounds = rounds();
        if self.peers.mydumper.is_some() {
            println!(
                "mydumper runs with --no-locks: seekdb's answer to its default FLUSH TABLES WITH READ LOCK: {}",
                self.runtime.block_on(peers::global_lock_answer(&source))
            );
        }
        let mut dumps = Vec::new();
        let mut manifests = [None, None, None];
        // The process's peak memory after its first dump and its first restore, each in zstd.
        let mut dump_peak = None;
        for round in 0..rounds {
            let mut steps: Vec<usize> = (0..OURS.len() + PEER_DUMPS).collect();
            // Each round starts one step later, as the restores do below; the first is the operator's zstd.
            steps.rotate_left(round % (OURS.len() + PEER_DUMPS));
            for step in steps {
                match OURS.get(step) {
                    Some(&compression) => {
                        let (manifest, figure) = self.dump_ours(&source, compression);
                        manifests[step] = Some(manifest);
                        dumps.push(figure);
                    }
                    None => dumps.extend(self.dump_peer(&source, step - OURS.len())),
                }
                dump_peak.get_or_insert_with(peak_rss_mib);
            }
        }
        let [Some(manifest), Some(gzip_manifest), Some(plain_manifest)] = manifests else {
            panic!("at least one round");
        };
        let started = Instant::now();
        let verdicts = self.consistency(&source);
        let consistency_took = started.elapsed();
        let source_dir = source.stop();
        let seekdb_tools = seekdb_tools_wanted();
        dumps.extend(seekdb_tools.then(|| self.seekdb_dump(&source_dir)));
        let mut loads = Vec::new();
        let mut load_peak = None;
        for round in 0..rounds {
            let mut steps: Vec<Box<dyn Fn() -> Option<Figure> + '_>> = vec![
                Box::new(|| Some(self.load_ours(&manifest))),
                Box::new(|| Some(self.load_ours(&gzip_manifest))),
                Box::new(|| Some(self.load_ours(&plain_manifest))),
                Box::new(|| self.myloader(MYDUMPER_DIR, "myloader")),
                Box::new(|| self.myloader(MYDUMPER_GZIP_DIR, "myloader (gzip)")),
                Box::new(|| self.mysql()),
            ];
            // Each round starts one step later, so that no tool always follows the same one.
            let shift = round % steps.len();
            steps.rotate_left(shift);
            for step in &steps {
                loads.extend(step());
                // The first round is not shifted: its first step is the operator's zstd restore.
                load_peak.get_or_insert_with(peak_rss_mib);
            }
        }
        loads.extend(seekdb_tools.then(|| self.seekdb_restore()));
        println!(
            "each figure is the median of {rounds} rounds (BENCH_LOGICAL_ROUNDS), the tools taking turns (each \
             round's dumps and restores start one tool later); seekdb-dump and seekdb-restore run once"
        );
        self.report(&manifest, &gzip_manifest, &medians(dumps), &medians(loads));
        println!(
            "peak resident memory of this process (VmHWM): {} MiB after the first dump, {} MiB after the first restore",
            dump_peak.unwrap_or_default(),
            load_peak.unwrap_or_default()
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
            chunk_rows: chunk_rows(),
            compression: Compression::Zstd,
            owner: None,
        }
    }

    /// The operator's dump of `bench` with `compression`, into the directory [`ours_dir`] names.
    fn dump_ours(&self, source: &Seekdb, compression: Compression) -> (Manifest, Figure) {
        let mut request = self.dump_request(source, "bench");
        request.compression = compression;
        // A round's dump starts afresh: the last round's, found in place, would be resumed.
        let _ = std::fs::remove_dir_all(self.base.join(ours_dir(compression)));
        let meter = Meter::start(source);
        let phases = Phases::new();
        let report = self
            .runtime
            .block_on(logical::dump(
                &request,
                &self.storage,
                ours_dir(compression),
                &CancellationToken::new(),
                &|_: &Progress| phases.report(),
            ))
            .expect("dump");
        let cost = meter.stop();
        let manifest = report.manifest;
        assert_eq!(manifest.rows, self.total_rows, "the dump holds every row");
        let figure = Figure {
            tool: ours_tool(compression),
            what: format!("dump: ob-backup-operator (4 sessions, {compression:?})"),
            cost,
            bytes: manifest.bytes,
            phases: Some(phases.times()),
            range: None,
        };
        (manifest, figure)
    }

    /// The peers' dump `which` of [`PEER_DUMPS`]: mydumper, mydumper `--compress`, mysqldump.
    fn dump_peer(&self, source: &Seekdb, which: usize) -> Option<Figure> {
        match which {
            0 => self.mydumper(source),
            1 => self.mydumper_gzip(source),
            _ => self.mysqldump(source),
        }
    }

    fn mydumper(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        let meter = Meter::start(source);
        let out = self.base.join(MYDUMPER_DIR);
        let (_, bytes) = peers::mydumper(dir, source, "bench", &out);
        peers::make_durable(&out);
        Some(Figure {
            tool: "mydumper",
            what: "dump: mydumper (4 threads, --no-locks)".into(),
            cost: meter.stop(),
            bytes,
            phases: None,
            range: None,
        })
    }

    /// mydumper writing gzip, as the operator does: the like-for-like comparison.
    fn mydumper_gzip(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        let out = self.base.join(MYDUMPER_GZIP_DIR);
        let meter = Meter::start(source);
        let (_, stored) = peers::mydumper_with(dir, source, "bench", &["--compress"], &out);
        peers::make_durable(&out);
        let cost = meter.stop();
        println!(
            "mydumper --compress stored {:.1} MB of gzip",
            stored as f64 / 1e6
        );
        Some(Figure {
            tool: "mydumper --compress",
            what: "dump: mydumper --compress (gzip)".into(),
            cost,
            // MB/s of SQL, as for every tool: the uncompressed dump's size.
            bytes: peers::bytes_under(&self.base.join(MYDUMPER_DIR)),
            phases: None,
            range: None,
        })
    }

    fn mysqldump(&self, source: &Seekdb) -> Option<Figure> {
        let dir = self.peers.mysql_client.as_ref()?;
        let out = self.base.join(MYSQLDUMP_FILE);
        let meter = Meter::start(source);
        let (_, bytes) = peers::mysqldump(dir, source, "bench", MYSQLDUMP_FLAGS, &out);
        peers::make_durable(&out);
        Some(Figure {
            tool: "mysqldump",
            what: "dump: mysqldump --single-transaction".into(),
            cost: meter.stop(),
            bytes,
            phases: None,
            range: None,
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
            cost: Cost {
                took,
                ..Cost::default()
            },
            bytes: std::fs::metadata(&file).expect("peer dump").len(),
            phases: None,
            range: None,
        }
    }

    /// A fresh server to load into, quiet before the load is measured: a server just started works for some
    /// seconds on its own, and a tool measured then would pay for part of it (docs/contributing/benchmarks.md).
    fn target(&self, name: &str) -> Seekdb {
        let started = Instant::now();
        let target = Seekdb::start(&self.env, name, "8G");
        long_sessions(&self.runtime, &target);
        meter::settle(&target, started, Duration::from_secs(120));
        target
    }

    /// The operator's restore of its dump that `manifest` describes.
    fn load_ours(&self, manifest: &Manifest) -> Figure {
        let target = self.target("bench-target");
        let request = LoadRequest {
            connection: target.connection("root", ""),
            rename: Default::default(),
            parallel: PARALLEL,
            database_prefix: None,
        };
        let meter = Meter::start(&target);
        let phases = Phases::new();
        let loaded = self
            .runtime
            .block_on(logical::load(
                &request,
                &self.storage,
                ours_dir(manifest.compression),
                &CancellationToken::new(),
                &|_: &Progress| phases.report(),
            ))
            .expect("restore");
        let cost = meter.stop();
        assert_eq!(loaded.rows, self.total_rows);
        retire(target);
        Figure {
            tool: ours_tool(manifest.compression),
            what: format!(
                "restore: ob-backup-operator (4 sessions, {:?})",
                manifest.compression
            ),
            cost,
            bytes: manifest.bytes,
            phases: Some(phases.times()),
            range: None,
        }
    }

    /// myloader of mydumper's dump in `dump_dir` (plain or gzipped), as `tool`.
    fn myloader(&self, dump_dir: &str, tool: &'static str) -> Option<Figure> {
        let dir = self.peers.mydumper.as_ref()?;
        let dump = self.base.join(dump_dir);
        let target = self.target("bench-myloader");
        let meter = Meter::start(&target);
        peers::myloader(dir, &target, &dump);
        let cost = meter.stop();
        self.assert_loaded(&target);
        retire(target);
        Some(Figure {
            tool,
            what: format!("restore: {tool} (4 threads)"),
            cost,
            bytes: peers::bytes_under(&self.base.join(MYDUMPER_DIR)),
            phases: None,
            range: None,
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
        let meter = Meter::start(&target);
        peers::mysql(dir, &target, "bench", &file);
        let cost = meter.stop();
        self.assert_loaded(&target);
        retire(target);
        Some(Figure {
            tool: "mysql",
            what: "restore: mysql < mysqldump's file".into(),
            cost,
            bytes: std::fs::metadata(&file).expect("mysqldump's file").len(),
            phases: None,
            range: None,
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
            cost: Cost {
                took,
                ..Cost::default()
            },
            bytes: std::fs::metadata(&file).expect("peer dump").len(),
            phases: None,
            range: None,
        }
    }

    fn report(&self, manifest: &Manifest, gzip: &Manifest, dumps: &[Figure], loads: &[Figure]) {
        let sizes: Vec<String> = dumps[3..]
            .iter()
            .filter(|f| f.tool != "mydumper --compress")
            .map(|f| format!("{} {:.1} MB", f.tool, f.bytes as f64 / 1e6))
            .collect();
        println!(
            "SQL: ours {:.1} MB ({:.1} MB stored as zstd, {:.1} MB as gzip), {}",
            manifest.bytes as f64 / 1e6,
            manifest.stored_bytes as f64 / 1e6,
            gzip.stored_bytes as f64 / 1e6,
            sizes.join(", ")
        );
        println!(
            "  CPU-s: the seekdb server's, and the client's (this process for ours, the tool otherwise)"
        );
        for figure in dumps.iter().chain(loads) {
            let cost = figure.cost;
            println!(
                "  {:<48} {:>8.0} rows/s {:>7.1} MB/s  ({:.1} s; CPU-s server {:.1}, client {:.1})",
                figure.what,
                self.total_rows as f64 / cost.took.as_secs_f64(),
                figure.bytes as f64 / 1e6 / cost.took.as_secs_f64(),
                cost.took.as_secs_f64(),
                cost.server.as_secs_f64(),
                cost.client.as_secs_f64(),
            );
            if let Some((rounds, fastest, slowest)) = figure.range.filter(|r| r.0 > 1) {
                println!(
                    "  {:<48} {rounds} rounds: {:.1}–{:.1} s",
                    "",
                    fastest.as_secs_f64(),
                    slowest.as_secs_f64()
                );
            }
            if let Some((first, last)) = figure.phases {
                println!(
                    "  {:<48} first progress report at {:.2} s, last at {:.2} s",
                    "",
                    first.as_secs_f64(),
                    last.as_secs_f64()
                );
            }
        }
        self.targets(dumps, loads);
    }

    /// The target beside each tool: the operator's dump and its restore both faster, like for like — its
    /// zstd dump beside a compressed peer's, its plain one beside a plain peer's.
    fn targets(&self, dumps: &[Figure], loads: &[Figure]) {
        let took = |figures: &[Figure], tool: &str| {
            figures.iter().find(|f| f.tool == tool).map(|f| f.cost.took)
        };
        for (ours, dumper, loader, variable) in [
            (
                "ours",
                "mydumper --compress",
                "myloader (gzip)",
                "OBBACKUP_MYDUMPER",
            ),
            ("ours (plain)", "mydumper", "myloader", "OBBACKUP_MYDUMPER"),
            (
                "ours (plain)",
                "mysqldump",
                "mysql",
                "OBBACKUP_MARIADB_CLIENT",
            ),
        ] {
            let line = format!(
                "target: the operator's dump and restore ({ours}) faster than {dumper}/{loader}:"
            );
            let (Some(ours_dump), Some(ours_load)) = (took(dumps, ours), took(loads, ours)) else {
                println!("{line} not measured (no {ours} figures)");
                continue;
            };
            let (Some(their_dump), Some(their_load)) = (took(dumps, dumper), took(loads, loader))
            else {
                println!("{line} not measured ({variable} is not set)");
                continue;
            };
            println!(
                "{line} dump {:.1} s vs {:.1} s ({:.2}), restore {:.1} s vs {:.1} s ({:.2}) — {}",
                ours_dump.as_secs_f64(),
                their_dump.as_secs_f64(),
                ours_dump.as_secs_f64() / their_dump.as_secs_f64(),
                ours_load.as_secs_f64(),
                their_load.as_secs_f64(),
                ours_load.as_secs_f64() / their_load.as_secs_f64(),
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

/// Where the operator's dump with `compression` goes, under the bench's directory.
fn ours_dir(compression: Compression) -> &'static str {
    match compression {
        Compression::Zstd => "ours",
        Compression::Gzip => "ours-gzip",
        Compression::None => "ours-plain",
    }
}

fn ours_tool(compression: Compression) -> &'static str {
    match compression {
        Compression::Zstd => "ours",
        Compression::Gzip => "ours (gzip)",
        Compression::None => "ours (plain)",
    }
}

/// How many times each dump and restore is measured, the tools taking turns: 5, or `BENCH_LOGICAL_ROUNDS`.
/// A restore's time on seekdb still varies between runs of the same tool into a server past its start-up work
/// ([`meter::settle`]; the rounds' ranges are on docs/contributing/benchmarks.md), so a single run cannot
/// rank two tools.
fn rounds() -> usize {
    std::env::var("BENCH_LOGICAL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(5)
}

/// Rows per chunk of the operator's dumps: 50 000, or `BENCH_LOGICAL_CHUNK_ROWS` (the spec's default is 200 000).
fn chunk_rows() -> u64 {
    std::env::var("BENCH_LOGICAL_CHUNK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// OceanBase's own `seekdb-dump` and `seekdb-restore` run unless `BENCH_LOGICAL_SEEKDB_TOOLS=0` (they take
/// a few minutes of a run and are no part of the target).
fn seekdb_tools_wanted() -> bool {
    std::env::var("BENCH_LOGICAL_SEEKDB_TOOLS").as_deref() != Ok("0")
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
