//! Reading an object whole into a buffer the caller gives (and may use again), the way each destination
//! does it best.

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use opendal::Operator;

use super::StorageError;

/// The whole object at `path`, read into `into` (empty). A file of a file-system destination is read in one
/// piece by the file system: OpenDAL's reader fills a fresh 2 MiB buffer with zeros for each piece it reads
/// and the pieces would then be joined, which took about 40 % of a logical restore's own CPU
/// (docs/contributing/benchmarks.md). Any other object is read through OpenDAL.
pub(crate) async fn whole(
    storage: &Operator,
    path: &str,
    mut into: Vec<u8>,
) -> Result<Vec<u8>, StorageError> {
    if let Some(file) = local_file(storage, path) {
        return tokio::task::spawn_blocking(move || {
            std::fs::File::open(&file)
                .and_then(|mut f| f.read_to_end(&mut into))
                .map(|_| into)
                .map_err(|e| from_file(&file, &e))
        })
        .await
        .map_err(|e| StorageError::Io(format!("reading stopped: {e}")))?;
    }
    storage
        .reader(path)
        .await
        .map_err(|e| StorageError::io(&e))?
        .read_into(&mut into, ..)
        .await
        .map_err(|e| StorageError::io(&e))?;
    Ok(into)
}

/// Where `path` is on this machine's file system, when `storage` is a file-system destination and `path`
/// stays inside its root (no `..`).
fn local_file(storage: &Operator, path: &str) -> Option<PathBuf> {
    let info = storage.info();
    (info.scheme() == "fs" && !path.split('/').any(|part| part == ".."))
        .then(|| Path::new(&info.root()).join(path.trim_start_matches('/')))
}

/// An error reading `file` directly, sorted as [`StorageError::io`] sorts OpenDAL's.
fn from_file(file: &Path, error: &std::io::Error) -> StorageError {
    let message = format!("reading {}: {error}", file.display());
    match error.kind() {
        std::io::ErrorKind::PermissionDenied => StorageError::Refused(message),
        _ => StorageError::Io(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_is_read_whole_and_a_path_leaving_the_root_goes_through_opendal() {
        let root = std::env::temp_dir().join(format!("read-whole-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("dump")).expect("root");
        // Over 2 MiB: OpenDAL would read it in pieces.
        let content: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("dump/chunk.sql"), &content).expect("file");
        let storage = Operator::new(opendal::services::Fs::default().root(&root.to_string_lossy()))
            .expect("fs");
        assert_eq!(
            local_file(&storage, "dump/chunk.sql"),
            Some(root.join("dump/chunk.sql"))
        );
        assert_eq!(local_file(&storage, "dump/../../etc/passwd"), None);
        let read = whole(&storage, "dump/chunk.sql", Vec::with_capacity(16))
            .await
            .expect("read");
        assert_eq!(read, content);
        let missing = whole(&storage, "dump/gone.sql", Vec::new())
            .await
            .expect_err("no such file");
        assert!(missing.is_transient(), "{missing}");
        assert!(missing.to_string().contains("gone.sql"), "{missing}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
