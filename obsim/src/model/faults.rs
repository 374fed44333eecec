//! Faults a test or the demo injects through the control API: a failing next backup or restore, archiving
//! interrupted, an unreachable destination, stalled backup progress, an archive checkpoint held back, an
//! archive piece lost from its destination or marked BROKEN.

use jiff::Timestamp;

use super::{Cluster, TenantType};
use crate::error::SqlError;

/// OB_BACKUP_DEST_NOT_CONNECT (docs/reference/oceanbase-interface.md §12).
pub const DEST_NOT_CONNECT: (i64, &str) = (-9070, "can not connect to backup destination");

/// The faults in force on a cluster.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The next backup (of this tenant, or of any when `None`) fails halfway with (code, message).
    pub next_backup_failure: Option<(Option<String>, i64, String)>,
    /// The next restore fails halfway with (code, message).
    pub next_restore_failure: Option<(i64, String)>,
    /// Tenants whose backup jobs make no progress.
    pub stalled: Vec<String>,
    /// Tenants whose archive checkpoint does not move while its round goes on.
    pub held_archives: Vec<String>,
    /// Restore jobs make no progress (a restore that runs until canceled).
    pub stalled_restores: bool,
    /// Tenants whose destinations cannot be reached.
    pub unreachable: Vec<String>,
}

impl Faults {
    /// Whether the tenant's destinations are unreachable.
    pub fn is_unreachable(&self, tenant: &str) -> bool {
        named(&self.unreachable, tenant)
    }

    fn is_stalled(&self, tenant: &str) -> bool {
        named(&self.stalled, tenant)
    }

    fn is_archive_held(&self, tenant: &str) -> bool {
        named(&self.held_archives, tenant)
    }

    /// The failure the next backup of `tenant` carries, consumed.
    pub fn take_backup_failure(&mut self, tenant: &str) -> Option<(i64, String)> {
        if self.is_unreachable(tenant) {
            return Some((DEST_NOT_CONNECT.0, DEST_NOT_CONNECT.1.into()));
        }
        match &self.next_backup_failure {
            Some((who, _, _))
                if who
                    .as_deref()
                    .is_none_or(|w| w.eq_ignore_ascii_case(tenant)) =>
            {
                self.next_backup_failure
                    .take()
                    .map(|(_, code, message)| (code, message))
            }
            _ => None,
        }
    }
}

impl Cluster {
    /// Interrupts the tenant's archive round with OceanBase's code and message in COMMENT (§3.2).
    pub fn interrupt_archive(
        &mut self,
        tenant: &str,
        code: i64,
        message: &str,
    ) -> Result<(), SqlError> {
        let now = self.now();
        self.user_tenant(Some(tenant))?
            .archive
            .interrupt(code, message, now);
        Ok(())
    }

    /// Lets an interrupted round go on (DOING again, its checkpoint catching up).
    pub fn resume_archive(&mut self, tenant: &str) -> Result<(), SqlError> {
        if self.faults.is_unreachable(tenant) {
            return Ok(());
        }
        let now = self.now();
        self.user_tenant(Some(tenant))?.archive.resume(now);
        Ok(())
    }

    /// Makes a tenant's destinations unreachable (archiving interrupted, backups fail with −9070) or
    /// reachable again.
    pub fn set_unreachable(&mut self, tenant: &str, unreachable: bool) -> Result<(), SqlError> {
        self.user_tenant(Some(tenant))?;
        name_if(&mut self.faults.unreachable, tenant, unreachable);
        if unreachable {
            self.interrupt_archive(tenant, DEST_NOT_CONNECT.0, DEST_NOT_CONNECT.1)
        } else {
            self.resume_archive(tenant)
        }
    }

    /// Freezes (or unfreezes) the progress of a tenant's backup jobs.
    pub fn set_stalled(&mut self, tenant: &str, stalled: bool) -> Result<(), SqlError> {
        self.user_tenant(Some(tenant))?;
        name_if(&mut self.faults.stalled, tenant, stalled);
        Ok(())
    }

    /// Holds (or releases) a tenant's archive checkpoint: its round goes on, DOING, while its delay grows;
    /// released, the checkpoint catches up at the next look.
    pub fn set_archive_held(&mut self, tenant: &str, held: bool) -> Result<(), SqlError> {
        self.user_tenant(Some(tenant))?;
        name_if(&mut self.faults.held_archives, tenant, held);
        Ok(())
    }

    /// Applies the stall and hold faults to every tenant's jobs and archive.
    pub(super) fn apply_stalls(&mut self) {
        for tenant in self
            .tenants
            .iter_mut()
            .filter(|t| t.kind == TenantType::User)
        {
            let stalled = self.faults.is_stalled(&tenant.name);
            for job in &mut tenant.backups.jobs {
                job.stalled = stalled;
            }
            tenant.archive.checkpoint_held = self.faults.is_archive_held(&tenant.name);
        }
    }

    /// The files of archive piece `piece` of `tenant` (default: its newest) vanish from the destination while
    /// the views still list it as it was: nothing changes until a restore's log restore reads it and fails
    /// (`restore.rs`; docs/reference/oceanbase-interface.md §6.7). Lost files stay lost:
    /// [`Cluster::clear_faults`] brings nothing back. Returns the piece's id.
    pub fn lose_archive_piece(
        &mut self,
        tenant: &str,
        piece: Option<i64>,
    ) -> Result<i64, SqlError> {
        let tenant = self.user_tenant(Some(tenant))?;
        let chosen = chosen_piece(tenant, piece, "", |status| status != "DELETED")?;
        let tenant_id = tenant.id;
        if !tenant.archive.lost_pieces.contains(&chosen.piece_id) {
            tenant.archive.lost_pieces.push(chosen.piece_id);
        }
        if let Some(files) = &mut self.files {
            files.lose_piece(tenant_id, &chosen);
        }
        Ok(chosen.piece_id)
    }

    /// Archive piece `piece` of `tenant` (default: its newest) turns `BROKEN` in the views, as OceanBase
    /// marks a piece it can no longer use (docs/reference/oceanbase-interface.md §4.5): it counts for no
    /// recoverable window and no restore plans on it (a point only it covers gets 9119). Its files stay.
    /// A broken piece stays broken: [`Cluster::clear_faults`] does not mend it. Returns the piece's id.
    pub fn break_archive_piece(
        &mut self,
        tenant: &str,
        piece: Option<i64>,
    ) -> Result<i64, SqlError> {
        let tenant = self.user_tenant(Some(tenant))?;
        // AVAILABLE → BROKEN is the only way in (§4.5).
        let chosen = chosen_piece(tenant, piece, "available ", |status| {
            matches!(status, "AVAILABLE" | "BROKEN")
        })?;
        let id = chosen.piece_id;
        if !tenant.archive.broken_pieces.contains(&id) {
            tenant.archive.broken_pieces.push(id);
        }
        Ok(id)
    }

    /// Clears every fault; interrupted rounds go on. Lost archive pieces stay lost (their files are gone), and
    /// broken ones broken.
    pub fn clear_faults(&mut self, now: Timestamp) {
        self.faults = Faults::default();
        for tenant in &mut self.tenants {
            tenant.archive.resume(now);
            tenant.archive.checkpoint_held = false;
            for job in &mut tenant.backups.jobs {
                job.stalled = false;
            }
        }
    }
}

/// Whether `names` holds `tenant` (tenant names compare without case).
fn named(names: &[String], tenant: &str) -> bool {
    names.iter().any(|t| t.eq_ignore_ascii_case(tenant))
}

/// Puts `tenant` in `names` (once) when `on`, else takes it out.
fn name_if(names: &mut Vec<String>, tenant: &str, on: bool) {
    names.retain(|t| !t.eq_ignore_ascii_case(tenant));
    if on {
        names.push(tenant.to_string());
    }
}

/// Archive piece `piece` of `tenant` (default: its newest), if its FILE_STATUS is one `fits` takes; else
/// error 1210 naming it (`what` qualifies the piece in the message).
fn chosen_piece(
    tenant: &super::Tenant,
    piece: Option<i64>,
    what: &str,
    fits: impl Fn(&str) -> bool,
) -> Result<super::archive::Piece, SqlError> {
    let pieces = tenant.archive.pieces();
    let chosen = match piece {
        Some(id) => pieces.iter().find(|p| p.piece_id == id),
        None => pieces.iter().max_by_key(|p| p.piece_id),
    };
    chosen
        .filter(|p| fits(p.file_status))
        .cloned()
        .ok_or_else(|| {
            SqlError::oceanbase(
                1210,
                format!(
                    "tenant {} has no {what}archive piece {}",
                    tenant.name,
                    piece.map_or("yet".to_string(), |id| id.to_string())
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use crate::{
        clock::Clock,
        model::{Cluster, Version},
    };

    fn archiving(seconds: i64) -> Cluster {
        let start = Timestamp::from_second(1_763_600_000).expect("time");
        let mut cluster = Cluster::new("c", Version::V4_4_1, "pw", Clock::new(start, 0.0));
        cluster.add_user_tenant("t1", 1 << 30).expect("tenant");
        cluster
            .set_parameter("log_archive_dest", "LOCATION=file:///a", Some("t1"))
            .expect("dest");
        cluster
            .archive_mode(true, Some(&["t1".to_string()]))
            .expect("archivelog");
        cluster.clock.step(jiff::SignedDuration::from_secs(seconds));
        cluster.advance();
        cluster
    }

    #[test]
    fn losing_a_piece_takes_the_newest_by_default_once_and_needs_one_that_exists() {
        let mut cluster = archiving(0);
        assert!(
            cluster.lose_archive_piece("t1", None).is_err(),
            "no piece yet"
        );
        let mut cluster = archiving(2 * 86_400 + 60);
        assert_eq!(cluster.lose_archive_piece("t1", None).ok(), Some(3));
        assert_eq!(cluster.lose_archive_piece("t1", Some(3)).ok(), Some(3));
        assert_eq!(cluster.lose_archive_piece("t1", Some(1)).ok(), Some(1));
        assert!(cluster.lose_archive_piece("t1", Some(9)).is_err());
        assert!(cluster.lose_archive_piece("sys", None).is_err());
        let lost = cluster.tenant("t1").map(|t| t.archive.lost_pieces.clone());
        assert_eq!(lost, Some(vec![3, 1]));
        cluster.clear_faults(cluster.now());
        let lost = cluster.tenant("t1").map(|t| t.archive.lost_pieces.clone());
        assert_eq!(
            lost,
            Some(vec![3, 1]),
            "clearing faults brings no file back"
        );
    }

    #[test]
    fn a_broken_piece_shows_broken_stays_broken_and_needs_an_available_one() {
        let mut cluster = archiving(2 * 86_400 + 60);
        assert_eq!(cluster.break_archive_piece("t1", Some(2)).ok(), Some(2));
        assert_eq!(cluster.break_archive_piece("t1", Some(2)).ok(), Some(2));
        assert!(cluster.break_archive_piece("t1", Some(9)).is_err());
        assert!(cluster.break_archive_piece("sys", None).is_err());
        let statuses = |cluster: &Cluster| -> Vec<&'static str> {
            cluster
                .tenant("t1")
                .map(|t| t.archive.pieces().iter().map(|p| p.file_status).collect())
                .unwrap_or_default()
        };
        assert_eq!(statuses(&cluster), ["AVAILABLE", "BROKEN", "AVAILABLE"]);
        cluster.clear_faults(cluster.now());
        assert_eq!(
            statuses(&cluster),
            ["AVAILABLE", "BROKEN", "AVAILABLE"],
            "clearing faults mends nothing"
        );
    }
}
