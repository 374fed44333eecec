//! The second log copy's own schedule (the console's pause and resume of a second log backup and its
//! scheduling history): `spec.secondCopy: Paused` stops copying the archive while archiving goes on, and
//! `Running` resumes it where it stopped; each start, pause, resume and stop is recorded in
//! `status.secondBackup.history` (the newest [`COPY_HISTORY`]) with an Event.

use jiff::Timestamp;
use kube::runtime::events::{Event, EventType};

use super::decide::Decision;
use crate::{
    api::{
        LogBackup, LogBackupStatus,
        common::SecondCopyPhase,
        log_backup::{COPY_HISTORY, CopyAction, CopyScheduling, SecondLogCopy},
    },
    controller::conditions::api_time,
    reason::Reason,
};

/// The copy paused: nothing of this archive copies in this process any more; the status keeps where the
/// copy got (it resumes from there) and says how far behind the first destination it falls meanwhile.
pub fn pause(
    ctx: &super::Context,
    namespace: &str,
    archive: &LogBackup,
    decision: &Decision,
) -> SecondLogCopy {
    let name = archive.metadata.name.as_deref().unwrap_or_default();
    ctx.copies.forget_object(namespace, name);
    let previous = decision.status.second_backup.clone().unwrap_or_default();
    let first = decision.status.checkpoint_time.as_ref().map(|t| t.0);
    paused(previous, first)
}

/// The copy's status while paused, behind the first destination's checkpoint `first`.
pub fn paused(previous: SecondLogCopy, first: Option<Timestamp>) -> SecondLogCopy {
    let copied = previous.checkpoint_time.as_ref().map(|t| t.0);
    let delay = first
        .zip(copied)
        .map(|(first, copied)| first.as_second().saturating_sub(copied.as_second()).max(0));
    SecondLogCopy {
        phase: Some(SecondCopyPhase::Paused),
        delay_seconds: delay.or(previous.delay_seconds),
        message: Some(
            "paused (spec.secondCopy: Paused): archiving goes on, nothing more is copied to the second \
             destination until secondCopy is Running again"
                .into(),
        ),
        ..previous
    }
}

/// Records in `copy`'s history how it changed since `previous` at `now`: started, paused, resumed or
/// stopped (and why); the newest [`COPY_HISTORY`] entries kept.
pub fn note(previous: Option<&SecondLogCopy>, copy: &mut SecondLogCopy, now: Timestamp) {
    let before = previous.and_then(|p| p.phase);
    let Some(entry) = change(before, copy) else {
        return;
    };
    let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
    history.push(CopyScheduling {
        at: api_time(now),
        action: entry.0,
        message: entry.1,
    });
    let excess = history.len().saturating_sub(COPY_HISTORY);
    history.drain(..excess);
    copy.history = history;
}

/// What changed from phase `before` to `copy`'s, if it is news for the history.
fn change(before: Option<SecondCopyPhase>, copy: &SecondLogCopy) -> Option<(CopyAction, String)> {
    use SecondCopyPhase::{Completed, Failed, InProgress, Paused, Pending};
    let after = copy.phase?;
    let directory = copy
        .storage_directory
        .as_deref()
        .unwrap_or("the second destination");
    let entry = match (before, after) {
        (Some(Paused), Paused) => return None,
        (_, Paused) => (
            CopyAction::Paused,
            "spec.secondCopy: Paused; archiving goes on".to_string(),
        ),
        (Some(Paused), _) => (
            CopyAction::Resumed,
            format!("spec.secondCopy: Running; copying to {directory} from where it stopped"),
        ),
        (None | Some(Completed | Failed), Pending | InProgress) => (
            CopyAction::Started,
            format!("copying the archive to {directory}"),
        ),
        (_, Completed) if before != Some(Completed) => (
            CopyAction::Stopped,
            "archiving stopped and every piece is copied".to_string(),
        ),
        (_, Failed) if before != Some(Failed) => (
            CopyAction::Stopped,
            format!(
                "the copy failed: {}",
                copy.message.as_deref().unwrap_or("no message")
            ),
        ),
        _ => return None,
    };
    Some(entry)
}

/// The Events for history entries `desired` has and `current` had not: Warning for a copy that failed,
/// Normal for the others.
pub fn news(current: Option<&LogBackupStatus>, desired: &LogBackupStatus) -> Vec<Event> {
    let known = current
        .and_then(|c| c.second_backup.as_ref())
        .map(|c| c.history.as_slice())
        .unwrap_or_default();
    let Some(copy) = desired.second_backup.as_ref() else {
        return Vec::new();
    };
    copy.history
        .iter()
        .filter(|entry| !known.contains(entry))
        .map(|entry| {
            let failed =
                entry.action == CopyAction::Stopped && copy.phase == Some(SecondCopyPhase::Failed);
            let reason = match entry.action {
                CopyAction::Started => Reason::SecondLogCopyStarted,
                CopyAction::Paused => Reason::SecondLogCopyPaused,
                CopyAction::Resumed => Reason::SecondLogCopyResumed,
                CopyAction::Stopped => Reason::SecondLogCopyStopped,
            };
            Event {
                type_: if failed {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: <&str>::from(reason).to_string(),
                note: Some(crate::controller::status::truncate(&entry.message)),
                action: "SecondCopy".into(),
                secondary: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(phase: SecondCopyPhase) -> SecondLogCopy {
        SecondLogCopy {
            phase: Some(phase),
            storage_directory: Some("s3://second/archive".into()),
            ..SecondLogCopy::default()
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("time")
    }

    /// Walks a copy through start, pause, resume, stop; each change recorded once.
    #[test]
    fn each_start_pause_resume_and_stop_is_recorded_once_in_order() {
        use SecondCopyPhase::*;
        let mut previous: Option<SecondLogCopy> = None;
        for (i, phase) in [
            InProgress, InProgress, Paused, Paused, InProgress, Completed, Completed,
        ]
        .into_iter()
        .enumerate()
        {
            let mut next = SecondLogCopy {
                history: previous
                    .as_ref()
                    .map(|p| p.history.clone())
                    .unwrap_or_default(),
                ..copy(phase)
            };
            note(previous.as_ref(), &mut next, at(i as i64));
            previous = Some(next);
        }
        let history = previous.expect("walked").history;
        let actions: Vec<CopyAction> = history.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                CopyAction::Started,
                CopyAction::Paused,
                CopyAction::Resumed,
                CopyAction::Stopped
            ]
        );
        assert_eq!(history[1].at, api_time(at(2)));
        assert!(history[3].message.contains("every piece is copied"));
    }

    #[test]
    fn a_failed_copy_is_a_stop_with_its_cause_and_a_warning() {
        let before = copy(SecondCopyPhase::InProgress);
        let mut failed = SecondLogCopy {
            message: Some("piece 3 read back differs".into()),
            ..copy(SecondCopyPhase::Failed)
        };
        note(Some(&before), &mut failed, at(5));
        assert_eq!(failed.history.len(), 1);
        assert!(
            failed.history[0]
                .message
                .contains("piece 3 read back differs")
        );
        let desired = LogBackupStatus {
            second_backup: Some(failed),
            ..LogBackupStatus::default()
        };
        let events = news(None, &desired);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].type_, EventType::Warning);
        assert_eq!(events[0].reason, "SecondLogCopyStopped");
        // Written again: nothing new to tell.
        assert!(news(Some(&desired), &desired).is_empty());
    }

    #[test]
    fn the_history_keeps_the_newest_twenty() {
        let mut copy_now = copy(SecondCopyPhase::Paused);
        for i in 0..30 {
            let before = copy(if i % 2 == 0 {
                SecondCopyPhase::InProgress
            } else {
                SecondCopyPhase::Paused
            });
            let mut next = SecondLogCopy {
                history: copy_now.history.clone(),
                ..copy(if i % 2 == 0 {
                    SecondCopyPhase::Paused
                } else {
                    SecondCopyPhase::InProgress
                })
            };
            let previous = SecondLogCopy {
                history: copy_now.history.clone(),
                ..before
            };
            note(Some(&previous), &mut next, at(i));
            copy_now = next;
        }
        assert_eq!(copy_now.history.len(), COPY_HISTORY);
        assert_eq!(
            copy_now.history.last().map(|e| e.at.clone()),
            Some(api_time(at(29)))
        );
    }

    #[test]
    fn a_paused_copy_keeps_its_checkpoint_and_falls_behind() {
        let copied = SecondLogCopy {
            checkpoint_time: Some(api_time(at(100))),
            copied_piece_id: Some(2),
            ..copy(SecondCopyPhase::InProgress)
        };
        let held = paused(copied, Some(at(160)));
        assert_eq!(held.phase, Some(SecondCopyPhase::Paused));
        assert_eq!(held.checkpoint_time, Some(api_time(at(100))));
        assert_eq!(
            (held.delay_seconds, held.copied_piece_id),
            (Some(60), Some(2))
        );
    }
}
