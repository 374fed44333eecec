//! `restore-cluster`: the console's "Initiate Recovery" for a whole cluster — one RecoveryTask per tenant
//! of every physical strategy of the cluster, each checked against its tenant's recoverable windows and all
//! planned before any is made. Each task is named `<strategy>-<tenant>-to-<target tenant>`, so running the
//! command again makes nothing twice.

use kube::{Api, ResourceExt};
use ob_backup_operator::api::{BackupStrategy, RecoveryTask, backup_strategy::BackupMethod};

use crate::{
    actions,
    render::Reply,
    restore::physical,
    restore_args::{RestoreArgs, UnitArgs},
};

/// `restore-cluster CLUSTER --to T --target-cluster C --target-secret S [--target-suffix X] …`.
#[derive(clap::Args, Debug, Clone)]
pub struct RestoreClusterArgs {
    /// The OceanBase cluster whose tenants are restored (its display name; the id is not `cluster`, which is
    /// kubectl's global flag).
    #[arg(value_name = "CLUSTER")]
    pub ob_cluster: String,
    /// The point every tenant is restored to: an RFC 3339 time or `latest`.
    #[arg(long)]
    pub to: String,
    /// The cluster to restore into.
    #[arg(long)]
    pub target_cluster: String,
    /// The Secret of --target-cluster's sys tenant.
    #[arg(long)]
    pub target_secret: String,
    /// Appended to each tenant's name to name its restored tenant (default: the same name, which needs
    /// another cluster).
    #[arg(long, default_value = "")]
    pub target_suffix: String,
    #[command(flatten)]
    pub unit: UnitArgs,
}

/// One RecoveryTask per tenant of the physical strategies of `args.ob_cluster` among `strategies`, with the
/// verdict on each point; refused as a whole when any tenant's is.
pub fn plan(
    strategies: &[BackupStrategy],
    args: &RestoreClusterArgs,
) -> Result<(Vec<RecoveryTask>, String), String> {
    if args.target_suffix.is_empty() && args.target_cluster == args.ob_cluster {
        return Err(format!(
            "restoring cluster {} into itself needs --target-suffix: its tenants exist there",
            args.ob_cluster
        ));
    }
    let mine: Vec<&BackupStrategy> = strategies
        .iter()
        .filter(|s| {
            s.spec.cluster.name == args.ob_cluster && s.spec.method == BackupMethod::Physical
        })
        .collect();
    if mine.is_empty() {
        return Err(format!(
            "no physical BackupStrategy of cluster {}: nothing was created",
            args.ob_cluster
        ));
    }
    let (mut tasks, mut said) = (Vec::new(), String::new());
    for strategy in mine {
        for tenant in actions::tenants_of(strategy, None, true)? {
            let (task, verdict) = physical(strategy, &one_tenant(strategy, &tenant, args))
                .map_err(|e| format!("tenant {tenant}: {e}"))?;
            said.push_str(&format!("tenant {tenant}: {verdict}"));
            tasks.push(task);
        }
    }
    Ok((tasks, said))
}

/// The single-tenant restore's arguments for `tenant`.
fn one_tenant(strategy: &BackupStrategy, tenant: &str, args: &RestoreClusterArgs) -> RestoreArgs {
    RestoreArgs {
        strategy: strategy.name_any(),
        tenant: tenant.to_string(),
        to: args.to.clone(),
        target_tenant: format!("{tenant}{}", args.target_suffix),
        target_cluster: Some(args.target_cluster.clone()),
        target_secret: Some(args.target_secret.clone()),
        pool: None,
        unit: args.unit.clone(),
        decryption_secret: None,
        loader_secret: None,
        rename_database: Vec::new(),
        name: None,
        ob_tenant: None,
        target_ob_cluster: None,
        dry_run: false,
        wait: false,
        timeout: None,
    }
}

/// Plans, then creates each task once (an existing one asking for the same is left as it is).
pub async fn run(
    client: &kube::Client,
    namespace: &str,
    strategies: &[BackupStrategy],
    args: &RestoreClusterArgs,
) -> Result<Reply, String> {
    let (tasks, verdicts) = plan(strategies, args)?;
    let api: Api<RecoveryTask> = Api::namespaced(client.clone(), namespace);
    let mut reply = Reply::new(verdicts);
    for task in &tasks {
        let (said, there) = actions::create_once(&api, task).await?;
        reply = reply.and(Reply::new(said)).with(&there)?;
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn strategy(name: &str, cluster: &str, tenants: &[&str]) -> BackupStrategy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": name},
            "spec": {
                "cluster": {"name": cluster, "connectionSecret": "ob"}, "tenants": tenants,
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
            },
            "status": {"tenants": tenants.iter().map(|t| serde_json::json!({
                "name": t,
                "recoverableWindows": [{"from": "2026-11-20T00:00:00Z", "to": "2026-11-25T00:00:00Z"}],
            })).collect::<Vec<_>>()},
        }))
        .expect("a strategy")
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: RestoreClusterArgs,
    }

    fn args(line: &str) -> RestoreClusterArgs {
        Cli::try_parse_from(line.split_whitespace())
            .expect("arguments")
            .args
    }

    #[test]
    fn every_tenant_of_the_clusters_strategies_gets_one_task_checked_against_its_windows() {
        let strategies = [
            strategy("a", "prod", &["tenant1"]),
            strategy("b", "prod", &["tenant2"]),
            strategy("c", "other", &["tenant9"]),
        ];
        let asked = args(
            "x prod --to 2026-11-24T00:00:00Z --target-cluster dr --target-secret dr-sys \
             --unit-cpu 2 --unit-memory 4G --zones zone1",
        );
        let (tasks, said) = plan(&strategies, &asked).expect("two tasks");
        let names: Vec<String> = tasks.iter().map(|t| t.name_any()).collect();
        assert_eq!(names, ["a-tenant1-to-tenant1", "b-tenant2-to-tenant2"]);
        assert_eq!(tasks[0].spec.target.cluster.name, "dr");
        assert!(said.contains("tenant tenant2: recovery point:"), "{said}");
        // A point outside a tenant's windows refuses the whole plan, naming the tenant.
        let early = args(
            "x prod --to 2026-11-01T00:00:00Z --target-cluster dr --target-secret dr-sys \
             --unit-cpu 2 --unit-memory 4G --zones zone1",
        );
        let refused = plan(&strategies, &early).expect_err("outside every window");
        assert!(refused.starts_with("tenant tenant1: refused"), "{refused}");
        // Into itself: each tenant needs another name.
        let itself = args(
            "x prod --to latest --target-cluster prod --target-secret ob --unit-cpu 2 \
             --unit-memory 4G --zones zone1",
        );
        let refused = plan(&strategies, &itself).expect_err("the tenants exist there");
        assert!(refused.contains("--target-suffix"), "{refused}");
    }
}
