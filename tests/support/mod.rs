//! Helpers shared by the integration test binaries.
#![allow(dead_code)]

pub mod catalog;
pub mod cluster;
pub mod invariants;
pub mod proxy;
pub mod recovery;
pub mod rng;
pub mod simulator;
pub mod world;
