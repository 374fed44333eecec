//! `kubectl obbackup`: the console's backup pages in the terminal (docs/guide/plugin.md). On PATH
//! as `kubectl-obbackup`, kubectl runs it as `kubectl obbackup …`; it reads the API with the user's
//! kubeconfig and the operator's own API types.

mod actions;
mod alerts;
mod cause;
mod cleanup;
mod connect;
#[cfg(test)]
mod console_columns;
mod copy;
mod drill;
mod drill_list;
#[cfg(test)]
mod fixtures;
mod handover;
mod import;
mod log;
mod pause;
mod render;
mod restore;
mod restore_args;
mod restore_cluster;
mod restore_logical;
mod restore_obtenant;
mod second_tabs;
mod status;
mod tasks;
mod windows;

use std::{io::IsTerminal, process::ExitCode};

use clap::{CommandFactory, Parser, Subcommand};
use kube::{Api, Client, Resource, ResourceExt, api::ListParams};
use ob_backup_operator::api::{BackupStrategy, BackupTask, CleanupTask, LogBackup, RecoveryTask};
use serde::de::DeserializeOwned;

use render::{Format, Reply, TimeFormat, list};
use tasks::{Filter, TaskTab};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-obbackup",
    bin_name = "kubectl obbackup",
    about = "OceanBase backup and recovery, as the console shows it"
)]
struct Cli {
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long, global = true)]
    all_namespaces: bool,
    /// Output: a table for people, or the API objects as a JSON or YAML List for scripts (an action's: the
    /// objects it made, changed or waited for; cause's: the task and its events).
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Show times in UTC (default: the local time zone).
    #[arg(long, global = true)]
    utc: bool,
    #[command(flatten)]
    kube: connect::KubeFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The backup overview: each strategy's status, method, size, last data backup, log checkpoint and
    /// delay, each tenant's, the conditions that are not healthy, and second copies.
    Status {
        /// One strategy (default: every strategy).
        strategy: Option<String>,
        /// Only the strategies of this OceanBase cluster (its display name), with every tenant of it:
        /// those no strategy covers show as No Backup Strategy. (`--cluster` is kubectl's: the kubeconfig's.)
        #[arg(long = "ob-cluster", value_name = "NAME")]
        ob_cluster: Option<String>,
    },
    /// The available recovery period: per tenant, seven days of half-hour cells — where a restore can
    /// reach, the gaps, and the data backups — paged week by week.
    Windows {
        strategy: String,
        /// One tenant (default: every tenant the overview shows).
        #[arg(long)]
        tenant: Option<String>,
        /// Which week: 0 ends today, -1 is the week before, and so on.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        week: i32,
    },
    /// The task tabs: data backup, log backup, cleanup or recovery tasks, newest first.
    Tasks(TasksArgs),
    /// The console's "Back up Now": one BackupTask per tenant through the strategy (named by the second and
    /// the mode: running it twice in one second makes one task per tenant; a task of that name asking for
    /// something else is refused).
    BackupNow(BackupNowArgs),
    /// The console's log backup "Start" / "Stop" for one tenant of a strategy (edits the strategy's
    /// `logBackup.stoppedTenants`; under GitOps make that change in Git instead, or the next sync undoes it).
    Log(log::LogArgs),
    /// The console's "Pause" of a strategy: no automatic backup starts until `resume` (sets
    /// `spec.suspend`; log archiving keeps running and back-up-now still works). Under GitOps make that
    /// change in Git instead, or the next sync undoes it.
    Pause { strategy: String },
    /// Resumes a paused strategy's automatic backups (clears `spec.suspend`).
    Resume { strategy: String },
    /// The console's "Initiate Recovery": restores a tenant backed up by the strategy into a new tenant,
    /// after checking the point against the recoverable windows (the operator's check and words); for a
    /// logical strategy, loads the newest dump with data as of the point or before into an existing tenant.
    Restore(Box<restore::RestoreArgs>),
    /// The console's "Initiate Recovery" for a whole cluster: one RecoveryTask per tenant of every physical
    /// strategy of the cluster, into another cluster (or under --target-suffix), each point checked first;
    /// running it again makes nothing twice.
    RestoreCluster(Box<restore_cluster::RestoreClusterArgs>),
    /// Runs a failed RecoveryTask again (the console's action on a failed recovery: bumps `spec.retry`).
    Retry { task: String },
    /// The console's manual cleanup: deletes one tenant's obsolete backups, backup sets or log pieces
    /// (OceanBase 4.4.1 or later).
    Cleanup(cleanup::CleanupArgs),
    /// Restore drills: `run` one now (one RecoveryTask per tenant, restored into a scratch tenant, checked
    /// and dropped), `list` a strategy's drills with their verdicts.
    Drill {
        #[command(subcommand)]
        command: drill::DrillCommand,
    },
    /// Second copies: `retry` or `cancel` the copy of a BackupTask's set, `pause` or `resume` a tenant's
    /// archive copy.
    Copy {
        #[command(subcommand)]
        command: copy::CopyCommand,
    },
    /// Cancels a BackupTask, CleanupTask or RecoveryTask (sets `spec.cancel`; refused once it has ended).
    Cancel { task: String },
    /// The console's "View Cause": a task's status, OceanBase's error code and comment, its conditions and
    /// events.
    Cause { task: String },
    /// The console's alert list: the chart's alerts with the object each is about, when it was first and
    /// last raised, when it recovered, how often, and whether it is active — from Prometheus when one is
    /// named, else from the strategies' own record.
    Alerts(alerts::AlertsArgs),
    /// Imports ob-operator's backup policy of a tenant (OBTenantBackupPolicy) as the equivalent
    /// BackupStrategy: prints its manifest (YAML unless -o json) with notes on stderr on what does not map;
    /// with --handover, moves the tenant to the strategy without stopping archiving.
    Import(Box<import::ImportArgs>),
    /// Prints a shell completion script, e.g. `kubectl-obbackup completion bash > /etc/bash_completion.d/obbackup`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `tasks [TAB] [--since D | --from T] [--to T] [--status S] [--tenant T]`.
#[derive(clap::Args, Debug)]
struct TasksArgs {
    #[arg(value_enum, default_value_t = Tab::Data)]
    tab: Tab,
    /// Only tasks started within this long, e.g. 24h, 7d or 30d.
    #[arg(long, conflicts_with = "from")]
    since: Option<String>,
    /// Only tasks started at or after this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
    #[arg(long)]
    from: Option<String>,
    /// Only tasks started at or before this time (RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// Only tasks in this status, as the STATUS column shows it or in the console's words (Failed, "In
    /// Progress"); one the tab never shows is refused, naming those it does.
    #[arg(long)]
    status: Option<String>,
    /// Only tasks of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Only tasks of this OceanBase cluster (its display name; a restore's backup or target cluster).
    #[arg(long = "ob-cluster", value_name = "NAME")]
    ob_cluster: Option<String>,
    /// Only the data backup of this backup set id.
    #[arg(long)]
    backup_set: Option<i64>,
}

/// `backup-now STRATEGY (--tenant T | --all-tenants) [--incremental] [--wait [--timeout D]]`.
#[derive(clap::Args, Debug)]
struct BackupNowArgs {
    /// The strategy (or --ob-cluster).
    #[arg(required_unless_present = "ob_cluster")]
    strategy: Option<String>,
    /// "Back up Now for Current Cluster": every tenant of every strategy of this OceanBase cluster (its
    /// display name), one task per tenant.
    #[arg(long = "ob-cluster", value_name = "NAME", conflicts_with_all = ["strategy", "tenant", "all_tenants"])]
    ob_cluster: Option<String>,
    /// The tenant to back up.
    #[arg(long)]
    tenant: Option<String>,
    /// Every tenant of the strategy.
    #[arg(long)]
    all_tenants: bool,
    /// An incremental backup (default: full).
    #[arg(long)]
    incremental: bool,
    /// Follow the tasks to their end; fails when any does not complete.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long, e.g. 30m (default: wait until they end).
    #[arg(long, requires = "wait")]
    timeout: Option<String>,
}

/// The console's task tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Tab {
    Data,
    Log,
    Cleanup,
    Recovery,
    /// The copies of backup sets on the second destination.
    SecondData,
    /// The copies of archives on the second destination.
    SecondLog,
}

impl Tab {
    /// The statuses the tab's STATUS column shows.
    fn statuses(self) -> Vec<&'static str> {
        use ob_backup_operator::api::{
            BackupTaskPhase, RecoveryTaskPhase, cleanup_task::CleanupTaskPhase,
            common::SecondCopyPhase, log_backup::LogBackupPhase,
        };
        match self {
            Tab::Data => tasks::statuses::<BackupTaskPhase>(),
            Tab::Log => tasks::statuses::<LogBackupPhase>(),
            Tab::Cleanup => tasks::statuses::<CleanupTaskPhase>(),
            Tab::Recovery => tasks::statuses::<RecoveryTaskPhase>(),
            Tab::SecondData | Tab::SecondLog => tasks::statuses::<SecondCopyPhase>(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completion { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "kubectl-obbackup",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e.to_string()),
    };
    match runtime.block_on(run(cli)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<String, String> {
    // kube's TLS is rustls with ring; the process picks the provider once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ctx = Context::connect(&cli).await?;
    let (scope, clock, format) = (&ctx.scope, &ctx.clock, ctx.format);
    match cli.command {
        Command::Status {
            strategy,
            ob_cluster,
        } => show_status(&ctx, strategy.as_deref(), ob_cluster.as_deref()).await,
        Command::Windows {
            strategy,
            tenant,
            week,
        } => {
            let found = scope.strategy(&strategy).await?;
            let tasks: Vec<BackupTask> = scope.list().await?;
            let recoveries: Vec<RecoveryTask> = scope.list().await?;
            windows::show(
                &found,
                &tasks,
                &recoveries,
                tenant.as_deref(),
                week,
                clock,
                format,
            )
        }
        Command::Tasks(args) => show_tasks(&ctx, args).await,
        Command::BackupNow(args) => backup_now(&ctx, args).await,
        Command::Log(args) => {
            let namespace = scope.one_namespace()?;
            log::run(&scope.client, namespace, args, clock, format)
                .await?
                .show(format)
        }
        Command::Restore(args) => {
            let strategy = scope.strategy(&args.strategy).await?;
            let namespace = scope.one_namespace()?;
            restore::run(&scope.client, namespace, &strategy, *args, clock)
                .await?
                .show(format)
        }
        Command::RestoreCluster(args) => {
            let strategies: Vec<BackupStrategy> = scope.list().await?;
            let namespace = scope.one_namespace()?;
            restore_cluster::run(&scope.client, namespace, &strategies, &args)
                .await?
                .show(format)
        }
        Command::Pause { strategy } => {
            pause::run(&scope.client, scope.one_namespace()?, &strategy, true)
                .await?
                .show(format)
        }
        Command::Resume { strategy } => {
            pause::run(&scope.client, scope.one_namespace()?, &strategy, false)
                .await?
                .show(format)
        }
        Command::Retry { task } => restore::retry(&scope.client, scope.one_namespace()?, &task)
            .await?
            .show(format),
        Command::Cleanup(args) => {
            let strategy = scope.strategy(&args.strategy).await?;
            let namespace = scope.one_namespace()?;
            cleanup::run(&scope.client, namespace, &strategy, args, clock, format)
                .await?
                .show(format)
        }
        Command::Drill { command } => drill_command(&ctx, command).await,
        Command::Cancel { task } => actions::cancel(&scope.client, scope.one_namespace()?, &task)
            .await?
            .show(format),
        Command::Copy { command } => copy::run(&scope.client, scope.one_namespace()?, command)
            .await?
            .show(format),
        Command::Cause { task } => show_cause(&ctx, &task).await,
        Command::Alerts(args) => show_alerts(&ctx, args).await,
        Command::Import(args) => {
            let namespace = scope.one_namespace()?;
            import::run(&scope.client, namespace, *args, clock, format).await
        }
        Command::Completion { .. } => Ok(String::new()),
    }
}

/// What every command works with: where it reads, how it shows times, whether in colour, in which format.
struct Context {
    scope: Scope,
    clock: TimeFormat,
    colour: bool,
    format: Format,
}

impl Context {
    /// Connects as the kubeconfig and the flags say.
    async fn connect(cli: &Cli) -> Result<Self, String> {
        let client = connect::client(&cli.kube).await?;
        let scope = Scope {
            namespace: (!cli.all_namespaces)
                .then(|| cli.namespace.clone())
                .map(|n| n.unwrap_or_else(|| client.default_namespace().to_string())),
            client,
        };
        Ok(Self {
            scope,
            clock: TimeFormat::new(cli.utc),
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            format: cli.output,
        })
    }
}

/// `status`: the overview of every strategy, or of the one named.
async fn show_status(
    ctx: &Context,
    strategy: Option<&str>,
    cluster: Option<&str>,
) -> Result<String, String> {
    let mut strategies: Vec<BackupStrategy> = ctx.scope.list().await?;
    if let Some(name) = strategy {
        strategies.retain(|s| s.metadata.name.as_deref() == Some(name));
        if strategies.is_empty() {
            return Err(format!(
                "no BackupStrategy {name} in {}",
                ctx.scope.describe()
            ));
        }
    }
    if let Some(cluster) = cluster {
        strategies.retain(|s| s.spec.cluster.name == cluster);
        if strategies.is_empty() {
            return Err(format!(
                "no BackupStrategy of cluster {cluster} in {}: none of its tenants is backed up (the \
                 console's No Backup Strategy), and with no strategy nothing reads its tenant list, so they \
                 cannot be listed here; create one (examples/new-backup-strategy.yaml)",
                ctx.scope.describe()
            ));
        }
    }
    match ctx.format {
        Format::Table => Ok(status::overview(&strategies, &ctx.clock, ctx.colour)),
        format => list(&strategies, format),
    }
}

/// `tasks`: one tab, filtered.
async fn show_tasks(ctx: &Context, args: TasksArgs) -> Result<String, String> {
    let mut filter = Filter::new(
        args.since.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        jiff::Timestamp::now(),
    )?;
    filter.status = args
        .status
        .map(|s| tasks::status_filter(&s, &args.tab.statuses()))
        .transpose()?;
    filter.cluster = args.ob_cluster;
    filter.backup_set = args.backup_set;
    filter.tenant = args.tenant;
    let (scope, clock, format, colour) = (&ctx.scope, &ctx.clock, ctx.format, ctx.colour);
    let filter = &filter;
    match args.tab {
        Tab::Data => show::<BackupTask>(scope, filter, clock, format, colour).await,
        Tab::Log => show::<LogBackup>(scope, filter, clock, format, colour).await,
        Tab::Cleanup => show::<CleanupTask>(scope, filter, clock, format, colour).await,
        Tab::Recovery => show::<RecoveryTask>(scope, filter, clock, format, colour).await,
        Tab::SecondData | Tab::SecondLog if format != Format::Table => Err(
            "the second-copy tabs print tables only: for the objects, use `tasks data -o json` or `tasks \
             log -o json` (status.secondBackup)"
                .into(),
        ),
        Tab::SecondData => {
            let tasks: Vec<BackupTask> = scope.list().await?;
            Ok(second_tabs::second_data(&tasks, filter, clock).render(colour))
        }
        Tab::SecondLog => {
            let logs: Vec<LogBackup> = scope.list().await?;
            Ok(second_tabs::second_log(&logs, filter, clock).render(colour))
        }
    }
}

/// `backup-now`: the tasks made, and with --wait followed to their end.
async fn backup_now(ctx: &Context, args: BackupNowArgs) -> Result<String, String> {
    let timeout = actions::timeout(args.timeout.as_deref())?;
    let namespace = ctx.scope.one_namespace()?;
    let now = jiff::Timestamp::now();
    let strategies: Vec<BackupStrategy> = match (&args.strategy, &args.ob_cluster) {
        (Some(name), _) => vec![ctx.scope.strategy(name).await?],
        (None, Some(cluster)) => actions::of_cluster(ctx.scope.list().await?, cluster)?,
        (None, None) => return Err("name a strategy, or a cluster with --ob-cluster".into()),
    };
    let every = args.all_tenants || args.ob_cluster.is_some();
    let mut tasks = Vec::new();
    // Every task is planned before any is made: a refusal leaves nothing half done.
    for strategy in &strategies {
        let tenants = actions::tenants_of(strategy, args.tenant.as_deref(), every)?;
        tasks.extend(actions::backup_now_tasks(
            strategy,
            &tenants,
            args.incremental,
            now,
        )?);
    }
    let api: Api<BackupTask> = Api::namespaced(ctx.scope.client.clone(), namespace);
    let made = actions::create(&api, &tasks).await?;
    if !args.wait {
        return made.show(ctx.format);
    }
    // What was made shows before the wait begins.
    render::progress(ctx.format, &made.text);
    let names: Vec<String> = tasks.iter().map(|t| t.name_any()).collect();
    actions::wait(&api, &names, &ctx.clock, timeout)
        .await?
        .show(ctx.format)
}

/// `drill run|list`.
async fn drill_command(ctx: &Context, command: drill::DrillCommand) -> Result<String, String> {
    let (client, namespace) = (&ctx.scope.client, ctx.scope.one_namespace()?);
    let (clock, format) = (&ctx.clock, ctx.format);
    match command {
        drill::DrillCommand::Run(args) => {
            let strategy = ctx.scope.strategy(&args.strategy).await?;
            let now = jiff::Timestamp::now();
            let mut report = |line: &str| render::progress(format, line);
            drill::run(client, namespace, &strategy, args, now, clock, &mut report)
                .await?
                .show(format)
        }
        drill::DrillCommand::List(args) => {
            let strategy = ctx.scope.strategy(&args.strategy).await?;
            drill_list::show(
                client, namespace, &strategy, &args, clock, format, ctx.colour,
            )
            .await
        }
    }
}

/// `cause`: why a task is as it is, with the events about it.
async fn show_cause(ctx: &Context, task: &str) -> Result<String, String> {
    let namespace = ctx.scope.one_namespace()?;
    let client = &ctx.scope.client;
    let why = cause::find(client, namespace, task).await?;
    let events = cause::events(client, namespace, task).await?;
    let text = cause::render(task, &why, &events, &ctx.clock, ctx.colour);
    // For scripts: the task, then the events about it.
    let mut reply = Reply::new(text).with(&why.object)?;
    for event in &events {
        reply = reply.with(event)?;
    }
    reply.show(ctx.format)
}

/// `alerts`: from Prometheus when one is named, else from the strategies' records.
async fn show_alerts(ctx: &Context, args: alerts::AlertsArgs) -> Result<String, String> {
    let span = alerts::since(&args.since)?;
    let now = jiff::Timestamp::now();
    let namespace = ctx.scope.namespace.as_deref();
    let (rows, source) = match &args.prometheus {
        Some(url) => {
            let evaluated = alerts::evaluate(url, span, now).await?;
            let step = alerts::step_of(span);
            let rows = alerts::from_prometheus(&evaluated, namespace, step, now);
            (rows, format!("Prometheus at {}", alerts::shown(url)))
        }
        None => {
            let strategies: Vec<BackupStrategy> = ctx.scope.list().await?;
            let from = now.saturating_sub(span).map_err(|e| e.to_string())?;
            let rows = alerts::from_records(&strategies, from);
            (rows, "the strategies' records".to_string())
        }
    };
    match ctx.format {
        Format::Table if rows.is_empty() => Ok(format!(
            "No alerts in {} active or raised in the last {} ({source}).\n",
            ctx.scope.describe(),
            args.since
        )),
        Format::Table => {
            Ok(alerts::table(&rows, &ctx.clock, namespace.is_none()).render(ctx.colour))
        }
        format => list(&rows, format),
    }
}

/// Where objects are read: one namespace, or all.
struct Scope {
    client: Client,
    namespace: Option<String>,
}

impl Scope {
    async fn list<K>(&self) -> Result<Vec<K>, String>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = match &self.namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        };
        let mut items = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("cannot list {}: {e}", K::plural(&())))?
            .items;
        items.sort_by_key(|o| (o.meta().namespace.clone(), o.meta().name.clone()));
        Ok(items)
    }

    /// The BackupStrategy `name` of the one namespace.
    async fn strategy(&self, name: &str) -> Result<BackupStrategy, String> {
        let namespace = self.one_namespace()?;
        let api: Api<BackupStrategy> = Api::namespaced(self.client.clone(), namespace);
        api.get_opt(name)
            .await
            .map_err(|e| format!("cannot read BackupStrategy {name}: {e}"))?
            .ok_or_else(|| format!("no BackupStrategy {name} in namespace {namespace}"))
    }

    /// The namespace of a command that acts on one object.
    fn one_namespace(&self) -> Result<&str, String> {
        self.namespace
            .as_deref()
            .ok_or_else(|| "this command acts in one namespace: use -n, not -A".to_string())
    }

    fn describe(&self) -> String {
        self.namespace
            .as_ref()
            .map_or_else(|| "any namespace".into(), |n| format!("namespace {n}"))
    }
}

async fn show<T>(
    scope: &Scope,
    filter: &Filter,
    clock: &TimeFormat,
    format: Format,
    colour: bool,
) -> Result<String, String>
where
    T: TaskTab
        + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + DeserializeOwned
        + std::fmt::Debug,
{
    let all: Vec<T> = scope.list().await?;
    let (table, shown) = tasks::table(&all, filter, clock);
    match format {
        Format::Table if shown.is_empty() => Ok(format!(
            "No {} in {} match.\n",
            T::plural(&()),
            scope.describe()
        )),
        Format::Table if scope.namespace.is_none() => Ok(table
            .in_namespaces(shown.iter().map(|t| t.namespace().unwrap_or_default()))
            .render(colour)),
        Format::Table => Ok(table.render(colour)),
        format => list(&shown, format),
    }
}
