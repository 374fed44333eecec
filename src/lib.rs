//! ob-backup-operator: OceanBase backup and recovery as Kubernetes resources.

pub mod api;
pub mod background;
pub mod clock;
pub mod controller;
pub mod crash;
pub mod crdgen;
#[cfg(test)]
mod docgen;
pub mod drill;
pub mod fingerprint;
pub mod http;
pub mod logical;
pub mod metrics;
pub mod names;
pub mod oboperator;
pub mod observer;
pub mod oceanbase;
pub mod readiness;
pub mod reason;
pub mod run;
pub mod schedule;
pub mod shards;
pub mod storage;
pub mod sync;
pub mod telemetry;
pub mod timing;
pub mod windows;
