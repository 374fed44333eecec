//! Which reads are whole. A busy cluster is read every active poll, but most of what a read returns —
//! destinations, delete policies, units, backup sets, archive pieces — changes only when a statement or a
//! job's end changes it. Those parts are read whole at the idle cadence, after any poke (a statement sent,
//! an object starting to watch), and at once when what changes by itself (tenants, archive rounds, jobs,
//! delete jobs, restores) shows a change; every other read asks only for that and carries the rest over from
//! the last whole read. A read that shows a change is followed by a whole one in the same cycle, so what
//! a job's end changes (its backup set) is never shown stale beside it.

use std::{
    hash::{BuildHasher, BuildHasherDefault, DefaultHasher},
    sync::Arc,
    time::Duration,
};

use tokio::time::Instant;

use super::change::CHECKPOINT_GRAIN_NS;
use crate::oceanbase::Snapshot;

/// What the observer remembers of its last reads.
#[derive(Default)]
pub(super) struct Cadence {
    /// The last whole read, and when it was made.
    whole: Option<(Arc<Snapshot>, Instant)>,
    /// [`news`] of the last read, whole or not.
    news: Option<u64>,
}

impl Cadence {
    /// Whether the next read must be whole: none yet, a poke since the last read, or the last whole one
    /// at least `idle` old.
    pub fn wants_whole(&self, poked: bool, idle: Duration, now: Instant) -> bool {
        poked
            || self
                .whole
                .as_ref()
                .is_none_or(|(_, at)| now.duration_since(*at) >= idle)
    }

    /// Completes `partial`, a read that was not whole, with the last whole read's parts; `None` when it shows
    /// a change since the last read (a whole read must follow now) or there is no whole read to carry from.
    pub fn complete(&mut self, mut partial: Snapshot) -> Option<Snapshot> {
        let news = news(&partial);
        let (whole, _) = self.whole.as_ref()?;
        if self.news != Some(news) {
            return None;
        }
        partial.carry_slow_parts(whole);
        Some(partial)
    }

    /// Records a read: its news, and the read itself when it was whole.
    pub fn record(&mut self, snapshot: &Arc<Snapshot>, whole: bool, now: Instant) {
        self.news = Some(news(snapshot));
        if whole {
            self.whole = Some((snapshot.clone(), now));
        }
    }

    /// Forgets every read (the cluster could not be read: the next read is whole).
    pub fn forget(&mut self) {
        *self = Self::default();
    }
}

/// A hash of what changes by itself and may change what a whole read returns: tenants, archive rounds (the
/// checkpoint to the minute), which jobs, delete jobs and restores there are and their states. Not the
/// progress of a running job, which moves on every read.
fn news(snapshot: &Snapshot) -> u64 {
    let rounds: Vec<_> = snapshot
        .rounds
        .iter()
        .map(|r| {
            (
                r.tenant_id,
                r.round_id,
                &r.status,
                r.checkpoint_scn / CHECKPOINT_GRAIN_NS,
            )
        })
        .collect();
    let jobs: Vec<_> = snapshot
        .jobs
        .iter()
        .map(|j| (j.tenant_id, j.job_id, &j.status))
        .collect();
    let cleans: Vec<_> = snapshot
        .clean_jobs
        .iter()
        .map(|j| (j.tenant_id, j.job_id, &j.status))
        .collect();
    let restores: Vec<_> = snapshot
        .restores
        .iter()
        .map(|r| (r.job_id, &r.status, r.finished))
        .collect();
    BuildHasherDefault::<DefaultHasher>::default().hash_one((
        &snapshot.tenants,
        rounds,
        jobs,
        cleans,
        restores,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::{ArchiveRound, State, TenantRow};

    const IDLE: Duration = Duration::from_secs(30);

    fn read(checkpoint_scn: u64, round_status: &str) -> Snapshot {
        Snapshot {
            tenants: vec![TenantRow {
                id: 1002,
                name: "t1".into(),
                status: State::of("NORMAL"),
                role: State::of("PRIMARY"),
                archivelog: true,
            }],
            rounds: vec![ArchiveRound {
                tenant_id: 1002,
                round_id: 1,
                status: State::of(round_status),
                start_scn: 1,
                checkpoint_scn,
                path: "file:///a".into(),
                comment: String::new(),
            }],
            ..Snapshot::default()
        }
    }

    fn whole(checkpoint_scn: u64) -> Snapshot {
        Snapshot {
            units: vec![(1002, "10.0.0.1".into())],
            data_dests: vec![(1002, "file:///d".into())],
            ..read(checkpoint_scn, "DOING")
        }
    }

    #[test]
    fn the_first_read_a_poke_and_the_idle_cadence_make_a_read_whole() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        assert!(cadence.wants_whole(false, IDLE, now), "nothing read yet");
        cadence.record(&Arc::new(whole(0)), true, now);
        assert!(!cadence.wants_whole(false, IDLE, now + IDLE / 2));
        assert!(cadence.wants_whole(true, IDLE, now + IDLE / 2), "poked");
        assert!(cadence.wants_whole(false, IDLE, now + IDLE), "idle cadence");
        cadence.forget();
        assert!(cadence.wants_whole(false, IDLE, now), "after a failed read");
    }

    #[test]
    fn a_partial_read_without_news_carries_the_whole_reads_parts_over() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        assert_eq!(cadence.complete(read(0, "DOING")), None, "nothing to carry");
        cadence.record(&Arc::new(whole(0)), true, now);
        // The checkpoint moving within the minute is no news.
        let completed = cadence.complete(read(1_000, "DOING")).expect("carried");
        assert_eq!(completed.units, whole(0).units);
        assert_eq!(completed.data_dests, whole(0).data_dests);
        assert_eq!(
            completed.rounds,
            read(1_000, "DOING").rounds,
            "its own parts kept"
        );
    }

    #[test]
    fn a_partial_read_with_news_asks_for_a_whole_one() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        cadence.record(&Arc::new(whole(0)), true, now);
        assert_eq!(
            cadence.complete(read(0, "INTERRUPTED")),
            None,
            "a round's state"
        );
        assert_eq!(
            cadence.complete(read(CHECKPOINT_GRAIN_NS, "DOING")),
            None,
            "the checkpoint's minute"
        );
        // News is measured against the last read, whole or not.
        cadence.record(&Arc::new(read(0, "INTERRUPTED")), false, now);
        assert!(cadence.complete(read(0, "INTERRUPTED")).is_some());
    }
}
