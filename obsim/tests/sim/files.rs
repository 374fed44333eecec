//! Real backup files: with a file root, a succeeded set is written under its `file://` path in OceanBase's
//! layout, its data files summing to OUTPUT_BYTES / SCALE, and removed again when a cleanup deletes it;
//! each destination's root holds its format file and the placeholders a restore lists.

use std::path::Path;

use crate::common::*;
use mysql_async::{Conn, prelude::Queryable};
use obsim::{
    engine::SharedCluster,
    model::{
        Version,
        files::{Files, SCALE},
    },
};

const DAY: i64 = 86_400;
/// The FROM of a restore from the copy, and from the bare directories.
const COPY: &str = "file:///offsite/data,file:///offsite/archive";
const BARE: &str = "file:///bare/data,file:///bare/archive";

/// Bytes of the files directly in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

fn data_bytes(set: &Path) -> u64 {
    bytes_in(&set.join("logstream_1/major_data"))
}

fn log_bytes(piece: &Path) -> u64 {
    bytes_in(&piece.join("logstream_1/log"))
}

/// The names of the files directly in `dir` that start with `prefix`, sorted.
fn named(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// A cluster writing its backup files under a fresh `root` (named after `name`), tenant1 archiving: the
/// root, the connection and the cluster.
async fn archiving_with_files(name: &str) -> (std::path::PathBuf, Conn, SharedCluster) {
    let root = std::env::temp_dir().join(format!("obsim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    cluster.lock().unwrap_or_else(|p| p.into_inner()).files = Some(Files::new(&root));
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
    (root, conn, cluster)
}

#[tokio::test]
async fn a_succeeded_set_is_written_in_oceanbases_layout_and_removed_when_deleted() {
    let (root, mut conn, cluster) = archiving_with_files("files").await;
    let full = completed_backup(&mut conn, &cluster, false).await;
    let inc = completed_backup(&mut conn, &cluster, true).await;
    let sizes: Vec<(i64, u64)> = conn
        .query("SELECT backup_set_id, output_bytes FROM CDB_OB_BACKUP_SET_FILES WHERE tenant_id = 1002 ORDER BY backup_set_id")
        .await
        .expect("sets");
    let full_dir = root.join(format!("backup/data/backup_set_{full}_full"));
    let inc_dir = root.join(format!("backup/data/backup_set_{inc}_inc"));
    for (dir, (_, output)) in [&full_dir, &inc_dir].into_iter().zip(&sizes) {
        for file in [
            "single_backup_set_info",
            "meta_info/tenant_backup_set_infos",
            "infos/data_info_turn_1",
        ] {
            assert!(dir.join(file).is_file(), "{}/{file}", dir.display());
        }
        assert_eq!(data_bytes(dir), output / SCALE, "{}", dir.display());
    }
    // The data destination's root: its format file, each set's start and end placeholders; each set's
    // directory its own placeholder.
    let data = root.join("backup/data");
    assert!(data.join("format.obbak").is_file());
    for (dir, name) in [
        (&full_dir, format!("backup_set_{full}_full")),
        (&inc_dir, format!("backup_set_{inc}_inc")),
    ] {
        let placeholders = named(&data.join("backup_sets"), &format!("{name}_"));
        assert_eq!(placeholders.len(), 2, "{placeholders:?}");
        assert!(
            placeholders.contains(&format!("{name}_start.obbak")),
            "{placeholders:?}"
        );
        assert!(
            placeholders[0].starts_with(&format!("{name}_end_success_"))
                && placeholders[0].ends_with(".obbak"),
            "{placeholders:?}"
        );
        assert_eq!(
            named(dir, &format!("{name}_")).len(),
            1,
            "{}",
            dir.display()
        );
    }
    let info = std::fs::read_to_string(inc_dir.join("single_backup_set_info")).expect("info");
    assert!(
        info.contains("backup_type=INC")
            && info.contains(&format!("prev_full_backup_set_id={full}")),
        "{info}"
    );

    // A second full makes the first chain deletable; deleting it removes its files, not the new set's.
    step(&cluster, 2 * DAY);
    let newer = completed_backup(&mut conn, &cluster, false).await;
    conn.query_drop(format!(
        "ALTER SYSTEM DELETE BACKUPSET {full}, {inc} TENANT = tenant1"
    ))
    .await
    .expect("delete the old chain");
    step(&cluster, 12);
    assert_eq!(
        set_file_status(&mut conn, full).await.as_deref(),
        Some("DELETED")
    );
    assert!(!full_dir.exists() && !inc_dir.exists());
    let left = named(&data.join("backup_sets"), "backup_set_");
    assert!(
        left.iter()
            .all(|n| n.starts_with(&format!("backup_set_{newer}_full_"))),
        "the deleted sets' placeholders are gone, the newer set's stay: {left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(data.join("format.obbak").is_file(), "the format file stays");
    assert!(
        root.join(format!(
            "backup/data/backup_set_{newer}_full/single_backup_set_info"
        ))
        .is_file()
    );
    let _ = std::fs::remove_dir_all(root);
}

/// (status, checkpoint SCN, output bytes, path) of tenant1's pieces, oldest first.
async fn pieces(conn: &mut Conn) -> Vec<(String, u64, u64, String)> {
    conn.query(
        "SELECT status, checkpoint_scn, output_bytes, path FROM CDB_OB_ARCHIVELOG_PIECE_FILES \
         WHERE tenant_id = 1002 ORDER BY piece_id",
    )
    .await
    .expect("pieces")
}

#[tokio::test]
async fn archive_pieces_grow_on_disk_as_the_views_say_and_freeze_with_their_info() {
    let (root, mut conn, cluster) = archiving_with_files("pieces").await;
    let local = |path: &str| root.join(path.strip_prefix("file:///").expect("a file:// piece"));

    step(&cluster, 600);
    let first = pieces(&mut conn).await;
    let (status, checkpoint, output, path) = first.last().expect("an active piece").clone();
    assert_eq!(status, "ACTIVE");
    let active = local(&path);
    assert_eq!(log_bytes(&active), output / SCALE);
    assert_eq!(
        std::fs::read_to_string(active.join("checkpoint/checkpoint_info.0.obarc")).expect("cp"),
        format!("checkpoint_scn={checkpoint}\n")
    );
    assert!(!active.join("single_piece_info.obarc").exists());
    // The archive destination's root: its format file, the round's and the piece's start placeholders.
    let archive = active
        .parent()
        .expect("the archive destination")
        .to_path_buf();
    let piece = active
        .file_name()
        .expect("the piece's directory")
        .to_string_lossy()
        .to_string();
    assert!(piece.starts_with("piece_d") && archive.join("format.obarc").is_file());
    let (round, _) = piece
        .strip_prefix("piece_")
        .and_then(|p| p.rsplit_once('p'))
        .expect("piece_d<dest>r<round>p<piece>");
    assert!(
        archive
            .join(format!("rounds/round_{round}_start.obarc"))
            .is_file()
    );
    let started = named(&archive.join("pieces"), &format!("{piece}_"));
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(
        started[0].starts_with(&format!("{piece}_start_")),
        "{started:?}"
    );

    // The log grows in place: the bytes already written stay as they were.
    let early = std::fs::read(active.join("logstream_1/log/1.obarc")).expect("log");
    step(&cluster, 600);
    let grown = pieces(&mut conn).await;
    assert!(grown.last().expect("piece").2 > output);
    assert_eq!(log_bytes(&active), grown.last().expect("piece").2 / SCALE);
    let later = std::fs::read(active.join("logstream_1/log/1.obarc")).expect("log");
    assert!(later.len() >= early.len() && later[..early.len()] == early[..]);

    // A day later the piece is frozen, with its info; the next one is active.
    step(&cluster, DAY);
    let frozen = pieces(&mut conn).await;
    let (status, checkpoint, output, path) = frozen.first().expect("the first piece").clone();
    assert_eq!((status.as_str(), local(&path)), ("FROZEN", active.clone()));
    assert_eq!(log_bytes(&active), output / SCALE);
    let info = std::fs::read_to_string(active.join("single_piece_info.obarc")).expect("info");
    assert!(
        info.contains("status=FROZEN") && info.contains(&format!("checkpoint_scn={checkpoint}")),
        "{info}"
    );
    // Frozen: its end placeholder at the root, and its own inside its directory.
    let ended = named(&archive.join("pieces"), &format!("{piece}_"));
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(ended[0].starts_with(&format!("{piece}_end_")), "{ended:?}");
    assert_eq!(named(&active, &format!("{piece}_")).len(), 1);
    assert_eq!(frozen.last().expect("next").0, "ACTIVE");
    assert!(
        local(&frozen.last().expect("next").3)
            .join("checkpoint")
            .is_dir()
    );
    // A frozen piece's bytes never change again, in the view or on disk.
    step(&cluster, DAY);
    assert_eq!(pieces(&mut conn).await.first().expect("first").2, output);
    assert_eq!(log_bytes(&active), output / SCALE);
    let _ = std::fs::remove_dir_all(root);
}

/// Copies the tree `from` to `to`, file for file.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("target");
    for entry in std::fs::read_dir(from).expect("source").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Starts a restore into `other` (pool p2) from `from` that must be refused; the error's text.
async fn restore_refused(conn: &mut Conn, from: &str, until: &str, why: &str) -> String {
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE other FROM '{from}' {until} WITH 'pool_list=p2'"
    ))
    .await
    .expect_err(why)
    .to_string()
}

#[tokio::test]
async fn a_restore_reads_a_copied_tree_and_only_what_the_copy_holds_whole() {
    let (root, mut conn, cluster) = archiving_with_files("copied").await;
    let full = completed_backup(&mut conn, &cluster, false).await;
    step(&cluster, 600);
    let _ = pieces(&mut conn).await;
    // The second destination: the whole tree copied elsewhere, as the operator's copy leaves it.
    copy_tree(&root.join("backup/data"), &root.join("offsite/data"));
    copy_tree(&root.join("backup/archive"), &root.join("offsite/archive"));
    for (unit, pool) in [("u1", "p1"), ("u2", "p2")] {
        conn.query_drop(format!(
            "CREATE RESOURCE UNIT {unit} MAX_CPU = 2, MEMORY_SIZE = '4G'"
        ))
        .await
        .expect("unit");
        conn.query_drop(format!(
            "CREATE RESOURCE POOL {pool} UNIT = '{unit}', UNIT_NUM = 1, ZONE_LIST = ('zone1')"
        ))
        .await
        .expect("pool");
    }
    conn.query_drop(format!(
        "ALTER SYSTEM RESTORE fromcopy FROM '{COPY}' WITH 'pool_list=p1'"
    ))
    .await
    .expect("a restore from the copy");
    let (sets, tenant): (String, String) = conn
        .query_first(
            "SELECT backup_set_list, backup_tenant_name FROM CDB_OB_RESTORE_PROGRESS \
             WHERE restore_tenant_name = 'fromcopy'",
        )
        .await
        .expect("progress")
        .expect("a restore job");
    assert_eq!((sets, tenant), (full.to_string(), "tenant1".to_string()));

    // The first destination's log goes on; the copy's does not: a point past the copy is not restorable
    // from it, though it is from the first destination.
    step(&cluster, 600);
    let newest: u64 = pieces(&mut conn).await.last().expect("piece").1;
    let past_the_copy = restore_refused(
        &mut conn,
        COPY,
        &format!("UNTIL SCN = {newest}"),
        "a point the copy does not hold",
    )
    .await;
    assert!(past_the_copy.contains("9119"), "{past_the_copy}");

    // A copy of the set and piece directories alone, without what OceanBase keeps at the roots (format
    // files, placeholders), is no destination a restore can read.
    for (dest, kind) in [("data", "backup_set_"), ("archive", "piece_")] {
        for entry in std::fs::read_dir(root.join("backup").join(dest))
            .expect("first")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(kind) {
                copy_tree(&entry.path(), &root.join("bare").join(dest).join(&name));
            }
        }
    }
    let bare = restore_refused(
        &mut conn,
        BARE,
        "",
        "directories without their roots' files",
    )
    .await;
    assert!(bare.contains("9080"), "{bare}");
    // With the format files but not the placeholders, no set is found either.
    for (dest, format) in [("data", "format.obbak"), ("archive", "format.obarc")] {
        std::fs::copy(
            root.join("backup").join(dest).join(format),
            root.join("bare").join(dest).join(format),
        )
        .expect("the format file");
    }
    let unlisted = restore_refused(&mut conn, BARE, "", "sets no placeholder names").await;
    assert!(unlisted.contains("9080"), "{unlisted}");

    // A copy missing a data file holds no whole set: nothing to restore from.
    let data = root.join(format!(
        "offsite/data/backup_set_{full}_full/logstream_1/major_data"
    ));
    std::fs::remove_file(data.join("macro_block_data.0")).expect("damage the copy");
    let refused = restore_refused(&mut conn, COPY, "", "an incomplete copy").await;
    assert!(refused.contains("9080"), "{refused}");
    let _ = std::fs::remove_dir_all(root);
}
