//! The real control plane that `scripts/test.sh` starts (`scripts/control-plane.sh`): clients for the admin
//! and for the operator's ServiceAccount, one namespace per test, applying manifests, polling with a
//! deadline, and the operator binary as a child process.

use std::{
    collections::BTreeMap,
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, Config,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    core::{ApiResource, GroupVersionKind},
};
use serde_json::Value;

/// Field manager the tests apply manifests with, as a user's kubectl would.
pub const TEST_MANAGER: &str = "integration-test";

/// The running control plane.
pub struct ControlPlane {
    env: BTreeMap<String, String>,
    dir: PathBuf,
}

impl ControlPlane {
    /// The control plane of this test run; `None` (after printing why) when there is none and CI does not
    /// require one. Fails the test when `REQUIRE_K8S=1` and no control plane is reachable.
    pub fn get() -> Option<Self> {
        let Some(dir) = std::env::var_os("OBBACKUP_TEST_ENV").map(PathBuf::from) else {
            assert!(
                std::env::var("REQUIRE_K8S").as_deref() != Ok("1"),
                "REQUIRE_K8S=1 but OBBACKUP_TEST_ENV is not set: run the tests through scripts/test.sh"
            );
            eprintln!("skipped: no control plane (run scripts/test.sh to start one)");
            return None;
        };
        let text = fs::read_to_string(dir.join("env")).expect("the control plane's env file");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Self { env, dir })
    }

    fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} missing from the env file"))
    }

    /// The kubectl binary of the control plane's version.
    pub fn kubectl(&self) -> String {
        self.var("OBBACKUP_KUBECTL").to_string()
    }

    /// The operator's kubeconfig: its ServiceAccount's token and the apiserver's CA.
    pub fn operator_kubeconfig(&self) -> String {
        self.var("OBBACKUP_OPERATOR_KUBECONFIG").to_string()
    }

    /// The control plane's directory (its logs, and files tests write beside them).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The admin kubeconfig's path (for kubectl).
    pub fn admin_kubeconfig(&self) -> String {
        self.var("OBBACKUP_ADMIN_KUBECONFIG").to_string()
    }

    /// A client with every permission.
    pub async fn admin(&self) -> Client {
        client_from(self.var("OBBACKUP_ADMIN_KUBECONFIG")).await
    }

    /// The namespace holding the operator's ServiceAccount and leader Lease.
    pub fn operator_namespace(&self) -> &str {
        self.var("OBBACKUP_OPERATOR_NAMESPACE")
    }

    /// A fresh namespace for one test.
    pub async fn namespace(&self, prefix: &str) -> String {
        self.namespace_named(&random_name(prefix)).await
    }

    /// A fresh namespace in each of `shards` shards (`--shards`), in shard order.
    pub async fn namespace_per_shard(&self, prefix: &str, shards: u32) -> Vec<String> {
        let of = ob_backup_operator::shards::Shards::new(shards);
        let mut chosen: Vec<Option<String>> = vec![None; shards.max(1) as usize];
        while chosen.iter().any(Option::is_none) {
            let name = random_name(prefix);
            let slot = &mut chosen[of.of(&name) as usize];
            if slot.is_none() {
                *slot = Some(name);
            }
        }
        let mut namespaces = Vec::new();
        for name in chosen.into_iter().flatten() {
            namespaces.push(self.namespace_named(&name).await);
        }
        namespaces
    }

    /// Creates the namespace `name`, returning it.
    pub async fn namespace_named(&self, name: &str) -> String {
        let name = name.to_string();
        let api: Api<Namespace> = Api::all(self.admin().await);
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
            .expect("namespace");
        api.create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        name
    }

    /// Starts the operator binary as the operator's ServiceAccount, watching `namespace` only, competing for
    /// the Lease `lease`.
    pub fn start_operator(&self, namespace: &str, lease: &str, identity: &str) -> OperatorProcess {
        self.start_operator_via(namespace, lease, identity, None)
    }

    /// The kube-apiserver's address.
    pub fn apiserver_addr(&self) -> std::net::SocketAddr {
        let kubeconfig =
            fs::read_to_string(self.var("OBBACKUP_OPERATOR_KUBECONFIG")).expect("kubeconfig");
        let server = kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: https://"))
            .expect("server");
        server.parse().expect("host:port")
    }

    /// Like [`Self::start_operator`], reaching the API through `via` (e.g. a proxy) instead of directly.
    pub fn start_operator_via(
        &self,
        namespace: &str,
        lease: &str,
        identity: &str,
        via: Option<std::net::SocketAddr>,
    ) -> OperatorProcess {
        // Tests follow OceanBase closely: read a busy cluster every second, an idle one every 3 s.
        self.start_operator_with(namespace, lease, identity, via, (1, 3))
    }

    /// Like [`Self::start_operator_via`], with the observers' (active, idle) poll intervals in seconds.
    pub fn start_operator_with(
        &self,
        namespace: &str,
        lease: &str,
        identity: &str,
        via: Option<std::net::SocketAddr>,
        poll: (u64, u64),
    ) -> OperatorProcess {
        let launch = Launch {
            via,
            poll,
            ..Launch::default()
        };
        self.spawn_operator(namespace, lease, identity, launch)
    }

    /// Like [`Self::start_operator`], with extra command-line arguments (e.g. a simulated clock).
    pub fn start_operator_args(
        &self,
        namespace: &str,
        lease: &str,
        identity: &str,
        extra: &[String],
    ) -> OperatorProcess {
        let launch = Launch {
            extra,
            ..Launch::default()
        };
        self.spawn_operator(namespace, lease, identity, launch)
    }

    /// The operator as a Deployment runs it: the default poll intervals (2 s active, 30 s idle) and lease
    /// timing (15 s, renewed 5 s before expiry).
    #[allow(dead_code)] // the scale bench's
    pub fn start_operator_production(&self, namespace: &str, identity: &str) -> OperatorProcess {
        self.start_operator_production_in(namespace, namespace, identity, &[])
    }

    /// Like [`Self::start_operator_production`], watching `namespaces` (one, or a comma-separated list),
    /// competing for the Lease `lease` (or, with `--shards`, the shards' Leases named after it), with
    /// `extra` arguments (e.g. `--shards`, `--replicas`).
    #[allow(dead_code)] // the scale bench's
    pub fn start_operator_production_in(
        &self,
        namespaces: &str,
        lease: &str,
        identity: &str,
        extra: &[String],
    ) -> OperatorProcess {
        self.start_operator_binary_in(None, namespaces, lease, identity, extra)
    }

    /// Like [`Self::start_operator_production_in`], running `binary` (when given) instead of the harness's
    /// operator binary: the scale bench measures several builds one after another over one estate.
    #[allow(dead_code)] // the scale bench's
    pub fn start_operator_binary_in(
        &self,
        binary: Option<&std::ffi::OsStr>,
        namespaces: &str,
        lease: &str,
        identity: &str,
        extra: &[String],
    ) -> OperatorProcess {
        let mut args = [
            "--lease-duration-seconds",
            "15",
            "--lease-grace-seconds",
            "5",
        ]
        .map(String::from)
        .to_vec();
        args.extend_from_slice(extra);
        let poll = (
            ob_backup_operator::timing::ACTIVE_POLL.as_secs(),
            ob_backup_operator::timing::IDLE_POLL.as_secs(),
        );
        let launch = Launch {
            poll,
            extra: &args,
            binary,
            ..Launch::default()
        };
        self.spawn_operator(namespaces, lease, identity, launch)
    }

    /// Like [`Self::start_operator_args`], with the crash point `point` armed: the operator aborts there.
    pub fn start_operator_crashing(
        &self,
        namespace: &str,
        lease: &str,
        identity: &str,
        extra: &[String],
        point: &str,
    ) -> OperatorProcess {
        let launch = Launch {
            extra,
            crash_point: Some(point),
            ..Launch::default()
        };
        self.spawn_operator(namespace, lease, identity, launch)
    }

    fn spawn_operator(
        &self,
        namespace: &str,
        lease: &str,
        identity: &str,
        launch: Launch<'_>,
    ) -> OperatorProcess {
        let Launch {
            via,
            poll,
            extra,
            crash_point,
            binary,
        } = launch;
        let mut kubeconfig = self.var("OBBACKUP_OPERATOR_KUBECONFIG").to_string();
        if let Some(via) = via {
            let text = fs::read_to_string(&kubeconfig).expect("kubeconfig");
            let rewritten = text.replace(&self.apiserver_addr().to_string(), &via.to_string());
            kubeconfig = self
                .dir
                .join(format!("operator-{identity}.kubeconfig"))
                .display()
                .to_string();
            fs::write(&kubeconfig, rewritten).expect("write kubeconfig");
        }
        let port = free_port();
        let log = self.dir.join(format!("operator-{identity}.log"));
        let log_file = fs::File::create(&log).expect("operator log file");
        let mut command = Command::new(binary.map_or_else(operator_binary, Into::into));
        if let Some(point) = crash_point {
            // A bare name aborts there; `name=action` (e.g. `sleep(300)`, `2*off->return`) is passed as is.
            let spec = if point.contains('=') {
                point.to_string()
            } else {
                format!("{point}=return")
            };
            command.env("FAILPOINTS", spec);
        }
        let child = command
            .args(["run", "--log-format", "text"])
            // Tests hand the lease over fast; a caller that names its own lease timing (the benchmark runs
            // with the production defaults) keeps it.
            .args(if extra.iter().any(|a| a == "--lease-duration-seconds") {
                &[][..]
            } else {
                &[
                    "--lease-duration-seconds",
                    "4",
                    "--lease-grace-seconds",
                    "1",
                ][..]
            })
            .args([
                "--namespace",
                namespace,
                "--lease-namespace",
                self.operator_namespace(),
                "--lease-name",
                lease,
            ])
            .args([
                "--identity",
                identity,
                "--http-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("ACTIVE_POLL_SECONDS", poll.0.to_string())
            .env("IDLE_POLL_SECONDS", poll.1.to_string())
            .env(
                "RUST_LOG",
                std::env::var("OPERATOR_RUST_LOG")
                    .unwrap_or_else(|_| "info,ob_backup_operator=debug".into()),
            )
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start the operator binary");
        OperatorProcess { child, port, log }
    }
}

async fn client_from(path: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    config.proxy_url = None;
    Client::try_from(config).expect("client")
}

/// `prefix` and a random suffix: a name no other test uses.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}-{}", random_suffix())
}

fn random_suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    format!("{:08x}", RandomState::new().hash_one(Instant::now()) as u32)
}

/// A loopback port nothing listens on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The API of the kind a manifest names (our kinds and the built-in ones the examples use).
pub fn api_for(
    client: &Client,
    namespace: &str,
    object: &Value,
) -> (Api<DynamicObject>, ApiResource) {
    let api_version = object["apiVersion"].as_str().expect("apiVersion");
    let kind = object["kind"].as_str().expect("kind");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let lower = kind.to_lowercase();
    let plural = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    };
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural);
    (
        Api::namespaced_with(client.clone(), namespace, &resource),
        resource,
    )
}

/// Server-side applies a manifest into `namespace`, as a user would.
pub async fn apply(
    client: &Client,
    namespace: &str,
    object: &Value,
) -> Result<DynamicObject, kube::Error> {
    let (api, _) = api_for(client, namespace, object);
    let name = object["metadata"]["name"].as_str().expect("metadata.name");
    api.patch(
        name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
}

/// Deletes a namespace (and so everything in it); best effort.
pub async fn delete_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
}

/// Who holds the Lease `lease` in `namespace`; `None` while nobody does (or it does not exist).
pub async fn leader_of(client: &Client, namespace: &str, lease: &str) -> Option<String> {
    let api: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), namespace);
    api.get_opt(lease)
        .await
        .ok()
        .flatten()?
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// Polls `check` every 200 ms until it returns `Some`, failing the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_every(what, timeout, Duration::from_millis(200), check).await
}

/// [`eventually`], polling every `period`: a check that lists thousands of objects, polled every 200 ms,
/// keeps the API server busy serving it.
pub async fn eventually_every<T, F, Fut>(
    what: &str,
    timeout: Duration,
    period: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(what, timeout, period, || {
        let next = check();
        async { next.await.ok_or_else(String::new) }
    })
    .await
}

/// [`eventually`] for a check that says what it saw instead: the last thing seen is in the failure message.
pub async fn eventually_seen<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    poll_until(what, timeout, Duration::from_millis(200), check).await
}

/// Polls `check` every `period` until it returns `Ok`, failing the test with `what` (and the last thing
/// `check` saw, when it said) after `timeout`.
async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, period: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}{}",
            if seen.is_empty() {
                String::new()
            } else {
                format!("; last seen: {seen}")
            }
        );
        tokio::time::sleep(period).await;
    }
}

/// The operator binary running as a child process; killed when dropped.
pub struct OperatorProcess {
    child: Child,
    port: u16,
    /// Where its log goes.
    pub log: PathBuf,
}

impl OperatorProcess {
    /// The `host:port` its HTTP endpoint (probes, `/metrics`) listens on.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// An HTTP GET of `path` on its probe port: (status code, body), or `None` while nothing listens.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let code = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Some((code, body))
    }

    /// The value of a metric sample line such as `obbackup_leader` or
    /// `obbackup_status_writes_total{controller="BackupTask"}`; `None` if not exported (yet).
    pub fn metric(&self, sample: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|l| {
                l.strip_prefix(sample)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .and_then(|v| v.trim().parse().ok())
    }

    /// Every series of the metric `name` as (its labels, its value), e.g. `name` =
    /// `obbackup_log_backup_delay_seconds` gives `("namespace=\"ns\",…", 12.0)` per tenant.
    pub fn samples(&self, name: &str) -> Vec<(String, f64)> {
        let Some((_, body)) = self.get("/metrics") else {
            return Vec::new();
        };
        body.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?;
                let (labels, value) = match rest.strip_prefix('{') {
                    Some(labelled) => labelled.split_once("} ")?,
                    None => ("", rest.strip_prefix(' ')?),
                };
                Some((labels.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// The value of the first series of `name` whose labels contain `label` (e.g. `tenant="tenant1"`).
    pub fn sample_with(&self, name: &str, label: &str) -> Option<f64> {
        self.samples(name)
            .into_iter()
            .find(|(labels, _)| labels.contains(label))
            .map(|(_, value)| value)
    }

    /// Status writes the `kind` controller made so far.
    pub fn status_writes(&self, kind: &str) -> f64 {
        self.metric(&format!(
            "obbackup_status_writes_total{{controller=\"{kind}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// Its process id (for its memory and CPU time in /proc).
    #[allow(dead_code)] // the scale bench's
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGKILL, as a crash or a node loss would, without releasing its lease.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it with SIGTERM, as Kubernetes does, and returns its exit code; fails the test if it has not
    /// exited within `grace` (Kubernetes would SIGKILL it then).
    pub async fn terminate(&mut self, grace: Duration) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + grace;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the operator did not exit within {grace:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its log so far, for failure messages.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How one operator process is started, beyond what it watches and the Lease it competes for.
struct Launch<'a> {
    /// Reach the API server through this address (e.g. a proxy) instead of directly.
    via: Option<std::net::SocketAddr>,
    /// The observers' (active, idle) poll intervals, seconds.
    poll: (u64, u64),
    /// Extra command-line arguments.
    extra: &'a [String],
    /// A crash point to arm ([`ControlPlane::start_operator_crashing`]).
    crash_point: Option<&'a str>,
    /// Another binary than [`operator_binary`].
    binary: Option<&'a std::ffi::OsStr>,
}

impl Default for Launch<'_> {
    /// Tests follow OceanBase closely: a busy cluster read every second, an idle one every 3 s.
    fn default() -> Self {
        Self {
            via: None,
            poll: (1, 3),
            extra: &[],
            crash_point: None,
            binary: None,
        }
    }
}

/// The operator binary the harness runs: the one cargo built beside the tests, or the one
/// `OBBACKUP_OPERATOR_BINARY` names (the benchmark runs the image's build, as deployed).
fn operator_binary() -> std::ffi::OsString {
    std::env::var_os("OBBACKUP_OPERATOR_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ob-backup-operator").into())
}
