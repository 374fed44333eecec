//! The logical wing: the driver of the tasks whose work runs in this process rather than in OceanBase — a
//! logical BackupTask's dump and a logical RecoveryTask's load ([`crate::logical`]) — and how that work's
//! state reads as a task's health. Each kind's adapter ([`drive::WorkTask`]) stays with the kind, as its
//! physical adapter ([`super::task::Task`]) does; the logical BackupStrategy is the strategy's second method
//! and stays with the strategy.

pub mod drive;
pub mod work;

pub use drive::{Decided, Dereferenced, WorkTask, drive};
