//! The copier as a whole: trees copied, resumed, verified, repaired and deleted between in-memory and file
//! system destinations.

use opendal::services::Memory;

use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::{transfer::FILE_READ_PIECE, *};
use crate::storage::server_check::WriteCheck;

fn memory() -> Operator {
    Operator::new(Memory::default()).expect("memory")
}

/// A source with a small set directory: three objects, one of them large enough to span chunks.
async fn source() -> Operator {
    let op = memory();
    for (path, bytes) in [
        (
            "backup_set_1_full/meta_info/tenant_backup_set_infos",
            vec![1u8; 100],
        ),
        (
            "backup_set_1_full/logstream_1/major_data/macro_block_data.0",
            vec![7u8; 300_000],
        ),
        (
            "backup_set_1_full/single_backup_set_info",
            b"set 1".to_vec(),
        ),
        ("backup_set_2_inc/single_backup_set_info", b"set 2".to_vec()),
    ] {
        op.write(path, bytes).await.expect("write");
    }
    op
}

#[tokio::test]
async fn a_tree_is_copied_whole_and_verified_and_nothing_else_is() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    let report = copier.tree("backup_set_1_full").await.expect("copy");
    assert_eq!((report.objects, report.copied), (3, 3));
    assert_eq!(report.copied_bytes, 100 + 300_000 + 5);
    assert_eq!(
        (
            progress.objects.load(Ordering::Relaxed),
            progress.bytes.load(Ordering::Relaxed),
            progress.total_bytes.load(Ordering::Relaxed)
        ),
        (3, report.bytes, report.bytes)
    );
    for path in [
        "backup_set_1_full/meta_info/tenant_backup_set_infos",
        "backup_set_1_full/logstream_1/major_data/macro_block_data.0",
        "backup_set_1_full/single_backup_set_info",
    ] {
        assert_eq!(
            digest(&to, path).await.expect("copy"),
            digest(&from, path).await.expect("source")
        );
    }
    assert!(
        !to.exists("backup_set_2_inc/single_backup_set_info")
            .await
            .expect("stat")
    );
    assert!(
        copier
            .verify("backup_set_1_full")
            .await
            .expect("verify")
            .is_empty()
    );
}

/// A file is read in pieces sized to what is left of it: files of every size, empty and larger than a
/// piece, are copied whole.
#[tokio::test]
async fn files_of_every_size_are_read_and_copied_whole() {
    let root = std::env::temp_dir().join(format!("obbackup-copy-sizes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let from =
        Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy())).expect("fs");
    let to = memory();
    let sizes = [
        0,
        1,
        4096,
        FILE_READ_PIECE,
        FILE_READ_PIECE + 1,
        2 * FILE_READ_PIECE + 3,
    ];
    for (i, size) in sizes.iter().enumerate() {
        let bytes: Vec<u8> = (0..*size).map(|j| ((i + j) % 253) as u8).collect();
        let path = format!("backup_set_1_full/data/{i}");
        from.write(&path, bytes.clone()).await.expect("write");
        let read = digest(&from, &path).await.expect("digest");
        assert_eq!(
            (read.size, read.sha256),
            (*size as u64, hex(&Sha256::digest(&bytes))),
            "{size} bytes"
        );
    }
    let progress = Progress::default();
    let report = Copier::new(&from, &to, 2, &progress)
        .tree("backup_set_1_full")
        .await
        .expect("copy");
    assert_eq!(report.copied, sizes.len());
    for i in 0..sizes.len() {
        let path = format!("backup_set_1_full/data/{i}");
        assert_eq!(
            digest(&to, &path).await.expect("copy"),
            digest(&from, &path).await.expect("source"),
            "{path}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// One slow object keeps no other from being copied: the others start, finish and count while it
/// is still on its way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_object_keeps_no_other_from_being_copied() {
    let (from, to) = (memory(), memory());
    // In path order the large object comes first.
    let large = "backup_set_1_full/a_large";
    from.write(large, vec![9u8; 48 << 20]).await.expect("write");
    let small = 12;
    for i in 0..small {
        from.write(
            &format!("backup_set_1_full/b_small_{i:02}"),
            vec![i as u8; 100],
        )
        .await
        .expect("write");
    }
    let progress = std::sync::Arc::new(Progress::default());
    let copying = tokio::spawn({
        let (from, to, progress) = (from.clone(), to.clone(), progress.clone());
        async move {
            Copier::new(&from, &to, 2, &progress)
                .tree("backup_set_1_full")
                .await
        }
    });
    let mut small_done_before_large = false;
    while !copying.is_finished() {
        let bytes = progress.bytes.load(Ordering::Relaxed);
        let counted = progress.objects.load(Ordering::Relaxed);
        if counted == small && bytes == small * 100 {
            small_done_before_large = true;
        }
        tokio::task::yield_now().await;
    }
    let report = copying.await.expect("joined").expect("copied");
    assert_eq!(report.copied, small as usize + 1);
    assert!(
        small_done_before_large,
        "every small object was copied and counted while the large one was on its way"
    );
}

#[tokio::test]
async fn a_second_copy_writes_nothing_and_a_lost_manifest_rewrites_nothing() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 4, &progress);
    copier.tree("backup_set_1_full").await.expect("copy");
    let again = copier.tree("backup_set_1_full").await.expect("again");
    assert_eq!(again.copied, 0, "everything was there");
    // A restart that lost the manifest: the objects are compared, not written again.
    to.delete(&manifest_path("backup_set_1_full"))
        .await
        .expect("delete");
    let resumed = copier.tree("backup_set_1_full").await.expect("resumed");
    assert_eq!((resumed.objects, resumed.copied), (3, 0));
}

#[tokio::test]
async fn an_object_changed_on_the_copy_is_found_and_copied_again() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    copier.tree("backup_set_1_full").await.expect("copy");
    let victim = "backup_set_1_full/logstream_1/major_data/macro_block_data.0";
    let mut corrupted = vec![7u8; 300_000];
    corrupted[1234] = 0;
    to.write(victim, corrupted).await.expect("corrupt");
    assert_eq!(
        copier.verify("backup_set_1_full").await.expect("verify"),
        vec![victim.to_string()]
    );
    let repaired = copier.tree("backup_set_1_full").await.expect("repair");
    assert_eq!(repaired.copied, 1, "only the corrupted object");
    assert_eq!(
        digest(&to, victim).await.expect("copy"),
        digest(&from, victim).await.expect("source")
    );
}

/// A copy its server checks records the CRC32C the server checked, no SHA-256, and a verification reading
/// the copy back finds by it an object changed there at the same size; copying again repairs only that one.
/// A manifest an operator wrote before the CRC32C was recorded (the SHA-256 alone) is verified by its SHA-256.
#[tokio::test]
async fn a_copy_its_server_checked_is_verified_by_the_crc32c_it_records() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress).checked_by(WriteCheck::Server);
    let tree = "backup_set_1_full";
    copier.tree(tree).await.expect("copy");
    let manifest = copier.manifest(tree).await.expect("manifest");
    assert_eq!(manifest.objects.len(), 3);
    for (path, recorded) in &manifest.objects {
        let source = digest(&from, path).await.expect("source");
        assert_eq!(
            (recorded.size, &recorded.crc32c),
            (source.size, &source.crc32c),
            "{path}"
        );
        assert!(recorded.sha256.is_empty(), "{path}: no SHA-256 taken");
    }
    assert!(copier.verify(tree).await.expect("verify").is_empty());
    let victim = "backup_set_1_full/logstream_1/major_data/macro_block_data.0";
    let mut corrupted = vec![7u8; 300_000];
    corrupted[1234] = 0;
    to.write(victim, corrupted).await.expect("corrupt");
    assert_eq!(
        copier.verify(tree).await.expect("verify"),
        vec![victim.to_string()]
    );
    assert_eq!(copier.tree(tree).await.expect("repair").copied, 1);
    assert_eq!(
        digest(&to, victim).await.expect("copy"),
        digest(&from, victim).await.expect("source")
    );

    let mut before = Manifest::default();
    for path in manifest.objects.keys() {
        let source = digest(&from, path).await.expect("source");
        let recorded = Copied {
            crc32c: None,
            ..source
        };
        before.objects.insert(path.clone(), recorded);
    }
    copier.save(tree, &before).await.expect("saved");
    assert!(copier.verify(tree).await.expect("verify").is_empty());
    let info = "backup_set_1_full/single_backup_set_info";
    to.write(info, b"set 9".to_vec()).await.expect("corrupt");
    assert_eq!(
        copier.verify(tree).await.expect("verify"),
        vec![info.to_string()]
    );
}

/// An archive piece's files change while it is ACTIVE, some in place with the same size (its checkpoint
/// file): a later pass copies every object that changed on the source, and only those.
#[tokio::test]
async fn an_object_rewritten_on_the_source_is_copied_again_even_at_the_same_size() {
    let root = std::env::temp_dir().join(format!("obbackup-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let from =
        Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy())).expect("fs");
    let to = memory();
    let checkpoint = "piece_d1001r1p1/checkpoint/checkpoint_info.0.obarc";
    let log = "piece_d1001r1p1/logstream_1/log/1.obarc";
    from.write(checkpoint, "scn=1700000000000000001")
        .await
        .expect("write");
    from.write(log, vec![1u8; 1000]).await.expect("write");
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    assert_eq!(
        copier.tree("piece_d1001r1p1").await.expect("copy").copied,
        2
    );
    // A file system's modification time has a granularity; wait until a rewrite is visible as one.
    let before = from.stat(checkpoint).await.expect("stat").last_modified();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        from.write(checkpoint, "scn=1700000000000000002")
            .await
            .expect("rewrite");
        if from.stat(checkpoint).await.expect("stat").last_modified() != before {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "mtime never moved");
        tokio::task::yield_now().await;
    }
    let again = copier.tree("piece_d1001r1p1").await.expect("again");
    assert_eq!(again.copied, 1, "only the rewritten checkpoint file");
    assert_eq!(
        to.read(checkpoint).await.expect("read").to_vec(),
        b"scn=1700000000000000002"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn an_empty_or_missing_tree_is_never_a_completed_copy() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    let error = copier
        .tree("backup_set_9_full")
        .await
        .expect_err("nothing to copy");
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("backup_set_9_full"), "{error}");
}

/// While a set's copy is being deleted, whoever lists the copy (a restore) never finds a placeholder of
/// the set once any of its data is gone: the placeholders go first. On a busy machine a delete can end
/// before the watcher's first look at its data going, proving nothing: it is tried again then, a few
/// times at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_placeholder_names_a_set_whose_data_is_being_deleted() {
    let mut seen = 0;
    for _ in 0..10 {
        seen = watch_a_delete().await;
        if seen > 0 {
            break;
        }
    }
    assert!(seen > 0, "the delete was watched while its data went");
}

/// Deletes a set's copy while looking at it; asserts no placeholder outlives any of its data; returns how
/// many looks found data gone before the delete ended.
async fn watch_a_delete() -> usize {
    let copy = memory();
    let placeholders = [
        "backup_sets/backup_set_1_full_start.obbak",
        "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak",
    ];
    let data: Vec<String> = (0..2000)
        .map(|i| format!("backup_set_1_full/logstream_1/{i}"))
        .collect();
    for path in placeholders
        .iter()
        .copied()
        .chain(data.iter().map(String::as_str))
        .chain([manifest_path("backup_set_1_full").as_str()])
    {
        copy.write(path, vec![1u8]).await.expect("write");
    }
    let deleting = tokio::spawn({
        let copy = copy.clone();
        async move { delete_tree(&copy, "backup_set_1_full").await }
    });
    let mut seen = 0;
    while !deleting.is_finished() {
        // Data first, then the placeholders: a placeholder seen after data went missing was there
        // while the data was being deleted.
        let data_missing = !copy.exists(&data[0]).await.expect("stat")
            || !copy.exists(&data[1999]).await.expect("stat");
        if data_missing {
            seen += 1;
            for path in placeholders {
                assert!(
                    !copy.exists(path).await.expect("stat"),
                    "{path} still names the set after {seen} looks at its data going"
                );
            }
        }
        tokio::task::yield_now().await;
    }
    deleting.await.expect("joined").expect("deleted");
    assert!(!copy.exists(placeholders[0]).await.expect("stat"));
    seen
}

/// Whoever lists the copy while a set is being copied (a restore) never finds the set's placeholders
/// before every data object is there whole: the data goes first, its end placeholder last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_writes_no_placeholder_until_its_data_is_whole() {
    // A file system shows an object while it is being written, at the size written so far.
    let root = std::env::temp_dir().join(format!("obbackup-copy-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let to =
        Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy())).expect("fs");
    let from = memory();
    let data: Vec<(String, usize)> = (0..40)
        .map(|i| (format!("backup_set_1_full/logstream_1/{i:02}"), 100))
        .chain([("backup_set_1_full/logstream_1/99".to_string(), 16 << 20)])
        .collect();
    for (path, size) in &data {
        from.write(path, vec![7u8; *size]).await.expect("write");
    }
    let end = "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak";
    for path in [
        "format.obbak",
        "backup_sets/backup_set_1_full_start.obbak",
        end,
    ] {
        from.write(path, Vec::<u8>::new()).await.expect("write");
    }
    let copying = tokio::spawn({
        let (from, to) = (from.clone(), to.clone());
        async move {
            let progress = Progress::default();
            Copier::new(&from, &to, 4, &progress)
                .tree("backup_set_1_full")
                .await
        }
    });
    let mut looks = 0;
    while !copying.is_finished() {
        if to.exists(end).await.expect("stat") {
            looks += 1;
            for (path, size) in &data {
                let there = to.stat(path).await.map(|m| m.content_length()).ok();
                assert_eq!(
                    there,
                    Some(*size as u64),
                    "{end} names the set while {path} is not whole"
                );
            }
        }
        tokio::task::yield_now().await;
    }
    copying.await.expect("joined").expect("copied");
    assert!(
        to.exists(end).await.expect("stat"),
        "the set's end placeholder is copied"
    );
    let _ = looks;
    let _ = std::fs::remove_dir_all(&root);
}

/// A second destination pointed at a directory where another tenant's backups live: the copy writes
/// nothing there (their format file names them), and never deletes what it did not copy.
#[tokio::test]
async fn a_copy_into_another_tenants_directory_writes_nothing_and_deletes_nothing() {
    let (from, to) = (source().await, memory());
    from.write("format.obbak", b"tenant_id=1002;cluster=prod".to_vec())
        .await
        .expect("write");
    let theirs = [
        ("format.obbak", b"tenant_id=1004;cluster=staging".to_vec()),
        (
            "backup_set_1_full/single_backup_set_info",
            b"their set 1".to_vec(),
        ),
        ("backup_sets/backup_set_1_full_start.obbak", Vec::new()),
    ];
    for (path, bytes) in &theirs {
        to.write(path, bytes.clone()).await.expect("write");
    }
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    let error = copier.tree("backup_set_1_full").await.expect_err("refused");
    assert!(!error.is_transient(), "{error}");
    assert!(
        error.to_string().contains("another tenant's or cluster's"),
        "{error}"
    );
    let error = copier
        .verify("backup_set_1_full")
        .await
        .and(copier.tree("backup_set_1_full").await);
    assert!(
        error.is_err(),
        "a verification pass repairs nothing there either"
    );
    copier
        .delete("backup_set_1_full")
        .await
        .expect("nothing of ours to delete");
    for (path, bytes) in &theirs {
        assert_eq!(
            to.read(path).await.expect("kept").to_vec(),
            *bytes,
            "{path}"
        );
    }
    assert!(
        !to.exists("backup_set_1_full/meta_info/tenant_backup_set_infos")
            .await
            .expect("stat"),
        "nothing of ours was written"
    );
    // Archive logs where a set would go: refused as well.
    let logs = memory();
    logs.write("format.obarc", b"log".to_vec())
        .await
        .expect("write");
    let error = Copier::new(&from, &logs, 2, &progress)
        .tree("backup_set_1_full")
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("format.obarc"), "{error}");
}

/// A set's copy carries the format file and its own placeholders at the root (a restore lists them),
/// not another set's; deleting the copy deletes its placeholders and leaves the shared format file.
#[tokio::test]
async fn a_copy_carries_what_the_root_holds_for_its_tree_and_a_delete_takes_it_away() {
    let (from, to) = (source().await, memory());
    let own = [
        "format.obbak",
        "backup_sets/backup_set_1_full_start.obbak",
        "backup_sets/backup_set_1_full_end_success_20260601T120000.obbak",
    ];
    let other = "backup_sets/backup_set_10_full_start.obbak";
    for path in own.iter().chain([&other]) {
        from.write(path, path.as_bytes().to_vec())
            .await
            .expect("write");
    }
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    let report = copier.tree("backup_set_1_full").await.expect("copy");
    assert_eq!(report.objects, 3 + own.len());
    for path in own {
        assert_eq!(
            digest(&to, path).await.expect("copied"),
            digest(&from, path).await.expect("source"),
            "{path}"
        );
    }
    assert!(
        !to.exists(other).await.expect("stat"),
        "set 10's placeholder"
    );
    // The placeholders are verified like the rest of the tree.
    to.write(own[2], b"damaged".to_vec()).await.expect("damage");
    assert_eq!(
        copier.verify("backup_set_1_full").await.expect("verify"),
        vec![own[2].to_string()]
    );
    copier.delete("backup_set_1_full").await.expect("delete");
    for path in &own[1..] {
        assert!(!to.exists(path).await.expect("stat"), "{path} left behind");
    }
    assert!(
        to.exists("format.obbak").await.expect("stat"),
        "the format file is shared"
    );
    assert!(
        from.exists(own[2]).await.expect("stat"),
        "the source keeps it"
    );
}

/// Two pieces of one round: deleting the first's copy keeps the round's placeholder the second needs.
#[tokio::test]
async fn deleting_a_pieces_copy_keeps_what_its_round_shares_with_the_next_piece() {
    let (from, to) = (memory(), memory());
    let round = "rounds/round_d1001r1_start.obarc";
    for path in [
        "format.obarc",
        round,
        "pieces/piece_d1001r1p1_start_20260601T000000.obarc",
        "pieces/piece_d1001r1p1_end_20260602T000000.obarc",
        "pieces/piece_d1001r1p2_start_20260602T000000.obarc",
        "piece_d1001r1p1/single_piece_info.obarc",
        "piece_d1001r1p2/checkpoint/checkpoint_info.0.obarc",
    ] {
        from.write(path, path.as_bytes().to_vec())
            .await
            .expect("write");
    }
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    for piece in ["piece_d1001r1p1", "piece_d1001r1p2"] {
        copier.tree(piece).await.expect("copy");
    }
    assert!(to.exists(round).await.expect("stat"));
    copier.delete("piece_d1001r1p1").await.expect("delete");
    for gone in [
        "pieces/piece_d1001r1p1_start_20260601T000000.obarc",
        "pieces/piece_d1001r1p1_end_20260602T000000.obarc",
    ] {
        assert!(!to.exists(gone).await.expect("stat"), "{gone}");
    }
    for kept in [
        round,
        "format.obarc",
        "pieces/piece_d1001r1p2_start_20260602T000000.obarc",
    ] {
        assert!(to.exists(kept).await.expect("stat"), "{kept} deleted");
    }
}

#[tokio::test]
async fn deleting_a_copy_leaves_the_source_and_other_trees_alone() {
    let (from, to) = (source().await, memory());
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 2, &progress);
    copier.tree("backup_set_1_full").await.expect("copy");
    copier.tree("backup_set_2_inc").await.expect("copy");
    copier.delete("backup_set_1_full").await.expect("delete");
    assert!(
        !to.exists("backup_set_1_full/single_backup_set_info")
            .await
            .expect("stat")
    );
    assert!(
        !to.exists(&manifest_path("backup_set_1_full"))
            .await
            .expect("stat")
    );
    assert!(
        to.exists("backup_set_2_inc/single_backup_set_info")
            .await
            .expect("stat")
    );
    assert!(
        from.exists("backup_set_1_full/single_backup_set_info")
            .await
            .expect("stat")
    );
}
