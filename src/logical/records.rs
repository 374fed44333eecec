//! A dump's JSON records on the storage (its plan, each chunk's `.done` record, its manifest) and the bytes
//! of its other objects: read, tolerated when cut short, written. Shared by the dump and the load.

use opendal::Operator;
use serde::{Serialize, de::DeserializeOwned};

use super::LogicalError;

/// A record this dump wrote, or `None` when it is absent — or unreadable: a process killed while writing
/// it leaves it empty or cut short on storage whose writes are not atomic (a file system), and what it
/// records is then done again.
pub(crate) async fn read_record<T: DeserializeOwned>(
    storage: &Operator,
    path: &str,
) -> Result<Option<T>, LogicalError> {
    match read_json(storage, path).await {
        Err(LogicalError::Format(reason)) => {
            tracing::warn!(%reason, "a logical dump's record is unreadable; what it records is done again");
            Ok(None)
        }
        other => other,
    }
}

pub(crate) async fn read_json<T: DeserializeOwned>(
    storage: &Operator,
    path: &str,
) -> Result<Option<T>, LogicalError> {
    match storage.read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes.to_vec())
            .map(Some)
            .map_err(|e| LogicalError::Format(format!("{path}: {e}"))),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogicalError::storage(&e)),
    }
}

pub(crate) async fn write_json<T: Serialize>(
    storage: &Operator,
    path: &str,
    value: &T,
) -> Result<(), LogicalError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| LogicalError::Format(e.to_string()))?;
    write_bytes(storage, path, bytes).await
}

pub(crate) async fn write_bytes(
    storage: &Operator,
    path: &str,
    bytes: Vec<u8>,
) -> Result<(), LogicalError> {
    storage
        .write(path, bytes)
        .await
        .map(|_| ())
        .map_err(|e| LogicalError::storage(&e))
}
