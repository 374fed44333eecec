//! Real backup files. With a file root configured (the directory standing for the NFS share every OBServer
//! mounts), each backup set that succeeds is written under its `file://` path as OceanBase lays a set out —
//! `single_backup_set_info`, `meta_info/`, `infos/`, `logstream_1/major_data/macro_block_data.N` — with its
//! data scaled down ([`SCALE`]) but consistent with the views: the data files hold `OUTPUT_BYTES / SCALE`
//! bytes in all. Archive pieces are written as they grow — `logstream_1/log/N.obarc` appended to, the
//! `checkpoint/checkpoint_info.0.obarc` rewritten in place as the checkpoint moves, `single_piece_info.obarc`
//! once the piece is frozen — holding `OUTPUT_BYTES / SCALE` bytes of log. `file://` destinations are
//! written under the root, `s3://` ones to the S3 server they name, with the keys the destination was set
//! with ([`super::store`]); OSS and COS destinations, and clusters without files, write nothing. Beside
//! the set and piece directories, each destination's root gets what OceanBase writes there ([`layout`]):
//! its format file and the placeholders a restore lists to find sets and pieces — and a restore from a
//! copied tree ([`Files::read_tree`]) finds only what they name.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
};

use super::{
    archive::Piece,
    backup::BackupSet,
    layout::{self, ARCHIVE_FORMAT, DATA_FORMAT},
    store::{Place, Remote, s3},
};

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
    /// Pieces whose directory was taken away (the `lose-archive-piece` fault): never written again.
    lost_pieces: HashSet<PieceKey>,
    /// The destinations as they were set, access keys included: where an S3 path's keys come from.
    destinations: Vec<String>,
    /// The destination roots whose format file was written.
    formats: HashSet<String>,
    remote: Remote,
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
            lost_pieces: HashSet::new(),
            destinations: Vec::new(),
            formats: HashSet::new(),
            remote: Remote::default(),
        }
    }

    /// The local path of a `file://` URI, if it is one.
    pub fn local(&self, uri: &str) -> Option<PathBuf> {
        let path = uri.strip_prefix("file://")?;
        Some(self.root.join(path.trim_start_matches('/')))
    }

    /// Remembers the destinations tenants set (with their keys), for the S3 paths under them.
    pub fn know(&mut self, destinations: impl IntoIterator<Item = String>) {
        for destination in destinations {
            if destination.starts_with("s3://") && !self.destinations.contains(&destination) {
                self.destinations.push(destination);
            }
        }
    }

    /// Where the directory `uri` is written: under the root, or on the S3 server it names, with its own
    /// keys or those of the destination it lies under.
    pub fn place(&self, uri: &str) -> Option<Place> {
        if let Some(path) = self.local(uri) {
            return Some(Place::Local(path));
        }
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        if query.contains("access_key=") {
            return s3(uri).map(Place::S3);
        }
        let keys = self.destinations.iter().find_map(|d| {
            let (dest_base, dest_query) = d.split_once('?')?;
            let under = base == dest_base
                || base.starts_with(&format!("{}/", dest_base.trim_end_matches('/')));
            let keys: Vec<&str> = dest_query
                .split('&')
                .filter(|p| p.starts_with("access_id=") || p.starts_with("access_key="))
                .collect();
            under.then(|| keys.join("&"))
        })?;
        s3(&format!("{uri}&{keys}")).map(Place::S3)
    }

    /// Where the set or piece directory `uri` is written, with the destination root holding it: the
    /// directory's place, the root's place, the root's URI and the directory's name.
    fn places(&self, uri: &str) -> Option<(Place, Place, String, String)> {
        let root_uri = layout::parent(uri)?;
        let name = uri
            .split('?')
            .next()?
            .trim_end_matches('/')
            .rsplit('/')
            .next()?
            .to_string();
        Some((self.place(uri)?, self.place(&root_uri)?, root_uri, name))
    }

    /// Writes the format file at a destination's root, once.
    fn format(
        &mut self,
        root: &Place,
        root_uri: &str,
        name: &str,
        tenant_id: i64,
    ) -> std::io::Result<()> {
        let key = format!("{}/{name}", root_uri.split('?').next().unwrap_or(root_uri));
        if self.formats.contains(&key) {
            return Ok(());
        }
        let kind = if name == DATA_FORMAT { "data" } else { "log" };
        root.write(
            &self.remote,
            name,
            format!("tenant_id={tenant_id}\ndest_type={kind}\n").into_bytes(),
        )?;
        self.formats.insert(key);
        Ok(())
    }

    /// Brings the files of `set` of `tenant_id` in line with it: written once it has succeeded, removed
    /// (with its placeholders) once a cleanup deleted it.
    pub fn sync(&mut self, tenant_id: i64, set: &BackupSet) {
        let key = (tenant_id, set.backup_set_id);
        let deleted = set.file_status == "DELETED";
        let due = if deleted {
            self.written.contains(&key) && !self.removed.contains(&key)
        } else {
            set.status == "SUCCESS" && !self.written.contains(&key)
        };
        // Most sets are as written already: nothing to open for them.
        if !due {
            return;
        }
        let Some((place, root, root_uri, dir)) = self.places(&set.path) else {
            return;
        };
        if deleted {
            self.removed.insert(key);
            place.remove_all(&self.remote);
            root.remove(&self.remote, &layout::set_start(&dir));
            root.remove(&self.remote, &layout::set_end(&dir, set.min_restore_scn));
            return;
        }
        let written = self
            .format(&root, &root_uri, DATA_FORMAT, tenant_id)
            .and_then(|()| write_set(&place, &root, &dir, &self.remote, tenant_id, set));
        match written {
            Ok(()) => {
                self.written.insert(key);
            }
            Err(error) => eprintln!("obsim: writing backup set {} failed: {error}", set.path),
        }
    }
}

impl Files {
    /// Brings the files of archive `piece` of `tenant_id` in line with it: its log grown to its bytes, its
    /// checkpoint file to its checkpoint, its info written once frozen; removed once a cleanup deleted it.
    pub fn sync_piece(&mut self, tenant_id: i64, piece: &Piece) {
        let key = (tenant_id, piece.dest_id, piece.round_id, piece.piece_id);
        let known = self.pieces.get(&key).copied();
        if self.lost_pieces.contains(&key) && piece.file_status != "DELETED" {
            return;
        }
        if piece.file_status == "DELETED" {
            if known.is_some()
                && !self.removed_pieces.contains(&key)
                && let Some((place, root, _, dir)) = self.places(&piece.path)
            {
                self.removed_pieces.insert(key);
                place.remove_all(&self.remote);
                root.remove(&self.remote, &layout::piece_start(&dir, piece.start_scn));
                root.remove(&self.remote, &layout::piece_end(&dir, piece.end_scn));
            }
            return;
        }
        let (bytes, checkpoint, frozen) = known.unwrap_or_default();
        let now = (
            piece.output_bytes / SCALE,
            piece.checkpoint_scn,
            piece.status == "FROZEN",
        );
        // A piece as written already (a frozen one, most of the time): nothing to open for it.
        if known == Some(now) {
            return;
        }
        let Some((place, root, root_uri, dir)) = self.places(&piece.path) else {
            return;
        };
        let changes = PieceChanges {
            started: known.is_none(),
            written: bytes,
            checkpoint_moved: checkpoint != now.1,
            froze: frozen != now.2,
        };
        let written = if changes.started {
            self.format(&root, &root_uri, ARCHIVE_FORMAT, tenant_id)
        } else {
            Ok(())
        }
        .and_then(|()| {
            let piece_place = PiecePlace {
                dir: &place,
                root: &root,
                name: &dir,
            };
            write_piece(piece_place, &self.remote, tenant_id, piece, changes)
        });
        match written {
            Ok(()) => {
                self.pieces.insert(key, now);
            }
            Err(error) => eprintln!(
                "obsim: writing archive piece {} failed: {error}",
                piece.path
            ),
        }
    }
}

impl Files {
    /// Takes archive `piece` of `tenant_id` away from its destination: its directory (log, checkpoint and
    /// info files) is removed and never written again. The placeholders at the destination's root stay, so a
    /// listing still names the piece, as OceanBase's metadata does.
    pub fn lose_piece(&mut self, tenant_id: i64, piece: &Piece) {
        let key = (tenant_id, piece.dest_id, piece.round_id, piece.piece_id);
        self.lost_pieces.insert(key);
        if let Some(place) = self.place(&piece.path) {
            place.remove_all(&self.remote);
        }
    }
}

/// Where a piece is written: its directory, its destination's root, and the directory's name.
struct PiecePlace<'a> {
    dir: &'a Place,
    root: &'a Place,
    name: &'a str,
}

/// What changed in a piece since its files were last written.
struct PieceChanges {
    /// Nothing of it written yet: its round's and its own start placeholders are due.
    started: bool,
    /// The log bytes already written.
    written: u64,
    checkpoint_moved: bool,
    froze: bool,
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
    /// Reads the backup sets and archive pieces lying directly under the `uris`, as OceanBase reads a
    /// restore's FROM: only what the root's format file and placeholders name (a set's end placeholder, a
    /// piece's and its round's start placeholders); a set counts only when its data files hold its
    /// `output_bytes / SCALE`, a piece up to the checkpoint its files record. `None` when no set is found.
    pub fn read_tree(&self, uris: &[String]) -> Option<FoundTree> {
        let mut found = FoundTree::default();
        for place in uris.iter().filter_map(|u| self.place(u)) {
            let files: HashMap<String, Vec<u8>> =
                place.read_all(&self.remote).into_iter().collect();
            let text = |path: String| {
                files
                    .get(&path)
                    .map(|b| String::from_utf8_lossy(b).to_string())
            };
            // What OceanBase lists first: the destination's format file, then the placeholders.
            let listed = |name: &str, prefix: &str| {
                files.contains_key(name) && files.keys().any(|p| p.starts_with(prefix))
            };
            let tops: HashSet<&str> = files.keys().filter_map(|p| p.split('/').next()).collect();
            for top in tops {
                if top.starts_with("backup_set_")
                    && listed(DATA_FORMAT, &layout::set_end_prefix(top))
                    && let Some(info) = text(format!("{top}/single_backup_set_info"))
                    && let (Some(tenant), Some(id), Some(output)) = (
                        field(&info, "tenant_id"),
                        field(&info, "backup_set_id"),
                        field(&info, "output_bytes"),
                    )
                {
                    let data: u64 = files
                        .iter()
                        .filter(|(p, _)| p.starts_with(&format!("{top}/logstream_1/major_data/")))
                        .map(|(_, b)| b.len() as u64)
                        .sum();
                    if data == u64::try_from(output).unwrap_or(0) / SCALE {
                        found.tenant_id = tenant;
                        found.sets.push(id);
                    }
                } else if let Some((dest, round, id)) = layout::piece_ids(top)
                    && listed(ARCHIVE_FORMAT, &layout::piece_start_prefix(top))
                    && files.contains_key(&layout::round_start(dest, round))
                {
                    let frozen = text(format!("{top}/single_piece_info.obarc"));
                    let current = text(format!("{top}/checkpoint/checkpoint_info.0.obarc"));
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

/// `name=value` of an info file, as a number.
fn field(info: &str, name: &str) -> Option<i64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.trim().parse().ok())
}

/// Writes the log `piece` holds beyond what was written (each log file that grew, whole — S3 has no
/// append), its checkpoint file when it moved, and its info when it froze.
fn write_piece(
    at: PiecePlace,
    remote: &Remote,
    tenant_id: i64,
    piece: &Piece,
    changes: PieceChanges,
) -> std::io::Result<()> {
    let place = at.dir;
    if changes.started {
        at.root.write(
            remote,
            &layout::round_start(piece.dest_id, piece.round_id),
            Vec::new(),
        )?;
        at.root.write(
            remote,
            &layout::piece_start(at.name, piece.start_scn),
            Vec::new(),
        )?;
    }
    let total = piece.output_bytes / SCALE;
    let mut file = changes.written / LOG_FILE_BYTES;
    while file * LOG_FILE_BYTES < total {
        let (start, end) = (
            file * LOG_FILE_BYTES,
            total.min((file + 1) * LOG_FILE_BYTES),
        );
        // Each byte depends on its place in the piece's log, so a copy that mixed bytes up is caught.
        let bytes: Vec<u8> = (start..end)
            .map(|k| ((k + piece.piece_id as u64 * 13) % 251) as u8)
            .collect();
        place.write(
            remote,
            &format!("logstream_1/log/{}.obarc", file + 1),
            bytes,
        )?;
        file += 1;
    }
    if changes.checkpoint_moved {
        place.write(
            remote,
            "checkpoint/checkpoint_info.0.obarc",
            format!("checkpoint_scn={}\n", piece.checkpoint_scn).into_bytes(),
        )?;
    }
    if changes.froze && piece.status == "FROZEN" {
        place.write(
            remote,
            "single_piece_info.obarc",
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
            )
            .into_bytes(),
        )?;
        place.write(
            remote,
            &layout::piece_inner(at.name, piece.start_scn, piece.end_scn),
            Vec::new(),
        )?;
        at.root.write(
            remote,
            &layout::piece_end(at.name, piece.end_scn),
            Vec::new(),
        )?;
    }
    Ok(())
}

/// Writes a set as OceanBase does: its start placeholder at the destination's root, its files (data
/// first, info last: a set whose info is there is whole), the placeholder inside its directory, and the
/// end placeholder at the root that a restore looks for.
fn write_set(
    place: &Place,
    root: &Place,
    dir: &str,
    remote: &Remote,
    tenant_id: i64,
    set: &BackupSet,
) -> std::io::Result<()> {
    root.write(remote, &layout::set_start(dir), Vec::new())?;
    write_tree(place, remote, tenant_id, set)?;
    place.write(
        remote,
        &layout::set_inner(dir, set.start_replay_scn, set.min_restore_scn),
        Vec::new(),
    )?;
    root.write(
        remote,
        &layout::set_end(dir, set.min_restore_scn),
        Vec::new(),
    )
}

/// Writes a set's files, its data first and its info last.
fn write_tree(
    place: &Place,
    remote: &Remote,
    tenant_id: i64,
    set: &BackupSet,
) -> std::io::Result<()> {
    let mut left = set.output_bytes / SCALE;
    let mut index = 0u64;
    while left > 0 || index == 0 {
        let size = left.min(DATA_FILE_BYTES);
        // Each file's bytes depend on the set and its position, so a copy that mixed them up is caught.
        let bytes: Vec<u8> = (0..size)
            .map(|i| ((i + index * 7 + set.backup_set_id as u64 * 13) % 251) as u8)
            .collect();
        place.write(
            remote,
            &format!("logstream_1/major_data/macro_block_data.{index}"),
            bytes,
        )?;
        left -= size;
        index += 1;
    }
    let kind = if set.incremental { "INC" } else { "FULL" };
    place.write(
        remote,
        "infos/data_info_turn_1",
        format!("tablets={}\n", set.tablet_count).into_bytes(),
    )?;
    place.write(
        remote,
        "meta_info/tenant_backup_set_infos",
        format!("{tenant_id}:{}:{kind}\n", set.backup_set_id).into_bytes(),
    )?;
    place.write(
        remote,
        "single_backup_set_info",
        format!(
            "tenant_id={tenant_id}\nbackup_set_id={}\nbackup_type={kind}\nprev_full_backup_set_id={}\n\
             start_replay_scn={}\nmin_restore_scn={}\noutput_bytes={}\n",
            set.backup_set_id,
            set.prev_full_backup_set_id,
            set.start_replay_scn,
            set.min_restore_scn,
            set.output_bytes
        )
        .into_bytes(),
    )
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
