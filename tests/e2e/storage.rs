//! The second backup's storage layer (`src/storage`) against a real S3-compatible server (versitygw) and the
//! file system: a backup set's tree copied and verified byte for byte, an object damaged on the copy found
//! and copied again, an outage of the server a transient error after which the copy goes on without
//! writing again what it had finished, a deleted copy gone while its source stays; a server that checks the
//! CRC32C each write carries refuses bytes changed on the way, and spares the copy its read-back (the CRC32C
//! it checked, recorded, finds a byte changed behind it later).

use std::path::{Path, PathBuf};

use ob_backup_operator::{
    background::Key,
    oceanbase::sql::AccessKeys,
    storage::{
        self, StorageError,
        copies::{Copies, CopyRequest, CopyState, Work},
        copy::{Copier, Progress, digest, manifest_path},
        server_check::{WriteCheck, corrupting_writes, write_check},
    },
};

use crate::support::{
    cluster::eventually,
    s3::{ACCESS_ID, ACCESS_KEY, S3Server},
    world::WAIT,
};

const BUCKET: &str = "second";
const SET: &str = "backup_set_1_full";

fn keys() -> AccessKeys {
    AccessKeys {
        access_id: ACCESS_ID.into(),
        access_key: ACCESS_KEY.into(),
    }
}

/// A fresh directory holding a set's tree shaped like OceanBase's: `objects` data files of `size` bytes
/// (each with its own content) beside its info files.
fn a_set_on_disk(name: &str, objects: usize, size: usize) -> PathBuf {
    let root = std::env::temp_dir().join(format!("obbackup-first-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let set = root.join(SET);
    for dir in ["meta_info", "logstream_1/major_data", "infos"] {
        std::fs::create_dir_all(set.join(dir)).expect("set directory");
    }
    std::fs::write(set.join("single_backup_set_info"), b"backup set 1, full").expect("info");
    std::fs::write(
        set.join("meta_info/tenant_backup_set_infos"),
        vec![3u8; 4096],
    )
    .expect("meta");
    for i in 0..objects {
        let bytes: Vec<u8> = (0..size).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        std::fs::write(
            set.join(format!("logstream_1/major_data/macro_block_data.{i}")),
            bytes,
        )
        .expect("data");
    }
    root
}

fn file_uri(root: &Path) -> String {
    format!("file://{}", root.display())
}

#[tokio::test]
async fn a_set_is_copied_to_s3_verified_repaired_and_deleted() {
    let Some(s3) = S3Server::start(BUCKET) else {
        return;
    };
    let first = a_set_on_disk("copy", 12, 700_000);
    let from = storage::open(&file_uri(&first), None, None).expect("the first destination");
    let to = storage::open(&s3.uri(BUCKET, "ob/data"), Some(&keys()), None).expect("the second");
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 4, &progress);
    let report = copier.tree(SET).await.expect("copy");
    assert_eq!((report.objects, report.copied), (14, 14));
    assert_eq!(report.copied_bytes, report.bytes);
    for i in [0, 5, 11] {
        let path = format!("{SET}/logstream_1/major_data/macro_block_data.{i}");
        assert_eq!(
            digest(&to, &path).await.expect("read the copy"),
            digest(&from, &path).await.expect("read the source"),
            "{path}"
        );
    }
    // What S3 holds is the same tree, file for file, under the destination's path.
    assert!(
        s3.file(BUCKET, &format!("ob/data/{SET}/single_backup_set_info"))
            .is_file()
    );
    assert!(copier.verify(SET).await.expect("verify").is_empty());

    // A disk behind the server flips a byte: verification finds that object, and only it is copied again.
    let damaged = format!("{SET}/logstream_1/major_data/macro_block_data.5");
    let behind = s3.file(BUCKET, &format!("ob/data/{damaged}"));
    let mut bytes = std::fs::read(&behind).expect("the object's file");
    bytes[4242] ^= 0xff;
    std::fs::write(&behind, bytes).expect("damage");
    assert_eq!(
        copier.verify(SET).await.expect("verify"),
        vec![damaged.clone()]
    );
    let repaired = copier.tree(SET).await.expect("repair");
    assert_eq!(repaired.copied, 1);
    assert_eq!(
        digest(&to, &damaged).await.expect("copy"),
        digest(&from, &damaged).await.expect("source")
    );

    copier.delete(SET).await.expect("delete the copy");
    assert!(
        !s3.file(BUCKET, &format!("ob/data/{SET}/single_backup_set_info"))
            .exists()
    );
    assert!(
        first.join(SET).join("single_backup_set_info").is_file(),
        "the first destination is never touched"
    );
    let _ = std::fs::remove_dir_all(first);
}

#[tokio::test]
async fn an_outage_is_transient_and_the_copy_resumes_without_writing_finished_objects_again() {
    let Some(mut s3) = S3Server::start(BUCKET) else {
        return;
    };
    let first = a_set_on_disk("outage", 120, 200_000);
    let from = storage::open(&file_uri(&first), None, None).expect("the first destination");
    let to = storage::open(&s3.uri(BUCKET, "ob/data"), Some(&keys()), None).expect("the second");
    let copying = {
        let (from, to) = (from.clone(), to.clone());
        tokio::spawn(async move {
            Copier::new(&from, &to, 1, &Progress::default())
                .tree(SET)
                .await
        })
    };
    // Once the copy has recorded progress, the server goes away.
    let manifest = s3.file(BUCKET, &format!("ob/data/{}", manifest_path(SET)));
    eventually("the copy to record progress", WAIT, || async {
        manifest.is_file().then_some(())
    })
    .await;
    s3.stop();
    let outcome = copying.await.expect("the copy task");
    let error = outcome.expect_err("the server was gone");
    assert!(error.is_transient(), "{error}");
    assert!(!matches!(error, StorageError::Mismatch(_)));
    assert!(!error.to_string().contains(ACCESS_KEY), "{error}");

    s3.resume();
    let done_before = std::fs::read(&manifest)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m["objects"].as_object().map(|o| o.len()))
        .expect("the manifest");
    assert!(done_before > 0);
    let progress = Progress::default();
    let copier = Copier::new(&from, &to, 4, &progress);
    let resumed = copier.tree(SET).await.expect("resumed");
    assert_eq!(resumed.objects, 122);
    assert!(
        resumed.copied <= resumed.objects - done_before,
        "{} written again of {done_before} finished",
        resumed.copied
    );
    assert!(copier.verify(SET).await.expect("verify").is_empty());
    let _ = std::fs::remove_dir_all(first);
}

/// A bandwidth limit meters bytes over time, whatever the request size: S3's writer sends an object of a few
/// MiB in one request, which a limit on requests (OpenDAL's throttle layer, used before) refused for good
/// as larger than one second of the limit — so no macro block (2 MiB) was ever copied at `1Mi`.
#[tokio::test]
async fn a_limited_copy_to_s3_carries_objects_larger_than_a_second_of_the_limit() {
    let Some(s3) = S3Server::start(BUCKET) else {
        return;
    };
    let first = a_set_on_disk("limited", 1, 5 << 19);
    let request = CopyRequest {
        work: Work::Copy,
        from: file_uri(&first),
        from_keys: None,
        to: s3.uri(BUCKET, "ob/limited"),
        to_keys: Some(keys()),
        tree: SET.into(),
        concurrency: 2,
        bandwidth: Some(1 << 20),
        file_root: None,
    };
    let copies = Copies::new(std::sync::Arc::new(|_: &Key| {}));
    let key = Key::of("e2e", "limited");
    let started = std::time::Instant::now();
    copies.ensure(&key, &request);
    let ended = eventually("the limited copy to end", WAIT, || async {
        copies
            .state(&key)
            .filter(|s| !matches!(s, CopyState::Running { .. }))
    })
    .await;
    let CopyState::Done(report) = ended else {
        panic!("the limited copy did not complete: {ended:?}");
    };
    assert_eq!(report.copied, 3);
    // 2.5 MiB and a few KiB at 1 MiB/s, the first MiB in one burst: at least 1.5 s.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1400),
        "{:?}: the limit did not hold",
        started.elapsed()
    );
    let to = storage::open(&request.to, Some(&keys()), None).expect("the second");
    let from = storage::open(&request.from, None, None).expect("the first");
    let block = format!("{SET}/logstream_1/major_data/macro_block_data.0");
    assert_eq!(
        digest(&to, &block).await.expect("read the copy"),
        digest(&from, &block).await.expect("read the source")
    );
    let _ = std::fs::remove_dir_all(first);
}

/// A transport that refuses every GET of a data object: a copy that still completes read none of them back.
struct NoDataReads(opendal_http_transport_reqwest::ReqwestTransport);

impl opendal::HttpTransport for NoDataReads {
    async fn fetch(
        &self,
        request: http::Request<opendal::Buffer>,
    ) -> opendal::Result<http::Response<opendal::HttpBody>> {
        if request.method() == http::Method::GET
            && request.uri().path().contains("macro_block_data")
        {
            return Err(opendal::Error::new(
                opendal::ErrorKind::PermissionDenied,
                "this test reads no data object back",
            ));
        }
        self.0.fetch(request).await
    }
}

#[tokio::test]
async fn a_server_that_checks_writes_refuses_a_corrupted_one_and_spares_the_copy_its_read_back() {
    let Some(s3) = S3Server::start(BUCKET) else {
        return;
    };
    let first = a_set_on_disk("checked", 6, 300_000);
    let from_uri = file_uri(&first);
    let from = storage::open(&from_uri, None, None).expect("the first destination");
    let to_uri = s3.uri(BUCKET, "ob/checked");
    let to = storage::open(&to_uri, Some(&keys()), None).expect("the second");
    assert_eq!(
        write_check(&to_uri, &to).await,
        WriteCheck::Server,
        "versitygw recomputes the CRC32C each write carries"
    );
    assert!(!s3.file(BUCKET, "ob/checked/.obbackup/write-check").exists());
    assert_eq!(write_check(&from_uri, &from).await, WriteCheck::ReadBack);

    // Bytes changed on the way are refused: nothing of the set is stored, and the copy fails.
    let progress = Progress::default();
    let corrupted = corrupting_writes(to.clone());
    let error = Copier::new(&from, &corrupted, 2, &progress)
        .checked_by(WriteCheck::Server)
        .tree(SET)
        .await
        .expect_err("every write refused");
    assert!(error.to_string().contains("BadDigest"), "{error}");
    let data = s3.file(BUCKET, &format!("ob/checked/{SET}/logstream_1/major_data"));
    let stored = std::fs::read_dir(&data).map_or(0, |d| d.count());
    assert_eq!(stored, 0, "no corrupted object was stored");

    // Checked by the server, a copy reads no data object back (a transport refusing those reads does not
    // stop it) and holds the source's bytes.
    let transport = opendal::HttpTransporter::new(NoDataReads(Default::default()));
    let unreadable = to
        .clone()
        .with_context(opendal::OperationContext::new().with_http_transport(transport));
    let report = Copier::new(&from, &unreadable, 2, &progress)
        .checked_by(WriteCheck::Server)
        .tree(SET)
        .await
        .expect("copied without reading back");
    assert_eq!(report.copied, report.objects);
    for i in 0..6 {
        let path = format!("{SET}/logstream_1/major_data/macro_block_data.{i}");
        assert_eq!(
            digest(&to, &path).await.expect("the copy"),
            digest(&from, &path).await.expect("the source"),
            "{path}"
        );
    }
    // The manifest records the CRC32C the server checked: a byte flipped behind the server later is found by
    // the verification pass.
    let damaged = format!("{SET}/logstream_1/major_data/macro_block_data.3");
    let behind = s3.file(BUCKET, &format!("ob/checked/{damaged}"));
    let mut bytes = std::fs::read(&behind).expect("the object's file");
    bytes[777] ^= 0x01;
    std::fs::write(&behind, bytes).expect("damage");
    let verifier = Copier::new(&from, &to, 2, &progress).checked_by(WriteCheck::Server);
    assert_eq!(verifier.verify(SET).await.expect("verify"), vec![damaged]);
    // Read back, the same copy needs those reads.
    copier_fails_without_reads(&from, &unreadable).await;
    let _ = std::fs::remove_dir_all(first);
}

async fn copier_fails_without_reads(from: &opendal::Operator, unreadable: &opendal::Operator) {
    Copier::new(from, unreadable, 2, &Progress::default())
        .delete(SET)
        .await
        .expect("delete the copy");
    let error = Copier::new(from, unreadable, 2, &Progress::default())
        .tree(SET)
        .await
        .expect_err("a read-back copy reads every object back");
    assert!(
        error.to_string().contains("reads no data object back"),
        "{error}"
    );
}
