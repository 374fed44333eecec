//! A tenant's line in a strategy's overview (the console's cluster Backup & Recovery page,
//! docs/contributing/design.md §2.2): last data and full backup, log checkpoint and delay,
//! recoverable windows (docs/reference/oceanbase-interface.md §8) and backup sizes — a pure
//! function of one snapshot, for the strategy controller.

use jiff::Timestamp;

use super::conditions::api_time;
use crate::{
    api::{
        backup_strategy::{BackupMethod, TenantBackupState, TenantBackupStatus},
        common::TimeWindow,
    },
    oceanbase::scn_time,
    oceanbase::{BackupSetRow, BackupType, FileStatus, PieceRow, RoundStatus, Snapshot, TenantRow},
    windows::{LogRange, SetFile, Window, windows},
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
    let set_files: Vec<SetFile> = sets.iter().map(|s| set_file(s, s.usable())).collect();
    let logs: Vec<LogRange> = pieces
        .iter()
        .filter_map(|p| log_range(p, u64::MAX))
        .collect();
    let kept = |file_status: &FileStatus| *file_status != FileStatus::Deleted;
    let archiving = round.is_some_and(|r| r.status == RoundStatus::Doing);
    TenantBackupStatus {
        name: tenant.name.clone(),
        status: Some(if archiving {
            TenantBackupState::InProgress
        } else {
            TenantBackupState::PendingBackupScheduling
        }),
        method: Some(BackupMethod::Physical),
        last_data_backup_time: last_end(false),
        last_full_backup_time: last_end(true),
        log_checkpoint_time: checkpoint.map(api_time),
        log_delay_seconds: round
            .and_then(|r| crate::observer::archive_lag(r, now))
            .map(|lag| lag.as_secs()),
        recoverable_windows: time_windows(&set_files, &logs),
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

/// The windows a restore from the strategy's second copy can reach for `tenant`: only the sets `on_copy`
/// says are whole there, and the logs up to `log_until_scn` (the copy's checkpoint; none: no log copied).
/// With the bytes of those sets, as OceanBase reports them.
pub fn second_copy_windows(
    snapshot: &Snapshot,
    tenant: &TenantRow,
    destinations: Destinations<'_>,
    on_copy: impl Fn(&BackupSetRow) -> bool,
    log_until_scn: Option<u64>,
) -> (Vec<TimeWindow>, i64) {
    let sets: Vec<(&BackupSetRow, bool)> = snapshot
        .sets
        .iter()
        .filter(|s| s.tenant_id == tenant.id && lies_under(&s.path, destinations.data))
        .map(|s| (s, s.usable() && on_copy(s)))
        .collect();
    let logs: Vec<LogRange> = log_until_scn
        .map(|until| {
            snapshot
                .pieces
                .iter()
                .filter(|p| p.tenant_id == tenant.id && lies_under(&p.path, destinations.log))
                .filter_map(|p| log_range(p, until))
                .collect()
        })
        .unwrap_or_default();
    let set_files: Vec<SetFile> = sets
        .iter()
        .map(|(s, copied)| set_file(s, *copied))
        .collect();
    let bytes = sets
        .iter()
        .filter(|(_, copied)| *copied)
        .map(|(s, _)| s.output_bytes)
        .sum();
    (time_windows(&set_files, &logs), bytes)
}

fn set_file(set: &BackupSetRow, usable: bool) -> SetFile {
    SetFile {
        id: set.backup_set_id,
        incremental: set.backup_type == BackupType::Inc,
        prev_full: set.prev_full_backup_set_id,
        prev_inc: set.prev_inc_backup_set_id,
        start_replay_scn: set.start_replay_scn,
        min_restore_scn: set.min_restore_scn,
        usable,
    }
}

/// The log an available piece holds, up to `until_scn`; none when it holds nothing before it.
fn log_range(piece: &PieceRow, until_scn: u64) -> Option<LogRange> {
    (piece.file_status == FileStatus::Available && piece.start_scn < until_scn).then(|| LogRange {
        start_scn: piece.start_scn,
        checkpoint_scn: piece.checkpoint_scn.min(until_scn),
    })
}

/// The windows in whole seconds: a time the status shows can always be restored to (its `from` is not
/// before the set's restore point).
fn time_windows(sets: &[SetFile], logs: &[LogRange]) -> Vec<TimeWindow> {
    windows(sets, logs)
        .into_iter()
        .filter_map(Window::whole_seconds)
        .map(|w| TimeWindow {
            from: api_time(scn_time(w.from_scn)),
            to: api_time(scn_time(w.to_scn)),
        })
        .collect()
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
            data_version: "4.2.5.0".into(),
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

    /// Tenant 1002 archiving up to +900 s in three pieces, with a full set (+200), an incremental on it
    /// (+500) and a failed full.
    fn sample() -> (TenantRow, Snapshot) {
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
        (tenant, snapshot)
    }

    fn seconds(windows: &[TimeWindow]) -> Vec<(i64, i64)> {
        windows
            .iter()
            .map(|w| (w.from.0.as_second(), w.to.0.as_second()))
            .collect()
    }

    #[test]
    fn the_second_copys_windows_stand_on_the_copied_sets_and_the_copied_log_only() {
        let (tenant, snapshot) = sample();
        let copied = |ids: &'static [i64]| move |s: &BackupSetRow| ids.contains(&s.backup_set_id);
        let log_until = |seconds: u64| Some(BASE + seconds * S);
        let windows = |ids, log| {
            let (windows, bytes) = second_copy_windows(&snapshot, &tenant, OWN, copied(ids), log);
            (seconds(&windows), bytes)
        };
        // The full set copied, the log up to +450: restorable from the full set's end to +450.
        assert_eq!(
            windows(&[1], log_until(450)),
            (vec![(1_800_000_200, 1_800_000_450)], 40)
        );
        // Only the incremental copied: it cannot be restored without its full set.
        assert_eq!(windows(&[2], log_until(900)), (vec![], 40));
        // No log copied yet: a set alone is no window.
        assert_eq!(windows(&[1, 2], None), (vec![], 80));
        // The failed set never counts, copied or not; the copy never reaches past its own checkpoint.
        assert_eq!(
            windows(&[1, 2, 3], log_until(900)),
            (vec![(1_800_000_200, 1_800_000_900)], 80)
        );
        assert_eq!(
            windows(&[1, 2], log_until(50)),
            (vec![], 80),
            "the log stops before the set"
        );
    }

    /// A restore point inside a second: the window shown starts at the next whole second (restoring to a
    /// time shown must never be refused for being before it), and shows only once the log reaches it.
    #[test]
    fn a_window_starts_at_the_first_whole_second_a_restore_can_reach() {
        let (tenant, mut snapshot) = sample();
        snapshot.sets.truncate(1);
        snapshot.sets[0].min_restore_scn += 400_000_000;
        let now = Timestamp::from_second(1_800_000_905).expect("time");
        let shown = |snapshot: &Snapshot| {
            seconds(&tenant_overview(snapshot, &tenant, OWN, now).recoverable_windows)
        };
        assert_eq!(shown(&snapshot), vec![(1_800_000_201, 1_800_000_900)]);
        snapshot.rounds[0].checkpoint_scn = BASE + 200 * S + 900_000_000;
        snapshot.pieces.truncate(1);
        snapshot.pieces[0].checkpoint_scn = BASE + 200 * S + 900_000_000;
        assert_eq!(shown(&snapshot), vec![], "no whole second to show yet");
    }

    #[test]
    fn the_overview_reads_backups_log_windows_and_sizes() {
        let (tenant, snapshot) = sample();
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
        assert_eq!(
            seconds(&overview.recoverable_windows),
            [(1_800_000_200, 1_800_000_900)],
            "the failed set adds nothing"
        );
        assert_eq!(
            (overview.data_backup_bytes, overview.log_backup_bytes),
            (Some(120), Some(15))
        );
    }
}
