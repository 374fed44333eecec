//! Building the statements the operator sends (docs/reference/oceanbase-interface.md §2–§4): every
//! identifier is validated and backquoted, every value is a single-quoted literal with quotes and
//! backslashes escaped. Nothing user-controlled is concatenated raw. Pure functions, unit-tested.

use super::ObError;
pub use super::redact::{REDACTED, Redactor, user_part};

/// The shape OceanBase tenant names have (and the CRDs enforce with CEL).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// A validated, backquoted identifier, e.g. `` `tenant1` ``.
pub fn identifier(name: &str) -> Result<String, ObError> {
    if is_identifier(name) {
        Ok(format!("`{name}`"))
    } else {
        Err(ObError::InvalidIdentifier(name.chars().take(64).collect()))
    }
}

/// A single-quoted string literal. Backslashes and quotes are escaped (OceanBase's MySQL mode honours
/// backslash escapes by default); NUL and other control characters are refused.
pub fn literal(value: &str) -> Result<String, ObError> {
    if value.chars().any(|c| c.is_control()) {
        return Err(ObError::InvalidValue(
            "control characters are not allowed in values sent to OceanBase".into(),
        ));
    }
    Ok(format!(
        "'{}'",
        value.replace('\\', "\\\\").replace('\'', "''")
    ))
}

/// A storage URI with its access keys spliced in at send time: `access_id` and `access_key` are
/// appended as query parameters (docs/reference/oceanbase-interface.md §2.3). Keys must be
/// printable ASCII without `&`, `?`, quotes, backslashes or spaces, so that they cannot change the
/// URI's meaning (`=`, `+` and `/` of base64 keys are fine: OceanBase splits each parameter at its
/// first `=`).
pub fn uri_with_keys(uri: &str, keys: Option<&AccessKeys>) -> Result<String, ObError> {
    let Some(keys) = keys else {
        return Ok(uri.to_string());
    };
    for value in [&keys.access_id, &keys.access_key] {
        if value.is_empty()
            || !value
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '&' | '?' | '\'' | '\\'))
        {
            return Err(ObError::InvalidValue(
                "access keys must be printable ASCII without &, ?, quotes or backslashes".into(),
            ));
        }
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{uri}{separator}access_id={}&access_key={}",
        keys.access_id, keys.access_key
    ))
}

/// Object-storage access keys from a Secret. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeys {
    pub access_id: String,
    pub access_key: String,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKeys(<redacted>)")
    }
}

/// `ALTER SYSTEM SET DATA_BACKUP_DEST = '…' TENANT = t` (§2.1).
pub fn set_data_backup_dest(tenant: &str, uri: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM SET DATA_BACKUP_DEST = {} TENANT = {}",
        literal(uri)?,
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=… BINDING=… PIECE_SWITCH_INTERVAL=…' TENANT = t` (§2.2).
pub fn set_log_archive_dest(
    tenant: &str,
    uri: &str,
    binding: &super::Binding,
    piece_switch_interval: &str,
) -> Result<String, ObError> {
    let plain = |what: &str, value: &str| {
        if value.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(ObError::InvalidValue(format!(
                "{what} must be alphanumeric"
            )))
        }
    };
    let binding = binding.to_string();
    plain("binding", &binding)?;
    plain("pieceSwitchInterval", piece_switch_interval)?;
    if uri.chars().any(char::is_whitespace) {
        return Err(ObError::InvalidValue(
            "a destination URI cannot hold spaces".into(),
        ));
    }
    let value =
        format!("LOCATION={uri} BINDING={binding} PIECE_SWITCH_INTERVAL={piece_switch_interval}");
    Ok(format!(
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST = {} TENANT = {}",
        literal(&value)?,
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM SET LOG_ARCHIVE_DEST_STATE = 'ENABLE' | 'DEFER' TENANT = t` (§2.2).
pub fn set_log_archive_dest_state(tenant: &str, enable: bool) -> Result<String, ObError> {
    let state = if enable { "'ENABLE'" } else { "'DEFER'" };
    Ok(format!(
        "ALTER SYSTEM SET LOG_ARCHIVE_DEST_STATE = {state} TENANT = {}",
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM ARCHIVELOG | NOARCHIVELOG TENANT = t` (§3.1).
pub fn archive_mode(tenant: &str, enable: bool) -> Result<String, ObError> {
    let mode = if enable { "ARCHIVELOG" } else { "NOARCHIVELOG" };
    Ok(format!(
        "ALTER SYSTEM {mode} TENANT = {}",
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM BACKUP [INCREMENTAL] TENANT = t [PLUS ARCHIVELOG] DESCRIPTION = '…'` (§4.1).
pub fn backup(
    tenant: &str,
    incremental: bool,
    plus_archivelog: bool,
    description: &str,
) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM BACKUP {}TENANT = {}{} DESCRIPTION = {}",
        if incremental { "INCREMENTAL " } else { "" },
        identifier(tenant)?,
        if plus_archivelog {
            " PLUS ARCHIVELOG"
        } else {
            ""
        },
        literal(description)?
    ))
}

/// `SET ENCRYPTION ON IDENTIFIED BY '…' ONLY` (§2.4): must precede BACKUP on the same session.
pub fn set_encryption(password: &str) -> Result<String, ObError> {
    Ok(format!(
        "SET ENCRYPTION ON IDENTIFIED BY {} ONLY",
        literal(password)?
    ))
}

/// `ALTER SYSTEM CANCEL BACKUP TENANT = t` (§4.1).
pub fn cancel_backup(tenant: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM CANCEL BACKUP TENANT = {}",
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '…' TENANT = t` (§5.1). The window is
/// the CRD's `7d` / `36h` shape.
pub fn add_delete_policy(tenant: &str, recovery_window: &str) -> Result<String, ObError> {
    if !recovery_window.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ObError::InvalidValue(
            "recoveryWindow must be like 7d or 36h".into(),
        ));
    }
    Ok(format!(
        "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW {} TENANT = {}",
        literal(recovery_window)?,
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM DROP DELETE BACKUP POLICY 'default' TENANT = t` (§5.1).
pub fn drop_delete_policy(tenant: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM DROP DELETE BACKUP POLICY 'default' TENANT = {}",
        identifier(tenant)?
    ))
}

/// What a manual cleanup deletes (§5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteTarget {
    /// `DELETE OBSOLETE BACKUP`: everything outside the delete policy's recovery window.
    Obsolete,
    /// `DELETE BACKUPSET id, …`.
    BackupSets(Vec<i64>),
    /// `DELETE ARCHIVELOG_PIECE id, …`.
    ArchivelogPieces(Vec<i64>),
}

impl DeleteTarget {
    /// The delete job's `TYPE` (newest spelling, §5.3).
    pub fn job_type(&self) -> super::CleanJobType {
        match self {
            DeleteTarget::Obsolete => super::CleanJobType::DeleteObsolete,
            DeleteTarget::BackupSets(_) => super::CleanJobType::DeleteBackupSet,
            DeleteTarget::ArchivelogPieces(_) => super::CleanJobType::DeleteArchivelogPiece,
        }
    }
}

/// `ALTER SYSTEM DELETE {OBSOLETE BACKUP | BACKUPSET ids | ARCHIVELOG_PIECE ids} TENANT = t` (§5.2, 4.4.1+).
/// One to 32 positive ids.
pub fn delete_backup(tenant: &str, target: &DeleteTarget) -> Result<String, ObError> {
    let ids = |ids: &[i64]| {
        if ids.is_empty() || ids.len() > 32 || ids.iter().any(|id| *id < 1) {
            return Err(ObError::InvalidValue(
                "between 1 and 32 positive ids can be deleted at once".into(),
            ));
        }
        Ok(ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "))
    };
    let what = match target {
        DeleteTarget::Obsolete => "OBSOLETE BACKUP".to_string(),
        DeleteTarget::BackupSets(list) => format!("BACKUPSET {}", ids(list)?),
        DeleteTarget::ArchivelogPieces(list) => format!("ARCHIVELOG_PIECE {}", ids(list)?),
    };
    Ok(format!(
        "ALTER SYSTEM DELETE {what} TENANT = {}",
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM CANCEL DELETE BACKUP TENANT = t` (§5.1, all 4.x).
pub fn cancel_delete(tenant: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM CANCEL DELETE BACKUP TENANT = {}",
        identifier(tenant)?
    ))
}

/// An OceanBase capacity such as `4G` (docs/reference/oceanbase-interface.md §6.1).
fn capacity(value: &str) -> Result<String, ObError> {
    let digits = value.trim_end_matches(['M', 'G', 'T']);
    let valid = value.len() == digits.len() + 1
        && !digits.is_empty()
        && !digits.starts_with('0')
        && digits.chars().all(|c| c.is_ascii_digit());
    if valid {
        literal(value)
    } else {
        Err(ObError::InvalidValue(format!(
            "{value:?} is not a size such as 4G, 512M or 1T"
        )))
    }
}

/// `CREATE RESOURCE UNIT IF NOT EXISTS u MAX_CPU = n, MEMORY_SIZE = 'm'[, LOG_DISK_SIZE = 'l']` (§6.1).
pub fn create_unit(
    name: &str,
    max_cpu: f64,
    memory_size: &str,
    log_disk_size: Option<&str>,
) -> Result<String, ObError> {
    if !max_cpu.is_finite() || max_cpu < 1.0 {
        return Err(ObError::InvalidValue("maxCpu must be at least 1".into()));
    }
    let log_disk = log_disk_size
        .map(|l| capacity(l).map(|l| format!(", LOG_DISK_SIZE = {l}")))
        .transpose()?
        .unwrap_or_default();
    Ok(format!(
        "CREATE RESOURCE UNIT IF NOT EXISTS {} MAX_CPU = {max_cpu}, MEMORY_SIZE = {}{log_disk}",
        identifier(name)?,
        capacity(memory_size)?
    ))
}

/// `CREATE RESOURCE POOL IF NOT EXISTS p UNIT = 'u', UNIT_NUM = n, ZONE_LIST = ('z1', …)` (§6.1).
pub fn create_pool(
    name: &str,
    unit: &str,
    unit_num: i32,
    zones: &[String],
) -> Result<String, ObError> {
    if unit_num < 1 || zones.is_empty() {
        return Err(ObError::InvalidValue(
            "a pool needs at least one unit and one zone".into(),
        ));
    }
    let zones = zones
        .iter()
        .map(|z| identifier(z).and_then(|_| literal(z)))
        .collect::<Result<Vec<_>, _>>()?
        .join(", ");
    identifier(unit)?;
    Ok(format!(
        "CREATE RESOURCE POOL IF NOT EXISTS {} UNIT = {}, UNIT_NUM = {unit_num}, ZONE_LIST = ({zones})",
        identifier(name)?,
        literal(unit)?
    ))
}

/// `DROP RESOURCE POOL IF EXISTS p` or `DROP RESOURCE UNIT IF EXISTS u`.
pub fn drop_resource(pool: bool, name: &str) -> Result<String, ObError> {
    Ok(format!(
        "DROP RESOURCE {} IF EXISTS {}",
        if pool { "POOL" } else { "UNIT" },
        identifier(name)?
    ))
}

/// `DROP TENANT IF EXISTS t FORCE`: drops a restore drill's scratch tenant at once, also while its restore
/// runs or after it failed, freeing its pool (docs/reference/oceanbase-interface.md §6.6). Refuses any name
/// but a scratch tenant's, so that no mistake of the caller's can drop a tenant a drill did not make.
pub fn drop_scratch_tenant(tenant: &str) -> Result<String, ObError> {
    if !tenant.starts_with(crate::drill::SCRATCH_PREFIX) {
        return Err(ObError::InvalidValue(format!(
            "{tenant} is not a drill's scratch tenant: only those are dropped"
        )));
    }
    Ok(format!(
        "DROP TENANT IF EXISTS {} FORCE",
        identifier(tenant)?
    ))
}

/// `SET DECRYPTION IDENTIFIED BY 'pw'`: lets this session read backups encrypted with that password (§6.2).
pub fn set_decryption(password: &str) -> Result<String, ObError> {
    Ok(format!(
        "SET DECRYPTION IDENTIFIED BY {}",
        literal(password)?
    ))
}

/// Where a restore stops (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreUntil {
    /// Everything archived (no UNTIL).
    Latest,
    /// `UNTIL TIME = '…'` in UTC (the session's time zone).
    Time(jiff::Timestamp),
    /// `UNTIL SCN = n`.
    Scn(u64),
}

/// `ALTER SYSTEM RESTORE t FROM 'data,log' [UNTIL …] WITH 'options' DESCRIPTION = 'd'` (§6.2). The URIs
/// carry their access keys (spliced by [`uri_with_keys`]); options are `key=value` pairs joined by `&`.
pub fn restore(
    tenant: &str,
    uris: &[String],
    until: RestoreUntil,
    options: &[(&str, &str)],
    description: &str,
) -> Result<String, ObError> {
    if uris.iter().any(|u| u.contains(',') || u.contains(' ')) {
        return Err(ObError::InvalidValue(
            "a restore source URI cannot contain commas or spaces".into(),
        ));
    }
    let until = match until {
        RestoreUntil::Latest => String::new(),
        RestoreUntil::Time(at) => format!(
            " UNTIL TIME = '{}'",
            at.to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%Y-%m-%d %H:%M:%S%.6f")
        ),
        RestoreUntil::Scn(scn) => format!(" UNTIL SCN = {scn}"),
    };
    for (key, value) in options {
        if value.is_empty() || value.contains(['&', '=', '\'', ' ']) {
            return Err(ObError::InvalidValue(format!(
                "restore option {key} has an invalid value"
            )));
        }
    }
    let options = options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(format!(
        "ALTER SYSTEM RESTORE {} FROM {}{until} WITH {} DESCRIPTION = {}",
        identifier(tenant)?,
        literal(&uris.join(","))?,
        literal(&options)?,
        literal(description)?
    ))
}

/// `ALTER SYSTEM CANCEL RESTORE t` (§6.2).
pub fn cancel_restore(tenant: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM CANCEL RESTORE {}",
        identifier(tenant)?
    ))
}

/// `ALTER SYSTEM ACTIVATE STANDBY TENANT = t`: the restored standby becomes primary (§6.4).
pub fn activate_standby(tenant: &str) -> Result<String, ObError> {
    Ok(format!(
        "ALTER SYSTEM ACTIVATE STANDBY TENANT = {}",
        identifier(tenant)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::Binding;

    #[test]
    fn only_a_scratch_tenant_is_ever_dropped() {
        assert_eq!(
            drop_scratch_tenant("drill_tenant1_20261126030000").expect("scratch"),
            "DROP TENANT IF EXISTS `drill_tenant1_20261126030000` FORCE"
        );
        assert!(drop_scratch_tenant("tenant1").is_err());
        assert!(drop_scratch_tenant("drill_x`; DROP TENANT prod").is_err());
    }

    #[test]
    fn identifiers_are_validated_and_backquoted() {
        assert_eq!(identifier("tenant_1").expect("valid"), "`tenant_1`");
        for bad in [
            "",
            "1t",
            "t-1",
            "t`; DROP",
            "t 1",
            "ténant",
            &"x".repeat(129),
        ] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal("it's").expect("ok"), "'it''s'");
        assert_eq!(literal(r"a\'b").expect("ok"), r"'a\\''b'");
        assert!(literal("a\0b").is_err());
        assert!(literal("a\nb").is_err());
    }

    #[test]
    fn statements_follow_the_reference() {
        assert_eq!(
            backup("tenant1", true, true, "uid-1").expect("ok"),
            "ALTER SYSTEM BACKUP INCREMENTAL TENANT = `tenant1` PLUS ARCHIVELOG DESCRIPTION = 'uid-1'"
        );
        assert_eq!(
            backup("tenant1", false, false, "u").expect("ok"),
            "ALTER SYSTEM BACKUP TENANT = `tenant1` DESCRIPTION = 'u'"
        );
        assert_eq!(
            set_log_archive_dest("t", "file:///a", &Binding::Optional, "1d").expect("ok"),
            "ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=file:///a BINDING=OPTIONAL PIECE_SWITCH_INTERVAL=1d' TENANT = `t`"
        );
        assert!(set_log_archive_dest("t", "file:///a b", &Binding::Optional, "1d").is_err());
        assert!(
            set_log_archive_dest(
                "t",
                "file:///a",
                &Binding::Other("OPTIONAL PIECE".into()),
                "1d"
            )
            .is_err()
        );
        assert_eq!(
            archive_mode("t", false).expect("ok"),
            "ALTER SYSTEM NOARCHIVELOG TENANT = `t`"
        );
        assert!(backup("t; DROP TENANT x", false, false, "u").is_err());
        assert_eq!(
            add_delete_policy("t", "7d").expect("ok"),
            "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '7d' TENANT = `t`"
        );
        assert!(add_delete_policy("t", "7d' TENANT = x").is_err());
        assert_eq!(
            delete_backup("t", &DeleteTarget::BackupSets(vec![3, 4])).expect("ok"),
            "ALTER SYSTEM DELETE BACKUPSET 3, 4 TENANT = `t`"
        );
        assert_eq!(
            delete_backup("t", &DeleteTarget::ArchivelogPieces(vec![1])).expect("ok"),
            "ALTER SYSTEM DELETE ARCHIVELOG_PIECE 1 TENANT = `t`"
        );
        assert_eq!(
            delete_backup("t", &DeleteTarget::Obsolete).expect("ok"),
            "ALTER SYSTEM DELETE OBSOLETE BACKUP TENANT = `t`"
        );
        assert!(delete_backup("t", &DeleteTarget::BackupSets(vec![0])).is_err());
        assert!(delete_backup("t", &DeleteTarget::BackupSets((1..=33).collect())).is_err());
        assert_eq!(
            create_unit("u1", 2.0, "4G", Some("12G")).expect("ok"),
            "CREATE RESOURCE UNIT IF NOT EXISTS `u1` MAX_CPU = 2, MEMORY_SIZE = '4G', LOG_DISK_SIZE = '12G'"
        );
        assert!(create_unit("u1", 2.0, "4G'; DROP", None).is_err());
        assert_eq!(
            create_pool("p1", "u1", 1, &["z1".into(), "z2".into()]).expect("ok"),
            "CREATE RESOURCE POOL IF NOT EXISTS `p1` UNIT = 'u1', UNIT_NUM = 1, ZONE_LIST = ('z1', 'z2')"
        );
        assert!(create_pool("p1", "u1", 1, &["z'1".into()]).is_err());
        let at = jiff::Timestamp::from_second(1_763_600_000).expect("time");
        assert_eq!(
            restore(
                "r1",
                &["file:///d".into(), "file:///a".into()],
                RestoreUntil::Time(at),
                &[("pool_list", "p1"), ("primary_zone", "z1")],
                "uid-0",
            )
            .expect("ok"),
            "ALTER SYSTEM RESTORE `r1` FROM 'file:///d,file:///a' UNTIL TIME = '2025-11-20 00:53:20.000000' \
             WITH 'pool_list=p1&primary_zone=z1' DESCRIPTION = 'uid-0'"
        );
        assert!(
            restore(
                "r1",
                &["file:///d".into()],
                RestoreUntil::Latest,
                &[("locality", "F@z1&x=y")],
                "u"
            )
            .is_err()
        );
        assert_eq!(
            cancel_delete("t").expect("ok"),
            "ALTER SYSTEM CANCEL DELETE BACKUP TENANT = `t`"
        );
    }

    #[test]
    fn keys_are_spliced_and_checked() {
        let keys = AccessKeys {
            access_id: "AK".into(),
            access_key: "SK/+1".into(),
        };
        assert_eq!(
            uri_with_keys("oss://b/p?host=h", Some(&keys)).expect("ok"),
            "oss://b/p?host=h&access_id=AK&access_key=SK/+1"
        );
        let bad = AccessKeys {
            access_id: "AK".into(),
            access_key: "x&host=evil".into(),
        };
        assert!(uri_with_keys("oss://b/p?host=h", Some(&bad)).is_err());
        assert_eq!(format!("{keys:?}"), "AccessKeys(<redacted>)");
    }
}
