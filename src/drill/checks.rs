//! A drill's checks, run in the background against the restored tenant as one of its own users
//! (docs/guide/restore-drills.md): the tenant opens and answers `SELECT 1`, each declared check returns what
//! it must, and the newest write found lies close enough behind the point restored to. Checks run only in
//! the scratch tenant, which the drill drops afterwards; admission lets through only SELECT, WITH and SHOW.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use mysql_async::{Conn, Opts, Row, Value, prelude::Queryable};
use tokio_util::sync::CancellationToken;

use crate::{
    api::drill::{CheckResult, DrillCheck, DrillRun, FreshnessCheck},
    background::Work,
    oceanbase::{ConnectionInfo, Redactor},
    timing::CONNECT_TIMEOUT,
    windows::drill::Freshness,
};

/// The name of the check that the tenant opens and answers.
pub const OPENS: &str = "opens";
/// The name of the freshness check's result.
pub const FRESHNESS: &str = "freshness";

/// OceanBase's answer to a login into a tenant still restoring (4109, OB_STATE_NOT_MATCH).
const NOT_OPEN_YET: u16 = 4109;

/// How long one check's statement may run before it counts as failed.
const STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The checks of one drill: whom to log in as, what to run, and the point the tenant was restored to.
#[derive(Clone, PartialEq)]
pub struct Checks {
    pub connection: ConnectionInfo,
    pub run: DrillRun,
    pub point: Timestamp,
}

/// Where the checks stand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckState {
    Running,
    /// Every check ran: the verdict.
    Ended(Outcome),
    /// The tenant could not be reached (an outage, not a verdict): tried again later.
    Unreachable(String),
}

/// What the checks found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub results: Vec<CheckResult>,
    /// The newest write the freshness query found.
    pub data_as_of: Option<Timestamp>,
    /// Seconds that write lies behind the point.
    pub lag_seconds: Option<i64>,
}

impl Outcome {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The first failed check, as a sentence.
    pub fn failure(&self) -> Option<String> {
        self.results
            .iter()
            .find(|r| !r.passed)
            .map(|r| format!("check {} failed: {}", r.name, r.message))
    }
}

impl Work for Checks {
    type Progress = ();
    type State = CheckState;

    async fn run(self, _progress: Arc<()>, cancel: CancellationToken) -> CheckState {
        tokio::select! {
            state = self.run_all() => state,
            () = cancel.cancelled() => CheckState::Unreachable("the checks were stopped".into()),
        }
    }

    fn running(&self, _progress: &(), _retrying: Option<&CheckState>) -> CheckState {
        CheckState::Running
    }

    fn worth_retrying(&self, state: &CheckState) -> bool {
        matches!(state, CheckState::Unreachable(_))
    }

    fn succeeded(state: &CheckState) -> bool {
        matches!(state, CheckState::Ended(_))
    }
}

impl Checks {
    async fn run_all(&self) -> CheckState {
        let redactor = Redactor::new([self.connection.password.clone()]);
        let mut conn = match self.connect().await {
            Ok(conn) => conn,
            // The tenant is not open yet (docs/reference/oceanbase-interface.md §6.7): try again.
            Err(mysql_async::Error::Server(e)) if e.code == NOT_OPEN_YET => {
                return CheckState::Unreachable(redactor.redact(&e.message));
            }
            Err(mysql_async::Error::Server(e)) => {
                return CheckState::Ended(Outcome {
                    results: vec![failed(
                        OPENS,
                        format!(
                            "login refused ({}): {}",
                            e.code,
                            redactor.redact(&e.message)
                        ),
                    )],
                    data_as_of: None,
                    lag_seconds: None,
                });
            }
            Err(e) => return CheckState::Unreachable(redactor.redact(&e.to_string())),
        };
        let mut results = vec![match query(&mut conn, "SELECT 1").await {
            Ok(rows) if first_text(&rows).as_deref() == Some("1") => {
                passed(OPENS, "logged in; SELECT 1 answered 1".into())
            }
            Ok(_) => failed(OPENS, "SELECT 1 did not answer 1".into()),
            Err(e) => failed(OPENS, redactor.redact(&e.to_string())),
        }];
        if results[0].passed {
            for check in &self.run.checks {
                results.push(declared(&mut conn, check, &redactor).await);
            }
        }
        let (fresh, data_as_of, lag_seconds) = match (&self.run.freshness, results[0].passed) {
            (Some(freshness), true) => self.freshness(&mut conn, freshness, &redactor).await,
            _ => (None, None, None),
        };
        results.extend(fresh);
        let _ = conn.disconnect().await;
        CheckState::Ended(Outcome {
            results,
            data_as_of,
            lag_seconds,
        })
    }

    async fn connect(&self) -> Result<Conn, mysql_async::Error> {
        let opts: Opts = self
            .connection
            .pool_opts(
                vec![
                    "SET time_zone = '+00:00'".to_string(),
                    format!("SET ob_query_timeout = {}", STATEMENT_TIMEOUT.as_micros()),
                ],
                1,
            )
            .into();
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
            Ok(conn) => conn,
            Err(_) => Err(timed_out("connecting timed out")),
        }
    }

    /// The freshness check's result, the newest write and its lag behind the point.
    async fn freshness(
        &self,
        conn: &mut Conn,
        check: &FreshnessCheck,
        redactor: &Redactor,
    ) -> (Option<CheckResult>, Option<Timestamp>, Option<i64>) {
        let bound =
            crate::api::common::parse_duration(&check.max_lag).unwrap_or(SignedDuration::ZERO);
        let newest = match query(conn, &check.query).await {
            Ok(rows) => rows.first().and_then(|r| r.as_ref(0)).and_then(instant),
            Err(e) => {
                return (
                    Some(failed(FRESHNESS, redactor.redact(&e.to_string()))),
                    None,
                    None,
                );
            }
        };
        let verdict = Freshness::of(self.point, newest, bound);
        let lag = match &verdict {
            Freshness::Within { lag } | Freshness::TooOld { lag, .. } => Some(lag.as_secs()),
            Freshness::Ahead { by } => Some(-by.as_secs()),
            Freshness::Empty => None,
        };
        let message = match &verdict {
            Freshness::Within { lag } => format!("the data is as of the point minus {lag:#}"),
            Freshness::TooOld { lag, bound } => format!(
                "the newest write lies {lag:#} behind the point restored to, more than the {bound:#} allowed"
            ),
            Freshness::Ahead { by } => format!(
                "the data holds a write {by:#} after the point restored to: the restore went past it"
            ),
            Freshness::Empty => "the freshness query found no write".to_string(),
        };
        let result = CheckResult {
            name: FRESHNESS.into(),
            passed: verdict.passed(),
            message,
        };
        (Some(result), newest, lag)
    }
}

/// Runs one declared check.
async fn declared(conn: &mut Conn, check: &DrillCheck, redactor: &Redactor) -> CheckResult {
    let rows = match query(conn, &check.query).await {
        Ok(rows) => rows,
        Err(e) => return failed(&check.name, redactor.redact(&e.to_string())),
    };
    if let Some(expected) = &check.expect {
        let got = first_text(&rows);
        return match got {
            Some(got) if &got == expected => passed(&check.name, format!("returned {got}")),
            Some(got) => failed(&check.name, format!("returned {got}, expected {expected}")),
            None => failed(
                &check.name,
                format!("returned no value, expected {expected}"),
            ),
        };
    }
    let least = check.min_rows.unwrap_or(0);
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if count >= least {
        passed(&check.name, format!("returned {count} rows"))
    } else {
        failed(
            &check.name,
            format!("returned {count} rows, at least {least} expected"),
        )
    }
}

/// Every row of one statement.
async fn query(conn: &mut Conn, statement: &str) -> Result<Vec<Row>, mysql_async::Error> {
    tokio::time::timeout(STATEMENT_TIMEOUT, conn.query(statement))
        .await
        .unwrap_or_else(|_| Err(timed_out("the statement timed out")))
}

fn timed_out(what: &str) -> mysql_async::Error {
    mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        what.to_string(),
    )))
}

/// The first column of the first row, as text.
fn first_text(rows: &[Row]) -> Option<String> {
    let value = rows.first()?.as_ref(0)?;
    Some(match value {
        Value::NULL => "NULL".into(),
        Value::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_string(),
    })
}

/// A value read as an instant: a `DATETIME`/`TIMESTAMP` in UTC, or seconds since the epoch.
fn instant(value: &Value) -> Option<Timestamp> {
    match value {
        Value::Int(s) => Timestamp::from_second(*s).ok(),
        Value::UInt(s) => Timestamp::from_second(i64::try_from(*s).ok()?).ok(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            let date = jiff::civil::date(
                i16::try_from(*y).ok()?,
                i8::try_from(*mo).ok()?,
                i8::try_from(*d).ok()?,
            );
            let time = jiff::civil::time(
                i8::try_from(*h).ok()?,
                i8::try_from(*mi).ok()?,
                i8::try_from(*s).ok()?,
                i32::try_from(*us).ok()?.checked_mul(1000)?,
            );
            date.to_datetime(time)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        }
        Value::Bytes(bytes) => text_instant(std::str::from_utf8(bytes).ok()?.trim()),
        _ => None,
    }
}

/// Text read as an instant: `YYYY-MM-DD HH:MM:SS[.f]` in UTC, RFC 3339, or seconds since the epoch.
fn text_instant(text: &str) -> Option<Timestamp> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Timestamp::from_second(seconds).ok();
    }
    if let Ok(time) = text.parse::<Timestamp>() {
        return Some(time);
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn passed(name: &str, message: String) -> CheckResult {
    CheckResult {
        name: name.into(),
        passed: true,
        message,
    }
}

fn failed(name: &str, message: String) -> CheckResult {
    CheckResult {
        name: name.into(),
        passed: false,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newest_write_reads_from_a_datetime_its_text_or_epoch_seconds() {
        let at: Timestamp = "2026-11-26T03:00:05Z".parse().expect("time");
        assert_eq!(instant(&Value::Date(2026, 11, 26, 3, 0, 5, 0)), Some(at));
        assert_eq!(
            instant(&Value::Bytes(b"2026-11-26 03:00:05".to_vec())),
            Some(at)
        );
        assert_eq!(
            instant(&Value::Bytes(b"2026-11-26T03:00:05Z".to_vec())),
            Some(at)
        );
        assert_eq!(instant(&Value::Int(at.as_second())), Some(at));
        assert_eq!(instant(&Value::NULL), None);
        assert_eq!(instant(&Value::Bytes(b"yesterday".to_vec())), None);
    }

    #[test]
    fn an_outcome_passes_only_when_every_check_passed_and_names_the_first_failure() {
        let outcome = Outcome {
            results: vec![
                passed(OPENS, "ok".into()),
                failed("orders", "returned 0 rows, at least 1 expected".into()),
                failed(FRESHNESS, "too old".into()),
            ],
            data_as_of: None,
            lag_seconds: None,
        };
        assert!(!outcome.passed());
        assert_eq!(
            outcome.failure().as_deref(),
            Some("check orders failed: returned 0 rows, at least 1 expected")
        );
    }
}
