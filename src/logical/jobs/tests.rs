use super::*;
use crate::logical::{DumpRequest, LoadRequest, LogicalError, job::failed};
use std::time::{Duration, Instant};

use crate::oceanbase::ConnectionInfo;

fn key() -> crate::background::Key {
    crate::background::Key::of("ns", "d")
}

/// A test's directory, removed when the test ends (the storage makes its root as it opens, though the
/// dump writes nothing in it).
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A dump of a database that refuses connections, into a fresh directory of its own.
fn unreachable_dump() -> (Work, Scratch) {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    // Nothing is written: the dump fails before its plan.
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = std::env::temp_dir().join(format!("jobs-test-{}-{made}", std::process::id()));
    let work = Work::Dump(DumpJob {
        request: DumpRequest {
            connection: ConnectionInfo {
                host: "127.0.0.1".into(),
                port,
                user: "dumper".into(),
                password: "secret".into(),
                ca_cert: None,
            },
            databases: vec![],
            tables: vec![],
            parallel: 1,
            chunk_rows: 10,
            compression: Default::default(),
            owner: None,
        },
        destination: format!("file://{}", root.display()),
        keys: None,
        directory: "logical/d".into(),
        file_root: None,
    });
    (work, Scratch(root))
}

async fn until_failed(jobs: &Jobs, work: &Work) -> JobState {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = jobs.ensure(&key(), work);
        if matches!(state, JobState::Failed { .. }) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "the dump never failed: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn outages_and_a_dumps_missing_privileges_are_retried_and_nothing_else() {
    let (dump, _scratch) = unreachable_dump();
    let server = |code| {
        failed(&LogicalError::Server {
            code,
            message: "denied".into(),
        })
    };
    let down = failed(&LogicalError::Unreachable("down".into()));
    assert!(worth_retrying(&dump, &down));
    let unreadable = failed(&LogicalError::AccessDenied("shop.secrets".into()));
    assert!(worth_retrying(&dump, &unreadable));
    assert!(worth_retrying(&dump, &server(1142)), "a grant fixes it");
    assert!(
        !worth_retrying(&dump, &server(1045)),
        "a login waits for a new Secret"
    );
    assert!(!worth_retrying(&dump, &server(1064)));
    for refused in [
        LogicalError::Invalid("x".into()),
        LogicalError::Owned("y".into()),
    ] {
        assert!(!worth_retrying(&dump, &failed(&refused)), "{refused}");
    }
    let Work::Dump(job) = &dump else {
        panic!("a dump")
    };
    let copy = LoadJob {
        request: LoadRequest {
            connection: job.request.connection.clone(),
            rename: Default::default(),
            parallel: 1,
            database_prefix: None,
        },
        source: job.destination.clone(),
        keys: None,
        path: "logical/d".into(),
        file_root: None,
    };
    let load = Work::Load(copy.clone());
    assert!(worth_retrying(&load, &down));
    assert!(
        !worth_retrying(&load, &server(1142)),
        "a load denied half-way would find what it loaded"
    );
    // A drill's verification and drop are retried after an outage, as a load is, and after nothing else.
    for work in [Work::Verify(copy.clone()), Work::DropCopy(copy)] {
        assert!(worth_retrying(&work, &down), "{work:?}");
        assert!(!worth_retrying(&work, &server(1142)), "{work:?}");
        let refused = failed(&LogicalError::Invalid("no prefix".into()));
        assert!(!worth_retrying(&work, &refused), "{work:?}");
    }
}

#[tokio::test]
async fn a_retry_still_connecting_reads_as_the_outage_it_retries() {
    let mut jobs = Jobs::new(Arc::new(|_: &crate::background::Key| {}));
    let (work, _scratch) = unreachable_dump();
    let JobState::Failed {
        transient: true,
        unreachable_database: true,
        message,
        ..
    } = until_failed(&jobs, &work).await
    else {
        panic!("an unreachable database is a transient outage of the database");
    };
    assert!(!message.contains("secret"), "{message}");
    jobs.retry_after(Duration::ZERO);
    // Asked for again past the retry window: a new attempt starts, and until it has an answer from
    // the database it reads as the outage it retries, not as a dump under way.
    for _ in 0..20 {
        let state = jobs.ensure(&key(), &work);
        assert!(
            matches!(
                state,
                JobState::Failed {
                    unreachable_database: true,
                    ..
                }
            ),
            "{state:?}"
        );
    }
}
