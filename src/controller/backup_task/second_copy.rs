//! A completed backup set's second copy (the strategy's `secondBackup`): when it is copied, which tree, and
//! the status a copy's state gives. The copy itself runs in the background ([`crate::storage::copies`]); a
//! status says `Completed` only once every object was copied and verified (checked by the server or read
//! back identical), and never `Failed` for an outage of either storage.

use jiff::Timestamp;
use kube::ResourceExt;

use super::decide::Decision;
use crate::{
    api::{
        BackupTask, BackupTaskPhase,
        backup_strategy::SecondBackup,
        backup_task::BackupTaskSpec,
        common::{SecondCopy, SecondCopyPhase},
    },
    background::Key,
    controller::{
        Context, Error,
        conditions::api_time,
        references::{access_keys, second_copy_cleared},
        task::Target,
    },
    oceanbase::sql::AccessKeys,
    storage::copies::{CopyRequest, CopyState, Work},
    timing::{RECHECK_REFERENCES_AFTER, SECOND_COPY_PROGRESS_EVERY},
};

/// What the set's copy does at this look, from the spec's actions and the copy's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing: the copy ended and no retry asks for more.
    Leave,
    /// Stop it: the task's `cancel` (`by_task`) or `secondCopy.cancel`.
    Cancel { by_task: bool },
    /// Retry `n` finds nothing to copy again (the copy completed, or a cancel came with it): answered.
    Answer(i32),
    /// Copy the canceled or failed set again, answering retry `n`.
    Retry(i32),
    /// Start the copy, or follow it.
    Follow,
}

/// The decision: a copy ended stays so unless a retry newer than the one it answered asks for it again
/// (a canceled or failed copy only, never after the task's own `cancel`); one not ended is stopped by
/// either cancel, else followed.
pub fn next(task: &BackupTaskSpec, previous: Option<&SecondCopy>) -> Next {
    let actions = task.copy_actions();
    let answered = previous.and_then(|p| p.retry).unwrap_or(0);
    let phase = previous.and_then(|p| p.phase);
    if phase.is_some_and(SecondCopyPhase::is_terminal) {
        return match phase {
            _ if task.cancel || actions.retry <= answered => Next::Leave,
            Some(SecondCopyPhase::Canceled | SecondCopyPhase::Failed) if !actions.cancel => {
                Next::Retry(actions.retry)
            }
            _ => Next::Answer(actions.retry),
        };
    }
    if task.cancel || actions.cancel {
        return Next::Cancel {
            by_task: task.cancel,
        };
    }
    Next::Follow
}

/// A completed set of a strategy with a second backup is copied there, in the background; either cancel
/// stops it, and `secondCopy.retry` copies a canceled or failed set again. What the copy came to is in
/// `decision`'s status.
pub async fn follow(
    task: &BackupTask,
    ctx: &Context,
    namespace: &str,
    target: &Target,
    decision: &mut Decision,
) -> Result<(), Error> {
    let (Some(copy_to), Some(BackupTaskPhase::Completed)) =
        (&target.placement.second_backup, decision.status.phase)
    else {
        return Ok(());
    };
    let key = Key::of(namespace, &task.name_any());
    let now = crate::clock::now();
    let mut previous = decision.status.second_backup.as_deref().cloned();
    match next(&task.spec, previous.as_ref()) {
        Next::Leave => return Ok(()),
        Next::Cancel { by_task } => {
            // Stopped, not forgotten: a retry waits until this run has really ended.
            ctx.copies.stop(&key);
            decision.status.second_backup = Some(Box::new(canceled(previous, by_task, now)));
            return Ok(());
        }
        Next::Answer(n) => {
            decision.status.second_backup = previous.map(|p| {
                Box::new(SecondCopy {
                    retry: Some(n),
                    ..p
                })
            });
            return Ok(());
        }
        Next::Retry(n) => {
            if !ctx.copies.make_way(&key) {
                decision.recheck = Some(SECOND_COPY_PROGRESS_EVERY);
                return Ok(());
            }
            previous = Some(restarted(previous, n, now));
        }
        Next::Follow => {}
    }
    let copy = Copy {
        task,
        ctx,
        namespace,
        target,
        copy_to,
        key,
    };
    copy.run(previous, now, decision).await
}

/// One look at the set's copy: its task, where it goes, and its key.
struct Copy<'a> {
    task: &'a BackupTask,
    ctx: &'a Context,
    namespace: &'a str,
    target: &'a Target,
    copy_to: &'a SecondBackup,
    key: Key,
}

impl Copy<'_> {
    /// Starts or follows the copy and folds where it stands into the decided status.
    async fn run(
        self,
        previous: Option<SecondCopy>,
        now: Timestamp,
        decision: &mut Decision,
    ) -> Result<(), Error> {
        let (ctx, target, copy_to) = (self.ctx, self.target, self.copy_to);
        let status = &mut decision.status;
        let directory = status.storage_directory.clone().unwrap_or_default();
        let Some(tree) = crate::storage::tree_under(&target.destination.uri, &directory) else {
            status.second_backup = Some(Box::new(SecondCopy {
                phase: Some(SecondCopyPhase::Failed),
                ended_at: Some(api_time(now)),
                message: Some(format!(
                    "the backup set's directory {directory} is not under the data destination {}",
                    target.destination.uri
                )),
                ..previous.unwrap_or_default()
            }));
            return Ok(());
        };
        let second_dir = crate::storage::directory_in(&copy_to.data_destination.uri, &tree);
        let to_keys = match cleared(self.task, ctx, self.namespace, copy_to).await? {
            Ok(to_keys) => to_keys,
            Err(why) => {
                status.second_backup = Some(Box::new(SecondCopy {
                    phase: Some(SecondCopyPhase::Pending),
                    storage_directory: Some(second_dir),
                    message: Some(why),
                    ..previous.unwrap_or_default()
                }));
                decision.recheck = Some(RECHECK_REFERENCES_AFTER);
                return Ok(());
            }
        };
        let request = CopyRequest {
            work: Work::Copy,
            from: target.destination.uri.clone(),
            from_keys: access_keys(ctx, self.namespace, &target.destination).await?,
            to: copy_to.data_destination.uri.clone(),
            to_keys,
            concurrency: usize::try_from(copy_to.concurrency).unwrap_or(1).max(1),
            bandwidth: copy_to.bandwidth(),
            file_root: ctx.settings.file_root,
            tree: tree.clone(),
        };
        // The strategy's verification may be copying this set (a failed copy is its to repair): the
        // copy starts once that pass has let go of it.
        let Some(state) = ctx
            .copies
            .ensure_alone(&self.key, &request, &[self.verify_key(&tree)])
        else {
            decision.recheck = Some(SECOND_COPY_PROGRESS_EVERY);
            return Ok(());
        };
        let mut copy = self::status(previous.as_ref(), &state, second_dir, now);
        copy.retry = copy
            .retry
            .max(Some(self.task.spec.copy_actions().retry))
            .filter(|r| *r > 0);
        if SecondCopy::settled(Some(&copy)) {
            // Its end is in the status written next; a lost write only repeats a verification.
            ctx.copies.forget(&self.key);
        } else {
            decision.recheck = Some(SECOND_COPY_PROGRESS_EVERY);
        }
        decision.status.second_backup = Some(Box::new(copy));
        Ok(())
    }

    /// The key the strategy's verification reads this set under.
    fn verify_key(&self, tree: &str) -> Key {
        let strategy = self.task.spec.strategy_ref.as_ref();
        let name = strategy.map(|r| r.name.as_str()).unwrap_or_default();
        crate::storage::copies::verify_key(self.namespace, name, &self.task.spec.tenant, tree)
    }
}

/// The second destination's keys once the copy may go; else why it waits: the strategy does not clear its
/// second copies yet, or the second destination's Secret is missing.
async fn cleared(
    task: &BackupTask,
    ctx: &Context,
    namespace: &str,
    copy_to: &SecondBackup,
) -> Result<Result<Option<AccessKeys>, String>, Error> {
    if let Some(reference) = &task.spec.strategy_ref
        && let Err(why) = second_copy_cleared(ctx, namespace, &reference.name).await?
    {
        return Ok(Err(why));
    }
    let to_keys = access_keys(ctx, namespace, &copy_to.data_destination).await?;
    if let (Some(secret), None) = (&copy_to.data_destination.credentials_secret, &to_keys) {
        return Ok(Err(format!(
            "waiting for Secret {secret} with keys accessId and accessKey for the second data destination"
        )));
    }
    Ok(Ok(to_keys))
}

/// The second copy stopped at `now` by the task's `cancel: true` (`by_task`, for good) or by
/// `secondCopy.cancel`.
pub fn canceled(previous: Option<SecondCopy>, by_task: bool, now: Timestamp) -> SecondCopy {
    let (by, after) = if by_task {
        ("cancel: true", "")
    } else {
        (
            "secondCopy.cancel",
            "; increase secondCopy.retry (with cancel false) to copy the set again",
        )
    };
    SecondCopy {
        phase: Some(SecondCopyPhase::Canceled),
        ended_at: Some(api_time(now)),
        message: Some(format!(
            "canceled ({by}); objects already copied stay on the second destination, and the copy \
             does not count{after}"
        )),
        ..previous.unwrap_or_default()
    }
}

/// The copy started again at `now` for retry `n`: in progress, what it held kept until it lists the set
/// again (it resumes from its manifest), no end.
pub fn restarted(previous: Option<SecondCopy>, n: i32, now: Timestamp) -> SecondCopy {
    SecondCopy {
        phase: Some(SecondCopyPhase::InProgress),
        started_at: Some(api_time(now)),
        ended_at: None,
        message: Some(format!("copying again (secondCopy.retry {n})")),
        retry: Some(n),
        ..previous.unwrap_or_default()
    }
}

/// The second copy's status given its state now, keeping when it started.
pub fn status(
    previous: Option<&SecondCopy>,
    state: &CopyState,
    directory: String,
    now: Timestamp,
) -> SecondCopy {
    let started_at = previous
        .and_then(|p| p.started_at.clone())
        .or(Some(api_time(now)));
    let base = SecondCopy {
        storage_directory: Some(directory),
        started_at,
        ..previous.cloned().unwrap_or_default()
    };
    let count = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
    match state {
        // A pass started again after an outage has not listed the tree yet: what the copy held stays shown.
        CopyState::Running {
            total_objects: 0, ..
        } if base.total_objects.is_some() => SecondCopy {
            phase: Some(SecondCopyPhase::InProgress),
            ..base
        },
        CopyState::Running {
            objects,
            total_objects,
            bytes,
            total_bytes,
        } => SecondCopy {
            phase: Some(SecondCopyPhase::InProgress),
            objects: count(*objects),
            total_objects: count(*total_objects),
            bytes: count(*bytes),
            total_bytes: count(*total_bytes),
            message: None,
            ..base
        },
        CopyState::Done(report) => SecondCopy {
            phase: Some(SecondCopyPhase::Completed),
            objects: count(report.objects as u64),
            total_objects: count(report.objects as u64),
            bytes: count(report.bytes),
            total_bytes: count(report.bytes),
            ended_at: Some(api_time(now)),
            message: None,
            ..base
        },
        CopyState::Failed {
            message,
            transient: true,
        } => SecondCopy {
            phase: Some(SecondCopyPhase::InProgress),
            message: Some(format!(
                "waiting for storage, the copy goes on after it: {message}"
            )),
            ..base
        },
        CopyState::Failed {
            message,
            transient: false,
        } => SecondCopy {
            phase: Some(SecondCopyPhase::Failed),
            ended_at: Some(api_time(now)),
            message: Some(message.clone()),
            ..base
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::copy::Report;

    #[test]
    fn an_outage_keeps_the_copy_in_progress_and_only_a_real_failure_ends_it() {
        let now = Timestamp::UNIX_EPOCH;
        let outage = CopyState::Failed {
            message: "connection refused".into(),
            transient: true,
        };
        let waiting = status(None, &outage, "s3://b/x".into(), now);
        assert_eq!(waiting.phase, Some(SecondCopyPhase::InProgress));
        assert!(!SecondCopy::settled(Some(&waiting)));
        let wrong = CopyState::Failed {
            message: "mismatch".into(),
            transient: false,
        };
        let failed = status(Some(&waiting), &wrong, "s3://b/x".into(), now);
        assert_eq!(failed.phase, Some(SecondCopyPhase::Failed));
        assert_eq!(failed.started_at, waiting.started_at);
        assert!(SecondCopy::settled(Some(&failed)));
        let done = status(
            Some(&waiting),
            &CopyState::Done(Report {
                objects: 3,
                bytes: 30,
                copied: 1,
                copied_bytes: 10,
                damaged: 0,
            }),
            "s3://b/x".into(),
            now,
        );
        assert_eq!(
            (done.phase, done.objects, done.bytes),
            (Some(SecondCopyPhase::Completed), Some(3), Some(30))
        );
        assert!(SecondCopy::settled(Some(&done)) && SecondCopy::settled(None));
        let stopped = canceled(Some(waiting), true, now);
        assert_eq!(stopped.phase, Some(SecondCopyPhase::Canceled));
        assert!(SecondCopy::settled(Some(&stopped)) && stopped.ended_at.is_some());
    }

    /// During an outage the copy is started again every little while; until a pass has listed the tree, the
    /// status keeps what the copy held instead of dropping to 0 objects.
    #[test]
    fn a_pass_started_again_after_an_outage_keeps_the_counts_it_had() {
        let now = Timestamp::UNIX_EPOCH;
        let running = |objects, total| CopyState::Running {
            objects,
            total_objects: total,
            bytes: objects * 10,
            total_bytes: total * 10,
        };
        let halfway = status(None, &running(5, 10), "s3://b/x".into(), now);
        let outage = CopyState::Failed {
            message: "connection refused".into(),
            transient: true,
        };
        let waiting = status(Some(&halfway), &outage, "s3://b/x".into(), now);
        let again = status(Some(&waiting), &running(0, 0), "s3://b/x".into(), now);
        assert_eq!(
            (again.phase, again.objects, again.total_objects, again.bytes),
            (
                Some(SecondCopyPhase::InProgress),
                Some(5),
                Some(10),
                Some(50)
            )
        );
        let listed = status(Some(&again), &running(6, 10), "s3://b/x".into(), now);
        assert_eq!(listed.objects, Some(6));
    }

    fn spec(cancel: bool, actions: Option<(bool, i32)>) -> BackupTaskSpec {
        let mut spec: BackupTaskSpec =
            serde_json::from_value(serde_json::json!({"tenant": "t1", "mode": "Full"}))
                .expect("spec");
        spec.cancel = cancel;
        spec.second_copy = actions
            .map(|(cancel, retry)| crate::api::backup_task::SecondCopyActions { cancel, retry });
        spec
    }

    fn copy(phase: SecondCopyPhase, retry: Option<i32>) -> SecondCopy {
        SecondCopy {
            phase: Some(phase),
            retry,
            ..SecondCopy::default()
        }
    }

    #[test]
    fn a_copy_that_runs_is_followed_and_either_cancel_stops_it() {
        let running = copy(SecondCopyPhase::InProgress, None);
        assert_eq!(next(&spec(false, None), None), Next::Follow);
        assert_eq!(
            next(&spec(false, Some((false, 3))), Some(&running)),
            Next::Follow
        );
        assert_eq!(
            next(&spec(true, None), Some(&running)),
            Next::Cancel { by_task: true }
        );
        assert_eq!(
            next(&spec(false, Some((true, 0))), Some(&running)),
            Next::Cancel { by_task: false }
        );
    }

    #[test]
    fn only_a_new_retry_copies_a_canceled_or_failed_set_again() {
        for phase in [SecondCopyPhase::Canceled, SecondCopyPhase::Failed] {
            let ended = copy(phase, Some(1));
            assert_eq!(
                next(&spec(false, Some((false, 1))), Some(&ended)),
                Next::Leave
            );
            assert_eq!(
                next(&spec(false, Some((false, 2))), Some(&ended)),
                Next::Retry(2)
            );
            // The task's own cancel is final, also for its copy.
            assert_eq!(
                next(&spec(true, Some((false, 2))), Some(&ended)),
                Next::Leave
            );
            // A retry that came with a cancel is answered, not run.
            assert_eq!(
                next(&spec(false, Some((true, 2))), Some(&ended)),
                Next::Answer(2)
            );
        }
        let done = copy(SecondCopyPhase::Completed, None);
        assert_eq!(
            next(&spec(false, Some((false, 1))), Some(&done)),
            Next::Answer(1)
        );
        assert_eq!(next(&spec(false, None), Some(&done)), Next::Leave);
    }

    /// A retry starts a new attempt: in progress, the counts it had kept until it lists the set again
    /// (it resumes), no end; the retry it answers recorded, so that it is not run twice.
    #[test]
    fn a_restarted_copy_answers_its_retry_and_is_no_longer_settled() {
        let now = Timestamp::UNIX_EPOCH;
        let stopped = SecondCopy {
            objects: Some(4),
            total_objects: Some(10),
            ..canceled(None, false, now)
        };
        assert!(
            stopped
                .message
                .as_deref()
                .is_some_and(|m| m.contains("secondCopy.retry"))
        );
        let again = restarted(Some(stopped), 1, now);
        assert_eq!(
            (
                again.phase,
                again.retry,
                again.ended_at.is_none(),
                again.objects
            ),
            (Some(SecondCopyPhase::InProgress), Some(1), true, Some(4))
        );
        assert!(!SecondCopy::settled(Some(&again)));
        let answered = SecondCopy {
            phase: Some(SecondCopyPhase::Completed),
            ..again
        };
        assert_eq!(
            next(&spec(false, Some((false, 1))), Some(&answered)),
            Next::Leave
        );
    }

    #[test]
    fn a_canceled_copy_is_settled() {
        let now = Timestamp::UNIX_EPOCH;
        let stopped = canceled(None, false, now);
        assert_eq!(stopped.phase, Some(SecondCopyPhase::Canceled));
        assert!(SecondCopy::settled(Some(&stopped)) && stopped.ended_at.is_some());
    }
}
