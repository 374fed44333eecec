//! Real backup files. With a file root configured (the directory standing for the NFS share every OBServer
//! mounts), each backup set that succeeds is written under its `file://` path as OceanBase lays a set out —
//! `single_backup_set_info`, `meta_info/`, `infos/`, `logstream_1/major_data/macro_block_data.N` — with its
//! data scaled down ([`SCALE`]) but consistent with the views: the data files hold `OUTPUT_BYTES / SCALE`
//! bytes in all. Sets on other kinds of destination, and clusters without a root, write nothing.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use super::backup::BackupSet;

/// One byte on disk stands for this many bytes of backup.
pub const SCALE: u64 = 1024;
/// Largest data file written.
const DATA_FILE_BYTES: u64 = 256 * 1024;

/// Where sets are written, and which were (and were deleted again).
#[derive(Clone, Debug)]
pub struct Files {
    root: PathBuf,
    written: HashSet<(i64, i64)>,
    removed: HashSet<(i64, i64)>,
}

impl Files {
    /// Files under `root`: `file:///backup/x` is `<root>/backup/x`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            written: HashSet::new(),
            removed: HashSet::new(),
        }
    }

    /// The local path of a `file://` URI, if it is one.
    pub fn local(&self, uri: &str) -> Option<PathBuf> {
        let path = uri.strip_prefix("file://")?;
        Some(self.root.join(path.trim_start_matches('/')))
    }

    /// Brings the files of `set` of `tenant_id` in line with it: written once it has succeeded, removed
    /// once a cleanup deleted it.
    pub fn sync(&mut self, tenant_id: i64, set: &BackupSet) {
        let key = (tenant_id, set.backup_set_id);
        let Some(dir) = self.local(&set.path) else {
            return;
        };
        if set.file_status == "DELETED" {
            if self.written.contains(&key) && self.removed.insert(key) {
                let _ = std::fs::remove_dir_all(&dir);
            }
        } else if set.status == "SUCCESS"
            && self.written.insert(key)
            && let Err(error) = write_tree(&dir, tenant_id, set)
        {
            eprintln!(
                "obsim: writing backup set {} failed: {error}",
                dir.display()
            );
        }
    }
}

fn write_tree(dir: &Path, tenant_id: i64, set: &BackupSet) -> std::io::Result<()> {
    for sub in ["meta_info", "infos", "logstream_1/major_data"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let kind = if set.incremental { "INC" } else { "FULL" };
    std::fs::write(
        dir.join("single_backup_set_info"),
        format!(
            "tenant_id={tenant_id}\nbackup_set_id={}\nbackup_type={kind}\nprev_full_backup_set_id={}\n\
             start_replay_scn={}\nmin_restore_scn={}\noutput_bytes={}\n",
            set.backup_set_id,
            set.prev_full_backup_set_id,
            set.start_replay_scn,
            set.min_restore_scn,
            set.output_bytes
        ),
    )?;
    std::fs::write(
        dir.join("meta_info/tenant_backup_set_infos"),
        format!("{tenant_id}:{}:{kind}\n", set.backup_set_id),
    )?;
    std::fs::write(
        dir.join("infos/data_info_turn_1"),
        format!("tablets={}\n", set.tablet_count),
    )?;
    let mut left = set.output_bytes / SCALE;
    let mut index = 0u64;
    while left > 0 || index == 0 {
        let size = left.min(DATA_FILE_BYTES);
        // Each file's bytes depend on the set and its position, so a copy that mixed them up is caught.
        let bytes: Vec<u8> = (0..size)
            .map(|i| ((i + index * 7 + set.backup_set_id as u64 * 13) % 251) as u8)
            .collect();
        std::fs::write(
            dir.join(format!("logstream_1/major_data/macro_block_data.{index}")),
            bytes,
        )?;
        left -= size;
        index += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_uri_maps_under_the_root_and_other_kinds_do_not() {
        let files = Files::new("/tmp/share");
        assert_eq!(
            files.local("file:///backup/t1/data/backup_set_1_full"),
            Some(PathBuf::from("/tmp/share/backup/t1/data/backup_set_1_full"))
        );
        assert_eq!(files.local("s3://bucket/x?host=h"), None);
    }
}
