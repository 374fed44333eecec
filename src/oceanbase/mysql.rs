//! [`OceanBase`] on `mysql_async`: one connection pool per cluster for reads, a dedicated session for each
//! batch of administrative statements (so session state such as `SET ENCRYPTION` applies to exactly the
//! statements after it and dies with the session), TLS when a CA is given, connect and query timeouts, and
//! every error redacted.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};
use jiff::Timestamp;
use mysql_async::{
    Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row, SslOpts, Value,
    prelude::Queryable,
};

use super::{
    ArchiveDest, ArchiveRound, BackupJobRow, BackupProgress, BackupSetRow, CleanJobRow,
    ConnectionInfo, ObError, OceanBase, PieceRow, Redactor, RestoreJobRow, Snapshot,
    SnapshotRequest, TenantRow, sql,
};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one statement may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

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
        let mut builder = OptsBuilder::default()
            .ip_or_hostname(info.host.clone())
            .tcp_port(info.port)
            .user(Some(info.user.clone()))
            .pass(Some(info.password.clone()))
            .prefer_socket(false)
            // Times in views come back in UTC.
            .init(vec!["SET time_zone = '+00:00'"])
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(PoolConstraints::new(0, 4).unwrap_or_default())
                    .with_inactive_connection_ttl(Duration::from_secs(60)),
            );
        if let Some(ca) = &info.ca_cert {
            builder = builder.ssl_opts(SslOpts::default().with_root_certs(vec![ca.clone().into()]));
        }
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

    async fn read_snapshot(&self, request: SnapshotRequest<'_>) -> Result<Snapshot, ObError> {
        let descriptions = request.descriptions;
        let mut conn = self.pooled().await?;
        // The version does not change under a live connection pool: read it once.
        let version = match self.version.get() {
            Some(version) => version.clone(),
            None => {
                let version = self
                    .rows(&mut conn, "SELECT ob_version()")
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|mut r| text(&mut r, 0))
                    .unwrap_or_default();
                self.version.get_or_init(|| version).clone()
            }
        };
        let tenants = self
            .rows(
                &mut conn,
                "SELECT tenant_id, tenant_name, status, tenant_role, log_mode FROM DBA_OB_TENANTS \
                 WHERE tenant_type = 'USER'",
            )
            .await?
            .into_iter()
            .map(|mut r| TenantRow {
                id: int(&mut r, 0),
                name: text(&mut r, 1).unwrap_or_default(),
                status: text(&mut r, 2).unwrap_or_default(),
                role: text(&mut r, 3).unwrap_or_default(),
                archivelog: text(&mut r, 4).as_deref() == Some("ARCHIVELOG"),
            })
            .collect();
        let rounds = self
            .rows(
                &mut conn,
                "SELECT tenant_id, round_id, status, start_scn, checkpoint_scn, path, comment \
                 FROM CDB_OB_ARCHIVELOG",
            )
            .await?
            .into_iter()
            .map(|mut r| ArchiveRound {
                tenant_id: int(&mut r, 0),
                round_id: int(&mut r, 1),
                status: text(&mut r, 2).unwrap_or_default(),
                start_scn: uint(&mut r, 3),
                checkpoint_scn: uint(&mut r, 4),
                path: strip_keys(&text(&mut r, 5).unwrap_or_default()),
                comment: self.redactor.redact(&text(&mut r, 6).unwrap_or_default()),
            })
            .collect();
        let mut archive_dests: Vec<(i64, ArchiveDest)> = Vec::new();
        for mut r in self
            .rows(
                &mut conn,
                "SELECT tenant_id, name, value FROM CDB_OB_ARCHIVE_DEST",
            )
            .await?
        {
            let tenant = int(&mut r, 0);
            let (name, value) = (
                text(&mut r, 1).unwrap_or_default(),
                text(&mut r, 2).unwrap_or_default(),
            );
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
                "binding" => dest.binding = value,
                "piece_switch_interval" => dest.piece_switch_interval = value,
                "state" => dest.state = value,
                _ => {}
            }
        }
        let data_dests = self
            .rows(
                &mut conn,
                "SELECT tenant_id, value FROM CDB_OB_BACKUP_PARAMETER WHERE name = 'data_backup_dest'",
            )
            .await?
            .into_iter()
            .map(|mut r| (int(&mut r, 0), strip_keys(&text(&mut r, 1).unwrap_or_default())))
            .collect();
        const JOB_COLUMNS: &str = "tenant_id, job_id, backup_set_id, backup_type, status, result, comment, \
                                   description, path, start_timestamp, end_timestamp";
        let mut jobs: Vec<BackupJobRow> = self
            .rows(
                &mut conn,
                &format!(
                    "SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOBS WHERE job_level = 'USER_TENANT'"
                ),
            )
            .await?
            .into_iter()
            .map(|r| self.job(r))
            .collect();
        if !descriptions.is_empty() {
            let wanted: std::collections::HashSet<&str> =
                descriptions.iter().map(String::as_str).collect();
            let finished = self
                .rows(
                    &mut conn,
                    &format!(
                        "SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOB_HISTORY \
                         WHERE job_level = 'USER_TENANT' AND end_timestamp >= {}",
                        sql::literal(&utc_literal(request.jobs_ended_since))?
                    ),
                )
                .await?;
            jobs.extend(
                finished
                    .into_iter()
                    .map(|r| self.job(r))
                    .filter(|j| wanted.contains(j.description.as_str())),
            );
        }
        let progress = self
            .rows(
                &mut conn,
                "SELECT tenant_id, job_id, input_bytes, output_bytes, tablet_count, finish_tablet_count, path \
                 FROM CDB_OB_BACKUP_TASKS",
            )
            .await?
            .into_iter()
            .map(|mut r| BackupProgress {
                tenant_id: int(&mut r, 0),
                job_id: int(&mut r, 1),
                input_bytes: int(&mut r, 2),
                output_bytes: int(&mut r, 3),
                tablet_count: int(&mut r, 4),
                finish_tablet_count: int(&mut r, 5),
                path: strip_keys(&text(&mut r, 6).unwrap_or_default()),
            })
            .collect();
        let sets = self
            .rows(
                &mut conn,
                "SELECT tenant_id, backup_set_id, backup_type, status, file_status, input_bytes, output_bytes, \
                 end_timestamp, path, prev_full_backup_set_id, prev_inc_backup_set_id, start_replay_scn, \
                 min_restore_scn FROM CDB_OB_BACKUP_SET_FILES",
            )
            .await?
            .into_iter()
            .map(|mut r| BackupSetRow {
                tenant_id: int(&mut r, 0),
                backup_set_id: int(&mut r, 1),
                backup_type: text(&mut r, 2).unwrap_or_default(),
                status: text(&mut r, 3).unwrap_or_default(),
                file_status: text(&mut r, 4).unwrap_or_default(),
                input_bytes: int(&mut r, 5),
                output_bytes: int(&mut r, 6),
                end: timestamp(&mut r, 7),
                path: strip_keys(&text(&mut r, 8).unwrap_or_default()),
                prev_full_backup_set_id: int(&mut r, 9),
                prev_inc_backup_set_id: int(&mut r, 10),
                start_replay_scn: uint(&mut r, 11),
                min_restore_scn: uint(&mut r, 12),
            })
            .collect();
        let pieces = self
            .rows(
                &mut conn,
                "SELECT tenant_id, round_id, piece_id, status, start_scn, checkpoint_scn, file_status, \
                 input_bytes, output_bytes, path FROM CDB_OB_ARCHIVELOG_PIECE_FILES",
            )
            .await?
            .into_iter()
            .map(|mut r| PieceRow {
                tenant_id: int(&mut r, 0),
                round_id: int(&mut r, 1),
                piece_id: int(&mut r, 2),
                status: text(&mut r, 3).unwrap_or_default(),
                start_scn: uint(&mut r, 4),
                checkpoint_scn: uint(&mut r, 5),
                file_status: text(&mut r, 6).unwrap_or_default(),
                input_bytes: int(&mut r, 7),
                output_bytes: int(&mut r, 8),
                path: text(&mut r, 9).unwrap_or_default(),
            })
            .collect();
        let delete_policies = self
            .rows(
                &mut conn,
                "SELECT tenant_id, policy_name, recovery_window FROM CDB_OB_BACKUP_DELETE_POLICY",
            )
            .await?
            .into_iter()
            .map(|mut r| {
                (
                    int(&mut r, 0),
                    text(&mut r, 1).unwrap_or_default(),
                    text(&mut r, 2).unwrap_or_default(),
                )
            })
            .collect();
        let clean_jobs = self.clean_jobs(&mut conn, request.clean_since).await?;
        let restores = if request.restores {
            self.restores(&mut conn, descriptions).await?
        } else {
            Vec::new()
        };
        Ok(Snapshot {
            version,
            clean_jobs,
            restores,
            searched: descriptions.iter().cloned().collect(),
            restores_read: request.restores,
            delete_policies,
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

    /// Unfinished delete jobs, and the finished ones that ended at or after `since` (reference §5.3).
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
        for query in [
            format!("SELECT {COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOBS"),
            format!(
                "SELECT {COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY WHERE end_timestamp >= {}",
                sql::literal(&since)?
            ),
        ] {
            for mut r in self.rows(conn, &query).await? {
                let job = CleanJobRow {
                    tenant_id: int(&mut r, 0),
                    job_id: int(&mut r, 1),
                    initiator_tenant_id: int(&mut r, 2),
                    kind: text(&mut r, 3).unwrap_or_default(),
                    parameter: text(&mut r, 4).map_or(0, |p| delete_parameter(&p)),
                    status: text(&mut r, 5).unwrap_or_default(),
                    task_count: int(&mut r, 6),
                    success_task_count: int(&mut r, 7),
                    result: int(&mut r, 8),
                    comment: self.redactor.redact(&text(&mut r, 9).unwrap_or_default()),
                    start: timestamp(&mut r, 10),
                    end: timestamp(&mut r, 11),
                };
                // A job moving to the history between the two reads: the history row wins.
                jobs.retain(|j| !(j.tenant_id == job.tenant_id && j.job_id == job.job_id));
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// The sys rows of running restores, and of finished ones with these descriptions (reference §6.3).
    async fn restores(
        &self,
        conn: &mut Conn,
        descriptions: &[String],
    ) -> Result<Vec<RestoreJobRow>, ObError> {
        let mut rows: Vec<RestoreJobRow> = self
            .rows(
                conn,
                "SELECT job_id, restore_tenant_name, status, restore_scn, start_timestamp, total_bytes, \
                 finish_bytes, description FROM CDB_OB_RESTORE_PROGRESS WHERE tenant_id = 1",
            )
            .await?
            .into_iter()
            .map(|mut r| RestoreJobRow {
                job_id: int(&mut r, 0),
                tenant_name: text(&mut r, 1).unwrap_or_default(),
                status: text(&mut r, 2).unwrap_or_default(),
                restore_scn: uint(&mut r, 3),
                start: timestamp(&mut r, 4),
                finish: None,
                total_bytes: int(&mut r, 5),
                finish_bytes: int(&mut r, 6),
                description: text(&mut r, 7).unwrap_or_default(),
                comment: String::new(),
                finished: false,
            })
            .collect();
        if !descriptions.is_empty() {
            let list = descriptions
                .iter()
                .map(|d| sql::literal(d))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ");
            let finished = self
                .rows(
                    conn,
                    &format!(
                        "SELECT job_id, restore_tenant_name, status, restore_scn, start_timestamp, \
                         finish_timestamp, total_bytes, finish_bytes, description, comment \
                         FROM CDB_OB_RESTORE_HISTORY WHERE tenant_id = 1 AND description IN ({list})"
                    ),
                )
                .await?;
            rows.extend(finished.into_iter().map(|mut r| RestoreJobRow {
                job_id: int(&mut r, 0),
                tenant_name: text(&mut r, 1).unwrap_or_default(),
                status: text(&mut r, 2).unwrap_or_default(),
                restore_scn: uint(&mut r, 3),
                start: timestamp(&mut r, 4),
                finish: timestamp(&mut r, 5),
                total_bytes: int(&mut r, 6),
                finish_bytes: int(&mut r, 7),
                description: text(&mut r, 8).unwrap_or_default(),
                comment: self.redactor.redact(&text(&mut r, 9).unwrap_or_default()),
                finished: true,
            }));
        }
        Ok(rows)
    }

    fn job(&self, mut r: Row) -> BackupJobRow {
        BackupJobRow {
            tenant_id: int(&mut r, 0),
            job_id: int(&mut r, 1),
            backup_set_id: int(&mut r, 2),
            backup_type: text(&mut r, 3).unwrap_or_default(),
            status: text(&mut r, 4).unwrap_or_default(),
            result: int(&mut r, 5),
            comment: self.redactor.redact(&text(&mut r, 6).unwrap_or_default()),
            description: text(&mut r, 7).unwrap_or_default(),
            path: strip_keys(&text(&mut r, 8).unwrap_or_default()),
            start: timestamp(&mut r, 9),
            end: timestamp(&mut r, 10),
        }
    }

    async fn run(&self, statements: &[String]) -> Result<(), ObError> {
        // A session of its own: its state (SET ENCRYPTION …) ends with it and never reaches a pooled read.
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(self.opts.clone())).await {
                Ok(conn) => conn.map_err(|e| self.error(e))?,
                Err(_) => return Err(self.timed_out("connecting")),
            };
        let mut outcome = Ok(());
        for statement in statements {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match tokio::time::timeout(QUERY_TIMEOUT, conn.query_drop(statement)).await {
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
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.disconnect()).await;
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

    fn round_trips(&self) -> (u64, u64) {
        (
            self.round_trips.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

fn text(row: &mut Row, index: usize) -> Option<String> {
    match row.take::<Value, _>(index)? {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

fn int(row: &mut Row, index: usize) -> i64 {
    text(row, index)
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

fn uint(row: &mut Row, index: usize) -> u64 {
    text(row, index)
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

/// A delete job's `PARAMETER` as the number it stores (microseconds, or a set or piece id): the older schema
/// shows it as a time (`USEC_TO_TIME(PARAMETER)`, in the session's UTC), the newest as a varchar holding the
/// number (reference §14). 0 when it reads as neither.
fn delete_parameter(text: &str) -> i64 {
    if let Ok(number) = text.trim().parse::<i64>() {
        return number;
    }
    text.trim()
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|civil| civil.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map_or(0, |z| z.timestamp().as_microsecond())
}

/// A time as the session (UTC) compares it with a timestamp column.
fn utc_literal(at: Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A `DATETIME` read in UTC (the session's time zone).
fn timestamp(row: &mut Row, index: usize) -> Option<Timestamp> {
    let civil: jiff::civil::DateTime = text(row, index)?.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// A destination as the operator records it: without `access_id` / `access_key` and without a user part.
pub fn strip_keys(uri: &str) -> String {
    let mut uri = uri.to_string();
    if let Some(range) = super::sql::user_part(&uri) {
        uri.replace_range(range, "");
    }
    let Some((base, query)) = uri.split_once('?') else {
        return uri;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default().to_lowercase();
            key != "access_id" && key != "access_key"
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delete_parameter_reads_in_either_schemas_form() {
        // Older schema: USEC_TO_TIME(PARAMETER), a time in the session's UTC — also for a set id.
        assert_eq!(delete_parameter("1970-01-01 00:00:00.000003"), 3);
        assert_eq!(
            delete_parameter("2025-11-20 00:53:20.000000"),
            1_763_600_000_000_000
        );
        // Newest schema: the stored number as a varchar.
        assert_eq!(delete_parameter("3"), 3);
        assert_eq!(delete_parameter("1763600000000000"), 1_763_600_000_000_000);
        assert_eq!(delete_parameter("not a parameter"), 0);
    }

    #[test]
    fn a_user_part_is_stripped_from_recorded_destinations() {
        assert_eq!(
            strip_keys("oss://ID:KEY@bucket/p?host=h&access_id=A"),
            "oss://bucket/p?host=h"
        );
        assert_eq!(strip_keys("file:///backup/a@b"), "file:///backup/a@b");
    }

    #[test]
    fn keys_are_stripped_from_recorded_destinations() {
        assert_eq!(
            strip_keys("oss://b/p?host=h&access_id=A&access_key=K"),
            "oss://b/p?host=h"
        );
        assert_eq!(
            strip_keys("oss://b/p?access_id=A&access_key=K"),
            "oss://b/p"
        );
        assert_eq!(strip_keys("file:///backup"), "file:///backup");
    }
}
