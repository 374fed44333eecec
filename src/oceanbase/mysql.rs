//! [`OceanBase`] on `mysql_async`: one connection pool per cluster for reads, a dedicated session for each
//! batch of administrative statements (so session state such as `SET ENCRYPTION` applies to exactly the
//! statements after it and dies with the session), TLS when a CA is given, connect and query timeouts, and
//! every error redacted.

use std::sync::atomic::{AtomicU64, Ordering};

use futures::{FutureExt, future::BoxFuture};
use mysql_async::{Conn, Opts, Pool, Row, prelude::Queryable};

use crate::timing::{BATCH_TIMEOUT, CONNECT_TIMEOUT, QUERY_TIMEOUT};

use super::{
    Connect, ConnectionInfo, ObError, OceanBase, Redactor, Snapshot, SnapshotRequest,
    snapshot_query::{LastQuery, SnapshotQuery},
    views,
};

/// Connects with [`MysqlCluster`].
#[derive(Clone, Copy, Debug, Default)]
pub struct MysqlConnect;

impl Connect for MysqlConnect {
    fn connect(&self, info: &ConnectionInfo) -> std::sync::Arc<dyn OceanBase> {
        std::sync::Arc::new(MysqlCluster::new(info, []))
    }
}

/// One OceanBase cluster reached through `mysql_async`.
pub struct MysqlCluster {
    opts: Opts,
    pool: Pool,
    redactor: Redactor,
    version: std::sync::OnceLock<String>,
    round_trips: AtomicU64,
    errors: AtomicU64,
    /// Bytes of SQL text sent by reads.
    read_bytes: AtomicU64,
    /// Statements sent by snapshot reads (several to a round trip).
    statements: AtomicU64,
    /// The last read's statements, sent again while the reads ask the same.
    last_query: LastQuery,
}

impl MysqlCluster {
    /// Bytes of SQL text its reads have sent so far (a snapshot's cost on the wire).
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    /// Statements its snapshot reads have sent so far; a snapshot sends them all in one round trip.
    pub fn snapshot_statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// A cluster client (connections are made lazily). `secrets` are extra values to redact from errors,
    /// e.g. backup passwords and access keys this client will send.
    pub fn new(info: &ConnectionInfo, secrets: impl IntoIterator<Item = String>) -> Self {
        // Times in views (TIMESTAMP columns) come back in UTC. One pooled connection, never reset (it only
        // reads): a cycle's reads are one round trip, so reads never need two at once (a batch has a session
        // of its own).
        let builder = info.read_pool_opts(vec!["SET time_zone = '+00:00'".to_string()], 1);
        let opts: Opts = builder.into();
        Self {
            pool: Pool::new(opts.clone()),
            opts,
            redactor: Redactor::new([info.password.clone()].into_iter().chain(secrets)),
            version: std::sync::OnceLock::new(),
            round_trips: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
            statements: AtomicU64::new(0),
            last_query: LastQuery::default(),
            errors: AtomicU64::new(0),
        }
    }

    fn error(&self, error: mysql_async::Error) -> ObError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        match error {
            mysql_async::Error::Server(e) => ObError::Server {
                code: e.code,
                message: self.redactor.redact(&e.message),
            },
            mysql_async::Error::Io(e) => ObError::Unreachable(self.redactor.redact(&e.to_string())),
            mysql_async::Error::Driver(e) => {
                ObError::Unreachable(self.redactor.redact(&e.to_string()))
            }
            other => ObError::Protocol(self.redactor.redact(&other.to_string())),
        }
    }

    fn timed_out(&self, what: &str) -> ObError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        ObError::Unreachable(format!("{what} timed out"))
    }

    async fn pooled(&self) -> Result<Conn, ObError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get_conn()).await {
            Ok(conn) => conn.map_err(|e| self.error(e)),
            Err(_) => Err(self.timed_out("connecting")),
        }
    }

    async fn rows(&self, conn: &mut Conn, query: &str) -> Result<Vec<Row>, ObError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.read_bytes
            .fetch_add(query.len() as u64, Ordering::Relaxed);
        match tokio::time::timeout(QUERY_TIMEOUT, conn.query(query)).await {
            Ok(rows) => rows.map_err(|e| self.error(e)),
            Err(_) => Err(self.timed_out("a query")),
        }
    }

    async fn read_identity(&self) -> Result<super::ClusterIdentity, ObError> {
        let mut conn = self.pooled().await?;
        let rows = self.rows(&mut conn, views::IDENTITY_QUERY).await?;
        let pairs = rows.into_iter().filter_map(|mut row| {
            let name = row.take_opt::<String, _>(0)?.ok()?;
            let value = row.take_opt::<String, _>(1)?.ok()?;
            Some((name, value))
        });
        views::identity(pairs)
    }

    async fn read_snapshot(&self, request: SnapshotRequest<'_>) -> Result<Snapshot, ObError> {
        let query =
            SnapshotQuery::reusing(request, self.version.get().is_some(), &self.last_query)?;
        let mut conn = self.pooled().await?;
        let sets = self.result_sets(&mut conn, query.text()).await?;
        self.statements
            .fetch_add(query.len() as u64, Ordering::Relaxed);
        let mut snapshot = query.decode(sets, &self.redactor).inspect_err(|_| {
            self.errors.fetch_add(1, Ordering::Relaxed);
        })?;
        match self.version.get() {
            Some(version) => snapshot.version = version.clone(),
            None => {
                let _ = self.version.set(snapshot.version.clone());
            }
        }
        Ok(snapshot)
    }

    /// Every result set of a multi-statement `text`, in order: one round trip.
    async fn result_sets(&self, conn: &mut Conn, text: &str) -> Result<Vec<Vec<Row>>, ObError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.read_bytes
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        let read = async {
            let mut result = conn.query_iter(text).await?;
            let mut sets = Vec::new();
            while !result.is_empty() {
                sets.push(result.collect::<Row>().await?);
            }
            // A statement that failed after the first is held as the query's pending error, which
            // `is_empty` does not show: draining the result returns it.
            result.drop_result().await?;
            Ok::<_, mysql_async::Error>(sets)
        };
        match tokio::time::timeout(QUERY_TIMEOUT, read).await {
            Ok(sets) => sets.map_err(|e| self.error(e)),
            Err(_) => Err(self.timed_out("a query")),
        }
    }

    /// Runs a batch on a session of its own, all of it within [`BATCH_TIMEOUT`] (which the submit grace
    /// is derived from): after that the client has given up on every statement of the batch.
    async fn run(&self, statements: &[String]) -> Result<(), ObError> {
        let deadline = tokio::time::Instant::now() + BATCH_TIMEOUT;
        let connect_by = deadline.min(tokio::time::Instant::now() + CONNECT_TIMEOUT);
        // A session of its own: its state (SET ENCRYPTION …) ends with it and never reaches a pooled read.
        let mut conn = match tokio::time::timeout_at(connect_by, Conn::new(self.opts.clone())).await
        {
            Ok(conn) => conn.map_err(|e| self.error(e))?,
            Err(_) => return Err(self.timed_out("connecting")),
        };
        let mut outcome = Ok(());
        for statement in statements {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout_at(deadline, conn.query_drop(statement)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    outcome = Err(self.error(e));
                    break;
                }
                Err(_) => {
                    outcome = Err(self.timed_out("a statement"));
                    break;
                }
            }
        }
        // Best effort: a session that cannot say goodbye is closed by dropping it.
        let _ = tokio::time::timeout(crate::timing::DISCONNECT_TIMEOUT, conn.disconnect()).await;
        outcome
    }
}

impl OceanBase for MysqlCluster {
    fn snapshot<'a>(
        &'a self,
        request: SnapshotRequest<'a>,
    ) -> BoxFuture<'a, Result<Snapshot, ObError>> {
        self.read_snapshot(request).boxed()
    }

    fn execute<'a>(&'a self, statements: &'a [String]) -> BoxFuture<'a, Result<(), ObError>> {
        self.run(statements).boxed()
    }

    fn identity(&self) -> BoxFuture<'_, Result<super::ClusterIdentity, ObError>> {
        self.read_identity().boxed()
    }

    fn round_trips(&self) -> (u64, u64) {
        (
            self.round_trips.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}
