//! `restore` of a logical strategy: the tenant's newest dump whose data is as of the point or before (the
//! console's "Data Version"), loaded into an existing tenant by a RecoveryTask naming its BackupTask. Only
//! dumps the strategy still keeps are picked: retention deletes those begun more than the recovery window
//! ago (never the newest), and the plugin applies the operator's own rule.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::ResourceExt;
use ob_backup_operator::{
    api::{
        BackupStrategy, BackupTask, BackupTaskPhase, RecoveryTask, RecoveryTaskSpec,
        backup_strategy::BackupMethod,
        logical::{LogicalRecoveryTarget, TenantLogin, default_parallel},
        recovery_task::{RecoverySource, RecoveryTarget},
    },
    logical::retention::{self, KeptDump},
};

use crate::{
    actions,
    render::TimeFormat,
    restore_args::{self, RestoreArgs},
};

/// A dump the strategy keeps: its BackupTask and the time its data is as of.
#[derive(Debug)]
pub struct Dump<'a> {
    pub task: &'a BackupTask,
    pub snapshot_at: Timestamp,
}

/// The dumps of `tenant` through `strategy` that can be loaded at `now`, oldest data first: its Completed
/// logical BackupTasks with a snapshot, less those retention has deleted.
pub fn kept<'a>(
    strategy: &BackupStrategy,
    tasks: &'a [BackupTask],
    tenant: &str,
    now: Timestamp,
) -> Vec<Dump<'a>> {
    let strategy_name = strategy.name_any();
    let mut found: Vec<(KeptDump, Dump<'a>)> = tasks
        .iter()
        .filter(|t| {
            t.spec.method == BackupMethod::Logical
                && t.spec.tenant.eq_ignore_ascii_case(tenant)
                && t.spec
                    .strategy_ref
                    .as_ref()
                    .is_some_and(|r| r.name == strategy_name)
        })
        .filter_map(|task| {
            let status = task.status.as_ref()?;
            if status.phase != Some(BackupTaskPhase::Completed) {
                return None;
            }
            let snapshot_at = status.logical.as_ref()?.snapshot_time.as_ref()?.0;
            let started_at = status.started_at.as_ref().map_or(snapshot_at, |t| t.0);
            let kept = KeptDump {
                directory: task.name_any(),
                started_at,
                snapshot_at,
                stored_bytes: 0,
            };
            Some((kept, Dump { task, snapshot_at }))
        })
        .collect();
    // In the order retention reads the destination's dumps: by when they began.
    found.sort_by(|a, b| (a.0.started_at, &a.0.directory).cmp(&(b.0.started_at, &b.0.directory)));
    let listed: Vec<KeptDump> = found.iter().map(|(kept, _)| kept.clone()).collect();
    let deleted: Vec<&str> = retention::expired(&listed, retention::window_of(strategy), now)
        .into_iter()
        .map(|d| d.directory.as_str())
        .collect();
    let mut dumps: Vec<Dump<'a>> = found
        .into_iter()
        .filter(|(kept, _)| !deleted.contains(&kept.directory.as_str()))
        .map(|(_, dump)| dump)
        .collect();
    dumps.sort_by_key(|d| d.snapshot_at);
    dumps
}

/// The dump for `to` (`None`: the newest): the newest whose data is as of `to` or before.
pub fn pick<'d, 'a>(dumps: &'d [Dump<'a>], to: Option<Timestamp>) -> Option<&'d Dump<'a>> {
    dumps
        .iter()
        .rev()
        .find(|d| to.is_none_or(|to| d.snapshot_at <= to))
}

/// `--rename-database FROM=TO…` as the task's map.
fn renames(given: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut renames = BTreeMap::new();
    for pair in given {
        let Some((from, to)) = pair
            .split_once('=')
            .filter(|(f, t)| !f.is_empty() && !t.is_empty())
        else {
            return Err(format!(
                "--rename-database {pair:?} is not FROM=TO (e.g. shop=shop_copy)"
            ));
        };
        if renames.insert(from.to_string(), to.to_string()).is_some() {
            return Err(format!("--rename-database renames {from} twice"));
        }
    }
    Ok(renames)
}

/// The flags of a physical restore that a logical one cannot take, by name, when given.
fn physical_flags(args: &RestoreArgs) -> Option<&'static str> {
    [
        (args.pool.is_some(), "--pool"),
        (args.unit.unit_name.is_some(), "--unit-name"),
        (args.unit.unit_cpu.is_some(), "--unit-cpu"),
        (!args.unit.zones.is_empty(), "--zones"),
        (args.unit.primary_zone.is_some(), "--primary-zone"),
        (args.unit.standby, "--standby"),
        (args.decryption_secret.is_some(), "--decryption-secret"),
        (args.target_ob_cluster.is_some(), "--target-ob-cluster"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// The RecoveryTask loading the dump `args` ask for among `tasks` at `now`, and which dump it is; or why
/// there is none.
pub fn plan(
    strategy: &BackupStrategy,
    args: &RestoreArgs,
    tasks: &[BackupTask],
    now: Timestamp,
    clock: &TimeFormat,
) -> Result<(RecoveryTask, String), String> {
    let name = strategy.name_any();
    if let Some(flag) = physical_flags(args) {
        return Err(format!(
            "BackupStrategy {name} is Logical: its restore loads a dump into an existing tenant, so \
             {flag} does not apply"
        ));
    }
    let login = match (&args.loader_secret, &args.ob_tenant) {
        (Some(loader), _) => TenantLogin::Secret(loader),
        (None, Some(obtenant)) => TenantLogin::ObTenant(obtenant),
        (None, None) => {
            return Err(format!(
                "BackupStrategy {name} is Logical: name the Secret of a user of the target tenant who \
                 creates and loads the dump's objects with --loader-secret, or the target tenant's OBTenant \
                 with --ob-tenant to load as its root"
            ));
        }
    };
    let rename_databases = renames(&args.rename_database)?;
    let tenant = actions::tenants_of(strategy, Some(&args.tenant), false)?.remove(0);
    let to = restore_args::point_of(&args.to)?;
    let dumps = kept(strategy, tasks, &tenant, now);
    let dump = match (pick(&dumps, to), dumps.first(), to) {
        (Some(dump), _, _) => dump,
        (None, Some(oldest), Some(to)) => {
            return Err(format!(
                "refused: no dump of tenant {tenant} holds data as of {} or before (the oldest kept \
                 is as of {}); nothing was created",
                clock.at(to),
                clock.at(oldest.snapshot_at)
            ));
        }
        _ => {
            return Err(format!(
                "refused: BackupStrategy {name} keeps no completed dump of tenant {tenant} (take one \
                 with `kubectl obbackup backup-now {name} --tenant {tenant}`); nothing was created"
            ));
        }
    };
    let dump_name = dump.task.name_any();
    let task = load_task(strategy, args, &tenant, &dump_name, login, rename_databases);
    let said = format!(
        "dump: backuptask/{dump_name}, data as of {}\n",
        clock.at(dump.snapshot_at)
    );
    Ok((task, said))
}

/// The RecoveryTask loading the dump `dump_name` of `tenant` as `args` ask.
fn load_task(
    strategy: &BackupStrategy,
    args: &RestoreArgs,
    tenant: &str,
    dump_name: &str,
    login: TenantLogin<'_>,
    rename_databases: BTreeMap<String, String>,
) -> RecoveryTask {
    let (credentials_secret, ob_tenant) = match login {
        TenantLogin::Secret(secret) => (Some(secret.to_string()), None),
        TenantLogin::ObTenant(name) => (None, Some(name.to_string())),
    };
    RecoveryTask::new(
        &restore_args::task_name(strategy, tenant, args),
        RecoveryTaskSpec {
            source: RecoverySource::of_dump(tenant, dump_name),
            target: RecoveryTarget {
                cluster: restore_args::target_cluster(strategy, args),
                tenant: args.target_tenant.clone(),
                resources: None,
                logical: Some(LogicalRecoveryTarget {
                    credentials_secret,
                    ob_tenant,
                    rename_databases,
                    database_prefix: None,
                    parallel: default_parallel(),
                }),
                primary_zone: None,
                locality: None,
            },
            until: None,
            decryption: None,
            activate: true,
            cancel: false,
            retry: 0,
            drill: None,
            job_id: None,
        },
    )
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::fixtures::{
        logical_dump as dump, logical_strategy as logical, restore_args as args,
    };

    fn at(time: &str) -> Timestamp {
        time.parse().expect("time")
    }

    #[test]
    fn the_newest_kept_dump_as_of_the_point_is_picked() {
        let mut failed = dump(
            "failed",
            "tenant1",
            "2026-11-24T12:00:00Z",
            "2026-11-24T12:00:01Z",
        );
        if let Some(status) = failed.status.as_mut() {
            status.phase = Some(BackupTaskPhase::Failed);
        }
        let tasks = [
            dump(
                "old",
                "tenant1",
                "2026-11-20T00:00:00Z",
                "2026-11-20T00:00:05Z",
            ),
            dump(
                "mon",
                "tenant1",
                "2026-11-23T00:00:00Z",
                "2026-11-23T00:00:05Z",
            ),
            dump(
                "tue",
                "tenant1",
                "2026-11-24T00:00:00Z",
                "2026-11-24T00:00:05Z",
            ),
            dump(
                "other",
                "Tenant2",
                "2026-11-24T06:00:00Z",
                "2026-11-24T06:00:05Z",
            ),
            failed,
        ];
        let now = at("2026-11-24T18:00:00Z");
        let dumps = kept(&logical(), &tasks, "TENANT1", now);
        let names: Vec<String> = dumps.iter().map(|d| d.task.name_any()).collect();
        assert_eq!(names, ["mon", "tue"], "older than 2d: deleted by retention");
        let named = |to: Option<&str>| pick(&dumps, to.map(at)).map(|d| d.task.name_any());
        assert_eq!(named(None), Some("tue".into()));
        assert_eq!(named(Some("2026-11-24T00:00:05Z")), Some("tue".into()));
        assert_eq!(named(Some("2026-11-24T00:00:04Z")), Some("mon".into()));
        assert_eq!(named(Some("2026-11-22T00:00:00Z")), None);
        // However old, the newest stays (as retention keeps it).
        let later = kept(&logical(), &tasks, "tenant1", at("2026-12-30T00:00:00Z"));
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].task.name_any(), "tue");
    }

    #[test]
    fn a_logical_restore_loads_the_dump_into_the_target_tenant() {
        let tasks = [dump(
            "mon",
            "tenant1",
            "2026-11-23T00:00:00Z",
            "2026-11-23T00:00:05Z",
        )];
        let clock = TimeFormat::new(true);
        let now = at("2026-11-24T00:00:00Z");
        let (task, said) = plan(
            &logical(),
            &args(
                "--tenant tenant1 --to latest --target-tenant tenant2 --loader-secret loader \
                   --rename-database shop=shop_copy,crm=crm_copy",
            ),
            &tasks,
            now,
            &clock,
        )
        .expect("planned");
        assert_eq!(
            said,
            "dump: backuptask/mon, data as of 2026-11-23 00:00:05 UTC\n"
        );
        assert_eq!(task.name_any(), "demo-tenant1-to-tenant2");
        let source = task.spec.source.logical.as_ref().expect("logical source");
        assert_eq!(source.backup_task.as_deref(), Some("mon"));
        let target = task.spec.target.logical.as_ref().expect("logical target");
        assert_eq!(target.credentials_secret.as_deref(), Some("loader"));
        assert_eq!(
            target.rename_databases.get("crm").map(String::as_str),
            Some("crm_copy")
        );
        assert!(task.spec.until.is_none() && task.spec.target.resources.is_none());
        // Or as the root of the target tenant's OBTenant.
        let line = "--tenant tenant1 --to latest --target-tenant tenant2 --ob-tenant t2";
        let (task, _) = plan(&logical(), &args(line), &tasks, now, &clock).expect("planned");
        let target = task.spec.target.logical.as_ref().expect("logical target");
        assert_eq!(
            (
                target.ob_tenant.as_deref(),
                target.credentials_secret.as_deref()
            ),
            (Some("t2"), None)
        );
        for (line, says) in [
            (
                "--to latest --target-tenant t2 --pool p --loader-secret l",
                "--pool does not apply",
            ),
            ("--to latest --target-tenant t2", "--loader-secret, or"),
            (
                "--to latest --target-tenant t2 --ob-tenant t2 --target-ob-cluster c",
                "--target-ob-cluster does not apply",
            ),
            (
                "--to latest --target-tenant t2 --loader-secret l --rename-database shop",
                "not FROM=TO",
            ),
            (
                "--to 2026-11-22T00:00:00Z --target-tenant t2 --loader-secret l",
                "oldest kept is as of 2026-11-23 00:00:05 UTC",
            ),
            (
                "--to latest --target-tenant t2 --loader-secret l --tenant Tenant2",
                "keeps no completed dump of tenant Tenant2",
            ),
        ] {
            let line = if line.contains("--tenant") {
                line.to_string()
            } else {
                format!("--tenant tenant1 {line}")
            };
            let error = plan(&logical(), &args(&line), &tasks, now, &clock).expect_err("refused");
            assert!(error.contains(says), "{line}: {error}");
        }
    }
}
