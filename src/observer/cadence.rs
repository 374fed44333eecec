//! How much each read asks for ([`Reach`]). A busy cluster is read every active poll, but most of what a
//! read returns changes rarely: destinations, delete policies, units, backup sets and archive pieces change
//! only when a statement or a job's end changes them; tenants, archive rounds and delete jobs change by
//! themselves, but no one waits on them to the second while only backup jobs are followed closely.
//!
//! - A read is whole at the idle cadence, after any poke (a statement sent, an object starting to watch),
//!   and at once when what changes by itself shows a change: a read that shows one is followed by a whole
//!   one in the same cycle, so what a job's end changes (its backup set) is never shown stale beside it.
//! - It also reads tenants, rounds and delete jobs ([`Reach::Changing`]) when the last such read is
//!   [`PollIntervals::changing`] old, or when someone waits on them: an active object that does not just
//!   follow a backup job ([`Interest::follows_a_job`]), or a round or delete job under way.
//! - Every other read asks only for the jobs ([`Reach::Jobs`]) and carries the rest over.

use std::sync::Arc;

use tokio::time::Instant;

use super::PollIntervals;
#[cfg(doc)]
use super::interest::Interest;
use crate::oceanbase::{Reach, Snapshot};

/// What the observer remembers of its last reads.
#[derive(Default)]
pub(super) struct Cadence {
    /// The last whole read, and when it was made.
    whole: Option<(Arc<Snapshot>, Instant)>,
    /// The last read of at least [`Reach::Changing`], and when it was made.
    changing: Option<(Arc<Snapshot>, Instant)>,
    /// [`news`] of the last read, whatever its reach.
    news: Option<u64>,
}

impl Cadence {
    /// How much the next read asks for: whole when none was yet, after a poke, or when the last whole one is
    /// `intervals.idle` old; what changes by itself when `waited_on` or due; else the jobs.
    pub fn reach(
        &self,
        poked: bool,
        waited_on: bool,
        intervals: &PollIntervals,
        now: Instant,
    ) -> Reach {
        let due = |read: &Option<(Arc<Snapshot>, Instant)>, every| {
            read.as_ref()
                .is_none_or(|(_, at)| now.duration_since(*at) >= every)
        };
        if poked || due(&self.whole, intervals.idle) {
            Reach::Whole
        } else if waited_on || due(&self.changing, intervals.changing()) {
            Reach::Changing
        } else {
            Reach::Jobs
        }
    }

    /// Completes `partial`, a read of less than [`Reach::Whole`], with the parts of the last reads that had
    /// them; `None` when it shows a change since the last read (a whole read must follow now) or there is
    /// nothing to carry from.
    pub fn complete(&mut self, mut partial: Snapshot, reach: Reach) -> Option<Snapshot> {
        let (whole, _) = self.whole.as_ref()?;
        if reach < Reach::Changing {
            let (changing, _) = self.changing.as_ref()?;
            partial.carry_changing_parts(changing);
        }
        if self.news != Some(news(&partial)) {
            return None;
        }
        partial.carry_slow_parts(whole);
        Some(partial)
    }

    /// Records a read of `reach`: its news, and the read itself for what it holds.
    pub fn record(&mut self, snapshot: &Arc<Snapshot>, reach: Reach, now: Instant) {
        self.news = Some(news(snapshot));
        if reach >= Reach::Changing {
            self.changing = Some((snapshot.clone(), now));
        }
        if reach == Reach::Whole {
            self.whole = Some((snapshot.clone(), now));
        }
    }

    /// Forgets every read (the cluster could not be read: the next read is whole).
    pub fn forget(&mut self) {
        *self = Self::default();
    }
}

/// A hash of what changes by itself and may change what a whole read returns: tenants, archive rounds,
/// which jobs, delete jobs and restores there are and their states. Not the progress of a running job, which
/// moves on every read, nor an archive's checkpoint, which moves all the time: what follows it (the pieces)
/// is read whole at the idle cadence, and no one shows it fresher than that.
fn news(snapshot: &Snapshot) -> u64 {
    let rounds: Vec<_> = snapshot
        .rounds
        .iter()
        .map(|r| (r.tenant_id, r.round_id, &r.status))
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
    crate::fingerprint::of((&snapshot.tenants, rounds, jobs, cleans, restores))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::{ArchiveRound, State, TenantRow};

    const INTERVALS: PollIntervals = PollIntervals {
        active: std::time::Duration::from_secs(1),
        idle: std::time::Duration::from_secs(30),
    };

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
        let idle = INTERVALS.idle;
        let mut cadence = Cadence::default();
        let reach = |c: &Cadence, poked, at| c.reach(poked, false, &INTERVALS, at);
        assert_eq!(
            reach(&cadence, false, now),
            Reach::Whole,
            "nothing read yet"
        );
        cadence.record(&Arc::new(whole(0)), Reach::Whole, now);
        assert_eq!(reach(&cadence, false, now + idle / 2), Reach::Changing);
        assert_eq!(reach(&cadence, true, now + idle / 2), Reach::Whole, "poked");
        assert_eq!(
            reach(&cadence, false, now + idle),
            Reach::Whole,
            "idle cadence"
        );
        cadence.forget();
        assert_eq!(
            reach(&cadence, false, now),
            Reach::Whole,
            "after a failed read"
        );
    }

    #[test]
    fn what_changes_by_itself_is_read_when_due_or_waited_on_else_only_the_jobs() {
        let now = Instant::now();
        let every = INTERVALS.changing();
        assert_eq!(every, INTERVALS.active * crate::timing::CHANGING_EVERY);
        let mut cadence = Cadence::default();
        cadence.record(&Arc::new(whole(0)), Reach::Whole, now);
        let soon = now + INTERVALS.active;
        assert_eq!(cadence.reach(false, false, &INTERVALS, soon), Reach::Jobs);
        assert_eq!(
            cadence.reach(false, true, &INTERVALS, soon),
            Reach::Changing,
            "waited on"
        );
        assert_eq!(
            cadence.reach(false, false, &INTERVALS, now + every),
            Reach::Changing,
            "due"
        );
        cadence.record(&Arc::new(read(0, "DOING")), Reach::Changing, now + every);
        assert_eq!(
            cadence.reach(false, false, &INTERVALS, now + every + INTERVALS.active),
            Reach::Jobs,
            "a read of what changes by itself restarts its period"
        );
        let short = PollIntervals {
            active: INTERVALS.active,
            idle: INTERVALS.active * 2,
        };
        assert_eq!(
            short.changing(),
            short.idle,
            "never later than the idle poll"
        );
    }

    #[test]
    fn a_partial_read_without_news_carries_the_whole_reads_parts_over() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        assert_eq!(
            cadence.complete(read(0, "DOING"), Reach::Changing),
            None,
            "nothing to carry"
        );
        cadence.record(&Arc::new(whole(0)), Reach::Whole, now);
        // The checkpoint moving is no news.
        let completed = cadence
            .complete(read(1_000, "DOING"), Reach::Changing)
            .expect("carried");
        assert_eq!(completed.units, whole(0).units);
        assert_eq!(completed.data_dests, whole(0).data_dests);
        assert_eq!(
            completed.rounds,
            read(1_000, "DOING").rounds,
            "its own parts kept"
        );
        let jobs_only = Snapshot {
            progress: vec![crate::oceanbase::BackupProgress {
                tenant_id: 1002,
                job_id: 1,
                input_bytes: 1,
                output_bytes: 1,
                tablet_count: 2,
                finish_tablet_count: 1,
                path: String::new(),
            }],
            ..Snapshot::default()
        };
        let completed = cadence
            .complete(jobs_only.clone(), Reach::Jobs)
            .expect("carried");
        assert_eq!(
            completed.rounds,
            whole(0).rounds,
            "carried from the last read that had them"
        );
        assert_eq!(completed.tenants, whole(0).tenants);
        assert_eq!(completed.units, whole(0).units);
        assert_eq!(completed.progress, jobs_only.progress, "its own parts kept");
    }

    #[test]
    fn restores_only_mirrored_are_carried_but_not_claimed_as_read() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        let restore = crate::oceanbase::RestoreJobRow {
            job_id: 1,
            tenant_name: "copy".into(),
            backup_tenant_name: "t1".into(),
            backup_cluster_name: "obcluster".into(),
            status: State::of("RESTORE_WAIT_LS"),
            restore_scn: 1,
            start: None,
            finish: None,
            total_bytes: 0,
            finish_bytes: 0,
            description: "by hand".into(),
            comment: String::new(),
            finished: false,
        };
        let read_with_restores = Snapshot {
            restores: vec![restore.clone()],
            restores_read: true,
            ..whole(0)
        };
        cadence.record(&Arc::new(read_with_restores), Reach::Whole, now);
        let completed = cadence
            .complete(Snapshot::default(), Reach::Jobs)
            .expect("no news");
        assert_eq!(completed.restores, vec![restore]);
        assert!(!completed.restores_read, "their absence proves nothing");
        let followed = Snapshot {
            restores_read: true,
            ..Snapshot::default()
        };
        assert_eq!(
            cadence.complete(followed, Reach::Jobs),
            None,
            "a restore read and gone is news"
        );
    }

    #[test]
    fn a_partial_read_with_news_asks_for_a_whole_one() {
        let now = Instant::now();
        let mut cadence = Cadence::default();
        cadence.record(&Arc::new(whole(0)), Reach::Whole, now);
        assert_eq!(
            cadence.complete(read(0, "INTERRUPTED"), Reach::Changing),
            None,
            "a round's state"
        );
        assert!(
            cadence
                .complete(read(3_600_000_000_000, "DOING"), Reach::Changing)
                .is_some(),
            "the checkpoint moving an hour is no news"
        );
        let ended = Snapshot {
            jobs: vec![crate::oceanbase::BackupJobRow {
                tenant_id: 1002,
                job_id: 1,
                backup_set_id: 1,
                backup_type: State::of("FULL"),
                status: State::of("COMPLETED"),
                result: 0,
                comment: String::new(),
                description: String::new(),
                path: String::new(),
                start: None,
                end: None,
            }],
            ..Snapshot::default()
        };
        assert_eq!(cadence.complete(ended, Reach::Jobs), None, "a job's state");
        // News is measured against the last read, whatever its reach.
        cadence.record(&Arc::new(read(0, "INTERRUPTED")), Reach::Changing, now);
        assert!(
            cadence
                .complete(read(0, "INTERRUPTED"), Reach::Changing)
                .is_some()
        );
    }
}
