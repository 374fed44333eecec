//! Executing statements for one connection against the shared cluster.

use std::sync::{Arc, Mutex};

use sqlparser::{ast::Statement, dialect::MySqlDialect, parser::Parser};

use crate::{
    error::SqlError,
    model::{BackupRequest, Cluster},
    sim::Simulator,
    sql::{
        admin::{self, Admin},
        leading_words,
        select::{self, Catalog},
        show, split_statements,
        value::Table,
        variables::Variables,
    },
    tenancy::{self, Login},
    views,
};

/// A cluster shared by every connection to it.
pub type SharedCluster = Arc<Mutex<Cluster>>;

/// What one statement produced.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Done; no rows (DDL, ALTER SYSTEM, SET …).
    Done { affected_rows: u64 },
    /// Rows, from the named view (empty for a SELECT without FROM).
    Rows { table: Table, source: String },
}

/// Per-connection state: who logged in, and what OceanBase scopes to the connection.
pub struct Session {
    cluster: SharedCluster,
    /// Every cluster of the simulator: where restores look for their source backups.
    simulator: Arc<Simulator>,
    /// The user and tenant this session logged in as.
    login: Login,
    /// System and user variables.
    variables: Variables,
    /// `SET ENCRYPTION ON IDENTIFIED BY … ONLY`: applies to later BACKUP statements of this session only.
    pub encryption: Option<String>,
    /// `SET DECRYPTION IDENTIFIED BY …`: applies to later RESTORE statements of this session only.
    pub decryption: Vec<String>,
}

impl Session {
    /// A session of `login` on the cluster.
    pub fn new(cluster: SharedCluster, simulator: Arc<Simulator>, login: Login) -> Self {
        let version = cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .version
            .to_string();
        Self {
            cluster,
            simulator,
            login,
            variables: Variables::new(&version),
            encryption: None,
            decryption: Vec::new(),
        }
    }

    /// Whether the session commits each statement (`SET autocommit`), for the status flags of replies.
    pub fn autocommit(&self) -> bool {
        self.variables.autocommit()
    }

    fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        let mut cluster = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        cluster.advance();
        cluster
    }

    /// Runs every statement of a packet in order, stopping at the first error (as MySQL does).
    pub fn execute(&mut self, sql: &str) -> Vec<Result<Outcome, SqlError>> {
        let statements = match split_statements(sql) {
            Ok(statements) => statements,
            Err(e) => return vec![Err(e)],
        };
        if statements.is_empty() {
            return vec![Err(SqlError::oceanbase(1065, "Query was empty"))];
        }
        let mut outcomes = Vec::new();
        for statement in statements {
            let outcome = self.execute_one(&statement);
            let failed = outcome.is_err();
            outcomes.push(outcome);
            if failed {
                break;
            }
        }
        outcomes
    }

    fn execute_one(&mut self, sql: &str) -> Result<Outcome, SqlError> {
        let words = leading_words(sql, 2);
        if admin::is_admin(&words) {
            return self.admin(tenancy::scoped(admin::parse(sql)?, &self.login)?);
        }
        let done = Ok(Outcome::Done { affected_rows: 0 });
        match words.first().map(String::as_str) {
            Some("SELECT" | "WITH" | "(") => self.select(sql),
            // Drivers and the mysql client tune their session on connect.
            Some("SET") => self.variables.set(sql).and(done),
            Some("SHOW") => {
                let cluster = self.cluster();
                let parameters = || views::parameters::show(&cluster, self.login.tenant_id);
                let sources = show::Sources {
                    parameters: &parameters,
                    parameters_like_column: views::parameters::SHOW_LIKE_COLUMN,
                };
                Ok(Outcome::Rows {
                    table: show::run(sql, &self.variables, cluster.now(), &sources)?,
                    source: String::new(),
                })
            }
            Some("USE" | "BEGIN" | "COMMIT" | "ROLLBACK" | "START") => done,
            Some("ALTER") if words.get(1).map(String::as_str) == Some("SYSTEM") => Err(
                SqlError::not_supported("this ALTER SYSTEM statement in obsim so far"),
            ),
            _ => match Parser::parse_sql(&MySqlDialect {}, sql) {
                Err(e) => Err(SqlError::syntax(e)),
                Ok(_) => Err(SqlError::not_supported("this statement")),
            },
        }
    }

    fn select(&mut self, sql: &str) -> Result<Outcome, SqlError> {
        let statements = Parser::parse_sql(&MySqlDialect {}, sql).map_err(SqlError::syntax)?;
        let [Statement::Query(query)] = statements.as_slice() else {
            return Err(SqlError::not_supported("this statement"));
        };
        let cluster = self.cluster();
        let catalog = ClusterCatalog {
            cluster: &cluster,
            tenant_id: self.login.tenant_id,
            variables: &self.variables,
        };
        let result = select::run(query, &catalog)?;
        Ok(Outcome::Rows {
            table: result.table,
            source: result.source,
        })
    }
}

impl Session {
    fn admin(&mut self, statement: Admin) -> Result<Outcome, SqlError> {
        let done = Ok(Outcome::Done { affected_rows: 0 });
        match statement {
            Admin::SetEncryption { password } => {
                self.encryption = Some(password);
                done
            }
            Admin::SetDecryption { passwords } => {
                self.decryption = passwords;
                done
            }
            Admin::User {
                name,
                password,
                change,
                if_exists,
            } => {
                let result = self
                    .cluster()
                    .set_user(&self.login.tenant, &name, &password, change);
                match result {
                    Err(e) if if_exists && e.code == 1396 => done,
                    other => other.and(done),
                }
            }
            Admin::SetParameter {
                name,
                value,
                tenant,
            } => {
                self.cluster()
                    .set_parameter(&name, &value, tenant.as_deref())?;
                done
            }
            Admin::ArchiveLog { enable, tenants } => {
                self.cluster().archive_mode(enable, tenants.as_deref())?;
                done
            }
            Admin::Backup {
                incremental,
                tenants,
                to,
                plus_archivelog,
                description,
            } => {
                let request = BackupRequest {
                    incremental,
                    tenants,
                    to,
                    plus_archivelog,
                    description,
                    password: self.encryption.clone(),
                    inside_tenant: !self.login.is_sys(),
                };
                self.cluster().backup(request)?;
                done
            }
            Admin::CancelBackup { tenants } => {
                self.cluster().cancel_backup(tenants.as_deref())?;
                done
            }
            Admin::AddDeletePolicy {
                name,
                recovery_window,
                tenant,
            } => {
                self.cluster().add_delete_policy(
                    &name,
                    recovery_window.as_deref(),
                    tenant.as_deref(),
                )?;
                done
            }
            Admin::DropDeletePolicy { name, tenant } => {
                self.cluster()
                    .drop_delete_policy(&name, tenant.as_deref())?;
                done
            }
            Admin::CancelDelete { tenants } => {
                self.cluster().cancel_delete(tenants.as_deref())?;
                done
            }
            Admin::DeleteBackup { target, tenants } => {
                self.cluster()
                    .delete_backup(target, tenants.as_deref(), !self.login.is_sys())?;
                done
            }
            Admin::Restore(statement) => {
                // Gather the source backups first: that locks clusters one at a time, this one included.
                let media = self.simulator.restore_media(&statement.from);
                let passwords = self.decryption.clone();
                self.cluster().restore(statement, media, &passwords)?;
                done
            }
            Admin::CancelRestore { tenant } => {
                self.cluster().cancel_restore(&tenant)?;
                done
            }
            Admin::ActivateStandby { tenant } => {
                self.cluster().activate_standby(tenant.as_deref())?;
                done
            }
            Admin::RecoverStandby { tenant } => {
                self.cluster().recover_standby(tenant.as_deref())?;
                done
            }
            Admin::CreateUnit {
                name,
                if_not_exists,
                options,
            } => {
                self.cluster().create_unit(&name, if_not_exists, &options)?;
                done
            }
            Admin::CreatePool {
                name,
                if_not_exists,
                options,
            } => {
                self.cluster().create_pool(&name, if_not_exists, &options)?;
                done
            }
            Admin::DropTenant {
                name,
                if_exists,
                force,
            } => {
                self.cluster().drop_tenant(&name, if_exists, force)?;
                done
            }
            Admin::DropResource {
                pool,
                name,
                if_exists,
            } => {
                self.cluster().drop_resource(pool, &name, if_exists)?;
                done
            }
        }
    }
}

struct ClusterCatalog<'a> {
    cluster: &'a Cluster,
    /// The session's tenant: which views exist and whose rows `DBA_` views show.
    tenant_id: i64,
    variables: &'a Variables,
}

impl Catalog for ClusterCatalog<'_> {
    fn view(&self, name: &str) -> Option<Table> {
        views::view(self.cluster, name, self.tenant_id)
    }

    fn now(&self) -> jiff::Timestamp {
        self.cluster.now()
    }

    fn version(&self) -> String {
        self.cluster.version.to_string()
    }

    fn variables(&self) -> &Variables {
        self.variables
    }
}
