//! A real S3-compatible server for one test: versitygw (tools/s3) serving a fresh directory through its POSIX
//! backend — a bucket is a top-level directory, an object a file under it, so a test can also reach behind
//! the S3 API to damage an object as a failing disk would.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The access keys the server accepts.
pub const ACCESS_ID: &str = "obbackup-test-id";
pub const ACCESS_KEY: &str = "obbackup-test-key-not-secret-anywhere-else";

/// A running server, stopped (and its directory removed) when dropped.
pub struct S3Server {
    binary: PathBuf,
    child: Option<Child>,
    pub address: SocketAddr,
    /// The directory behind the buckets.
    pub root: PathBuf,
}

impl S3Server {
    /// Starts a server with bucket `bucket`, or `None` (skipped, saying so) when the tool was not built.
    pub fn start(bucket: &str) -> Option<Self> {
        let binary = super::tools::built("OBBACKUP_S3_SERVER", "versitygw")?;
        let address = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let root = std::env::temp_dir().join(format!("obbackup-s3-{}", address.port()));
        std::fs::create_dir_all(root.join(bucket)).expect("bucket directory");
        let mut server = Self {
            binary,
            child: None,
            address,
            root,
        };
        server.resume();
        Some(server)
    }

    /// The destination URI of `path` in `bucket`, as OceanBase writes it (path-style, plain HTTP).
    pub fn uri(&self, bucket: &str, path: &str) -> String {
        format!(
            "s3://{bucket}/{}?host=http://{}&s3_region=us-east-1&addressing_model=path",
            path.trim_matches('/'),
            self.address
        )
    }

    /// The server's process id while it runs (the copy bench reads its CPU time).
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file behind `key` in `bucket`.
    pub fn file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// Stops the server (an outage); [`Self::resume`] starts it again on the same port and directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn resume(&mut self) {
        let log = std::fs::File::create(self.root.with_extension("log")).expect("log file");
        let child = Command::new(&self.binary)
            .args(["--access", ACCESS_ID, "--secret", ACCESS_KEY, "--port"])
            .arg(self.address.to_string())
            .arg("posix")
            .arg(&self.root)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start versitygw");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "versitygw did not listen on {}",
                self.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(self.root.with_extension("log"));
    }
}
