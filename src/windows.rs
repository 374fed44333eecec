//! The recoverable windows of a tenant — the console's "available recovery period" — from its
//! backup sets and archive pieces, by docs/reference/oceanbase-interface.md §8: contiguous log
//! ranges; sets whose whole chain is usable; for each, the range holding its replay start gives
//! `[MIN_RESTORE_SCN, end of that range]`; overlapping windows merge. Pure, on SCNs (nanoseconds
//! since the epoch).

pub mod drill;
pub mod point;

/// A backup set as the windows need it (`DBA_OB_BACKUP_SET_FILES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetFile {
    pub id: i64,
    pub incremental: bool,
    pub prev_full: i64,
    pub prev_inc: i64,
    pub start_replay_scn: u64,
    pub min_restore_scn: u64,
    /// STATUS `SUCCESS` and FILE_STATUS `AVAILABLE`.
    pub usable: bool,
}

/// Log an available piece (or round) covers: `[start, checkpoint]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRange {
    pub start_scn: u64,
    pub checkpoint_scn: u64,
}

/// A range of SCNs a restore can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from_scn: u64,
    pub to_scn: u64,
}

/// Nanoseconds (SCN units) in a second.
const SECOND: u64 = 1_000_000_000;

/// The first whole second at or after `scn`: where a window shown in whole seconds starts.
pub fn first_whole_second(scn: u64) -> u64 {
    scn.div_ceil(SECOND).saturating_mul(SECOND)
}

impl Window {
    /// The whole seconds inside the window (its start rounded up, its end down), so that every time shown
    /// can be restored to; `None` while it holds no whole second.
    pub fn whole_seconds(self) -> Option<Window> {
        let shown = Window {
            from_scn: first_whole_second(self.from_scn),
            to_scn: self.to_scn / SECOND * SECOND,
        };
        (shown.from_scn <= shown.to_scn).then_some(shown)
    }
}

/// The recoverable windows, oldest first, merged where they overlap.
pub fn windows(sets: &[SetFile], logs: &[LogRange]) -> Vec<Window> {
    let segments = contiguous(logs);
    let mut sorted: Vec<&SetFile> = sets.iter().collect();
    sorted.sort_by_key(|s| s.id);
    // A set counts when it and every set it builds on are usable (earlier ids come first).
    let mut valid: Vec<i64> = Vec::new();
    for set in sorted {
        let chain_ok = !set.incremental
            || (valid.contains(&set.prev_full)
                && (set.prev_inc == set.prev_full || valid.contains(&set.prev_inc)));
        if set.usable && chain_ok {
            valid.push(set.id);
        }
    }
    let mut found: Vec<Window> = sets
        .iter()
        .filter(|s| valid.contains(&s.id))
        .filter_map(|set| {
            let segment = segments.iter().find(|r| {
                r.start_scn <= set.start_replay_scn && set.start_replay_scn <= r.checkpoint_scn
            })?;
            (segment.checkpoint_scn >= set.min_restore_scn).then_some(Window {
                from_scn: set.min_restore_scn,
                to_scn: segment.checkpoint_scn,
            })
        })
        .collect();
    found.sort_by_key(|w| w.from_scn);
    let mut merged: Vec<Window> = Vec::new();
    for window in found {
        match merged.last_mut() {
            Some(last) if window.from_scn <= last.to_scn => {
                last.to_scn = last.to_scn.max(window.to_scn)
            }
            _ => merged.push(window),
        }
    }
    merged
}

/// Joins ranges that touch or overlap (§8 step 1, generalised to start ≤ previous end).
fn contiguous(logs: &[LogRange]) -> Vec<LogRange> {
    let mut sorted = logs.to_vec();
    sorted.sort_by_key(|r| r.start_scn);
    let mut joined: Vec<LogRange> = Vec::new();
    for range in sorted {
        match joined.last_mut() {
            Some(last) if range.start_scn <= last.checkpoint_scn => {
                last.checkpoint_scn = last.checkpoint_scn.max(range.checkpoint_scn)
            }
            _ => joined.push(range),
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_shown_by_the_whole_seconds_inside_it() {
        let window = |from_scn, to_scn| Window { from_scn, to_scn };
        let s = SECOND;
        assert_eq!(
            window(10 * s + 400, 12 * s + 900).whole_seconds(),
            Some(window(11 * s, 12 * s))
        );
        assert_eq!(
            window(10 * s, 12 * s).whole_seconds(),
            Some(window(10 * s, 12 * s))
        );
        assert_eq!(
            window(10 * s + 1, 11 * s).whole_seconds(),
            Some(window(11 * s, 11 * s))
        );
        assert_eq!(window(10 * s + 1, 10 * s + 900).whole_seconds(), None);
    }

    fn full(id: i64, replay: u64, restore: u64) -> SetFile {
        SetFile {
            id,
            incremental: false,
            prev_full: 0,
            prev_inc: 0,
            start_replay_scn: replay,
            min_restore_scn: restore,
            usable: true,
        }
    }

    fn inc(id: i64, prev_full: i64, prev_inc: i64, replay: u64, restore: u64) -> SetFile {
        SetFile {
            incremental: true,
            prev_full,
            prev_inc,
            ..full(id, replay, restore)
        }
    }

    fn logs(ranges: &[(u64, u64)]) -> Vec<LogRange> {
        ranges
            .iter()
            .map(|(start_scn, checkpoint_scn)| LogRange {
                start_scn: *start_scn,
                checkpoint_scn: *checkpoint_scn,
            })
            .collect()
    }

    fn spans(found: Vec<Window>) -> Vec<(u64, u64)> {
        found.iter().map(|w| (w.from_scn, w.to_scn)).collect()
    }

    #[test]
    fn a_full_set_and_continuous_pieces_give_one_window_to_the_checkpoint() {
        let sets = [full(1, 100, 150), inc(2, 1, 1, 400, 450)];
        let pieces = logs(&[(50, 300), (300, 600), (600, 900)]);
        assert_eq!(spans(windows(&sets, &pieces)), [(150, 900)]);
    }

    #[test]
    fn a_gap_in_the_log_splits_the_windows() {
        let sets = [full(1, 100, 150), full(2, 700, 750)];
        let pieces = logs(&[(50, 300), (600, 900)]);
        assert_eq!(spans(windows(&sets, &pieces)), [(150, 300), (750, 900)]);
    }

    #[test]
    fn broken_chains_failed_sets_and_uncovered_replay_starts_count_for_nothing() {
        let mut failed = full(1, 100, 150);
        failed.usable = false;
        // The incremental builds on the failed full: unusable too.
        let sets = [failed, inc(2, 1, 1, 400, 450)];
        assert!(windows(&sets, &logs(&[(50, 900)])).is_empty());
        // A full whose replay start no piece covers (pieces deleted).
        assert!(windows(&[full(3, 100, 150)], &logs(&[(120, 900)])).is_empty());
        // An incremental whose previous incremental is gone.
        let sets = [full(1, 100, 150), inc(3, 1, 2, 400, 450)];
        assert_eq!(
            spans(windows(&sets, &logs(&[(50, 900)]))),
            [(150, 900)],
            "only the full counts"
        );
    }
}
