//! Destinations and log archiving of one tenant: `DATA_BACKUP_DEST`, `LOG_ARCHIVE_DEST[_STATE]`,
//! `ARCHIVELOG` / `NOARCHIVELOG`, and archive rounds moving through their states with the clock
//! (docs/reference/oceanbase-interface.md §2.1, §2.2, §3.1, §3.2).

use jiff::{SignedDuration, Timestamp};

use crate::error::SqlError;

/// How long the simulated server takes for each transitional round state.
const STEP: SignedDuration = SignedDuration::from_secs(2);
/// How far the archive checkpoint trails the current time while archiving runs.
const ARCHIVE_LAG: SignedDuration = SignedDuration::from_secs(1);
/// Archived log bytes per simulated second (input), and the compressed output share.
const LOG_BYTES_PER_SECOND: u64 = 256 * 1024;

/// Round STATUS strings (docs/reference/oceanbase-interface.md §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundStatus {
    Prepare,
    Beginning,
    Doing,
    Interrupted,
    Stopping,
    Stop,
    Suspending,
    Suspend,
}

impl RoundStatus {
    /// The view's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RoundStatus::Prepare => "PREPARE",
            RoundStatus::Beginning => "BEGINNING",
            RoundStatus::Doing => "DOING",
            RoundStatus::Interrupted => "INTERRUPTED",
            RoundStatus::Stopping => "STOPPING",
            RoundStatus::Stop => "STOP",
            RoundStatus::Suspending => "SUSPENDING",
            RoundStatus::Suspend => "SUSPEND",
        }
    }
}

/// A configured `LOG_ARCHIVE_DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveDest {
    /// `LOCATION` (credentials included, as the tenant stored it).
    pub path: String,
    /// `OPTIONAL` or `MANDATORY`.
    pub binding: String,
    /// As given, e.g. `1d`.
    pub piece_switch_interval: String,
    /// Id of the storage destination.
    pub dest_id: i64,
}

/// One archive round.
#[derive(Clone, Debug)]
pub struct Round {
    pub round_id: i64,
    pub dest_id: i64,
    pub status: RoundStatus,
    /// When the round entered its status.
    pub since: Timestamp,
    pub start_scn: u64,
    pub checkpoint_scn: u64,
    pub base_piece_id: i64,
    pub used_piece_id: i64,
    pub piece_switch_interval_us: i64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub comment: String,
    pub path: String,
}

/// A tenant's backup destinations and archive state.
#[derive(Clone, Debug)]
pub struct TenantArchive {
    /// `DATA_BACKUP_DEST`, when set.
    pub data_backup_dest: Option<String>,
    /// `LOG_ARCHIVE_DEST`, when set.
    pub dest: Option<ArchiveDest>,
    /// `LOG_ARCHIVE_DEST_STATE`: `ENABLE` (true) or `DEFER`.
    pub dest_enabled: bool,
    /// LOG_MODE is ARCHIVELOG.
    pub log_mode_archive: bool,
    /// The current (non-history) round.
    pub round: Option<Round>,
    /// Finished rounds, STATUS `STOP`.
    pub history: Vec<Round>,
    /// Pieces with a lower id are deleted (pieces are deleted oldest first,
    /// docs/reference/oceanbase-interface.md §5.2).
    pub deleted_below_piece: i64,
    /// Pieces a running delete job is removing.
    pub deleting_pieces: Vec<i64>,
    /// Pieces whose files vanished from the destination (the `lose-archive-piece` fault) while the views
    /// still list them as they were: OceanBase notices only when it reads one.
    pub lost_pieces: Vec<i64>,
    /// Pieces OceanBase marked `BROKEN` (the `break-archive-piece` fault): listed, no longer usable.
    pub broken_pieces: Vec<i64>,
    /// The `hold-archive` fault: the round stays as it is but its checkpoint does not move (archiving slower
    /// than the log, a slow destination); released, it catches up at once.
    pub checkpoint_held: bool,
    next_dest_id: i64,
}

/// One archive piece (docs/reference/oceanbase-interface.md §3.3 `DBA_OB_ARCHIVELOG_PIECE_FILES`):
/// a piece switch interval of a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub round_id: i64,
    pub piece_id: i64,
    pub dest_id: i64,
    /// `ACTIVE` while written, `FROZEN` after.
    pub status: &'static str,
    pub start_scn: u64,
    pub checkpoint_scn: u64,
    /// Theoretical end: start + switch interval.
    pub end_scn: u64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// `AVAILABLE`, `BROKEN`, `DELETING` or `DELETED` (§4.5).
    pub file_status: &'static str,
    pub path: String,
}

impl Default for TenantArchive {
    fn default() -> Self {
        Self {
            data_backup_dest: None,
            dest: None,
            dest_enabled: true,
            log_mode_archive: false,
            round: None,
            history: Vec::new(),
            deleted_below_piece: 0,
            deleting_pieces: Vec::new(),
            lost_pieces: Vec::new(),
            broken_pieces: Vec::new(),
            checkpoint_held: false,
            next_dest_id: 1001,
        }
    }
}

/// The largest SCN, OceanBase's `SCN::max_scn()` (2^62 − 1): what views show where an SCN means "no
/// limit", e.g. `DBA_OB_TENANTS.RECOVERY_UNTIL_SCN` of a tenant that is not recovering to a point.
pub const MAX_SCN: u64 = (1 << 62) - 1;

/// An SCN for a time: nanoseconds since the epoch (docs/reference/oceanbase-interface.md §0.3).
pub fn scn(t: Timestamp) -> u64 {
    u64::try_from(t.as_nanosecond()).unwrap_or_default()
}

/// Parses an OceanBase duration such as `1d`, `36h`, `30m`, `90s` into microseconds.
pub fn duration_us(text: &str) -> Option<i64> {
    let text = text.trim().to_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_us = match unit {
        "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    number.checked_mul(unit_us)
}

impl TenantArchive {
    /// `ALTER SYSTEM SET DATA_BACKUP_DEST = '…'` (docs/reference/oceanbase-interface.md §2.1).
    /// `job_exists`: the tenant has a backup job.
    pub fn set_data_backup_dest(&mut self, value: &str, job_exists: bool) -> Result<(), SqlError> {
        if job_exists {
            return Err(SqlError::oceanbase(9036, "Backup is in progress"));
        }
        self.data_backup_dest = (!value.is_empty()).then(|| value.to_string());
        Ok(())
    }

    /// `ALTER SYSTEM SET LOG_ARCHIVE_DEST = 'LOCATION=… [BINDING=…] [PIECE_SWITCH_INTERVAL=…]'` (§2.2).
    pub fn set_log_archive_dest(&mut self, value: &str) -> Result<(), SqlError> {
        if self.round.is_some() {
            return Err(SqlError::not_supported(
                "change archive dest when archive is running is",
            ));
        }
        if value.trim().is_empty() {
            self.dest = None;
            return Ok(());
        }
        let (mut location, mut binding, mut interval) =
            (None, "OPTIONAL".to_string(), "1d".to_string());
        for attribute in value.split_whitespace() {
            let Some((key, val)) = attribute.split_once('=') else {
                return Err(SqlError::oceanbase(
                    1235,
                    "Not supported feature or function",
                ));
            };
            if val.is_empty() {
                return Err(SqlError::oceanbase(1210, "Invalid argument"));
            }
            match key.to_uppercase().as_str() {
                "LOCATION" => location = Some(val.to_string()),
                "BINDING" => {
                    let upper = val.to_uppercase();
                    if upper != "OPTIONAL" && upper != "MANDATORY" {
                        return Err(SqlError::oceanbase(1210, "Invalid argument"));
                    }
                    binding = upper;
                }
                "PIECE_SWITCH_INTERVAL" => {
                    let us = duration_us(val)
                        .ok_or_else(|| SqlError::oceanbase(1210, "Invalid argument"))?;
                    if !(86_400_000_000..=7 * 86_400_000_000).contains(&us) {
                        return Err(SqlError::not_supported(
                            "invalid piece_switch_interval out of range [1d,7d] is",
                        ));
                    }
                    interval = val.to_string();
                }
                _ => {
                    return Err(SqlError::oceanbase(
                        1235,
                        "Not supported feature or function",
                    ));
                }
            }
        }
        let Some(path) = location else {
            return Err(SqlError::not_supported(
                "set archive dest without location is",
            ));
        };
        let dest_id = match &self.dest {
            Some(existing) if existing.path == path => existing.dest_id,
            _ => {
                self.next_dest_id += 1;
                self.next_dest_id - 1
            }
        };
        self.dest = Some(ArchiveDest {
            path,
            binding,
            piece_switch_interval: interval,
            dest_id,
        });
        Ok(())
    }

    /// `ALTER SYSTEM SET LOG_ARCHIVE_DEST_STATE = 'ENABLE' | 'DEFER'` (§2.2, §3.2).
    pub fn set_dest_state(&mut self, value: &str, now: Timestamp) -> Result<(), SqlError> {
        match value.to_uppercase().as_str() {
            "DEFER" => {
                if let Some(round) = &mut self.round {
                    match round.status {
                        RoundStatus::Doing | RoundStatus::Interrupted => {
                            enter(round, RoundStatus::Suspending, now)
                        }
                        RoundStatus::Suspending | RoundStatus::Suspend => {}
                        _ => {
                            return Err(SqlError::oceanbase(
                                1235,
                                "Not supported feature or function",
                            ));
                        }
                    }
                }
                self.dest_enabled = false;
            }
            "ENABLE" => {
                self.dest_enabled = true;
                match &mut self.round {
                    Some(round) if round.status == RoundStatus::Suspend => {
                        enter(round, RoundStatus::Beginning, now)
                    }
                    Some(_) => {}
                    None => self.start_round_if_possible(now),
                }
            }
            _ => return Err(SqlError::oceanbase(1210, "Invalid argument")),
        }
        Ok(())
    }

    /// Whether `ALTER SYSTEM ARCHIVELOG` / `NOARCHIVELOG` may apply to this tenant (§3.1).
    pub fn check_archive_mode(&self, enable: bool, tenant_normal: bool) -> Result<(), SqlError> {
        if enable == self.log_mode_archive {
            return Err(if enable {
                SqlError::oceanbase(9091, "Already in ARCHIVELOG mode")
            } else {
                SqlError::oceanbase(9092, "Already in NOARCHIVELOG mode")
            });
        }
        if !tenant_normal {
            return Err(SqlError::oceanbase(9023, "cannot start log archive backup"));
        }
        Ok(())
    }

    /// `ALTER SYSTEM ARCHIVELOG` / `NOARCHIVELOG` for this tenant (§3.1).
    pub fn set_archive_mode(
        &mut self,
        enable: bool,
        tenant_normal: bool,
        now: Timestamp,
    ) -> Result<(), SqlError> {
        self.check_archive_mode(enable, tenant_normal)?;
        self.log_mode_archive = enable;
        if enable {
            self.start_round_if_possible(now);
        } else if let Some(round) = &mut self.round
            && round.status != RoundStatus::Stopping
        {
            enter(round, RoundStatus::Stopping, now);
        }
        Ok(())
    }

    /// A new round starts when archiving is on, a destination is set and enabled, and none runs.
    fn start_round_if_possible(&mut self, now: Timestamp) {
        let Some(dest) = &self.dest else { return };
        if !self.log_mode_archive || !self.dest_enabled || self.round.is_some() {
            return;
        }
        let last = self.history.last();
        self.round = Some(Round {
            round_id: last.map_or(1, |r| r.round_id + 1),
            dest_id: dest.dest_id,
            status: RoundStatus::Prepare,
            since: now,
            start_scn: 0,
            checkpoint_scn: 0,
            base_piece_id: last.map_or(1, |r| r.used_piece_id + 1),
            used_piece_id: last.map_or(1, |r| r.used_piece_id + 1),
            piece_switch_interval_us: duration_us(&dest.piece_switch_interval)
                .unwrap_or(86_400_000_000),
            input_bytes: 0,
            output_bytes: 0,
            comment: String::new(),
            path: dest.path.clone(),
        });
    }

    /// Moves the round along to `now`.
    pub fn advance(&mut self, now: Timestamp) {
        let Some(round) = &mut self.round else { return };
        loop {
            let elapsed = now.duration_since(round.since);
            let next = match round.status {
                RoundStatus::Prepare if elapsed >= STEP => {
                    round.start_scn = scn(round.since + STEP);
                    round.checkpoint_scn = round.start_scn;
                    Some(RoundStatus::Beginning)
                }
                RoundStatus::Beginning if elapsed >= STEP => Some(RoundStatus::Doing),
                RoundStatus::Suspending if elapsed >= STEP => Some(RoundStatus::Suspend),
                RoundStatus::Stopping if elapsed >= STEP => Some(RoundStatus::Stop),
                _ => None,
            };
            match next {
                Some(status) => {
                    let at = round.since + STEP;
                    enter(round, status, at);
                }
                None => break,
            }
        }
        // The scheduler checkpoints in BEGINNING/DOING/SUSPENDING/STOPPING (§3.2).
        if matches!(
            round.status,
            RoundStatus::Beginning
                | RoundStatus::Doing
                | RoundStatus::Suspending
                | RoundStatus::Stopping
        ) {
            let target = scn(now - ARCHIVE_LAG).max(round.start_scn);
            if target > round.checkpoint_scn && !self.checkpoint_held {
                let seconds = (target - round.checkpoint_scn) / 1_000_000_000;
                round.input_bytes += seconds * LOG_BYTES_PER_SECOND;
                round.output_bytes = round.input_bytes / 2;
                round.checkpoint_scn = target;
            }
            let span_us =
                i64::try_from((round.checkpoint_scn - round.start_scn) / 1_000).unwrap_or(i64::MAX);
            round.used_piece_id =
                round.base_piece_id + span_us / round.piece_switch_interval_us.max(1);
        }
        if round.status == RoundStatus::Stop
            && let Some(finished) = self.round.take()
        {
            self.history.push(finished);
        }
    }
}

impl TenantArchive {
    /// Every piece of every round that has started, oldest first: each covers one piece switch interval
    /// from the round's start. The piece being written is ACTIVE; earlier pieces and every piece of a
    /// stopped round are FROZEN.
    pub fn pieces(&self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for round in self.history.iter().chain(&self.round) {
            if round.start_scn == 0 {
                continue;
            }
            let running = round.status != RoundStatus::Stop;
            let interval = u64::try_from(round.piece_switch_interval_us)
                .unwrap_or(1)
                .max(1)
                * 1_000;
            for (n, piece_id) in (round.base_piece_id..=round.used_piece_id).enumerate() {
                let start = round.start_scn + n as u64 * interval;
                let end = start + interval;
                let checkpoint_scn = round.checkpoint_scn.min(end).max(start);
                // A piece holds the log of the time it covers up to its checkpoint (a frozen piece's
                // bytes never change again).
                let input_bytes = (checkpoint_scn - start) / 1_000_000_000 * LOG_BYTES_PER_SECOND;
                let file_status = if piece_id < self.deleted_below_piece {
                    "DELETED"
                } else if self.deleting_pieces.contains(&piece_id) {
                    "DELETING"
                } else if self.broken_pieces.contains(&piece_id) {
                    "BROKEN"
                } else {
                    "AVAILABLE"
                };
                pieces.push(Piece {
                    round_id: round.round_id,
                    piece_id,
                    dest_id: round.dest_id,
                    status: if running && piece_id == round.used_piece_id {
                        "ACTIVE"
                    } else {
                        "FROZEN"
                    },
                    start_scn: start,
                    checkpoint_scn,
                    end_scn: end,
                    input_bytes,
                    output_bytes: input_bytes / 2,
                    file_status,
                    path: super::under(
                        &round.path,
                        &format!("piece_d{}r{}p{piece_id}", round.dest_id, round.round_id),
                    ),
                });
            }
        }
        pieces
    }
}

impl TenantArchive {
    /// A running round becomes INTERRUPTED with the error in COMMENT (§3.2).
    pub fn interrupt(&mut self, code: i64, message: &str, now: Timestamp) {
        if let Some(round) = &mut self.round
            && matches!(round.status, RoundStatus::Beginning | RoundStatus::Doing)
        {
            round.comment = format!("{code}({message})");
            enter(round, RoundStatus::Interrupted, now);
        }
    }

    /// An interrupted round goes on: DOING again, the checkpoint catching up from where it stopped.
    pub fn resume(&mut self, now: Timestamp) {
        if let Some(round) = &mut self.round
            && round.status == RoundStatus::Interrupted
        {
            round.comment.clear();
            enter(round, RoundStatus::Doing, now);
        }
    }
}

fn enter(round: &mut Round, status: RoundStatus, at: Timestamp) {
    round.status = status;
    round.since = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_763_600_000 + seconds).expect("time")
    }

    fn archiving() -> TenantArchive {
        let mut archive = TenantArchive::default();
        archive
            .set_log_archive_dest("LOCATION=file:///backup/archive BINDING=optional")
            .expect("dest");
        archive
            .set_archive_mode(true, true, at(0))
            .expect("archivelog");
        archive
    }

    fn status(archive: &TenantArchive) -> Option<&'static str> {
        archive.round.as_ref().map(|r| r.status.as_str())
    }

    #[test]
    fn a_round_goes_through_prepare_and_beginning_to_doing() {
        let mut archive = archiving();
        assert_eq!(status(&archive), Some("PREPARE"));
        archive.advance(at(2));
        assert_eq!(status(&archive), Some("BEGINNING"));
        archive.advance(at(10));
        assert_eq!(status(&archive), Some("DOING"));
        let round = archive.round.as_ref().expect("round");
        assert_eq!(round.round_id, 1);
        assert_eq!(
            round.checkpoint_scn,
            scn(at(9)),
            "the checkpoint trails now by the archive lag"
        );
        assert!(round.input_bytes > 0);
    }

    #[test]
    fn noarchivelog_stops_the_round_into_history() {
        let mut archive = archiving();
        archive.advance(at(10));
        archive
            .set_archive_mode(false, true, at(10))
            .expect("noarchivelog");
        assert_eq!(status(&archive), Some("STOPPING"));
        archive.advance(at(13));
        assert_eq!(status(&archive), None);
        assert_eq!(
            archive
                .history
                .iter()
                .map(|r| r.status.as_str())
                .collect::<Vec<_>>(),
            ["STOP"]
        );
        // The next round follows on.
        archive
            .set_archive_mode(true, true, at(20))
            .expect("archivelog again");
        assert_eq!(
            archive
                .round
                .as_ref()
                .map(|r| (r.round_id, r.base_piece_id)),
            Some((2, 2))
        );
    }

    #[test]
    fn a_held_checkpoint_stays_while_the_round_goes_on_and_catches_up_when_released() {
        let mut archive = archiving();
        archive.advance(at(10));
        let checkpoint = |archive: &TenantArchive| archive.round.as_ref().map(|r| r.checkpoint_scn);
        let held_at = checkpoint(&archive);
        archive.checkpoint_held = true;
        archive.advance(at(100));
        assert_eq!(status(&archive), Some("DOING"));
        assert_eq!(checkpoint(&archive), held_at);
        archive.checkpoint_held = false;
        archive.advance(at(101));
        assert_eq!(checkpoint(&archive), Some(scn(at(100))));
    }

    #[test]
    fn defer_suspends_and_enable_resumes() {
        let mut archive = archiving();
        archive.advance(at(10));
        archive.set_dest_state("DEFER", at(10)).expect("defer");
        archive.advance(at(13));
        assert_eq!(status(&archive), Some("SUSPEND"));
        archive.set_dest_state("enable", at(20)).expect("enable");
        archive.advance(at(23));
        assert_eq!(status(&archive), Some("DOING"));
    }

    #[test]
    fn reference_errors_for_mode_and_destination() {
        let mut archive = archiving();
        assert_eq!(
            archive
                .set_archive_mode(true, true, at(1))
                .map_err(|e| e.code),
            Err(9091)
        );
        let error = archive
            .set_log_archive_dest("LOCATION=file:///elsewhere")
            .expect_err("running");
        assert_eq!(
            (error.code, error.message.as_str()),
            (
                1235,
                "change archive dest when archive is running is not supported"
            )
        );
        let mut idle = TenantArchive::default();
        assert_eq!(
            idle.set_archive_mode(false, true, at(0))
                .map_err(|e| e.code),
            Err(9092)
        );
        let error = idle
            .set_log_archive_dest("LOCATION=file:///a PIECE_SWITCH_INTERVAL=12h")
            .expect_err("range");
        assert_eq!(
            error.message,
            "invalid piece_switch_interval out of range [1d,7d] is not supported"
        );
        let error = idle
            .set_log_archive_dest("BINDING=MANDATORY")
            .expect_err("no location");
        assert_eq!(
            error.message,
            "set archive dest without location is not supported"
        );
        assert_eq!(
            idle.set_log_archive_dest("LOCATION=file:///a BINDING=SOMETIMES")
                .map_err(|e| e.code),
            Err(1210)
        );
    }
}
