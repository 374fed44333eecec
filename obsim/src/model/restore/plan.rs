//! Which backup sets and archive pieces a restore to a point uses (docs/reference/oceanbase-interface.md
//! §8), and the point `UNTIL TIME` names.

use super::{
    super::{
        archive::{Piece, scn},
        backup::BackupSet,
    },
    RestoreMedia,
};
use crate::error::SqlError;

/// The sets and pieces a restore to `scn` uses.
pub(super) struct Plan {
    pub scn: u64,
    pub sets: Vec<i64>,
    pub pieces: Vec<i64>,
}

impl Plan {
    /// The first piece the plan needs whose files are gone (the `lose-archive-piece` fault), if any.
    pub fn lost_piece(&self, media: &RestoreMedia) -> Option<i64> {
        self.pieces
            .iter()
            .copied()
            .find(|id| media.lost_pieces.contains(id))
    }
}

/// The plan of a restore to `target` (None: the latest point): the newest usable set whose replay starts in
/// a continuous log segment reaching the target, and the pieces of that segment from the set's replay start
/// to the target. `None`: the media cannot reach the target.
pub(super) fn plan(media: &RestoreMedia, target: Option<u64>) -> Option<Plan> {
    let usable: Vec<&BackupSet> = media
        .sets
        .iter()
        .map(|(s, _)| s)
        .filter(|s| s.status == "SUCCESS" && s.file_status == "AVAILABLE")
        .collect();
    let segments = segments(&media.pieces);
    // Newest set first: the first that reaches the target wins.
    usable.iter().rev().find_map(|set| {
        if !chain_ok(set, &usable) {
            return None;
        }
        let (_, end, in_segment) = segments.iter().find(|(start, end, _)| {
            *start <= set.start_replay_scn && set.start_replay_scn <= *end
        })?;
        let scn = target.unwrap_or(*end);
        if scn < set.min_restore_scn || scn > *end {
            return None;
        }
        let pieces = media
            .pieces
            .iter()
            .filter(|p| {
                in_segment.contains(&p.piece_id)
                    && p.checkpoint_scn >= set.start_replay_scn
                    && p.start_scn <= scn
            })
            .map(|p| p.piece_id)
            .collect();
        Some(Plan {
            scn,
            sets: chain(set, &usable),
            pieces,
        })
    })
}

/// Whether an incremental set's previous full and incremental sets are usable too.
fn chain_ok(set: &BackupSet, usable: &[&BackupSet]) -> bool {
    let present = |id: i64| id == 0 || usable.iter().any(|s| s.backup_set_id == id);
    !set.incremental
        || (present(set.prev_full_backup_set_id) && present(set.prev_inc_backup_set_id))
}

/// The sets a restore from `set` reads: its full set, then its incremental sets up to itself.
fn chain(set: &BackupSet, usable: &[&BackupSet]) -> Vec<i64> {
    if !set.incremental {
        return vec![set.backup_set_id];
    }
    std::iter::once(set.prev_full_backup_set_id)
        .chain(
            usable
                .iter()
                .filter(|s| {
                    s.incremental
                        && s.backup_set_id <= set.backup_set_id
                        && s.prev_full_backup_set_id == set.prev_full_backup_set_id
                })
                .map(|s| s.backup_set_id),
        )
        .collect()
}

/// Contiguous log ranges of the available pieces: (start, end, piece ids), joining a piece to the previous
/// range when it starts at or before that range's end (§8 step 1).
fn segments(pieces: &[Piece]) -> Vec<(u64, u64, Vec<i64>)> {
    let mut available: Vec<&Piece> = pieces
        .iter()
        .filter(|p| p.file_status == "AVAILABLE")
        .collect();
    available.sort_by_key(|p| p.start_scn);
    let mut segments: Vec<(u64, u64, Vec<i64>)> = Vec::new();
    for piece in available {
        match segments.last_mut() {
            Some((_, end, ids)) if piece.start_scn <= *end => {
                *end = (*end).max(piece.checkpoint_scn);
                ids.push(piece.piece_id);
            }
            _ => segments.push((piece.start_scn, piece.checkpoint_scn, vec![piece.piece_id])),
        }
    }
    segments
}

/// `UNTIL TIME = 'YYYY-MM-DD HH:MM:SS[.ffffff]'`, read as UTC (the session time zone of obsim).
pub(super) fn time_scn(text: &str) -> Result<u64, SqlError> {
    let civil: jiff::civil::DateTime = text
        .trim()
        .parse()
        .map_err(|_| SqlError::oceanbase(1210, "Invalid argument"))?;
    let time = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| SqlError::oceanbase(1210, "Invalid argument"))?
        .timestamp();
    Ok(scn(time))
}
