//! What a controller's own status writes left, per object, for a few seconds: the resourceVersion each
//! write returned. A reconcile is given the copy its cache holds; right after a status write that copy may
//! not hold the write yet (the watch has not brought it back), and a reconcile from it decides on a status
//! the operator has already moved past. The echo of the operator's own status write does not wake the object
//! again (a change to the status alone is not reconciled), so a wake-up spent on such a look would be lost:
//! a drill whose checks ended while its cache still showed it activating wrote "verifying" and then waited
//! for its safety recheck. Such a look is put off instead ([`OwnWrites::ahead_of`]).

use std::{collections::HashMap, sync::Mutex, time::Instant};

use crate::sync::lock;

use crate::timing::OWN_WRITE_REMEMBERED as REMEMBERED;

/// The version each object's latest status write from this controller left, and when.
#[derive(Default)]
pub struct OwnWrites {
    written: Mutex<Written>,
}

#[derive(Default)]
struct Written {
    versions: HashMap<String, (u64, Instant)>,
    pruned: Option<Instant>,
}

impl OwnWrites {
    /// Notes that a status write to `object` (`namespace/name`) left it at `version`.
    pub fn record(&self, object: &str, version: Option<&str>) {
        let Some(version) = version.and_then(number) else {
            return;
        };
        let now = Instant::now();
        let mut written = lock(&self.written);
        // Forgets what is no longer remembered, at most once per REMEMBERED: the map holds the writes of
        // the last two such spans at most.
        if written
            .pruned
            .is_none_or(|at| now.duration_since(at) >= REMEMBERED)
        {
            written
                .versions
                .retain(|_, (_, at)| now.duration_since(*at) < REMEMBERED);
            written.pruned = Some(now);
        }
        written.versions.insert(object.to_string(), (version, now));
    }

    /// Whether this controller wrote `object` lately to a version newer than `cached`, the version of the
    /// copy a reconcile was given: the copy is behind the operator's own write.
    pub fn ahead_of(&self, object: &str, cached: Option<&str>) -> bool {
        let Some(cached) = cached.and_then(number) else {
            return false;
        };
        let written = lock(&self.written);
        written
            .versions
            .get(object)
            .is_some_and(|(version, at)| *version > cached && at.elapsed() < REMEMBERED)
    }
}

/// A resourceVersion as the number it is on the API server (an etcd revision); `None` for any other.
pub fn number(version: &str) -> Option<u64> {
    version.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_copy_older_than_the_last_write_is_behind_and_a_newer_or_equal_one_is_not() {
        let writes = OwnWrites::default();
        writes.record("ns/a", Some("12"));
        assert!(writes.ahead_of("ns/a", Some("11")));
        assert!(!writes.ahead_of("ns/a", Some("12")));
        assert!(
            !writes.ahead_of("ns/a", Some("13")),
            "someone wrote after us"
        );
        assert!(!writes.ahead_of("ns/b", Some("1")), "never written");
        assert!(!writes.ahead_of("ns/a", Some("not-a-number")));
        assert!(!writes.ahead_of("ns/a", None));
    }

    #[test]
    fn a_write_is_forgotten_after_a_while() {
        let writes = OwnWrites::default();
        writes.record("ns/a", Some("12"));
        lock(&writes.written).versions.insert(
            "ns/a".into(),
            (12, Instant::now() - REMEMBERED - Duration::from_millis(1)),
        );
        assert!(
            !writes.ahead_of("ns/a", Some("11")),
            "a watch that stopped delivering holds the object back for a while only"
        );
        writes.record("ns/b", Some("3"));
        assert!(
            lock(&writes.written).versions.contains_key("ns/a"),
            "pruned at most once per span"
        );
        lock(&writes.written).pruned = Some(Instant::now() - REMEMBERED);
        writes.record("ns/c", Some("4"));
        let kept = lock(&writes.written).versions.len();
        assert_eq!(kept, 2, "ns/a forgotten once a span has passed");
    }
}
