//! One integration test's world: a namespace, an obsim cluster with its connection Secret `ob`, the
//! operator binary running as its ServiceAccount; and the manifests tests apply.

use std::{sync::Arc, time::Duration};

use kube::{
    Client,
    api::{DynamicObject, ListParams, Patch, PatchParams},
};
use ob_backup_operator::api::{
    BackupTask, BackupTaskSpec, LogBackup, LogBackupSpec,
    backup_task::BackupMode,
    common::{ClusterConnection, StorageDestination, StrategyReference},
};
use obsim::sim::{Node, Simulator};
use serde_json::{Value, json};

use super::{
    cluster::{ControlPlane, OperatorProcess, api_for, apply, delete_namespace, eventually},
    simulator::{self, connection_secret},
};

pub const WAIT: Duration = Duration::from_secs(90);
pub const GIB: u64 = 1 << 30;

/// One test's world: a namespace, an obsim cluster with its connection Secret `ob`, the operator. It
/// dereferences to [`Objects`]: `world.apply(…)`, `world.namespace`.
pub struct World {
    pub objects: Objects,
    pub node: Arc<Node>,
    /// The simulator serving `node`: another cluster started in it restores from `node`'s backups.
    pub simulator: Arc<Simulator>,
    pub operator: OperatorProcess,
    pub plane: ControlPlane,
    /// Extra arguments the operator runs with (a simulated clock).
    pub operator_args: Vec<String>,
}

impl World {
    /// A world whose cluster runs the tests' profile ([`simulator::profile`]).
    pub async fn new(prefix: &str, tenants: &[&str], bytes: u64, speed: f64) -> Option<Self> {
        Self::running(prefix, tenants, bytes, speed, simulator::profile()).await
    }

    /// A world whose cluster runs `version`.
    pub async fn running(
        prefix: &str,
        tenants: &[&str],
        bytes: u64,
        speed: f64,
        version: obsim::model::Version,
    ) -> Option<Self> {
        let plane = ControlPlane::get()?;
        let admin = plane.admin().await;
        let namespace = plane.namespace(prefix).await;
        let clock = obsim::clock::Clock::new(jiff::Timestamp::now(), speed);
        let simulator = Simulator::new();
        let node =
            simulator::start_in(&simulator, "obcluster", tenants, bytes, clock, version).await;
        connection_secret(&admin, &namespace, "ob", &node).await;
        let operator = plane.start_operator(&namespace, &namespace, &format!("{namespace}-a"));
        Some(Self {
            objects: Objects { admin, namespace },
            node,
            simulator,
            operator,
            plane,
            operator_args: Vec::new(),
        })
    }

    /// A world whose OBServers write their `file://` backups under a fresh directory (the share), which the
    /// operator reads at the same place (`--file-destination-root`). Returns the world and the share.
    pub async fn with_file_share(
        prefix: &str,
        tenants: &[&str],
        bytes: u64,
        speed: f64,
    ) -> Option<(Self, std::path::PathBuf)> {
        Self::with_file_share_at(
            prefix,
            tenants,
            bytes,
            (jiff::Timestamp::now(), speed),
            false,
        )
        .await
    }

    /// [`Self::with_file_share`] with the cluster's clock at `start` running `speed` times real time, and the
    /// operator's too when `operator_simulated` (else the operator runs on real time).
    pub async fn with_file_share_at(
        prefix: &str,
        tenants: &[&str],
        bytes: u64,
        (start, speed): (jiff::Timestamp, f64),
        operator_simulated: bool,
    ) -> Option<(Self, std::path::PathBuf)> {
        let plane = ControlPlane::get()?;
        let admin = plane.admin().await;
        let namespace = plane.namespace(prefix).await;
        let share = share_of(&namespace);
        std::fs::create_dir_all(&share).expect("the share");
        let real = jiff::Timestamp::now();
        let clock = obsim::clock::Clock::new(start, speed);
        let simulator = Simulator::new();
        let version = simulator::profile();
        let node =
            simulator::start_in(&simulator, "obcluster", tenants, bytes, clock, version).await;
        simulator::cluster(&node).files = Some(obsim::model::files::Files::new(&share));
        connection_secret(&admin, &namespace, "ob", &node).await;
        let mut operator_args = vec![
            "--file-destination-root".to_string(),
            share.display().to_string(),
        ];
        if operator_simulated {
            operator_args.push("--simulated-clock".to_string());
            operator_args.push(format!("{start}@{real}*{speed}"));
        }
        let operator = plane.start_operator_args(
            &namespace,
            &namespace,
            &format!("{namespace}-a"),
            &operator_args,
        );
        Some((
            Self {
                objects: Objects { admin, namespace },
                node,
                simulator,
                operator,
                plane,
                operator_args,
            },
            share,
        ))
    }

    /// A world on a simulated clock: obsim's cluster (running `version`) starts at `start` and runs `speed`
    /// times real time, and so does the operator's clock.
    pub async fn simulated(
        prefix: &str,
        tenants: &[&str],
        bytes: u64,
        (start, speed): (jiff::Timestamp, f64),
        version: obsim::model::Version,
    ) -> Option<Self> {
        let plane = ControlPlane::get()?;
        let admin = plane.admin().await;
        let namespace = plane.namespace(prefix).await;
        let real = jiff::Timestamp::now();
        let clock = obsim::clock::Clock::new(start, speed);
        let simulator = Simulator::new();
        let node =
            simulator::start_in(&simulator, "obcluster", tenants, bytes, clock, version).await;
        connection_secret(&admin, &namespace, "ob", &node).await;
        let operator_args = vec![
            "--simulated-clock".to_string(),
            format!("{start}@{real}*{speed}"),
        ];
        let operator = plane.start_operator_args(
            &namespace,
            &namespace,
            &format!("{namespace}-a"),
            &operator_args,
        );
        Some(Self {
            objects: Objects { admin, namespace },
            node,
            simulator,
            operator,
            plane,
            operator_args,
        })
    }

    /// The simulated cluster's time.
    pub fn sim_now(&self) -> jiff::Timestamp {
        simulator::cluster(&self.node).now()
    }

    /// Waits (in real time) until the simulated cluster's clock reaches `at`.
    pub async fn sim_until(&self, at: jiff::Timestamp) {
        let (now, speed) = {
            let cluster = simulator::cluster(&self.node);
            (cluster.now(), cluster.clock.speed())
        };
        let ahead = at.duration_since(now).as_secs_f64().max(0.0);
        let timeout = Duration::from_secs_f64(ahead / speed.max(1e-3)) + WAIT;
        eventually(&format!("simulated time {at}"), timeout, || async {
            (self.sim_now() >= at).then_some(())
        })
        .await;
    }

    /// Stops the operator (SIGTERM, releasing its lease).
    pub async fn stop_operator(&mut self) {
        self.operator.terminate(Duration::from_secs(20)).await;
    }

    /// Starts the operator again (after [`Self::stop_operator`] or a kill).
    pub fn start_operator(&mut self, identity: &str) {
        self.operator = self.plane.start_operator_args(
            &self.namespace,
            &self.namespace,
            &format!("{}-{identity}", self.namespace),
            &self.operator_args,
        );
    }

    /// Restarts the operator with the crash point `point` armed.
    pub fn arm(&mut self, point: &str) {
        self.operator.kill();
        self.operator = self.plane.start_operator_crashing(
            &self.namespace,
            &self.namespace,
            &format!("{}-armed", self.namespace),
            &self.operator_args,
            point,
        );
    }

    /// Waits until the operator has exited (an armed crash point aborted it).
    pub async fn crashed(&mut self, point: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        while self.operator.is_running() {
            assert!(
                std::time::Instant::now() < deadline,
                "the operator never reached crash point {point}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = self.operator.log_text();
        assert!(
            log.contains("crash point armed") && log.contains(point),
            "the operator exited, but not at {point}"
        );
    }

    pub fn restart_operator(&mut self, identity: &str) {
        self.operator.kill();
        self.start_operator(identity);
    }

    /// Everything the operator left for people to read: its log, its metrics, every object's status, every
    /// Event.
    pub async fn everything_written(&self) -> String {
        let mut text = self.operator.log_text();
        let (_, metrics) = self
            .operator
            .get("/metrics")
            .expect("the operator's metrics");
        text.push_str(&metrics);
        for kind in [
            "BackupStrategy",
            "BackupTask",
            "LogBackup",
            "CleanupTask",
            "RecoveryTask",
        ] {
            for object in self.list(kind).await {
                text.push_str(&object.data["status"].to_string());
            }
        }
        let (events, _) = api_for(
            &self.admin,
            &self.namespace,
            &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"}),
        );
        for event in events
            .list(&ListParams::default())
            .await
            .expect("events")
            .items
        {
            text.push_str(&event.data.to_string());
        }
        text
    }

    /// Deletes the namespace and the file share, if the world had one.
    pub async fn done(self) {
        delete_namespace(&self.admin, &self.namespace).await;
        let _ = std::fs::remove_dir_all(share_of(&self.namespace));
    }
}

/// Where a world's OBServers and operator share `file://` backups ([`World::with_file_share`]).
fn share_of(namespace: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("obbackup-share-{namespace}"))
}

/// The objects of one namespace, read and written as the admin: applying manifests, reading status, waiting
/// for a phase. Tests that start the operator some other way (from its image) use it without a [`World`].
pub struct Objects {
    pub admin: Client,
    pub namespace: String,
}

impl Objects {
    /// Server-side applies `object` (one of the crate's kinds, or a raw manifest) in the namespace.
    pub async fn apply(&self, object: impl serde::Serialize) {
        let object = serde_json::to_value(object).expect("JSON");
        apply(&self.admin, &self.namespace, &object)
            .await
            .unwrap_or_else(|e| panic!("apply {object}: {e}"));
    }

    pub async fn get(&self, kind: &str, name: &str) -> Option<DynamicObject> {
        let (api, _) = api_for(
            &self.admin,
            &self.namespace,
            &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
        );
        api.get_opt(name).await.ok().flatten()
    }

    pub async fn status(&self, kind: &str, name: &str) -> Value {
        self.get(kind, name)
            .await
            .map(|o| o.data["status"].clone())
            .unwrap_or(Value::Null)
    }

    /// Waits until the object's status has `phase`, returning the status.
    pub async fn phase(&self, kind: &str, name: &str, phase: &str) -> Value {
        eventually(&format!("{kind} {name} to be {phase}"), WAIT, || async {
            let status = self.status(kind, name).await;
            (status["phase"] == phase).then_some(status)
        })
        .await
    }

    pub async fn patch_spec(&self, kind: &str, name: &str, spec: Value) {
        let (api, _) = api_for(
            &self.admin,
            &self.namespace,
            &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
        );
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({ "spec": spec })),
        )
        .await
        .expect("patch spec");
    }

    pub async fn delete(&self, kind: &str, name: &str) {
        let (api, _) = api_for(
            &self.admin,
            &self.namespace,
            &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
        );
        api.delete(name, &Default::default())
            .await
            .unwrap_or_else(|e| panic!("delete {kind} {name}: {e}"));
    }

    /// Every object of `kind` in the world's namespace.
    pub async fn list(&self, kind: &str) -> Vec<DynamicObject> {
        let (api, _) = api_for(
            &self.admin,
            &self.namespace,
            &json!({"apiVersion": "obbackup.dev/v1alpha1", "kind": kind}),
        );
        api.list(&ListParams::default()).await.expect("list").items
    }

    /// Waits until there is at least one `kind` and every one is in `phase`; returns them.
    pub async fn all_in_phase(&self, kind: &str, phase: &str) -> Vec<DynamicObject> {
        eventually(&format!("every {kind} {phase}"), WAIT, || async {
            let objects = self.list(kind).await;
            (!objects.is_empty() && objects.iter().all(|o| o.data["status"]["phase"] == phase))
                .then_some(objects)
        })
        .await
    }

    pub async fn uid(&self, kind: &str, name: &str) -> String {
        self.get(kind, name)
            .await
            .and_then(|o| o.metadata.uid)
            .expect("uid")
    }
}

impl std::ops::Deref for World {
    type Target = Objects;

    fn deref(&self) -> &Objects {
        &self.objects
    }
}

pub fn cluster() -> Value {
    json!({"name": "obcluster", "connectionSecret": "ob"})
}

/// A BackupStrategy `name` over tenant1 with destinations of its own and a full backup yearly (none soon);
/// `spec` fields replace or add to those.
pub fn strategy(name: &str, spec: Value) -> Value {
    let mut object = json!({
        "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
        "metadata": {"name": name},
        "spec": {
            "cluster": cluster(),
            "tenants": ["tenant1"],
            "dataDestination": {"uri": format!("file:///backup/{name}/data")},
            "logDestination": {"uri": format!("file:///backup/{name}/archive")},
            "schedule": {"timeZone": "UTC", "full": "0 1 1 1 *"},
        },
    });
    if let (Some(base), Some(extra)) = (object["spec"].as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    object
}

/// The connection to the world's cluster.
pub fn connection() -> ClusterConnection {
    ClusterConnection {
        name: "obcluster".into(),
        connection_secret: Some("ob".into()),
        ob_cluster: None,
    }
}

fn destination(uri: String) -> Option<StorageDestination> {
    Some(StorageDestination {
        uri,
        credentials_secret: None,
    })
}

/// A LogBackup of `tenant` on the world's cluster, to `file:///backup/<tenant>/archive`, running.
pub fn log_backup(name: &str, tenant: &str) -> LogBackup {
    LogBackup::new(
        name,
        log_backup_spec(tenant, |spec| {
            spec.cluster = Some(connection());
            spec.log_destination = destination(format!("file:///backup/{tenant}/archive"));
        }),
    )
}

/// A BackupTask of `tenant` on the world's cluster, to `file:///backup/<tenant>/data`.
pub fn backup_task(name: &str, tenant: &str, mode: BackupMode) -> BackupTask {
    BackupTask::new(
        name,
        BackupTaskSpec {
            strategy_ref: None,
            cluster: Some(Box::new(connection())),
            data_destination: destination(format!("file:///backup/{tenant}/data")),
            tenant: tenant.into(),
            mode,
            plus_archivelog: false,
            method: Default::default(),
            logical: None,
            cancel: false,
            second_copy: None,
            job_id: None,
        },
    )
}

/// The spec of a LogBackup of `tenant` with the schema's defaults, then `edit`ed.
fn log_backup_spec(tenant: &str, edit: impl FnOnce(&mut LogBackupSpec)) -> LogBackupSpec {
    let mut spec: LogBackupSpec =
        serde_json::from_value(json!({ "tenant": tenant })).expect("a spec with its defaults");
    edit(&mut spec);
    spec
}

pub fn condition(status: &Value, type_: &str) -> Option<String> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

/// A BackupTask ("Back up Now") of `tenant` through strategy `strategy`.
pub fn strategy_backup_task(name: &str, strategy: &str, tenant: &str) -> BackupTask {
    BackupTask::new(
        name,
        BackupTaskSpec {
            strategy_ref: Some(StrategyReference {
                name: strategy.into(),
            }),
            cluster: None,
            data_destination: None,
            tenant: tenant.into(),
            mode: BackupMode::Full,
            plus_archivelog: false,
            method: Default::default(),
            logical: None,
            cancel: false,
            second_copy: None,
            job_id: None,
        },
    )
}

/// A LogBackup of `tenant` through strategy `strategy`.
pub fn strategy_log_backup(name: &str, strategy: &str, tenant: &str) -> LogBackup {
    LogBackup::new(
        name,
        log_backup_spec(tenant, |spec| {
            spec.strategy_ref = Some(StrategyReference {
                name: strategy.into(),
            });
        }),
    )
}
