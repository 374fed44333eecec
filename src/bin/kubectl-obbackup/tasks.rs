//! `tasks`: the console's task tabs — data backup, log backup, cleanup and recovery tasks — with their columns,
//! filtered by time (Last 24 Hours / 7 Days / 30 Days, or a custom range), status and tenant.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{Resource, ResourceExt};
use ob_backup_operator::api::{BackupTask, CleanupTask, LogBackup, RecoveryTask, common::Failure};

use crate::render::{Table, TimeFormat, or_dash};

/// A kind of task as its tab shows it.
pub trait TaskTab: Resource<DynamicType = ()> + Clone + serde::Serialize {
    const HEADERS: &'static [&'static str];
    fn tenant(&self) -> &str;
    /// The clusters it concerns, by display name (a restore: where its backup was taken and where it
    /// restores into).
    fn clusters(&self) -> Vec<String>;
    /// Its backup set, for a data backup.
    fn backup_set(&self) -> Option<i64> {
        None
    }
    fn phase(&self) -> Option<String>;
    /// When it started (its object's creation until it did): what the time filters look at.
    fn started(&self) -> Option<Timestamp>;
    fn row(&self, clock: &TimeFormat) -> Vec<String>;
    /// What its status says about why it stands where it does: message, failure, conditions.
    fn cause(&self) -> Cause;
}

/// A status's message, failure and conditions.
pub type Cause = (Option<String>, Option<Failure>, Vec<Condition>);

/// `started`, or the object's creation until it started.
fn started_or_created<K: Resource>(object: &K, started: Option<&Time>) -> Option<Timestamp> {
    started
        .or(object.meta().creation_timestamp.as_ref())
        .map(|t| t.0)
}

/// The cluster a status names, if it names one.
fn named(cluster: Option<&String>) -> Vec<String> {
    cluster.cloned().into_iter().collect()
}

pub fn label<T: std::fmt::Debug>(phase: Option<T>) -> Option<String> {
    phase.map(|p| format!("{p:?}"))
}

/// Every status of a tab whose phases are `P`, as its STATUS column shows them.
pub fn statuses<P: strum::IntoEnumIterator + Into<&'static str>>() -> Vec<&'static str> {
    P::iter().map(Into::into).collect()
}

/// `--status` as the tab shows it: any case, spaces, hyphens and underscores left out (the console's
/// "In Progress" is `InProgress`); a status the tab never shows is refused, naming those it does, rather
/// than printing an empty table.
pub fn status_filter(given: &str, known: &[&'static str]) -> Result<String, String> {
    let bare = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    known
        .iter()
        .find(|k| bare(k) == bare(given))
        .map(|k| k.to_string())
        .ok_or_else(|| {
            format!(
                "--status {given:?} is not a status of this tab: it shows {}",
                known.join(", ")
            )
        })
}

impl TaskTab for BackupTask {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "CLUSTER",
        "TENANT",
        "METHOD",
        "MODE",
        "BACKUP SET",
        "SOURCE",
        "START",
        "END",
        "STATUS",
        "PROGRESS",
        "SECOND BACKUP",
        "DATA VERSION",
        "STORAGE DIRECTORY",
    ];
    fn tenant(&self) -> &str {
        &self.spec.tenant
    }
    fn clusters(&self) -> Vec<String> {
        named(self.status.as_ref().and_then(|s| s.cluster_name.as_ref()))
    }
    fn backup_set(&self) -> Option<i64> {
        self.status.as_ref().and_then(|s| s.backup_set_id)
    }
    fn phase(&self) -> Option<String> {
        label(self.status.as_ref().and_then(|s| s.phase))
    }
    fn started(&self) -> Option<Timestamp> {
        started_or_created(
            self,
            self.status.as_ref().and_then(|s| s.started_at.as_ref()),
        )
    }
    fn cause(&self) -> Cause {
        let status = self.status.clone();
        status
            .map(|s| (s.message, s.failure, s.conditions))
            .unwrap_or_default()
    }
    fn row(&self, clock: &TimeFormat) -> Vec<String> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            self.name_any(),
            or_dash(status.cluster_name),
            self.spec.tenant.clone(),
            format!("{:?}", self.spec.method),
            format!("{:?}", self.spec.mode),
            or_dash(status.backup_set_id),
            or_dash(label(status.source)),
            clock.show(status.started_at.as_ref()),
            clock.show(status.ended_at.as_ref()),
            or_dash(self.phase()),
            or_dash(status.progress.map(|p| format!("{p}%"))),
            or_dash(label(status.second_backup.and_then(|s| s.phase))),
            or_dash(status.data_version),
            or_dash(status.storage_directory),
        ]
    }
}

impl TaskTab for LogBackup {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "CLUSTER",
        "TENANT",
        "METHOD",
        "SERVICE HOST IP",
        "DESIRED",
        "START",
        "CHECKPOINT",
        "DELAY(S)",
        "STATUS",
        "STORAGE DIRECTORY",
    ];
    fn tenant(&self) -> &str {
        &self.spec.tenant
    }
    fn clusters(&self) -> Vec<String> {
        named(self.status.as_ref().and_then(|s| s.cluster_name.as_ref()))
    }
    fn phase(&self) -> Option<String> {
        label(self.status.as_ref().and_then(|s| s.phase))
    }
    fn started(&self) -> Option<Timestamp> {
        started_or_created(
            self,
            self.status.as_ref().and_then(|s| s.start_time.as_ref()),
        )
    }
    fn cause(&self) -> Cause {
        let status = self.status.clone();
        status
            .map(|s| (s.message, s.failure, s.conditions))
            .unwrap_or_default()
    }
    fn row(&self, clock: &TimeFormat) -> Vec<String> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            self.name_any(),
            or_dash(status.cluster_name),
            self.spec.tenant.clone(),
            // Log archiving is OceanBase's own: always a physical backup.
            "Physical".to_string(),
            or_dash(status.service_hosts),
            format!("{:?}", self.spec.desired_state),
            clock.show(status.start_time.as_ref()),
            clock.show(status.checkpoint_time.as_ref()),
            or_dash(status.delay_seconds),
            or_dash(self.phase()),
            or_dash(status.storage_directory),
        ]
    }
}

impl TaskTab for CleanupTask {
    const HEADERS: &'static [&'static str] = &[
        "NAME", "CLUSTER", "TENANT", "JOB ID", "SOURCE", "START", "END", "STATUS",
    ];
    fn tenant(&self) -> &str {
        &self.spec.tenant
    }
    fn clusters(&self) -> Vec<String> {
        named(self.status.as_ref().and_then(|s| s.cluster_name.as_ref()))
    }
    fn phase(&self) -> Option<String> {
        label(self.status.as_ref().and_then(|s| s.phase))
    }
    fn started(&self) -> Option<Timestamp> {
        started_or_created(
            self,
            self.status.as_ref().and_then(|s| s.started_at.as_ref()),
        )
    }
    fn cause(&self) -> Cause {
        let status = self.status.clone();
        status
            .map(|s| (s.message, s.failure, s.conditions))
            .unwrap_or_default()
    }
    fn row(&self, clock: &TimeFormat) -> Vec<String> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            self.name_any(),
            or_dash(status.cluster_name),
            self.spec.tenant.clone(),
            or_dash(status.job_id),
            or_dash(label(status.source)),
            clock.show(status.started_at.as_ref()),
            clock.show(status.ended_at.as_ref()),
            or_dash(self.phase()),
        ]
    }
}

impl TaskTab for RecoveryTask {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "BACKUP CLUSTER",
        "SOURCE TENANT",
        "TARGET CLUSTER",
        "TARGET TENANT",
        "RECOVERY TIME",
        "START",
        "END",
        "STATUS",
        "PROGRESS",
        "SOURCE",
        "BACKUP METHOD",
        "STORAGE DIRECTORY",
    ];
    fn tenant(&self) -> &str {
        &self.spec.source.tenant
    }
    fn clusters(&self) -> Vec<String> {
        let source = self
            .status
            .as_ref()
            .and_then(|s| s.source_cluster_name.clone());
        let mut clusters = vec![self.spec.target.cluster.name.clone()];
        clusters.extend(source);
        clusters
    }
    fn phase(&self) -> Option<String> {
        label(self.status.as_ref().and_then(|s| s.phase))
    }
    fn started(&self) -> Option<Timestamp> {
        started_or_created(
            self,
            self.status.as_ref().and_then(|s| s.started_at.as_ref()),
        )
    }
    fn cause(&self) -> Cause {
        let status = self.status.clone();
        status
            .map(|s| (s.message, s.failure, s.conditions))
            .unwrap_or_default()
    }
    fn row(&self, clock: &TimeFormat) -> Vec<String> {
        let status = self.status.clone().unwrap_or_default();
        vec![
            self.name_any(),
            or_dash(status.source_cluster_name.clone()),
            self.spec.source.tenant.clone(),
            self.spec.target.cluster.name.clone(),
            self.spec.target.tenant.clone(),
            clock.show(status.recovery_time.as_ref()),
            clock.show(status.started_at.as_ref()),
            clock.show(status.ended_at.as_ref()),
            or_dash(self.phase()),
            or_dash(status.progress.map(|p| format!("{p}%"))),
            or_dash(label(status.source)),
            or_dash(label(status.method)),
            or_dash(status.storage_directory),
        ]
    }
}

/// Which tasks to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Started at or after this.
    pub from: Option<Timestamp>,
    /// Started at or before this.
    pub to: Option<Timestamp>,
    /// Phase, any case.
    pub status: Option<String>,
    /// Tenant, any case (OceanBase tenant names ignore case).
    pub tenant: Option<String>,
    /// Cluster, by display name.
    pub cluster: Option<String>,
    /// Backup set id (data backups only).
    pub backup_set: Option<i64>,
}

impl Filter {
    /// `--since 24h|7d|30d` (any whole number of s, m, h or d) before `now`, or `--from` / `--to` times.
    pub fn new(
        since: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
    ) -> Result<Self, String> {
        let time = |flag: &str, text: &str| {
            text.parse::<Timestamp>().map_err(|e| {
                format!("{flag} {text:?} is not a time like 2026-11-24T19:00:00Z ({e})")
            })
        };
        let since = since
            .map(|s| {
                ob_backup_operator::api::common::parse_duration(s)
                    .filter(|d| *d > SignedDuration::ZERO)
                    .ok_or_else(|| format!("--since {s:?} is not a duration like 24h, 7d or 30d"))
            })
            .transpose()?;
        let from = match (since, from) {
            (Some(_), Some(_)) => return Err("use --since or --from, not both".into()),
            (Some(span), None) => Some(now.saturating_sub(span).map_err(|e| e.to_string())?),
            (None, Some(text)) => Some(time("--from", text)?),
            (None, None) => None,
        };
        let to = to.map(|t| time("--to", t)).transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(format!("--from {from} is after --to {to}"));
        }
        Ok(Self {
            from,
            to,
            ..Self::default()
        })
    }

    pub fn admits<T: TaskTab>(&self, task: &T) -> bool {
        self.admits_row(&Row {
            started: task.started(),
            phase: task.phase(),
            tenant: task.tenant(),
            clusters: task.clusters(),
            backup_set: task.backup_set(),
        })
    }

    /// Whether a row with these values is shown.
    pub fn admits_row(&self, row: &Row<'_>) -> bool {
        let in_range = match (row.started, self.from, self.to) {
            (None, None, None) => true,
            (None, _, _) => false,
            (Some(at), from, to) => from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t),
        };
        in_range
            && self.status.as_ref().is_none_or(|s| {
                row.phase
                    .as_ref()
                    .is_some_and(|phase| phase.eq_ignore_ascii_case(s))
            })
            && self
                .tenant
                .as_ref()
                .is_none_or(|t| row.tenant.eq_ignore_ascii_case(t))
            && self
                .cluster
                .as_ref()
                .is_none_or(|c| row.clusters.contains(c))
            && self.backup_set.is_none_or(|id| row.backup_set == Some(id))
    }
}

/// What a filter looks at in a row of a tab.
pub struct Row<'a> {
    pub started: Option<Timestamp>,
    pub phase: Option<String>,
    pub tenant: &'a str,
    pub clusters: Vec<String>,
    pub backup_set: Option<i64>,
}

/// The tasks `filter` admits, newest first, as a table.
pub fn table<T: TaskTab>(tasks: &[T], filter: &Filter, clock: &TimeFormat) -> (Table, Vec<T>) {
    let mut shown: Vec<T> = tasks
        .iter()
        .filter(|t| filter.admits(*t))
        .cloned()
        .collect();
    shown.sort_by_key(|t| std::cmp::Reverse((t.started(), t.name_any())));
    let mut table = Table::new(T::HEADERS);
    for task in &shown {
        table.push(task.row(clock));
    }
    (table, shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, tenant: &str, started: &str, phase: &str) -> BackupTask {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupTask",
            "metadata": {"name": name, "creationTimestamp": "2026-11-01T00:00:00Z"},
            "spec": {"cluster": {"name": "ob", "connectionSecret": "ob"}, "tenant": tenant, "mode": "Full"},
            "status": {"phase": phase, "startedAt": started, "clusterName": "ob", "backupSetId": 3,
                       "source": "Manual", "progress": 100},
        }))
        .expect("task")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("time")
    }

    #[test]
    fn a_status_is_taken_in_the_columns_or_the_consoles_words_and_an_unknown_one_is_refused() {
        use ob_backup_operator::api::BackupTaskPhase;
        let known = statuses::<BackupTaskPhase>();
        assert_eq!(
            known,
            ["Pending", "InProgress", "Completed", "Failed", "Canceled"]
        );
        for given in ["In Progress", "in-progress", "INPROGRESS", "in_progress"] {
            assert_eq!(status_filter(given, &known).as_deref(), Ok("InProgress"));
        }
        assert_eq!(status_filter("failed", &known).as_deref(), Ok("Failed"));
        let refused = status_filter("Faild", &known).expect_err("a typo");
        assert_eq!(
            refused,
            "--status \"Faild\" is not a status of this tab: it shows Pending, InProgress, Completed, \
             Failed, Canceled"
        );
    }

    #[test]
    fn since_keeps_what_started_within_it_and_the_boundary_itself() {
        let now = at("2026-11-25T12:00:00Z");
        let tasks = [
            task("day-old", "tenant1", "2026-11-24T12:00:00Z", "Completed"),
            task("older", "tenant1", "2026-11-24T11:59:59Z", "Completed"),
            task("recent", "TENANT2", "2026-11-25T11:00:00Z", "Failed"),
        ];
        let clock = TimeFormat::new(true);
        let day = Filter::new(Some("24h"), None, None, now).expect("filter");
        let (_, shown) = table(&tasks, &day, &clock);
        let names: Vec<String> = shown.iter().map(|t| t.name_any()).collect();
        assert_eq!(names, ["recent", "day-old"]);
        let failed_of_tenant2 = Filter {
            status: Some("failed".into()),
            tenant: Some("tenant2".into()),
            ..Filter::default()
        };
        let (rendered, shown) = table(&tasks, &failed_of_tenant2, &clock);
        assert_eq!(shown.len(), 1);
        assert_eq!(
            rendered.rows[0],
            [
                "recent",
                "ob",
                "TENANT2",
                "Physical",
                "Full",
                "3",
                "Manual",
                "2026-11-25 11:00:00 UTC",
                "-",
                "Failed",
                "100%",
                "-",
                "-",
                "-"
            ]
        );
        let range = Filter::new(
            None,
            Some("2026-11-24T00:00:00Z"),
            Some("2026-11-24T11:59:59Z"),
            now,
        )
        .expect("range");
        let (_, shown) = table(&tasks, &range, &clock);
        assert_eq!(
            shown.iter().map(|t| t.name_any()).collect::<Vec<_>>(),
            ["older"]
        );
    }

    #[test]
    fn bad_ranges_are_refused_with_what_to_write() {
        let now = at("2026-11-25T12:00:00Z");
        for (since, from, to, says) in [
            (Some("yesterday"), None, None, "not a duration"),
            (Some("0h"), None, None, "not a duration"),
            (Some("24h"), Some("2026-11-24T00:00:00Z"), None, "not both"),
            (
                None,
                Some("monday"),
                None,
                "--from \"monday\" is not a time",
            ),
            (
                None,
                Some("2026-11-25T00:00:00Z"),
                Some("2026-11-24T00:00:00Z"),
                "is after",
            ),
        ] {
            let error = Filter::new(since, from, to, now).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
    }
}
