//! Consistency under writes: while each tool dumps the small database `consistency`, writers commit
//! transactions that each insert one row into `consistency.a` and one into `consistency.b`. Any one snapshot
//! of the database holds as many writer rows in `a` as in `b`; a dump that read the two tables at different
//! moments holds different numbers. Each tool dumps [`ROUNDS`] times; the rows are counted in what it wrote
//! (the writer rows carry a marker found nowhere else, so the count needs no SQL parser).

use std::{
    io::Read,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use mysql_async::prelude::Queryable;
use tokio_util::sync::CancellationToken;

use super::{peers, seekdb::Seekdb};

pub const DATABASE: &str = "consistency";
/// Dumps per tool: a tool whose sessions start at different moments is caught when a commit falls between
/// them, which one dump may miss.
pub const ROUNDS: usize = 10;
/// Writer sessions, each committing one transaction after another.
pub const WRITERS: u64 = 4;
const MARK_A: &str = "writer-row-in-a";
const MARK_B: &str = "writer-row-in-b";

/// One dump under writes: the writer rows it holds in `a` and in `b`, and the commits made while it ran.
pub struct Round {
    pub a: u64,
    pub b: u64,
    pub commits_during: u64,
}

/// A tool's rounds.
pub struct Verdict {
    pub tool: String,
    pub rounds: Vec<Round>,
}

impl Verdict {
    pub fn consistent(&self) -> bool {
        self.rounds.iter().all(|r| r.a == r.b)
    }

    /// The verdict and its evidence, one line.
    pub fn line(&self) -> String {
        let differ = self.rounds.iter().filter(|r| r.a != r.b).count();
        let counts: Vec<String> = self
            .rounds
            .iter()
            .map(|r| format!("{}/{}", r.a, r.b))
            .collect();
        let commits: Vec<String> = self
            .rounds
            .iter()
            .map(|r| r.commits_during.to_string())
            .collect();
        let verdict = if differ == 0 {
            format!(
                "consistent ({} of {} dumps a = b)",
                self.rounds.len(),
                self.rounds.len()
            )
        } else {
            format!(
                "NOT consistent ({differ} of {} dumps a ≠ b)",
                self.rounds.len()
            )
        };
        format!(
            "  {:<44} {verdict}; writer rows a/b: {}; commits during each dump: {}",
            self.tool,
            counts.join(" "),
            commits.join(" ")
        )
    }
}

/// Creates the database and its two tables.
pub async fn prepare(server: &Seekdb) {
    let mut conn = server.conn().await;
    conn.query_drop(format!("CREATE DATABASE {DATABASE}"))
        .await
        .expect("create the consistency database");
    for table in ["a", "b"] {
        conn.query_drop(format!(
            "CREATE TABLE {DATABASE}.{table} (id BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL, \
             mark VARCHAR(40) NOT NULL)"
        ))
        .await
        .expect("create a consistency table");
    }
}

/// `dump` (which writes everything it dumps under the directory it is given) run [`ROUNDS`] times under
/// writes, each into a fresh directory under `scratch`.
pub fn check(
    runtime: &tokio::runtime::Runtime,
    server: &Seekdb,
    scratch: &Path,
    tool: &str,
    dump: &dyn Fn(&Path),
) -> Verdict {
    let rounds = (0..ROUNDS)
        .map(|round| {
            let into = scratch.join(format!("{}-{round}", tool.replace([' ', '/'], "_")));
            let _ = std::fs::remove_dir_all(&into);
            std::fs::create_dir_all(&into).expect("consistency dump directory");
            let commits_during = under_writes(runtime, server, || dump(&into));
            let (a, b) = marks_under(&into);
            let _ = std::fs::remove_dir_all(&into);
            Round {
                a,
                b,
                commits_during,
            }
        })
        .collect();
    Verdict {
        tool: tool.into(),
        rounds,
    }
}

/// Runs `work` while the writers commit (from before it starts until after it ends); returns the commits made
/// while it ran.
fn under_writes(runtime: &tokio::runtime::Runtime, server: &Seekdb, work: impl FnOnce()) -> u64 {
    let commits = Arc::new(AtomicU64::new(0));
    let stop = CancellationToken::new();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| runtime.spawn(write(server.port, commits.clone(), stop.clone())))
        .collect();
    wait_for_commits(&commits, 20);
    let before = commits.load(Ordering::SeqCst);
    work();
    let after = commits.load(Ordering::SeqCst);
    wait_for_commits(&commits, after + 5);
    stop.cancel();
    for writer in writers {
        runtime.block_on(writer).expect("writer task");
    }
    after - before
}

/// Polls until `commits` reaches `at_least`, failing the bench after 30 s.
fn wait_for_commits(commits: &AtomicU64, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while commits.load(Ordering::SeqCst) < at_least {
        assert!(
            Instant::now() < deadline,
            "the consistency writers made {} commits in 30 s, fewer than {at_least}",
            commits.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One writer: until `stop`, one transaction at a time (one round trip: the statements in one query), each
/// inserting the next id into `a` and into `b`.
async fn write(port: u16, commits: Arc<AtomicU64>, stop: CancellationToken) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"))
        .prefer_socket(false);
    let mut conn = mysql_async::Conn::new(opts).await.expect("writer connects");
    while !stop.is_cancelled() {
        let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
        conn.query_drop(format!(
            "START TRANSACTION; \
             INSERT INTO {DATABASE}.a VALUES ({id}, NOW(6), '{MARK_A}'); \
             INSERT INTO {DATABASE}.b VALUES ({id}, NOW(6), '{MARK_B}'); \
             COMMIT"
        ))
        .await
        .expect("writer transaction");
        commits.fetch_add(1, Ordering::SeqCst);
    }
}

/// The writer rows of `a` and of `b` in the files under `dir` (gzip and zstd ones read decompressed).
fn marks_under(dir: &Path) -> (u64, u64) {
    let mut a = 0;
    let mut b = 0;
    for file in peers::files_under(dir) {
        let raw = std::fs::read(&file).expect("read a dump file");
        let text = if file.extension().is_some_and(|e| e == "gz") {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut plain)
                .expect("gunzip a dump chunk");
            plain
        } else if file.extension().is_some_and(|e| e == "zst") {
            zstd::decode_all(raw.as_slice()).expect("unzstd a dump chunk")
        } else {
            raw
        };
        let text = String::from_utf8_lossy(&text);
        a += text.matches(MARK_A).count() as u64;
        b += text.matches(MARK_B).count() as u64;
    }
    (a, b)
}
