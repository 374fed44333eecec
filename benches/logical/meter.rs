//! What a measured step cost, read from `/proc` around it: its wall time, the CPU time of the seekdb server
//! it ran against (the engine's work), and the client's — this process's own (the operator's dump and
//! restore run in it) plus that of the children it waited for meanwhile (a peer tool, run to its end). With
//! two cores shared by server and client, their sum over two is the least wall time the step could take.

use std::time::{Duration, Instant};

use super::seekdb::{Seekdb, process_cpu};

/// A step's wall time and CPU times.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cost {
    pub took: Duration,
    pub server: Duration,
    pub client: Duration,
}

/// A step being measured.
pub struct Meter<'a> {
    server: &'a Seekdb,
    started: Instant,
    server_cpu: Duration,
    client_cpu: Duration,
}

impl<'a> Meter<'a> {
    pub fn start(server: &'a Seekdb) -> Self {
        Self {
            server,
            server_cpu: server.cpu(),
            client_cpu: client_cpu(),
            started: Instant::now(),
        }
    }

    pub fn stop(self) -> Cost {
        let took = self.started.elapsed();
        Cost {
            took,
            server: self.server.cpu().saturating_sub(self.server_cpu),
            client: client_cpu().saturating_sub(self.client_cpu),
        }
    }
}

/// This process's CPU time and that of the children it has waited for.
fn client_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    process_cpu(&stat, false) + process_cpu(&stat, true)
}

/// When the progress reports of the operator's dump or restore came, from its start: the first once the plan
/// is made (a dump) or the target is checked and its databases made (a restore), the last when every chunk
/// is written or loaded. What comes before the first and after the last is the step's set-up and its finish
/// (the manifest; the views).
pub struct Phases {
    started: Instant,
    first: std::sync::OnceLock<Duration>,
    last: std::sync::Mutex<Duration>,
}

impl Phases {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            first: std::sync::OnceLock::new(),
            last: std::sync::Mutex::new(Duration::ZERO),
        }
    }

    /// Notes a progress report.
    pub fn report(&self) {
        let now = self.started.elapsed();
        let _ = self.first.set(now);
        if let Ok(mut last) = self.last.lock() {
            *last = now;
        }
    }

    /// The times of the first and the last report.
    pub fn times(&self) -> (Duration, Duration) {
        let first = self.first.get().copied().unwrap_or_default();
        let last = self.last.lock().map(|l| *l).unwrap_or_default();
        (first, last)
    }
}

/// How long a fresh server works on its own after it answers: measured on seekdb 1.4, a burst of about a
/// CPU-second (its DAG and MDS mini-merge threads) 6–14 s after start, after a quiet second, and none
/// later (docs/contributing/benchmarks.md).
const START_UP: Duration = Duration::from_secs(20);

/// Seconds in a row under 50 ms of server CPU that count as quiet.
const QUIET_SECONDS: u32 = 3;

/// Waits until `server`, started at `started`, is past its start-up work ([`START_UP`]) and has been quiet
/// for [`QUIET_SECONDS`], at most `deadline`: a server just started or loaded compacts and flushes for a
/// while, and the step measured next would pay for part of it, or not, by chance. Returns how long it
/// took and whether it got there.
pub fn settle(server: &Seekdb, started: Instant, deadline: Duration) -> (Duration, bool) {
    let waiting = Instant::now();
    let mut quiet = 0;
    while waiting.elapsed() < deadline {
        let before = server.cpu();
        std::thread::sleep(Duration::from_secs(1));
        if server.cpu().saturating_sub(before) < Duration::from_millis(50) {
            quiet += 1;
        } else {
            quiet = 0;
        }
        if quiet >= QUIET_SECONDS && started.elapsed() >= START_UP {
            return (waiting.elapsed(), true);
        }
    }
    (waiting.elapsed(), false)
}
