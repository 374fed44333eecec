//! One observer cycle's read as one round trip (docs/reference/oceanbase-interface.md §11.3): every SELECT
//! a snapshot needs, joined into one multi-statement query, and the result sets decoded in the order the
//! statements were sent. Which statements are sent depends only on the request, never on what an earlier
//! one returned, so none has to wait for another.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use jiff::Timestamp;
use mysql_async::Row;

use super::{
    ArchiveDest, ObError, Reach, Redactor, Snapshot, SnapshotRequest,
    redact::strip_keys,
    sql,
    views::{self, Fields},
    vocabulary::State,
};
use crate::sync::lock;

/// What one statement reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Version,
    Tenants,
    Rounds,
    ArchiveDests,
    DataDests,
    Jobs,
    JobHistory,
    Progress,
    Sets,
    Pieces,
    DeletePolicies,
    Units,
    CleanJobs,
    CleanHistory,
    Restores,
    RestoreHistory,
}

impl Part {
    /// The view it reads, as decoding errors name it.
    fn view(self) -> &'static str {
        match self {
            Part::Version => "ob_version()",
            Part::Tenants => "DBA_OB_TENANTS",
            Part::Rounds => "CDB_OB_ARCHIVELOG",
            Part::ArchiveDests => "CDB_OB_ARCHIVE_DEST",
            Part::DataDests => "CDB_OB_BACKUP_PARAMETER",
            Part::Jobs => "CDB_OB_BACKUP_JOBS",
            Part::JobHistory => "CDB_OB_BACKUP_JOB_HISTORY",
            Part::Progress => "CDB_OB_BACKUP_TASKS",
            Part::Sets => "CDB_OB_BACKUP_SET_FILES",
            Part::Pieces => "CDB_OB_ARCHIVELOG_PIECE_FILES",
            Part::DeletePolicies => "CDB_OB_BACKUP_DELETE_POLICY",
            Part::Units => "DBA_OB_UNITS",
            Part::CleanJobs => "CDB_OB_BACKUP_DELETE_JOBS",
            Part::CleanHistory => "CDB_OB_BACKUP_DELETE_JOB_HISTORY",
            Part::Restores => "CDB_OB_RESTORE_PROGRESS",
            Part::RestoreHistory => "CDB_OB_RESTORE_HISTORY",
        }
    }
}

const JOB_COLUMNS: &str = "tenant_id, job_id, backup_set_id, backup_type, status, result, comment, \
                           description, path, start_timestamp, end_timestamp";
const CLEAN_COLUMNS: &str = "tenant_id, job_id, initiator_tenant_id, type, parameter, status, task_count, \
                             success_task_count, result, comment, start_timestamp, end_timestamp";
const RESTORE_COLUMNS: &str = "job_id, restore_tenant_name, backup_tenant_name, backup_cluster_name, \
                               status, restore_scn, start_timestamp";

/// The statements one snapshot sends, in the order their result sets come back.
pub struct SnapshotQuery<'a> {
    request: SnapshotRequest<'a>,
    plan: Arc<Plan>,
}

/// The statements of a query: which part each reads, and the multi-statement text.
struct Plan {
    parts: Vec<Part>,
    text: String,
}

/// The last query's plan of each reach and what it was built for. Most cycles ask what the last one of their
/// reach asked, so their text is built once, not at every read (its literals escaped and joined anew).
#[derive(Default)]
pub struct LastQuery(Mutex<Vec<(Asked, Arc<Plan>)>>);

/// What a plan depends on: the request, and whether the version was known.
#[derive(Clone, Debug)]
struct Asked {
    descriptions: Vec<String>,
    /// The request but its descriptions (held above), compared whole: a field added to the request is
    /// part of what a plan depends on without a word here.
    rest: SnapshotRequest<'static>,
    version_known: bool,
}

impl Asked {
    fn of(request: &SnapshotRequest<'_>, version_known: bool) -> Self {
        // Destructured in full: a new field of the request fails to build here until it is carried over.
        let SnapshotRequest {
            descriptions,
            jobs_ended_since,
            clean_since,
            restores,
            external,
            reach,
        } = *request;
        Self {
            descriptions: descriptions.to_vec(),
            rest: SnapshotRequest {
                descriptions: &[],
                jobs_ended_since,
                clean_since,
                restores,
                external,
                reach,
            },
            version_known,
        }
    }

    /// Whether `request` asks the same (compared without copying it).
    fn is(&self, request: &SnapshotRequest<'_>, version_known: bool) -> bool {
        let unlisted = SnapshotRequest {
            descriptions: &[],
            ..*request
        };
        self.version_known == version_known
            && self.descriptions[..] == *request.descriptions
            && self.rest == unlisted
    }
}

impl<'a> SnapshotQuery<'a> {
    /// The statements `request` needs; `ob_version()` only while the version is not known yet (it does
    /// not change under a live connection pool).
    pub fn new(request: SnapshotRequest<'a>, version_known: bool) -> Result<Self, ObError> {
        let plan = Arc::new(Plan::of(&request, version_known)?);
        Ok(Self { request, plan })
    }

    /// As [`Self::new`], reusing `last`'s plan when one was built for the same request (and keeping this
    /// one's as its reach's when not).
    pub fn reusing(
        request: SnapshotRequest<'a>,
        version_known: bool,
        last: &LastQuery,
    ) -> Result<Self, ObError> {
        let mut last = lock(&last.0);
        if let Some((_, plan)) = last
            .iter()
            .find(|(asked, _)| asked.is(&request, version_known))
        {
            return Ok(Self {
                plan: plan.clone(),
                request,
            });
        }
        let query = Self::new(request, version_known)?;
        last.retain(|(asked, _)| asked.rest.reach != query.request.reach);
        last.push((Asked::of(&query.request, version_known), query.plan.clone()));
        Ok(query)
    }

    /// The statements as one multi-statement text.
    pub fn text(&self) -> &str {
        &self.plan.text
    }

    /// How many statements (and result sets) there are.
    pub fn len(&self) -> usize {
        self.plan.parts.len()
    }

    /// The snapshot from `sets`, one result set per statement in order. Its `version` is empty unless
    /// this query read it.
    pub fn decode(self, sets: Vec<Vec<Row>>, redactor: &Redactor) -> Result<Snapshot, ObError> {
        if sets.len() != self.len() {
            return Err(ObError::Protocol(format!(
                "a snapshot sent {} statements and got {} result sets back",
                self.len(),
                sets.len()
            )));
        }
        let mut decoder = Decoder::new(&self.request, redactor);
        for (part, rows) in self.plan.parts.iter().zip(sets) {
            for row in rows {
                decoder.row(*part, &mut Fields::new(part.view(), row))?;
            }
        }
        Ok(decoder.finish())
    }
}

impl Plan {
    fn of(request: &SnapshotRequest<'_>, version_known: bool) -> Result<Self, ObError> {
        let mut parts = Vec::new();
        if !version_known {
            parts.push((Part::Version, "SELECT ob_version() AS version".to_string()));
        }
        parts.extend(fixed_parts(request.reach));
        if let Some(filter) = job_history_filter(request)? {
            parts.push((
                Part::JobHistory,
                format!(
                    "SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOB_HISTORY \
                     WHERE job_level = 'USER_TENANT' AND ({filter})"
                ),
            ));
        }
        if request.reach >= Reach::Changing {
            parts.push((
                Part::CleanHistory,
                format!(
                    "SELECT {CLEAN_COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOB_HISTORY WHERE end_timestamp >= {}",
                    time_literal(request.clean_since)?
                ),
            ));
        }
        if request.reads_restores() {
            parts.extend(restore_parts(request)?);
        }
        let text = parts
            .iter()
            .map(|(_, statement)| statement.as_str())
            .collect::<Vec<_>>()
            .join(";\n");
        Ok(Self {
            parts: parts.into_iter().map(|(part, _)| part).collect(),
            text,
        })
    }
}

/// The statements every snapshot of `reach` sends ([`Reach`]), but the histories and restores: each with the
/// least reach that reads it, in the order they are sent (the jobs last, just before their history).
fn fixed_parts(reach: Reach) -> Vec<(Part, String)> {
    let statements = [
        (
            Reach::Changing,
            Part::Tenants,
            "SELECT tenant_id, tenant_name, status, tenant_role, log_mode FROM DBA_OB_TENANTS \
             WHERE tenant_type = 'USER'"
                .to_string(),
        ),
        (
            Reach::Changing,
            Part::Rounds,
            "SELECT tenant_id, round_id, status, start_scn, checkpoint_scn, path, comment \
             FROM CDB_OB_ARCHIVELOG"
                .to_string(),
        ),
        (
            Reach::Changing,
            Part::CleanJobs,
            format!("SELECT {CLEAN_COLUMNS} FROM CDB_OB_BACKUP_DELETE_JOBS"),
        ),
        (
            Reach::Whole,
            Part::ArchiveDests,
            "SELECT tenant_id, name, value FROM CDB_OB_ARCHIVE_DEST".to_string(),
        ),
        (
            Reach::Whole,
            Part::DataDests,
            "SELECT tenant_id, value FROM CDB_OB_BACKUP_PARAMETER WHERE name = 'data_backup_dest'"
                .to_string(),
        ),
        (
            Reach::Whole,
            Part::Sets,
            "SELECT tenant_id, backup_set_id, backup_type, status, file_status, input_bytes, output_bytes, \
             end_timestamp, path, prev_full_backup_set_id, prev_inc_backup_set_id, start_replay_scn, \
             min_restore_scn, tenant_compatible FROM CDB_OB_BACKUP_SET_FILES"
                .to_string(),
        ),
        (
            Reach::Whole,
            Part::Pieces,
            "SELECT tenant_id, dest_id, round_id, piece_id, status, start_scn, checkpoint_scn, file_status, \
             input_bytes, output_bytes, path FROM CDB_OB_ARCHIVELOG_PIECE_FILES"
                .to_string(),
        ),
        (
            Reach::Whole,
            Part::DeletePolicies,
            "SELECT tenant_id, policy_name, recovery_window FROM CDB_OB_BACKUP_DELETE_POLICY".to_string(),
        ),
        (
            Reach::Whole,
            Part::Units,
            "SELECT tenant_id, svr_ip FROM DBA_OB_UNITS".to_string(),
        ),
        (
            Reach::Jobs,
            Part::Progress,
            "SELECT tenant_id, job_id, input_bytes, output_bytes, tablet_count, finish_tablet_count, path \
             FROM CDB_OB_BACKUP_TASKS"
                .to_string(),
        ),
        (
            Reach::Jobs,
            Part::Jobs,
            format!("SELECT {JOB_COLUMNS} FROM CDB_OB_BACKUP_JOBS WHERE job_level = 'USER_TENANT'"),
        ),
    ];
    statements
        .into_iter()
        .filter(|(least, ..)| reach >= *least)
        .map(|(_, part, statement)| (part, statement))
        .collect()
}

/// How many descriptions a history read lists by name; beyond that it matches them in the operator, so a
/// statement stays a few kilobytes however many tasks wait.
const LISTED_DESCRIPTIONS: usize = 64;

/// `description IN (…)` for `descriptions`, or `None` when there are too many to list
/// ([`LISTED_DESCRIPTIONS`]).
fn description_list(descriptions: &[String]) -> Result<Option<String>, ObError> {
    if descriptions.len() > LISTED_DESCRIPTIONS {
        return Ok(None);
    }
    let list = descriptions
        .iter()
        .map(|d| sql::literal(d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(format!("description IN ({})", list.join(", "))))
}

/// Which finished backup jobs are read (`None`: none): those with the request's descriptions that ended
/// since it asks, and, for mirrors, every job that ended since the external time. Only the wanted rows
/// cross the wire: a cluster's history of a day is otherwise read at every cycle.
fn job_history_filter(request: &SnapshotRequest<'_>) -> Result<Option<String>, ObError> {
    let mut filter = Vec::new();
    if !request.descriptions.is_empty() {
        let ended = format!(
            "end_timestamp >= {}",
            time_literal(request.jobs_ended_since)?
        );
        filter.push(match description_list(request.descriptions)? {
            Some(listed) => format!("{listed} AND {ended}"),
            None => ended,
        });
    }
    if let Some(external) = request.external {
        filter.push(format!("end_timestamp >= {}", time_literal(external.jobs)?));
    }
    Ok((!filter.is_empty()).then(|| format!("({})", filter.join(") OR ("))))
}

/// The sys rows of running restores, and of the finished ones with the request's descriptions or, for
/// mirrors, that finished since the request's time (docs/reference/oceanbase-interface.md §6.3).
fn restore_parts(request: &SnapshotRequest<'_>) -> Result<Vec<(Part, String)>, ObError> {
    let mut parts = vec![(
        Part::Restores,
        format!(
            "SELECT {RESTORE_COLUMNS}, total_bytes, finish_bytes, description \
             FROM CDB_OB_RESTORE_PROGRESS WHERE tenant_id = 1"
        ),
    )];
    let mut filter = Vec::new();
    if !request.descriptions.is_empty() {
        // Too many to list: every finished restore (a short table).
        filter.push(description_list(request.descriptions)?.unwrap_or_else(|| "TRUE".into()));
    }
    if let Some(external) = request.external {
        filter.push(format!(
            "finish_timestamp >= {}",
            time_literal(external.restores)?
        ));
    }
    if !filter.is_empty() {
        parts.push((
            Part::RestoreHistory,
            format!(
                "SELECT {RESTORE_COLUMNS}, finish_timestamp, total_bytes, finish_bytes, description, comment \
                 FROM CDB_OB_RESTORE_HISTORY WHERE tenant_id = 1 AND ({})",
                filter.join(" OR ")
            ),
        ));
    }
    Ok(parts)
}

/// Builds the snapshot row by row.
struct Decoder<'r, 'a> {
    redactor: &'r Redactor,
    jobs: Wanted<'a>,
    restores: Wanted<'a>,
    snapshot: Snapshot,
}

impl<'r, 'a> Decoder<'r, 'a> {
    fn new(request: &SnapshotRequest<'a>, redactor: &'r Redactor) -> Self {
        Self {
            redactor,
            jobs: Wanted::of(request, request.external.map(|e| e.jobs)),
            restores: Wanted::of(request, request.external.map(|e| e.restores)),
            snapshot: Snapshot {
                searched: request.descriptions.iter().cloned().collect(),
                restores_read: request.reads_restores(),
                ..Snapshot::default()
            },
        }
    }

    fn row(&mut self, part: Part, f: &mut Fields) -> Result<(), ObError> {
        let redactor = self.redactor;
        let s = &mut self.snapshot;
        match part {
            Part::Version => s.version = f.text("version")?,
            Part::Tenants => s.tenants.push(views::tenant(f)?),
            Part::Rounds => s.rounds.push(views::round(f, redactor)?),
            Part::ArchiveDests => archive_dest(s, f)?,
            Part::DataDests => s
                .data_dests
                .push((f.id("tenant_id")?, strip_keys(&f.text("value")?))),
            Part::Jobs => s.jobs.push(views::backup_job(f, redactor)?),
            Part::JobHistory => {
                let job = views::backup_job(f, redactor)?;
                s.newest_job_end = s.newest_job_end.max(job.end);
                if self.jobs.keeps(&job.description, job.end) {
                    s.jobs.push(job);
                }
            }
            Part::Progress => s.progress.push(views::backup_progress(f)?),
            Part::Sets => s.sets.push(views::backup_set(f)?),
            Part::Pieces => s.pieces.push(views::piece(f)?),
            Part::DeletePolicies => s.delete_policies.push((
                f.id("tenant_id")?,
                f.text("policy_name")?,
                f.text("recovery_window")?,
            )),
            Part::Units => s.units.push((f.id("tenant_id")?, f.text("svr_ip")?)),
            Part::CleanJobs | Part::CleanHistory => {
                let job = views::clean_job(f, redactor)?;
                // A job moving to the history between the two reads: the history row wins.
                s.clean_jobs
                    .retain(|j| !(j.tenant_id == job.tenant_id && j.job_id == job.job_id));
                s.clean_jobs.push(job);
            }
            Part::Restores => s.restores.push(views::restore(f, redactor, false)?),
            Part::RestoreHistory => {
                let restore = views::restore(f, redactor, true)?;
                if self.restores.keeps(&restore.description, restore.finish) {
                    s.restores.push(restore);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Snapshot {
        self.snapshot
    }
}

/// Adds one `(name, value)` row of `CDB_OB_ARCHIVE_DEST` to its tenant's destination.
fn archive_dest(snapshot: &mut Snapshot, f: &mut Fields) -> Result<(), ObError> {
    let (tenant, name, value) = (f.id("tenant_id")?, f.text("name")?, f.text("value")?);
    let dests = &mut snapshot.archive_dests;
    let index = match dests.iter().position(|(t, _)| *t == tenant) {
        Some(i) => i,
        None => {
            dests.push((tenant, ArchiveDest::default()));
            dests.len() - 1
        }
    };
    let dest = &mut dests[index].1;
    match name.to_lowercase().as_str() {
        "path" => dest.path = strip_keys(&value),
        "binding" => dest.binding = State::of(&value),
        "piece_switch_interval" => dest.piece_switch_interval = value,
        "state" => dest.state = State::of(&value),
        _ => {}
    }
    Ok(())
}

/// Which finished rows of a history view a read keeps: those whose description was asked for, and, when
/// the jobs started elsewhere are read too, theirs that ended at or after `external`.
struct Wanted<'a> {
    descriptions: HashSet<&'a str>,
    external: Option<Timestamp>,
}

impl<'a> Wanted<'a> {
    fn of(request: &SnapshotRequest<'a>, external: Option<Timestamp>) -> Self {
        Self {
            descriptions: request.descriptions.iter().map(String::as_str).collect(),
            external,
        }
    }

    fn keeps(&self, description: &str, end: Option<Timestamp>) -> bool {
        self.descriptions.contains(description)
            || self.external.is_some_and(|since| {
                !crate::names::started_here(description) && end.is_some_and(|end| end >= since)
            })
    }
}

/// A time as the session (UTC) compares it with a timestamp column, as an SQL literal.
fn time_literal(at: Timestamp) -> Result<String, ObError> {
    let text = at
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    sql::literal(&text)
}

#[cfg(test)]
mod tests;
