//! `kubectl obbackup` against the real control plane, on a known history (objects whose statuses the test
//! writes, at times relative to now): the overview and the task tabs as tables, `--since` and `--status`
//! filters at their boundaries, `-o json` parsing back into the API types, kubectl finding the plugin on
//! PATH, and a person's terminal (tmux): the screen shows the aligned, coloured table. The krew manifest
//! installs the plugin with krew (built from the Go module proxy), and kubectl runs what krew installed.

use std::{path::Path, process::Command, time::Duration};

use jiff::{SignedDuration, Timestamp};
use kube::{
    Client,
    api::{Patch, PatchParams},
};
use ob_backup_operator::api::BackupTask;
use serde_json::{Value, json};

use crate::support::cluster::{ControlPlane, api_for, apply, delete_namespace, eventually};

const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-obbackup");

/// Creates `object` and sets its status.
async fn with_status(client: &Client, namespace: &str, object: Value, status: Value) {
    apply(client, namespace, &object).await.expect("apply");
    let (api, _) = api_for(client, namespace, &object);
    let name = object["metadata"]["name"].as_str().expect("name");
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .expect("status");
}

fn task(name: &str, tenant: &str) -> Value {
    json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": name},
        "spec": {"cluster": {"name": "obcluster", "connectionSecret": "ob"}, "tenant": tenant, "mode": "Full",
                 "dataDestination": {"uri": "file:///backup/data"}},
    })
}

fn api_time(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second())
        .expect("time")
        .to_string()
}

/// The plugin's standard output for `args`, which must succeed.
fn plugin(kubeconfig: &str, args: &[&str]) -> String {
    let output = Command::new(PLUGIN)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("run the plugin");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[tokio::test]
async fn status_and_tasks_show_a_known_history_filtered_and_parse_back() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("plugin").await;
    let kubeconfig = plane.admin_kubeconfig();
    let now = Timestamp::now();
    let ago = |hours: i64| now - SignedDuration::from_hours(hours);
    let history = [
        ("recent-full", "tenant1", 1, "Completed"),
        ("nearly-a-day", "tenant1", 23, "Failed"),
        ("over-a-day", "tenant2", 25, "Completed"),
        ("last-week", "tenant2", 24 * 6, "Completed"),
    ];
    for (name, tenant, hours, phase) in history {
        with_status(
            &admin,
            &namespace,
            task(name, tenant),
            json!({"phase": phase, "startedAt": api_time(ago(hours)), "clusterName": "obcluster",
                   "source": "Manual", "backupSetId": hours, "progress": 100}),
        )
        .await;
    }
    with_status(
        &admin,
        &namespace,
        json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo"},
            "spec": {
                "cluster": {"name": "obcluster", "connectionSecret": "ob"}, "tenants": ["tenant1"],
                "dataDestination": {"uri": "file:///backup/data"}, "logDestination": {"uri": "file:///backup/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
        }),
        json!({
            "phase": "InProgress", "backupSize": "2.0 GiB", "logDelaySeconds": 3,
            "lastDataBackupTime": api_time(ago(1)),
            "conditions": [{"type": "Stalled", "status": "True", "reason": "SecretNotFound",
                            "message": "Secret ob not found", "lastTransitionTime": api_time(ago(1))}],
            "tenants": [{"name": "tenant1", "dataBackupBytes": 2147483648_i64,
                         "recoverableWindows": [{"from": api_time(ago(5)), "to": api_time(now)}]}],
        }),
    )
    .await;

    // The last 24 hours, newest first; a failed filter; a week.
    let day = plugin(
        &kubeconfig,
        &["-n", &namespace, "--utc", "tasks", "data", "--since", "24h"],
    );
    let names: Vec<&str> = day
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["recent-full", "nearly-a-day"], "{day}");
    assert!(day.starts_with("NAME "), "{day}");
    let first = day.lines().nth(1).unwrap_or_default();
    for cell in [
        "obcluster",
        "tenant1",
        "Physical",
        "Full",
        "Manual",
        "Completed",
        "100%",
    ] {
        assert!(first.contains(cell), "{cell} in {first}");
    }
    assert!(
        first.contains(
            &Timestamp::from_second(ago(1).as_second())
                .expect("t")
                .strftime("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        ),
        "{first}"
    );
    let failed = plugin(
        &kubeconfig,
        &[
            "-n", &namespace, "--utc", "tasks", "--status", "failed", "--since", "7d",
        ],
    );
    assert_eq!(failed.lines().count(), 2, "{failed}");
    assert!(failed.contains("nearly-a-day"), "{failed}");
    let week = plugin(
        &kubeconfig,
        &[
            "-n", &namespace, "tasks", "--since", "7d", "--tenant", "TENANT2",
        ],
    );
    assert_eq!(week.lines().count(), 3, "{week}");
    let none = plugin(&kubeconfig, &["-n", &namespace, "tasks", "recovery"]);
    assert_eq!(
        none,
        format!("No recoverytasks in namespace {namespace} match.\n")
    );

    // JSON parses back into the API types.
    let json = plugin(
        &kubeconfig,
        &["-n", &namespace, "-o", "json", "tasks", "--since", "24h"],
    );
    let list: Value = serde_json::from_str(&json).expect("JSON");
    let tasks: Vec<BackupTask> =
        serde_json::from_value(list["items"].clone()).expect("BackupTasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].metadata.name.as_deref(), Some("recent-full"));

    // The overview: the strategy, its tenant, and the condition that is not healthy.
    let status = plugin(&kubeconfig, &["-n", &namespace, "--utc", "status"]);
    for expected in [
        "demo",
        "InProgress",
        "2.0 GiB",
        "tenant1",
        "2147483648",
        "Stalled",
        "SecretNotFound",
        "Secret ob not found",
    ] {
        assert!(status.contains(expected), "{expected} in {status}");
    }

    // kubectl finds the plugin on PATH.
    let plugin_dir = Path::new(PLUGIN).parent().expect("the plugin's directory");
    let path = format!(
        "{}:{}",
        plugin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let via_kubectl = Command::new(plane.kubectl())
        .args([
            "obbackup", "-n", &namespace, "--utc", "tasks", "--since", "24h",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("PATH", &path)
        .output()
        .expect("kubectl");
    assert_eq!(String::from_utf8_lossy(&via_kubectl.stdout), day);
    kubectls_flags_pick_the_cluster(&kubeconfig, &namespace, &day);
    // kubectl's own field selectors on status and tenant (the CRDs' selectableFields).
    let selected = Command::new(plane.kubectl())
        .args(["get", "backuptasks", "-n", &namespace, "-o", "name"])
        .args([
            "--field-selector",
            "status.phase=Completed,spec.tenant=tenant2",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("kubectl get");
    assert_eq!(
        String::from_utf8_lossy(&selected.stdout),
        "backuptask.obbackup.dev/last-week\nbackuptask.obbackup.dev/over-a-day\n",
        "{}",
        String::from_utf8_lossy(&selected.stderr)
    );

    // A person's terminal: tmux runs it, the screen shows the table aligned and the statuses coloured.
    {
        let tmux = which("tmux").expect("tmux on PATH (Debian package tmux)");
        let session = format!("obbackup-{}", std::process::id());
        let command = format!(
            "KUBECONFIG={kubeconfig} {PLUGIN} -n {namespace} --utc tasks --since 24h; sleep 60"
        );
        let started = Command::new(&tmux)
            .args([
                "new-session",
                "-d",
                "-x",
                "220",
                "-y",
                "20",
                "-s",
                &session,
                &command,
            ])
            .status()
            .expect("tmux");
        assert!(started.success());
        let screen = eventually(
            "the table on the screen",
            Duration::from_secs(30),
            || async {
                let out = Command::new(&tmux)
                    .args(["capture-pane", "-p", "-e", "-t", &session])
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                text.contains("nearly-a-day").then_some(text)
            },
        )
        .await;
        let _ = Command::new(&tmux)
            .args(["kill-session", "-t", &session])
            .status();
        assert!(
            screen.contains("\x1b[32mCompleted"),
            "green on a terminal: {screen:?}"
        );
        assert!(
            screen.contains("\x1b[31mFailed"),
            "red on a terminal: {screen:?}"
        );
        assert!(!day.contains('\x1b'), "no colour into a pipe");
    }
    // The week's timeline: the window up to now, the data backup that opened it, nothing a week before.
    with_status(
        &admin,
        &namespace,
        json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": "through-demo"},
            "spec": {"strategyRef": {"name": "demo"}, "tenant": "tenant1", "mode": "Full"},
        }),
        json!({"phase": "Completed", "endedAt": api_time(ago(5))}),
    )
    .await;
    let week = plugin(&kubeconfig, &["-n", &namespace, "--utc", "windows", "demo"]);
    let days: Vec<&str> = week.lines().skip(2).take(7).collect();
    assert_eq!(days.len(), 7, "{week}");
    let today = now
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a %m-%d")
        .to_string();
    assert!(days[6].starts_with(&today), "the week ends today: {week}");
    // The lines of days (not the legend) hold the window and the backup.
    let cells = days.join("");
    assert!(cells.contains('◆') && cells.contains('█'), "{week}");
    assert!(days[..5].iter().all(|d| !d.contains('█')), "{week}");
    let before = plugin(
        &kubeconfig,
        &["-n", &namespace, "--utc", "windows", "demo", "--week", "-1"],
    );
    let before_days = before.lines().skip(2).take(7).collect::<String>();
    assert!(
        !before_days.contains('█') && !before_days.contains('◆'),
        "{before}"
    );

    delete_namespace(&admin, &namespace).await;
}

/// The plugin run with `args` and `env` only: no KUBECONFIG, and a home without ~/.kube/config.
fn bare(home: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(PLUGIN)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", home)
        .envs(env.iter().copied())
        .output()
        .expect("run the plugin")
}

/// kubectl's global flags reach the control plane the way kubectl's would: `--kubeconfig` and `--context`
/// before or after the command (a kubeconfig whose current context points nowhere), `KUBECONFIG`'s list, an
/// unknown context refused, `--as` impersonated (a service account without rights is forbidden), and
/// `--server`, `--token` and `--certificate-authority` with no kubeconfig at all. `day` is what `tasks
/// --since 24h` shows in `namespace`.
fn kubectls_flags_pick_the_cluster(admin: &str, namespace: &str, day: &str) {
    let home = std::env::temp_dir().join(format!("obbackup-plugin-flags-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("a home");
    let mut config = kube::config::Kubeconfig::read_from(admin).expect("the admin kubeconfig");
    let context = config.current_context.clone().expect("a current context");
    let mut nowhere = config.contexts[0].clone();
    nowhere.name = "nowhere".into();
    if let Some(c) = nowhere.context.as_mut() {
        c.cluster = "nowhere".into();
    }
    let mut cluster = config.clusters[0].clone();
    cluster.name = "nowhere".into();
    if let Some(c) = cluster.cluster.as_mut() {
        c.server = Some("https://127.0.0.1:1".into());
    }
    config.contexts.push(nowhere);
    config.clusters.push(cluster);
    config.current_context = Some("nowhere".into());
    let two = home.join("two-contexts");
    std::fs::write(&two, serde_norway::to_string(&config).expect("YAML")).expect("write");
    let two = two.display().to_string();
    let tasks = ["-n", namespace, "--utc", "tasks", "--since", "24h"];
    let picked = [&["--kubeconfig", &two, "--context", &context][..], &tasks].concat();
    let after = [&tasks[..], &["--context", &context, "--kubeconfig", &two]].concat();
    for args in [&picked, &after] {
        let out = bare(&home, args, &[]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            day,
            "{args:?}: {out:?}"
        );
    }
    // Its current context: nothing answers there.
    let current = bare(&home, &[&["--kubeconfig", &two][..], &tasks].concat(), &[]);
    assert!(!current.status.success(), "{current:?}");
    let unknown = bare(
        &home,
        &["--kubeconfig", &two, "--context", "prod", "status"],
        &[],
    );
    assert!(!unknown.status.success(), "{unknown:?}");
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("context \"prod\" does not exist"),
        "{unknown:?}"
    );
    // KUBECONFIG's list (a file that does not exist left out, as kubectl does).
    let list = format!("{}:{two}", home.join("absent").display());
    let listed = bare(
        &home,
        &[&["--context", &context][..], &tasks].concat(),
        &[("KUBECONFIG", &list)],
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout), day, "{listed:?}");
    // Impersonation: a service account without rights is forbidden.
    let nobody = "system:serviceaccount:x:nobody";
    let forbidden = bare(
        &home,
        &[&["--kubeconfig", admin, "--as", nobody][..], &tasks].concat(),
        &[],
    );
    assert!(!forbidden.status.success(), "{forbidden:?}");
    let said = String::from_utf8_lossy(&forbidden.stderr);
    assert!(
        said.contains("forbidden") && said.contains(nobody),
        "{said}"
    );
    // No kubeconfig at all: the server, its CA and a token from flags (the token never printed).
    let server = config.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.server.clone())
        .expect("server");
    let ca = config.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.certificate_authority.clone())
        .expect("a CA file");
    let token = config.auth_infos[0]
        .auth_info
        .as_ref()
        .and_then(|a| a.token.as_ref())
        .map(|t| secrecy::ExposeSecret::expose_secret(t).to_string())
        .expect("a token");
    let flags = [
        "-s",
        &server,
        "--certificate-authority",
        &ca,
        "--token",
        &token,
    ];
    let direct = bare(&home, &[&tasks[..], &flags].concat(), &[]);
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        day,
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let wrong = bare(
        &home,
        &[
            &tasks[..],
            &[
                "-s",
                &server,
                "--insecure-skip-tls-verify",
                "--token",
                "not-the-token",
            ],
        ]
        .concat(),
        &[],
    );
    assert!(!wrong.status.success());
    assert!(
        !String::from_utf8_lossy(&wrong.stderr).contains("not-the-token"),
        "{wrong:?}"
    );
    std::fs::remove_dir_all(&home).expect("clean up");
}

#[tokio::test]
async fn the_krew_manifest_installs_the_plugin_and_kubectl_runs_it() {
    let (Some(plane), Some(krew)) = (
        ControlPlane::get(),
        crate::support::tools::built("OBBACKUP_KREW", "krew"),
    ) else {
        return;
    };
    let admin = plane.admin().await;
    let namespace = plane.namespace("plugin-krew").await;
    let dir = std::env::temp_dir().join(format!("obbackup-krew-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = crate::support::catalog::repo_root();
    // The archive of the plugin this test run built, and its manifest, as a release would make them.
    let packaged = Command::new(root.join("scripts/krew-package.sh"))
        .arg(dir.join("release"))
        .env("KREW_BINARY", PLUGIN)
        .output()
        .expect("krew-package.sh");
    assert!(packaged.status.success(), "{packaged:?}");
    let printed = String::from_utf8(packaged.stdout).expect("UTF-8");
    let [manifest, archive] = printed.lines().collect::<Vec<_>>()[..] else {
        panic!("the manifest's and the archive's paths: {printed}");
    };
    let text = std::fs::read_to_string(manifest).expect("the manifest");
    assert!(
        text.contains("name: obbackup") && text.contains("bin: kubectl-obbackup"),
        "{text}"
    );
    // kubectl runs krew and then the plugin krew installed, from krew's own bin directory only.
    let kubectl_dir = Path::new(&plane.kubectl())
        .parent()
        .expect("kubectl's directory")
        .to_path_buf();
    let krew_dir = krew.parent().expect("krew's directory").to_path_buf();
    let krew_root = dir.join("krew-root");
    let path = |dirs: &[&Path]| {
        let mut all: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        all.push("/usr/bin:/bin".into());
        all.join(":")
    };
    let installed = Command::new(plane.kubectl())
        .args(["krew", "install", &format!("--manifest={manifest}")])
        .arg(format!("--archive={archive}"))
        .env("KREW_ROOT", &krew_root)
        .env("PATH", path(&[&krew_dir, &kubectl_dir]))
        .output()
        .expect("kubectl krew install");
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    assert!(String::from_utf8_lossy(&installed.stderr).contains("Installed plugin: obbackup"));
    let ran = Command::new(plane.kubectl())
        .args(["obbackup", "-n", &namespace, "tasks", "recovery"])
        .env("KUBECONFIG", plane.admin_kubeconfig())
        .env("PATH", path(&[&krew_root.join("bin"), &kubectl_dir]))
        .output()
        .expect("kubectl obbackup");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        format!("No recoverytasks in namespace {namespace} match.\n"),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
    delete_namespace(&admin, &namespace).await;
}

fn which(tool: &str) -> Option<String> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}
