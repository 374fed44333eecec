//! kubectl's global flags. kubectl hands a plugin its whole command line, so `kubectl obbackup --context prod
//! status` reaches the plugin with `--context prod` in it: the plugin takes the flags kubectl takes, before or
//! after the command, and builds its client the way kubectl would — the kubeconfig files kubectl reads
//! (`--kubeconfig`, else `$KUBECONFIG`'s list, else `~/.kube/config`), merged by kube-rs, the context, cluster
//! and user picked, then the flags' overrides. A name the kubeconfig does not hold is an error, never a
//! silent fallback.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    time::Duration,
};

use kube::{
    Client, Config,
    config::{Cluster, Context, KubeConfigOptions, Kubeconfig, NamedCluster, NamedContext},
};
use secrecy::SecretString;

/// The name given to the cluster and context made from `--server` when no kubeconfig names one.
const FROM_FLAGS: &str = "obbackup-flags";

/// kubectl's global flags (`kubectl options`).
#[derive(clap::Args, Clone, Default)]
#[command(next_help_heading = "Cluster access (kubectl's global flags)")]
pub struct KubeFlags {
    /// The kubeconfig file (default: the files $KUBECONFIG lists, else ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig cluster (default: the context's).
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The kubeconfig user (default: the context's).
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// A user to impersonate (a name or a service account, e.g. system:serviceaccount:ns:sa).
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// A group to impersonate (repeat for more).
    #[arg(long, global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// A UID to impersonate.
    #[arg(long, global = true, value_name = "UID")]
    pub as_uid: Option<String>,
    /// How long one request to the API server may take: 0 (no limit), seconds (30), or with a unit (30s, 1m,
    /// 1h30m).
    #[arg(long, global = true, value_name = "DURATION", default_value = "0")]
    pub request_timeout: String,
    /// The API server's address (instead of the kubeconfig cluster's).
    #[arg(short = 's', long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// A bearer token for the API server (instead of the kubeconfig user's credentials).
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Do not check the API server's certificate (insecure).
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          action = clap::ArgAction::Set, default_value_t = false, conflicts_with = "certificate_authority")]
    pub insecure_skip_tls_verify: bool,
    /// A file of the certificate authorities that sign the API server's certificate.
    #[arg(long, global = true, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,
    /// A client certificate file for TLS.
    #[arg(long, global = true, value_name = "PATH")]
    pub client_certificate: Option<PathBuf>,
    /// The client certificate's key file.
    #[arg(long, global = true, value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// The name the API server's certificate is checked against (default: the server's host).
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Accepted for kubectl's sake and ignored: the plugin keeps no discovery cache.
    #[arg(long, global = true, value_name = "PATH")]
    pub cache_dir: Option<PathBuf>,
}

/// Never prints the token.
impl std::fmt::Debug for KubeFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeFlags")
            .field("kubeconfig", &self.kubeconfig)
            .field("context", &self.context)
            .field("cluster", &self.cluster)
            .field("user", &self.user)
            .field("as_user", &self.as_user)
            .field("as_group", &self.as_group)
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The kubeconfig files kubectl reads: `--kubeconfig` alone; else the files `$KUBECONFIG` lists, those that
/// do not exist left out (as kubectl does); else `~/.kube/config` when it exists.
pub fn files(flag: Option<&Path>, env: Option<&OsStr>, home: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = flag {
        return vec![path.to_path_buf()];
    }
    if let Some(list) = env.filter(|l| !l.is_empty()) {
        return std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty() && p.exists())
            .collect();
    }
    home.map(|h| h.join(".kube").join("config"))
        .filter(|p| p.exists())
        .into_iter()
        .collect()
}

/// `files` merged by kube-rs (the first to name a context, cluster or user wins); `None` when there are none.
pub fn read(files: &[PathBuf]) -> Result<Option<Kubeconfig>, String> {
    if files.is_empty() {
        return Ok(None);
    }
    files
        .iter()
        .try_fold(Kubeconfig::default(), |merged, path| {
            Kubeconfig::read_from(path)
                .and_then(|one| merged.merge(one))
                .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))
        })
        .map(Some)
}

/// `--request-timeout` as kubectl reads it: `0` is no limit, a whole number is seconds, else a duration
/// with units (`30s`, `1m`, `1h30m`, `500ms`).
pub fn request_timeout(given: &str) -> Result<Option<Duration>, String> {
    let wrong = || {
        format!(
            "--request-timeout {given:?} is not a timeout: a whole number of seconds, or a number with a unit \
             (e.g. 1s, 2m, 3h)"
        )
    };
    let duration = match given.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => given
            .parse::<jiff::SignedDuration>()
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .ok_or_else(wrong)?,
    };
    Ok((!duration.is_zero()).then_some(duration))
}

/// The names in a kubeconfig's list, for an error.
fn names<'a>(all: impl Iterator<Item = &'a String>) -> String {
    let listed: Vec<&str> = all.map(String::as_str).collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join(", ")
    }
}

/// `kubeconfig` with the flags' cluster settings applied, and the context, cluster and user they pick; an
/// error naming what the kubeconfig does not hold.
pub fn select(
    flags: &KubeFlags,
    mut kubeconfig: Kubeconfig,
) -> Result<(Kubeconfig, KubeConfigOptions), String> {
    let (context_name, context) = context_of(flags, &mut kubeconfig)?;
    if let Some(user) = &flags.user
        && !kubeconfig.auth_infos.iter().any(|u| &u.name == user)
    {
        return Err(format!(
            "user {user:?} does not exist in the kubeconfig (it has: {})",
            names(kubeconfig.auth_infos.iter().map(|u| &u.name))
        ));
    }
    let cluster_name = flags.cluster.clone().unwrap_or(context.cluster);
    override_named_cluster(&mut kubeconfig, &cluster_name, flags)?;
    let options = KubeConfigOptions {
        context: Some(context_name),
        cluster: Some(cluster_name),
        user: flags.user.clone(),
    };
    Ok((kubeconfig, options))
}

/// The context `--context` names, else the current one (else, with `--server`, one made for it).
fn context_of(flags: &KubeFlags, kubeconfig: &mut Kubeconfig) -> Result<(String, Context), String> {
    let name = match (&flags.context, &kubeconfig.current_context) {
        (Some(name), _) | (None, Some(name)) => name.clone(),
        (None, None) if flags.server.is_some() => {
            add_flags_context(kubeconfig);
            FROM_FLAGS.to_string()
        }
        (None, None) => {
            return Err(format!(
                "the kubeconfig sets no current-context: name one with --context (it has: {})",
                names(kubeconfig.contexts.iter().map(|c| &c.name))
            ));
        }
    };
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.clone())
        .map(|context| (name.clone(), context))
        .ok_or_else(|| {
            format!(
                "context {name:?} does not exist in the kubeconfig (it has: {})",
                names(kubeconfig.contexts.iter().map(|c| &c.name))
            )
        })
}

/// The flags' cluster settings on the cluster `name` (added for `--server` when the kubeconfig lacks it).
fn override_named_cluster(
    kubeconfig: &mut Kubeconfig,
    name: &str,
    flags: &KubeFlags,
) -> Result<(), String> {
    if !kubeconfig.clusters.iter().any(|c| c.name == name) {
        if flags.server.is_none() {
            return Err(format!(
                "cluster {name:?} does not exist in the kubeconfig (it has: {})",
                names(kubeconfig.clusters.iter().map(|c| &c.name))
            ));
        }
        kubeconfig.clusters.push(NamedCluster {
            name: name.to_string(),
            cluster: Some(Cluster::default()),
            ..NamedCluster::default()
        });
    }
    for named in kubeconfig.clusters.iter_mut().filter(|c| c.name == name) {
        override_cluster(named.cluster.get_or_insert_with(Cluster::default), flags);
    }
    Ok(())
}

/// A context (and its cluster) for `--server` when the kubeconfig has no current context.
fn add_flags_context(kubeconfig: &mut Kubeconfig) {
    kubeconfig.contexts.push(NamedContext {
        name: FROM_FLAGS.into(),
        context: Some(Context {
            cluster: FROM_FLAGS.into(),
            ..Context::default()
        }),
        ..NamedContext::default()
    });
}

/// The flags' server, certificate authority and TLS settings on the picked cluster.
fn override_cluster(cluster: &mut Cluster, flags: &KubeFlags) {
    if let Some(server) = &flags.server {
        cluster.server = Some(server.clone());
    }
    if let Some(path) = &flags.certificate_authority {
        cluster.certificate_authority = Some(path.display().to_string());
        cluster.certificate_authority_data = None;
    }
    if flags.insecure_skip_tls_verify {
        // As kubectl: no certificate check means no certificate authority either.
        cluster.insecure_skip_tls_verify = Some(true);
        cluster.certificate_authority = None;
        cluster.certificate_authority_data = None;
    }
    if let Some(name) = &flags.tls_server_name {
        cluster.tls_server_name = Some(name.clone());
    }
}

/// The flags' credentials, impersonation and timeouts on `config`.
pub fn override_config(config: &mut Config, flags: &KubeFlags) -> Result<(), String> {
    let auth = &mut config.auth_info;
    if let Some(token) = &flags.token {
        // A token given on the command line is the credential, as kubectl makes it.
        auth.token = Some(SecretString::from(token.clone()));
        auth.token_file = None;
        auth.exec = None;
        auth.auth_provider = None;
        auth.username = None;
        auth.password = None;
    }
    if let Some(path) = &flags.client_certificate {
        auth.client_certificate = Some(path.display().to_string());
        auth.client_certificate_data = None;
    }
    if let Some(path) = &flags.client_key {
        auth.client_key = Some(path.display().to_string());
        auth.client_key_data = None;
    }
    if let Some(user) = &flags.as_user {
        auth.impersonate = Some(user.clone());
    }
    if !flags.as_group.is_empty() {
        auth.impersonate_groups = Some(flags.as_group.clone());
    }
    if let Some(uid) = &flags.as_uid {
        auth.impersonate_uid = Some(uid.clone());
    }
    if let Some(limit) = request_timeout(&flags.request_timeout)? {
        config.connect_timeout = Some(limit);
        config.read_timeout = Some(limit);
        config.write_timeout = Some(limit);
        // The limit counts from each request, not from when its pooled connection went idle.
        config.reset_reader_on_write = true;
    }
    Ok(())
}

/// The client `flags` ask for, from `kubeconfig` (or, with none, from the pod's service account).
pub async fn config(flags: &KubeFlags, kubeconfig: Option<Kubeconfig>) -> Result<Config, String> {
    let mut config = match kubeconfig {
        Some(kubeconfig) => from_kubeconfig(flags, kubeconfig).await?,
        None if flags.server.is_some() => from_kubeconfig(flags, Kubeconfig::default()).await?,
        None => Config::incluster().map_err(|e| {
            format!(
                "no kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config) and not in a pod: {e}"
            )
        })?,
    };
    override_config(&mut config, flags)?;
    Ok(config)
}

async fn from_kubeconfig(flags: &KubeFlags, kubeconfig: Kubeconfig) -> Result<Config, String> {
    let (kubeconfig, options) = select(flags, kubeconfig)?;
    Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("cannot use the kubeconfig: {e}"))
}

/// The client of the plugin's command line, with the environment's `KUBECONFIG` and home directory.
pub async fn client(flags: &KubeFlags) -> Result<Client, String> {
    let env = std::env::var_os("KUBECONFIG");
    let files = files(
        flags.kubeconfig.as_deref(),
        env.as_deref(),
        std::env::home_dir().as_deref(),
    );
    let config = config(flags, read(&files)?).await?;
    Client::try_from(config).map_err(|e| format!("cannot make a client of the kubeconfig: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::{Cli, Command};

    /// Two clusters, two contexts (`first` current), two users.
    const TWO_CONTEXTS: &str = "
apiVersion: v1
kind: Config
current-context: first
clusters:
- name: one
  cluster: {server: 'https://one.example:6443', insecure-skip-tls-verify: true}
- name: two
  cluster: {server: 'https://two.example:7443'}
contexts:
- name: first
  context: {cluster: one, user: alice, namespace: ns-one}
- name: second
  context: {cluster: two, user: bob, namespace: ns-two}
users:
- name: alice
  user: {token: alice-secret-token}
- name: bob
  user: {token: bob-secret-token}
";

    /// A context only the second file of a list has, and a current-context the first file's wins over.
    const THIRD: &str = "
apiVersion: v1
kind: Config
current-context: third
clusters:
- name: three
  cluster: {server: 'https://three.example:8443'}
contexts:
- name: third
  context: {cluster: three, namespace: ns-three}
";

    /// A directory of its own for a test's files.
    fn dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("obbackup-connect-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a directory");
        dir
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn cli(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-obbackup").chain(line.split_whitespace()))
    }

    /// The Config `line` asks for, reading `files`.
    fn config_of(line: &str, files: &[PathBuf]) -> Result<Config, String> {
        let cli = cli(line).map_err(|e| e.to_string())?;
        let kubeconfig = read(files)?;
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(config(&cli.kube, kubeconfig))
    }

    #[test]
    fn kubectls_global_flags_parse_before_and_after_the_command() {
        for line in [
            "--kubeconfig /x --context prod --as ci --as-group g1 --as-group g2 status demo",
            "status demo --kubeconfig /x --context prod --as ci --as-group g1 --as-group g2",
            "--context=prod status --kubeconfig=/x --as=ci --as-group=g1 demo --as-group g2",
        ] {
            let parsed = cli(line).expect(line);
            let flags = &parsed.kube;
            assert_eq!(flags.kubeconfig.as_deref(), Some(Path::new("/x")), "{line}");
            assert_eq!(flags.context.as_deref(), Some("prod"), "{line}");
            assert_eq!(flags.as_user.as_deref(), Some("ci"), "{line}");
            assert_eq!(flags.as_group, ["g1", "g2"], "{line}");
            assert!(
                matches!(&parsed.command, Command::Status { strategy, .. } if strategy.as_deref() == Some("demo")),
                "{line}"
            );
        }
        // `--cluster` is kubectl's (the kubeconfig's); the OceanBase cluster is `--ob-cluster`.
        let both = cli("status --cluster kc --ob-cluster ob").expect("both flags");
        assert_eq!(both.kube.cluster.as_deref(), Some("kc"));
        assert!(
            matches!(&both.command, Command::Status { ob_cluster, .. } if ob_cluster.as_deref() == Some("ob")),
            "{both:?}"
        );
        let restore = cli("restore-cluster ob --to latest --target-cluster dr --target-secret s")
            .expect("restore-cluster");
        assert_eq!(
            restore.kube.cluster, None,
            "the OceanBase cluster is not the kubeconfig's"
        );
        assert!(
            matches!(&restore.command, Command::RestoreCluster(args) if args.ob_cluster == "ob"),
            "{restore:?}"
        );
        let every = cli(
            "cancel t1 --cluster c --user u -s https://h:6443 --token t --request-timeout 1m \
             --certificate-authority /ca --client-certificate /crt --client-key /key \
             --tls-server-name api --cache-dir /cache -n ns",
        )
        .expect("every flag after the command");
        assert_eq!(every.kube.server.as_deref(), Some("https://h:6443"));
        assert_eq!(every.kube.tls_server_name.as_deref(), Some("api"));
        assert_eq!(every.namespace.as_deref(), Some("ns"));
        // Bare, or with =true/=false as kubectl writes it; never taking the command as its value.
        for (line, insecure) in [
            ("--insecure-skip-tls-verify status", true),
            ("status --insecure-skip-tls-verify=false", false),
            ("--insecure-skip-tls-verify=true status", true),
            ("status", false),
        ] {
            let parsed = cli(line).expect(line);
            assert_eq!(parsed.kube.insecure_skip_tls_verify, insecure, "{line}");
        }
        assert!(cli("--insecure-skip-tls-verify --certificate-authority /ca status").is_err());
    }

    #[test]
    fn context_picks_the_cluster_user_and_namespace_of_the_kubeconfig() {
        let dir = dir("contexts");
        let path = write(&dir, "config", TWO_CONTEXTS);
        let files = [path.clone()];
        let current = config_of("status", &files).expect("the current context");
        assert_eq!(current.cluster_url.to_string(), "https://one.example:6443/");
        assert_eq!(current.default_namespace, "ns-one");
        assert!(current.accept_invalid_certs);
        let second = config_of(
            "status --context second --as system:serviceaccount:x:nobody --as-group g1 --as-group g2",
            &files,
        )
        .expect("the second context");
        assert_eq!(second.cluster_url.to_string(), "https://two.example:7443/");
        assert_eq!(second.default_namespace, "ns-two");
        assert!(!second.accept_invalid_certs);
        assert_eq!(
            second.auth_info.impersonate.as_deref(),
            Some("system:serviceaccount:x:nobody")
        );
        assert_eq!(
            second.auth_info.impersonate_groups,
            Some(vec!["g1".to_string(), "g2".to_string()])
        );
        // The second context's cluster with the first's user; the server and TLS name from flags.
        let mixed = config_of(
            "--context second --cluster one --user alice -s https://other.example:9443 \
             --tls-server-name api.internal status",
            &files,
        )
        .expect("mixed");
        assert_eq!(mixed.cluster_url.to_string(), "https://other.example:9443/");
        assert_eq!(mixed.tls_server_name.as_deref(), Some("api.internal"));
        assert_eq!(mixed.default_namespace, "ns-two");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn names_the_kubeconfig_does_not_hold_are_errors_that_name_what_it_has() {
        let dir = dir("unknown");
        let files = [write(&dir, "config", TWO_CONTEXTS)];
        for (line, says) in [
            (
                "--context prod status",
                "context \"prod\" does not exist in the kubeconfig (it has: first, second)",
            ),
            (
                "--user carol status",
                "user \"carol\" does not exist in the kubeconfig (it has: alice, bob)",
            ),
            (
                "--cluster nine status",
                "cluster \"nine\" does not exist in the kubeconfig (it has: one, two)",
            ),
            (
                "--request-timeout soon status",
                "--request-timeout \"soon\"",
            ),
        ] {
            let error = config_of(line, &files).expect_err(line);
            assert!(error.contains(says), "{line}: {error}");
            assert!(!error.contains("secret-token"), "{error}");
        }
        let missing = config_of("status", &[dir.join("absent")]).expect_err("no such file");
        assert!(missing.contains("cannot read the kubeconfig"), "{missing}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn kubeconfig_lists_merge_as_kubectl_merges_them() {
        let dir = dir("lists");
        let first = write(&dir, "a", TWO_CONTEXTS);
        let third = write(&dir, "b", THIRD);
        let absent = dir.join("absent");
        let list = std::env::join_paths([&first, &absent, &third]).expect("a list");
        // --kubeconfig alone; else the list, without the file that does not exist; else ~/.kube/config.
        assert_eq!(
            files(
                Some(third.as_path()),
                Some(list.as_os_str()),
                Some(dir.as_path())
            ),
            std::slice::from_ref(&third)
        );
        let listed = files(None, Some(list.as_os_str()), Some(dir.as_path()));
        assert_eq!(listed, [first.clone(), third.clone()]);
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".kube")).expect("~/.kube");
        assert!(files(None, None, Some(home.as_path())).is_empty());
        let default = write(&home.join(".kube"), "config", THIRD);
        assert_eq!(
            files(None, None, Some(home.as_path())),
            std::slice::from_ref(&default)
        );
        assert_eq!(
            files(None, Some(OsStr::new("")), Some(home.as_path())),
            [default]
        );
        // The first file's current-context wins; the second file's context can be picked.
        let current = config_of("status", &listed).expect("merged");
        assert_eq!(current.default_namespace, "ns-one");
        let picked = config_of("status --context third", &listed).expect("from the second file");
        assert_eq!(
            picked.cluster_url.to_string(),
            "https://three.example:8443/"
        );
        assert_eq!(picked.default_namespace, "ns-three");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn credentials_and_timeouts_from_flags_and_the_token_never_printed() {
        let dir = dir("credentials");
        let files = [write(&dir, "config", TWO_CONTEXTS)];
        let config = config_of(
            "status --token flag-secret-token --request-timeout 45s --client-key /k --client-certificate /c",
            &files,
        )
        .expect("config");
        assert_eq!(
            config.auth_info.token.as_ref().map(|t| t.expose_secret()),
            Some("flag-secret-token")
        );
        assert_eq!(config.auth_info.client_key.as_deref(), Some("/k"));
        assert_eq!(config.read_timeout, Some(Duration::from_secs(45)));
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(45)));
        let printed = format!(
            "{config:?} {:?}",
            cli("status --token flag-secret-token").expect("cli")
        );
        assert!(!printed.contains("flag-secret-token"), "{printed}");
        // Without a kubeconfig, --server alone reaches a server.
        let bare = config_of("-s https://bare.example:6443 --token t status", &[]).expect("bare");
        assert_eq!(bare.cluster_url.to_string(), "https://bare.example:6443/");
        assert_eq!(bare.default_namespace, "default");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn request_timeouts_read_as_kubectl_reads_them() {
        for (given, seconds) in [
            ("0", None),
            ("0s", None),
            ("30", Some(30.0)),
            ("30s", Some(30.0)),
            ("1m", Some(60.0)),
            ("1h30m", Some(5400.0)),
            ("500ms", Some(0.5)),
        ] {
            assert_eq!(
                request_timeout(given)
                    .expect(given)
                    .map(|d| d.as_secs_f64()),
                seconds,
                "{given}"
            );
        }
        for wrong in ["-1s", "-5", "soon", ""] {
            assert!(request_timeout(wrong).is_err(), "{wrong}");
        }
    }
}
