//! A tenant's line in a strategy's overview (the console's cluster Backup & Recovery page, SPEC §2.2): last
//! data and full backup, log checkpoint and delay, recoverable windows (reference §8) and backup sizes — a
//! pure function of one snapshot, for the strategy controller.

use jiff::Timestamp;

use super::conditions::api_time;
use crate::{
    api::{backup_strategy::TenantBackupStatus, common::TimeWindow},
    observer::scn_time,
    oceanbase::{BackupType, FileStatus, RoundStatus, Snapshot, TenantRow},
    windows::{LogRange, SetFile, windows},
};

/// The strategy's destinations (URIs without access keys): only backups under them count.
#[derive(Clone, Copy, Debug)]
pub struct Destinations<'a> {
    pub data: &'a str,
    pub log: &'a str,
}

/// Whether an OceanBase file path lies under a destination URI (its query, if any, left aside).
pub fn lies_under(path: &str, uri: &str) -> bool {
    let root = |u: &str| {
        u.split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string()
    };
    let (path, root) = (root(path), root(uri));
    path == root
        || path
            .strip_prefix(&root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The overview of `tenant` in `snapshot` at `now`, from the backups at `destinations` only: a window is
/// never built on a backup somebody else took elsewhere (it could not be restored from the strategy's).
pub fn tenant_overview(
    snapshot: &Snapshot,
    tenant: &TenantRow,
    destinations: Destinations<'_>,
    now: Timestamp,
) -> TenantBackupStatus {
    let sets: Vec<_> = snapshot
        .sets
        .iter()
        .filter(|s| s.tenant_id == tenant.id && lies_under(&s.path, destinations.data))
        .collect();
    let pieces: Vec<_> = snapshot
        .pieces
        .iter()
        .filter(|p| p.tenant_id == tenant.id && lies_under(&p.path, destinations.log))
        .collect();
    let last_end = |full_only: bool| {
        sets.iter()
            .filter(|s| s.usable() && (!full_only || s.backup_type == BackupType::Full))
            .filter_map(|s| s.end)
            .max()
            .map(api_time)
    };
    let round = snapshot
        .round(tenant.id)
        .filter(|r| r.status != RoundStatus::Stop && r.checkpoint_scn > 0);
    let checkpoint = round.map(|r| scn_time(r.checkpoint_scn));
    let set_files: Vec<SetFile> = sets
        .iter()
        .map(|s| SetFile {
            id: s.backup_set_id,
            incremental: s.backup_type == BackupType::Inc,
            prev_full: s.prev_full_backup_set_id,
            prev_inc: s.prev_inc_backup_set_id,
            start_replay_scn: s.start_replay_scn,
            min_restore_scn: s.min_restore_scn,
            usable: s.usable(),
        })
        .collect();
    let logs: Vec<LogRange> = pieces
        .iter()
        .filter(|p| p.file_status == FileStatus::Available)
        .map(|p| LogRange {
            start_scn: p.start_scn,
            checkpoint_scn: p.checkpoint_scn,
        })
        .collect();
    let kept = |file_status: &FileStatus| *file_status != FileStatus::Deleted;
    TenantBackupStatus {
        name: tenant.name.clone(),
        last_data_backup_time: last_end(false),
        last_full_backup_time: last_end(true),
        log_checkpoint_time: checkpoint.map(api_time),
        log_delay_seconds: round
            .and_then(|r| crate::observer::archive_lag(r, now))
            .map(|lag| lag.as_secs()),
        recoverable_windows: windows(&set_files, &logs)
            .into_iter()
            .map(|w| TimeWindow {
                from: api_time(scn_time(w.from_scn)),
                to: api_time(scn_time(w.to_scn)),
            })
            .collect(),
        data_backup_bytes: Some(
            sets.iter()
                .filter(|s| kept(&s.file_status))
                .map(|s| s.output_bytes)
                .sum(),
        ),
        log_backup_bytes: Some(
            pieces
                .iter()
                .filter(|p| kept(&p.file_status))
                .map(|p| p.output_bytes)
                .sum(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;
    use crate::oceanbase::{ArchiveRound, BackupSetRow, PieceRow};

    const S: u64 = 1_000_000_000;
    const BASE: u64 = 1_800_000_000 * S;

    fn set(
        id: i64,
        kind: &str,
        status: &str,
        file_status: &str,
        end: i64,
        replay: u64,
        restore: u64,
    ) -> BackupSetRow {
        BackupSetRow {
            tenant_id: 1002,
            backup_set_id: id,
            backup_type: State::of(kind),
            status: State::of(status),
            file_status: State::of(file_status),
            input_bytes: 100,
            output_bytes: 40,
            end: Some(Timestamp::from_second(end).expect("time")),
            path: format!("file:///data/backup_set_{id}"),
            prev_full_backup_set_id: if kind == "INC" { 1 } else { 0 },
            prev_inc_backup_set_id: if kind == "INC" { 1 } else { 0 },
            start_replay_scn: BASE + replay * S,
            min_restore_scn: BASE + restore * S,
        }
    }

    fn piece(id: i64, start: u64, checkpoint: u64, file_status: &str) -> PieceRow {
        PieceRow {
            tenant_id: 1002,
            round_id: 1,
            piece_id: id,
            status: State::of("FROZEN"),
            start_scn: BASE + start * S,
            checkpoint_scn: BASE + checkpoint * S,
            file_status: State::of(file_status),
            input_bytes: 10,
            output_bytes: 5,
            path: format!("file:///archive/piece_d1r1p{id}"),
        }
    }

    const OWN: Destinations<'static> = Destinations {
        data: "file:///data",
        log: "file:///archive?binding=optional",
    };

    #[test]
    fn the_overview_reads_backups_log_windows_and_sizes() {
        let tenant = TenantRow {
            id: 1002,
            name: "tenant1".into(),
            status: State::of("NORMAL"),
            role: State::of("PRIMARY"),
            archivelog: true,
        };
        let snapshot = Snapshot {
            tenants: vec![tenant.clone()],
            rounds: vec![ArchiveRound {
                tenant_id: 1002,
                round_id: 1,
                status: State::of("DOING"),
                start_scn: BASE,
                checkpoint_scn: BASE + 900 * S,
                path: String::new(),
                comment: String::new(),
            }],
            sets: vec![
                set(1, "FULL", "SUCCESS", "AVAILABLE", 1_800_000_200, 100, 200),
                set(2, "INC", "SUCCESS", "AVAILABLE", 1_800_000_500, 400, 500),
                set(3, "FULL", "FAILED", "INCOMPLETE", 1_800_000_700, 600, 0),
            ],
            pieces: vec![
                piece(1, 0, 300, "AVAILABLE"),
                piece(2, 300, 600, "AVAILABLE"),
                piece(3, 600, 900, "AVAILABLE"),
            ],
            ..Snapshot::default()
        };
        let now = Timestamp::from_second(1_800_000_905).expect("time");
        let overview = tenant_overview(&snapshot, &tenant, OWN, now);
        // A newer backup someone else took at another destination changes nothing (issue 13, defect 2:
        // a window built on it would pass a restore pre-flight that OceanBase then refuses).
        let mut foreign = snapshot.clone();
        let mut elsewhere = set(9, "FULL", "SUCCESS", "AVAILABLE", 1_800_000_800, 750, 800);
        elsewhere.path = "file:///data2/backup_set_9".into();
        foreign.sets.push(elsewhere);
        let mut piece_elsewhere = piece(9, 900, 1000, "AVAILABLE");
        piece_elsewhere.path = "file:///archive2/piece".into();
        foreign.pieces.push(piece_elsewhere);
        assert_eq!(tenant_overview(&foreign, &tenant, OWN, now), overview);
        assert_eq!(
            overview.last_data_backup_time.map(|t| t.0.as_second()),
            Some(1_800_000_500)
        );
        assert_eq!(
            overview.last_full_backup_time.map(|t| t.0.as_second()),
            Some(1_800_000_200)
        );
        assert_eq!(
            overview.log_checkpoint_time.map(|t| t.0.as_second()),
            Some(1_800_000_900)
        );
        assert_eq!(overview.log_delay_seconds, Some(5));
        let windows: Vec<(i64, i64)> = overview
            .recoverable_windows
            .iter()
            .map(|w| (w.from.0.as_second(), w.to.0.as_second()))
            .collect();
        assert_eq!(
            windows,
            [(1_800_000_200, 1_800_000_900)],
            "the failed set adds nothing"
        );
        assert_eq!(
            (overview.data_backup_bytes, overview.log_backup_bytes),
            (Some(120), Some(15))
        );
    }
}
