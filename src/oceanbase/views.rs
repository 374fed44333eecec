//! One reader per view: a row is decoded by column name (the two schema versions order columns
//! differently, docs/reference/oceanbase-interface.md §14) into the typed rows of [`super`]. A
//! missing column or a value of the wrong form is an error naming the view and the column — never a
//! plausible zero. NULL reads as absent: an empty text, no time, a count of 0 (views built by
//! pivoting, like the restore progress, leave numbers NULL or empty until they are known,
//! docs/reference/oceanbase-interface.md §6.3); only identifiers must be present.

use jiff::Timestamp;
use mysql_async::{Row, Value};

use super::{
    ArchiveRound, BackupJobRow, BackupProgress, BackupSetRow, CleanJobRow, ObError, PieceRow,
    Redactor, RestoreJobRow, TenantRow, paths, redact::strip_keys, vocabulary::State,
};

/// The cluster's identity parameters (one row per observer; they agree).
pub const IDENTITY_QUERY: &str =
    "SELECT name, value FROM GV$OB_PARAMETERS WHERE name IN ('cluster', 'cluster_id')";

/// The identity from `(name, value)` rows of [`IDENTITY_QUERY`]: an error when either parameter is missing
/// or `cluster_id` is not a number.
pub fn identity(
    rows: impl IntoIterator<Item = (String, String)>,
) -> Result<super::ClusterIdentity, ObError> {
    let (mut name, mut id) = (None, None);
    for (parameter, value) in rows {
        match parameter.to_ascii_lowercase().as_str() {
            "cluster" => name = Some(value),
            "cluster_id" => id = value.trim().parse::<i64>().ok(),
            _ => {}
        }
    }
    match (name, id) {
        (Some(name), Some(id)) => Ok(super::ClusterIdentity { name, id }),
        _ => Err(ObError::Protocol(
            "GV$OB_PARAMETERS: parameters cluster and cluster_id (a number) are missing".into(),
        )),
    }
}

/// One row of a view, read by column name.
pub struct Fields {
    view: &'static str,
    /// The result set's columns, shared by its rows (their names are not copied per row).
    columns: std::sync::Arc<[mysql_async::Column]>,
    /// Taken as they are read.
    values: Vec<Option<Value>>,
}

/// A text column named `name`, as a test builds a row.
#[cfg(test)]
fn column(name: &str) -> mysql_async::Column {
    mysql_async::Column::new(mysql_async::consts::ColumnType::MYSQL_TYPE_VAR_STRING)
        .with_name(name.as_bytes())
}

impl Fields {
    /// The row `row` of `view` (the name is for errors).
    pub fn new(view: &'static str, row: Row) -> Self {
        Self {
            view,
            columns: row.columns(),
            values: row.unwrap_raw(),
        }
    }

    /// A row of named values.
    #[cfg(test)]
    pub fn of(view: &'static str, values: &[(&str, Value)]) -> Self {
        Self {
            view,
            columns: values.iter().map(|(name, _)| column(name)).collect(),
            values: values
                .iter()
                .map(|(_, value)| Some(value.clone()))
                .collect(),
        }
    }

    /// The columns, as a test reorders or drops them.
    #[cfg(test)]
    fn edit_columns(
        &mut self,
        edit: impl FnOnce(&mut Vec<mysql_async::Column>, &mut Vec<Option<Value>>),
    ) {
        let mut columns = self.columns.to_vec();
        edit(&mut columns, &mut self.values);
        self.columns = columns.into();
    }

    fn malformed(&self, column: &str, why: impl std::fmt::Display) -> ObError {
        ObError::Protocol(format!("{}.{column}: {why}", self.view))
    }

    /// The value as text, `None` for NULL.
    fn raw(&mut self, column: &str) -> Result<Option<String>, ObError> {
        let index = self
            .columns
            .iter()
            .position(|c| c.name_ref().eq_ignore_ascii_case(column.as_bytes()))
            .ok_or_else(|| self.malformed(column, "no such column"))?;
        match self.values.get_mut(index).and_then(Option::take) {
            None => Err(self.malformed(column, "read twice")),
            Some(Value::NULL) => Ok(None),
            Some(Value::Bytes(bytes)) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| self.malformed(column, "not UTF-8")),
            Some(other) => Ok(Some(other.as_sql(true).trim_matches('\'').to_string())),
        }
    }

    /// A text column; NULL reads as empty.
    pub fn text(&mut self, column: &str) -> Result<String, ObError> {
        Ok(self.raw(column)?.unwrap_or_default())
    }

    /// A text column parsed into one of [`super::vocabulary`]'s types (NULL is the empty `Other`).
    pub fn state<T: State>(&mut self, column: &str) -> Result<T, ObError> {
        Ok(T::of(&self.text(column)?))
    }

    /// A number, `None` when NULL or empty; anything else that is not a number is an error.
    fn number<N: std::str::FromStr>(&mut self, column: &str) -> Result<Option<N>, ObError> {
        match self.raw(column)? {
            None => Ok(None),
            Some(text) if text.trim().is_empty() => Ok(None),
            Some(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.malformed(column, format!("{text:?} is not a number"))),
        }
    }

    /// An identifier: must be a number.
    pub fn id(&mut self, column: &str) -> Result<i64, ObError> {
        self.number(column)?
            .ok_or_else(|| self.malformed(column, "NULL where an id must be"))
    }

    /// A count, a size or a code; NULL reads as 0.
    pub fn int(&mut self, column: &str) -> Result<i64, ObError> {
        Ok(self.number(column)?.unwrap_or_default())
    }

    /// An SCN; NULL reads as 0.
    pub fn scn(&mut self, column: &str) -> Result<u64, ObError> {
        Ok(self.number(column)?.unwrap_or_default())
    }

    /// A `TIMESTAMP` / `DATETIME` in the session's time zone (UTC); NULL or empty reads as none.
    pub fn time(&mut self, column: &str) -> Result<Option<Timestamp>, ObError> {
        let Some(text) = self.raw(column)?.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        utc_time(&text)
            .map(Some)
            .ok_or_else(|| self.malformed(column, format!("{text:?} is not a time")))
    }

    /// A delete job's `PARAMETER` as the number it stores (microseconds, or a set or piece id): the older
    /// schema shows it as a time (`USEC_TO_TIME(PARAMETER)`), the newest as a varchar holding the number
    /// (docs/reference/oceanbase-interface.md §14).
    pub fn delete_parameter(&mut self, column: &str) -> Result<i64, ObError> {
        let text = self.text(column)?;
        delete_parameter(&text).ok_or_else(|| {
            self.malformed(column, format!("{text:?} is neither a number nor a time"))
        })
    }
}

/// A time as the session (UTC) shows it.
fn utc_time(text: &str) -> Option<Timestamp> {
    let civil: jiff::civil::DateTime = text.trim().parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// See [`Fields::delete_parameter`].
fn delete_parameter(text: &str) -> Option<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .or_else(|| utc_time(text).map(|t| t.as_microsecond()))
}

/// `DBA_OB_TENANTS`.
pub fn tenant(f: &mut Fields) -> Result<TenantRow, ObError> {
    Ok(TenantRow {
        id: f.id("tenant_id")?,
        name: f.text("tenant_name")?,
        status: f.state("status")?,
        role: f.state("tenant_role")?,
        archivelog: f.text("log_mode")? == "ARCHIVELOG",
    })
}

/// `CDB_OB_ARCHIVELOG`.
pub fn round(f: &mut Fields, redactor: &Redactor) -> Result<ArchiveRound, ObError> {
    Ok(ArchiveRound {
        tenant_id: f.id("tenant_id")?,
        round_id: f.id("round_id")?,
        status: f.state("status")?,
        start_scn: f.scn("start_scn")?,
        checkpoint_scn: f.scn("checkpoint_scn")?,
        path: strip_keys(&f.text("path")?),
        comment: redactor.redact(&f.text("comment")?),
    })
}

/// `CDB_OB_BACKUP_JOBS` and `_HISTORY`.
pub fn backup_job(f: &mut Fields, redactor: &Redactor) -> Result<BackupJobRow, ObError> {
    Ok(BackupJobRow {
        tenant_id: f.id("tenant_id")?,
        job_id: f.id("job_id")?,
        // NULL until the job has a set.
        backup_set_id: f.int("backup_set_id")?,
        backup_type: f.state("backup_type")?,
        status: f.state("status")?,
        result: f.int("result")?,
        comment: redactor.redact(&f.text("comment")?),
        description: f.text("description")?,
        path: strip_keys(&f.text("path")?),
        start: f.time("start_timestamp")?,
        end: f.time("end_timestamp")?,
    })
}

/// `CDB_OB_BACKUP_TASKS`.
pub fn backup_progress(f: &mut Fields) -> Result<BackupProgress, ObError> {
    Ok(BackupProgress {
        tenant_id: f.id("tenant_id")?,
        job_id: f.id("job_id")?,
        input_bytes: f.int("input_bytes")?,
        output_bytes: f.int("output_bytes")?,
        tablet_count: f.int("tablet_count")?,
        finish_tablet_count: f.int("finish_tablet_count")?,
        path: strip_keys(&f.text("path")?),
    })
}

/// `CDB_OB_BACKUP_SET_FILES`.
/// `PATH` is read as the set's own directory, whether it names it or the destination holding it.
pub fn backup_set(f: &mut Fields) -> Result<BackupSetRow, ObError> {
    let backup_set_id = f.id("backup_set_id")?;
    let backup_type = f.state("backup_type")?;
    let path = strip_keys(&f.text("path")?);
    let path = match paths::set_dir_name(backup_set_id, &backup_type) {
        Some(name) => paths::directory_named(&path, &name),
        None => path,
    };
    Ok(BackupSetRow {
        tenant_id: f.id("tenant_id")?,
        backup_set_id,
        backup_type,
        status: f.state("status")?,
        file_status: f.state("file_status")?,
        input_bytes: f.int("input_bytes")?,
        output_bytes: f.int("output_bytes")?,
        end: f.time("end_timestamp")?,
        path,
        prev_full_backup_set_id: f.int("prev_full_backup_set_id")?,
        prev_inc_backup_set_id: f.int("prev_inc_backup_set_id")?,
        start_replay_scn: f.scn("start_replay_scn")?,
        min_restore_scn: f.scn("min_restore_scn")?,
        data_version: f.text("tenant_compatible")?,
    })
}

/// `CDB_OB_ARCHIVELOG_PIECE_FILES`; `PATH` is read as the piece's own directory, whether it names it or the
/// destination holding it.
pub fn piece(f: &mut Fields) -> Result<PieceRow, ObError> {
    let (round_id, piece_id) = (f.id("round_id")?, f.id("piece_id")?);
    let name = paths::piece_dir_name(f.id("dest_id")?, round_id, piece_id);
    Ok(PieceRow {
        tenant_id: f.id("tenant_id")?,
        round_id,
        piece_id,
        status: f.state("status")?,
        start_scn: f.scn("start_scn")?,
        checkpoint_scn: f.scn("checkpoint_scn")?,
        file_status: f.state("file_status")?,
        input_bytes: f.int("input_bytes")?,
        output_bytes: f.int("output_bytes")?,
        path: paths::directory_named(&strip_keys(&f.text("path")?), &name),
    })
}

/// `CDB_OB_BACKUP_DELETE_JOBS` and `_JOB_HISTORY`.
pub fn clean_job(f: &mut Fields, redactor: &Redactor) -> Result<CleanJobRow, ObError> {
    Ok(CleanJobRow {
        tenant_id: f.id("tenant_id")?,
        job_id: f.id("job_id")?,
        initiator_tenant_id: f.id("initiator_tenant_id")?,
        kind: f.state("type")?,
        parameter: f.delete_parameter("parameter")?,
        status: f.state("status")?,
        task_count: f.int("task_count")?,
        success_task_count: f.int("success_task_count")?,
        result: f.int("result")?,
        comment: redactor.redact(&f.text("comment")?),
        start: f.time("start_timestamp")?,
        end: f.time("end_timestamp")?,
    })
}

/// The sys row of `CDB_OB_RESTORE_PROGRESS` (`finished` false) or `CDB_OB_RESTORE_HISTORY` (true: it adds
/// `FINISH_TIMESTAMP` and `COMMENT`).
pub fn restore(
    f: &mut Fields,
    redactor: &Redactor,
    finished: bool,
) -> Result<RestoreJobRow, ObError> {
    Ok(RestoreJobRow {
        job_id: f.id("job_id")?,
        tenant_name: f.text("restore_tenant_name")?,
        backup_tenant_name: f.text("backup_tenant_name")?,
        backup_cluster_name: f.text("backup_cluster_name")?,
        status: f.state("status")?,
        restore_scn: f.scn("restore_scn")?,
        start: f.time("start_timestamp")?,
        finish: if finished {
            f.time("finish_timestamp")?
        } else {
            None
        },
        total_bytes: f.int("total_bytes")?,
        finish_bytes: f.int("finish_bytes")?,
        description: f.text("description")?,
        comment: if finished {
            redactor.redact(&f.text("comment")?)
        } else {
            String::new()
        },
        finished,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Value {
        Value::Bytes(text.as_bytes().to_vec())
    }

    fn job_row(overrides: &[(&str, Value)]) -> Fields {
        let mut values: Vec<(&str, Value)> = vec![
            ("TENANT_ID", bytes("1002")),
            ("JOB_ID", bytes("7")),
            ("BACKUP_SET_ID", Value::NULL),
            ("BACKUP_TYPE", bytes("FULL")),
            ("STATUS", bytes("DOING")),
            ("RESULT", bytes("0")),
            ("COMMENT", Value::NULL),
            ("DESCRIPTION", bytes("uid-1")),
            ("PATH", bytes("file:///backup/data")),
            ("START_TIMESTAMP", bytes("2026-11-23 10:00:00.000000")),
            ("END_TIMESTAMP", Value::NULL),
        ];
        for (name, value) in overrides {
            match values.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.clone(),
                None => values.push((name, value.clone())),
            }
        }
        Fields::of("CDB_OB_BACKUP_JOBS", &values)
    }

    #[test]
    fn a_row_is_read_by_name_whatever_the_column_order_and_case() {
        let mut row = job_row(&[]);
        row.edit_columns(|columns, values| {
            columns.reverse();
            values.reverse();
        });
        let job = backup_job(&mut row, &Redactor::default()).expect("a job");
        assert_eq!((job.tenant_id, job.job_id, job.backup_set_id), (1002, 7, 0));
        assert_eq!(
            (job.backup_type, job.status),
            (
                super::super::BackupType::Full,
                super::super::JobStatus::Doing
            )
        );
        assert_eq!(job.comment, "");
        assert_eq!(
            job.start.map(|t| t.as_second()),
            Some(1_795_428_000),
            "a time in UTC"
        );
        assert_eq!(job.end, None);
    }

    #[test]
    fn a_missing_column_or_a_malformed_value_is_an_error_naming_them() {
        let mut missing = job_row(&[]);
        missing.edit_columns(|columns, values| {
            let at = columns
                .iter()
                .position(|c| c.name_ref() == b"RESULT")
                .expect("RESULT");
            columns.remove(at);
            values.remove(at);
        });
        let error = backup_job(&mut missing, &Redactor::default()).expect_err("no RESULT");
        assert_eq!(
            error,
            ObError::Protocol("CDB_OB_BACKUP_JOBS.result: no such column".into())
        );
        for (column, value, why) in [
            ("RESULT", bytes("-90x"), "\"-90x\" is not a number"),
            ("JOB_ID", Value::NULL, "NULL where an id must be"),
            (
                "START_TIMESTAMP",
                bytes("yesterday"),
                "\"yesterday\" is not a time",
            ),
        ] {
            let error = backup_job(&mut job_row(&[(column, value)]), &Redactor::default())
                .expect_err(column);
            assert_eq!(
                error,
                ObError::Protocol(format!(
                    "CDB_OB_BACKUP_JOBS.{}: {why}",
                    column.to_lowercase()
                ))
            );
        }
    }

    #[test]
    fn null_or_empty_counts_of_a_pivoted_view_read_as_zero() {
        let mut row = Fields::of(
            "CDB_OB_RESTORE_PROGRESS",
            &[
                ("JOB_ID", bytes("3")),
                ("RESTORE_TENANT_NAME", bytes("restored")),
                ("BACKUP_TENANT_NAME", bytes("tenant1")),
                ("BACKUP_CLUSTER_NAME", bytes("obcluster")),
                ("STATUS", bytes("CREATE_TENANT")),
                ("RESTORE_SCN", bytes("")),
                ("START_TIMESTAMP", Value::NULL),
                ("TOTAL_BYTES", Value::NULL),
                ("FINISH_BYTES", bytes("")),
                ("DESCRIPTION", bytes("uid-2")),
            ],
        );
        let restore = restore(&mut row, &Redactor::default(), false).expect("a restore");
        assert_eq!(
            (
                restore.restore_scn,
                restore.total_bytes,
                restore.finish_bytes
            ),
            (0, 0, 0)
        );
        assert_eq!(restore.status, super::super::RestoreStatus::CreateTenant);
    }

    /// Whether a real server's `PATH` names the set's (piece's) directory or its destination, the row's
    /// path is the directory a second copy copies — never the whole destination.
    #[test]
    fn a_set_or_piece_path_naming_only_its_destination_reads_as_its_directory() {
        let mut set = Fields::of(
            "CDB_OB_BACKUP_SET_FILES",
            &[
                ("TENANT_ID", bytes("1002")),
                ("BACKUP_SET_ID", bytes("4")),
                ("BACKUP_TYPE", bytes("INC")),
                ("STATUS", bytes("SUCCESS")),
                ("FILE_STATUS", bytes("AVAILABLE")),
                ("INPUT_BYTES", bytes("10")),
                ("OUTPUT_BYTES", bytes("5")),
                ("END_TIMESTAMP", Value::NULL),
                ("PATH", bytes("s3://b/ob/data?host=h&access_key=secret")),
                ("PREV_FULL_BACKUP_SET_ID", bytes("3")),
                ("PREV_INC_BACKUP_SET_ID", bytes("0")),
                ("START_REPLAY_SCN", bytes("1")),
                ("MIN_RESTORE_SCN", bytes("2")),
                ("TENANT_COMPATIBLE", bytes("4.2.5.0")),
            ],
        );
        assert_eq!(
            backup_set(&mut set).expect("a set").path,
            "s3://b/ob/data/backup_set_4_inc?host=h"
        );
        let piece_row = |path: &str| {
            Fields::of(
                "CDB_OB_ARCHIVELOG_PIECE_FILES",
                &[
                    ("TENANT_ID", bytes("1002")),
                    ("DEST_ID", bytes("1001")),
                    ("ROUND_ID", bytes("2")),
                    ("PIECE_ID", bytes("7")),
                    ("STATUS", bytes("FROZEN")),
                    ("START_SCN", bytes("1")),
                    ("CHECKPOINT_SCN", bytes("2")),
                    ("FILE_STATUS", bytes("AVAILABLE")),
                    ("INPUT_BYTES", bytes("10")),
                    ("OUTPUT_BYTES", bytes("5")),
                    ("PATH", bytes(path)),
                ],
            )
        };
        for path in ["file:///archive", "file:///archive/piece_d1001r2p7"] {
            assert_eq!(
                piece(&mut piece_row(path)).expect("a piece").path,
                "file:///archive/piece_d1001r2p7",
                "{path}"
            );
        }
    }

    #[test]
    fn a_delete_parameter_reads_in_either_schemas_form() {
        // Older schema: USEC_TO_TIME(PARAMETER), a time in the session's UTC — also for a set id.
        assert_eq!(delete_parameter("1970-01-01 00:00:00.000003"), Some(3));
        assert_eq!(
            delete_parameter("2025-11-20 00:53:20.000000"),
            Some(1_763_600_000_000_000)
        );
        // Newest schema: the stored number as a varchar.
        assert_eq!(delete_parameter("3"), Some(3));
        assert_eq!(
            delete_parameter("1763600000000000"),
            Some(1_763_600_000_000_000)
        );
        assert_eq!(delete_parameter("not a parameter"), None);
    }
}
