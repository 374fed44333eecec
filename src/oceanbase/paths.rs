//! The directories OceanBase writes a backup set and an archive piece into, under their destination:
//! `backup_set_<id>_<full|inc>` and `piece_d<dest>r<round>p<piece>` (OceanBase's `ob_backup_path.cpp`,
//! `ob_archive_path.cpp`). The views' `PATH` may name that directory or only the destination holding it;
//! read either way, a set's or piece's path here is its own directory — what a second copy copies.

use super::BackupType;

/// The directory name of set `id` of `kind`; none for a backup type OceanBase does not write sets of.
pub fn set_dir_name(id: i64, kind: &BackupType) -> Option<String> {
    let kind = match kind {
        BackupType::Full => "full",
        BackupType::Inc => "inc",
        BackupType::Other(_) => return None,
    };
    (id > 0).then(|| format!("backup_set_{id}_{kind}"))
}

/// The directory name of piece `piece` of round `round` on destination `dest`.
pub fn piece_dir_name(dest: i64, round: i64, piece: i64) -> String {
    format!("piece_d{dest}r{round}p{piece}")
}

/// `path` (a URI, its query kept) as the directory `name`: itself when it names that directory already,
/// else `name` under it (the destination holding it). An empty path stays empty.
pub fn directory_named(path: &str, name: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let (base, query) = match path.split_once('?') {
        Some((base, query)) => (base.trim_end_matches('/'), Some(query)),
        None => (path.trim_end_matches('/'), None),
    };
    let directory = if base.rsplit('/').next() == Some(name) {
        base.to_string()
    } else {
        format!("{base}/{name}")
    };
    match query {
        Some(query) => format!("{directory}?{query}"),
        None => directory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_naming_the_destination_or_the_directory_reads_as_the_directory() {
        let set = set_dir_name(3, &BackupType::Inc).expect("a set directory");
        assert_eq!(set, "backup_set_3_inc");
        for path in [
            "file:///backup/data",
            "file:///backup/data/",
            "file:///backup/data/backup_set_3_inc",
        ] {
            assert_eq!(
                directory_named(path, &set),
                "file:///backup/data/backup_set_3_inc",
                "{path}"
            );
        }
        assert_eq!(
            directory_named(
                "s3://b/ob/archive?host=h&s3_region=r",
                &piece_dir_name(1001, 2, 7)
            ),
            "s3://b/ob/archive/piece_d1001r2p7?host=h&s3_region=r"
        );
        // Set 1's directory is not mistaken for set 10's destination.
        assert_eq!(
            directory_named("file:///d/backup_set_10_full", "backup_set_1_full"),
            "file:///d/backup_set_10_full/backup_set_1_full"
        );
        assert_eq!(directory_named("", &set), "");
        assert_eq!(set_dir_name(0, &BackupType::Full), None);
        assert_eq!(set_dir_name(1, &BackupType::Other("X".into())), None);
    }
}
