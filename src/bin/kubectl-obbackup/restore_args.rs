//! The `restore` command's arguments ([`RestoreArgs`]) and what a physical and a logical restore both read
//! from them: the point (`--to`), the cluster restored into, the RecoveryTask's name.

use kube::ResourceExt;
use ob_backup_operator::{
    api::{BackupStrategy, common::ClusterConnection},
    names::child_name,
};

/// `restore STRATEGY --tenant T --to TIME|latest --target-tenant N …`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    pub strategy: String,
    /// The tenant backed up by the strategy.
    #[arg(long)]
    pub tenant: String,
    /// The point to restore to: an RFC 3339 time (e.g. 2026-11-20T08:30:00Z) or `latest` (a logical
    /// strategy's: the newest dump whose data is as of that time or before).
    #[arg(long)]
    pub to: String,
    /// The new tenant to create (it must not exist); a logical strategy's: the tenant to load into.
    #[arg(long)]
    pub target_tenant: String,
    /// The cluster to restore into (default: the strategy's), with --target-secret.
    #[arg(long, requires = "target_secret")]
    pub target_cluster: Option<String>,
    /// The Secret of --target-cluster's sys tenant.
    #[arg(long, requires = "target_cluster")]
    pub target_secret: Option<String>,
    /// An existing, unused resource pool for the new tenant.
    #[arg(long, conflicts_with_all = ["unit_name", "unit_cpu"])]
    pub pool: Option<String>,
    #[command(flatten)]
    pub unit: UnitArgs,
    /// The Secret holding the backups' password (default: the strategy's encryption Secret).
    #[arg(long)]
    pub decryption_secret: Option<String>,
    /// A logical strategy's restore: the Secret (`user`, `password`) of a user of the target tenant who
    /// creates the dump's databases and tables and loads them.
    #[arg(long)]
    pub loader_secret: Option<String>,
    /// A logical strategy's restore: load a database under another name, e.g. shop=shop_copy.
    #[arg(long, value_delimiter = ',', value_name = "FROM=TO")]
    pub rename_database: Vec<String>,
    /// A physical strategy's restore: have ob-operator restore instead, into a new OBTenant of this name,
    /// so that it manages the tenant (in an OBCluster: the strategy's, or --target-ob-cluster). A logical
    /// strategy's: load the dump as the root of this existing OBTenant of the target tenant, in place of
    /// --loader-secret.
    #[arg(long, conflicts_with = "loader_secret")]
    pub ob_tenant: Option<String>,
    /// With --ob-tenant: the OBCluster (in this namespace) to restore into.
    #[arg(long, requires = "ob_tenant")]
    pub target_ob_cluster: Option<String>,
    /// The RecoveryTask's name (default: `<strategy>-<tenant>-to-<target tenant>`).
    #[arg(long)]
    pub name: Option<String>,
    /// Check the point and have the API server admit the task, without creating it.
    #[arg(long)]
    pub dry_run: bool,
    /// Follow the restore to its end (the RecoveryTask's final phase; with --ob-tenant, the OBTenant running
    /// or its restore failed); fails when it does not complete.
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
    /// With --wait: give up after this long, e.g. 2h (default: wait until it ends).
    #[arg(long, requires = "wait")]
    pub timeout: Option<String>,
}

/// The new tenant's resources and role, shared by `restore` and `restore-cluster`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct UnitArgs {
    /// An existing resource unit config; a pool is created from it.
    #[arg(long, conflicts_with = "unit_cpu")]
    pub unit_name: Option<String>,
    /// A new unit's CPU cores (with --unit-memory).
    #[arg(long, requires = "unit_memory")]
    pub unit_cpu: Option<f64>,
    /// A new unit's memory, e.g. 4G.
    #[arg(long, requires = "unit_cpu")]
    pub unit_memory: Option<String>,
    /// A new unit's log disk, e.g. 12G.
    #[arg(long, requires = "unit_cpu")]
    pub unit_log_disk: Option<String>,
    /// Units per zone.
    #[arg(long, default_value_t = 1)]
    pub unit_num: i32,
    /// The pool's zones, e.g. zone1,zone2,zone3 (not with --pool).
    #[arg(long, value_delimiter = ',')]
    pub zones: Vec<String>,
    /// The new tenant's primary zone(s).
    #[arg(long)]
    pub primary_zone: Option<String>,
    /// Keep the restored tenant a standby (default: promote it to primary).
    #[arg(long)]
    pub standby: bool,
}

/// `--to`: a time, or `None` for `latest`.
pub fn point_of(to: &str) -> Result<Option<jiff::Timestamp>, String> {
    match to {
        "latest" => Ok(None),
        time => time
            .parse()
            .map(Some)
            .map_err(|e| format!("--to {time:?} is neither `latest` nor an RFC 3339 time: {e}")),
    }
}

/// The cluster the restore goes into: `--target-cluster` with its Secret, or the strategy's.
pub fn target_cluster(strategy: &BackupStrategy, args: &RestoreArgs) -> ClusterConnection {
    match (&args.target_cluster, &args.target_secret) {
        (Some(name), Some(secret)) => ClusterConnection::through_secret(name, secret),
        _ => strategy.spec.cluster.clone(),
    }
}

/// The RecoveryTask's name: `--name`, or `<strategy>-<tenant>-to-<target tenant>`.
pub fn task_name(strategy: &BackupStrategy, tenant: &str, args: &RestoreArgs) -> String {
    args.name.clone().unwrap_or_else(|| {
        let target = ob_backup_operator::names::dns_form(&args.target_tenant);
        child_name(&strategy.name_any(), tenant, &format!("to-{target}"))
    })
}
