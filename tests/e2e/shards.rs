//! Sharding across replicas: two replicas split four shards (one namespace each), every backup runs once
//! whoever reconciles it, and a replica killed while its backups run leaves its shards to the other, which
//! finishes them without a second job. A replica caches only its own shards' strategy-made tasks (and
//! every task without a shard label), and one that takes a shard over caches its tasks and runs its
//! schedules on, once each.

use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use ob_backup_operator::{
    api::backup_task::BackupMode,
    shards::{SHARD_LABEL, lease_field_manager, lease_name},
};
use serde_json::json;

use crate::support::{
    cluster::{
        ControlPlane, OperatorProcess, delete_namespace, eventually, leader_of, random_name,
    },
    simulator::{self, connection_secret, jobs_with_description},
    world::{GIB, Objects, WAIT, backup_task, log_backup, strategy},
};

const SHARDS: u32 = 4;

/// A replica of a two-replica, four-shard deployment watching `namespaces`.
fn replica(
    plane: &ControlPlane,
    namespaces: &[String],
    lease: &str,
    identity: &str,
) -> OperatorProcess {
    let extra = ["--shards", &SHARDS.to_string(), "--replicas", "2"].map(String::from);
    plane.start_operator_args(&namespaces.join(","), lease, identity, &extra)
}

/// The BackupTasks in `operator`'s caches, as its metric says.
fn tasks_cached(operator: &OperatorProcess) -> Option<f64> {
    operator.metric("obbackup_cached_objects{kind=\"BackupTask\"}")
}

/// The shards `operator` holds, as its metric says.
fn shards_held(operator: &OperatorProcess) -> Option<f64> {
    operator.metric("obbackup_shards_held")
}

/// Two replicas of a four-shard deployment over one namespace per shard, each holding two shards, and an
/// obsim cluster (its clock at 30×) with tenant `i` for namespace `i` and the `extra` tenants, each of
/// `bytes`.
struct Split {
    plane: ControlPlane,
    admin: Client,
    namespaces: Vec<String>,
    tenants: Vec<String>,
    places: Vec<Objects>,
    node: std::sync::Arc<obsim::sim::Node>,
    /// Kept for the cluster's life.
    _sim: std::sync::Arc<obsim::sim::Simulator>,
    lease: String,
    a: OperatorProcess,
    b: OperatorProcess,
}

impl Split {
    async fn start(prefix: &str, extra: &[&str], bytes: u64) -> Option<Self> {
        let plane = ControlPlane::get()?;
        let admin: Client = plane.admin().await;
        let namespaces = plane.namespace_per_shard(prefix, SHARDS).await;
        let tenants: Vec<String> = (0..SHARDS).map(|i| format!("tenant{i}")).collect();
        let mut names: Vec<&str> = tenants.iter().map(String::as_str).collect();
        names.extend(extra);
        let clock = obsim::clock::Clock::new(jiff::Timestamp::now(), 30.0);
        let sim = obsim::sim::Simulator::new();
        let node = simulator::start_in(
            &sim,
            "obcluster",
            &names,
            bytes,
            clock,
            simulator::profile(),
        )
        .await;
        let places: Vec<Objects> = namespaces
            .iter()
            .map(|namespace| Objects {
                admin: admin.clone(),
                namespace: namespace.clone(),
            })
            .collect();
        for place in &places {
            connection_secret(&admin, &place.namespace, "ob", &node).await;
        }
        let lease = namespaces[0].clone();
        let a = replica(&plane, &namespaces, &lease, "replica-a");
        let b = replica(&plane, &namespaces, &lease, "replica-b");
        eventually("each replica to hold two shards", WAIT, || async {
            (shards_held(&a) == Some(2.0) && shards_held(&b) == Some(2.0)).then_some(())
        })
        .await;
        Some(Self {
            plane,
            admin,
            namespaces,
            tenants,
            places,
            node,
            _sim: sim,
            lease,
            a,
            b,
        })
    }
}

#[tokio::test]
async fn two_replicas_split_the_shards_and_a_killed_ones_backups_finish_once_on_the_other() {
    // 8 GiB at 30× takes long enough that a kill lands while the backups run.
    let Some(split) = Split::start("shard", &[], 8 * GIB).await else {
        return;
    };
    let Split {
        plane,
        admin,
        namespaces,
        tenants,
        places,
        node,
        lease,
        mut a,
        b,
        ..
    } = split;

    for (place, tenant) in places.iter().zip(&tenants) {
        place.apply(log_backup("archive", tenant)).await;
    }
    for place in &places {
        place.phase("LogBackup", "archive", "InProgress").await;
        place
            .apply(backup_task(
                "full",
                &tenant_of(place, &places, &tenants),
                BackupMode::Full,
            ))
            .await;
    }
    // Every backup is under way (its job listed), then replica a dies without giving its leases back.
    for place in &places {
        eventually("the backup's job to be listed", WAIT, || async {
            place.status("BackupTask", "full").await["jobId"]
                .is_number()
                .then_some(())
        })
        .await;
    }
    let mut holders = Vec::new();
    for shard in 0..SHARDS {
        let lease = lease_name(&lease, shard);
        holders.push(leader_of(&admin, plane.operator_namespace(), &lease).await);
    }
    // Each holder took its Lease as a field manager of its own (the conflict the race test relies on).
    let leases: Api<Lease> = Api::namespaced(admin.clone(), plane.operator_namespace());
    for (shard, holder) in (0..SHARDS).zip(&holders) {
        let holder = holder.as_deref().expect("every shard held");
        let taken = leases
            .get(&lease_name(&lease, shard))
            .await
            .expect("the Lease");
        let managers: Vec<String> = taken
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|f| f.manager)
            .collect();
        assert!(
            managers.contains(&lease_field_manager(holder)),
            "shard {shard}'s Lease written by {managers:?}, not by {holder}'s own manager"
        );
    }
    let of_a = holders
        .iter()
        .position(|h| h.as_deref() == Some("replica-a"))
        .expect("a shard of replica a");
    assert_eq!(
        holders
            .iter()
            .filter(|h| h.as_deref() == Some("replica-b"))
            .count(),
        2,
        "{holders:?}"
    );
    // Each namespace's objects were reconciled by its shard's holder alone: every Event there so far
    // was published by that replica (a replica that reconciled every shard would show up here).
    for (shard, place) in places.iter().enumerate() {
        let holder = holders[shard].clone().expect("a holder");
        let reporters = event_reporters(&admin, &place.namespace).await;
        assert!(
            !reporters.is_empty() && reporters.iter().all(|r| *r == holder),
            "{}: Events from {reporters:?}, the shard's holder is {holder}",
            place.namespace
        );
    }
    a.kill();
    eventually("replica b to take every shard", WAIT, || async {
        (shards_held(&b) == Some(f64::from(SHARDS))).then_some(())
    })
    .await;
    eventually("replica b to cache every shard's tasks", WAIT, || async {
        (b.metric("obbackup_shards_filled") == Some(f64::from(SHARDS))).then_some(())
    })
    .await;
    for place in &places {
        let status = place.phase("BackupTask", "full", "Completed").await;
        let uid = place.uid("BackupTask", "full").await;
        assert_eq!(
            jobs_with_description(&node, &uid),
            1,
            "one job in {}: {status}\n{}",
            place.namespace,
            b.log_text()
        );
    }
    // After the takeover a new backup in a shard replica a held runs too, once.
    let taken_over = &places[of_a];
    let tenant = tenant_of(taken_over, &places, &tenants);
    taken_over
        .apply(backup_task("after", &tenant, BackupMode::Incremental))
        .await;
    taken_over.phase("BackupTask", "after", "Completed").await;
    let uid = taken_over.uid("BackupTask", "after").await;
    assert_eq!(jobs_with_description(&node, &uid), 1);
    drop(b);
    for namespace in &namespaces {
        delete_namespace(&admin, namespace).await;
    }
}

/// The tenant of the namespace of `place` (tenant i lives in namespace i).
fn tenant_of(place: &Objects, places: &[Objects], tenants: &[String]) -> String {
    let index = places
        .iter()
        .position(|p| p.namespace == place.namespace)
        .unwrap_or(0);
    tenants[index].clone()
}

/// Which replicas published the Events of `namespace`, one entry per Event.
async fn event_reporters(admin: &Client, namespace: &str) -> Vec<String> {
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(admin.clone(), namespace);
    events
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .map(|e| e.reporting_instance.unwrap_or_default())
        .collect()
}

/// Two replicas that take one free Lease at the same moment: each takes it as kube-lease-manager does, by a
/// server-side apply of `holderIdentity` without force, under its own field manager. The API server refuses
/// the second (a conflict), so the first keeps the Lease. Under one field manager shared by the replicas the
/// second apply went through, and both held the shard (seen once when two replicas started together on a
/// loaded machine: one lost its lease three seconds later and exited).
#[tokio::test]
async fn two_replicas_taking_one_free_lease_at_once_cannot_both_hold_it() {
    let Some(plane) = ControlPlane::get() else {
        return;
    };
    let leases: Api<Lease> = Api::namespaced(plane.admin().await, plane.operator_namespace());
    let name = random_name("race");
    let take = |identity: &str| {
        let lease = serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": identity, "leaseDurationSeconds": 15},
        });
        let params = PatchParams {
            field_manager: Some(lease_field_manager(identity)),
            ..PatchParams::default()
        };
        let leases = leases.clone();
        let name = name.clone();
        async move { leases.patch(&name, &params, &Patch::Apply(&lease)).await }
    };
    take("replica-a")
        .await
        .expect("the first takes the free Lease");
    match take("replica-b").await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 409, "{status:?}"),
        other => panic!("the second apply must be refused as a conflict, got {other:?}"),
    }
    let holder = leases
        .get(&name)
        .await
        .expect("the Lease")
        .spec
        .and_then(|s| s.holder_identity);
    assert_eq!(holder.as_deref(), Some("replica-a"));
    leases
        .delete(&name, &Default::default())
        .await
        .expect("deleted");
}

/// The names of the BackupTasks of `place` in `phase`.
async fn tasks_in(place: &Objects, phase: &str) -> Vec<String> {
    place
        .list("BackupTask")
        .await
        .into_iter()
        .filter(|t| t.data["status"]["phase"] == phase)
        .filter_map(|t| t.metadata.name)
        .collect()
}

/// Strategies in four namespaces run a full backup every minute beside a task made by hand, and one
/// strategy-made task has its shard label taken off by hand. Each replica caches only the tasks of its two shards and the one without a
/// shard label; once one replica is killed, the other caches every task, and the strategies of the shards
/// it took over go on making their runs, each run one task and each task one OceanBase job.
#[tokio::test]
async fn each_replica_caches_its_shards_tasks_and_a_takeover_runs_their_schedules_once() {
    let Some(mut split) = Split::start("cached", &["spare"], GIB).await else {
        return;
    };
    let (places, tenants) = (
        std::mem::take(&mut split.places),
        std::mem::take(&mut split.tenants),
    );
    for (index, (place, tenant)) in places.iter().zip(&tenants).enumerate() {
        place
            .apply(strategy(
                &format!("hourly{index}"),
                json!({"tenants": [tenant], "schedule": {"timeZone": "UTC", "full": "* * * * *"}}),
            ))
            .await;
    }
    places[0].apply(log_backup("archive", "spare")).await;
    places[0].phase("LogBackup", "archive", "InProgress").await;
    places[0]
        .apply(backup_task("by-hand", "spare", BackupMode::Full))
        .await;
    places[0].phase("BackupTask", "by-hand", "Completed").await;
    for place in &places {
        eventually("a scheduled run completed", WAIT, || async {
            (!tasks_in(place, "Completed").await.is_empty()).then_some(())
        })
        .await;
    }
    // Each strategy-made task carries its shard's label.
    for (shard, place) in places.iter().enumerate() {
        for task in place.list("BackupTask").await {
            let labels = task.metadata.labels.clone().unwrap_or_default();
            let expected = (task.metadata.name.as_deref() != Some("by-hand"))
                .then(|| format!("{shard}-of-{SHARDS}"));
            assert_eq!(labels.get(SHARD_LABEL), expected.as_ref(), "{task:?}");
        }
    }
    let mut holders = Vec::new();
    for shard in 0..SHARDS {
        let name = lease_name(&split.lease, shard);
        holders.push(leader_of(&split.admin, split.plane.operator_namespace(), &name).await);
    }
    // Each replica caches the tasks of its own shards and the one by hand, nothing else.
    // A strategy-made task whose shard label is taken off by hand moves to the caches of every replica.
    let moved = tasks_in(&places[1], "Completed").await[0].clone();
    let unlabel = json!({"metadata": {"labels": {SHARD_LABEL: null}}});
    Api::<ob_backup_operator::api::BackupTask>::namespaced(
        split.admin.clone(),
        &places[1].namespace,
    )
    .patch(&moved, &PatchParams::default(), &Patch::Merge(&unlabel))
    .await
    .expect("label taken off");
    // Every replica caches the tasks without a shard label, and the labelled ones of its own shards.
    let cached_by = |identity: &'static str| {
        let (holders, places) = (&holders, &places);
        async move {
            let mut count = 0;
            for (shard, place) in places.iter().enumerate() {
                let own = holders[shard].as_deref() == Some(identity);
                count += place
                    .list("BackupTask")
                    .await
                    .iter()
                    .filter(|t| own || !t.labels().contains_key(SHARD_LABEL))
                    .count();
            }
            count
        }
    };
    eventually(
        "each replica to cache its own shards' tasks",
        WAIT,
        || async {
            let (in_a, in_b) = (tasks_cached(&split.a)?, tasks_cached(&split.b)?);
            let (of_a, of_b) = (cached_by("replica-a").await, cached_by("replica-b").await);
            (in_a == of_a as f64 && in_b == of_b as f64 && of_a > 1 && of_b > 1).then_some(())
        },
    )
    .await;
    let before: Vec<Vec<String>> = {
        let mut before = Vec::new();
        for place in &places {
            before.push(
                place
                    .list("BackupTask")
                    .await
                    .into_iter()
                    .filter_map(|t| t.metadata.name)
                    .collect(),
            );
        }
        before
    };
    split.a.kill();
    eventually("replica b to take every shard", WAIT, || async {
        (shards_held(&split.b) == Some(f64::from(SHARDS))).then_some(())
    })
    .await;
    // The shards taken over make new runs, and replica b caches every task.
    for (shard, place) in places.iter().enumerate() {
        if holders[shard].as_deref() != Some("replica-a") {
            continue;
        }
        eventually("a run after the takeover completed", WAIT * 2, || async {
            let done = tasks_in(place, "Completed").await;
            done.iter()
                .any(|t| !before[shard].contains(t))
                .then_some(())
        })
        .await;
    }
    eventually("replica b to cache every task", WAIT, || async {
        let mut all = 0;
        for place in &places {
            all += place.list("BackupTask").await.len();
        }
        (tasks_cached(&split.b)? == all as f64).then_some(())
    })
    .await;
    // Every run is one task (their names are the run's), and every completed task was one OceanBase job.
    for place in &places {
        for name in tasks_in(place, "Completed").await {
            let uid = place.uid("BackupTask", &name).await;
            assert_eq!(
                jobs_with_description(&split.node, &uid),
                1,
                "{}/{name}\n{}",
                place.namespace,
                split.b.log_text()
            );
        }
    }
    drop(split.b);
    for namespace in &split.namespaces {
        delete_namespace(&split.admin, namespace).await;
    }
}
