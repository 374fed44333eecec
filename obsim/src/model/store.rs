//! Where the simulated OBServers write backup files: the local directory standing for the share every
//! OBServer mounts (`file://`), or a real S3-compatible server (`s3://`, reached with the access keys the
//! destination was set with, as OceanBase does). The simulator's state machines are synchronous, so S3
//! requests run on a thread of their own (with its own runtime) and the caller waits for each — a set is
//! SUCCESS in the views only once its files are written, as in OceanBase.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::mpsc,
};

use opendal::{Operator, services};

/// A destination directory: on the share, or under a prefix of an S3 bucket.
#[derive(Clone, Debug)]
pub enum Place {
    Local(PathBuf),
    S3(Operator),
}

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The longest one S3 request (or listing) may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs S3 requests on a thread of its own.
#[derive(Clone, Debug)]
pub struct Remote {
    jobs: mpsc::Sender<Job>,
}

impl Default for Remote {
    fn default() -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            while let Ok(job) = queue.recv() {
                runtime.block_on(job());
            }
        });
        Self { jobs }
    }
}

impl Remote {
    /// Runs `work` on the S3 thread and waits for its result — `None` when it took longer than
    /// [`REQUEST_TIMEOUT`] (an unreachable server never stalls the simulator for long).
    pub fn run<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
        &self,
        work: impl FnOnce() -> F + Send + 'static,
    ) -> Option<T> {
        let (reply, result) = mpsc::channel();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                if let Ok(value) = tokio::time::timeout(REQUEST_TIMEOUT, work()).await {
                    let _ = reply.send(value);
                }
            })
        });
        self.jobs.send(job).ok()?;
        result.recv().ok()
    }
}

/// The S3 directory of `uri` (`s3://bucket/path?host=…&s3_region=…&access_id=…&access_key=…`), if it is one
/// with a host.
pub fn s3(uri: &str) -> Option<Operator> {
    let rest = uri.strip_prefix("s3://")?;
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, path) = location.split_once('/').unwrap_or((location, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let host = param("host")?;
    let endpoint = if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    };
    install_transport();
    let mut builder = services::S3::default()
        .bucket(bucket)
        .root(&format!("/{}", path.trim_matches('/')))
        .endpoint(&endpoint)
        .region(param("s3_region").unwrap_or("us-east-1"))
        .access_key_id(param("access_id").unwrap_or_default())
        .secret_access_key(param("access_key").unwrap_or_default())
        .disable_config_load()
        .disable_ec2_metadata();
    if param("addressing_model") == Some("virtual") {
        builder = builder.enable_virtual_host_style();
    }
    Operator::new(builder).ok()
}

fn install_transport() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

impl Place {
    /// Writes `bytes` at `path` under the place.
    pub fn write(&self, remote: &Remote, path: &str, bytes: Vec<u8>) -> std::io::Result<()> {
        match self {
            Place::Local(dir) => {
                let file = dir.join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(file, bytes)
            }
            Place::S3(op) => {
                let (op, path) = (op.clone(), path.to_string());
                remote
                    .run(move || async move { op.write(&path, bytes).await.map(|_| ()) })
                    .unwrap_or_else(|| {
                        Err(opendal::Error::new(
                            opendal::ErrorKind::Unexpected,
                            "no S3 thread",
                        ))
                    })
                    .map_err(std::io::Error::other)
            }
        }
    }

    /// Removes the object `path` under the place (gone already is fine).
    pub fn remove(&self, remote: &Remote, path: &str) {
        match self {
            Place::Local(dir) => {
                let _ = std::fs::remove_file(dir.join(path));
            }
            Place::S3(op) => {
                let (op, path) = (op.clone(), path.to_string());
                remote.run(move || async move { op.delete(&path).await });
            }
        }
    }

    /// Removes everything under the place.
    pub fn remove_all(&self, remote: &Remote) {
        match self {
            Place::Local(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::S3(op) => {
                let op = op.clone();
                remote.run(move || async move { op.delete_with("/").recursive(true).await });
            }
        }
    }

    /// Every file under the place, relative to it, with its bytes.
    pub fn read_all(&self, remote: &Remote) -> Vec<(String, Vec<u8>)> {
        match self {
            Place::Local(dir) => {
                let mut found = Vec::new();
                walk(dir, dir, &mut found);
                found
            }
            Place::S3(op) => {
                let op = op.clone();
                remote
                    .run(move || async move {
                        let mut found = Vec::new();
                        let Ok(entries) = op.list_with("/").recursive(true).await else {
                            return found;
                        };
                        for entry in entries.into_iter().filter(|e| e.metadata().is_file()) {
                            if let Ok(bytes) = op.read(entry.path()).await {
                                found.push((entry.path().to_string(), bytes.to_vec()));
                            }
                        }
                        found
                    })
                    .unwrap_or_default()
            }
        }
    }
}

fn walk(base: &Path, dir: &Path, found: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(base, &path, found);
        } else if let (Ok(relative), Ok(bytes)) = (path.strip_prefix(base), std::fs::read(&path)) {
            found.push((relative.display().to_string(), bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_destination_needs_a_host_and_a_file_one_is_not_s3() {
        assert!(s3("s3://bucket/ob/data?host=http://127.0.0.1:7070&s3_region=r&access_id=a&access_key=k").is_some());
        assert!(s3("s3://bucket/ob/data?s3_region=r").is_none());
        assert!(s3("file:///backup/data").is_none());
    }
}
