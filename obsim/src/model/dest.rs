//! Which destinations a server takes (docs/reference/oceanbase-interface.md §2.3): a URI of one of
//! the storage schemes OceanBase 4.x knows. Anything else — no scheme, or one it has no storage for
//! — is refused with `OB_INVALID_BACKUP_DEST` (−9026) before the destination is looked at.

use crate::error::SqlError;

/// The schemes of backup destinations: NFS, Alibaba OSS, Tencent COS, S3 and S3-compatible storage.
const SCHEMES: [&str; 4] = ["file://", "oss://", "cos://", "s3://"];

/// `OB_INVALID_BACKUP_DEST`'s number (its code is −9026).
const INVALID_BACKUP_DEST: u16 = 9026;

/// Refuses `uri` unless it is a destination URI: a known scheme followed by a path.
pub fn check(uri: &str) -> Result<(), SqlError> {
    let uri = uri.trim();
    let valid = SCHEMES.iter().any(|scheme| {
        uri.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    });
    if valid {
        Ok(())
    } else {
        Err(SqlError::oceanbase(
            INVALID_BACKUP_DEST,
            "backup destination is not valid",
        ))
    }
}

/// The destination URI a parameter's value names, if it names one: the whole value of `data_backup_dest`,
/// the `LOCATION` attribute of `log_archive_dest`; none for an empty value (which clears it).
pub fn named<'a>(parameter: &str, value: &'a str) -> Option<&'a str> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match parameter {
        "data_backup_dest" => Some(value),
        "log_archive_dest" => value.split_whitespace().find_map(|attribute| {
            let (key, uri) = attribute.split_once('=')?;
            key.eq_ignore_ascii_case("LOCATION").then_some(uri)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uris_of_the_storage_schemes_are_destinations() {
        for uri in [
            "file:///backup/data",
            "oss://bucket/data?host=oss-cn-hangzhou.aliyuncs.com",
            "cos://bucket/data?host=cos.ap-guangzhou.myqcloud.com&appid=1",
            "s3://bucket/data?host=s3.us-east-1.amazonaws.com&s3_region=us-east-1",
        ] {
            assert!(check(uri).is_ok(), "{uri}");
        }
        for uri in ["notauri", "ftp://host/data", "file://", "/backup/data", ""] {
            let refused = check(uri).expect_err(uri);
            assert_eq!(
                (refused.code, refused.message.as_str()),
                (9026, "backup destination is not valid"),
                "{uri}"
            );
        }
    }

    #[test]
    fn the_uri_a_parameter_names() {
        assert_eq!(named("data_backup_dest", " notauri "), Some("notauri"));
        assert_eq!(
            named("log_archive_dest", "BINDING=optional location=ftp://h/a"),
            Some("ftp://h/a")
        );
        assert_eq!(named("log_archive_dest", "BINDING=optional"), None);
        assert_eq!(named("data_backup_dest", ""), None);
        assert_eq!(named("log_archive_dest_state", "ENABLE"), None);
    }
}
