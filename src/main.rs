//! The `ob-backup-operator` binary: `run` the operator, or `crdgen` its CRDs.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand};
use ob_backup_operator::{
    controller::Settings,
    crdgen,
    observer::PollIntervals,
    run::{RunConfig, run},
    telemetry::{self, LogFormat},
};

/// The heap: mimalloc rather than the C library's allocator (Cargo.toml says why).
#[global_allocator]
static HEAP: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// OceanBase backup and recovery for Kubernetes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator (controllers, leader election, /metrics, /healthz, /readyz).
    Run(Box<RunArgs>),
    /// Write the CustomResourceDefinitions generated from the Rust types.
    Crdgen {
        /// Directory to write one file per CRD into.
        #[arg(long, default_value = "crds")]
        dir: PathBuf,
        /// Print every CRD to standard output as one YAML stream instead.
        #[arg(long)]
        stdout: bool,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Namespaces to watch: one, or a comma-separated list; every namespace when empty.
    #[arg(long, env = "WATCH_NAMESPACE", default_value = "")]
    namespace: String,
    /// Namespace of the leader Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the leader Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "ob-backup-operator")]
    lease_name: String,
    /// This replica's identity in the Lease; defaults to the Pod name, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Seconds a leader lease stays valid without renewal.
    #[arg(long, default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Seconds before expiry at which the leader renews.
    #[arg(long, default_value_t = 5)]
    lease_grace_seconds: u64,
    /// How many shards the objects are spread over, by namespace, each behind its own Lease (1: one
    /// leader reconciles everything). Every replica must run with the same count.
    #[arg(long, env = "SHARDS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    shards: u32,
    /// How many replicas run: each takes about shards/replicas shards while all of them run, and a dead
    /// replica's shards once their Leases have stayed free for a lease duration.
    #[arg(long, env = "REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    replicas: u32,
    /// Log line format.
    #[arg(long, value_enum, env = "LOG_FORMAT", default_value_t)]
    log_format: LogFormat,
    /// Seconds between reads of an OceanBase cluster while a task or log archive there is changing.
    #[arg(long, env = "ACTIVE_POLL_SECONDS", default_value_t = ob_backup_operator::timing::ACTIVE_POLL.as_secs(), value_parser = clap::value_parser!(u64).range(1..=600))]
    active_poll_seconds: u64,
    /// Seconds between reads of an OceanBase cluster while nothing there is changing.
    #[arg(long, env = "IDLE_POLL_SECONDS", default_value_t = ob_backup_operator::timing::IDLE_POLL.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_poll_seconds: u64,
    /// Seconds without progress after which a running backup gets Progressing=False.
    #[arg(long, env = "BACKUP_STALL_SECONDS", default_value_t = ob_backup_operator::timing::BACKUP_STALL_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(10..))]
    backup_stall_seconds: u64,
    /// Seconds between checks of a strategy's destinations from this pod (object storage: a small object
    /// written and deleted in each tenant's directory), so that one made unusable shows without waiting for
    /// a backup to fail.
    #[arg(long, env = "DESTINATION_CHECK_SECONDS", default_value_t = ob_backup_operator::timing::DESTINATION_CHECK.as_secs(), value_parser = clap::value_parser!(u64).range(10..=86400))]
    destination_check_seconds: u64,
    /// Where this pod sees the share behind `file://` destinations, when not at the same path as the
    /// OBServers (`file:///backup/x` is read at `<dir>/backup/x`). Needed for second backups, and for the
    /// destination check of `file://` destinations.
    #[arg(long, env = "FILE_DESTINATION_ROOT")]
    file_destination_root: Option<std::path::PathBuf>,
    /// Read ob-operator's OBClusters, OBServers, OBTenants and backup policies when its CRDs are installed
    /// (`cluster.obCluster`, and tenants its policies hold are left to it). `false`: never read them.
    #[arg(long, env = "OB_OPERATOR_INTEGRATION", default_value_t = true, action = clap::ArgAction::Set)]
    ob_operator_integration: bool,
    /// How the watches read what exists at the start: `streaming` (one watch that sends every object first,
    /// the API server's WatchList feature, on by default from Kubernetes 1.34), `paged` (a request per page,
    /// every API server), or `auto`: streaming when the API server answers a probe at the start.
    #[arg(long, value_enum, env = "INITIAL_LIST", default_value_t)]
    initial_list: ob_backup_operator::controller::initial_list::InitialList,
    /// Test only: run on a simulated clock, SIMULATED@REAL*SPEED (see `clock`).
    #[arg(long, hide = true, env = "OBBACKUP_SIMULATED_CLOCK")]
    simulated_clock: Option<ob_backup_operator::clock::Simulated>,
}

fn main() -> ExitCode {
    // Test builds only: arms the crash points named in FAILPOINTS (src/crash.rs).
    #[cfg(feature = "failpoints")]
    let _crash_points = fail::FailScenario::setup();
    match Cli::parse().command {
        Command::Crdgen { dir, stdout } => generate_crds(dir, stdout),
        Command::Run(args) => run_operator(*args),
    }
}

fn generate_crds(dir: PathBuf, stdout: bool) -> ExitCode {
    let result = if stdout {
        crdgen::render()
            .map_err(std::io::Error::other)
            .and_then(|crds| {
                let stream = crds
                    .into_iter()
                    .map(|(_, yaml)| yaml)
                    .collect::<Vec<_>>()
                    .join("---\n");
                std::io::stdout().write_all(stream.as_bytes())
            })
    } else {
        crdgen::write_all(&dir)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crdgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_operator(args: RunArgs) -> ExitCode {
    telemetry::init(args.log_format);
    if let Some(clock) = args.simulated_clock {
        tracing::warn!(?clock, "running on a simulated clock (tests only)");
        ob_backup_operator::clock::simulate(clock);
    }
    let config = RunConfig {
        namespace: Some(args.namespace).filter(|n| !n.is_empty()),
        lease_namespace: args.lease_namespace,
        lease_name: args.lease_name,
        identity: args.identity.unwrap_or_else(default_identity),
        http_addr: args.http_addr,
        lease_duration: Duration::from_secs(args.lease_duration_seconds),
        lease_grace: Duration::from_secs(args.lease_grace_seconds),
        shards: args.shards,
        replicas: args.replicas,
        settings: Settings {
            poll: PollIntervals {
                active: Duration::from_secs(args.active_poll_seconds),
                idle: Duration::from_secs(args.idle_poll_seconds),
            },
            backup_stall_timeout: Duration::from_secs(args.backup_stall_seconds),
            // Read for the life of the process.
            file_root: args
                .file_destination_root
                .map(|p| &*Box::leak(p.into_boxed_path())),
            destination_check: Duration::from_secs(args.destination_check_seconds),
            ob_operator: args.ob_operator_integration,
            initial_list: args.initial_list,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "operator stopped");
            ExitCode::FAILURE
        }
    }
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!(
        "{}-{}",
        if host.is_empty() {
            "ob-backup-operator"
        } else {
            &host
        },
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    const PAGE: &str = "docs/reference/operator-cli.md";
    const BEGIN: &str = "<!-- BEGIN GENERATED operator-cli: rewritten by `UPDATE_DOCS=1 cargo test --bin ob-backup-operator`, do not edit -->\n";
    const END: &str = "<!-- END GENERATED operator-cli -->";

    /// Each subcommand's options as a table: flag, environment variable, default, help.
    fn reference() -> String {
        let mut out = String::new();
        let mut cli = Cli::command();
        cli.build();
        for command in cli.get_subcommands().filter(|c| c.get_name() != "help") {
            out.push_str(&format!(
                "### `ob-backup-operator {}`\n\n{}\n\n",
                command.get_name(),
                command
                    .get_about()
                    .map(|a| format!("{a}."))
                    .unwrap_or_default()
            ));
            out.push_str(
                "| flag | environment | default | what it sets |\n| --- | --- | --- | --- |\n",
            );
            let shown = |a: &&clap::Arg| {
                !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version")
            };
            for arg in command.get_arguments().filter(shown) {
                let Some(long) = arg.get_long() else {
                    continue;
                };
                let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
                let flag = if takes_value {
                    let value = arg
                        .get_value_names()
                        .and_then(|names| names.first())
                        .map(|name| name.to_string())
                        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                    format!("`--{long} <{value}>`")
                } else {
                    format!("`--{long}`")
                };
                let env = arg
                    .get_env()
                    .map(|e| format!("`{}`", e.to_string_lossy()))
                    .unwrap_or_else(|| "—".into());
                let defaults: Vec<String> = arg
                    .get_default_values()
                    .iter()
                    .map(|d| d.to_string_lossy().to_string())
                    .collect();
                let default = match defaults.join(",") {
                    d if d.is_empty() => "—".to_string(),
                    d => format!("`{d}`"),
                };
                let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if !help.ends_with('.') {
                    help.push('.');
                }
                let values: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .map(|v| format!("`{}`", v.get_name()))
                    .collect();
                if takes_value && !values.is_empty() {
                    help.push_str(&format!(" One of {}.", values.join(", ")));
                }
                let help = help.replace('|', "\\|").replace('\n', " ");
                out.push_str(&format!("| {flag} | {env} | {default} | {help} |\n"));
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_cli_reference_lists_every_flag() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE);
        let page = std::fs::read_to_string(&path).expect("the CLI reference page");
        let (Some(start), Some(stop)) = (page.find(BEGIN), page.find(END)) else {
            panic!("{PAGE} lacks its generated block's markers:\n{BEGIN}{END}");
        };
        let body = start + BEGIN.len();
        let expected = reference();
        if page.get(body..stop) == Some(expected.as_str()) {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0") {
            let mut page = page.clone();
            page.replace_range(body..stop, &expected);
            std::fs::write(&path, page).expect("write the CLI reference");
            return;
        }
        panic!(
            "{PAGE} is out of date with the command line; run `UPDATE_DOCS=1 cargo test --bin \
             ob-backup-operator` and commit the result"
        );
    }
}
