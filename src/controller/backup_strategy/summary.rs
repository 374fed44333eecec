//! A strategy's status — the console's cluster overview (docs/contributing/design.md §2.2) — as a
//! pure function of the plan, the cluster's observation and the time. Log checkpoints move every
//! second; they are refreshed here only when a tenant's moved a grain (5 minutes), so a settled
//! strategy writes nothing.
//!
//! The physical method's overview is built here ([`strategy_status`]); what the logical method's shares
//! with it (the condition types, the `Scheduled` condition, the phase as the schedule has it, sizes as the
//! console shows them) is here too, for [`super::logical`] to use.

use crate::reason::Reason;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::plan::Plan;
use crate::{
    api::{
        BackupStrategy, BackupStrategyStatus, StrategyPhase,
        backup_strategy::{LogBackupSettings, SecondBackupOverview, TenantBackupStatus},
        common::TimeWindow,
    },
    controller::{
        conditions::{
            CLUSTER_REACHABLE, Health, SECOND_BACKUP_READY, api_time, condition, with_extra,
        },
        overview::{Destinations, tenant_overview},
    },
    observer::Observation,
    oceanbase::RoundStatus,
    timing::LogFigures,
};

/// Condition type: every tenant in scope can be restored to any point of one unbroken window.
pub const RECOVERABLE_WINDOW_CONTINUOUS: &str = "RecoverableWindowContinuous";
/// Condition type: the strategy knows when it runs next.
pub const SCHEDULED: &str = "Scheduled";
/// Condition type: every tenant's destinations are the strategy's.
pub const DESTINATION_READY: &str = "DestinationReady";

/// What the strategy found while configuring OceanBase, per tenant.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Tenants whose delete policy could not be set, with why.
    pub policy_errors: Vec<(String, String)>,
    /// Tenants whose destinations are not the strategy's yet, with why.
    pub destination_problems: Vec<(String, String)>,
    /// The second copy, when the strategy keeps one (kept as it was when the cluster was not read).
    pub second: Option<SecondBackupOverview>,
    /// Why no second copy is made now (its Secrets, its storage, a copy that failed for good), when it
    /// is not: reported on its own condition, never holding up the first backups.
    pub second_problem: Option<crate::controller::error::Problem>,
}

/// The `SecondBackupReady` condition of a strategy with a second backup — none while its tenants are not
/// known yet (every tenant of a cluster not read yet): the directories it checks are the tenants', so its
/// copies wait for it rather than start on a check of nothing.
fn second_backup_ready(
    strategy: &BackupStrategy,
    tenants: &[String],
    findings: &Findings,
) -> Option<Condition> {
    let second = strategy.spec.second_backup.as_ref()?;
    if tenants.is_empty() {
        return None;
    }
    let generation = strategy.metadata.generation;
    Some(match &findings.second_problem {
        None => condition(
            SECOND_BACKUP_READY,
            true,
            Reason::Ready,
            &format!(
                "second copies go to {} and {}",
                crate::storage::without_query(&second.data_destination.uri),
                crate::storage::without_query(&second.log_destination.uri)
            ),
            generation,
        ),
        Some(problem) => condition(
            SECOND_BACKUP_READY,
            false,
            problem.reason,
            &problem.message,
            generation,
        ),
    })
}

/// Condition type: every tenant in scope archives its log, within the delay threshold.
pub const LOG_BACKUP_HEALTHY: &str = "LogBackupHealthy";

/// The `LogBackupHealthy` condition: which tenants do not archive, or lag beyond the threshold. Messages
/// carry no live numbers, so the condition changes only when a tenant crosses a line.
fn log_backup_health(
    strategy: &BackupStrategy,
    snapshot: &crate::oceanbase::Snapshot,
    tenants: &[String],
    now: Timestamp,
) -> Condition {
    let generation = strategy.metadata.generation;
    let settings = &strategy.spec.log_backup;
    if !settings.enabled {
        return condition(
            LOG_BACKUP_HEALTHY,
            false,
            Reason::Disabled,
            "log backup is disabled: tenants can be restored only to the end of a data backup",
            generation,
        );
    }
    let mut names: Vec<&String> = tenants.iter().collect();
    names.sort();
    let unknown = settings
        .stopped_tenants
        .iter()
        .filter(|s| !tenants.iter().any(|t| t.eq_ignore_ascii_case(s)))
        .map(|s| format!("{s}: in logBackup.stoppedTenants but not a tenant of the strategy"));
    let problems: Vec<String> = names
        .into_iter()
        .filter_map(|name| archive_problem(settings, snapshot, name, now))
        .chain(unknown)
        .collect();
    if problems.is_empty() {
        condition(
            LOG_BACKUP_HEALTHY,
            true,
            Reason::Archiving,
            &format!(
                "every tenant archives its log within {}",
                settings.delay_alert_threshold
            ),
            generation,
        )
    } else {
        condition(
            LOG_BACKUP_HEALTHY,
            false,
            Reason::NotArchiving,
            &problems.join("; "),
            generation,
        )
    }
}

/// What keeps tenant `name` from archiving within the threshold, if anything: stopped (or stopping) on
/// request, no archiving, archiving that is not `DOING`, or a log delay above the threshold. Nothing for
/// a tenant the cluster does not have.
fn archive_problem(
    settings: &LogBackupSettings,
    snapshot: &crate::oceanbase::Snapshot,
    name: &str,
    now: Timestamp,
) -> Option<String> {
    let tenant = snapshot.tenant(name)?;
    let round = snapshot.round(tenant.id);
    if settings.stopped(name) {
        let stopped = round.is_none_or(|r| r.status == RoundStatus::Stop);
        return Some(if stopped {
            format!("{name}: stopped on request (logBackup.stoppedTenants)")
        } else {
            format!("{name}: stopping on request (logBackup.stoppedTenants)")
        });
    }
    match round {
        None => Some(format!("{name}: not archiving")),
        Some(round) if round.status == RoundStatus::Interrupted => {
            Some(format!("{name}: archiving INTERRUPTED ({})", round.comment))
        }
        Some(round) if round.status != RoundStatus::Doing => {
            Some(format!("{name}: archiving is {}", round.status))
        }
        Some(round) => {
            let threshold = crate::api::common::parse_duration(&settings.delay_alert_threshold);
            let delay = now.duration_since(crate::oceanbase::scn_time(round.checkpoint_scn));
            threshold
                .filter(|t| delay > *t)
                .map(|_| format!("{name}: log delay above {}", settings.delay_alert_threshold))
        }
    }
}

/// Condition type: every tenant's delete policy keeps the strategy's recovery window.
pub const RETENTION_APPLIED: &str = "RetentionApplied";

/// The strategy's status: its phase from the schedule, a line per tenant from the cluster's observation,
/// its conditions from what the observation and the configuring found, and the totals over the tenants.
pub fn strategy_status(
    strategy: &BackupStrategy,
    plan: &Plan,
    observation: &Observation,
    tenants: &[String],
    findings: &Findings,
    now: Timestamp,
    freshness: SignedDuration,
) -> BackupStrategyStatus {
    let previous = strategy.status.clone().unwrap_or_default();
    let generation = strategy.metadata.generation;
    let phase = scheduling_phase(strategy, plan);
    let shown = Shown {
        previous: &previous.tenants,
        now,
        freshness,
    };
    let tenant_lines = tenant_lines(strategy, observation, tenants, &shown);
    let next_run = plan.next_run();
    let mut extra = cluster_conditions(strategy, observation, tenants, &tenant_lines, now);
    let configuring = configuration_conditions(strategy, observation, tenants, findings);
    extra.extend(configuring);
    extra.extend(second_backup_ready(strategy, tenants, findings));
    extra.push(scheduled(strategy, next_run, PAUSED_DATA_BACKUPS));
    // Ready means "configured as declared": GitOps tools (kstatus, Argo CD) then see the strategy as
    // current, also while it waits for its first scheduled run.
    let configured = matches!(observation, Observation::Seen { .. })
        && !tenants.is_empty()
        && findings.destination_problems.is_empty()
        && findings.policy_errors.is_empty();
    let health = health(phase, configured, tenants.len(), next_run);
    let bytes: i64 = tenant_lines
        .iter()
        .map(|t| t.data_backup_bytes.unwrap_or(0) + t.log_backup_bytes.unwrap_or(0))
        .sum();
    BackupStrategyStatus {
        phase: Some(phase),
        conditions: with_extra(&previous.conditions, &health, Some(extra), generation, now),
        observed_generation: generation,
        message: Some(health.message().to_string()),
        last_data_backup_time: tenant_lines
            .iter()
            .filter_map(|t| t.last_data_backup_time.clone())
            .max_by_key(|t| t.0),
        log_checkpoint_time: tenant_lines
            .iter()
            .filter_map(|t| t.log_checkpoint_time.clone())
            .min_by_key(|t| t.0),
        log_delay_seconds: tenant_lines
            .iter()
            .filter_map(|t| t.log_delay_seconds)
            .max(),
        backup_size: (!tenant_lines.is_empty()).then(|| size_display(bytes)),
        next_full_backup_time: plan.next_full.map(api_time),
        next_incremental_backup_time: plan.next_incremental.map(api_time),
        last_schedule_time: plan.last_schedule.map(api_time),
        tenants: tenant_lines,
        second_backup: findings.second.clone(),

        // Set by the drills' own look (physical strategies).
        drills: Vec::new(),
        last_passed_drill_time: None,
        last_drill_schedule_time: None,
        // Set by the coverage look (physical strategies).
        tenants_without_strategy: Vec::new(),
        // Added to from the plan by the schedule's history (super::history).
        skipped_runs: super::history::so_far(strategy),
        // Followed by the alert record (alert_record::note), after the drills' look.
        alerts: previous.alerts,
    }
}

/// What the `Scheduled` condition of a physical strategy says while it is paused, and what its runs are.
const PAUSED_DATA_BACKUPS: (&str, &str) = (
    "data backups are paused; log archiving keeps running",
    "data backup",
);

/// The phase as the schedule has it, whichever the method: `Paused` while suspended, `InProgress` once a
/// run was scheduled, `PendingScheduling` before.
pub(super) fn scheduling_phase(strategy: &BackupStrategy, plan: &Plan) -> StrategyPhase {
    if strategy.spec.suspend {
        StrategyPhase::Paused
    } else if plan.last_schedule.is_some() {
        StrategyPhase::InProgress
    } else {
        StrategyPhase::PendingScheduling
    }
}

/// What the tenants' lines are built against: the lines shown, the time, and how far a line's figures that
/// move by themselves may trail ([`crate::controller::write_budget::WriteBudget::freshness`]).
struct Shown<'a> {
    previous: &'a [TenantBackupStatus],
    now: Timestamp,
    freshness: SignedDuration,
}

/// A line per tenant of the cluster's reading, sorted by name (each [`steady`] against its previous line);
/// the previous lines while the cluster is not read.
fn tenant_lines(
    strategy: &BackupStrategy,
    observation: &Observation,
    tenants: &[String],
    shown: &Shown<'_>,
) -> Vec<TenantBackupStatus> {
    let Observation::Seen { snapshot, .. } = observation else {
        return shown.previous.to_vec();
    };
    let mut names: Vec<&String> = tenants.iter().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| snapshot.tenant(name))
        .map(|tenant| {
            // Only what lies in the tenant's own directories counts.
            let data = strategy.spec.data_destination.for_tenant(&tenant.name);
            let log = strategy
                .spec
                .log_destination
                .as_ref()
                .map_or_else(String::new, |l| l.for_tenant(&tenant.name).uri);
            let destinations = Destinations {
                data: &data.uri,
                log: &log,
            };
            let fresh = tenant_overview(snapshot, tenant, destinations, shown.now);
            let before = shown.previous.iter().find(|t| t.name == fresh.name);
            steady(fresh, before, shown.now, shown.freshness)
        })
        .collect()
}

/// What the cluster's reading says: whether it answered (nothing before the first reading), whether each
/// tenant has one unbroken window (once there are `lines`), and how the tenants archive (on a reading).
fn cluster_conditions(
    strategy: &BackupStrategy,
    observation: &Observation,
    tenants: &[String],
    lines: &[TenantBackupStatus],
    now: Timestamp,
) -> Vec<Condition> {
    let generation = strategy.metadata.generation;
    let mut conditions = Vec::new();
    match observation {
        Observation::Seen { .. } => conditions.push(condition(
            CLUSTER_REACHABLE,
            true,
            Reason::Reachable,
            "the cluster answered",
            generation,
        )),
        Observation::Unreachable { reason, .. } => conditions.push(condition(
            CLUSTER_REACHABLE,
            false,
            Reason::Unreachable,
            &format!(
                "cluster {} cannot be reached: {reason}",
                strategy.spec.cluster.name
            ),
            generation,
        )),
        Observation::Unknown => {}
    }
    conditions.extend(window_continuous(lines, generation));
    if let Observation::Seen { snapshot, .. } = observation
        && !tenants.is_empty()
    {
        conditions.push(log_backup_health(strategy, snapshot, tenants, now));
    }
    conditions
}

/// The `RecoverableWindowContinuous` condition: which tenants have no single unbroken window, each with its
/// gaps (none without tenant lines). A gap lies between windows whose ends no longer move, so the message
/// changes only when a window appears, merges or goes.
fn window_continuous(lines: &[TenantBackupStatus], generation: Option<i64>) -> Option<Condition> {
    if lines.is_empty() {
        return None;
    }
    let gaps: Vec<String> = lines
        .iter()
        .filter(|t| t.recoverable_windows.len() != 1)
        .map(|t| format!("{} ({})", t.name, gaps_of(&t.recoverable_windows)))
        .collect();
    Some(if gaps.is_empty() {
        condition(
            RECOVERABLE_WINDOW_CONTINUOUS,
            true,
            Reason::Continuous,
            "every tenant has one unbroken recoverable window",
            generation,
        )
    } else {
        condition(
            RECOVERABLE_WINDOW_CONTINUOUS,
            false,
            Reason::GapOrNoWindow,
            &format!(
                "no single unbroken recoverable window for: {}",
                gaps.join("; ")
            ),
            generation,
        )
    })
}

/// The times no restore can reach between consecutive windows (oldest first), or that there is no window.
fn gaps_of(windows: &[TimeWindow]) -> String {
    if windows.is_empty() {
        return "no window yet".into();
    }
    let gaps: Vec<String> = windows
        .windows(2)
        .map(|pair| format!("{} – {}", pair[0].to.0, pair[1].from.0))
        .collect();
    format!("gap {}", gaps.join(", gap "))
}

/// `DestinationReady` and `RetentionApplied`: what configuring OceanBase found (the first tenant refused,
/// with why). Neither before the cluster was read with tenants in scope.
fn configuration_conditions(
    strategy: &BackupStrategy,
    observation: &Observation,
    tenants: &[String],
    findings: &Findings,
) -> Vec<Condition> {
    if !matches!(observation, Observation::Seen { .. }) || tenants.is_empty() {
        return Vec::new();
    }
    let generation = strategy.metadata.generation;
    let window = &strategy.spec.retention.recovery_window;
    let destination = match findings.destination_problems.first() {
        None => condition(
            DESTINATION_READY,
            true,
            Reason::Ready,
            "every tenant backs up to the strategy's destinations",
            generation,
        ),
        Some((tenant, problem)) => condition(
            DESTINATION_READY,
            false,
            Reason::NotReady,
            &format!("tenant {tenant}: {problem}"),
            generation,
        ),
    };
    let retention = match findings.policy_errors.first() {
        None => condition(
            RETENTION_APPLIED,
            true,
            Reason::Applied,
            &format!("every tenant's 'default' delete policy keeps {window}"),
            generation,
        ),
        Some((tenant, error)) => condition(
            RETENTION_APPLIED,
            false,
            Reason::Refused,
            &format!("the delete policy of tenant {tenant} could not be set: {error}"),
            generation,
        ),
    };
    vec![destination, retention]
}

/// The strategy's health: Ready when paused, scheduling, or `configured` and waiting for its first run;
/// Progressing while it is not configured yet.
fn health(
    phase: StrategyPhase,
    configured: bool,
    tenants: usize,
    next_run: Option<Timestamp>,
) -> Health {
    match phase {
        StrategyPhase::Paused => Health::Ready {
            reason: Reason::Paused,
            message: "data backups are paused; log archiving keeps running".into(),
        },
        StrategyPhase::InProgress => Health::Ready {
            reason: Reason::Scheduling,
            message: format!("scheduling backups of {tenants} tenant(s)"),
        },
        StrategyPhase::PendingScheduling if configured => Health::Ready {
            reason: Reason::PendingScheduling,
            message: match next_run {
                Some(at) => format!("the first scheduled backup is at {}", api_time(at).0),
                None => "configured; the schedule has no next run".into(),
            },
        },
        _ => Health::Progressing {
            reason: Reason::PendingScheduling,
            message: match next_run {
                Some(at) => format!("the first scheduled backup is at {}", api_time(at).0),
                None => "waiting to read the cluster's tenants".into(),
            },
        },
    }
}

/// The `Scheduled` condition: when the next run (`what`) is, or why there is none (`paused` while suspended).
pub(super) fn scheduled(
    strategy: &BackupStrategy,
    next_run: Option<Timestamp>,
    (paused, what): (&str, &str),
) -> Condition {
    let generation = strategy.metadata.generation;
    match (strategy.spec.suspend, next_run) {
        (true, _) => condition(SCHEDULED, false, Reason::Suspended, paused, generation),
        (false, Some(at)) => condition(
            SCHEDULED,
            true,
            Reason::Scheduled,
            &format!("next {what} at {}", api_time(at).0),
            generation,
        ),
        (false, None) => condition(
            SCHEDULED,
            false,
            Reason::NoNextRun,
            "the schedule has no next run",
            generation,
        ),
    }
}

/// The fresh line, keeping the previous log checkpoint, delay, archived bytes, newest window's end and the
/// bytes of a set still running until they were read a `grain` ago at `now` (the LogBackup's rule,
/// [`crate::timing::STATUS_FRESHNESS`]); archiving starting or stopping, and a set ending, show at once.
fn steady(
    fresh: TenantBackupStatus,
    before: Option<&TenantBackupStatus>,
    now: Timestamp,
    grain: SignedDuration,
) -> TenantBackupStatus {
    let Some(before) = before else { return fresh };
    if figures(before).replaced_by(figures(&fresh), now, grain) {
        return fresh;
    }
    // Archived bytes grow with the checkpoint, and the newest window's end follows it: kept with it.
    let (new, old) = (&fresh.recoverable_windows, &before.recoverable_windows);
    let only_the_end_crept = new.len() == old.len()
        && !new.is_empty()
        && new.iter().zip(old).all(|(n, o)| n.from == o.from)
        && new[..new.len() - 1] == old[..old.len() - 1];
    let recoverable_windows = if only_the_end_crept {
        before.recoverable_windows.clone()
    } else {
        fresh.recoverable_windows
    };
    // A running set's bytes grow at every read: kept while archiving refreshes the line once a grain. A set
    // that ends (a new last backup) or is deleted (the bytes fall) shows at once.
    let grew = matches!(
        (before.data_backup_bytes, fresh.data_backup_bytes),
        (Some(shown), Some(now)) if now >= shown
    );
    let only_a_set_grew = grew
        && before.log_delay_seconds.is_some()
        && fresh.last_data_backup_time == before.last_data_backup_time;
    let data_backup_bytes = if only_a_set_grew {
        before.data_backup_bytes
    } else {
        fresh.data_backup_bytes
    };
    TenantBackupStatus {
        log_checkpoint_time: before.log_checkpoint_time.clone(),
        log_delay_seconds: before.log_delay_seconds,
        log_backup_bytes: before.log_backup_bytes,
        data_backup_bytes,
        recoverable_windows,
        ..fresh
    }
}

/// A tenant line's log checkpoint and delay.
pub(super) fn figures(line: &TenantBackupStatus) -> LogFigures {
    LogFigures {
        checkpoint: line.log_checkpoint_time.as_ref().map(|t| t.0),
        delay_seconds: line.log_delay_seconds,
    }
}

/// Bytes the way the console shows sizes: `512.0 MiB`, `12.3 GiB`.
pub(super) fn size_display(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
        if value < 1024.0 || unit == "TiB" {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oceanbase::State;
    use crate::timing::STATUS_FRESHNESS;

    #[test]
    fn a_creeping_window_end_and_checkpoint_are_kept_within_the_freshness_bound() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

        use crate::api::common::TimeWindow;
        let at = |s: i64| Time(Timestamp::from_second(1_800_000_000 + s).expect("time"));
        let line = |checkpoint: i64| TenantBackupStatus {
            name: "t1".into(),
            status: None,
            method: None,
            last_data_backup_time: None,
            last_full_backup_time: None,
            log_checkpoint_time: Some(at(checkpoint)),
            log_delay_seconds: Some(1),
            recoverable_windows: vec![TimeWindow {
                from: at(0),
                to: at(checkpoint),
            }],
            data_backup_bytes: Some(1),
            log_backup_bytes: Some(checkpoint),
        };
        let before = line(100);
        // A line is read at its checkpoint and its delay (a second): `line(c)` was read at `c + 1`.
        let read = |c: i64| at(c + 1).0;
        assert_eq!(
            steady(line(130), Some(&before), read(130), STATUS_FRESHNESS),
            before,
            "half a minute later: nothing to write"
        );
        assert_eq!(
            steady(line(160), Some(&before), read(160), STATUS_FRESHNESS),
            line(160),
            "a minute later: refreshed"
        );
        // Stuck: the checkpoint stays, the delay grows; shown within a minute of the real one.
        let stuck = |delay: i64| TenantBackupStatus {
            log_delay_seconds: Some(delay),
            ..line(100)
        };
        assert_eq!(
            steady(stuck(50), Some(&before), read(149), STATUS_FRESHNESS),
            before
        );
        assert_eq!(
            steady(stuck(61), Some(&before), read(160), STATUS_FRESHNESS),
            stuck(61)
        );
        let starting = TenantBackupStatus {
            log_delay_seconds: None,
            ..line(100)
        };
        let shown = steady(line(110), Some(&starting), read(110), STATUS_FRESHNESS);
        assert_eq!(
            (shown.log_delay_seconds, shown.log_checkpoint_time),
            (Some(1), line(110).log_checkpoint_time),
            "archiving reached DOING: the delay shows at once"
        );
        // More objects refreshing than the write budget affords a minute each: a longer grain.
        let grain = SignedDuration::from_secs(400);
        assert_eq!(steady(line(160), Some(&before), read(160), grain), before);
        assert_eq!(
            steady(line(500), Some(&before), read(500), grain),
            line(500)
        );
        // Nothing moved: nothing to write, however old.
        assert_eq!(
            steady(line(100), Some(&before), read(10_000), grain),
            before
        );
    }

    #[test]
    fn a_running_sets_bytes_wait_for_the_refresh_and_a_set_that_ends_or_goes_shows_at_once() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let at = |s: i64| Time(Timestamp::from_second(1_800_000_000 + s).expect("time"));
        let line = |bytes: i64, last: i64| TenantBackupStatus {
            name: "t1".into(),
            status: None,
            method: None,
            last_data_backup_time: Some(at(last)),
            last_full_backup_time: Some(at(last)),
            log_checkpoint_time: Some(at(100)),
            log_delay_seconds: Some(1),
            recoverable_windows: Vec::new(),
            data_backup_bytes: Some(bytes),
            log_backup_bytes: Some(7),
        };
        let before = line(1_000, 50);
        let soon = at(110).0;
        assert_eq!(
            steady(line(1_500, 50), Some(&before), soon, STATUS_FRESHNESS),
            before,
            "a running set wrote more: nothing to write before the refresh"
        );
        assert_eq!(
            steady(line(1_500, 105), Some(&before), soon, STATUS_FRESHNESS),
            line(1_500, 105),
            "the set ended: its bytes show with it"
        );
        assert_eq!(
            steady(line(400, 50), Some(&before), soon, STATUS_FRESHNESS),
            line(400, 50),
            "a set deleted: the bytes fall at once"
        );
        let refreshed = steady(line(1_500, 50), Some(&before), at(200).0, STATUS_FRESHNESS);
        assert_eq!(
            refreshed.data_backup_bytes, before.data_backup_bytes,
            "the log figures did not move: still nothing to write"
        );
        let moved = TenantBackupStatus {
            log_checkpoint_time: Some(at(190)),
            ..line(1_500, 50)
        };
        assert_eq!(
            steady(moved.clone(), Some(&before), at(200).0, STATUS_FRESHNESS),
            moved,
            "the refresh a grain later shows them"
        );
        let not_archiving = |bytes: i64| TenantBackupStatus {
            log_checkpoint_time: None,
            log_delay_seconds: None,
            ..line(bytes, 50)
        };
        assert_eq!(
            steady(
                not_archiving(1_500),
                Some(&not_archiving(1_000)),
                soon,
                STATUS_FRESHNESS
            ),
            not_archiving(1_500),
            "without archiving no refresh comes: the bytes show when the strategy looks"
        );
        let unknown = TenantBackupStatus {
            data_backup_bytes: None,
            ..line(1_000, 50)
        };
        assert_eq!(
            steady(line(1_500, 50), Some(&unknown), soon, STATUS_FRESHNESS).data_backup_bytes,
            Some(1_500),
            "bytes never shown before show at once"
        );
    }

    #[test]
    fn log_backup_health_names_the_tenants_that_do_not_archive_or_lag() {
        use crate::oceanbase::{ArchiveRound, Snapshot, TenantRow};
        let strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "s", "generation": 1},
            "spec": {
                "cluster": {"name": "ob", "connectionSecret": "ob"},
                "dataDestination": {"uri": "file:///d"}, "logDestination": {"uri": "file:///a"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                "logBackup": {"delayAlertThreshold": "10m"},
            },
        }))
        .expect("strategy");
        let now = Timestamp::from_second(1_800_000_000).expect("time");
        let tenant = |id: i64, name: &str| TenantRow {
            id,
            name: name.into(),
            status: State::of("NORMAL"),
            role: State::of("PRIMARY"),
            archivelog: true,
        };
        let round = |tenant_id: i64, status: &str, behind_secs: i64| ArchiveRound {
            tenant_id,
            round_id: 1,
            status: State::of(status),
            start_scn: 1,
            checkpoint_scn: u64::try_from((now.as_second() - behind_secs) * 1_000_000_000)
                .expect("scn"),
            path: String::new(),
            comment: "dest unreachable".into(),
        };
        let snapshot = Snapshot {
            tenants: vec![
                tenant(1, "a"),
                tenant(2, "b"),
                tenant(3, "c"),
                tenant(4, "d"),
            ],
            rounds: vec![
                round(1, "DOING", 60),
                round(2, "DOING", 3600),
                round(3, "INTERRUPTED", 60),
            ],
            ..Snapshot::default()
        };
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let healthy = log_backup_health(&strategy, &snapshot, &names(&["a"]), now);
        assert_eq!(healthy.status, "True");
        let sick = log_backup_health(&strategy, &snapshot, &names(&["d", "c", "b", "a"]), now);
        assert_eq!(sick.status, "False");
        assert_eq!(
            sick.message,
            "b: log delay above 10m; c: archiving INTERRUPTED (dest unreachable); d: not archiving"
        );
        // Stopped on request: said so (still stopping while the round has not reached STOP), and a
        // stopped tenant the strategy does not cover is named.
        let mut stopping = strategy.clone();
        stopping.spec.log_backup.stopped_tenants = names(&["A", "d", "zz"]);
        let asked = log_backup_health(&stopping, &snapshot, &names(&["a", "d"]), now);
        assert_eq!(asked.status, "False");
        assert_eq!(
            asked.message,
            "a: stopping on request (logBackup.stoppedTenants); d: stopped on request \
             (logBackup.stoppedTenants); zz: in logBackup.stoppedTenants but not a tenant of the strategy"
        );
    }

    #[test]
    fn second_backup_readiness_is_said_only_once_the_tenants_are_known() {
        let strategy: BackupStrategy = serde_json::from_value(serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy", "metadata": {"name": "s", "generation": 2},
            "spec": {"cluster": {"name": "c", "connectionSecret": "sys"},
                "dataDestination": {"uri": "file:///b/data"}, "logDestination": {"uri": "file:///b/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                "secondBackup": {"dataDestination": {"uri": "file:///o/data"}, "logDestination": {"uri": "file:///o/archive"}}},
        }))
        .expect("strategy");
        let findings = Findings {
            policy_errors: Vec::new(),
            destination_problems: Vec::new(),
            second: None,
            second_problem: None,
        };
        assert_eq!(second_backup_ready(&strategy, &[], &findings), None);
        let ready = second_backup_ready(&strategy, &["t1".into()], &findings).expect("said");
        assert_eq!(
            (ready.status.as_str(), ready.observed_generation),
            ("True", Some(2))
        );
    }

    #[test]
    fn a_broken_window_names_each_tenant_and_its_gaps() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let at = |s: i64| Time(Timestamp::from_second(1_800_000_000 + s).expect("time"));
        let line = |name: &str, spans: &[(i64, i64)]| TenantBackupStatus {
            name: name.into(),
            status: None,
            method: None,
            last_data_backup_time: None,
            last_full_backup_time: None,
            log_checkpoint_time: None,
            log_delay_seconds: None,
            recoverable_windows: spans
                .iter()
                .map(|(from, to)| TimeWindow {
                    from: at(*from),
                    to: at(*to),
                })
                .collect(),
            data_backup_bytes: None,
            log_backup_bytes: None,
        };
        let lines = [
            line("t1", &[(0, 100)]),
            line("t2", &[(0, 100), (200, 300), (360, 400)]),
            line("t3", &[]),
        ];
        let said = window_continuous(&lines, Some(1)).expect("a condition");
        assert_eq!(said.status, "False");
        assert_eq!(
            said.message,
            "no single unbroken recoverable window for: t2 (gap 2027-01-15T08:01:40Z – \
             2027-01-15T08:03:20Z, gap 2027-01-15T08:05:00Z – 2027-01-15T08:06:00Z); t3 (no window yet)"
        );
        let whole = window_continuous(&lines[..1], Some(1)).expect("a condition");
        assert_eq!(whole.status, "True");
        assert_eq!(window_continuous(&[], Some(1)), None);
    }

    #[test]
    fn sizes_read_like_the_console() {
        assert_eq!(size_display(512), "512 B");
        assert_eq!(size_display(3 << 29), "1.5 GiB");
    }
}
