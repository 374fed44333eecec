//! What OceanBase keeps at a destination's root for each backup set or archive piece directory
//! (OceanBase's `ob_backup_path.cpp`, `ob_archive_path.cpp`): the destination's format file, shared by every
//! tree under it, and the placeholders a restore lists to find a set or piece —
//! `backup_sets/backup_set_<id>_<full|inc>_start.obbak` and `…_end_success_<time>.obbak`;
//! `rounds/round_d<dest>r<round>_start.obarc` (and `_end`); `pieces/piece_d<dest>r<round>p<piece>_start_<time>.obarc`
//! and `…_end_<time>.obarc`. A copy of a tree carries them; a deleted copy loses its own, never the format
//! file nor its round's, which other trees need.

use opendal::{ErrorKind, Operator};

use super::StorageError;

/// The objects at the root that go with one tree. Listings are (directory, name prefix): the objects listed
/// in the directory whose names start with the prefix.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Companions {
    /// Objects named exactly, shared with the destination's other trees (the format file).
    pub files: Vec<String>,
    /// Listed objects shared with other trees (a piece's round placeholders, which every piece of the
    /// round needs): copied with the tree, never deleted with it.
    pub shared: Vec<(String, String)>,
    /// The tree's own placeholders: copied with it, deleted with it.
    pub own: Vec<(String, String)>,
}

/// The companions of `tree`: for `backup_set_<id>_<full|inc>`, `format.obbak` and
/// `backup_sets/backup_set_<id>_<full|inc>_*`; for `piece_d<dest>r<round>p<piece>`, `format.obarc`,
/// `rounds/round_d<dest>r<round>_*` and `pieces/piece_d<dest>r<round>p<piece>_*`; none for a tree of
/// another shape.
pub fn companions(tree: &str) -> Companions {
    let tree = tree.trim_matches('/');
    let (parent, name) = match tree.rsplit_once('/') {
        Some((parent, name)) => (format!("{parent}/"), name),
        None => (String::new(), tree),
    };
    let at = |path: &str| format!("{parent}{path}");
    if name.starts_with("backup_set_") {
        return Companions {
            files: vec![at("format.obbak")],
            shared: Vec::new(),
            own: vec![(at("backup_sets/"), format!("{name}_"))],
        };
    }
    match piece_round(name) {
        Some(round) => Companions {
            files: vec![at("format.obarc")],
            shared: vec![(at("rounds/"), format!("round_{round}_"))],
            own: vec![(at("pieces/"), format!("{name}_"))],
        },
        None => Companions::default(),
    }
}

/// `d<dest>r<round>` of a piece directory's name `piece_d<dest>r<round>p<piece>`.
fn piece_round(name: &str) -> Option<&str> {
    let (round, piece) = name.strip_prefix("piece_")?.rsplit_once('p')?;
    let (dest, round_id) = round.strip_prefix('d')?.split_once('r')?;
    let numbers = [dest, round_id, piece];
    numbers
        .iter()
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then_some(round)
}

/// The objects in each listed directory of `operator` whose names start with its prefix.
pub async fn listed_under(
    operator: &Operator,
    listings: &[(String, String)],
) -> Result<Vec<String>, StorageError> {
    let mut found = Vec::new();
    for (dir, prefix) in listings {
        let entries = match operator.list(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(StorageError::io(&e)),
        };
        found.extend(
            entries
                .iter()
                .filter(|e| e.metadata().is_file() && e.name().starts_with(prefix.as_str()))
                .map(|e| e.path().to_string()),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_or_piece_names_its_format_file_and_placeholders_and_nothing_of_its_neighbours() {
        assert_eq!(
            companions("backup_set_1_full"),
            Companions {
                files: vec!["format.obbak".into()],
                shared: vec![],
                own: vec![("backup_sets/".into(), "backup_set_1_full_".into())],
            }
        );
        assert_eq!(
            companions("tenant/piece_d1001r2p13/"),
            Companions {
                files: vec!["tenant/format.obarc".into()],
                shared: vec![("tenant/rounds/".into(), "round_d1001r2_".into())],
                own: vec![("tenant/pieces/".into(), "piece_d1001r2p13_".into())],
            }
        );
        // Set 1's prefix is not set 10's; a round's is not round 10's.
        let set = &companions("backup_set_1_full").own[0].1;
        assert!(!"backup_set_10_full_start.obbak".starts_with(set.as_str()));
        let round = &companions("piece_d1001r1p1").shared[0].1;
        assert!(!"round_d1001r10_start.obarc".starts_with(round.as_str()));
        for other in ["logstream_1", "piece_x", "piece_d1r2", "piece_dxr1p1", ""] {
            assert_eq!(companions(other), Companions::default(), "{other}");
        }
    }
}
