//! The image users deploy (issue 34): built by `scripts/image.sh` with buildah, started with podman as the
//! chart's Deployment runs it, against the real control plane and obsim. It must become ready, lead, take a
//! BackupTask to Completed and schedule a strategy in `Asia/Shanghai` correctly — with nothing running as
//! root and nothing written to its filesystem. And the Dockerfile, built from the same layer, must give the
//! same image.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use jiff::{Timestamp, ToSpan, civil::Time};
use serde_json::{Value, json};

use crate::support::{
    cluster::{ControlPlane, delete_namespace, eventually, free_port, leader_of},
    image::{Container, chart_deployment, podman, podman_ok},
    simulator::{self, connection_secret},
    tools,
    world::{GIB, Objects, WAIT, strategy, strategy_backup_task},
};

/// The image `scripts/test.sh` built (`scripts/image.sh`), or `None` (with the reason printed) outside it.
fn image() -> Option<String> {
    tools::built("OBBACKUP_IMAGE", "the operator's image (scripts/image.sh)")
        .map(|name| name.display().to_string())
}

#[tokio::test]
async fn the_image_runs_as_the_chart_runs_it_and_backs_up() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let (Some(helm), Some(image)) = (tools::built("OBBACKUP_HELM", "helm"), image()) else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("image").await;
    let clock = obsim::clock::Clock::new(Timestamp::now(), 30.0);
    let node =
        simulator::start_with("obcluster", &["tenant1"], GIB, clock, simulator::profile()).await;
    connection_secret(&admin, &namespace, "ob", &node).await;

    let port = free_port();
    let deployment = chart_deployment(
        &helm,
        plane.operator_namespace(),
        &[
            format!("watchNamespaces={{{namespace}}}"),
            format!("leaderElection.leaseName={namespace}"),
            format!("metrics.port={port}"),
        ],
    );
    let pod_name = format!("{namespace}-pod");
    let container = Container::start(
        &plane,
        &image,
        &deployment,
        plane.operator_namespace(),
        &pod_name,
    );
    eventually("the container to be ready", WAIT, || async {
        (container.get("/readyz") == Some(200)).then_some(())
    })
    .await;
    eventually("the container to take the lease", WAIT, || async {
        (leader_of(&admin, plane.operator_namespace(), &namespace)
            .await
            .as_deref()
            == Some(container.pod_name.as_str()))
        .then_some(())
    })
    .await;
    nothing_runs_as_root(&container);

    let world = Objects {
        admin: admin.clone(),
        namespace: namespace.clone(),
    };
    scheduled_in_shanghai(&world).await;
    // Back up Now through the strategy, whose log archiving is running by then.
    world
        .apply(strategy_backup_task("now", "shanghai", "tenant1"))
        .await;
    world.phase("BackupTask", "now", "Completed").await;

    assert_eq!(
        container.changes(),
        container.prepared,
        "the operator wrote to its filesystem (beyond the mount points podman made)"
    );
    // Nor did it try and fail: the root filesystem is read-only, so a write would have been refused.
    let log = container.log();
    assert!(
        !log.contains("Read-only file system") && !log.contains("os error 30"),
        "the operator tried to write to its filesystem:\n{log}"
    );
    // SIGTERM to the container's first process (the operator itself): a clean exit that hands back the lease.
    podman_ok(&["stop", "--time", "30", &container.name]);
    assert_eq!(container.exit_code(), Some(0), "{}", container.log());
    eventually("the lease to be released", WAIT, || async {
        leader_of(&admin, plane.operator_namespace(), &namespace)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    delete_namespace(&admin, &namespace).await;
}

/// A strategy's full backups at 03:00 in Asia/Shanghai (UTC+8 all year) are next due at 19:00 UTC: the
/// operator found the zone (the image's time-zone database) and did the arithmetic in it.
async fn scheduled_in_shanghai(world: &Objects) {
    world
        .apply(strategy(
            "shanghai",
            json!({"schedule": {"timeZone": "Asia/Shanghai", "full": "0 3 * * *"}}),
        ))
        .await;
    let now = Timestamp::now();
    let next: Timestamp = eventually("the strategy's next full backup", WAIT, || async {
        world.status("BackupStrategy", "shanghai").await["nextFullBackupTime"]
            .as_str()
            .and_then(|t| t.parse().ok())
    })
    .await;
    let utc = next.to_zoned(jiff::tz::TimeZone::UTC);
    assert_eq!(
        utc.time(),
        Time::constant(19, 0, 0, 0),
        "next full backup at {next}"
    );
    assert!(
        next > now && next <= now + 24.hours(),
        "next full backup at {next}, now {now}"
    );
}

/// Every process in the container runs as 65532 with no capabilities.
fn nothing_runs_as_root(container: &Container) {
    let pids = container.host_pids();
    assert!(!pids.is_empty(), "no process in the container");
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(field("Uid:"), ["65532"; 4], "process {pid}'s user ids");
        assert_eq!(field("Gid:"), ["65532"; 4], "process {pid}'s group ids");
        assert_eq!(
            field("CapEff:"),
            ["0000000000000000"],
            "process {pid}'s capabilities"
        );
        assert_eq!(field("NoNewPrivs:"), ["1"], "process {pid}'s no_new_privs");
    }
}

/// The Dockerfile's last stage, built from the layer `scripts/image.sh` packed (`target/image-build/context`, in
/// place of the build stage), gives the same files — paths, types, modes, owners, contents, link targets —
/// and the same configuration as the image the script built.
#[test]
fn the_dockerfile_and_the_script_build_the_same_image() {
    let Some(image) = image() else {
        return;
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let context = std::env::var_os("OBBACKUP_IMAGE_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/image-build"))
        .join("context");
    let labels = config(&image)["Labels"].clone();
    let label = |key: &str| {
        labels[format!("org.opencontainers.image.{key}")]
            .as_str()
            .expect("label")
            .to_string()
    };
    let from_dockerfile = "localhost/obbackup-dockerfile-check:latest";
    let output = Command::new("buildah")
        .current_dir(&repo)
        .args(["bud", "--quiet", "--layers=false", "--tag", from_dockerfile])
        .arg(format!("--build-context=build={}", context.display()))
        .arg(format!("--build-arg=VERSION={}", label("version")))
        .arg(format!("--build-arg=REVISION={}", label("revision")))
        .arg(".")
        .output()
        .expect("run buildah (tools/image/install.sh installs it)");
    assert!(
        output.status.success(),
        "buildah bud failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        config(from_dockerfile),
        config(&image),
        "image configuration"
    );
    let (ours, theirs) = (files(&image), files(from_dockerfile));
    assert!(ours.contains_key("ob-backup-operator"), "{:?}", ours.keys());
    assert_eq!(theirs, ours, "the images' files");
    for (path, entry) in &ours {
        assert!(
            !entry.mode.contains(['s', 'S', 't', 'T']) || path == "tmp",
            "{path}: {entry:?}"
        );
        assert_eq!(entry.owner, "0/0", "{path} belongs to root");
    }
    let _ = podman(&["rmi", "--force", from_dockerfile]);
}

/// The image's size, as podman counts it uncompressed, stays under the goal `scripts/image.sh` prints (40 MB):
/// a dependency that grows it past the goal fails here, not in a user's pull. The figure itself is on the
/// benchmarks page.
#[test]
fn the_image_stays_under_its_size_goal() {
    const GOAL_BYTES: u64 = 40_000_000;
    let Some(image) = image() else {
        return;
    };
    let size: u64 = podman_ok(&["image", "inspect", "--format", "{{.Size}}", &image])
        .trim()
        .parse()
        .expect("podman prints the size in bytes");
    assert!(
        size < GOAL_BYTES,
        "the image is {size} bytes, over the {GOAL_BYTES}-byte goal (docs/operations/image.md)"
    );
}

/// The bill of materials `scripts/image.sh` wrote beside the image lists the crates compiled into it, at
/// Cargo.lock's versions, and the Debian packages whose files it carries — and none of the crates only the
/// tests use.
#[test]
fn the_bill_of_materials_lists_what_the_image_holds_and_nothing_else() {
    let Some(image) = image() else {
        return;
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = std::env::var_os("OBBACKUP_IMAGE_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/image-build"));
    let text = std::fs::read_to_string(work.join("sbom.cdx.json")).expect("the bill of materials");
    let bom: Value = serde_json::from_str(&text).expect("CycloneDX JSON");
    let version = config(&image)["Labels"]["org.opencontainers.image.version"].clone();
    assert_eq!(bom["metadata"]["component"]["name"], "ob-backup-operator");
    assert_eq!(bom["metadata"]["component"]["version"], version);
    let components: BTreeMap<String, Vec<String>> = bom["components"]
        .as_array()
        .expect("components")
        .iter()
        .fold(BTreeMap::new(), |mut by_name, c| {
            by_name
                .entry(c["name"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push(c["purl"].as_str().unwrap_or_default().to_string());
            by_name
        });
    let lock = std::fs::read_to_string(repo.join("Cargo.lock")).expect("Cargo.lock");
    for name in ["kube", "tokio", "rustls", "mysql_async", "opendal", "jiff"] {
        let locked = locked_version(&lock, name);
        let purls = components.get(name).cloned().unwrap_or_default();
        assert!(
            purls
                .iter()
                .any(|p| p == &format!("pkg:cargo/{name}@{locked}")),
            "{name} {locked} in the bill of materials: {purls:?}"
        );
    }
    for package in ["musl", "ca-certificates", "tzdata"] {
        let purls = components.get(package).cloned().unwrap_or_default();
        assert!(
            purls
                .iter()
                .any(|p| p.starts_with(&format!("pkg:deb/debian/{package}@"))),
            "{package}: {purls:?}"
        );
    }
    for test_only in ["obsim", "tower-test", "mlua", "jsonschema", "rcgen"] {
        assert!(
            !components.contains_key(test_only),
            "{test_only} is only the tests'"
        );
    }
}

/// The version Cargo.lock pins `name` at (the first, when several are locked).
fn locked_version(lock: &str, name: &str) -> String {
    let entry = format!("name = \"{name}\"\n");
    let at = lock
        .find(&entry)
        .unwrap_or_else(|| panic!("{name} in Cargo.lock"));
    lock[at + entry.len()..]
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("a version line")
        .to_string()
}

/// What the OCI configuration says about running the image.
fn config(image: &str) -> Value {
    let text = podman_ok(&["image", "inspect", image]);
    let inspected: Value = serde_json::from_str(&text).expect("podman image inspect");
    let config = &inspected[0]["Config"];
    json!({
        "User": config["User"], "Entrypoint": config["Entrypoint"], "Cmd": config["Cmd"],
        "Env": config["Env"], "ExposedPorts": config["ExposedPorts"], "WorkingDir": config["WorkingDir"],
        "Labels": config["Labels"], "StopSignal": config["StopSignal"],
    })
}

#[derive(Debug, PartialEq)]
struct Entry {
    mode: String,
    owner: String,
    size: String,
    link: String,
    digest: Option<String>,
}

/// Every path of the image's filesystem (`podman export` of a container made from it, never started).
fn files(image: &str) -> BTreeMap<String, Entry> {
    let dir = tempdir(image);
    let tar = dir.join("fs.tar");
    let container = podman_ok(&["create", image]).trim().to_string();
    podman_ok(&["export", "--output", path_str(&tar), &container]);
    podman_ok(&["rm", &container]);
    let listing = run("tar", &["--numeric-owner", "-tvf", path_str(&tar)]);
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree).expect("dir");
    run("tar", &["-xf", path_str(&tar), "-C", path_str(&tree)]);
    let entries = listing
        .lines()
        .map(|line| entry(line, &tree))
        .collect::<BTreeMap<_, _>>();
    let _ = std::fs::remove_dir_all(&dir);
    entries
}

/// One line of `tar -tvf`: mode, owner, size, date, time, path[ -> target].
fn entry(line: &str, tree: &Path) -> (String, Entry) {
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest.find(' ').expect("a field of tar's listing");
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    let (mode, owner, size) = (fields[0], fields[1], fields[2]);
    let rest = rest.trim_start();
    let (path, link) = rest
        .split_once(" -> ")
        .or(rest.split_once(" link to "))
        .unwrap_or((rest, ""));
    let path = path
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    let digest = mode
        .starts_with('-')
        .then(|| run("sha256sum", &[path_str(&tree.join(&path))]))
        .map(|s| s.split_whitespace().next().unwrap_or_default().to_string());
    let entry = Entry {
        mode: mode.to_string(),
        owner: owner.to_string(),
        size: size.to_string(),
        link: link.to_string(),
        digest,
    };
    (path, entry)
}

fn tempdir(image: &str) -> PathBuf {
    let slug: String = image
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = std::env::temp_dir().join(format!("obbackup-image-{slug}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().expect(program);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
