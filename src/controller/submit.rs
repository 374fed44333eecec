//! OceanBase jobs the same way for every kind: why a finished job failed ([`job_failure`]), and what sending
//! a statement that starts one (BACKUP, DELETE, RESTORE) came to: sent or unanswered (the intent stays and the job is looked up later), refused for now (the
//! intent goes; tried again after the refusal gate), or refused for good (a failure to record).

use jiff::{SignedDuration, Timestamp};

use super::conditions::Health;
use crate::{api::common::Failure, oceanbase::ObError};

/// How long after the recorded intent a missing job means the statement never created one: longer than a
/// statement may run (the client's query timeout) plus a margin.
pub const SUBMIT_GRACE: SignedDuration = SignedDuration::from_secs(45);

/// Whether a statement sent at `submitted` (its recorded intent) may still be creating its job, judged by a
/// snapshot read at `read_at`. The grace is real time, so it is stretched on a simulated clock.
pub fn in_flight(submitted: Timestamp, read_at: Timestamp) -> bool {
    read_at < submitted + crate::clock::margin(SUBMIT_GRACE)
}

/// How soon a task holding the intent `submitted` must look again, so that the end of its submit grace is
/// acted on at once rather than at the next safety recheck (a statement that never left — the operator died
/// between the intent and the statement — creates no job and so wakes nobody). Past the grace, a short
/// recheck settles the intent at the next read. `None` without an intent.
pub fn grace_recheck(submitted: Option<Timestamp>, now: Timestamp) -> Option<std::time::Duration> {
    let end = submitted? + crate::clock::margin(SUBMIT_GRACE);
    let left = std::time::Duration::try_from(end.duration_since(now)).unwrap_or_default();
    Some(
        crate::clock::real(left)
            + std::time::Duration::from_secs(if left.is_zero() { 5 } else { 1 }),
    )
}

/// Why OceanBase ended a job FAILED: its RESULT code and COMMENT (or, without a comment, which job and code).
pub fn job_failure(job: &str, job_id: i64, result: i64, comment: &str) -> Failure {
    Failure {
        code: Some(result),
        message: if comment.is_empty() {
            format!("OceanBase ended {job} {job_id} with result {result}")
        } else {
            comment.to_string()
        },
    }
}

/// The outcome of a submission.
pub enum Submitted {
    /// Sent, or not answered: keep the intent and wait for the job to be listed.
    Waiting(Health),
    /// Refused for a reason that passes (another job runs, …): drop the intent, try again later.
    RefusedForNow(Health),
    /// Refused for good: the task fails with OceanBase's code and (redacted) message.
    Refused(Failure),
    /// The statement could not be built (a value the operator refuses to send): stalled until fixed.
    Invalid(Health),
}

/// Classifies `outcome`; `job` names what was started ("job", "delete job", "restore") and `for_now` lists
/// OceanBase's codes that mean "not now".
pub fn submitted(outcome: Result<(), ObError>, job: &str, for_now: &[u16]) -> Submitted {
    match outcome {
        Ok(()) => Submitted::Waiting(Health::Progressing {
            reason: "Submitted".into(),
            message: format!("submitted; waiting for OceanBase to list the {job}"),
        }),
        Err(ObError::Unreachable(reason)) => Submitted::Waiting(Health::Progressing {
            reason: "ClusterUnreachable".into(),
            message: format!(
                "the cluster did not answer while submitting ({reason}); the {job} will be looked up"
            ),
        }),
        Err(ObError::Server { code, message }) if for_now.contains(&code) => {
            Submitted::RefusedForNow(Health::Progressing {
                reason: "RefusedForNow".into(),
                message: format!(
                    "OceanBase refused the {job} for now ({code}: {message}); trying again later"
                ),
            })
        }
        Err(ObError::Server { code, message }) => Submitted::Refused(Failure {
            // The error number the client saw (OceanBase's code for its own errors, reference §0.3).
            code: Some(i64::from(code)),
            message,
        }),
        Err(other) => Submitted::Invalid(Health::Stalled {
            reason: "InvalidInput".into(),
            message: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_looked_at_again_when_its_grace_ends() {
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
        assert_eq!(grace_recheck(None, at(0)), None);
        assert_eq!(
            grace_recheck(Some(at(0)), at(10)),
            Some(std::time::Duration::from_secs(36))
        );
        assert_eq!(
            grace_recheck(Some(at(0)), at(100)),
            Some(std::time::Duration::from_secs(5))
        );
    }

    #[test]
    fn outcomes_are_classified_alike_for_every_kind() {
        assert!(matches!(
            submitted(Ok(()), "job", &[]),
            Submitted::Waiting(_)
        ));
        assert!(matches!(
            submitted(Err(ObError::Unreachable("reset".into())), "job", &[]),
            Submitted::Waiting(Health::Progressing { reason, .. }) if reason == "ClusterUnreachable"
        ));
        let busy = ObError::Server {
            code: 9044,
            message: "delete backup data is in progress".into(),
        };
        assert!(matches!(
            submitted(Err(busy.clone()), "delete job", &[9044]),
            Submitted::RefusedForNow(_)
        ));
        let Submitted::Refused(failure) = submitted(Err(busy), "delete job", &[]) else {
            panic!("refused for good");
        };
        assert_eq!(failure.code, Some(9044));
        assert_eq!(failure.message, "delete backup data is in progress");
        assert!(matches!(
            submitted(Err(ObError::InvalidValue("x".into())), "job", &[]),
            Submitted::Invalid(_)
        ));
    }
}
