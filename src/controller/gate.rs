//! What a controller remembers of the statements it sent, per object, between reconciles: which OceanBase
//! refused lately (not sent again before [`RETRY_REFUSED_AFTER`]), which one-shot statements went through
//! (not sent again before [`SENT_SETTLE`], until the observer has read the cluster again), and when a
//! statement last went out (the object is decided again [`ACTED_RECHECK`] later). Objects are keyed
//! `namespace/name`; a statement by what it does (its step).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use kube::runtime::controller::Action;

use crate::sync::lock;
use crate::timing::{ACTED_RECHECK, RETRY_REFUSED_AFTER, SENT_SETTLE};

/// Whether a statement may go out again as soon as the next decision asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Asking twice does no harm (a destination, a mode, a submission guarded by its intent).
    Repeatable,
    /// It must go once per decision OceanBase has answered (cancel, activate): the status write after it
    /// would otherwise send it again before the cluster is read.
    OneShot,
}

/// What [`Statements::gate`] says about sending a statement now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Send it.
    Open,
    /// OceanBase refused it lately: write nothing (the status says why), look again after this.
    Refused(Duration),
    /// It went through a moment ago: write the status, look again after this.
    Settling(Duration),
}

/// A statement OceanBase refused for an object: what, when, and OceanBase's reason (redacted).
struct Refusal {
    what: String,
    at: Instant,
    reason: String,
}

/// The statements one controller sent lately, per object.
#[derive(Default)]
pub struct Statements {
    refused: Mutex<HashMap<String, Refusal>>,
    sent: Mutex<HashMap<String, (String, Instant)>>,
    acted: Mutex<HashMap<String, Instant>>,
}

impl Statements {
    /// Whether `what` may be sent for `object` now.
    pub fn gate(&self, object: &str, what: &str, kind: Kind) -> Gate {
        if let Some((wait, _)) = self.refused_recently(object, what) {
            return Gate::Refused(wait);
        }
        match self.sent_recently(object, what) {
            Some(wait) if kind == Kind::OneShot => Gate::Settling(wait),
            _ => Gate::Open,
        }
    }

    /// Records that `what` was sent for `object`: `Ok` when it went through (or was not answered), `Err`
    /// with OceanBase's (redacted) reason when it was refused.
    pub fn record(&self, object: &str, what: &str, kind: Kind, outcome: Result<(), String>) {
        tracing::trace!(object, what, sent = outcome.is_ok(), "statement outcome");
        let now = Instant::now();
        {
            let mut acted = lock(&self.acted);
            acted.retain(|_, at| at.elapsed() < ACTED_RECHECK);
            acted.insert(object.to_string(), now);
        }
        if kind == Kind::OneShot && outcome.is_ok() {
            lock(&self.sent).insert(object.to_string(), (what.to_string(), now));
        }
        let mut refused = lock(&self.refused);
        match outcome {
            Ok(()) => {
                refused.remove(object);
            }
            Err(reason) => {
                refused.insert(
                    object.to_string(),
                    Refusal {
                        what: what.to_string(),
                        at: now,
                        reason,
                    },
                );
            }
        }
    }

    /// Whether `what` went through for `object` within [`SENT_SETTLE`]; if so, how long until it may be
    /// sent again.
    fn sent_recently(&self, object: &str, what: &str) -> Option<Duration> {
        let sent = lock(&self.sent);
        let (sent_what, at) = sent.get(object)?;
        if sent_what != what {
            return None;
        }
        SENT_SETTLE
            .checked_sub(at.elapsed())
            .filter(|d| !d.is_zero())
    }

    /// If OceanBase refused `what` for `object` recently: how long to wait before sending it again, and
    /// OceanBase's reason (so that a status can keep saying it).
    pub fn refused_recently(&self, object: &str, what: &str) -> Option<(Duration, String)> {
        let refused = lock(&self.refused);
        let refusal = refused.get(object).filter(|r| r.what == what)?;
        let wait = RETRY_REFUSED_AFTER
            .checked_sub(refusal.at.elapsed())
            .filter(|d| !d.is_zero())?;
        Some((wait, refusal.reason.clone()))
    }

    /// When to look again at `object` (or at the parts of it keyed `object/…`, a strategy's tenants) because
    /// of a statement: one went out (decide again after [`ACTED_RECHECK`]; a one-shot statement's settling
    /// is then the gate's) or OceanBase refused one (retry after [`RETRY_REFUSED_AFTER`], for the kinds that
    /// retry without the gate). The status write recording it is not reconciled again (see
    /// `reconcile_relevant`), so the requeue must ask for it.
    pub fn look_again(&self, object: &str) -> Option<Duration> {
        let nested = format!("{object}/");
        let concerns = |key: &str| key == object || key.starts_with(&nested);
        let refused = soonest(&self.refused, concerns, |r| {
            RETRY_REFUSED_AFTER.checked_sub(r.at.elapsed())
        });
        let acted = soonest(&self.acted, concerns, |at| {
            ACTED_RECHECK.checked_sub(at.elapsed())
        });
        refused
            .into_iter()
            .chain(acted)
            .min()
            .map(|d| d.max(crate::timing::GATE_RECHECK_FLOOR))
    }

    /// `wait` (or waiting for a change, with `None`), shortened to [`Self::look_again`] for `object`.
    pub fn requeue(&self, object: &str, wait: Option<Duration>) -> Action {
        match wait.into_iter().chain(self.look_again(object)).min() {
            Some(wait) => Action::requeue(wait),
            None => Action::await_change(),
        }
    }
}

/// The least time left, by `left`, among the entries of `map` whose key `concerns` accepts.
fn soonest<V>(
    map: &Mutex<HashMap<String, V>>,
    concerns: impl Fn(&str) -> bool,
    left: impl Fn(&V) -> Option<Duration>,
) -> Option<Duration> {
    lock(map)
        .iter()
        .filter(|(key, _)| concerns(key))
        .filter_map(|(_, value)| left(value))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_statement_waits_and_keeps_its_reason() {
        let statements = Statements::default();
        statements.record(
            "ns/a",
            "SetDest",
            Kind::Repeatable,
            Err("9070: can not connect".into()),
        );
        let (wait, reason) = statements
            .refused_recently("ns/a", "SetDest")
            .expect("gated");
        assert!(wait <= RETRY_REFUSED_AFTER && !wait.is_zero());
        assert_eq!(reason, "9070: can not connect");
        assert!(
            statements
                .refused_recently("ns/a", "ArchiveMode(true)")
                .is_none(),
            "another statement is not gated"
        );
        assert!(
            statements.refused_recently("ns/b", "SetDest").is_none(),
            "another object is not gated"
        );
        statements.record("ns/a", "SetDest", Kind::Repeatable, Ok(()));
        assert!(
            statements.refused_recently("ns/a", "SetDest").is_none(),
            "success clears it"
        );
    }

    #[tokio::test]
    async fn a_refused_or_one_shot_statement_asks_to_be_looked_at_again() {
        let statements = Statements::default();
        assert_eq!(statements.look_again("ns/a"), None);
        statements.record("ns/a", "Cancel", Kind::OneShot, Ok(()));
        let soon = statements
            .look_again("ns/a")
            .expect("a cancel that went through");
        assert!(soon <= ACTED_RECHECK, "decided again soon after: {soon:?}");
        statements.record(
            "ns/s/tenant1",
            "policy",
            Kind::Repeatable,
            Err("refused".into()),
        );
        let look = statements
            .look_again("ns/s")
            .expect("a strategy's tenant was refused");
        assert!(look <= ACTED_RECHECK, "looked at again soon: {look:?}");
        // …where the refusal holds the statement back until its retry time.
        let (retry, _) = statements
            .refused_recently("ns/s/tenant1", "policy")
            .expect("refused");
        assert!(
            retry <= RETRY_REFUSED_AFTER && retry > SENT_SETTLE,
            "{retry:?}"
        );
        assert_eq!(statements.look_again("ns/b"), None, "another object");
        assert_eq!(
            statements.look_again("ns/s2"),
            None,
            "a name sharing a prefix"
        );
        assert!(format!("{:?}", statements.requeue("ns/b", None)).contains("None"));
    }

    #[tokio::test]
    async fn a_one_shot_statement_is_not_sent_again_until_it_settles() {
        let statements = Statements::default();
        assert_eq!(statements.gate("ns/a", "Cancel", Kind::OneShot), Gate::Open);
        statements.record("ns/a", "Cancel", Kind::OneShot, Ok(()));
        let Gate::Settling(wait) = statements.gate("ns/a", "Cancel", Kind::OneShot) else {
            panic!("a cancel that went through settles");
        };
        assert!(wait <= SENT_SETTLE && !wait.is_zero());
        assert_eq!(
            statements.gate("ns/a", "Activate", Kind::OneShot),
            Gate::Open
        );
        assert_eq!(statements.gate("ns/b", "Cancel", Kind::OneShot), Gate::Open);
        // A refused one waits the refusal time, one-shot or not.
        statements.record("ns/c", "Submit", Kind::Repeatable, Err(String::new()));
        assert!(matches!(
            statements.gate("ns/c", "Submit", Kind::Repeatable),
            Gate::Refused(_)
        ));
        statements.record("ns/c", "Submit", Kind::Repeatable, Ok(()));
        assert_eq!(
            statements.gate("ns/c", "Submit", Kind::Repeatable),
            Gate::Open,
            "success clears it"
        );
    }
}
