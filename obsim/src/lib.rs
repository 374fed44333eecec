//! obsim: a simulator of OceanBase 4.x's backup, archive, cleanup and restore SQL interface, spoken
//! over the MySQL protocol, faithful to docs/reference/oceanbase-interface.md. A bare section
//! number (§N) in this crate's comments is one of that page's sections.

pub mod clock;
pub mod control;
pub mod engine;
pub mod error;
pub mod model;
pub mod schema;
pub mod sim;
pub mod sql;
pub mod tenancy;
pub mod views;
pub mod wire;
