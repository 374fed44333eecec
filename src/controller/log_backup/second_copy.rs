//! A tenant's archive copied to the strategy's second log destination (the console's "Second Log Backup"):
//! every piece under the first log destination is copied oldest first — an active piece pass after pass
//! as it grows, each pass as of the checkpoint read before it, and once more whole when it freezes. The
//! status says up to when the copy holds the logs and how far it is behind the first destination. The
//! copies run in the background ([`crate::storage::copies`]); nothing on the first destination is touched,
//! and an outage of either storage leaves the copy `InProgress` with a message, never `Failed`.

use crate::reason::Reason;
use jiff::SignedDuration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{Context, Error, Target, copy_schedule, decide::Decision};
use crate::{
    api::{
        LogBackup, LogBackupPhase,
        common::{SecondCopyPhase, StorageDestination},
        log_backup::{DesiredCopyState, SecondLogCopy},
    },
    controller::{
        conditions::{SECOND_COPY_WITHIN_THRESHOLD, api_time, condition, merge},
        references,
    },
    observer::Observation,
    oceanbase::scn_time,
    oceanbase::{AccessKeys, FileStatus, PieceRow, PieceStatus, Snapshot, TenantRow},
    storage::{
        copies::{CopyRequest, CopyState, Work},
        tree_under, without_query,
    },
    timing::delay_stale,
    timing::{ACTIVE_PIECE_PASS_GAP, RECHECK_REFERENCES_AFTER, SECOND_COPY_PROGRESS_EVERY},
};

/// Copies what is new of the archive (nothing while `spec.secondCopy` is `Paused`) and folds where the
/// copy stands into the decided status, with its history noted.
pub async fn follow(
    ctx: &Context,
    namespace: &str,
    archive: &LogBackup,
    target: &Target,
    seen: &Observation,
    decision: &mut Decision,
) -> Result<(), Error> {
    let previous = decision.status.second_backup.clone();
    if target.placement.second_backup.is_some()
        && archive.spec.second_copy == DesiredCopyState::Paused
    {
        let copy = copy_schedule::pause(ctx, namespace, archive, decision);
        set_copy(archive, decision, copy);
    } else {
        copy_archive(ctx, namespace, archive, target, seen, decision).await?;
    }
    if let Some(copy) = decision.status.second_backup.as_mut() {
        copy_schedule::note(previous.as_ref(), copy, crate::clock::now());
    }
    Ok(())
}

/// Copies what is new of the archive and folds where the copy stands into the decided status: without a
/// second destination nothing; without a fresh look at the pieces the copy as it was; held back while the
/// strategy or the Secrets say so; else the next pieces copied and the copy's status from them.
async fn copy_archive(
    ctx: &Context,
    namespace: &str,
    archive: &LogBackup,
    target: &Target,
    seen: &Observation,
    decision: &mut Decision,
) -> Result<(), Error> {
    let Some(second) = &target.placement.second_backup else {
        decision.status.second_backup = None;
        let conditions = &mut decision.status.conditions;
        conditions.retain(|c| c.type_ != SECOND_COPY_WITHIN_THRESHOLD);
        return Ok(());
    };
    let Some((snapshot, tenant)) = tenant_seen(archive, seen) else {
        keep_condition(archive, decision);
        return Ok(());
    };
    let previous = decision.status.second_backup.clone().unwrap_or_default();
    let to = &second.log_destination;
    let base = SecondLogCopy {
        storage_directory: Some(without_query(&to.uri).to_string()),
        ..previous.clone()
    };
    let to_keys = match cleared(ctx, namespace, archive, to).await? {
        Ok(keys) => keys,
        Err(why) => {
            hold(archive, decision, base, why);
            return Ok(());
        }
    };
    let pieces = available_pieces(snapshot, tenant);
    let from_keys = references::access_keys(ctx, namespace, &target.destination).await?;
    let request = |tree: String| CopyRequest {
        work: Work::Copy,
        from: target.destination.uri.clone(),
        from_keys: from_keys.clone(),
        to: to.uri.clone(),
        to_keys: to_keys.clone(),
        tree,
        concurrency: usize::try_from(second.concurrency).unwrap_or(1).max(1),
        bandwidth: second.bandwidth(),
        file_root: ctx.settings.file_root,
    };
    let name = archive.metadata.name.as_deref().unwrap_or_default();
    let pass = Pass {
        ctx,
        object: crate::background::Key::of(namespace, name),
        from: &target.destination.uri,
        request: &request,
    };
    let progress = pass.copy(&pieces, &previous);
    let last_piece = pieces.last().map(|p| p.piece_id);
    let grain = ctx.writes.freshness();
    fold(archive, decision, base, progress, last_piece, grain);
    Ok(())
}

/// The tenant's available archive pieces, oldest first.
fn available_pieces<'a>(snapshot: &'a Snapshot, tenant: &TenantRow) -> Vec<&'a PieceRow> {
    let mut pieces: Vec<&PieceRow> = snapshot
        .pieces
        .iter()
        .filter(|p| p.tenant_id == tenant.id && p.file_status == FileStatus::Available)
        .collect();
    pieces.sort_by_key(|p| p.piece_id);
    pieces
}

/// Folds how far this look's copying got into the decided status (complete once archiving stopped and the
/// last piece is copied), its figures that move by themselves kept within `grain`, looking again soon
/// while it copies.
fn fold(
    archive: &LogBackup,
    decision: &mut Decision,
    base: SecondLogCopy,
    progress: Progress,
    last_piece: Option<i64>,
    grain: SignedDuration,
) {
    // Measured against the first destination's checkpoint as the status shows it.
    let first_checkpoint = decision.status.checkpoint_time.as_ref().and_then(time_scn);
    let stopped = decision.status.phase == Some(LogBackupPhase::Stopped);
    let all_copied = last_piece <= progress.copied_piece_id;
    let copy = progress.status(base, first_checkpoint, stopped && all_copied, grain);
    if copy.phase == Some(SecondCopyPhase::InProgress) {
        decision.recheck = Some(decision.recheck.map_or(SECOND_COPY_PROGRESS_EVERY, |r| {
            r.min(SECOND_COPY_PROGRESS_EVERY)
        }));
    }
    set_copy(archive, decision, copy);
}

/// The copy waits (`why`) for its strategy or its Secret; looked at again after a while.
fn hold(archive: &LogBackup, decision: &mut Decision, base: SecondLogCopy, why: String) {
    let copy = SecondLogCopy {
        phase: Some(SecondCopyPhase::Pending),
        message: Some(why),
        ..base
    };
    decision.recheck = Some(RECHECK_REFERENCES_AFTER);
    set_copy(archive, decision, copy);
}

/// Puts `copy` and its `SecondCopyWithinThreshold` into the decided status.
fn set_copy(archive: &LogBackup, decision: &mut Decision, copy: SecondLogCopy) {
    set_condition(archive, decision, &copy);
    decision.status.second_backup = Some(copy);
}

/// The snapshot and the archive's tenant in it, from a fresh look.
fn tenant_seen<'a>(
    archive: &LogBackup,
    seen: &'a Observation,
) -> Option<(&'a Snapshot, &'a TenantRow)> {
    match seen {
        Observation::Seen { snapshot, .. } => snapshot
            .tenant(&archive.spec.tenant)
            .map(|t| (snapshot.as_ref(), t)),
        _ => None,
    }
}

/// Without a fresh look at the pieces, `SecondCopyWithinThreshold` stays as the status had it.
fn keep_condition(archive: &LogBackup, decision: &mut Decision) {
    let previous = archive.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == SECOND_COPY_WITHIN_THRESHOLD)
    });
    if let Some(previous) = previous {
        let conditions = &mut decision.status.conditions;
        conditions.retain(|c| c.type_ != SECOND_COPY_WITHIN_THRESHOLD);
        conditions.push(previous.clone());
    }
}

/// The keys of the second log destination once the copy may go on, else why it waits (the strategy holds
/// its second copies back, or the destination's Secret is missing).
async fn cleared(
    ctx: &Context,
    namespace: &str,
    archive: &LogBackup,
    to: &StorageDestination,
) -> Result<Result<Option<AccessKeys>, String>, Error> {
    if let Some(reference) = &archive.spec.strategy_ref
        && let Err(why) =
            crate::controller::references::second_copy_cleared(ctx, namespace, &reference.name)
                .await?
    {
        return Ok(Err(why));
    }
    let to_keys = references::access_keys(ctx, namespace, to).await?;
    if let (Some(secret), None) = (&to.credentials_secret, &to_keys) {
        return Ok(Err(format!(
            "waiting for Secret {secret} with keys accessId and accessKey for the second log destination"
        )));
    }
    Ok(Ok(to_keys))
}

/// One look's copying: the archive's pieces past the last one copied, oldest first, under keys of `object`.
struct Pass<'a> {
    ctx: &'a Context,
    /// `namespace/name` of the archive.
    object: crate::background::Key,
    /// The first log destination.
    from: &'a str,
    request: &'a dyn Fn(String) -> CopyRequest,
}

impl Pass<'_> {
    /// Copies every frozen piece not yet copied, up to the first one still copying (an active piece is
    /// copied pass after pass as it grows), and says how far the copy got.
    fn copy(&self, pieces: &[&PieceRow], previous: &SecondLogCopy) -> Progress {
        let ctx = self.ctx;
        let mut progress = Progress::from(previous);
        for piece in pieces
            .iter()
            .filter(|p| Some(p.piece_id) > previous.copied_piece_id)
        {
            let Some(tree) = tree_under(self.from, &piece.path) else {
                progress.failed = Some(format!(
                    "archive piece {} lies at {}, not under the log destination {}",
                    piece.piece_id, piece.path, self.from
                ));
                break;
            };
            let request = (self.request)(tree);
            let piece_key = |end: &str| crate::background::Key {
                part: format!("piece/{}/{end}", piece.piece_id),
                ..self.object.clone()
            };
            let (frozen_key, active_key) = (piece_key("frozen"), piece_key("active"));
            if piece.status == PieceStatus::Frozen {
                let state = ctx.copies.ensure(&frozen_key, &request);
                if let CopyState::Done(report) = &state {
                    progress.piece_copied(piece, report.bytes);
                    // Its end is in the status written next; a lost write only repeats a verification.
                    ctx.copies.forget(&frozen_key);
                    ctx.copies.forget(&active_key);
                    continue;
                }
                progress.state(&state);
            } else {
                let (covered, state) = ctx.copies.repeat(
                    &active_key,
                    &request,
                    piece.checkpoint_scn,
                    ACTIVE_PIECE_PASS_GAP,
                );
                if let Some(covered) = covered {
                    progress.covered(covered);
                }
                progress.state(&state);
                progress.active = true;
            }
            break;
        }
        progress
    }
}

/// Puts `SecondCopyWithinThreshold` for `copy` into the decided status, keeping when it last changed.
fn set_condition(archive: &LogBackup, decision: &mut Decision, copy: &SecondLogCopy) {
    let previous = archive
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let conditions = &mut decision.status.conditions;
    conditions.retain(|c| c.type_ != SECOND_COPY_WITHIN_THRESHOLD);
    conditions.extend(merge(
        &previous,
        vec![behind(archive, copy)],
        crate::clock::now(),
    ));
}

/// `SecondCopyWithinThreshold`: the copy lags the first destination less than the LogBackup's
/// `delayAlertThreshold`, and no copy failed. The message holds no live number (it would rewrite the
/// status at every look); `delaySeconds` and the metric carry it.
fn behind(archive: &LogBackup, copy: &SecondLogCopy) -> Condition {
    let threshold = &archive.spec.delay_alert_threshold;
    let limit = super::decide::alert_threshold(archive).as_secs();
    let (within, reason, message) = if copy.phase == Some(SecondCopyPhase::Failed) {
        (
            false,
            Reason::SecondCopyFailed,
            "a copy to the second destination read back differs; see secondBackup.message"
                .to_string(),
        )
    } else if copy.delay_seconds.is_some_and(|d| d >= limit) {
        (
            false,
            Reason::DelayOverThreshold,
            format!(
                "the second copy of the archive lags the first by the alert threshold ({threshold}) or more"
            ),
        )
    } else {
        (
            true,
            Reason::WithinThreshold,
            format!(
                "the second copy of the archive lags the first less than the alert threshold ({threshold})"
            ),
        )
    };
    condition(
        SECOND_COPY_WITHIN_THRESHOLD,
        within,
        reason,
        &message,
        archive.metadata.generation,
    )
}

/// What this look found of the copy.
#[derive(Debug, Default)]
struct Progress {
    copied_piece_id: Option<i64>,
    /// The checkpoint SCN up to which the copy holds the logs.
    checkpoint: Option<u64>,
    bytes: i64,
    /// An active piece is being copied pass after pass.
    active: bool,
    waiting: Option<String>,
    failed: Option<String>,
}

impl Progress {
    fn from(previous: &SecondLogCopy) -> Self {
        Self {
            copied_piece_id: previous.copied_piece_id,
            checkpoint: previous.checkpoint_time.as_ref().and_then(time_scn),
            bytes: previous.bytes.unwrap_or(0),
            ..Self::default()
        }
    }

    fn piece_copied(&mut self, piece: &PieceRow, bytes: u64) {
        self.copied_piece_id = Some(piece.piece_id);
        self.covered(piece.checkpoint_scn);
        self.bytes = self
            .bytes
            .saturating_add(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn covered(&mut self, scn: u64) {
        self.checkpoint = self.checkpoint.max(Some(scn));
    }

    fn state(&mut self, state: &CopyState) {
        match state {
            CopyState::Failed {
                message,
                transient: true,
            } => self.waiting = Some(message.clone()),
            CopyState::Failed {
                message,
                transient: false,
            } => self.failed = Some(message.clone()),
            CopyState::Running { .. } | CopyState::Done(_) => {}
        }
    }

    /// The copy's status: `complete` when archiving stopped and every piece is copied. The checkpoint and
    /// delay shown are kept unless a `grain` behind, as the first's are, so that a copy keeping up rewrites
    /// nothing; the copy's checkpoint shown is never past the first's.
    fn status(
        self,
        base: SecondLogCopy,
        first_checkpoint: Option<u64>,
        complete: bool,
        grain: SignedDuration,
    ) -> SecondLogCopy {
        let now = crate::clock::now();
        let (phase, message) = if let Some(failed) = self.failed {
            (SecondCopyPhase::Failed, Some(failed))
        } else if let Some(waiting) = self.waiting {
            (
                SecondCopyPhase::InProgress,
                Some(format!(
                    "waiting for storage, the copy goes on after it: {waiting}"
                )),
            )
        } else if complete {
            (SecondCopyPhase::Completed, None)
        } else if self.checkpoint.is_none() && !self.active && self.copied_piece_id.is_none() {
            (
                SecondCopyPhase::Pending,
                Some("no archive piece to copy yet".to_string()),
            )
        } else {
            (SecondCopyPhase::InProgress, None)
        };
        let copied = self
            .checkpoint
            .map(|c| first_checkpoint.map_or(c, |first| c.min(first)));
        let delay = first_checkpoint
            .zip(copied)
            .map(|(first, copied)| seconds(first.saturating_sub(copied)));
        let recorded = base.checkpoint_time.as_ref().and_then(time_scn);
        let refresh = base.phase != Some(phase)
            || recorded.is_none() != copied.is_none()
            || copied
                .zip(recorded)
                .is_some_and(|(c, r)| seconds(c.saturating_sub(r)) >= grain.as_secs())
            || delay_stale(base.delay_seconds, delay, grain);
        let (checkpoint_time, delay_seconds) = if refresh {
            (copied.map(|scn| api_time(scn_time(scn))), delay)
        } else {
            (base.checkpoint_time.clone(), base.delay_seconds)
        };
        let started = phase != SecondCopyPhase::Pending;
        SecondLogCopy {
            phase: Some(phase),
            started_at: base
                .started_at
                .clone()
                .or_else(|| started.then(|| api_time(now))),
            checkpoint_time,
            delay_seconds,
            copied_piece_id: self.copied_piece_id,
            bytes: Some(self.bytes),
            message,
            ..base
        }
    }
}

/// The SCN of a time shown in a status.
fn time_scn(time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<u64> {
    u64::try_from(time.0.as_nanosecond()).ok()
}

/// Whole seconds of an SCN span.
fn seconds(span: u64) -> i64 {
    i64::try_from(span / 1_000_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::timing::STATUS_FRESHNESS;

    fn scn(seconds: u64) -> u64 {
        seconds * 1_000_000_000
    }

    #[test]
    fn the_delay_is_how_far_the_copy_is_behind_the_first_destination() {
        let mut progress = Progress::default();
        progress.covered(scn(1_700_000_000));
        let copy = progress.status(
            SecondLogCopy::default(),
            Some(scn(1_700_000_042)),
            false,
            STATUS_FRESHNESS,
        );
        assert_eq!(copy.phase, Some(SecondCopyPhase::InProgress));
        assert_eq!(copy.delay_seconds, Some(42));
        assert_eq!(
            copy.checkpoint_time.map(|t| t.0),
            Some(Timestamp::from_second(1_700_000_000).expect("time"))
        );
        assert!(copy.started_at.is_some());
    }

    #[test]
    fn a_copy_keeping_up_rewrites_nothing_and_never_shows_itself_past_the_first() {
        let mut progress = Progress::default();
        progress.covered(scn(1_700_000_000));
        let shown = progress.status(
            SecondLogCopy::default(),
            Some(scn(1_700_000_010)),
            false,
            STATUS_FRESHNESS,
        );
        // Ten seconds later the copy moved on, within a grain: the status stays as it was.
        let mut later = Progress::from(&shown);
        later.covered(scn(1_700_000_010));
        assert_eq!(
            later.status(
                shown.clone(),
                Some(scn(1_700_000_020)),
                false,
                STATUS_FRESHNESS
            ),
            shown
        );
        // The first's shown checkpoint is older than what the copy holds: the copy shows the first's.
        let mut ahead = Progress::default();
        ahead.covered(scn(1_700_000_100));
        let copy = ahead.status(
            SecondLogCopy::default(),
            Some(scn(1_700_000_050)),
            false,
            STATUS_FRESHNESS,
        );
        assert_eq!(copy.delay_seconds, Some(0));
        assert_eq!(
            copy.checkpoint_time.map(|t| t.0),
            Some(Timestamp::from_second(1_700_000_050).expect("time"))
        );
    }

    #[test]
    fn the_condition_turns_false_past_the_threshold_or_on_a_wrong_copy_and_names_no_number() {
        let archive: LogBackup = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "LogBackup",
            "metadata": {"name": "a", "generation": 3},
            "spec": {"strategyRef": {"name": "s"}, "tenant": "tenant1", "delayAlertThreshold": "10m"},
        }))
        .expect("archive");
        let copy = |delay: i64, phase: SecondCopyPhase| SecondLogCopy {
            delay_seconds: Some(delay),
            phase: Some(phase),
            ..SecondLogCopy::default()
        };
        let keeping_up = behind(&archive, &copy(599, SecondCopyPhase::InProgress));
        assert_eq!(
            (keeping_up.status.as_str(), keeping_up.reason.as_str()),
            ("True", "WithinThreshold")
        );
        let lagging = behind(&archive, &copy(600, SecondCopyPhase::InProgress));
        assert_eq!(
            (lagging.status.as_str(), lagging.reason.as_str()),
            ("False", "DelayOverThreshold")
        );
        assert!(!lagging.message.contains("600"), "{}", lagging.message);
        let wrong = behind(&archive, &copy(0, SecondCopyPhase::Failed));
        assert_eq!(
            (
                wrong.status.as_str(),
                wrong.reason.as_str(),
                wrong.observed_generation
            ),
            ("False", "SecondCopyFailed", Some(3))
        );
    }

    #[test]
    fn an_outage_waits_in_progress_and_only_a_wrong_copy_fails() {
        let mut waiting = Progress::default();
        waiting.state(&CopyState::Failed {
            message: "connection refused".into(),
            transient: true,
        });
        let copy = waiting.status(SecondLogCopy::default(), None, false, STATUS_FRESHNESS);
        assert_eq!(copy.phase, Some(SecondCopyPhase::InProgress));
        assert!(
            copy.message
                .is_some_and(|m| m.contains("connection refused"))
        );
        let mut wrong = Progress::default();
        wrong.state(&CopyState::Failed {
            message: "read back differs".into(),
            transient: false,
        });
        assert_eq!(
            wrong
                .status(SecondLogCopy::default(), None, true, STATUS_FRESHNESS)
                .phase,
            Some(SecondCopyPhase::Failed)
        );
    }

    #[test]
    fn a_copy_is_pending_before_any_piece_and_completed_once_a_stopped_archive_is_copied() {
        let nothing =
            Progress::default().status(SecondLogCopy::default(), None, false, STATUS_FRESHNESS);
        assert_eq!(nothing.phase, Some(SecondCopyPhase::Pending));
        assert_eq!(nothing.started_at, None);
        let previous = SecondLogCopy {
            copied_piece_id: Some(3),
            checkpoint_time: Some(api_time(
                Timestamp::from_second(1_700_000_000).expect("time"),
            )),
            bytes: Some(100),
            ..SecondLogCopy::default()
        };
        let progress = Progress::from(&previous);
        assert_eq!(progress.checkpoint, Some(scn(1_700_000_000)));
        let done = progress.status(previous, Some(scn(1_700_000_000)), true, STATUS_FRESHNESS);
        assert_eq!(
            (done.phase, done.delay_seconds, done.bytes),
            (Some(SecondCopyPhase::Completed), Some(0), Some(100))
        );
    }
}
