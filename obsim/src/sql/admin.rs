//! OceanBase's administrative statements, parsed by recursive descent over `sqlparser`'s tokens (no
//! SQL library knows this grammar). Forms follow docs/reference/oceanbase-interface.md §1.2, §2,
//! §3.1, §4.1, §5.1–5.2 and §2.4.

use sqlparser::tokenizer::Token;

use super::cursor::Cursor;

use crate::{
    error::SqlError,
    model::{UserChange, clean::CleanTarget},
};

/// The parts of `ALTER SYSTEM RESTORE` (docs/reference/oceanbase-interface.md §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreStatement {
    pub tenant: String,
    /// The comma-separated data and archive URIs.
    pub from: Vec<String>,
    pub until: Until,
    /// The `WITH '…'` restore options, e.g. `pool_list=p1&primary_zone=z1`.
    pub options: String,
    pub description: Option<String>,
}

/// How far a restore goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Until {
    /// No UNTIL: the latest archived point.
    Latest,
    /// `UNTIL TIME = '…'`.
    Time(String),
    /// `UNTIL SCN = n`.
    Scn(u64),
}

/// A parsed administrative statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admin {
    /// `ALTER SYSTEM SET name = value [TENANT [=] t]`.
    SetParameter {
        name: String,
        value: String,
        tenant: Option<String>,
    },
    /// `ALTER SYSTEM ARCHIVELOG | NOARCHIVELOG [TENANT [=] t1[, t2…]] [DESCRIPTION [=] '…']`.
    ArchiveLog {
        enable: bool,
        tenants: Option<Vec<String>>,
    },
    /// `ALTER SYSTEM BACKUP [INCREMENTAL] {DATABASE | TENANT [=] list} [TO [=] 'uri'] [PLUS ARCHIVELOG]
    /// [DESCRIPTION [=] '…']`.
    Backup {
        incremental: bool,
        tenants: Option<Vec<String>>,
        to: Option<String>,
        plus_archivelog: bool,
        description: Option<String>,
    },
    /// `ALTER SYSTEM CANCEL BACKUP [TENANT [=] list]`.
    CancelBackup { tenants: Option<Vec<String>> },
    /// `ALTER SYSTEM ADD DELETE BACKUP POLICY [=] 'name' [RECOVERY_WINDOW [=] 'w'] [TENANT [=] t]`.
    AddDeletePolicy {
        name: String,
        recovery_window: Option<String>,
        tenant: Option<String>,
    },
    /// `ALTER SYSTEM DROP DELETE BACKUP POLICY [=] 'name' [TENANT [=] t]`.
    DropDeletePolicy {
        name: String,
        tenant: Option<String>,
    },
    /// `ALTER SYSTEM CANCEL DELETE BACKUP [TENANT [=] list] [DESCRIPTION …]`.
    CancelDelete { tenants: Option<Vec<String>> },
    /// `ALTER SYSTEM DELETE {BACKUPSET ids | ARCHIVELOG_PIECE ids | BACKUPPIECE ids | OBSOLETE BACKUP}
    /// [TENANT [=] list]` (§5.2).
    DeleteBackup {
        target: CleanTarget,
        tenants: Option<Vec<String>>,
    },
    /// `ALTER SYSTEM RESTORE t FROM 'uris' [UNTIL {TIME = '…' | SCN = n}] WITH 'options' [DESCRIPTION …]`.
    Restore(RestoreStatement),
    /// `ALTER SYSTEM CANCEL RESTORE t`.
    CancelRestore { tenant: String },
    /// `ALTER SYSTEM ACTIVATE STANDBY [TENANT [=] t] [VERIFY]`.
    ActivateStandby { tenant: Option<String> },
    /// `ALTER SYSTEM RECOVER STANDBY [TENANT [=] t] {UNTIL … | CANCEL}`.
    RecoverStandby { tenant: Option<String> },
    /// `CREATE RESOURCE UNIT [IF NOT EXISTS] u MAX_CPU = n, MEMORY_SIZE = m[, …]`.
    CreateUnit {
        name: String,
        if_not_exists: bool,
        options: Vec<(String, String)>,
    },
    /// `CREATE RESOURCE POOL [IF NOT EXISTS] p UNIT = 'u', UNIT_NUM = n, ZONE_LIST = ('z1'[, …])`.
    CreatePool {
        name: String,
        if_not_exists: bool,
        options: Vec<(String, String)>,
    },
    /// `DROP TENANT [IF EXISTS] t [PURGE | FORCE]` (§6.6).
    DropTenant {
        name: String,
        if_exists: bool,
        force: bool,
    },
    /// `DROP RESOURCE {UNIT | POOL} [IF EXISTS] name`.
    DropResource {
        pool: bool,
        name: String,
        if_exists: bool,
    },
    /// `CREATE USER [IF NOT EXISTS] u IDENTIFIED BY 'pw'`, `ALTER USER u IDENTIFIED BY 'pw'`,
    /// `DROP USER [IF EXISTS] u` (a `@'host'` part is accepted and ignored), in the session's tenant.
    User {
        name: String,
        password: String,
        change: UserChange,
        /// `DROP USER IF EXISTS`: a missing user is no error.
        if_exists: bool,
    },
    /// `SET ENCRYPTION ON IDENTIFIED BY 'pw' ONLY` (session-scoped).
    SetEncryption { password: String },
    /// `SET DECRYPTION IDENTIFIED BY 'pw'[, 'pw2'…]` (session-scoped).
    SetDecryption { passwords: Vec<String> },
}

/// Whether a statement starts like one of the administrative forms.
pub fn is_admin(words: &[String]) -> bool {
    let first = |w: &str| words.first().map(String::as_str) == Some(w);
    let second = |w: &str| words.get(1).map(String::as_str) == Some(w);
    (first("ALTER") && second("SYSTEM"))
        || (first("SET") && (second("ENCRYPTION") || second("DECRYPTION")))
        || ((first("CREATE") || first("DROP")) && second("RESOURCE"))
        || (first("DROP") && second("TENANT"))
        || ((first("CREATE") || first("ALTER") || first("DROP")) && second("USER"))
}

/// Parses an administrative statement.
pub fn parse(sql: &str) -> Result<Admin, SqlError> {
    let tokens = super::significant_tokens(sql)?;
    let mut p = Cursor { tokens, at: 0 };
    let statement = if p.keyword("SET") {
        p.set_session()?
    } else if let Some(statement) = p.user()? {
        statement
    } else if p.keyword("CREATE") {
        p.expect("RESOURCE")?;
        p.create_resource()?
    } else if p.keyword("DROP") {
        if p.keyword("TENANT") {
            p.drop_tenant()?
        } else {
            p.expect("RESOURCE")?;
            p.drop_resource()?
        }
    } else {
        p.expect("ALTER")?;
        p.expect("SYSTEM")?;
        p.alter_system()?
    };
    p.end()?;
    Ok(statement)
}

impl Cursor {
    /// `[IF EXISTS] t [PURGE | FORCE]`, after `DROP TENANT`. PURGE (a delayed drop, never the recycle
    /// bin) is accepted and, like no option, is not FORCE.
    fn drop_tenant(&mut self) -> Result<Admin, SqlError> {
        let if_exists = self.if_exists()?;
        let name = self.name()?;
        let force = self.keyword("FORCE");
        if !force {
            self.keyword("PURGE");
        }
        Ok(Admin::DropTenant {
            name,
            if_exists,
            force,
        })
    }

    /// `{UNIT | POOL} [IF EXISTS] name`, after `DROP RESOURCE`.
    fn drop_resource(&mut self) -> Result<Admin, SqlError> {
        let pool = if self.keyword("POOL") {
            true
        } else {
            self.expect("UNIT")?;
            false
        };
        let if_exists = self.if_exists()?;
        Ok(Admin::DropResource {
            pool,
            name: self.name()?,
            if_exists,
        })
    }

    /// An optional `IF EXISTS`.
    fn if_exists(&mut self) -> Result<bool, SqlError> {
        Ok(self.keyword("IF") && {
            self.expect("EXISTS")?;
            true
        })
    }

    /// `CREATE | ALTER | DROP USER …`, if the statement is one.
    fn user(&mut self) -> Result<Option<Admin>, SqlError> {
        let start = self.at;
        let verb = ["CREATE", "ALTER", "DROP"]
            .into_iter()
            .find(|verb| self.keyword(verb));
        let Some(verb) = verb.filter(|_| self.keyword("USER")) else {
            self.at = start;
            return Ok(None);
        };
        let guard = if verb == "DROP" { "EXISTS" } else { "NOT" };
        let guarded = self.keyword("IF") && {
            if guard == "NOT" {
                self.expect("NOT")?;
            }
            self.expect("EXISTS")?;
            true
        };
        let name = self.name()?;
        if self.peek() == Some(&Token::AtSign) {
            self.at += 1;
            self.name()?;
        }
        let password = if verb == "DROP" {
            String::new()
        } else {
            self.expect("IDENTIFIED")?;
            self.expect("BY")?;
            self.string()?
        };
        let change = match verb {
            "CREATE" => UserChange::Create {
                if_not_exists: guarded,
            },
            "ALTER" => UserChange::Alter,
            _ => UserChange::Drop,
        };
        Ok(Some(Admin::User {
            name,
            password,
            change,
            if_exists: guarded && verb == "DROP",
        }))
    }

    fn set_session(&mut self) -> Result<Admin, SqlError> {
        if self.keyword("ENCRYPTION") {
            self.expect("ON")?;
            self.expect("IDENTIFIED")?;
            self.expect("BY")?;
            let password = self.string()?;
            self.expect("ONLY")?;
            return Ok(Admin::SetEncryption { password });
        }
        self.expect("DECRYPTION")?;
        self.expect("IDENTIFIED")?;
        self.expect("BY")?;
        let mut passwords = vec![self.string()?];
        while self.peek() == Some(&Token::Comma) {
            self.at += 1;
            passwords.push(self.string()?);
        }
        Ok(Admin::SetDecryption { passwords })
    }

    fn alter_system(&mut self) -> Result<Admin, SqlError> {
        if self.keyword("SET") {
            let name = self.name()?.to_lowercase();
            self.equals();
            let value = self.value()?;
            let tenant = self.tenant()?;
            return Ok(Admin::SetParameter {
                name,
                value,
                tenant,
            });
        }
        for (word, enable) in [("ARCHIVELOG", true), ("NOARCHIVELOG", false)] {
            if self.keyword(word) {
                let tenants = self.tenant_list()?;
                self.description()?;
                return Ok(Admin::ArchiveLog { enable, tenants });
            }
        }
        if self.keyword("BACKUP") {
            return self.backup();
        }
        if self.keyword("DELETE") {
            return self.delete_backup();
        }
        if self.keyword("RESTORE") {
            return self.restore();
        }
        if self.keyword("ACTIVATE") {
            self.expect("STANDBY")?;
            let tenant = self.tenant()?;
            self.keyword("VERIFY");
            return Ok(Admin::ActivateStandby { tenant });
        }
        if self.keyword("RECOVER") {
            self.expect("STANDBY")?;
            let tenant = self.tenant()?;
            if !self.keyword("CANCEL") {
                self.expect("UNTIL")?;
                if !self.keyword("UNLIMITED") {
                    self.until()?;
                }
            }
            return Ok(Admin::RecoverStandby { tenant });
        }
        if self.keyword("CANCEL") {
            if self.keyword("RESTORE") {
                return Ok(Admin::CancelRestore {
                    tenant: self.name()?,
                });
            }
            if self.keyword("BACKUP") {
                return Ok(Admin::CancelBackup {
                    tenants: self.tenant_list()?,
                });
            }
            self.expect("DELETE")?;
            self.expect("BACKUP")?;
            let tenants = self.tenant_list()?;
            self.description()?;
            return Ok(Admin::CancelDelete { tenants });
        }
        for add in [true, false] {
            if self.keyword(if add { "ADD" } else { "DROP" }) {
                self.expect("DELETE")?;
                self.expect("BACKUP")?;
                self.expect("POLICY")?;
                self.equals();
                let name = self.string()?;
                let recovery_window = if add && self.keyword("RECOVERY_WINDOW") {
                    self.equals();
                    Some(self.string()?)
                } else {
                    None
                };
                let tenant = self.tenant()?;
                return Ok(if add {
                    Admin::AddDeletePolicy {
                        name,
                        recovery_window,
                        tenant,
                    }
                } else {
                    Admin::DropDeletePolicy { name, tenant }
                });
            }
        }
        Err(self.near())
    }

    fn ids(&mut self) -> Result<Vec<i64>, SqlError> {
        let mut ids = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Token::Number(n, _)) => {
                    self.at += 1;
                    ids.push(n.parse().map_err(|_| self.near())?);
                }
                _ => return Err(self.near()),
            }
            if self.peek() != Some(&Token::Comma) {
                return Ok(ids);
            }
            self.at += 1;
        }
    }

    fn delete_backup(&mut self) -> Result<Admin, SqlError> {
        let target = if self.keyword("BACKUPSET") {
            self.equals();
            CleanTarget::BackupSets(self.ids()?)
        } else if self.keyword("ARCHIVELOG_PIECE") || self.keyword("BACKUPPIECE") {
            self.equals();
            CleanTarget::Pieces(self.ids()?)
        } else {
            self.expect("OBSOLETE")?;
            self.expect("BACKUP")?;
            CleanTarget::Obsolete
        };
        let tenants = self.tenant_list()?;
        self.description()?;
        Ok(Admin::DeleteBackup { target, tenants })
    }

    /// `UNTIL` has been read: `TIME = '…'` or `SCN = n` (the `=` is mandatory, §11).
    fn until(&mut self) -> Result<Until, SqlError> {
        if self.keyword("TIME") {
            self.expect_token(&Token::Eq)?;
            return Ok(Until::Time(self.string()?));
        }
        self.expect("SCN")?;
        self.expect_token(&Token::Eq)?;
        match self.peek().cloned() {
            Some(Token::Number(n, _)) => {
                self.at += 1;
                n.parse().map(Until::Scn).map_err(|_| self.near())
            }
            _ => Err(self.near()),
        }
    }

    fn expect_token(&mut self, token: &Token) -> Result<(), SqlError> {
        if self.peek() == Some(token) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.near())
        }
    }

    fn restore(&mut self) -> Result<Admin, SqlError> {
        let tenant = self.name()?;
        self.expect("FROM")?;
        let from = self
            .string()?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let until = if self.keyword("UNTIL") {
            self.until()?
        } else {
            Until::Latest
        };
        self.expect("WITH")?;
        let options = self.string()?;
        if self.keyword("WITH") {
            // WITH KEY FROM '…' [ENCRYPTED BY '…']: TDE keys are not modelled.
            return Err(SqlError::not_supported("restore WITH KEY FROM in obsim"));
        }
        let description = self.description()?;
        if self.keyword("PREVIEW") {
            return Err(SqlError::not_supported("restore PREVIEW in obsim"));
        }
        Ok(Admin::Restore(RestoreStatement {
            tenant,
            from,
            until,
            options,
            description,
        }))
    }

    fn create_resource(&mut self) -> Result<Admin, SqlError> {
        let pool = if self.keyword("POOL") {
            true
        } else {
            self.expect("UNIT")?;
            false
        };
        let if_not_exists = self.keyword("IF") && {
            self.expect("NOT")?;
            self.expect("EXISTS")?;
            true
        };
        let name = self.name()?;
        let mut options = Vec::new();
        loop {
            let key = self.name()?.to_uppercase();
            self.equals();
            let value = if self.peek() == Some(&Token::LParen) {
                self.at += 1;
                let zones = self.names()?;
                self.expect_token(&Token::RParen)?;
                zones.join(";")
            } else {
                self.value()?
            };
            options.push((key, value));
            if self.peek() != Some(&Token::Comma) {
                break;
            }
            self.at += 1;
        }
        Ok(if pool {
            Admin::CreatePool {
                name,
                if_not_exists,
                options,
            }
        } else {
            Admin::CreateUnit {
                name,
                if_not_exists,
                options,
            }
        })
    }

    fn backup(&mut self) -> Result<Admin, SqlError> {
        let incremental = self.keyword("INCREMENTAL");
        let tenants = if self.keyword("DATABASE") {
            None
        } else {
            self.expect("TENANT")?;
            self.equals();
            Some(self.names()?)
        };
        let to = if self.keyword("TO") {
            self.equals();
            Some(self.string()?)
        } else {
            None
        };
        let plus_archivelog = if self.keyword("PLUS") {
            self.expect("ARCHIVELOG")?;
            true
        } else {
            false
        };
        let description = self.description()?;
        Ok(Admin::Backup {
            incremental,
            tenants,
            to,
            plus_archivelog,
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_with_and_without_tenant_and_equals() {
        assert_eq!(
            parse("ALTER SYSTEM SET DATA_BACKUP_DEST = 'file:///backup/data' TENANT = tenant1")
                .expect("parses"),
            Admin::SetParameter {
                name: "data_backup_dest".into(),
                value: "file:///backup/data".into(),
                tenant: Some("tenant1".into())
            }
        );
        assert_eq!(
            parse("alter system set log_archive_dest_state='DEFER' tenant t2").expect("parses"),
            Admin::SetParameter {
                name: "log_archive_dest_state".into(),
                value: "DEFER".into(),
                tenant: Some("t2".into())
            }
        );
    }

    #[test]
    fn archivelog_backup_and_cancel_forms() {
        assert_eq!(
            parse("ALTER SYSTEM NOARCHIVELOG TENANT = t1, t2 DESCRIPTION 'x'").expect("parses"),
            Admin::ArchiveLog {
                enable: false,
                tenants: Some(vec!["t1".into(), "t2".into()])
            }
        );
        assert_eq!(
            parse(
                "ALTER SYSTEM BACKUP INCREMENTAL TENANT t1 PLUS ARCHIVELOG DESCRIPTION = 'uid-1'"
            )
            .expect("parses"),
            Admin::Backup {
                incremental: true,
                tenants: Some(vec!["t1".into()]),
                to: None,
                plus_archivelog: true,
                description: Some("uid-1".into())
            }
        );
        assert_eq!(
            parse("ALTER SYSTEM CANCEL BACKUP").expect("parses"),
            Admin::CancelBackup { tenants: None }
        );
    }

    #[test]
    fn delete_policy_needs_a_quoted_name() {
        assert_eq!(
            parse(
                "ALTER SYSTEM ADD DELETE BACKUP POLICY 'default' RECOVERY_WINDOW '7d' TENANT = t1"
            )
            .expect("parses"),
            Admin::AddDeletePolicy {
                name: "default".into(),
                recovery_window: Some("7d".into()),
                tenant: Some("t1".into())
            }
        );
        // §5.1: the policy name must be a quoted string.
        assert_eq!(
            parse("ALTER SYSTEM ADD DELETE BACKUP POLICY default").map_err(|e| e.code),
            Err(1064)
        );
    }

    #[test]
    fn delete_restore_and_resource_forms() {
        assert_eq!(
            parse("ALTER SYSTEM DELETE BACKUPSET 3, 4 TENANT = t1").expect("parses"),
            Admin::DeleteBackup {
                target: CleanTarget::BackupSets(vec![3, 4]),
                tenants: Some(vec!["t1".into()])
            }
        );
        assert_eq!(
            parse("ALTER SYSTEM DELETE OBSOLETE BACKUP").expect("parses"),
            Admin::DeleteBackup {
                target: CleanTarget::Obsolete,
                tenants: None
            }
        );
        assert_eq!(
            parse(
                "ALTER SYSTEM RESTORE t9 FROM 'file:///d,file:///a' UNTIL TIME = '2025-11-20 01:02:03' \
                 WITH 'pool_list=p1' DESCRIPTION 'uid'"
            )
            .expect("parses"),
            Admin::Restore(RestoreStatement {
                tenant: "t9".into(),
                from: vec!["file:///d".into(), "file:///a".into()],
                until: Until::Time("2025-11-20 01:02:03".into()),
                options: "pool_list=p1".into(),
                description: Some("uid".into())
            })
        );
        // §11: the `=` after UNTIL SCN is mandatory.
        assert_eq!(
            parse("ALTER SYSTEM RESTORE t9 FROM 'x' UNTIL SCN 5 WITH 'y'").map_err(|e| e.code),
            Err(1064)
        );
        assert_eq!(
            parse("CREATE RESOURCE POOL IF NOT EXISTS p1 UNIT = 'u1', UNIT_NUM = 1, ZONE_LIST = ('z1', 'z2')")
                .expect("parses"),
            Admin::CreatePool {
                name: "p1".into(),
                if_not_exists: true,
                options: vec![
                    ("UNIT".into(), "u1".into()),
                    ("UNIT_NUM".into(), "1".into()),
                    ("ZONE_LIST".into(), "z1;z2".into())
                ]
            }
        );
        assert_eq!(
            parse("ALTER SYSTEM ACTIVATE STANDBY TENANT = t9 VERIFY").expect("parses"),
            Admin::ActivateStandby {
                tenant: Some("t9".into())
            }
        );
    }

    #[test]
    fn session_encryption_statements() {
        assert_eq!(
            parse("SET ENCRYPTION ON IDENTIFIED BY 'p''w' ONLY").expect("parses"),
            Admin::SetEncryption {
                password: "p'w".into()
            }
        );
        assert_eq!(
            parse("SET DECRYPTION IDENTIFIED BY 'a', 'b'").expect("parses"),
            Admin::SetDecryption {
                passwords: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn user_statements_name_the_user_and_its_password() {
        assert_eq!(
            parse("CREATE USER IF NOT EXISTS 'backup'@'%' IDENTIFIED BY 'it''s'"),
            Ok(Admin::User {
                name: "backup".into(),
                password: "it's".into(),
                change: UserChange::Create {
                    if_not_exists: true
                },
                if_exists: false,
            })
        );
        assert_eq!(
            parse("alter user root identified by 'pw'"),
            Ok(Admin::User {
                name: "root".into(),
                password: "pw".into(),
                change: UserChange::Alter,
                if_exists: false,
            })
        );
        assert!(matches!(
            parse("DROP USER IF EXISTS backup"),
            Ok(Admin::User {
                change: UserChange::Drop,
                if_exists: true,
                ..
            })
        ));
        assert_eq!(
            parse("CREATE USER backup").map_err(|e| e.code),
            Err(1064),
            "a password is required"
        );
        assert!(is_admin(&["ALTER".into(), "USER".into()]));
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        let error = parse("ALTER SYSTEM ARCHIVELOG NOW PLEASE").expect_err("refused");
        assert_eq!(error.code, 1064);
        assert!(
            error.message.contains("near 'NOW PLEASE'"),
            "{}",
            error.message
        );
    }
}
