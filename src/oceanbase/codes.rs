//! The error numbers the operator acts on, named, with where docs/reference/oceanbase-interface.md
//! describes them (§12 lists them all). A client sees OceanBase's own errors under their number
//! without the sign (`ObError::Server::code`); a job's `RESULT` column keeps the sign (`-9082`).
//! Only this module spells a number.

/// `OB_NOT_SUPPORTED` (MySQL 1235): e.g. a manual clean before 4.4.1 (§5.2), a destination change while
/// archiving runs (§2.2).
pub const NOT_SUPPORTED: u16 = 1235;
/// `OB_RESTORE_IN_PROGRESS`: another restore runs (§6.2).
pub const RESTORE_IN_PROGRESS: u16 = 9014;
/// `OB_BACKUP_IN_PROGRESS`: the tenant already backs up (§4.2).
pub const BACKUP_IN_PROGRESS: u16 = 9036;
/// `OB_BACKUP_CAN_NOT_START`: e.g. archiving is not running yet (§4.2).
pub const BACKUP_CAN_NOT_START: u16 = 9040;
/// `OB_BACKUP_DELETE_DATA_IN_PROGRESS`: a clean runs (§4.2, §5.4).
pub const BACKUP_DELETE_DATA_IN_PROGRESS: u16 = 9044;
/// `OB_BACKUP_DEST_NOT_CONNECT`: the destination cannot be reached right now (§4.2).
pub const BACKUP_DEST_NOT_CONNECT: u16 = 9070;
/// `OB_ALREADY_IN_ARCHIVE_MODE`: `ALTER SYSTEM ARCHIVELOG` on an archiving tenant (§3.1).
pub const ALREADY_IN_ARCHIVE_MODE: u16 = 9091;
/// `OB_ALREADY_IN_NOARCHIVE_MODE`: `ALTER SYSTEM NOARCHIVELOG` on a tenant that does not archive (§3.1).
pub const ALREADY_IN_NOARCHIVE_MODE: u16 = 9092;

/// Refusals of `BACKUP` that pass by themselves: another backup or a clean runs, archiving is not up yet,
/// the destination is unreachable for a moment.
pub const BACKUP_REFUSED_FOR_NOW: &[u16] = &[
    BACKUP_IN_PROGRESS,
    BACKUP_CAN_NOT_START,
    BACKUP_DELETE_DATA_IN_PROGRESS,
    BACKUP_DEST_NOT_CONNECT,
];
/// Refusals of a manual clean that pass by themselves: another clean runs.
pub const DELETE_REFUSED_FOR_NOW: &[u16] = &[BACKUP_DELETE_DATA_IN_PROGRESS];
/// Refusals of `RESTORE` that pass by themselves: another restore runs.
pub const RESTORE_REFUSED_FOR_NOW: &[u16] = &[RESTORE_IN_PROGRESS];

/// Whether an archive mode switch was refused because the tenant is already where it was asked to go:
/// the statement's effect holds, so it counts as done.
pub fn already_in_mode(code: u16) -> bool {
    matches!(code, ALREADY_IN_ARCHIVE_MODE | ALREADY_IN_NOARCHIVE_MODE)
}
