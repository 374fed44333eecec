//! The names OceanBase gives what it writes at a destination's root beside the set and piece directories —
//! the files a restore lists to find what the destination holds (OceanBase's `ob_backup_path.cpp` and
//! `ob_archive_path.cpp`):
//!
//! - a data destination: `format.obbak`; `backup_sets/backup_set_<id>_<full|inc>_start.obbak` when a set
//!   starts and `…_end_success_<min restore time>.obbak` when it succeeds; inside the set's directory
//!   `backup_set_<id>_<full|inc>_<replay time>_<min restore time>.obbak`;
//! - an archive destination: `format.obarc`; `rounds/round_d<dest>r<round>_start.obarc`;
//!   `pieces/piece_d<dest>r<round>p<piece>_start_<start time>.obarc` when a piece starts and
//!   `…_end_<end time>.obarc` when it freezes; inside the piece's directory
//!   `piece_d<dest>r<round>p<piece>_<start time>_<end time>.obarc`.
//!
//! Times are time tags (`20260601T120000`, UTC here).

/// The format file at a data destination's root.
pub const DATA_FORMAT: &str = "format.obbak";
/// The format file at an archive destination's root.
pub const ARCHIVE_FORMAT: &str = "format.obarc";

/// The time tag of an SCN (nanoseconds since the epoch).
pub fn time_tag(scn: u64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(scn))
        .map(|t| t.strftime("%Y%m%dT%H%M%S").to_string())
        .unwrap_or_else(|_| "19700101T000000".to_string())
}

/// A set's directory name: `backup_set_1_full`.
pub fn set_dir(id: i64, incremental: bool) -> String {
    let kind = if incremental { "inc" } else { "full" };
    format!("backup_set_{id}_{kind}")
}

/// The placeholder written under `backup_sets/` when the set starts.
pub fn set_start(set_dir: &str) -> String {
    format!("backup_sets/{set_dir}_start.obbak")
}

/// What the placeholders of a set that succeeded begin with, under the destination's root.
pub fn set_end_prefix(set_dir: &str) -> String {
    format!("backup_sets/{set_dir}_end_success_")
}

/// The placeholder written under `backup_sets/` when the set succeeds.
pub fn set_end(set_dir: &str, min_restore_scn: u64) -> String {
    format!(
        "{}{}.obbak",
        set_end_prefix(set_dir),
        time_tag(min_restore_scn)
    )
}

/// The placeholder inside the set's directory.
pub fn set_inner(set_dir: &str, replay_scn: u64, min_restore_scn: u64) -> String {
    format!(
        "{set_dir}_{}_{}.obbak",
        time_tag(replay_scn),
        time_tag(min_restore_scn)
    )
}

/// A piece's directory name: `piece_d1001r1p1`.
pub fn piece_dir(dest: i64, round: i64, piece: i64) -> String {
    format!("piece_d{dest}r{round}p{piece}")
}

/// The (dest, round, piece) of a piece directory's name.
pub fn piece_ids(dir: &str) -> Option<(i64, i64, i64)> {
    let rest = dir.strip_prefix("piece_d")?;
    let (dest, rest) = rest.split_once('r')?;
    let (round, piece) = rest.split_once('p')?;
    Some((dest.parse().ok()?, round.parse().ok()?, piece.parse().ok()?))
}

/// The placeholder written under `rounds/` when the round starts.
pub fn round_start(dest: i64, round: i64) -> String {
    format!("rounds/round_d{dest}r{round}_start.obarc")
}

/// What the start placeholder of a piece begins with, under the destination's root.
pub fn piece_start_prefix(piece_dir: &str) -> String {
    format!("pieces/{piece_dir}_start_")
}

/// The placeholder written under `pieces/` when the piece starts.
pub fn piece_start(piece_dir: &str, start_scn: u64) -> String {
    format!(
        "{}{}.obarc",
        piece_start_prefix(piece_dir),
        time_tag(start_scn)
    )
}

/// The placeholder written under `pieces/` when the piece freezes.
pub fn piece_end(piece_dir: &str, end_scn: u64) -> String {
    format!("pieces/{piece_dir}_end_{}.obarc", time_tag(end_scn))
}

/// The placeholder inside the piece's directory, once it froze.
pub fn piece_inner(piece_dir: &str, start_scn: u64, end_scn: u64) -> String {
    format!(
        "{piece_dir}_{}_{}.obarc",
        time_tag(start_scn),
        time_tag(end_scn)
    )
}

/// The URI of the directory holding `uri` (its query kept): a set's or piece's destination root.
pub fn parent(uri: &str) -> Option<String> {
    let (base, query) = match uri.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (uri, None),
    };
    let (parent, _) = base.trim_end_matches('/').rsplit_once('/')?;
    if parent
        .split_once("://")
        .is_none_or(|(_, path)| path.is_empty())
    {
        return None;
    }
    Some(match query {
        Some(query) => format!("{parent}?{query}"),
        None => parent.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_oceanbases_layout() {
        let noon = 1_780_315_200_000_000_000; // 2026-06-01T12:00:00Z
        assert_eq!(time_tag(noon), "20260601T120000");
        let set = set_dir(3, true);
        assert_eq!(set, "backup_set_3_inc");
        assert_eq!(set_start(&set), "backup_sets/backup_set_3_inc_start.obbak");
        assert_eq!(
            set_end(&set, noon),
            "backup_sets/backup_set_3_inc_end_success_20260601T120000.obbak"
        );
        assert_eq!(
            set_inner(&set, noon, noon),
            "backup_set_3_inc_20260601T120000_20260601T120000.obbak"
        );
        let piece = piece_dir(1001, 1, 12);
        assert_eq!(piece_ids(&piece), Some((1001, 1, 12)));
        assert_eq!(round_start(1001, 1), "rounds/round_d1001r1_start.obarc");
        assert_eq!(
            piece_start(&piece, noon),
            "pieces/piece_d1001r1p12_start_20260601T120000.obarc"
        );
        assert_eq!(
            piece_end(&piece, noon),
            "pieces/piece_d1001r1p12_end_20260601T120000.obarc"
        );
        // Set 1's placeholders are not set 10's.
        assert!(
            !set_start(&set_dir(10, false))
                .starts_with(&format!("backup_sets/{}_", set_dir(1, false)))
        );
    }

    #[test]
    fn the_parent_of_a_set_is_its_destination_with_the_query_kept() {
        assert_eq!(
            parent("file:///backup/t1/data/backup_set_1_full").as_deref(),
            Some("file:///backup/t1/data")
        );
        assert_eq!(
            parent("s3://b/ob/data/backup_set_1_full?host=h&s3_region=r").as_deref(),
            Some("s3://b/ob/data?host=h&s3_region=r")
        );
        assert_eq!(parent("s3://b"), None);
        assert_eq!(parent("file:///x"), None);
    }
}
