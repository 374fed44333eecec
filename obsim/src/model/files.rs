//! Real backup files. With a file root configured (the directory standing for the NFS share every OBServer
//! mounts), each backup set that succeeds is written under its `file://` path as OceanBase lays a set out —
//! `single_backup_set_info`, `meta_info/`, `infos/`, `logstream_1/major_data/macro_block_data.N` — with its
//! data scaled down ([`SCALE`]) but consistent with the views: the data files hold `OUTPUT_BYTES / SCALE`
//! bytes in all. Archive pieces are written as they grow — `logstream_1/log/N.obarc` appended to, the
//! `checkpoint/checkpoint_info.0.obarc` rewritten in place as the checkpoint moves, `single_piece_info.obarc`
//! once the piece is frozen — holding `OUTPUT_BYTES / SCALE` bytes of log. Sets and pieces on other kinds
//! of destination, and clusters without a root, write nothing.

use std::{
    collections::{HashMap, HashSet},
    io::Write,
    path::{Path, PathBuf},
};

use super::{archive::Piece, backup::BackupSet};

/// One byte on disk stands for this many bytes of backup.
pub const SCALE: u64 = 1024;
/// Largest data file written.
const DATA_FILE_BYTES: u64 = 256 * 1024;
/// Largest archive log file written.
const LOG_FILE_BYTES: u64 = 64 * 1024;

/// Where sets and pieces are written, and which were (and were deleted again).
#[derive(Clone, Debug)]
pub struct Files {
    root: PathBuf,
    written: HashSet<(i64, i64)>,
    removed: HashSet<(i64, i64)>,
    /// What each piece's files hold: (tenant, dest, round, piece) → (log bytes, checkpoint, frozen).
    pieces: HashMap<PieceKey, (u64, u64, bool)>,
    removed_pieces: HashSet<PieceKey>,
}

/// A piece of a tenant: (tenant, dest, round, piece).
type PieceKey = (i64, i64, i64, i64);

impl Files {
    /// Files under `root`: `file:///backup/x` is `<root>/backup/x`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            written: HashSet::new(),
            removed: HashSet::new(),
            pieces: HashMap::new(),
            removed_pieces: HashSet::new(),
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

impl Files {
    /// Brings the files of archive `piece` of `tenant_id` in line with it: its log grown to its bytes, its
    /// checkpoint file to its checkpoint, its info written once frozen; removed once a cleanup deleted it.
    pub fn sync_piece(&mut self, tenant_id: i64, piece: &Piece) {
        let key = (tenant_id, piece.dest_id, piece.round_id, piece.piece_id);
        let Some(dir) = self.local(&piece.path) else {
            return;
        };
        let known = self.pieces.get(&key).copied();
        if piece.file_status == "DELETED" {
            if known.is_some() && self.removed_pieces.insert(key) {
                let _ = std::fs::remove_dir_all(&dir);
            }
            return;
        }
        let (bytes, checkpoint, frozen) = known.unwrap_or_default();
        let now = (
            piece.output_bytes / SCALE,
            piece.checkpoint_scn,
            piece.status == "FROZEN",
        );
        if known == Some(now) {
            return;
        }
        match write_piece(
            &dir,
            tenant_id,
            piece,
            bytes,
            checkpoint != now.1,
            frozen != now.2,
        ) {
            Ok(()) => {
                self.pieces.insert(key, now);
            }
            Err(error) => eprintln!(
                "obsim: writing archive piece {} failed: {error}",
                dir.display()
            ),
        }
    }
}

/// What a directory tree found under restore URIs holds — written by this simulator, then copied
/// elsewhere (a second destination): the sets whose files are all there, and the pieces with the checkpoint
/// their copied files say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FoundTree {
    pub tenant_id: i64,
    pub sets: Vec<i64>,
    /// (piece id, checkpoint SCN).
    pub pieces: Vec<(i64, u64)>,
}

impl Files {
    /// Reads the backup sets and archive pieces lying directly under the `file://` `uris`, as OceanBase
    /// reads a restore's FROM: a set counts only when its data files hold its `output_bytes / SCALE`, a
    /// piece up to the checkpoint its files record. `None` when no set is found.
    pub fn read_tree(&self, uris: &[String]) -> Option<FoundTree> {
        let mut found = FoundTree::default();
        for dir in uris.iter().filter_map(|u| self.local(u)) {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with("backup_set_")
                    && let Some(info) = read_info(&path.join("single_backup_set_info"))
                    && let (Some(tenant), Some(id), Some(output)) = (
                        field(&info, "tenant_id"),
                        field(&info, "backup_set_id"),
                        field(&info, "output_bytes"),
                    )
                    && data_bytes(&path) == u64::try_from(output).unwrap_or(0) / SCALE
                {
                    found.tenant_id = tenant;
                    found.sets.push(id);
                } else if let Some(id) = name
                    .strip_prefix("piece_")
                    .and_then(|n| n.rsplit_once('p'))
                    .and_then(|(_, id)| id.parse::<i64>().ok())
                {
                    let frozen = read_info(&path.join("single_piece_info.obarc"));
                    let current = read_info(&path.join("checkpoint/checkpoint_info.0.obarc"));
                    if let Some(checkpoint) = frozen
                        .or(current)
                        .and_then(|info| field(&info, "checkpoint_scn"))
                    {
                        found
                            .pieces
                            .push((id, u64::try_from(checkpoint).unwrap_or(0)));
                    }
                }
            }
        }
        found.sets.sort_unstable();
        found.pieces.sort_unstable();
        (!found.sets.is_empty()).then_some(found)
    }
}

fn read_info(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `name=value` of an info file, as a number.
fn field(info: &str, name: &str) -> Option<i64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.trim().parse().ok())
}

/// The bytes of a set's data files.
fn data_bytes(set: &Path) -> u64 {
    std::fs::read_dir(set.join("logstream_1/major_data"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Appends the log `piece` holds beyond the `written` bytes, rewrites its checkpoint file when it moved,
/// and writes its info when it froze.
fn write_piece(
    dir: &Path,
    tenant_id: i64,
    piece: &Piece,
    written: u64,
    checkpoint_moved: bool,
    froze: bool,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("logstream_1/log"))?;
    std::fs::create_dir_all(dir.join("checkpoint"))?;
    let total = piece.output_bytes / SCALE;
    let mut offset = written;
    while offset < total {
        let file = offset / LOG_FILE_BYTES;
        let end = total.min((file + 1) * LOG_FILE_BYTES);
        // Each byte depends on its place in the piece's log, so a copy that mixed bytes up is caught.
        let bytes: Vec<u8> = (offset..end)
            .map(|k| ((k + piece.piece_id as u64 * 13) % 251) as u8)
            .collect();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("logstream_1/log/{}.obarc", file + 1)))?
            .write_all(&bytes)?;
        offset = end;
    }
    if checkpoint_moved {
        std::fs::write(
            dir.join("checkpoint/checkpoint_info.0.obarc"),
            format!("checkpoint_scn={}\n", piece.checkpoint_scn),
        )?;
    }
    if froze && piece.status == "FROZEN" {
        std::fs::write(
            dir.join("single_piece_info.obarc"),
            format!(
                "tenant_id={tenant_id}\ndest_id={}\nround_id={}\npiece_id={}\nstatus=FROZEN\n\
                 start_scn={}\ncheckpoint_scn={}\nend_scn={}\ninput_bytes={}\noutput_bytes={}\n",
                piece.dest_id,
                piece.round_id,
                piece.piece_id,
                piece.start_scn,
                piece.checkpoint_scn,
                piece.end_scn,
                piece.input_bytes,
                piece.output_bytes
            ),
        )?;
    }
    Ok(())
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
