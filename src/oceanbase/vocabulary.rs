//! OceanBase's state strings, parsed once where rows are read: the decisions compare enums, never
//! text. Each type keeps a value it does not know as `Other` with the text OceanBase sent (shown as
//! is), and accepts every spelling OceanBase uses across 4.x releases
//! (docs/reference/oceanbase-interface.md §0.2). Parsing ignores ASCII case.

use strum::{Display, EnumString};

/// A state string's type: parsing never fails, what is unknown is `Other` with the text as sent.
pub trait State: Sized {
    /// `text` parsed.
    fn of(text: &str) -> Self;
}

/// Implements [`State`] and a default of `Other("")` (a row without the value).
macro_rules! from_text {
    ($($name:ident),* $(,)?) => {$(
        impl State for $name {
            fn of(text: &str) -> Self {
                text.trim().parse().unwrap_or_else(|_| Self::Other(text.to_string()))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::Other(String::new())
            }
        }
    )*};
}

/// A backup or delete job's `STATUS` (`ObBackupStatus`, `ObBackupCleanStatus`;
/// docs/reference/oceanbase-interface.md §4.6, §5.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum JobStatus {
    Init,
    Doing,
    Completed,
    Failed,
    Canceling,
    Canceled,
    #[strum(default)]
    Other(String),
}

impl JobStatus {
    /// Whether the job has ended (docs/reference/oceanbase-interface.md §4.6).
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled)
    }
}

/// An archive round's `STATUS` (`OB_ARCHIVE_ROUND_STATE_STR`, docs/reference/oceanbase-interface.md
/// §3.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum RoundStatus {
    Prepare,
    Beginning,
    Doing,
    Interrupted,
    Stopping,
    Stop,
    Suspending,
    Suspend,
    #[strum(default)]
    Other(String),
}

impl RoundStatus {
    /// Whether the round is on its way up or archiving (not stopping, stopped, suspended or interrupted).
    pub fn is_starting_or_doing(&self) -> bool {
        matches!(self, Self::Prepare | Self::Beginning | Self::Doing)
    }

    /// Whether the round is suspended or on its way there (its destination was set to `DEFER`).
    pub fn is_suspended(&self) -> bool {
        matches!(self, Self::Suspending | Self::Suspend)
    }

    /// Whether the round is stopped or on its way there.
    pub fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopping | Self::Stop)
    }
}

/// `LOG_ARCHIVE_DEST_STATE` (docs/reference/oceanbase-interface.md §2.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum DestState {
    Enable,
    Defer,
    #[strum(default)]
    Other(String),
}

/// A log archive destination's `BINDING` (docs/reference/oceanbase-interface.md §2.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum Binding {
    /// Archiving may fall behind the log rather than block transactions.
    Optional,
    /// Transactions wait for archiving.
    Mandatory,
    #[strum(default)]
    Other(String),
}

/// A tenant's `STATUS` in `DBA_OB_TENANTS` (docs/reference/oceanbase-interface.md §1.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum TenantStatus {
    Normal,
    /// A physical restore is in progress.
    Restore,
    Creating,
    Dropping,
    #[strum(default)]
    Other(String),
}

/// A tenant's `TENANT_ROLE` (docs/reference/oceanbase-interface.md §1.4, §6.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum TenantRole {
    Primary,
    Standby,
    /// During a restore (spelling unconfirmed, docs/reference/oceanbase-interface.md §1.4).
    Restore,
    #[strum(default)]
    Other(String),
}

/// A job's or set's `BACKUP_TYPE` (docs/reference/oceanbase-interface.md §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum BackupType {
    Full,
    /// Incremental.
    Inc,
    #[strum(default)]
    Other(String),
}

/// A backup set's `STATUS` (docs/reference/oceanbase-interface.md §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum SetStatus {
    Doing,
    Success,
    Failed,
    #[strum(default)]
    Other(String),
}

/// A set's or piece's `FILE_STATUS` (`PIECE_FILE_STATUS_STRS`,
/// docs/reference/oceanbase-interface.md §4.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum FileStatus {
    /// The only state usable for a restore.
    Available,
    Copying,
    Incomplete,
    Deleting,
    Expired,
    Broken,
    Deleted,
    #[strum(default)]
    Other(String),
}

impl FileStatus {
    /// Whether the files are gone or going.
    pub fn is_deleted_or_deleting(&self) -> bool {
        matches!(self, Self::Deleting | Self::Deleted)
    }
}

/// An archive piece's `STATUS` (docs/reference/oceanbase-interface.md §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "UPPERCASE")]
pub enum PieceStatus {
    Active,
    Freezing,
    Frozen,
    Inactive,
    #[strum(default)]
    Other(String),
}

/// A delete job's `TYPE`, in both spellings (docs/reference/oceanbase-interface.md §5.3: older 4.x
/// `DELETE BACKUP SET` / `DELETE BACKUP PIECE`, newest `DELETE BACKUPSET` / `DELETE
/// ARCHIVELOG_PIECE`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive)]
pub enum CleanJobType {
    /// Started by the delete policy, or `DELETE OBSOLETE BACKUP`.
    #[strum(serialize = "DELETE OBSOLETE BACKUP")]
    DeleteObsolete,
    #[strum(to_string = "DELETE BACKUPSET", serialize = "DELETE BACKUP SET")]
    DeleteBackupSet,
    #[strum(
        to_string = "DELETE ARCHIVELOG_PIECE",
        serialize = "DELETE BACKUP PIECE"
    )]
    DeleteArchivelogPiece,
    #[strum(default)]
    Other(String),
}

/// A restore's `STATUS` as the sys tenant sees it (docs/reference/oceanbase-interface.md §6.3): the
/// progress view's values, and the history's `SUCCESS` / `FAIL`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EnumString, Display)]
#[strum(ascii_case_insensitive, serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RestoreStatus {
    CreateTenant,
    Restoring,
    Upgrade,
    WaitTenantRestoreFinish,
    RestoreSuccess,
    RestoreFail,
    /// The history's spelling of a success.
    Success,
    /// The history's spelling of a failure.
    Fail,
    #[strum(default)]
    Other(String),
}

impl RestoreStatus {
    /// Whether the restore succeeded (in either view's spelling).
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::RestoreSuccess | Self::Success)
    }

    /// Whether the restore failed (in either view's spelling).
    pub fn failed(&self) -> bool {
        matches!(self, Self::RestoreFail | Self::Fail)
    }
}

from_text!(
    JobStatus,
    RoundStatus,
    DestState,
    Binding,
    TenantStatus,
    TenantRole,
    BackupType,
    SetStatus,
    FileStatus,
    PieceStatus,
    CleanJobType,
    RestoreStatus,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_and_shows_as_oceanbase_spells_it() {
        assert_eq!(JobStatus::of("CANCELING"), JobStatus::Canceling);
        assert_eq!(JobStatus::of("canceled").to_string(), "CANCELED");
        assert_eq!(
            RestoreStatus::of("WAIT_TENANT_RESTORE_FINISH"),
            RestoreStatus::WaitTenantRestoreFinish
        );
        assert_eq!(
            RestoreStatus::WaitTenantRestoreFinish.to_string(),
            "WAIT_TENANT_RESTORE_FINISH"
        );
        for (older, newest) in [
            ("DELETE BACKUP SET", "DELETE BACKUPSET"),
            ("DELETE BACKUP PIECE", "DELETE ARCHIVELOG_PIECE"),
        ] {
            assert_eq!(CleanJobType::of(older), CleanJobType::of(newest));
            assert_eq!(CleanJobType::of(older).to_string(), newest);
        }
        assert_eq!(
            CleanJobType::of("DELETE OBSOLETE BACKUP"),
            CleanJobType::DeleteObsolete
        );
    }

    #[test]
    fn an_unknown_value_is_kept_as_sent() {
        let phase = JobStatus::of("BACKUP_DATA_MINOR");
        assert_eq!(phase, JobStatus::Other("BACKUP_DATA_MINOR".into()));
        assert_eq!(phase.to_string(), "BACKUP_DATA_MINOR");
        assert!(!phase.is_final());
        assert_eq!(TenantRole::default().to_string(), "");
        assert_eq!(
            CleanJobType::of("DELETE BACKUP ALL"),
            CleanJobType::Other("DELETE BACKUP ALL".into())
        );
    }
}
