//! Real backup files: with a file root, a succeeded set is written under its `file://` path in OceanBase's
//! layout, its data files summing to OUTPUT_BYTES / SCALE, and removed again when a cleanup deletes it.

mod common;

use std::path::Path;

use common::*;
use mysql_async::{Conn, prelude::Queryable};
use obsim::model::{
    Version,
    files::{Files, SCALE},
};

const DAY: i64 = 86_400;

fn data_bytes(set: &Path) -> u64 {
    std::fs::read_dir(set.join("logstream_1/major_data"))
        .expect("data directory")
        .map(|e| e.expect("entry").metadata().expect("metadata").len())
        .sum()
}

#[tokio::test]
async fn a_succeeded_set_is_written_in_oceanbases_layout_and_removed_when_deleted() {
    let root = std::env::temp_dir().join(format!("obsim-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (opts, cluster) = start_with_cluster(Version::V4_4_1).await;
    cluster.lock().unwrap_or_else(|p| p.into_inner()).files = Some(Files::new(&root));
    let mut conn = Conn::new(opts).await.expect("connect");
    archiving_tenant1(&mut conn, &cluster).await;
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
    assert!(
        root.join(format!(
            "backup/data/backup_set_{newer}_full/single_backup_set_info"
        ))
        .is_file()
    );
    let _ = std::fs::remove_dir_all(root);
}
