//! Faults a test or the demo injects through the control API: a failing next backup or restore, archiving
//! interrupted, an unreachable destination, stalled backup progress.

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
    /// Restore jobs make no progress (a restore that runs until canceled).
    pub stalled_restores: bool,
    /// Tenants whose destinations cannot be reached.
    pub unreachable: Vec<String>,
}

impl Faults {
    /// Whether the tenant's destinations are unreachable.
    pub fn is_unreachable(&self, tenant: &str) -> bool {
        self.unreachable
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant))
    }

    fn is_stalled(&self, tenant: &str) -> bool {
        self.stalled.iter().any(|t| t.eq_ignore_ascii_case(tenant))
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
        self.faults
            .unreachable
            .retain(|t| !t.eq_ignore_ascii_case(tenant));
        if unreachable {
            self.faults.unreachable.push(tenant.to_string());
            self.interrupt_archive(tenant, DEST_NOT_CONNECT.0, DEST_NOT_CONNECT.1)
        } else {
            self.resume_archive(tenant)
        }
    }

    /// Freezes (or unfreezes) the progress of a tenant's backup jobs.
    pub fn set_stalled(&mut self, tenant: &str, stalled: bool) -> Result<(), SqlError> {
        self.user_tenant(Some(tenant))?;
        self.faults
            .stalled
            .retain(|t| !t.eq_ignore_ascii_case(tenant));
        if stalled {
            self.faults.stalled.push(tenant.to_string());
        }
        Ok(())
    }

    /// Applies the stall fault to the jobs of every tenant.
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
        }
    }

    /// Clears every fault; interrupted rounds go on.
    pub fn clear_faults(&mut self, now: Timestamp) {
        self.faults = Faults::default();
        for tenant in &mut self.tenants {
            tenant.archive.resume(now);
            for job in &mut tenant.backups.jobs {
                job.stalled = false;
            }
        }
    }
}
