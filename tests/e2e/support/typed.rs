//! The World in the crate's own types: create a `BackupStrategy`, read a `BackupTask`, wait for a typed
//! phase — instead of JSON paths that a renamed field would silently break.

use ob_backup_operator::reason::Reason;
use std::fmt::Debug;

use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{
    Api, Resource,
    api::{ListParams, Patch, PatchParams},
    core::object::HasStatus,
};
use ob_backup_operator::{
    api::{
        BackupStrategy, BackupTask, BackupTaskPhase, CleanupTask, CleanupTaskPhase, LogBackup,
        LogBackupPhase, LogBackupStatus, RecoveryTask, RecoveryTaskPhase,
        backup_strategy::StrategyPhase,
    },
    controller::status::StatusView,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    cluster::{eventually, eventually_seen},
    world::{WAIT, World},
};

/// The label on every object a strategy creates.
const STRATEGY_LABEL: &str = "obbackup.dev/strategy";

/// A kind whose status has a phase.
pub trait Phased:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasStatus
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
{
    type Phase: PartialEq + Debug + Copy;
    fn phase_in(status: &Self::Status) -> Option<Self::Phase>;
}

macro_rules! phased {
    ($($kind:ty => $phase:ty),+) => {$(
        impl Phased for $kind {
            type Phase = $phase;
            fn phase_in(status: &Self::Status) -> Option<$phase> {
                status.phase
            }
        }
    )+};
}

phased!(
    BackupStrategy => StrategyPhase,
    BackupTask => BackupTaskPhase,
    LogBackup => LogBackupPhase,
    CleanupTask => CleanupTaskPhase,
    RecoveryTask => RecoveryTaskPhase
);

/// The status ("True", "False") of the condition `type_` among `conditions`, if present.
pub fn condition_of<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a str> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// The phase an object's status shows, if any.
pub fn phase<K: Phased>(object: &K) -> Option<K::Phase> {
    object.status().and_then(K::phase_in)
}

impl World {
    fn api<K: Phased>(&self) -> Api<K> {
        Api::namespaced(self.admin.clone(), &self.namespace)
    }

    /// Creates (or updates) `object` in the world's namespace.
    pub async fn create<K: Phased>(&self, object: &K) {
        self.apply(serde_json::to_value(object).expect("JSON"))
            .await;
    }

    /// The object as the API server stores it now.
    pub async fn read<K: Phased>(&self, name: &str) -> Option<K> {
        self.api::<K>().get_opt(name).await.ok().flatten()
    }

    /// Every `K` the strategy `strategy` created.
    pub async fn children<K: Phased>(&self, strategy: &str) -> Vec<K> {
        self.api::<K>()
            .list(&ListParams::default().labels(&format!("{STRATEGY_LABEL}={strategy}")))
            .await
            .expect("list a strategy's children")
            .items
    }

    /// Waits until `name` is in `phase`; returns its status.
    pub async fn reaches<K: Phased>(&self, name: &str, phase: K::Phase) -> K::Status
    where
        K::Status: Clone + Debug,
    {
        eventually_seen(
            &format!("{} {name} to be {phase:?}", K::kind(&())),
            WAIT,
            || async {
                let object = self.read::<K>(name).await.ok_or("no such object")?;
                let status = object.status().ok_or("no status")?;
                if K::phase_in(status) == Some(phase) {
                    return Ok(status.clone());
                }
                Err(format!("{status:?}"))
            },
        )
        .await
    }

    /// Waits until strategy `strategy`'s LogBackup of `tenant` archives (`InProgress`); returns its status.
    pub async fn archiving(&self, strategy: &str, tenant: &str) -> LogBackupStatus {
        self.reaches::<LogBackup>(
            &format!("{strategy}-{tenant}-log"),
            LogBackupPhase::InProgress,
        )
        .await
    }

    /// Waits until `name` is Stalled for `reason`; returns its status.
    pub async fn stalled_on<K: Phased>(&self, name: &str, reason: Reason) -> K::Status
    where
        K::Status: StatusView + Clone,
    {
        eventually(
            &format!("{} {name} Stalled {reason:?}", K::kind(&())),
            WAIT,
            || async {
                let object = self.read::<K>(name).await?;
                let status = object.status()?;
                let stalled = status
                    .conditions()
                    .iter()
                    .any(|c| c.type_ == "Stalled" && c.status == "True" && c.reason == reason);
                stalled.then(|| status.clone())
            },
        )
        .await
    }

    /// Merges `spec` into the spec of `name`.
    pub async fn change_spec<K: Phased>(&self, name: &str, spec: serde_json::Value) {
        self.api::<K>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(&serde_json::json!({ "spec": spec })),
            )
            .await
            .expect("patch spec");
    }
}
