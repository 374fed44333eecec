//! Object storage the operator reads and writes itself — the second backup's copies — through Apache OpenDAL
//! (one library for `file://`, S3, OSS and COS rather than hand-written HTTP). A destination is given as
//! OceanBase takes it (`file:///path`, `s3://bucket/path?host=…&s3_region=…`, `oss://bucket/path?host=…`,
//! `cos://bucket/path?host=…&appid=…`) and its access keys come from a Secret; they never appear in an error.

pub mod copies;
pub mod copy;
pub mod layout;
pub mod place;
pub(crate) mod read;
pub mod server_check;

use std::collections::HashMap;

use opendal::{
    Operator,
    layers::{RetryLayer, TimeoutLayer},
    services,
};

use crate::oceanbase::sql::AccessKeys;

/// What went wrong with a destination. The text never holds an access key.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URI is not one the operator can open.
    #[error("{0}")]
    Uri(String),
    /// The storage answered with an error (or did not answer).
    #[error("storage error: {0}")]
    Io(String),
    /// An object read back differs from what was written.
    #[error("{0}")]
    Mismatch(String),
    /// The copy would write over what another tenant, cluster or kind of backup keeps there.
    #[error("{0}")]
    Foreign(String),
    /// The storage refuses what is asked for good (access denied, a configuration it rejects): waiting
    /// does not help, fixing the destination or its Secret does.
    #[error("storage refused: {0}")]
    Refused(String),
}

impl StorageError {
    /// An error that may go away by itself (the storage unreachable, throttling, a timeout): never a reason
    /// to call a copy Failed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Io(_))
    }

    pub(crate) fn io(error: &opendal::Error) -> Self {
        // OpenDAL's errors name the operation, the path and the service's answer; credentials travel in
        // request headers, never in these.
        use opendal::ErrorKind::{ConfigInvalid, PermissionDenied, Unsupported};
        match error.kind() {
            PermissionDenied | ConfigInvalid | Unsupported => {
                StorageError::Refused(error.to_string())
            }
            _ => StorageError::Io(error.to_string()),
        }
    }
}

/// A destination URI split into what opening it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub scheme: Scheme,
    /// The bucket (empty for `file://`).
    pub bucket: String,
    /// The path inside the bucket or on the file system, with a leading `/`.
    pub root: String,
    /// The URI's parameters (`host`, `s3_region`, `appid`, `addressing_model`, …).
    pub params: HashMap<String, String>,
}

/// The storage kinds OceanBase backs up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    File,
    S3,
    Oss,
    Cos,
}

impl Location {
    /// Parses a destination URI (without access keys).
    pub fn parse(uri: &str) -> Result<Self, StorageError> {
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| StorageError::Uri(format!("{uri} is not a destination URI")))?;
        let scheme = match scheme {
            "file" => Scheme::File,
            "s3" => Scheme::S3,
            "oss" => Scheme::Oss,
            "cos" => Scheme::Cos,
            other => {
                return Err(StorageError::Uri(format!(
                    "{other}:// destinations are not supported (file, s3, oss, cos are)"
                )));
            }
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut params = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if matches!(key, "access_id" | "access_key") {
                return Err(StorageError::Uri(
                    "access keys belong in the destination's credentials Secret, not in its URI"
                        .into(),
                ));
            }
            params.insert(key.to_string(), value.to_string());
        }
        let (bucket, root) = match scheme {
            Scheme::File => (String::new(), path.to_string()),
            _ => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                (bucket.to_string(), format!("/{key}"))
            }
        };
        if scheme == Scheme::File && !root.starts_with('/') {
            return Err(StorageError::Uri(format!(
                "{uri}: a file destination is an absolute path (file:///…)"
            )));
        }
        if scheme != Scheme::File && (bucket.is_empty() || !params.contains_key("host")) {
            return Err(StorageError::Uri(format!(
                "{uri}: an object-storage destination names its bucket and its host (?host=…)"
            )));
        }
        Ok(Self {
            scheme,
            bucket,
            root,
            params,
        })
    }

    /// The endpoint URL of an object-storage host: as given when it names its scheme, else HTTPS.
    fn endpoint(&self) -> String {
        let host = self.params.get("host").map_or("", String::as_str);
        if host.starts_with("http://") || host.starts_with("https://") {
            host.to_string()
        } else {
            format!("https://{host}")
        }
    }
}

const RETRIES: usize = 3;

/// Once per process: rustls's crypto (ring, as the rest of the operator uses) and OpenDAL's HTTP transport.
fn install_transport() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Another part of the process may have installed the same provider first; either is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

/// Opens `uri` with `keys`; a `file://` path is read under `file_root` when given (where this process sees
/// the share the OBServers mount). Nothing is read from the operator's environment (no AWS profile, no
/// instance metadata): a destination reaches only what its Secret allows.
pub fn open(
    uri: &str,
    keys: Option<&AccessKeys>,
    file_root: Option<&std::path::Path>,
) -> Result<Operator, StorageError> {
    install_transport();
    let location = Location::parse(uri)?;
    let (id, secret) = keys.map_or(("", ""), |k| (k.access_id.as_str(), k.access_key.as_str()));
    let built = match location.scheme {
        Scheme::File => {
            let root = match file_root {
                Some(base) => base.join(location.root.trim_start_matches('/')),
                None => std::path::PathBuf::from(&location.root),
            };
            Operator::new(services::Fs::default().root(&root.to_string_lossy()))
        }
        Scheme::S3 => {
            let mut builder = services::S3::default()
                .bucket(&location.bucket)
                .root(&location.root)
                .endpoint(&location.endpoint())
                .region(
                    location
                        .params
                        .get("s3_region")
                        .map_or("us-east-1", String::as_str),
                )
                .disable_config_load()
                .disable_ec2_metadata()
                // Every write carries its body's CRC32C, which a server that honours it checks
                // ([`server_check`]).
                .checksum_algorithm("crc32c");
            if !id.is_empty() {
                builder = builder.access_key_id(id).secret_access_key(secret);
            }
            if location.params.get("addressing_model").map(String::as_str) == Some("virtual") {
                builder = builder.enable_virtual_host_style();
            }
            Operator::new(builder)
        }
        Scheme::Oss => Operator::new(
            services::Oss::default()
                .bucket(&location.bucket)
                .root(&location.root)
                .endpoint(&location.endpoint())
                .access_key_id(id)
                .access_key_secret(secret),
        ),
        Scheme::Cos => {
            // COS names a bucket `<name>-<appid>`.
            let bucket = match location.params.get("appid") {
                Some(appid) if !location.bucket.ends_with(&format!("-{appid}")) => {
                    format!("{}-{appid}", location.bucket)
                }
                _ => location.bucket.clone(),
            };
            Operator::new(
                services::Cos::default()
                    .bucket(&bucket)
                    .root(&location.root)
                    .endpoint(&location.endpoint())
                    .secret_id(id)
                    .secret_key(secret),
            )
        }
    };
    let operator = built.map_err(|e| StorageError::io(&e))?;
    Ok(operator
        .layer(TimeoutLayer::new().with_io_timeout(crate::timing::STORAGE_REQUEST_TIMEOUT))
        .layer(RetryLayer::new().with_max_times(RETRIES)))
}

/// A directory's path relative to a destination (a set's `backup_set_1_full`, a piece's `piece_d1001r1p2`),
/// when it lies under it. Query parameters of either URI are ignored.
pub fn tree_under(base_uri: &str, directory: &str) -> Option<String> {
    let base = without_query(base_uri);
    let directory = without_query(directory);
    let tree = directory
        .strip_prefix(base)?
        .strip_prefix('/')?
        .trim_end_matches('/');
    (!tree.is_empty() && !tree.split('/').any(|p| p.is_empty() || p == ".."))
        .then(|| tree.to_string())
}

/// `tree` under a destination, as a status shows it: the destination's URI without its query (which may
/// name a host and region, never keys — those are refused in URIs), then the tree.
pub fn directory_in(base_uri: &str, tree: &str) -> String {
    format!("{}/{tree}", without_query(base_uri))
}

/// A destination's URI as a status shows it: without its query, nor a trailing `/`.
pub fn without_query(uri: &str) -> &str {
    uri.split('?').next().unwrap_or(uri).trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_a_directory_under_its_destination_and_nothing_else() {
        assert_eq!(
            tree_under(
                "file:///backup/t1/data",
                "file:///backup/t1/data/backup_set_1_full"
            )
            .as_deref(),
            Some("backup_set_1_full")
        );
        assert_eq!(
            tree_under(
                "s3://b/ob/data?host=h&s3_region=r",
                "s3://b/ob/data/backup_set_2_inc?host=h&s3_region=r"
            )
            .as_deref(),
            Some("backup_set_2_inc")
        );
        for elsewhere in [
            "file:///backup/other/backup_set_1_full",
            "file:///backup/t1/data",
            "file:///backup/t1/data/../x",
            "file:///backup/t1/database/backup_set_1_full",
        ] {
            assert_eq!(
                tree_under("file:///backup/t1/data", elsewhere),
                None,
                "{elsewhere}"
            );
        }
    }

    #[test]
    fn destinations_parse_as_oceanbase_writes_them() {
        let file = Location::parse("file:///backup/demo/data").expect("file");
        assert_eq!(
            (file.scheme, file.root.as_str()),
            (Scheme::File, "/backup/demo/data")
        );
        let s3 = Location::parse(
            "s3://bucket/ob/data?host=127.0.0.1:7070&s3_region=us-east-1&addressing_model=path",
        )
        .expect("s3");
        assert_eq!(
            (s3.scheme, s3.bucket.as_str(), s3.root.as_str()),
            (Scheme::S3, "bucket", "/ob/data")
        );
        assert_eq!(s3.endpoint(), "https://127.0.0.1:7070");
        let plain = Location::parse("s3://b/p?host=http://127.0.0.1:7070").expect("s3");
        assert_eq!(plain.endpoint(), "http://127.0.0.1:7070");
        let cos =
            Location::parse("cos://b/p?host=cos.ap-beijing.myqcloud.com&appid=125").expect("cos");
        assert_eq!(cos.scheme, Scheme::Cos);
    }

    /// Access denied is no outage: a copy that meets it says so instead of "waiting for storage" forever.
    #[test]
    fn a_refusal_is_permanent_and_an_outage_is_not() {
        let denied = opendal::Error::new(opendal::ErrorKind::PermissionDenied, "AccessDenied");
        assert!(!StorageError::io(&denied).is_transient());
        let down = opendal::Error::new(opendal::ErrorKind::Unexpected, "connection refused");
        assert!(StorageError::io(&down).is_transient());
        let slow = opendal::Error::new(opendal::ErrorKind::RateLimited, "SlowDown");
        assert!(StorageError::io(&slow).is_transient());
    }

    #[test]
    fn keys_in_the_uri_unknown_schemes_and_missing_hosts_are_refused() {
        for (uri, says) in [
            (
                "s3://b/p?host=h&access_id=AK&access_key=SK",
                "credentials Secret",
            ),
            ("nfs://server/path", "not supported"),
            ("s3://bucket/path", "host"),
            ("file://relative/path", "absolute"),
            ("no-scheme", "not a destination URI"),
        ] {
            let error = Location::parse(uri).expect_err(uri).to_string();
            assert!(error.contains(says), "{uri}: {error}");
            assert!(!error.contains("SK"), "{error}");
        }
    }
}
