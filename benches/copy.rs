//! Second-backup copy throughput, one run (`scripts/bench-copy.sh`): a backup-set-shaped tree on local disk
//! (BENCH_COPY_MIB MiB in 1 MiB data files, default 256, plus 64 small metadata files) copied by the
//! operator's own copier — every object streamed, hashed and written, then checked by the S3 server (its
//! CRC32C) or read back and hashed again — beside a plain copy of the same tree: `cp -r` for file to file,
//! and writes without a hash or a read-back at the same concurrency for file to a real S3 server
//! (versitygw, started here). Prints MB/s for each, the verified copy's share of the plain upload beside its
//! target (80 %), and the time a second copy of the finished tree takes (the resume path: nothing written).

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
    let mib: u64 = std::env::var("BENCH_COPY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let base = std::env::temp_dir().join(format!("obbackup-bench-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let bytes = write_tree(&base.join("first").join(TREE), mib);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let keys = AccessKeys {
        access_id: s3::ACCESS_ID.into(),
        access_key: s3::ACCESS_KEY.into(),
    };
    let first = format!("file://{}", base.join("first").display());
    let s3_uri = |path: &str| server.uri(BUCKET, path);
    println!(
        "copy of a {:.1} MiB tree ({} objects), concurrency {CONCURRENCY}, on this machine:",
        bytes as f64 / (1 << 20) as f64,
        mib + 64
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

    let second_file = format!("file://{}", base.join("second").display());
    let took = runtime.block_on(copy(&first, None, &second_file, None));
    line("operator copy, file to file, verified", took);

    let plain = runtime.block_on(upload(&first, &s3_uri("plain"), &keys));
    line("plain upload, file to S3 (no hash, no read-back)", plain);

    let took = runtime.block_on(copy(&first, None, &s3_uri("read-back"), Some(&keys)));
    line("operator copy, file to S3, read back", took);

    let check = runtime.block_on(async {
        let to = storage::open(&s3_uri("copy"), Some(&keys), None).expect("second");
        write_check(&s3_uri("copy"), &to).await
    });
    let verified = runtime.block_on(copy_checked(&first, &s3_uri("copy"), &keys, check));
    line(
        &format!("operator copy, file to S3, verified ({check:?})"),
        verified,
    );
    let share = plain.as_secs_f64() / verified.as_secs_f64();
    println!(
        "  verified copy at {:.0} % of the plain upload; target ≥ 80 % — {}",
        share * 100.0,
        if share >= 0.8 { "met" } else { "NOT MET" }
    );

    let took = runtime.block_on(copy_checked(&first, &s3_uri("copy"), &keys, check));
    println!(
        "  {:<52} {:>8.2} s   (nothing written)",
        "operator copy again, file to S3 (resume path)",
        took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&base);
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
