//! Connections of a dump or restore: a pool of at most `parallel` sessions of the tenant's user, each set to
//! UTC (a `TIMESTAMP` reads and loads as the same instant), utf8mb4 and a query timeout long enough for a
//! chunk; every error redacted.

use mysql_async::{
    Conn, Opts, Params, Pool, Row,
    prelude::{FromRow, Queryable},
};

use crate::{
    oceanbase::{ConnectionInfo, Redactor},
    timing::CONNECT_TIMEOUT,
};

use super::{LogicalError, names::NameCase};

/// How long one statement (a chunk's read or one INSERT) may run: OceanBase's default is 10 s.
const STATEMENT_TIMEOUT_US: u64 = 3_600_000_000;

pub(crate) struct Sessions {
    pool: Pool,
    pub(crate) redactor: Redactor,
}

impl Sessions {
    /// Sessions that may change their state (a load's `USE`, `SET foreign_key_checks`): each is reset when
    /// it goes back to the pool.
    pub(crate) fn new(info: &ConnectionInfo, parallel: usize) -> Self {
        Self::with(info, info.pool_opts(Self::setup(), parallel))
    }

    /// Sessions that only read (a dump, a verification) and change nothing in their state after the setup:
    /// never reset. A reset costs seekdb about 4 ms of CPU a borrowed session (`COM_RESET_CONNECTION`, the
    /// setup's four statements again, and the chunk's statement prepared again, the reset having dropped
    /// it): 0.3 CPU-s for 84 chunks, next to 0.85 for reading their 800 000 rows
    /// (docs/contributing/benchmarks.md).
    pub(crate) fn reading(info: &ConnectionInfo, parallel: usize) -> Self {
        Self::with(info, info.read_pool_opts(Self::setup(), parallel))
    }

    fn setup() -> Vec<String> {
        vec![
            "SET NAMES utf8mb4".to_string(),
            "SET time_zone = '+00:00'".to_string(),
            format!("SET ob_query_timeout = {STATEMENT_TIMEOUT_US}"),
            format!("SET ob_trx_timeout = {STATEMENT_TIMEOUT_US}"),
        ]
    }

    fn with(info: &ConnectionInfo, builder: mysql_async::OptsBuilder) -> Self {
        let opts: Opts = builder.into();
        Self {
            pool: Pool::new(opts),
            redactor: Redactor::new([info.password.clone()]),
        }
    }

    pub(crate) fn error(&self, error: mysql_async::Error) -> LogicalError {
        LogicalError::from_mysql(error, &self.redactor)
    }

    pub(crate) async fn conn(&self) -> Result<Conn, LogicalError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get_conn()).await {
            Ok(conn) => conn.map_err(|e| self.error(e)),
            Err(_) => Err(LogicalError::Unreachable("connecting timed out".into())),
        }
    }

    /// Every row of a statement with parameters (binary protocol).
    pub(crate) async fn rows<T: FromRow + Send + 'static>(
        &self,
        conn: &mut Conn,
        statement: &str,
        params: impl Into<Params> + Send,
    ) -> Result<Vec<T>, LogicalError> {
        conn.exec(statement, params)
            .await
            .map_err(|e| self.error(e))
    }

    /// Every row of a statement without parameters (text protocol: `SHOW` statements).
    pub(crate) async fn query(
        &self,
        conn: &mut Conn,
        statement: &str,
    ) -> Result<Vec<Row>, LogicalError> {
        conn.query(statement).await.map_err(|e| self.error(e))
    }

    pub(crate) async fn execute(
        &self,
        conn: &mut Conn,
        statement: &str,
    ) -> Result<u64, LogicalError> {
        self.execute_bytes(conn, statement.as_bytes()).await
    }

    /// Runs a statement given as the bytes it is sent as (a dump's lines, sent without a conversion).
    pub(crate) async fn execute_bytes(
        &self,
        conn: &mut Conn,
        statement: &[u8],
    ) -> Result<u64, LogicalError> {
        conn.query_drop(statement)
            .await
            .map_err(|e| self.error(e))?;
        Ok(conn.affected_rows())
    }

    /// How the engine compares database and table names (`lower_case_table_names`).
    pub(crate) async fn name_case(&self, conn: &mut Conn) -> Result<NameCase, LogicalError> {
        let setting: Vec<i64> = self
            .rows(conn, "SELECT @@lower_case_table_names", ())
            .await?;
        let setting = setting.first().copied().ok_or_else(|| {
            LogicalError::Format("SELECT @@lower_case_table_names returned nothing".into())
        })?;
        Ok(NameCase::from_setting(setting))
    }

    pub(crate) async fn close(self) {
        let _ = self.pool.disconnect().await;
    }
}

/// The text of column `index` of a row (a `SHOW CREATE …` statement), or a format error naming `what`.
pub(crate) fn text_at(row: &Row, index: usize, what: &str) -> Result<String, LogicalError> {
    match row.as_ref(index) {
        Some(mysql_async::Value::Bytes(bytes)) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        _ => Err(LogicalError::Format(format!(
            "{what}: no text in column {index}"
        ))),
    }
}
