//! The operator's image (`scripts/image.sh`, named in `OBBACKUP_IMAGE`) started with podman the way the
//! chart's Deployment runs it: the Deployment is rendered with helm and its container turned into podman's
//! flags — user, read-only root filesystem, no capabilities, no privilege escalation, arguments and
//! environment — with the ServiceAccount's token and CA mounted where Kubernetes mounts them. The container
//! shares the host's network, which is how it reaches the test control plane and obsim.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use super::cluster::ControlPlane;

/// Where Kubernetes mounts a Pod's ServiceAccount token, CA and namespace.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Runs podman; returns (success, stdout, stderr).
pub fn podman(args: &[&str]) -> (bool, String, String) {
    let output = Command::new("podman")
        .args(args)
        .output()
        .expect("run podman (tools/image/install.sh installs it)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs podman and returns its standard output, failing the test when it fails.
pub fn podman_ok(args: &[&str]) -> String {
    let (ok, out, err) = podman(args);
    assert!(ok, "podman {args:?} failed: {err}");
    out
}

/// The chart's Deployment rendered with `values` (`key=value` for `--set`).
pub fn chart_deployment(helm: &Path, namespace: &str, values: &[String]) -> Value {
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    super::chart::find(
        &super::chart::render(helm, namespace, &values),
        "Deployment",
    )
}

/// The operator's container started from the image, removed when dropped.
pub struct Container {
    /// podman's name for it.
    pub name: String,
    /// The Pod name it was given (`POD_NAME`, its identity in the Lease).
    pub pod_name: String,
    /// Its HTTP port on the host's network (`/metrics`, `/healthz`, `/readyz`).
    pub port: u16,
    /// The filesystem's changes before the operator started ([`Self::changes`]): podman's mount points.
    pub prepared: Vec<String>,
}

impl Container {
    /// Starts `image` as the chart's `deployment` describes its one container, in the namespace
    /// `pod_namespace` under the Pod name `pod_name`, as the operator's ServiceAccount of `plane`.
    pub fn start(
        plane: &ControlPlane,
        image: &str,
        deployment: &Value,
        pod_namespace: &str,
        pod_name: &str,
    ) -> Self {
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let name = format!("obbackup-{pod_name}");
        let account = service_account_dir(plane, pod_namespace, pod_name);
        let (host, port) = {
            let addr = plane.apiserver_addr();
            (addr.ip().to_string(), addr.port().to_string())
        };
        let mut args: Vec<String> = ["create", "--name", &name, "--network", "host"]
            .map(String::from)
            .to_vec();
        args.extend(security_flags(pod, container));
        args.extend(ulimit_flags());
        args.extend(volume_flags(pod, container));
        args.extend([
            "--volume".to_string(),
            format!("{}:{SERVICE_ACCOUNT_DIR}:ro", account.display()),
            "--env".to_string(),
            format!("KUBERNETES_SERVICE_HOST={host}"),
            "--env".to_string(),
            format!("KUBERNETES_SERVICE_PORT={port}"),
        ]);
        for (key, value) in environment(container, pod_namespace, pod_name) {
            args.extend(["--env".to_string(), format!("{key}={value}")]);
        }
        args.push(image.to_string());
        args.extend(strings(&container["args"]));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        podman_ok(&refs);
        // What podman itself changes before the operator starts: the mount points it makes.
        podman_ok(&["init", &name]);
        let prepared = changes(&name);
        podman_ok(&["start", &name]);
        let http = container["ports"][0]["containerPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("the container's port");
        Self {
            name,
            pod_name: pod_name.to_string(),
            port: http,
            prepared,
        }
    }

    /// An HTTP GET of `path` on its port: the status code, or `None` while nothing answers.
    pub fn get(&self, path: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response.split_whitespace().nth(1)?.parse().ok()
    }

    /// The host's process ids of every process in the container.
    pub fn host_pids(&self) -> Vec<u32> {
        podman_ok(&["top", &self.name, "hpid"])
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// What the container changed in its filesystem (`podman diff`), one path per line.
    pub fn changes(&self) -> Vec<String> {
        changes(&self.name)
    }

    /// Whether it still runs.
    pub fn is_running(&self) -> bool {
        podman(&["inspect", "--format", "{{.State.Running}}", &self.name])
            .1
            .trim()
            == "true"
    }

    /// Its exit code once it has stopped.
    pub fn exit_code(&self) -> Option<i64> {
        let (ok, out, _) = podman(&["inspect", "--format", "{{.State.ExitCode}}", &self.name]);
        (ok && !self.is_running())
            .then(|| out.trim().parse().ok())
            .flatten()
    }

    /// Its log (the operator writes to standard error).
    pub fn log(&self) -> String {
        let (_, out, err) = podman(&["logs", &self.name]);
        format!("{out}{err}")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the operator's container log:\n{}", self.log());
        }
        let _ = podman(&["rm", "--force", "--time", "0", &self.name]);
    }
}

fn changes(container: &str) -> Vec<String> {
    podman_ok(&["diff", container])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A directory holding what Kubernetes mounts at [`SERVICE_ACCOUNT_DIR`]: the operator's token, the
/// apiserver's CA, the Pod's namespace (taken from the operator's kubeconfig of the control plane).
fn service_account_dir(plane: &ControlPlane, namespace: &str, pod_name: &str) -> PathBuf {
    let kubeconfig = fs::read_to_string(plane.operator_kubeconfig()).expect("kubeconfig");
    let field = |key: &str| {
        kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{key} in the operator's kubeconfig"))
    };
    let dir = plane.dir().join(format!("serviceaccount-{pod_name}"));
    fs::create_dir_all(&dir).expect("the ServiceAccount directory");
    fs::write(dir.join("token"), field("token:")).expect("token");
    fs::copy(field("certificate-authority:"), dir.join("ca.crt")).expect("ca.crt");
    fs::write(dir.join("namespace"), namespace).expect("namespace");
    dir
}

/// podman's flags for the Pod's and the container's `securityContext`.
fn security_flags(pod: &Value, container: &Value) -> Vec<String> {
    let pod_context = &pod["securityContext"];
    let context = &container["securityContext"];
    let user = pod_context["runAsUser"].as_u64().expect("runAsUser");
    let group = pod_context["runAsGroup"].as_u64().expect("runAsGroup");
    assert!(
        pod_context["runAsNonRoot"] == true && user != 0,
        "the chart runs the operator as a non-root user"
    );
    let mut flags = vec!["--user".to_string(), format!("{user}:{group}")];
    if context["readOnlyRootFilesystem"] == true {
        // Kubernetes mounts nothing writable unless the Pod says so: neither does podman, then.
        flags.extend(["--read-only", "--read-only-tmpfs=false"].map(String::from));
    }
    if context["allowPrivilegeEscalation"] == false {
        flags.extend(["--security-opt", "no-new-privileges"].map(String::from));
    }
    for capability in strings(&context["capabilities"]["drop"]) {
        flags.extend(["--cap-drop".to_string(), capability]);
    }
    // `seccompProfile: RuntimeDefault` is podman's default profile.
    flags
}

/// Open files and processes limited below this process's own limits: podman's defaults raise them, which
/// runc may not do on these machines.
fn ulimit_flags() -> Vec<String> {
    let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = |row: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(row))
            .and_then(|l| l[row.len()..].split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1024)
    };
    let files = soft("Max open files").min(65_536);
    let processes = soft("Max processes").min(4_096);
    vec![
        "--ulimit".to_string(),
        format!("nofile={files}:{files}"),
        "--ulimit".to_string(),
        format!("nproc={processes}:{processes}"),
    ]
}

/// The container's volumes: an `emptyDir` becomes a tmpfs; the chart's other volumes are not rendered here.
fn volume_flags(pod: &Value, container: &Value) -> Vec<String> {
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let mut flags = Vec::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mount's volume");
        assert!(
            volume.get("emptyDir").is_some(),
            "only emptyDir volumes are run here: {volume}"
        );
        let path = mount["mountPath"].as_str().expect("mountPath");
        flags.extend(["--tmpfs".to_string(), format!("{path}:rw,nosuid,nodev")]);
    }
    flags
}

/// The container's environment, with the downward API's fields filled in.
fn environment(container: &Value, namespace: &str, pod_name: &str) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|var| {
            let key = var["name"].as_str().expect("env name").to_string();
            let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.namespace") => namespace.to_string(),
                Some("metadata.name") => pod_name.to_string(),
                Some(other) => panic!("the chart reads {other} from the downward API"),
                None => var["value"].as_str().unwrap_or_default().to_string(),
            };
            (key, value)
        })
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
