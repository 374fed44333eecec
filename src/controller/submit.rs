//! OceanBase jobs the same way for every kind: why a finished job failed ([`job_failure`]), and what sending
//! a statement that starts one (BACKUP, DELETE, RESTORE) came to: sent or unanswered (the intent stays and the job is looked up later), refused for now (the
//! intent goes; tried again after the refusal gate), or refused for good (a failure to record).

use super::conditions::Health;
use crate::reason::Reason;
use crate::{api::common::Failure, oceanbase::ObError};

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
            reason: Reason::Submitted,
            message: format!("submitted; waiting for OceanBase to list the {job}"),
        }),
        Err(ObError::Unreachable(reason)) => Submitted::Waiting(Health::Progressing {
            reason: Reason::ClusterUnreachable,
            message: format!(
                "the cluster did not answer while submitting ({reason}); the {job} will be looked up"
            ),
        }),
        Err(ObError::Server { code, message }) if for_now.contains(&code) => {
            Submitted::RefusedForNow(Health::Progressing {
                reason: Reason::RefusedForNow,
                message: format!(
                    "OceanBase refused the {job} for now ({code}: {message}); trying again later"
                ),
            })
        }
        Err(ObError::Server { code, message }) => Submitted::Refused(Failure {
            // The error number the client saw (OceanBase's code for its own errors,
            // docs/reference/oceanbase-interface.md §0.3).
            code: Some(i64::from(code)),
            message,
        }),
        Err(other) => Submitted::Invalid(Health::Stalled {
            reason: Reason::InvalidInput,
            message: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_classified_alike_for_every_kind() {
        assert!(matches!(
            submitted(Ok(()), "job", &[]),
            Submitted::Waiting(_)
        ));
        assert!(matches!(
            submitted(Err(ObError::Unreachable("reset".into())), "job", &[]),
            Submitted::Waiting(Health::Progressing { reason, .. }) if reason == Reason::ClusterUnreachable
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
