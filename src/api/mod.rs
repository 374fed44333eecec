//! The five custom resources of group `obbackup.dev`, version `v1alpha1`. The CRD YAML in `crds/` is
//! generated from these types (`ob-backup-operator crdgen`).

// Clippy reads the repeated `type_ = "string"` of kube's `printcolumn(...)` lists as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod backup_strategy;
pub mod backup_task;
pub mod cleanup_task;
pub mod common;
pub mod log_backup;
pub mod recovery_task;

pub use backup_strategy::{
    BackupStrategy, BackupStrategySpec, BackupStrategyStatus, StrategyPhase,
};
pub use backup_task::{BackupTask, BackupTaskPhase, BackupTaskSpec, BackupTaskStatus};
pub use cleanup_task::{CleanupTask, CleanupTaskPhase, CleanupTaskSpec, CleanupTaskStatus};
pub use log_backup::{LogBackup, LogBackupPhase, LogBackupSpec, LogBackupStatus};
pub use recovery_task::{RecoveryTask, RecoveryTaskPhase, RecoveryTaskSpec, RecoveryTaskStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD with the file name it is written to under `crds/`.
pub fn all_crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("backupstrategy.yaml", BackupStrategy::crd()),
        ("backuptask.yaml", BackupTask::crd()),
        ("logbackup.yaml", LogBackup::crd()),
        ("cleanuptask.yaml", CleanupTask::crd()),
        ("recoverytask.yaml", RecoveryTask::crd()),
    ]
}
