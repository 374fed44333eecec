//! Tenants as `DBA_OB_TENANTS` shows them (docs/reference/oceanbase-interface.md §1.1, §1.4).

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::error::SqlError;

use super::{
    archive::TenantArchive,
    backup::TenantBackups,
    clean::{CleanScope, TenantClean},
};

/// `TENANT_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantType {
    /// The sys tenant (id 1).
    Sys,
    /// A user tenant's meta tenant (odd id, user id − 1).
    Meta,
    /// A user tenant (even id ≥ 1002).
    User,
}

impl TenantType {
    /// The view's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantType::Sys => "SYS",
            TenantType::Meta => "META",
            TenantType::User => "USER",
        }
    }
}

/// One tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// TENANT_ID.
    pub id: i64,
    /// TENANT_NAME.
    pub name: String,
    /// TENANT_TYPE.
    pub kind: TenantType,
    /// CREATE_TIME.
    pub created: Timestamp,
    /// STATUS: `NORMAL`, `RESTORE`, `CREATING`, `DROPPING`.
    pub status: &'static str,
    /// TENANT_ROLE: `PRIMARY` or `STANDBY`.
    pub role: &'static str,
    /// PRIMARY_ZONE.
    pub primary_zone: String,
    /// LOCALITY.
    pub locality: String,
    /// Bytes of data a full backup reads.
    pub data_bytes: u64,
    /// Destinations and log archiving.
    pub archive: TenantArchive,
    /// Data backup jobs and sets.
    pub backups: TenantBackups,
    /// Delete policy and delete jobs.
    pub clean: TenantClean,
    /// Who may log in as `user@tenant`, with their passwords (a new user tenant's `root` has none, as on a
    /// real cluster; a meta tenant has no users).
    pub users: BTreeMap<String, String>,
    /// For a tenant made by a restore, the time its data is as of (its restore point): its heartbeat
    /// (`views/heartbeat.rs`) stays there. `None`: an application writes to it, its heartbeat is now.
    pub data_as_of: Option<Timestamp>,
}

impl Tenant {
    fn base(id: i64, name: String, kind: TenantType, created: Timestamp) -> Self {
        Self {
            id,
            name,
            kind,
            created,
            status: "NORMAL",
            role: "PRIMARY",
            primary_zone: "zone1".to_string(),
            locality: "FULL{1}@zone1".to_string(),
            data_bytes: 0,
            archive: TenantArchive::default(),
            backups: TenantBackups::default(),
            clean: TenantClean::default(),
            users: BTreeMap::new(),
            data_as_of: None,
        }
    }

    /// The sys tenant, its `root` with that password.
    pub fn sys(created: Timestamp, root_password: &str) -> Self {
        let mut sys = Self::base(1, "sys".to_string(), TenantType::Sys, created);
        sys.users
            .insert("root".to_string(), root_password.to_string());
        sys
    }

    /// The meta tenant of user tenant `id + 1`.
    pub fn meta(id: i64, created: Timestamp) -> Self {
        Self::base(id, format!("META${}", id + 1), TenantType::Meta, created)
    }

    /// The parts a delete job works on.
    pub fn clean_scope(&mut self) -> CleanScope<'_> {
        CleanScope {
            tenant_id: self.id,
            clean: &mut self.clean,
            backups: &mut self.backups,
            archive: &mut self.archive,
        }
    }

    /// Why a login with the right password is refused, if it is: a tenant still restoring answers
    /// OB_STATE_NOT_MATCH; a tenant creating or dropping is let in (docs/reference/oceanbase-interface.md
    /// §6.7).
    pub fn login_refusal(&self) -> Option<SqlError> {
        (self.status == "RESTORE").then(SqlError::state_not_match)
    }

    /// A user tenant, its `root` without a password.
    pub fn user(id: i64, name: &str, data_bytes: u64, created: Timestamp) -> Self {
        let mut tenant = Self {
            data_bytes,
            ..Self::base(id, name.to_string(), TenantType::User, created)
        };
        tenant.users.insert("root".to_string(), String::new());
        tenant
    }
}
