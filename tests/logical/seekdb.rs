//! A real OceanBase SQL engine for the logical-backup tests: OceanBase seekdb (PyPI `pylibseekdb`, built by
//! tools/seekdb into a cached virtual environment and named by `OBBACKUP_SEEKDB`), one server per test
//! binary, started on a free loopback port in a fresh directory and stopped when the binary exits.

use std::{
    io::Write,
    net::TcpListener,
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use mysql_async::{Conn, OptsBuilder, prelude::Queryable};
use ob_backup_operator::oceanbase::ConnectionInfo;

/// A running seekdb server.
pub struct Seekdb {
    pub port: u16,
    pub dir: PathBuf,
    /// The wrapper's stdin: when this process exits it closes and the wrapper stops the server.
    _lifeline: Mutex<ChildStdin>,
    _wrapper: Mutex<Child>,
}

/// The directory of the seekdb environment, or `None` (skipped, saying so) when the tool was not built.
pub fn environment() -> Option<PathBuf> {
    match std::env::var_os("OBBACKUP_SEEKDB") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var("REQUIRE_K8S").as_deref() != Ok("1"),
                "REQUIRE_K8S=1 but OBBACKUP_SEEKDB is not set: run the tests through scripts/test.sh"
            );
            eprintln!("skipped: OBBACKUP_SEEKDB is not set (scripts/test.sh installs seekdb)");
            None
        }
    }
}

/// The shared server called `name` (started on first use), or `None` when seekdb is not installed.
pub fn server(name: &'static str) -> Option<&'static Seekdb> {
    static SERVERS: OnceLock<Mutex<Vec<(&'static str, &'static Seekdb)>>> = OnceLock::new();
    let env = environment()?;
    let servers = SERVERS.get_or_init(|| Mutex::new(Vec::new()));
    let mut servers = servers.lock().expect("servers");
    if let Some((_, server)) = servers.iter().find(|(n, _)| *n == name) {
        return Some(server);
    }
    let server: &'static Seekdb = Box::leak(Box::new(Seekdb::start(&env, name, "256M")));
    servers.push((name, server));
    Some(server)
}

impl Seekdb {
    /// Starts a server with a data file of `datafile` (e.g. `256M`) in a fresh directory.
    pub fn start(env: &std::path::Path, name: &str, datafile: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("obbackup-seekdb-{name}-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("seekdb directory");
        Self::start_in(env, dir, port, datafile)
    }

    /// Starts a server on the instance in `dir` (new or left by [`Self::stop`], or by seekdb-restore).
    pub fn start_in(env: &std::path::Path, dir: PathBuf, port: u16, datafile: &str) -> Self {
        let log = std::fs::File::create(dir.join("server.out")).expect("log file");
        // The wrapper starts the server and stops it when its stdin closes, which happens when this test
        // process exits however it exits; it removes the directory unless told `keep` first.
        let script = r#"
            "$1" --nodaemon --port "$2" --base-dir "$3" --parameter datafile_size="$4" \
              --parameter log_disk_size=2G --parameter memory_limit=2G &
            server=$!
            read -r order || order=
            kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
            [ "$order" = keep ] || rm -rf "$3"
        "#;
        let mut wrapper = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("seekdb-wrapper")
            .arg(env.join("seekdb"))
            .arg(port.to_string())
            .arg(&dir)
            .arg(datafile)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start seekdb");
        let lifeline = wrapper.stdin.take().expect("wrapper stdin");
        let server = Self {
            port,
            dir,
            _lifeline: Mutex::new(lifeline),
            _wrapper: Mutex::new(wrapper),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(240);
        // Called from inside a test's runtime: the check runs on a thread and runtime of its own.
        let answers = || {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("runtime");
                        runtime.block_on(async {
                            let mut conn = Conn::new(self.opts("root", "")).await.ok()?;
                            conn.query_drop("SELECT 1").await.ok()
                        })
                    })
                    .join()
                    .expect("readiness check")
            })
        };
        loop {
            let ready = answers();
            if ready.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "seekdb on port {} did not answer within 240 s; see {}/log",
                self.port,
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn opts(&self, user: &str, password: &str) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(user))
            .pass(Some(password))
            .prefer_socket(false)
    }

    /// How the operator reaches it as `user`.
    pub fn connection(&self, user: &str, password: &str) -> ConnectionInfo {
        ConnectionInfo {
            host: "127.0.0.1".into(),
            port: self.port,
            user: user.into(),
            password: password.into(),
            ca_cert: None,
        }
    }

    /// A root session in UTC.
    pub async fn conn(&self) -> Conn {
        let opts = self.opts("root", "").init(vec!["SET time_zone = '+00:00'"]);
        Conn::new(opts).await.expect("connect to seekdb")
    }
}

impl Seekdb {
    /// CPU time (user and system, every thread) the server process has used so far, from `/proc`: what a
    /// dump or a load cost the engine. Used by benches/logical.rs.
    #[allow(dead_code)]
    pub fn cpu(&self) -> Duration {
        let Ok(wrapper) = self._wrapper.lock() else {
            return Duration::ZERO;
        };
        let pid = wrapper.id();
        // The wrapper's one child is the server.
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|child| std::fs::read_to_string(format!("/proc/{child}/stat")).ok())
            .map(|stat| process_cpu(&stat, false))
            .sum()
    }

    /// Stops the server and waits until it is gone, keeping its directory (for OceanBase's own tools, which
    /// open an instance directory themselves). Used by benches/logical.rs.
    #[allow(dead_code)]
    pub fn stop(self) -> PathBuf {
        if let Ok(mut lifeline) = self._lifeline.lock() {
            let _ = lifeline.write_all(b"keep\n");
            let _ = lifeline.flush();
        }
        if let Ok(mut wrapper) = self._wrapper.lock() {
            let _ = wrapper.wait();
        }
        self.dir.clone()
    }
}

impl Drop for Seekdb {
    fn drop(&mut self) {
        if let Ok(mut lifeline) = self._lifeline.lock() {
            let _ = lifeline.write_all(b"stop\n");
        }
    }
}

/// The CPU time in a `/proc/<pid>/stat` line: the process's own (`utime` + `stime`), or that of its children
/// it has waited for (`cutime` + `cstime`). Linux counts in ticks of 1/100 s on every architecture it runs here.
#[allow(dead_code)]
pub fn process_cpu(stat: &str, children: bool) -> Duration {
    // Fields after the command's closing parenthesis, from the state (field 3) on.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let at = if children { 12 } else { 10 };
    let ticks = fields.get(at).copied().unwrap_or(0) + fields.get(at + 1).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
