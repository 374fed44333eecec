//! One controller per kind. What they share: the [`Context`] (`context.rs`), what was sent lately
//! (`gate.rs`), running them (`runtime/`), the [`Reconcile`] trait and the helpers every reconcile uses
//! (`reconcile.rs`), conditions, references and status writing; the generic drivers of the work OceanBase
//! runs (`task.rs`) and of the work this process runs (`logical/`).

pub mod backup_strategy;
pub mod backup_task;
pub mod catalog;
pub mod cleanup_task;
pub mod coexistence;
pub mod conditions;
pub mod context;
pub mod destination_checks;
pub mod error;
#[cfg(test)]
pub mod fixtures;
pub mod gate;
pub mod guarded;
#[cfg(test)]
mod in_process;
pub mod initial_list;
pub mod log_backup;
pub mod logical;
pub mod overview;
pub mod own_writes;
pub mod ownership;
pub mod reading;
pub mod reconcile;
pub mod recovery_task;
pub mod references;
pub mod runtime;
pub mod secret_checks;
pub mod status;
pub mod storage_owners;
pub mod submit;
pub mod task;
pub mod write_budget;

pub use context::{Context, FIELD_MANAGER, Settings};
pub use error::{Error, namespace_of};
pub use gate::{Gate, Kind};
pub use reconcile::{Reconcile, next_action, refuse, statement_sent, summarize};
pub use runtime::{CONCURRENT_RECONCILES, KINDS, Start, WatchScope, run_all};
