//! The unit tests' strategy and command lines.

use ob_backup_operator::api::BackupStrategy;
use serde_json::{Value, json};

/// A physical strategy `demo` over tenant1 and Tenant2, with `extra` merged into its spec.
pub fn strategy(extra: Value) -> BackupStrategy {
    let mut spec = json!({
        "cluster": {"name": "ob", "connectionSecret": "ob-sys"}, "tenants": ["tenant1", "Tenant2"],
        "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
        "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": "demo"}, "spec": spec,
    }))
    .expect("strategy")
}

/// `kubectl obbackup restore demo <line>`, parsed.
pub fn parse_restore(line: &str) -> Result<crate::Cli, clap::Error> {
    use clap::Parser;
    let words = ["kubectl-obbackup", "restore", "demo"]
        .into_iter()
        .chain(line.split_whitespace());
    crate::Cli::try_parse_from(words)
}

/// The arguments of `kubectl obbackup restore demo <line>`.
pub fn restore_args(line: &str) -> crate::restore::RestoreArgs {
    match parse_restore(line).expect("parsed").command {
        crate::Command::Restore(args) => *args,
        other => panic!("{other:?}"),
    }
}

/// A logical strategy `demo` over tenant1 and Tenant2 keeping dumps for two days.
pub fn logical_strategy() -> BackupStrategy {
    strategy(json!({
        "method": "Logical", "logical": {"credentialsSecret": "dumper"},
        "retention": {"recoveryWindow": "2d"},
    }))
}

/// A Completed logical dump `name` of `tenant` through `demo`, begun at `started` with data as of
/// `snapshot`.
pub fn logical_dump(
    name: &str,
    tenant: &str,
    started: &str,
    snapshot: &str,
) -> ob_backup_operator::api::BackupTask {
    serde_json::from_value(json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
        "metadata": {"name": name},
        "spec": {"strategyRef": {"name": "demo"}, "tenant": tenant, "mode": "Full", "method": "Logical",
                 "logical": {"credentialsSecret": "dumper"}},
        "status": {"phase": "Completed", "startedAt": started, "endedAt": snapshot,
                   "logical": {"snapshotScn": "1", "snapshotTime": snapshot}},
    }))
    .expect("a dump")
}
