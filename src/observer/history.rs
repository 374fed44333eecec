//! Finished jobs outlive a poll: OceanBase's policy delete job often starts and ends between two reads, and
//! so may a backup or a restore someone started by hand. The observer remembers such finished jobs for a
//! day and reads only the history that ended since shortly before the newest end it has seen
//! (docs/reference/oceanbase-interface.md §5.3).

use jiff::{SignedDuration, Timestamp};

use crate::oceanbase::{BackupJobRow, CleanJobRow, ExternalSince, RestoreJobRow, Snapshot};

/// How long finished jobs are remembered, and how far back the first read looks.
const KEEP: SignedDuration = SignedDuration::from_hours(24);
/// Jobs reach the history table a little after they end: read back this far behind the newest end seen.
const OVERLAP: SignedDuration = SignedDuration::from_mins(10);

/// A job row the observer can remember once it has ended.
pub trait Job: Clone {
    /// What tells two jobs apart (tenant and job id).
    fn key(&self) -> (i64, i64);
    /// When it ended, once it has.
    fn end(&self) -> Option<Timestamp>;
    /// Whether it has ended.
    fn is_final(&self) -> bool;
}

/// A tenant's job, keyed by (tenant, job id), ended when its status is final.
macro_rules! tenant_job {
    ($($row:ty),*) => {$(
        impl Job for $row {
            fn key(&self) -> (i64, i64) {
                (self.tenant_id, self.job_id)
            }
            fn end(&self) -> Option<Timestamp> {
                self.end
            }
            fn is_final(&self) -> bool {
                self.status.is_final()
            }
        }
    )*};
}

tenant_job!(CleanJobRow, BackupJobRow);

impl Job for RestoreJobRow {
    /// Restores are the sys tenant's jobs.
    fn key(&self) -> (i64, i64) {
        (1, self.job_id)
    }
    fn end(&self) -> Option<Timestamp> {
        self.finish
    }
    fn is_final(&self) -> bool {
        self.finished
    }
}

/// The finished jobs of one kind an observer remembers.
#[derive(Debug)]
pub struct History<J> {
    finished: Vec<J>,
    newest_end: Option<Timestamp>,
}

impl<J> Default for History<J> {
    fn default() -> Self {
        Self {
            finished: Vec::new(),
            newest_end: None,
        }
    }
}

impl<J: Job> History<J> {
    /// Where the next read of the history table starts.
    pub fn read_since(&self, now: Timestamp) -> Timestamp {
        self.newest_end
            .map_or(crate::clock::minute_floor(now - KEEP), |end| end - OVERLAP)
    }

    /// Records that the history was read up to a job that ended at `end` (of ours or not): the next read
    /// starts behind it even when no job started elsewhere has ended yet.
    pub fn saw_end(&mut self, end: Option<Timestamp>) {
        self.newest_end = self.newest_end.max(end);
    }

    /// Folds a fresh read into what is remembered and returns every job to show: the fresh rows, then the
    /// remembered finished jobs the read no longer returned.
    pub fn merge(&mut self, fresh: Vec<J>) -> Vec<J> {
        for job in fresh.iter().filter(|j| j.is_final()) {
            self.finished.retain(|j| j.key() != job.key());
            self.finished.push(job.clone());
            self.newest_end = self.newest_end.max(job.end());
        }
        if let Some(newest) = self.newest_end {
            self.finished
                .retain(|j| j.end().is_none_or(|end| end >= newest - KEEP));
        }
        let mut jobs = fresh;
        for job in &self.finished {
            if !jobs.iter().any(|j| j.key() == job.key()) {
                jobs.push(job.clone());
            }
        }
        jobs
    }
}

/// What an observer remembers: every finished delete job, and the finished backup jobs and restores that
/// no object of ours started (mirrored by strategies, [`crate::names::started_here`]).
#[derive(Debug, Default)]
pub struct Histories {
    clean: History<CleanJobRow>,
    external_jobs: History<BackupJobRow>,
    external_restores: History<RestoreJobRow>,
}

impl Histories {
    /// Where the next read of the delete job history starts.
    pub fn clean_since(&self, now: Timestamp) -> Timestamp {
        self.clean.read_since(now)
    }

    /// Where the next read of the jobs started elsewhere starts.
    pub fn external_since(&self, now: Timestamp) -> ExternalSince {
        ExternalSince {
            jobs: self.external_jobs.read_since(now),
            restores: self.external_restores.read_since(now),
        }
    }

    /// Folds a fresh read into what is remembered: the snapshot then lists the remembered jobs the read
    /// no longer returned (the jobs started elsewhere only when `external` were read).
    pub fn fold(&mut self, snapshot: &mut Snapshot, external: bool) {
        snapshot.clean_jobs = self.clean.merge(std::mem::take(&mut snapshot.clean_jobs));
        if external {
            self.external_jobs.saw_end(snapshot.newest_job_end);
            snapshot.jobs = merge_external(&mut self.external_jobs, &mut snapshot.jobs, |j| {
                &j.description
            });
            snapshot.restores =
                merge_external(&mut self.external_restores, &mut snapshot.restores, |r| {
                    &r.description
                });
        }
    }
}

/// The rows of ours as read, then the ones started elsewhere merged with what `history` remembers.
fn merge_external<J: Job>(
    history: &mut History<J>,
    rows: &mut Vec<J>,
    description: impl Fn(&J) -> &str,
) -> Vec<J> {
    let (mut ours, elsewhere): (Vec<J>, Vec<J>) = std::mem::take(rows)
        .into_iter()
        .partition(|j| crate::names::started_here(description(j)));
    ours.extend(history.merge(elsewhere));
    ours
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;

    fn job(id: i64, status: &str, end: Option<i64>) -> CleanJobRow {
        CleanJobRow {
            tenant_id: 1002,
            job_id: id,
            initiator_tenant_id: 1002,
            kind: State::of("DELETE OBSOLETE BACKUP"),
            parameter: 0,
            status: State::of(status),
            task_count: 0,
            success_task_count: 0,
            result: 0,
            comment: String::new(),
            start: None,
            end: end.map(|s| Timestamp::from_second(s).expect("time")),
        }
    }

    #[test]
    fn finished_jobs_are_remembered_for_a_day_and_reads_start_behind_the_newest_end() {
        let mut history = History::<CleanJobRow>::default();
        let now = Timestamp::from_second(1_000_000).expect("time");
        assert_eq!(
            history.read_since(now),
            Timestamp::from_second(1_000_000 - 86_400 - 40).expect("time"),
            "a day before, to the minute"
        );
        let shown = history.merge(vec![
            job(1, "COMPLETED", Some(100_000)),
            job(2, "DOING", None),
        ]);
        assert_eq!(shown.len(), 2);
        assert_eq!(
            history.read_since(now),
            Timestamp::from_second(100_000).expect("time") - OVERLAP
        );
        // The next read returns only the running job (now finished and moved) and a new one.
        let shown = history.merge(vec![job(2, "COMPLETED", Some(100_010))]);
        let ids: Vec<i64> = shown.iter().map(|j| j.job_id).collect();
        assert_eq!(ids, vec![2, 1]);
        // A day later the first job is forgotten.
        let shown = history.merge(vec![job(3, "FAILED", Some(100_000 + 86_400 + 5))]);
        let ids: Vec<i64> = shown.iter().map(|j| j.job_id).collect();
        assert_eq!(ids, vec![3, 2]);
    }

    #[test]
    fn a_read_that_saw_only_our_jobs_still_moves_the_mirrors_window() {
        let mut histories = Histories::default();
        let now = Timestamp::from_second(1_000_050).expect("time");
        let day_before = Timestamp::from_second(1_000_050 - 86_400 - 30).expect("time");
        assert_eq!(
            histories.external_since(now).jobs,
            day_before,
            "to the minute"
        );
        let ended = Timestamp::from_second(999_000).expect("time");
        let mut snapshot = Snapshot {
            newest_job_end: Some(ended),
            ..Snapshot::default()
        };
        histories.fold(&mut snapshot, false);
        assert_eq!(
            histories.external_since(now).jobs,
            day_before,
            "not read for mirrors"
        );
        histories.fold(&mut snapshot, true);
        assert_eq!(histories.external_since(now).jobs, ended - OVERLAP);
        assert!(snapshot.jobs.is_empty(), "nothing listed that was not read");
    }
}
