//! What the integration tests share: the control plane, obsim clusters, worlds, invariants.

pub mod catalog;
pub mod chart;
pub mod cluster;
pub mod drill;
pub mod image;
pub mod invariants;
/// The logical-backup tests' real engine and schema, shared with `tests/logical`.
#[path = "../../logical/schema.rs"]
#[allow(dead_code)]
pub mod logical_schema;
pub mod ob_operator;
pub mod plugin;
pub mod prometheus;
pub mod proxy;
pub mod recovery;
pub mod rng;
pub mod s3;
pub mod second;
#[path = "../../logical/seekdb.rs"]
#[allow(dead_code)]
pub mod seekdb;
pub mod simulator;
pub mod tenant_router;
pub mod tools;
pub mod typed;
pub mod world;
