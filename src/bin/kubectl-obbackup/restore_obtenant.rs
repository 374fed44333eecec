//! `restore … --ob-tenant NAME`: the restore done by ob-operator instead, through a new `OBTenant` whose
//! `spec.source.restore` points at the strategy's directories of the tenant, so that the tenant it makes is
//! ob-operator's like any other (an OBTenant cannot adopt a tenant that exists already). The point and the
//! target tenant are checked as for a RecoveryTask first (docs/guide/ob-operator.md, "Restoring into an
//! OBTenant").

use kube::{
    Api, ResourceExt,
    api::{DynamicObject, PostParams},
};
use ob_backup_operator::{
    api::{
        BackupStrategy, RecoveryTask,
        common::{ClusterConnection, ObjectName, StorageDestination},
        recovery_task::RecoveryPoint,
        resources::TenantResources,
    },
    oboperator::{GROUP, Kind, VERSION},
};
use serde_json::{Value, json};

use crate::{render::Reply, restore_args::RestoreArgs};

/// Where ob-operator mounts an OBCluster's backup volume; its NFS paths are relative to it.
const NFS_MOUNT: &str = "/ob-backup";

/// The OBCluster the OBTenant is made in: `--target-ob-cluster`, or the strategy's own.
pub fn target_cluster(
    strategy: &BackupStrategy,
    args: &RestoreArgs,
) -> Result<ClusterConnection, String> {
    // A logical restore through an OBTenant takes these; here the OBTenant is the target and the name.
    if let Some(flag) = [
        (args.target_cluster.is_some(), "--target-cluster"),
        (args.name.is_some(), "--name"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
    {
        return Err(format!(
            "with --ob-tenant, ob-operator restores into the OBTenant of that name in an OBCluster \
             (--target-ob-cluster), so {flag} does not apply"
        ));
    }
    let own = strategy.spec.cluster.ob_cluster.as_ref();
    match (&args.target_ob_cluster, own) {
        (Some(name), Some(own)) if *name == own.name => Ok(strategy.spec.cluster.clone()),
        (Some(name), _) => Ok(ClusterConnection {
            name: name.clone(),
            connection_secret: None,
            ob_cluster: Some(ObjectName { name: name.clone() }),
        }),
        (None, Some(_)) => Ok(strategy.spec.cluster.clone()),
        (None, None) => Err(format!(
            "BackupStrategy {} reaches its cluster through a Secret: name the OBCluster of its namespace to \
             restore into with --target-ob-cluster",
            strategy.name_any()
        )),
    }
}

/// The OBTenant `name` that restores what `task` asks for from `strategy`'s backups.
pub fn ob_tenant(
    task: &RecoveryTask,
    strategy: &BackupStrategy,
    name: &str,
) -> Result<Value, String> {
    let spec = &task.spec;
    let tenant = &spec.source.tenant;
    let cluster =
        spec.target.cluster.ob_cluster.as_ref().ok_or(
            "an OBTenant is made in an OBCluster: the restore's target cluster is not one",
        )?;
    let resources = spec
        .target
        .resources
        .as_ref()
        .ok_or("an OBTenant needs its unit: --unit-cpu and --unit-memory")?;
    let log = strategy.spec.log_destination.as_ref().ok_or(format!(
        "BackupStrategy {} has no logDestination: nothing to restore logs from",
        strategy.name_any()
    ))?;
    let until = until(
        spec.until
            .as_ref()
            .ok_or("a restore needs a point (--to)")?,
    )?;
    let mut restore = json!({
        "bakDataSource": source(&strategy.spec.data_destination.for_tenant(tenant))?,
        "archiveSource": source(&log.for_tenant(tenant))?,
        "until": until,
    });
    if let Some(secret) = &spec.decryption {
        restore["bakEncryptionSecret"] = json!(secret.password_secret);
    }
    Ok(json!({
        "apiVersion": format!("{GROUP}/{VERSION}"), "kind": Kind::ObTenant.name(),
        "metadata": {
            "name": name,
            "annotations": {"obbackup.dev/restored-from": format!("{}/{tenant}", strategy.name_any())},
        },
        "spec": {
            "obcluster": cluster.name,
            "tenantName": spec.target.tenant,
            "unitNum": resources.unit_num,
            "pools": pools(resources, spec.target.primary_zone.as_deref())?,
            "tenantRole": if spec.activate { "PRIMARY" } else { "STANDBY" },
            "source": {"restore": restore},
        },
    }))
}

/// One of the strategy's tenant directories as ob-operator's `BackupDestination`: a `file://` path under
/// the backup volume as an NFS path relative to it; an object store's URI as it is, with its keys' Secret
/// (ob-operator reads the same `accessId`/`accessKey` keys).
fn source(destination: &StorageDestination) -> Result<Value, String> {
    let uri = &destination.uri;
    if let Some(path) = uri.strip_prefix("file://") {
        let relative = path
            .strip_prefix(NFS_MOUNT)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|rest| !rest.is_empty())
            .ok_or(format!(
                "{uri} is not under {NFS_MOUNT}, where ob-operator mounts an OBCluster's backup volume: it \
                 cannot restore from there (restore without --ob-tenant: the operator sends the restore itself)"
            ))?;
        return Ok(json!({"type": "NFS", "path": relative}));
    }
    let kind = match uri.split_once("://").map(|(scheme, _)| scheme) {
        Some("oss") => "OSS",
        Some("cos") => "COS",
        Some("s3") if uri.contains("s3_region=") => "S3",
        Some("s3") => "S3_COMPATIBLE",
        _ => return Err(format!("ob-operator cannot restore from {uri}")),
    };
    let secret = destination.credentials_secret.as_ref().ok_or(format!(
        "{uri} has no credentialsSecret for ob-operator to read"
    ))?;
    Ok(json!({"type": kind, "path": uri, "ossAccessSecret": secret}))
}

/// The point as ob-operator's `until`: an SCN (a time's nanoseconds since the epoch, which no session time
/// zone can shift; ob-operator hands a timestamp to OceanBase as text), or everything archived.
fn until(point: &RecoveryPoint) -> Result<Value, String> {
    if point.latest == Some(true) {
        return Ok(json!({"unlimited": true}));
    }
    if let Some(scn) = point.scn {
        return Ok(json!({"scn": scn.to_string()}));
    }
    let time: jiff::Timestamp = point
        .time
        .as_deref()
        .ok_or("a restore needs a point (--to)")?
        .parse()
        .map_err(|e| format!("the point is not a time: {e}"))?;
    Ok(json!({"scn": time.as_nanosecond().to_string()}))
}

/// A pool per zone, each with the one unit: ob-operator makes the unit configs and pools itself, so an
/// existing pool or unit config cannot be named. The primary zone's groups (`z1;z2,z3`) become priorities,
/// the first group highest; zones it does not list come last.
fn pools(resources: &TenantResources, primary_zone: Option<&str>) -> Result<Vec<Value>, String> {
    if resources.pool_name.is_some() || resources.unit_name.is_some() {
        return Err(
            "ob-operator makes the new tenant's unit config and pools itself: give --unit-cpu and \
             --unit-memory, not --pool or --unit-name"
                .into(),
        );
    }
    let unit = resources
        .unit
        .as_ref()
        .ok_or("an OBTenant needs its unit: --unit-cpu and --unit-memory")?;
    if resources.zones.is_empty() {
        return Err("an OBTenant needs its zones: --zones".into());
    }
    let mut resource =
        json!({"maxCPU": cpu(unit.max_cpu), "memorySize": quantity(&unit.memory_size)?});
    if let Some(log_disk) = &unit.log_disk_size {
        resource["logDiskSize"] = json!(quantity(log_disk)?);
    }
    let groups: Vec<Vec<&str>> = primary_zone
        .map(|z| z.split(';').map(|g| g.split(',').collect()).collect())
        .unwrap_or_default();
    let priority = |zone: &str| {
        groups
            .iter()
            .position(|group| group.contains(&zone))
            .map_or(1, |at| groups.len() - at + 1)
    };
    Ok(resources
        .zones
        .iter()
        .map(|zone| {
            json!({"zone": zone, "priority": priority(zone), "resource": resource,
                   "type": {"name": "Full", "replica": 1, "isActive": true}})
        })
        .collect())
}

/// CPU cores as a Kubernetes quantity.
fn cpu(cores: f64) -> String {
    if cores.fract() == 0.0 {
        format!("{cores:.0}")
    } else {
        format!("{}m", (cores * 1000.0).round())
    }
}

/// An OceanBase size (`4G`: binary units) as a Kubernetes quantity (`4Gi`).
fn quantity(size: &str) -> Result<String, String> {
    let unit = size.chars().last().filter(|c| matches!(c, 'M' | 'G' | 'T'));
    match unit {
        Some(unit) if size[..size.len() - 1].parse::<u64>().is_ok_and(|n| n > 0) => {
            Ok(format!("{}{unit}i", &size[..size.len() - 1]))
        }
        _ => Err(format!("{size:?} is not a size such as 4G, 512M or 1T")),
    }
}

/// Creates the OBTenant (with --dry-run: has the API server check it against ob-operator's CRD; with
/// --wait: follows it until ob-operator has restored it).
pub async fn create(
    client: &kube::Client,
    namespace: &str,
    tenant: Value,
    args: &RestoreArgs,
    checked: String,
) -> Result<Reply, String> {
    let dry_run = args.dry_run;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &Kind::ObTenant.resource());
    let object: DynamicObject =
        serde_json::from_value(tenant.clone()).map_err(|e| e.to_string())?;
    let name = object.name_any();
    let params = PostParams {
        dry_run,
        ..PostParams::default()
    };
    let said = match api.create(&params, &object).await {
        Ok(_) if dry_run => {
            format!("obtenant/{name}: the API server accepts it (dry run: nothing was created)\n")
        }
        Ok(_) => format!(
            "obtenant/{name} created: ob-operator is to restore the tenant into it and then manage it; \
             follow it with kubectl get obtenant {name} (restoring, then running) or --wait\n"
        ),
        Err(kube::Error::Api(e)) if e.code == 404 => {
            return Err(
                "ob-operator's OBTenant kind is not served here: is ob-operator installed?".into(),
            );
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            return Err(format!(
                "obtenant/{name} exists already: name another with --ob-tenant"
            ));
        }
        Err(e) => return Err(format!("cannot create OBTenant {name}: {e}")),
    };
    let reply = Reply::new(format!("{checked}{said}")).with(&tenant)?;
    if !args.wait {
        return Ok(reply);
    }
    let timeout = crate::actions::timeout(args.timeout.as_deref())?;
    let ended = restored(&api, &name, timeout).await?;
    Ok(reply.and(Reply::new(ended)))
}

/// Follows the OBTenant `name` until ob-operator shows it `running` (said), or its restore failed or it is
/// gone (an error saying which).
async fn restored(
    api: &Api<DynamicObject>,
    name: &str,
    timeout: Option<std::time::Duration>,
) -> Result<String, String> {
    let what = format!("obtenant/{name} to be restored");
    let ended = crate::actions::until(timeout, &what, || async {
        let tenant = api
            .get_opt(name)
            .await
            .map_err(|e| format!("cannot read OBTenant {name}: {e}"))?;
        let state = tenant
            .as_ref()
            .map(|t| ob_backup_operator::oboperator::text(t, &["status", "status"]).unwrap_or(""));
        Ok(verdict(name, state))
    })
    .await?;
    match ended {
        Ended::Running(said) => Ok(said),
        Ended::Failed(why) => Err(format!("{why}{}", restore_job_state(api, name).await)),
        Ended::Gone(why) => Err(why),
    }
}

/// How a followed OBTenant ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// ob-operator restored it and runs it.
    Running(String),
    /// Its restore (or its creation) failed.
    Failed(String),
    /// Deleted: a canceled restore deletes it.
    Gone(String),
}

/// What the OBTenant `name` in `state` (ob-operator's `status.status`; `None`: it is gone) says: ended, or
/// still under way (`None`: empty until ob-operator takes it up, then `restoring`).
fn verdict(name: &str, state: Option<&str>) -> Option<Ended> {
    match state {
        None => Some(Ended::Gone(format!(
            "obtenant/{name} is gone: its restore was canceled (spec.source.restore.cancel) or the object \
             was deleted"
        ))),
        Some("running") => Some(Ended::Running(format!(
            "obtenant/{name} running: ob-operator restored the tenant and manages it\n"
        ))),
        Some(state) if state.contains("fail") => Some(Ended::Failed(format!(
            "obtenant/{name} is {state}: see kubectl describe obtenant {name}"
        ))),
        Some(_) => None,
    }
}

/// What ob-operator's restore job of the OBTenant `name` (`<name>-restore`) says, for a failure's message.
async fn restore_job_state(tenants: &Api<DynamicObject>, name: &str) -> String {
    let Some(namespace) = tenants.namespace() else {
        return String::new();
    };
    let restores: Api<DynamicObject> = Api::namespaced_with(
        tenants.clone().into_client(),
        namespace,
        &Kind::ObTenantRestore.resource(),
    );
    let job = restores
        .get_opt(&format!("{name}-restore"))
        .await
        .ok()
        .flatten();
    job.as_ref()
        .and_then(|job| ob_backup_operator::oboperator::text(job, &["status", "status"]))
        .map(|status| format!(" (its restore job {name}-restore: {status})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ob_backup_operator::api::{
        common::PasswordSecret,
        recovery_task::{RecoverySource, RecoveryTarget, RecoveryTaskSpec},
        resources::UnitSpec,
    };

    fn strategy(data: &str, log: &str) -> BackupStrategy {
        serde_json::from_value(json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "prod", "namespace": "ob"},
            "spec": {"cluster": {"name": "prod", "obCluster": {"name": "test"}}, "tenants": ["T1"],
                     "dataDestination": {"uri": data, "credentialsSecret": "keys"},
                     "logDestination": {"uri": log, "credentialsSecret": "keys"},
                     "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}},
        }))
        .expect("a strategy")
    }

    fn task(
        until: RecoveryPoint,
        resources: TenantResources,
        primary: Option<&str>,
    ) -> RecoveryTask {
        RecoveryTask::new(
            "r",
            RecoveryTaskSpec {
                source: RecoverySource {
                    strategy_ref: None,
                    tenant: "T1".into(),
                    cluster_name: None,
                    data_destination: None,
                    log_destination: None,
                    logical: None,
                },
                target: RecoveryTarget {
                    cluster: strategy("file:///d", "file:///l").spec.cluster,
                    tenant: "t1r".into(),
                    resources: Some(resources),
                    logical: None,
                    primary_zone: primary.map(str::to_string),
                    locality: None,
                },
                until: Some(until),
                decryption: Some(PasswordSecret {
                    password_secret: "backup-password".into(),
                }),
                activate: true,
                cancel: false,
                retry: 0,
                drill: None,
                job_id: None,
            },
        )
    }

    fn unit() -> TenantResources {
        TenantResources {
            pool_name: None,
            unit_name: None,
            unit: Some(UnitSpec {
                max_cpu: 1.5,
                memory_size: "4G".into(),
                log_disk_size: Some("12G".into()),
            }),
            unit_num: 2,
            zones: vec!["z1".into(), "z2".into(), "z3".into()],
        }
    }

    fn at(time: &str) -> RecoveryPoint {
        RecoveryPoint {
            time: Some(time.into()),
            scn: None,
            latest: None,
        }
    }

    #[test]
    fn an_nfs_strategy_restores_from_its_tenant_directories_at_the_points_scn() {
        let strategy = strategy(
            "file:///ob-backup/prod/data",
            "file:///ob-backup/prod/archive",
        );
        let task = task(at("2026-11-20T08:30:00Z"), unit(), Some("z2;z1,z3"));
        let made = ob_tenant(&task, &strategy, "t1r").expect("an OBTenant");
        let restore = &made["spec"]["source"]["restore"];
        assert_eq!(
            restore["bakDataSource"],
            json!({"type": "NFS", "path": "prod/data/t1"})
        );
        assert_eq!(
            restore["archiveSource"],
            json!({"type": "NFS", "path": "prod/archive/t1"})
        );
        assert_eq!(restore["bakEncryptionSecret"], "backup-password");
        let scn = jiff::Timestamp::from_second(1_795_163_400)
            .expect("a time")
            .as_nanosecond();
        assert_eq!(restore["until"], json!({"scn": scn.to_string()}));
        assert_eq!(made["spec"]["obcluster"], "test");
        assert_eq!(made["spec"]["tenantName"], "t1r");
        assert_eq!(made["spec"]["unitNum"], 2);
        assert_eq!(made["spec"]["tenantRole"], "PRIMARY");
        let pools = made["spec"]["pools"].as_array().expect("pools");
        let priorities: Vec<_> = pools
            .iter()
            .map(|p| (p["zone"].clone(), p["priority"].clone()))
            .collect();
        assert_eq!(
            priorities,
            [
                (json!("z1"), json!(2)),
                (json!("z2"), json!(3)),
                (json!("z3"), json!(2))
            ]
        );
        assert_eq!(
            pools[0]["resource"],
            json!({"maxCPU": "1500m", "memorySize": "4Gi", "logDiskSize": "12Gi"})
        );
    }

    #[test]
    fn object_stores_keep_their_uri_and_secret_and_latest_is_everything_archived() {
        let strategy = strategy(
            "s3://bucket/data?host=s3.example.com&s3_region=eu-west-1",
            "s3://bucket/archive?host=minio.internal",
        );
        let latest = RecoveryPoint {
            time: None,
            scn: None,
            latest: Some(true),
        };
        let made = ob_tenant(&task(latest, unit(), None), &strategy, "t1r").expect("an OBTenant");
        let restore = &made["spec"]["source"]["restore"];
        assert_eq!(
            restore["bakDataSource"],
            json!({"type": "S3", "path": "s3://bucket/data/t1?host=s3.example.com&s3_region=eu-west-1",
                   "ossAccessSecret": "keys"})
        );
        assert_eq!(restore["archiveSource"]["type"], "S3_COMPATIBLE");
        assert_eq!(restore["until"], json!({"unlimited": true}));
        assert!(
            made["spec"]["pools"]
                .as_array()
                .expect("pools")
                .iter()
                .all(|p| p["priority"] == 1)
        );
    }

    #[test]
    fn what_ob_operator_cannot_do_is_refused_naming_the_way_out() {
        let outside = strategy("file:///mnt/nfs/data", "file:///mnt/nfs/archive");
        let refused = ob_tenant(
            &task(at("2026-11-20T08:30:00Z"), unit(), None),
            &outside,
            "t1r",
        );
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("not under /ob-backup")),
            "{refused:?}"
        );
        let nfs = strategy("file:///ob-backup/d", "file:///ob-backup/l");
        let mut pool = unit();
        pool.pool_name = Some("pool1".into());
        let refused = ob_tenant(&task(at("2026-11-20T08:30:00Z"), pool, None), &nfs, "t1r");
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("not --pool")),
            "{refused:?}"
        );
        assert_eq!(
            quantity("4Gi"),
            Err("\"4Gi\" is not a size such as 4G, 512M or 1T".into())
        );
        assert_eq!(cpu(2.0), "2");
        assert!(quantity("0G").is_err(), "a size of nothing");
        // What a logical restore through an OBTenant takes, and an OBTenant made here would silently drop.
        for (flag, line) in [
            (
                "--target-cluster",
                "--ob-tenant t1r --target-cluster other --target-secret s",
            ),
            ("--name", "--ob-tenant t1r --name mine"),
        ] {
            let args = crate::fixtures::restore_args(&format!(
                "--tenant T1 --to latest --target-tenant t1r {line}"
            ));
            let refused = target_cluster(&nfs, &args);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains(&format!("{flag} does not apply"))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn waiting_ends_only_on_running_a_failure_or_the_tenant_gone() {
        let ended = |state| verdict("t1r", state);
        for under_way in ["", "creating", "restoring"] {
            assert_eq!(ended(Some(under_way)), None, "{under_way}");
        }
        assert!(matches!(ended(Some("running")), Some(Ended::Running(_))));
        for failed in ["restore failed", "failed"] {
            assert!(
                matches!(ended(Some(failed)), Some(Ended::Failed(ref m)) if m.contains(failed)),
                "{failed}"
            );
        }
        assert!(matches!(ended(None), Some(Ended::Gone(ref m)) if m.contains("canceled")));
    }
}
