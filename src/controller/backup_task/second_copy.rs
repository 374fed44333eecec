//! A completed backup set's second copy (the strategy's `secondBackup`): when it is copied, which tree, and
//! the status a copy's state gives. The copy itself runs in the background ([`crate::storage::copies`]); a status says
//! `Completed` only once every object was copied and read back identical, and never `Failed` for an outage
//! of either storage.

use jiff::Timestamp;
use kube::ResourceExt;

use super::decide::Decision;
use crate::{
    api::{
        BackupTask, BackupTaskPhase,
        backup_strategy::SecondBackup,
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

/// A completed set of a strategy with a second backup is copied there, in the background; `cancel: true`
/// stops it. What the copy came to is in `decision`'s status.
pub async fn follow(
    task: &BackupTask,
    ctx: &Context,
    namespace: &str,
    target: &Target,
    decision: &mut Decision,
) -> Result<(), Error> {
    let status = &mut decision.status;
    let (Some(copy_to), Some(BackupTaskPhase::Completed)) =
        (&target.placement.second_backup, status.phase)
    else {
        return Ok(());
    };
    let previous = status.second_backup.clone();
    if previous
        .as_ref()
        .is_some_and(|p| SecondCopy::settled(Some(p)))
    {
        return Ok(());
    }
    let key = Key::of(namespace, &task.name_any());
    let now = crate::clock::now();
    if task.spec.cancel {
        ctx.copies.forget(&key);
        status.second_backup = Some(canceled(previous, now));
        return Ok(());
    }
    let directory = status.storage_directory.clone().unwrap_or_default();
    let Some(tree) = crate::storage::tree_under(&target.destination.uri, &directory) else {
        status.second_backup = Some(SecondCopy {
            phase: Some(SecondCopyPhase::Failed),
            ended_at: Some(api_time(now)),
            message: Some(format!(
                "the backup set's directory {directory} is not under the data destination {}",
                target.destination.uri
            )),
            ..previous.unwrap_or_default()
        });
        return Ok(());
    };
    let second_dir = crate::storage::directory_in(&copy_to.data_destination.uri, &tree);
    let to_keys = match cleared(task, ctx, namespace, copy_to).await? {
        Ok(to_keys) => to_keys,
        Err(why) => {
            status.second_backup = Some(SecondCopy {
                phase: Some(SecondCopyPhase::Pending),
                storage_directory: Some(second_dir),
                message: Some(why),
                ..previous.unwrap_or_default()
            });
            decision.recheck = Some(RECHECK_REFERENCES_AFTER);
            return Ok(());
        }
    };
    let request = CopyRequest {
        work: Work::Copy,
        from: target.destination.uri.clone(),
        from_keys: access_keys(ctx, namespace, &target.destination).await?,
        to: copy_to.data_destination.uri.clone(),
        to_keys,
        tree,
        concurrency: usize::try_from(copy_to.concurrency).unwrap_or(1).max(1),
        bandwidth: copy_to.bandwidth(),
        file_root: ctx.settings.file_root,
    };
    let state = ctx.copies.ensure(&key, &request);
    let copy = self::status(previous.as_ref(), &state, second_dir, now);
    if SecondCopy::settled(Some(&copy)) {
        // Its end is in the status written next; a lost write only repeats a verification.
        ctx.copies.forget(&key);
    } else {
        decision.recheck = Some(SECOND_COPY_PROGRESS_EVERY);
    }
    status.second_backup = Some(copy);
    Ok(())
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

/// The second copy stopped by `cancel: true` at `now`.
pub fn canceled(previous: Option<SecondCopy>, now: Timestamp) -> SecondCopy {
    SecondCopy {
        phase: Some(SecondCopyPhase::Canceled),
        ended_at: Some(api_time(now)),
        message: Some(
            "canceled (cancel: true); objects already copied stay on the second destination, and the copy \
             does not count"
                .into(),
        ),
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
        let stopped = canceled(Some(waiting), now);
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

    #[test]
    fn a_canceled_copy_is_settled() {
        let now = Timestamp::UNIX_EPOCH;
        let stopped = canceled(None, now);
        assert_eq!(stopped.phase, Some(SecondCopyPhase::Canceled));
        assert!(SecondCopy::settled(Some(&stopped)) && stopped.ended_at.is_some());
    }
}
