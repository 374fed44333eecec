//! What an observer saw of its cluster ([`Observation`]), and a measure read from it that the controllers
//! and the cluster's metrics share: how far a tenant's log archiving lags ([`archive_lag`]).

use std::sync::Arc;

use jiff::Timestamp;

use crate::oceanbase::{ArchiveRound, Snapshot, scn_time};

/// The last thing an observer saw.
#[derive(Clone, Debug)]
pub enum Observation {
    /// Nothing read yet.
    Unknown,
    /// A snapshot and when it was read.
    Seen {
        snapshot: Arc<Snapshot>,
        at: Timestamp,
    },
    /// The cluster could not be read (the reason is redacted).
    Unreachable { reason: String, since: Timestamp },
}

/// How far a tenant's log archiving lags at `now`: the age of its checkpoint while archiving is meant to run
/// — DOING, but also starting, INTERRUPTED or SUSPENDed, when the lag keeps growing and matters most. `None`
/// once archiving is stopping or stopped, or before a first checkpoint.
pub fn archive_lag(round: &ArchiveRound, now: Timestamp) -> Option<jiff::SignedDuration> {
    let archiving = !round.status.is_stopped();
    (archiving && round.checkpoint_scn > 0).then(|| {
        now.duration_since(scn_time(round.checkpoint_scn))
            .max(jiff::SignedDuration::ZERO)
    })
}
