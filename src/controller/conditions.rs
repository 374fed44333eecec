//! Status conditions: the `Ready` / `Reconciling` / `Stalled` triple that Flux's kstatus and Argo CD read,
//! and merging with the previous list so an unchanged condition keeps its `lastTransitionTime`.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub use crate::reason::Reason;

/// Condition type: the object has reached what its spec asks for.
pub const READY: &str = "Ready";
/// Condition type: the operator is working towards the spec.
pub const RECONCILING: &str = "Reconciling";
/// Condition type: the operator cannot make progress until someone changes something.
pub const STALLED: &str = "Stalled";
/// Condition type: the OceanBase cluster answered the last time it was read.
pub const CLUSTER_REACHABLE: &str = "ClusterReachable";
/// Condition type of a BackupStrategy: the second copies can be made (their Secrets, a directory of their
/// own, no copy failed for good). False never stops the first backups or archiving. The strategy's tasks and
/// LogBackups copy only while it is True ([`super::references::second_copy_cleared`]).
pub const SECOND_BACKUP_READY: &str = "SecondBackupReady";
/// Condition type: a running backup job is making progress.
pub const PROGRESSING: &str = "Progressing";
/// Condition type: log archiving lags less than the alert threshold.
pub const DELAY_WITHIN_THRESHOLD: &str = "DelayWithinThreshold";
/// Condition type: the second copy of the archive lags the first less than the alert threshold.
pub const SECOND_COPY_WITHIN_THRESHOLD: &str = "SecondCopyWithinThreshold";
/// Condition type: OceanBase archives to the destination the spec names (a change waits for a stop).
pub const DESTINATION_APPLIED: &str = "DestinationApplied";

/// Where an object stands, in kstatus terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Done, or steadily running as asked.
    Ready { reason: Reason, message: String },
    /// Work is under way.
    Progressing { reason: Reason, message: String },
    /// Blocked: the reason says what the user must fix.
    Stalled { reason: Reason, message: String },
}

impl Health {
    /// The human-readable explanation.
    pub fn message(&self) -> &str {
        match self {
            Health::Ready { message, .. }
            | Health::Progressing { message, .. }
            | Health::Stalled { message, .. } => message,
        }
    }

    /// The `Ready`, `Reconciling` and `Stalled` conditions for this health.
    pub fn conditions(&self, generation: Option<i64>) -> Vec<Condition> {
        let (ready, reconciling, stalled, reason, message) = match self {
            Health::Ready { reason, message } => (true, false, false, reason, message),
            Health::Progressing { reason, message } => (false, true, false, reason, message),
            Health::Stalled { reason, message } => (false, false, true, reason, message),
        };
        vec![
            condition(READY, ready, *reason, message, generation),
            condition(RECONCILING, reconciling, *reason, message, generation),
            condition(STALLED, stalled, *reason, message, generation),
        ]
    }
}

/// A time as the API server stores it: whole seconds (metav1.Time has no fraction). Statuses built with
/// finer times would never equal what is read back, and every look would be a write.
pub fn api_time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// A condition whose `lastTransitionTime` is filled in by [`merge`].
pub fn condition(
    type_: &str,
    status: bool,
    reason: Reason,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.as_str().to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// The desired conditions, each with the `lastTransitionTime` of the previous condition of its type when its
/// status did not change, or `now` when it did (or is new).
pub fn merge(previous: &[Condition], desired: Vec<Condition>, now: Timestamp) -> Vec<Condition> {
    desired
        .into_iter()
        .map(|mut c| {
            c.last_transition_time = previous
                .iter()
                .find(|p| p.type_ == c.type_ && p.status == c.status)
                .map_or_else(|| api_time(now), |p| p.last_transition_time.clone());
            c
        })
        .collect()
}

/// The conditions of a status with `health` plus `extra` conditions (or, without `extra`, the other
/// conditions it had), keeping unchanged conditions' transition times.
pub fn with_extra(
    previous: &[Condition],
    health: &Health,
    extra: Option<Vec<Condition>>,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut desired = health.conditions(generation);
    let extra = extra.unwrap_or_else(|| {
        previous
            .iter()
            .filter(|c| !desired.iter().any(|d| d.type_ == c.type_))
            .cloned()
            .collect()
    });
    desired.extend(extra);
    merge(previous, desired, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    fn progressing() -> Health {
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting".into(),
        }
    }

    #[test]
    fn health_sets_exactly_one_of_the_three_conditions() {
        let stalled = Health::Stalled {
            reason: Reason::SecretNotFound,
            message: "Secret x not found".into(),
        };
        let conditions = stalled.conditions(Some(3));
        let status: Vec<_> = conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        assert_eq!(
            status,
            [(READY, "False"), (RECONCILING, "False"), (STALLED, "True")]
        );
        assert!(
            conditions
                .iter()
                .all(|c| c.reason == Reason::SecretNotFound && c.observed_generation == Some(3))
        );
    }

    #[test]
    fn unchanged_status_keeps_its_transition_time_so_the_result_is_identical() {
        let first = merge(&[], progressing().conditions(Some(1)), at(100));
        assert!(
            first
                .iter()
                .all(|c| c.last_transition_time == Time(at(100)))
        );
        let again = merge(&first, progressing().conditions(Some(1)), at(500));
        assert_eq!(again, first);
    }

    #[test]
    fn changed_status_moves_its_transition_time() {
        let first = merge(&[], progressing().conditions(Some(1)), at(100));
        let ready = Health::Ready {
            reason: Reason::Completed,
            message: "done".into(),
        };
        let second = merge(&first, ready.conditions(Some(1)), at(500));
        let time_of = |t: &str| {
            second
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| c.last_transition_time.clone())
        };
        assert_eq!(time_of(READY), Some(Time(at(500))));
        assert_eq!(time_of(RECONCILING), Some(Time(at(500))));
        assert_eq!(
            time_of(STALLED),
            Some(Time(at(100))),
            "Stalled stayed False"
        );
    }
}
