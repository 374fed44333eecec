//! ob-backup-operator: OceanBase backup and recovery as Kubernetes resources.

pub mod api;
pub mod crdgen;
