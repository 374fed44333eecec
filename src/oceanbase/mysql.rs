//! [`OceanBase`] on `mysql_async`: one connection pool per cluster for reads, a dedicated session for each
//! batch of administrative statements (so session state such as `SET ENCRYPTION` applies to exactly the
//! statements after it and dies with the session), TLS when a CA is given, connect and query timeouts, and
//! every error redacted.

use std::sync::atomic::{AtomicU64, Ordering};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use mysql_async::{Conn, Opts, Pool, Row, prelude::Queryable};

use crate::timing::{BATCH_TIMEOUT, CONNECT_TIMEOUT, QUERY_TIMEOUT};

use super::{
    ArchiveDest, ArchiveRound, BackupJobRow, BackupProgress, BackupSetRow, CleanJobRow, Connect,
    ConnectionInfo, ObError, OceanBase, PieceRow, Redactor, RestoreJobRow, Snapshot,
    SnapshotRequest, TenantRow,
    redact::strip_keys,
    sql,
    views::{self, Fields},
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
}

impl MysqlCluster {
    /// Bytes of SQL text its reads have sent so far (a snapshot's cost on the wire).
    pub fn read_bytes(&self) -> u64 {
        self.read_bytes.load(Ordering::Relaxed)
    }

    /// A cluster client (connections are made lazily). `secrets` are extra values to redact from errors,
    /// e.g. backup passwords and access keys this client will send.
    pub fn new(info: &ConnectionInfo, secrets: impl IntoIterator<Item = String>) -> Self {
        // Times in views (TIMESTAMP columns) come back in UTC.
        let builder = info.pool_opts(vec!["SET time_zone = '+00:00'".to_string()], 4);
        let opts: Opts = builder.into();
        Self {
            pool: Pool::new(opts.clone()),
            opts,
            redactor: Redactor::new([info.password.clone()].into_iter().chain(secrets)),
            version: std::sync::OnceLock::new(),
            round_trips: AtomicU64::new(0),
            read_bytes: AtomicU64::new(0),
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
        let descriptions = request.descriptions;
        let mut conn = self.pooled().await?;
        let conn = &mut conn;
        let version = self.version(conn).await?;
        let tenants = self.tenants(conn).await?;
        let rounds = self.rounds(conn).await?;
        let archive_dests = self.archive_dests(conn).await?;
        let data_dests = self.data_dests(conn).await?;
        let jobs = self.backup_jobs(conn, &request).await?;
        let progress = self.backup_progress(conn).await?;
        let sets = self.backup_sets(conn).await?;
        let pieces = self.pieces(conn).await?;
        let delete_policies = self.delete_policies(conn).await?;
        let units = self.units(conn).await?;
        let clean_jobs = self.clean_jobs(conn, request.clean_since).await?;
        let restores = if request.restores || request.external.is_some() {
            self.restores(conn, &request).await?
        } else {
            Vec::new()
        };
        Ok(Snapshot {
            version,
            clean_jobs,
            restores,
            searched: descriptions.iter().cloned().collect(),
            restores_read: request.restores || request.external.is_some(),
            delete_policies,
            units,
            tenants,
            rounds,
            archive_dests,
            data_dests,
            jobs,
            progress,
            sets,
            pieces,
        })
    }

    /// `ob_version()`. It does not change under a live connection pool: read once.
    async fn version(&self, conn: &mut Conn) -> Result<String, ObError> {
        if let Some(version) = self.version.get() {
            return Ok(version.clone());
        }
        let version = self
            .rows(conn, "SELECT ob_version()")
            .await?
            .into_iter()
            .next()
            .and_then(|mut r| r.take_opt::<String, _>(0))
            .and_then(Result::ok)
            .unwrap_or_default();
        Ok(self.version.get_or_init(|| version).clone())
    }

    /// The user tenants.
    async fn tenants(&self, conn: &mut Conn) -> Result<Vec<TenantRow>, ObError> {
        self.read(
            conn,
            "DBA_OB_TENANTS",
            "SELECT tenant_id, tenant_name, status, tenant_role, log_mode FROM DBA_OB_TENANTS \
             WHERE tenant_type = 'USER'",
            views::tenant,
        )
        .await
    }

    /// Each tenant's current archive round.
    async fn rounds(&self, conn: &mut Conn) -> Result<Vec<ArchiveRound>, ObError> {
        let redactor = &self.redactor;
        self.read(
            conn,
            "CDB_OB_ARCHIVELOG",
            "SELECT tenant_id, round_id, status, start_scn, checkpoint_scn, path, comment \
             FROM CDB_OB_ARCHIVELOG",
            |f| views::round(f, redactor),
        )
        .await
    }

    /// Each tenant's log archive destination, gathered from its `(name, value)` rows.
    async fn archive_dests(&self, conn: &mut Conn) -> Result<Vec<(i64, ArchiveDest)>, ObError> {
        let dest_values = self
            .read(
                conn,
                "CDB_OB_ARCHIVE_DEST",
                "SELECT tenant_id, name, value FROM CDB_OB_ARCHIVE_DEST",
                |f| Ok((f.id("tenant_id")?, f.text("name")?, f.text("value")?)),
            )
            .await?;
        let mut archive_dests: Vec<(i64, ArchiveDest)> = Vec::new();
        for (tenant, name, value) in dest_values {
            let index = match archive_dests.iter().position(|(t, _)| *t == tenant) {
                Some(i) => i,
                None => {
                    archive_dests.push((tenant, ArchiveDest::default()));
                    archive_dests.len() - 1
                }
            };
            let dest = &mut archive_dests[index].1;
            match name.to_lowercase().as_str() {
                "path" => dest.path = strip_keys(&value),
                "binding" => dest.binding = super::vocabulary::State::of(&value),
                "piece_switch_interval" => dest.piece_switch_interval = value,
                "state" => dest.state = super::vocabulary::State::of(&value),
                _ => {}
            }
        }
        Ok(archive_dests)
    }

    /// Each tenant's `data_backup_dest`, without access keys.
    async fn data_dests(&self, conn: &mut Conn) -> Result<Vec<(i64, String)>, ObError> {
        self.read(
            conn,
            "CDB_OB_BACKUP_PARAMETER",
            "SELECT tenant_id, value FROM CDB_OB_BACKUP_PARAMETER WHERE name = 'data_backup_dest'",
            |f| Ok((f.id("tenant_id")?, strip_keys(&f.text("value")?))),
        )
        .await
    }

    /// The unfinished backup jobs, and the finished ones whose description the request names.
    async fn backup_jobs(
        &self,
        conn: &mut Conn,
        request: &SnapshotRequest<'_>,
    ) -> Result<Vec<BackupJobRow>, ObError> {
        const JOB_COLUMNS: &str = "tenant_id, job_id, backup_set_id, backup_type, status, result, comment, \
                                   description, path, start_timestamp, end_timestamp";
        let redactor = &self.redactor;
        let mut jobs: Vec<BackupJobRow> = self
            .read(
                conn,
                "CDB_OB_BACKUP_JOBS",
                &format!(
                    "SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOBS WHERE job_level = 'USER_TENANT'"
                ),
                |f| views::backup_job(f, redactor),
            )
            .await?;
        let wanted = Wanted::of(request, request.external.map(|e| e.jobs));
        if let Some(since) = wanted.since(request.jobs_ended_since) {
            let finished = self
                .read(
                    conn,
                    "CDB_OB_BACKUP_JOB_HISTORY",
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOB_HISTORY \
                         WHERE job_level = 'USER_TENANT' AND end_timestamp >= {}",
                        sql::literal(&utc_literal(since))?
                    ),
                    |f| views::backup_job(f, redactor),
                )
                .await?;
            jobs.extend(
                finished
                    .into_iter()
                    .filter(|j| wanted.keeps(&j.description, j.end)),
            );
        }
        Ok(jobs)
    }

    /// The progress of running backups.
    async fn backup_progress(&self, conn: &mut Conn) -> Result<Vec<BackupProgress>, ObError> {
        self.read(
            conn,
            "CDB_OB_BACKUP_TASKS",
            "SELECT tenant_id, job_id, input_bytes, output_bytes, tablet_count, finish_tablet_count, path \
             FROM CDB_OB_BACKUP_TASKS",
            views::backup_progress,
        )
        .await
    }

    /// The backup sets.
    async fn backup_sets(&self, conn: &mut Conn) -> Result<Vec<BackupSetRow>, ObError> {
        self.read(
            conn,
            "CDB_OB_BACKUP_SET_FILES",
            "SELECT tenant_id, backup_set_id, backup_type, status, file_status, input_bytes, output_bytes, \
             end_timestamp, path, prev_full_backup_set_id, prev_inc_backup_set_id, start_replay_scn, \
             min_restore_scn, tenant_compatible FROM CDB_OB_BACKUP_SET_FILES",
            views::backup_set,
        )
        .await
    }

    /// The archive pieces.
    async fn pieces(&self, conn: &mut Conn) -> Result<Vec<PieceRow>, ObError> {
        self.read(
            conn,
            "CDB_OB_ARCHIVELOG_PIECE_FILES",
            "SELECT tenant_id, dest_id, round_id, piece_id, status, start_scn, checkpoint_scn, file_status, \
             input_bytes, output_bytes, path FROM CDB_OB_ARCHIVELOG_PIECE_FILES",
            views::piece,
        )
        .await
    }

    /// The server of each tenant's units: (tenant id, server IP).
    async fn units(&self, conn: &mut Conn) -> Result<Vec<(i64, String)>, ObError> {
        self.read(
            conn,
            "DBA_OB_UNITS",
            "SELECT tenant_id, svr_ip FROM DBA_OB_UNITS",
            |f| Ok((f.id("tenant_id")?, f.text("svr_ip")?)),
        )
        .await
    }

    /// Each tenant's delete policy: (tenant id, name, recovery window).
    async fn delete_policies(
        &self,
        conn: &mut Conn,
    ) -> Result<Vec<(i64, String, String)>, ObError> {
        self.read(
            conn,
            "CDB_OB_BACKUP_DELETE_POLICY",
            "SELECT tenant_id, policy_name, recovery_window FROM CDB_OB_BACKUP_DELETE_POLICY",
            |f| {
                Ok((
                    f.id("tenant_id")?,
                    f.text("policy_name")?,
                    f.text("recovery_window")?,
                ))
            },
        )
        .await
    }

    /// The rows `query` reads from `view`, each decoded by `decode`; the first row that does not decode
    /// fails the read.
    async fn read<T>(
        &self,
        conn: &mut Conn,
        view: &'static str,
        query: &str,
        mut decode: impl FnMut(&mut Fields) -> Result<T, ObError>,
    ) -> Result<Vec<T>, ObError> {
        self.rows(conn, query)
            .await?
            .into_iter()
            .map(|row| decode(&mut Fields::new(view, row)))
            .collect::<Result<_, _>>()
            .inspect_err(|_| {
                self.errors.fetch_add(1, Ordering::Relaxed);
            })
    }

    /// Unfinished delete jobs, and the finished ones that ended at or after `since`
    /// (docs/reference/oceanbase-interface.md §5.3).
    async fn clean_jobs(
        &self,
        conn: &mut Conn,
        since: Timestamp,
    ) -> Result<Vec<CleanJobRow>, ObError> {
        const COLUMNS: &str = "tenant_id, job_id, initiator_tenant_id, type, \
                               parameter, status, task_count, success_task_count, result, comment, \
                               start_timestamp, end_timestamp";
        let since = utc_literal(since);
        let mut jobs: Vec<CleanJobRow> = Vec::new();
        for (view, query) in [
            (
                "CDB_OB_BACKUP_DELETE_JOBS",
                format!("SELECT {COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOBS"),
            ),
            (
                "CDB_OB_BACKUP_DELETE_JOB_HISTORY",
                format!(
                    "SELECT {COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY WHERE end_timestamp >= {}",
                    sql::literal(&since)?
                ),
            ),
        ] {
            let read = self
                .read(conn, view, &query, |f| views::clean_job(f, &self.redactor))
                .await?;
            for job in read {
                // A job moving to the history between the two reads: the history row wins.
                jobs.retain(|j| !(j.tenant_id == job.tenant_id && j.job_id == job.job_id));
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// The sys rows of running restores, and of finished ones with these descriptions
    /// (docs/reference/oceanbase-interface.md §6.3).
    async fn restores(
        &self,
        conn: &mut Conn,
        request: &SnapshotRequest<'_>,
    ) -> Result<Vec<RestoreJobRow>, ObError> {
        let mut rows = self
            .read(
                conn,
                "CDB_OB_RESTORE_PROGRESS",
                "SELECT job_id, restore_tenant_name, backup_tenant_name, backup_cluster_name, status, \
                 restore_scn, start_timestamp, total_bytes, finish_bytes, description \
                 FROM CDB_OB_RESTORE_PROGRESS WHERE tenant_id = 1",
                |f| views::restore(f, &self.redactor, false),
            )
            .await?;
        let wanted = Wanted::of(request, request.external.map(|e| e.restores));
        let mut filter = Vec::new();
        if !request.descriptions.is_empty() {
            let list = request
                .descriptions
                .iter()
                .map(|d| sql::literal(d))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ");
            filter.push(format!("description IN ({list})"));
        }
        if let Some(since) = wanted.external {
            filter.push(format!(
                "finish_timestamp >= {}",
                sql::literal(&utc_literal(since))?
            ));
        }
        if !filter.is_empty() {
            let finished = self
                .read(
                    conn,
                    "CDB_OB_RESTORE_HISTORY",
                    &format!(
                        "SELECT job_id, restore_tenant_name, backup_tenant_name, backup_cluster_name, status, \
                         restore_scn, start_timestamp, finish_timestamp, total_bytes, finish_bytes, description, \
                         comment FROM CDB_OB_RESTORE_HISTORY WHERE tenant_id = 1 AND ({})",
                        filter.join(" OR ")
                    ),
                    |f| views::restore(f, &self.redactor, true),
                )
                .await?;
            rows.extend(
                finished
                    .into_iter()
                    .filter(|r| wanted.keeps(&r.description, r.finish)),
            );
        }
        Ok(rows)
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

/// Which finished rows of a history view a read keeps: those whose description was asked for, and, when
/// the jobs started elsewhere are read too, theirs that ended at or after `external`.
struct Wanted<'a> {
    descriptions: std::collections::HashSet<&'a str>,
    external: Option<Timestamp>,
}

impl<'a> Wanted<'a> {
    fn of(request: &SnapshotRequest<'a>, external: Option<Timestamp>) -> Self {
        Self {
            descriptions: request.descriptions.iter().map(String::as_str).collect(),
            external,
        }
    }

    /// From when the history must be read (`asked`: for the described jobs); `None`: not at all.
    fn since(&self, asked: Timestamp) -> Option<Timestamp> {
        let asked = (!self.descriptions.is_empty()).then_some(asked);
        asked.into_iter().chain(self.external).min()
    }

    fn keeps(&self, description: &str, end: Option<Timestamp>) -> bool {
        self.descriptions.contains(description)
            || self.external.is_some_and(|since| {
                !crate::names::started_here(description) && end.is_some_and(|end| end >= since)
            })
    }
}

/// A time as the session (UTC) compares it with a timestamp column.
fn utc_literal(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}
