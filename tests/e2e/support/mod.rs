//! What the integration tests share: the control plane, obsim clusters, worlds, invariants.

pub mod catalog;
pub mod cluster;
pub mod invariants;
pub mod proxy;
pub mod recovery;
pub mod rng;
pub mod s3;
pub mod second;
pub mod simulator;
pub mod tools;
pub mod typed;
pub mod world;
