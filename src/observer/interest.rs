//! What an object watches ([`Interest`]): the tenant, the job or restore it follows, whether it is active
//! (the cluster is then polled fast); and what a read must look for on behalf of all of them.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::change::Watching;

/// What an object watches: a tenant and, for a backup task, the description of its job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub tenant: String,
    pub description: Option<String>,
    /// Whether it is in a state that changes by itself (poll fast).
    pub active: bool,
    /// Whether it follows a restore (restores are read only then).
    pub restore: bool,
    /// For a backup task with an intent or a job: when it was submitted (or its job started). Its job
    /// cannot have ended before, so the finished jobs are searched from the earliest such time on; without
    /// one, the task has no job to find among the finished ones.
    pub since: Option<Timestamp>,
    /// For an overview (an empty `tenant`: a strategy): the tenants it covers, every tenant when empty.
    /// A change in another tenant does not wake it.
    pub overview: Vec<String>,
    /// Whether it follows jobs no object of ours started (a strategy mirroring them, or a mirror): the
    /// finished ones are then read and remembered too.
    pub external: bool,
    /// For an archive's watcher (a log backup, a strategy): the lag over which it alerts. Its tenants'
    /// lags crossing it wake it; their checkpoints moving do not (the figures they show are refreshed on
    /// a timer, [`crate::timing::refresh_recheck`]).
    pub lag_alert: Option<SignedDuration>,
}

impl Interest {
    /// Any change in `tenants` (every tenant when empty): a strategy's overview; `external` when it
    /// mirrors the jobs started elsewhere.
    pub fn overview(tenants: &[String], external: bool) -> Self {
        Self {
            tenant: String::new(),
            description: None,
            active: false,
            restore: false,
            since: None,
            overview: tenants.to_vec(),
            external,
            lag_alert: None,
        }
    }

    /// This interest, woken when a tenant's archive lag crosses `alert`.
    pub fn alerting_over(self, alert: Option<SignedDuration>) -> Self {
        Self {
            lag_alert: alert,
            ..self
        }
    }

    /// Whether it follows a backup job and nothing else changing: a task that submitted one (or mirrors
    /// one) waits on the job's rows alone, while tenants, archive rounds and delete jobs may be a few
    /// seconds old for it ([`crate::oceanbase::Reach`]). A task not submitted yet, a log backup, a cleanup
    /// or a restore waits on those too.
    pub fn follows_a_job(&self) -> bool {
        !self.restore
            && !self.tenant.is_empty()
            && ((self.description.is_some() && self.since.is_some()) || self.external)
    }

    /// Whether a read must carry what changes by itself for it now: it is active and does more than
    /// follow a job.
    pub fn waits_on_changes(&self) -> bool {
        self.active && !self.follows_a_job()
    }
}

/// The descriptions whose finished rows a read must look for — restores, and backup tasks that submitted a
/// job — and the time from which their finished backup jobs are searched.
pub fn finished_rows_wanted<'a>(
    interests: impl Iterator<Item = &'a Interest> + Clone,
    now: Timestamp,
) -> (Vec<String>, Timestamp) {
    let searching = interests.filter(|i| i.restore || i.since.is_some());
    let mut descriptions: Vec<String> = searching
        .clone()
        .filter_map(|i| i.description.clone())
        .collect();
    descriptions.sort();
    descriptions.dedup();
    let since = searching
        .filter_map(|i| i.since)
        .min()
        .unwrap_or_else(|| crate::clock::minute_floor(now))
        .checked_sub(HISTORY_MARGIN)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    (descriptions, since)
}

/// How far before the earliest intent the finished jobs are searched: room for OceanBase's clock being
/// behind the operator's. An hour of history is a handful of rows.
const HISTORY_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// [`finished_rows_wanted`] of the last watch list, kept while the list and the minute stay the same: every
/// read of a cluster asks for the same descriptions until an object starts or stops waiting, and copying and
/// sorting them anew each second cost a read more than the lookup.
#[derive(Default)]
pub struct WantedRows(Option<(Watching, Timestamp, Wanted)>);

/// The descriptions whose finished rows a read looks for, and from when ([`finished_rows_wanted`]).
pub type Wanted = Arc<(Vec<String>, Timestamp)>;

impl WantedRows {
    /// The descriptions and time of [`finished_rows_wanted`] for `watching` at `now`.
    pub fn of(&mut self, watching: &Watching, now: Timestamp) -> Wanted {
        let minute = crate::clock::minute_floor(now);
        if let Some((list, at, wanted)) = &self.0
            && Arc::ptr_eq(list, watching)
            && *at == minute
        {
            return wanted.clone();
        }
        let wanted = Arc::new(finished_rows_wanted(watching.values(), now));
        self.0 = Some((watching.clone(), minute, wanted.clone()));
        wanted
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::observer::ObjectKey;

    fn watching(descriptions: &[&str]) -> Watching {
        let since = Timestamp::from_second(7_200).expect("time");
        Arc::new(
            descriptions
                .iter()
                .map(|d| {
                    let key = ObjectKey {
                        kind: "BackupTask",
                        namespace: "ns".into(),
                        name: d.to_string(),
                    };
                    let interest = Interest {
                        tenant: "t1".into(),
                        description: Some(d.to_string()),
                        since: Some(since),
                        ..Interest::default()
                    };
                    (key, interest)
                })
                .collect::<HashMap<_, _>>(),
        )
    }

    #[test]
    fn the_rows_wanted_are_worked_out_again_only_for_a_new_list_or_minute() {
        let mut wanted = WantedRows::default();
        let now = Timestamp::from_second(36_000).expect("time");
        let list = watching(&["b", "a", "a-copy"]);
        let first = wanted.of(&list, now);
        assert_eq!(first.0, ["a", "a-copy", "b"], "sorted");
        assert_eq!(first.1, Timestamp::from_second(3_600).expect("time"));
        let second = wanted.of(&list, now + jiff::SignedDuration::from_secs(30));
        assert!(
            Arc::ptr_eq(&first, &second),
            "the same list within the minute"
        );
        let other = watching(&["c"]);
        assert_eq!(wanted.of(&other, now).0, ["c"], "a new list");
        let later = wanted.of(&other, now + jiff::SignedDuration::from_secs(60));
        assert_eq!(later.0, ["c"]);
        assert!(!Arc::ptr_eq(&later, &wanted.of(&list, now)));
    }
}
