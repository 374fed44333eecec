//! Second-backup copy throughput (`scripts/bench-copy.sh`): a backup-set-shaped tree on local disk
//! (BENCH_COPY_MIB MiB in 1 MiB data files, default 1024, plus 64 small metadata files) copied by the
//! operator's own copier — every object streamed, its digest taken on the way, and written, then checked by
//! the S3 server (its CRC32C) or read back and hashed again — beside a plain copy of the same tree: `cp -r`
//! for file to file, and writes without a digest or a read-back at the same concurrency for file to a real S3
//! server (versitygw, started here). The plain upload and the copy checked by the server, the pair the
//! target compares, run BENCH_COPY_ROUNDS times (default 3), in turn first, each with the CPU seconds the
//! bench and the server used; the share is the median of the rounds' shares. Prints MB/s for each, the
//! verified copy's share of the plain upload beside its target (80 %), the time a second copy of the finished
//! tree takes (the resume path: nothing written), and the load average at the start and the end.

#[path = "../tests/e2e/support/s3.rs"]
#[allow(dead_code)]
mod s3;
#[path = "../tests/e2e/support/tools.rs"]
mod tools;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use futures::{StreamExt, TryStreamExt, stream};
use ob_backup_operator::{
    oceanbase::sql::AccessKeys,
    storage::{
        self,
        copy::{Copier, Progress},
        server_check::{WriteCheck, write_check},
    },
};

const BUCKET: &str = "bench";
const TREE: &str = "backup_set_1_full";
const CONCURRENCY: usize = 4;

fn main() {
    let Some(server) = s3::S3Server::start(BUCKET) else {
        eprintln!("the S3 server was not built: run scripts/bench-copy.sh");
        std::process::exit(2);
    };
    let mib = setting("BENCH_COPY_MIB", 1024);
    let rounds = setting("BENCH_COPY_ROUNDS", 3).max(1);
    let base = std::env::temp_dir().join(format!("obbackup-bench-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let bytes = write_tree(&base.join("first").join(TREE), mib);
    settle();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let keys = AccessKeys {
        access_id: s3::ACCESS_ID.into(),
        access_key: s3::ACCESS_KEY.into(),
    };
    let first = format!("file://{}", base.join("first").display());
    let s3_uri = |path: &str| server.uri(BUCKET, path);
    println!(
        "copy of a {:.1} MiB tree ({} objects), concurrency {CONCURRENCY}, on this machine \
         (load average {} at the start):",
        bytes as f64 / (1 << 20) as f64,
        mib + 64,
        load_average()
    );
    let line = |what: &str, took: Duration| {
        println!(
            "  {what:<52} {:>8.1} MB/s  ({:.2} s)",
            bytes as f64 / 1e6 / took.as_secs_f64(),
            took.as_secs_f64()
        );
    };

    let start = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(base.join("first").join(TREE))
        .arg(base.join("plain"))
        .status()
        .expect("cp");
    assert!(status.success());
    line("plain cp -r, file to file", start.elapsed());
    let _ = std::fs::remove_dir_all(base.join("plain"));

    let second_file = format!("file://{}", base.join("second").display());
    let took = runtime.block_on(copy(&first, None, &second_file, None));
    line("operator copy, file to file, verified", took);
    let _ = std::fs::remove_dir_all(base.join("second"));

    let took = runtime.block_on(copy(&first, None, &s3_uri("read-back"), Some(&keys)));
    line("operator copy, file to S3, read back", took);
    let _ = std::fs::remove_dir_all(server.file(BUCKET, "read-back"));
    settle();

    let check = runtime.block_on(async {
        let to = storage::open(&s3_uri("copy"), Some(&keys), None).expect("second");
        write_check(&s3_uri("copy"), &to).await
    });
    // The two compared side by side, round after round, in turn first (a round's ratio is of two runs a
    // few seconds apart, under the same load); each round writes to fresh prefixes, removed after it.
    let cpu = Cpu::of(server.pid());
    let (mut plain, mut checked) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (plain_to, copy_to) = (format!("plain-{round}"), format!("copy-{round}"));
        let last = round + 1 == rounds;
        let mut upload_once = || {
            let (took, used) =
                cpu.during(|| runtime.block_on(upload(&first, &s3_uri(&plain_to), &keys)));
            plain.push(Run { took, used });
            let _ = std::fs::remove_dir_all(server.file(BUCKET, &plain_to));
            settle();
        };
        let mut copy_once = || {
            let (took, used) = cpu
                .during(|| runtime.block_on(copy_checked(&first, &s3_uri(&copy_to), &keys, check)));
            checked.push(Run { took, used });
            if !last {
                let _ = std::fs::remove_dir_all(server.file(BUCKET, &copy_to));
            }
            settle();
        };
        if round % 2 == 0 {
            upload_once();
            copy_once();
        } else {
            copy_once();
            upload_once();
        }
    }
    for (what, runs) in [
        ("plain upload, file to S3 (no hash, no read-back)", &plain),
        (
            &*format!("operator copy, file to S3, verified ({check:?})"),
            &checked,
        ),
    ] {
        let took = median(runs.iter().map(|r| r.took.as_secs_f64()));
        line(what, Duration::from_secs_f64(took));
        println!("  {:<52} {}", "", rounds_of(runs, bytes));
    }
    let shares: Vec<f64> = plain
        .iter()
        .zip(&checked)
        .map(|(p, c)| p.took.as_secs_f64() / c.took.as_secs_f64())
        .collect();
    let share = median(shares.iter().copied());
    println!(
        "  verified copy at {:.0} % of the plain upload (median of {rounds} rounds: {}); target ≥ 80 % — {}",
        share * 100.0,
        shares
            .iter()
            .map(|s| format!("{:.0} %", s * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        if share >= 0.8 { "met" } else { "NOT MET" }
    );

    let last = format!("copy-{}", rounds - 1);
    let took = runtime.block_on(copy_checked(&first, &s3_uri(&last), &keys, check));
    println!(
        "  {:<52} {:>8.2} s   (nothing written)",
        "operator copy again, file to S3 (resume path)",
        took.as_secs_f64()
    );
    println!("  load average at the end: {}", load_average());
    let _ = std::fs::remove_dir_all(&base);
}

/// Writes back what the run before left in the page cache (`sync`), which would otherwise be written to disk
/// during the next run and slow whichever of two runs came second; a run's output is removed before, so that
/// only what is kept is written.
fn settle() {
    let _ = Command::new("sync").status();
}

/// A whole number from the environment, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The 1, 5 and 15 minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One timed run: its wall time and the CPU seconds it used, the bench's and the server's.
struct Run {
    took: Duration,
    used: (f64, f64),
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    (values[(n - 1) / 2] + values[n / 2]) / 2.0
}

/// Each round's MB/s, and the CPU each side used per GiB (median over the rounds).
fn rounds_of(runs: &[Run], bytes: u64) -> String {
    let gib = bytes as f64 / f64::from(1u32 << 30);
    format!(
        "rounds {}; CPU per GiB: bench {:.2} s, server {:.2} s",
        runs.iter()
            .map(|r| format!("{:.0}", bytes as f64 / 1e6 / r.took.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        median(runs.iter().map(|r| r.used.0)) / gib,
        median(runs.iter().map(|r| r.used.1)) / gib,
    )
}

/// CPU seconds used by this process and by the server, from /proc.
struct Cpu {
    server: Option<u32>,
}

impl Cpu {
    fn of(server: Option<u32>) -> Self {
        Self { server }
    }

    fn now(&self) -> (f64, f64) {
        let server = self
            .server
            .map_or(0.0, |pid| cpu_seconds(&format!("/proc/{pid}/stat")));
        (cpu_seconds("/proc/self/stat"), server)
    }

    /// How long `run` took, and the CPU both sides used meanwhile.
    fn during(&self, run: impl FnOnce() -> Duration) -> (Duration, (f64, f64)) {
        let before = self.now();
        let took = run();
        let after = self.now();
        (took, (after.0 - before.0, after.1 - before.1))
    }
}

/// User and system time of a process, from its `stat` file (in clock ticks of 1/100 s).
fn cpu_seconds(stat: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat) else {
        return 0.0;
    };
    // The fields after the command's parenthesis: state is the 3rd field, utime the 14th, stime the 15th.
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// A set-shaped tree of `mib` 1 MiB data files and 64 small files; returns its bytes.
fn write_tree(dir: &Path, mib: u64) -> u64 {
    let data = dir.join("logstream_1/major_data");
    let meta = dir.join("meta_info");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::create_dir_all(&meta).expect("meta dir");
    let mut total = 0;
    for index in 0..mib {
        let bytes: Vec<u8> = (0..1u64 << 20)
            .map(|i| ((i * 31 + index * 7) % 251) as u8)
            .collect();
        total += bytes.len() as u64;
        std::fs::write(data.join(format!("macro_block_data.{index}")), bytes).expect("data");
    }
    for index in 0..64u64 {
        let bytes = vec![(index % 251) as u8; 4096];
        total += bytes.len() as u64;
        std::fs::write(meta.join(format!("tablet_info.{index}")), bytes).expect("meta");
    }
    total
}

/// The operator's copy of the tree, as a second backup runs it.
async fn copy(
    from: &str,
    from_keys: Option<&AccessKeys>,
    to: &str,
    to_keys: Option<&AccessKeys>,
) -> Duration {
    let from = storage::open(from, from_keys, None).expect("first");
    let to = storage::open(to, to_keys, None).expect("second");
    let progress = Progress::default();
    let start = Instant::now();
    Copier::new(&from, &to, CONCURRENCY, &progress)
        .tree(TREE)
        .await
        .expect("copy");
    start.elapsed()
}

/// The operator's copy of the tree to S3, checked as the operator checks it there.
async fn copy_checked(from: &str, to: &str, keys: &AccessKeys, check: WriteCheck) -> Duration {
    let from = storage::open(from, None, None).expect("first");
    let to = storage::open(to, Some(keys), None).expect("second");
    let progress = Progress::default();
    let start = Instant::now();
    Copier::new(&from, &to, CONCURRENCY, &progress)
        .checked_by(check)
        .tree(TREE)
        .await
        .expect("copy");
    start.elapsed()
}

/// Every object of the tree read (whole, in one read of its listed size) and written once, at the same
/// concurrency: no hash, no read-back, no manifest.
async fn upload(from: &str, to: &str, keys: &AccessKeys) -> Duration {
    let from = storage::open(from, None, None).expect("first");
    let to = storage::open(to, Some(keys), None).expect("second");
    let start = Instant::now();
    let entries = from
        .list_with(&format!("{TREE}/"))
        .recursive(true)
        .await
        .expect("list");
    stream::iter(entries.into_iter().filter(|e| e.metadata().is_file()))
        .map(|entry| {
            let (from, to) = (from.clone(), to.clone());
            async move {
                // Read whole at the size the listing gave, in one read: unbounded, the file system's
                // reader would zero a fresh 2 MiB buffer for each read, the one that finds the end too.
                let size = entry.metadata().content_length();
                let bytes = from.read_with(entry.path()).range(0..size).await?;
                to.write(entry.path(), bytes).await.map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("upload");
    start.elapsed()
}
