//! Who a session is and what it may run (docs/reference/oceanbase-interface.md §1.2–§1.3). A
//! `root@sys` session runs every statement as written. A session of a user tenant (`user@tenant`)
//! acts on its own tenant: a statement without a `TENANT` clause means that tenant, naming any
//! tenant is refused, and what only sys may run (restores, resource units and pools) is refused.
//! Its `DBA_` views show its own rows; `CDB_` views do not exist there.

use crate::{error::SqlError, sql::admin::Admin};

/// The tenant id of sys.
pub const SYS_TENANT_ID: i64 = 1;

/// Who a connection logged in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The user name, without tenant or cluster.
    pub user: String,
    /// The tenant's name as the cluster spells it.
    pub tenant: String,
    /// The tenant's id.
    pub tenant_id: i64,
}

impl Login {
    /// Whether this is a session of the sys tenant.
    pub fn is_sys(&self) -> bool {
        self.tenant_id == SYS_TENANT_ID
    }
}

/// `statement` as this login runs it: unchanged for sys; for a user tenant, with its own tenant filled in
/// wherever a sys session would name one, or refused.
pub fn scoped(statement: Admin, login: &Login) -> Result<Admin, SqlError> {
    if login.is_sys() {
        return Ok(statement);
    }
    let own = || Some(login.tenant.clone());
    let one = |named: Option<String>| match named {
        Some(_) => Err(SqlError::no_privilege()),
        None => Ok(own()),
    };
    let list = |named: Option<Vec<String>>| match named {
        Some(_) => Err(SqlError::no_privilege()),
        None => Ok(Some(vec![login.tenant.clone()])),
    };
    // CANCEL BACKUP / CANCEL DELETE BACKUP with a tenant list inside a tenant: OB_INVALID_ARGUMENT (§1.2).
    let cancel_list = |named: Option<Vec<String>>| match named {
        Some(_) => Err(SqlError::oceanbase(1210, "Invalid argument")),
        None => Ok(Some(vec![login.tenant.clone()])),
    };
    Ok(match statement {
        Admin::SetParameter {
            name,
            value,
            tenant,
        } => Admin::SetParameter {
            name,
            value,
            tenant: one(tenant)?,
        },
        Admin::ArchiveLog { enable, tenants } => Admin::ArchiveLog {
            enable,
            tenants: list(tenants)?,
        },
        Admin::Backup {
            incremental,
            tenants,
            to,
            plus_archivelog,
            description,
        } => Admin::Backup {
            incremental,
            tenants: list(tenants)?,
            to,
            plus_archivelog,
            description,
        },
        Admin::CancelBackup { tenants } => Admin::CancelBackup {
            tenants: cancel_list(tenants)?,
        },
        Admin::AddDeletePolicy {
            name,
            recovery_window,
            tenant,
        } => Admin::AddDeletePolicy {
            name,
            recovery_window,
            tenant: one(tenant)?,
        },
        Admin::DropDeletePolicy { name, tenant } => Admin::DropDeletePolicy {
            name,
            tenant: one(tenant)?,
        },
        Admin::CancelDelete { tenants } => Admin::CancelDelete {
            tenants: cancel_list(tenants)?,
        },
        Admin::DeleteBackup { target, tenants } => Admin::DeleteBackup {
            target,
            tenants: list(tenants)?,
        },
        Admin::ActivateStandby { tenant } => Admin::ActivateStandby {
            tenant: one(tenant)?,
        },
        Admin::RecoverStandby { tenant } => Admin::RecoverStandby {
            tenant: one(tenant)?,
        },
        Admin::Restore(_)
        | Admin::CancelRestore { .. }
        | Admin::CreateUnit { .. }
        | Admin::CreatePool { .. }
        | Admin::DropResource { .. }
        | Admin::DropTenant { .. } => return Err(SqlError::no_privilege()),
        session @ (Admin::SetEncryption { .. }
        | Admin::SetDecryption { .. }
        | Admin::User { .. }) => session,
    })
}

/// The `DBA_` views only sys has: the cluster's resources.
pub const SYS_ONLY_VIEWS: [&str; 3] = [
    "DBA_OB_UNITS",
    "DBA_OB_UNIT_CONFIGS",
    "DBA_OB_RESOURCE_POOLS",
];

/// Whether a view exists for this login: a user tenant has no `CDB_` views and none of sys's resource views.
pub fn has_view(login_tenant_id: i64, upper_name: &str) -> bool {
    login_tenant_id == SYS_TENANT_ID
        || !(upper_name.starts_with("CDB_") || SYS_ONLY_VIEWS.contains(&upper_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::admin::parse;

    fn tenant1() -> Login {
        Login {
            user: "root".into(),
            tenant: "tenant1".into(),
            tenant_id: 1002,
        }
    }

    fn run(sql: &str, login: &Login) -> Result<Admin, u16> {
        scoped(parse(sql).expect("parses"), login).map_err(|e| e.code)
    }

    #[test]
    fn a_tenant_acts_on_itself() {
        assert_eq!(
            run("ALTER SYSTEM ARCHIVELOG", &tenant1()),
            Ok(Admin::ArchiveLog {
                enable: true,
                tenants: Some(vec!["tenant1".into()])
            })
        );
        assert!(matches!(
            run("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///b'", &tenant1()),
            Ok(Admin::SetParameter { tenant: Some(t), .. }) if t == "tenant1"
        ));
        assert!(matches!(
            run("ALTER SYSTEM BACKUP DATABASE", &tenant1()),
            Ok(Admin::Backup { tenants: Some(t), .. }) if t == ["tenant1"]
        ));
    }

    #[test]
    fn a_tenant_may_not_name_tenants_nor_run_what_only_sys_may() {
        for sql in [
            "ALTER SYSTEM ARCHIVELOG TENANT = tenant2",
            "ALTER SYSTEM BACKUP TENANT = tenant1",
            "ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///b' TENANT = tenant1",
            "ALTER SYSTEM RESTORE t FROM 'file:///b' WITH 'pool_list=p'",
            "CREATE RESOURCE UNIT u MAX_CPU = 1, MEMORY_SIZE = '1G'",
            "DROP RESOURCE POOL p",
        ] {
            assert_eq!(run(sql, &tenant1()).err(), Some(1227), "{sql}");
        }
        assert_eq!(
            run("ALTER SYSTEM CANCEL BACKUP TENANT = tenant1", &tenant1()).err(),
            Some(1210),
            "docs/reference/oceanbase-interface.md §1.2"
        );
    }

    #[test]
    fn sys_runs_statements_as_written() {
        let sys = Login {
            user: "root".into(),
            tenant: "sys".into(),
            tenant_id: 1,
        };
        assert_eq!(
            run("ALTER SYSTEM ARCHIVELOG", &sys),
            Ok(Admin::ArchiveLog {
                enable: true,
                tenants: None
            })
        );
        assert!(has_view(1, "CDB_OB_BACKUP_JOBS"));
        assert!(!has_view(1002, "CDB_OB_BACKUP_JOBS"));
        assert!(!has_view(1002, "DBA_OB_RESOURCE_POOLS"));
        assert!(has_view(1002, "DBA_OB_BACKUP_JOBS"));
    }
}
