//! The logical tools MySQL users reach for first, run beside the operator's dump and restore: `mydumper` /
//! `myloader` and `mysqldump` / `mysql` (Debian's packages, unpacked by tools/mydumper and
//! tools/mariadb-client; `OBBACKUP_MYDUMPER` and `OBBACKUP_MARIADB_CLIENT` name the directories). A tool whose
//! variable is unset is skipped, saying so.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mysql_async::prelude::Queryable;

use super::{seekdb::Seekdb, tools};

/// Threads of mydumper and myloader: as many as the operator's sessions.
pub const THREADS: &str = "4";

/// The tools found, each a directory with the wrappers in `bin/`.
pub struct Peers {
    pub mydumper: Option<PathBuf>,
    pub mysql_client: Option<PathBuf>,
}

impl Peers {
    /// The tools the environment names; a missing one is skipped, saying so (or fails under `REQUIRE_K8S=1`).
    pub fn from_env() -> Self {
        Self {
            mydumper: tools::built(
                "OBBACKUP_MYDUMPER",
                "mydumper and myloader (tools/mydumper)",
            ),
            mysql_client: tools::built(
                "OBBACKUP_MARIADB_CLIENT",
                "mysqldump and mysql (tools/mariadb-client)",
            ),
        }
    }
}

/// `mydumper` of `database` into the directory `out` with 4 threads and `--no-locks`: what it took and the
/// bytes of SQL it wrote.
pub fn mydumper(dir: &Path, server: &Seekdb, database: &str, out: &Path) -> (Duration, u64) {
    mydumper_with(dir, server, database, &[], out)
}

/// [`mydumper`] with `flags` beside those (`--compress`: each file gzipped, as the operator stores its
/// dumps).
pub fn mydumper_with(
    dir: &Path,
    server: &Seekdb,
    database: &str,
    flags: &[&str],
    out: &Path,
) -> (Duration, u64) {
    let mut args = vec![
        "--database",
        database,
        "--threads",
        THREADS,
        "--no-locks",
        "--verbose",
        "1",
    ];
    args.extend(flags);
    args.push("--outputdir");
    // A directory left by an earlier round is replaced, not added to.
    let _ = std::fs::remove_dir_all(out);
    let took = run(&dir.join("bin/mydumper"), &with(server, &args, out), None);
    (took, bytes_under(out))
}

/// `myloader` of mydumper's directory `dump` with 4 threads (the databases under their own names).
pub fn myloader(dir: &Path, server: &Seekdb, dump: &Path) -> Duration {
    let args = ["--threads", THREADS, "--verbose", "1", "--directory"];
    run(&dir.join("bin/myloader"), &with(server, &args, dump), None)
}

/// `mysqldump` of `database` (its tables, no `CREATE DATABASE`) into the file `out`, with `flags` beside its
/// defaults: what it took and the bytes it wrote.
pub fn mysqldump(
    dir: &Path,
    server: &Seekdb,
    database: &str,
    flags: &[&str],
    out: &Path,
) -> (Duration, u64) {
    let mut args = client_args(server);
    args.extend(flags.iter().map(OsString::from));
    args.push(format!("--result-file={}", out.display()).into());
    args.push(database.into());
    let took = run(&dir.join("bin/mysqldump"), &args, None);
    (
        took,
        std::fs::metadata(out).expect("mysqldump's file").len(),
    )
}

/// Writes every file at `path` (a file, or a directory's files) to disk (`fsync`), as the operator does each
/// file of its dump before it counts as written: a peer's dump is timed until it is as durable.
pub fn make_durable(path: &Path) {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .expect("the dump's directory")
            .flatten()
            .map(|entry| entry.path())
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    for file in files {
        std::fs::File::open(&file)
            .and_then(|f| f.sync_all())
            .unwrap_or_else(|e| panic!("fsync {}: {e}", file.display()));
    }
}

/// `mysql database < file`: mysqldump's file loaded as a user would load it.
pub fn mysql(dir: &Path, server: &Seekdb, database: &str, file: &Path) -> Duration {
    let mut args = client_args(server);
    args.push(database.into());
    run(&dir.join("bin/mysql"), &args, Some(file))
}

fn client_args(server: &Seekdb) -> Vec<OsString> {
    // --no-defaults first: no option file of the machine's changes what is measured.
    [
        "--no-defaults".to_string(),
        "--host=127.0.0.1".to_string(),
        format!("--port={}", server.port),
        "--user=root".to_string(),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// mydumper's or myloader's arguments: the connection to `server`, then `args`, then `last`.
fn with(server: &Seekdb, args: &[&str], last: &Path) -> Vec<OsString> {
    let port = server.port.to_string();
    let connection = ["--host", "127.0.0.1", "--port", &port, "--user", "root"];
    let mut all: Vec<OsString> = connection.iter().chain(args).map(OsString::from).collect();
    all.push(last.as_os_str().to_owned());
    all
}

/// Runs `program` to its end (standard input from `stdin`), failing the bench with its output when it fails.
fn run(program: &Path, args: &[OsString], stdin: Option<&Path>) -> Duration {
    let input = match stdin {
        Some(file) => Stdio::from(std::fs::File::open(file).expect("the tool's input")),
        None => Stdio::null(),
    };
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .stdin(input)
        .output()
        .expect("run the tool");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{} failed ({}): {}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// Bytes of the files under `dir`.
pub fn bytes_under(dir: &Path) -> u64 {
    files_under(dir)
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read a dump directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// What seekdb answers to mydumper's default global lock, `FLUSH TABLES WITH READ LOCK`.
pub async fn global_lock_answer(server: &Seekdb) -> String {
    let mut conn = server.conn().await;
    match conn.query_drop("FLUSH TABLES WITH READ LOCK").await {
        Ok(()) => {
            conn.query_drop("UNLOCK TABLES")
                .await
                .expect("UNLOCK TABLES");
            "accepted".into()
        }
        Err(e) => format!("refused: {e}"),
    }
}
