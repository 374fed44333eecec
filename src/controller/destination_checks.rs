//! What the periodic destination checks of strategies found, and when (`backup_strategy::destination_check`
//! makes them): kept in this process's memory, per strategy, so that a strategy reconciled every few seconds
//! checks its storage only once per interval.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::sync::lock;

/// What a destination check found, per tenant: (tenant, what is wrong and what to do).
pub type Problems = Vec<(String, String)>;

/// The last check of each strategy, in this process.
#[derive(Default)]
pub struct DestinationChecks {
    last: Mutex<HashMap<String, Checked>>,
}

/// One strategy's last check.
#[derive(Clone, Debug)]
struct Checked {
    at: Instant,
    /// The destinations and tenants checked: another set is checked at once.
    what: String,
    problems: Problems,
}

impl DestinationChecks {
    /// The outcome of the last check of `key`, when it checked `what` less than `every` ago.
    pub fn fresh(&self, key: &str, what: &str, every: Duration) -> Option<Problems> {
        let last = lock(&self.last);
        let checked = last.get(key)?;
        (checked.what == what && checked.at.elapsed() < every).then(|| checked.problems.clone())
    }

    /// How long until `key` is due again (zero when never checked).
    pub fn due_in(&self, key: &str, every: Duration) -> Duration {
        lock(&self.last)
            .get(key)
            .map_or(Duration::ZERO, |c| every.saturating_sub(c.at.elapsed()))
    }

    /// Records a check; returns the problems of the check before it, if any was made.
    pub fn record(&self, key: &str, what: String, problems: Problems) -> Option<Problems> {
        let checked = Checked {
            at: Instant::now(),
            what,
            problems,
        };
        lock(&self.last)
            .insert(key.to_string(), checked)
            .map(|c| c.problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_reused_within_the_interval_for_the_same_destinations_only() {
        let checks = DestinationChecks::default();
        let every = Duration::from_secs(300);
        assert_eq!(checks.fresh("ns/s", "a", every), None);
        assert_eq!(checks.due_in("ns/s", every), Duration::ZERO);
        let found = vec![("t1".to_string(), "gone".to_string())];
        assert_eq!(checks.record("ns/s", "a".into(), found.clone()), None);
        assert_eq!(checks.fresh("ns/s", "a", every), Some(found.clone()));
        assert!(checks.due_in("ns/s", every) > Duration::from_secs(290));
        assert_eq!(checks.fresh("ns/s", "b", every), None, "other destinations");
        assert_eq!(checks.fresh("ns/s", "a", Duration::ZERO), None, "due again");
        assert_eq!(checks.record("ns/s", "a".into(), Vec::new()), Some(found));
    }
}
