//! The `import` command: its arguments, and running it — the manifest printed, or the tenant handed over
//! ([`crate::handover`]) after a confirmation.

use kube::ResourceExt;

use super::{Imported, import, manifest, sources::read};

/// The kinds `import` converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// ob-operator's OBTenantBackupPolicy.
    #[value(alias = "obtenantbackuppolicies", alias = "obtbp")]
    Obtenantbackuppolicy,
}

/// `import obtenantbackuppolicy NAME [--time-zone Z] [--handover [--yes] [--allow-move] [--wait]]`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[arg(value_enum)]
    pub kind: ImportKind,
    /// The policy (in -n's namespace); the strategy gets its name and namespace.
    pub name: String,
    /// The zone of crontabs that name none (default: Asia/Shanghai, ob-operator's image's).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Hand the tenant over now: pause and retire the policy without stopping archiving, then create the
    /// strategy (default: only print the strategy).
    #[arg(long)]
    pub handover: bool,
    /// With --handover: do not ask for confirmation.
    #[arg(long, requires = "handover")]
    pub yes: bool,
    /// With --handover: hand over even when the destinations move.
    #[arg(long, requires = "handover")]
    pub allow_move: bool,
    /// With --handover: follow the tenant's LogBackup until archiving runs under the strategy.
    #[arg(long, requires = "handover")]
    pub wait: bool,
    /// With --wait: give up after this long, e.g. 10m (default: wait until it gets there).
    #[arg(long, requires = "wait")]
    pub timeout: Option<String>,
}

/// Runs `import`: the manifest on stdout (YAML unless -o json), notes on stderr; with --handover, the
/// handover's steps on stderr and what was made as the other actions say it.
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    args: ImportArgs,
    clock: &crate::render::TimeFormat,
    format: crate::render::Format,
) -> Result<String, String> {
    let timeout = crate::actions::timeout(args.timeout.as_deref())?;
    let sources = read(client, namespace, &args.name).await?;
    let imported = import(&sources, args.time_zone.as_deref())?;
    eprint!("{}", imported.said());
    if !args.handover {
        return manifest(&imported.strategy, format == crate::render::Format::Json);
    }
    if let Some(why) = crate::handover::refusal(&sources.policy, &imported, args.allow_move) {
        return Err(why);
    }
    confirm(&args, &imported)?;
    let options = crate::handover::Options {
        allow_move: args.allow_move,
        wait: args.wait,
        timeout,
        gone_within: crate::handover::GONE_WITHIN,
    };
    let mut report = |line: &str| eprint!("{line}");
    crate::handover::handover(
        client,
        &sources.policy,
        &imported,
        &options,
        clock,
        &mut report,
    )
    .await?
    .show(format)
}

/// Asks on the terminal before a handover (refused when nobody can answer and --yes is not given).
fn confirm(args: &ImportArgs, imported: &Imported) -> Result<(), String> {
    use std::io::{BufRead, IsTerminal, Write};
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err("--handover changes the cluster: confirm on a terminal, or give --yes".into());
    }
    eprint!(
        "Hand tenant {} over from obtenantbackuppolicy/{} to backupstrategy/{}? The policy is paused and \
         deleted without its finalizer; archiving keeps running. [y/N] ",
        imported.tenant,
        args.name,
        imported.strategy.name_any()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err("not confirmed: nothing was changed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<crate::Cli, clap::Error> {
        use clap::Parser;
        crate::Cli::try_parse_from(
            ["kubectl-obbackup"]
                .into_iter()
                .chain(line.split_whitespace()),
        )
    }

    #[test]
    fn the_command_line_takes_the_kind_and_ties_the_handover_flags_to_it() {
        let cli = parse("import obtbp p1 -n ob --handover --yes --allow-move --wait --timeout 5m")
            .expect("parsed");
        let crate::Command::Import(args) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.kind, ImportKind::Obtenantbackuppolicy);
        assert_eq!(args.name, "p1");
        assert!(args.handover && args.yes && args.allow_move && args.wait);
        assert_eq!(args.timeout.as_deref(), Some("5m"));
        assert!(parse("import obtenantbackuppolicy p1 --time-zone UTC -o json").is_ok());
        for without_handover in ["--yes", "--allow-move", "--wait"] {
            assert!(
                parse(&format!(
                    "import obtenantbackuppolicy p1 {without_handover}"
                ))
                .is_err()
            );
        }
        assert!(parse("import obcluster c1").is_err());
    }
}
