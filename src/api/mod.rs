//! The five custom resources of group `obbackup.dev`, version `v1alpha1`. The CRD YAML in `crds/` is
//! generated from these types (`ob-backup-operator crdgen`).

// Clippy reads the repeated `type_ = "string"` of kube's `printcolumn(...)` lists as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod alert;
pub mod backup_strategy;
pub mod backup_task;
pub mod cleanup_task;
pub mod common;
pub mod drill;
pub mod log_backup;
pub mod logical;
pub mod recovery_task;
pub mod resources;

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
        (
            "backupstrategy.yaml",
            with_bounded_name(BackupStrategy::crd()),
        ),
        ("backuptask.yaml", BackupTask::crd()),
        ("logbackup.yaml", LogBackup::crd()),
        ("cleanuptask.yaml", CleanupTask::crd()),
        ("recoverytask.yaml", RecoveryTask::crd()),
    ]
}

/// The longest BackupStrategy name: the name is the value of the label that marks the strategy's children,
/// and a label value is at most 63 characters.
pub const MAX_STRATEGY_NAME: usize = 63;

/// The CRD with a root-level rule refusing names longer than [`MAX_STRATEGY_NAME`] (a rule on the spec
/// cannot see the name).
fn with_bounded_name(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::ValidationRule;
    let rule = ValidationRule {
        rule: format!("size(self.metadata.name) <= {MAX_STRATEGY_NAME}"),
        message: Some(format!(
            "a BackupStrategy name is at most {MAX_STRATEGY_NAME} characters: it labels the strategy's children"
        )),
        ..ValidationRule::default()
    };
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            schema
                .x_kubernetes_validations
                .get_or_insert_with(Vec::new)
                .push(rule.clone());
        }
    }
    crd
}
