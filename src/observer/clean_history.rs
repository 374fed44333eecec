//! Delete jobs outlive a poll: OceanBase's policy job often starts and ends between two reads, so the
//! observer remembers finished delete jobs for a day and reads only the history that ended since shortly
//! before the newest end it has seen (docs/reference/oceanbase-interface.md §5.3).

use jiff::{SignedDuration, Timestamp};

use crate::oceanbase::CleanJobRow;

/// How long finished delete jobs are remembered, and how far back the first read looks.
const KEEP: SignedDuration = SignedDuration::from_hours(24);
/// Jobs reach the history table a little after they end: read back this far behind the newest end seen.
const OVERLAP: SignedDuration = SignedDuration::from_mins(10);

/// The finished delete jobs an observer remembers.
#[derive(Debug, Default)]
pub struct CleanHistory {
    finished: Vec<CleanJobRow>,
    newest_end: Option<Timestamp>,
}

impl CleanHistory {
    /// Where the next read of the history table starts.
    pub fn read_since(&self, now: Timestamp) -> Timestamp {
        self.newest_end.map_or(now - KEEP, |end| end - OVERLAP)
    }

    /// Folds a fresh read into what is remembered and returns every job to show: the fresh rows, then the
    /// remembered finished jobs the read no longer returned.
    pub fn merge(&mut self, fresh: Vec<CleanJobRow>) -> Vec<CleanJobRow> {
        for job in fresh.iter().filter(|j| j.status.is_final()) {
            self.finished
                .retain(|j| !(j.tenant_id == job.tenant_id && j.job_id == job.job_id));
            self.finished.push(job.clone());
            self.newest_end = self.newest_end.max(job.end);
        }
        if let Some(newest) = self.newest_end {
            self.finished
                .retain(|j| j.end.is_none_or(|end| end >= newest - KEEP));
        }
        let mut jobs = fresh;
        for job in &self.finished {
            if !jobs
                .iter()
                .any(|j| j.tenant_id == job.tenant_id && j.job_id == job.job_id)
            {
                jobs.push(job.clone());
            }
        }
        jobs
    }
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
        let mut history = CleanHistory::default();
        let now = Timestamp::from_second(1_000_000).expect("time");
        assert_eq!(history.read_since(now), now - KEEP);
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
}
