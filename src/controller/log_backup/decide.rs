//! What a LogBackup should look like and do next, as a pure function of its spec, its status, the
//! last observation of its cluster and the time (docs/contributing/design.md §2.4,
//! docs/reference/oceanbase-interface.md §2.2, §3 and §10).

use crate::reason::Reason;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::timing::{Clock, DELAY_RECHECK_MAX, DELAY_RECHECK_MIN, LogFigures};
use crate::{
    api::{
        LogBackup, LogBackupPhase, LogBackupStatus, backup_strategy::ArchiveBinding,
        common::Failure, log_backup::DesiredArchiveState,
    },
    controller::{
        conditions::{DELAY_WITHIN_THRESHOLD, DESTINATION_APPLIED, Health, api_time, condition},
        error::Problem,
        reading::{self, Reading},
    },
    observer::{Interest, Observation},
    oceanbase::scn_time,
    oceanbase::{
        ArchiveDest, ArchiveRound, Binding, DestState, ObError, RoundStatus, Snapshot, TenantRow,
        codes,
    },
};

/// The lag over which a LogBackup alerts (`delayAlertThreshold`; 10 minutes if it cannot be read).
pub fn alert_threshold(archive: &LogBackup) -> SignedDuration {
    crate::api::common::parse_duration(&archive.spec.delay_alert_threshold)
        .unwrap_or(SignedDuration::from_mins(10))
}

/// What the reconcile must do after writing the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Wait,
    /// `LOG_ARCHIVE_DEST` (archiving is not running, as OceanBase requires).
    SetDest,
    /// `LOG_ARCHIVE_DEST_STATE = 'ENABLE'`.
    EnableDest,
    /// `ARCHIVELOG` (true) or `NOARCHIVELOG` (false).
    ArchiveMode(bool),
}

/// The outcome of [`decide`]; a LogBackup always has an interest (archiving never ends).
pub type Decision = crate::controller::task::Decision<LogBackupStatus, Step>;

/// What the decision reads.
pub struct Inputs<'a> {
    pub archive: &'a LogBackup,
    pub cluster_name: &'a str,
    /// The destination the tenant must archive to, without access keys.
    pub log_uri: &'a str,
    pub observation: &'a Observation,
    pub clock: Clock,
    /// How far the checkpoint and delay shown may trail the real ones
    /// ([`crate::controller::write_budget::WriteBudget::freshness`]).
    pub freshness: SignedDuration,
}

/// Decides the archive's status and next step: the facts of the observation, the step, the phase it gives,
/// the conditions and health, then the status.
pub fn decide(inputs: &Inputs<'_>) -> Decision {
    let archive = inputs.archive;
    let spec = &archive.spec;
    let previous = archive.status.clone().unwrap_or_default();
    let generation = archive.metadata.generation;
    let base = LogBackupStatus {
        observed_generation: generation,
        cluster_name: Some(inputs.cluster_name.to_string()),
        ..previous.clone()
    };
    let (snapshot, tenant, reachable) = match reading::read(
        inputs.observation,
        inputs.cluster_name,
        &spec.tenant,
        generation,
    ) {
        Reading::Tenant {
            snapshot,
            tenant,
            reachable,
            ..
        } => (snapshot, tenant, reachable),
        Reading::Blocked {
            health,
            extra,
            active,
        } => {
            let status = LogBackupStatus {
                phase: previous.phase.or(Some(heading(archive))),
                ..base
            };
            let interest = Some(interest(archive, active));
            return Decision::new(status, Step::Wait, interest).health(health, extra);
        }
    };
    let facts = Facts::of(inputs, snapshot, tenant);
    let (step, note) = facts.step();
    let phase = facts.phase(step);
    let mut extra = vec![reachable];
    extra.extend(facts.destination_applied());
    let (delay, recheck) = facts.delay(phase);
    extra.extend(delay);
    let failure = facts
        .round
        .filter(|r| r.status == RoundStatus::Interrupted)
        .map(interrupted_failure);
    let health = facts.health(phase, step, note, failure.as_ref());
    let status = facts.status(base, &previous, phase, &extra, failure);
    let recheck = facts.refresh(&status, recheck);
    let active = matches!(phase, LogBackupPhase::Starting | LogBackupPhase::Stopping);
    Decision::new(status, step, Some(interest(archive, active)))
        .health(health, Some(extra))
        .recheck(recheck)
}

/// The phase an archive shows while it heads for its desired state.
fn heading(archive: &LogBackup) -> LogBackupPhase {
    if archive.spec.desired_state == DesiredArchiveState::Running {
        LogBackupPhase::Starting
    } else {
        LogBackupPhase::Stopping
    }
}

/// What an archive watches in the observer: its tenant, closely while it starts or stops.
fn interest(archive: &LogBackup, active: bool) -> Interest {
    Interest {
        tenant: archive.spec.tenant.clone(),
        description: None,
        active,
        restore: false,
        since: None,
        overview: Vec::new(),
        external: false,
        lag_alert: Some(alert_threshold(archive)),
    }
}

/// What one observation says of an archiving tenant.
struct Facts<'a> {
    inputs: &'a Inputs<'a>,
    tenant: &'a TenantRow,
    /// The tenant's current round, unless stopped.
    round: Option<&'a ArchiveRound>,
    dest: Option<&'a ArchiveDest>,
    /// Whether OceanBase archives to the spec's destination, binding and piece switch interval.
    dest_matches: bool,
    /// Whether the spec asks for archiving.
    running: bool,
    /// How far archiving lags (none without a round).
    delay: Option<SignedDuration>,
    /// The servers of the tenant's units, as the status shows them.
    service_hosts: Option<String>,
}

impl<'a> Facts<'a> {
    fn of(inputs: &'a Inputs<'a>, snapshot: &'a Snapshot, tenant: &'a TenantRow) -> Self {
        let spec = &inputs.archive.spec;
        let round = snapshot
            .round(tenant.id)
            .filter(|r| r.status != RoundStatus::Stop);
        let binding = binding_of(spec.binding);
        let dest = snapshot.archive_dest(tenant.id);
        let dest_matches = dest.is_some_and(|d| {
            d.path == inputs.log_uri
                && d.binding == binding
                && d.piece_switch_interval
                    .eq_ignore_ascii_case(&spec.piece_switch_interval)
        });
        Self {
            inputs,
            tenant,
            round,
            dest,
            dest_matches,
            running: spec.desired_state == DesiredArchiveState::Running,
            delay: round.and_then(|r| crate::observer::archive_lag(r, inputs.clock.now)),
            service_hosts: snapshot.service_hosts(tenant.id),
        }
    }

    /// The path OceanBase archives to, as a message shows it.
    fn dest_path(&self) -> &str {
        self.dest.map(|d| d.path.as_str()).unwrap_or("none")
    }

    /// The next statement, and a note on what the spec asks that OceanBase cannot do yet.
    fn step(&self) -> (Step, Option<String>) {
        let archivelog = self.tenant.archivelog;
        if !self.running {
            let step = if archivelog {
                Step::ArchiveMode(false)
            } else {
                Step::Wait
            };
            return (step, None);
        }
        if !self.dest_matches && self.round.is_none() {
            (Step::SetDest, None)
        } else if self.dest.is_some_and(|d| d.state == DestState::Defer) {
            (Step::EnableDest, None)
        } else if !archivelog {
            (Step::ArchiveMode(true), None)
        } else if !self.dest_matches {
            let note = format!(
                "the destination differs from the spec ({}); OceanBase changes it only while archiving is stopped",
                self.dest_path()
            );
            (Step::Wait, Some(note))
        } else {
            (Step::Wait, None)
        }
    }

    /// The phase `step` and the round give.
    fn phase(&self, step: Step) -> LogBackupPhase {
        match (self.round, step) {
            (_, Step::SetDest | Step::EnableDest | Step::ArchiveMode(true)) => {
                LogBackupPhase::Starting
            }
            (_, Step::ArchiveMode(false)) => LogBackupPhase::Stopping,
            (Some(round), Step::Wait) => {
                crate::controller::reading::log_backup_phase(&round.status)
            }
            (None, Step::Wait) if self.tenant.archivelog => LogBackupPhase::Starting,
            (None, Step::Wait) => LogBackupPhase::Stopped,
        }
    }

    /// `DestinationApplied`, while a round runs as asked.
    fn destination_applied(&self) -> Option<Condition> {
        if !self.running || self.round.is_none() {
            return None;
        }
        let generation = self.inputs.archive.metadata.generation;
        Some(if self.dest_matches {
            condition(
                DESTINATION_APPLIED,
                true,
                Reason::Applied,
                "OceanBase archives to the spec's logDestination",
                generation,
            )
        } else {
            condition(
                DESTINATION_APPLIED,
                false,
                Reason::NeedsArchivingStopped,
                &format!(
                    "OceanBase archives to {}; the spec's logDestination takes effect only after archiving \
                     is stopped (set desiredState: Stopped, then Running)",
                    self.dest_path()
                ),
                generation,
            )
        })
    }

    /// `DelayWithinThreshold` while archiving, and when to look again so the delay shown keeps up.
    fn delay(&self, phase: LogBackupPhase) -> (Option<Condition>, Option<Duration>) {
        let archive = self.inputs.archive;
        let threshold = alert_threshold(archive);
        let mut shown = None;
        let mut recheck = None;
        if phase == LogBackupPhase::InProgress
            && let Some(delay) = self.delay
        {
            let within = delay <= threshold;
            let alert = &archive.spec.delay_alert_threshold;
            shown = Some(condition(
                DELAY_WITHIN_THRESHOLD,
                within,
                if within {
                    Reason::WithinThreshold
                } else {
                    Reason::DelayOverThreshold
                },
                // No live number here: the message must stay put while the lag moves, or every look would be
                // a status write. `delaySeconds` and the delay metric carry the number.
                &if within {
                    format!("log archiving lags less than the alert threshold ({alert})")
                } else {
                    format!("log archiving lags more than the alert threshold ({alert})")
                },
                archive.metadata.generation,
            ));
            if within {
                recheck = Duration::try_from(threshold - delay)
                    .ok()
                    .map(|d| d.clamp(DELAY_RECHECK_MIN, DELAY_RECHECK_MAX));
            }
        }
        (shown, recheck)
    }

    /// `recheck`, or sooner when the checkpoint and delay `status` shows are due to be rewritten: nothing
    /// wakes an archive when its checkpoint moves (or stays stuck), so it looks again once they are a grain
    /// old.
    fn refresh(&self, status: &LogBackupStatus, recheck: Option<Duration>) -> Option<Duration> {
        if self.delay.is_none() {
            return recheck;
        }
        let shown = LogFigures {
            checkpoint: status.checkpoint_time.as_ref().map(|t| t.0),
            delay_seconds: status.delay_seconds,
        };
        let fresh = shown.recheck(self.inputs.clock.now, self.inputs.freshness);
        Some(recheck.map_or(fresh, |r| r.min(fresh)))
    }

    /// The health `phase` gives, with the note (if any) as its message.
    fn health(
        &self,
        phase: LogBackupPhase,
        step: Step,
        note: Option<String>,
        failure: Option<&Failure>,
    ) -> Health {
        let tenant = &self.tenant.name;
        match phase {
            LogBackupPhase::InProgress => Health::Ready {
                reason: Reason::InProgress,
                message: note.unwrap_or_else(|| {
                    let round = self.round.map_or(0, |r| r.round_id);
                    format!("archiving tenant {tenant} (round {round})")
                }),
            },
            LogBackupPhase::Stopped if !self.running => Health::Ready {
                reason: Reason::Stopped,
                message: format!("log archiving of tenant {tenant} is stopped"),
            },
            LogBackupPhase::Failed => Health::Stalled {
                reason: Reason::ArchiveInterrupted,
                message: failure.map(|f| f.message.clone()).unwrap_or_default(),
            },
            other => Health::Progressing {
                reason: phase_reason(other),
                message: note.unwrap_or_else(|| match (step, self.round) {
                    (Step::SetDest, _) => format!(
                        "setting LOG_ARCHIVE_DEST of tenant {tenant} to {}",
                        self.inputs.log_uri
                    ),
                    (Step::EnableDest, _) => "enabling the archive destination".into(),
                    (Step::ArchiveMode(true), _) => "starting log archiving (ARCHIVELOG)".into(),
                    (Step::ArchiveMode(false), _) => "stopping log archiving (NOARCHIVELOG)".into(),
                    (Step::Wait, Some(round)) => {
                        format!("archive round {} is {}", round.round_id, round.status)
                    }
                    (Step::Wait, None) => "waiting for OceanBase to start an archive round".into(),
                }),
            },
        }
    }

    /// The status: the round's times and place, the checkpoint and delay kept until read a grain ago (so
    /// steady archiving rewrites them once a grain).
    fn status(
        &self,
        base: LogBackupStatus,
        previous: &LogBackupStatus,
        phase: LogBackupPhase,
        extra: &[Condition],
        failure: Option<Failure>,
    ) -> LogBackupStatus {
        let round = self.round;
        let checkpoint = round
            .filter(|r| r.checkpoint_scn > 0)
            .map(|r| scn_time(r.checkpoint_scn));
        let delay = self.delay;
        let within = |conditions: &[Condition]| {
            conditions
                .iter()
                .find(|c| c.type_ == DELAY_WITHIN_THRESHOLD)
                .map(|c| c.status.clone())
        };
        let shown = LogFigures {
            checkpoint: previous.checkpoint_time.as_ref().map(|t| t.0),
            delay_seconds: previous.delay_seconds,
        };
        let delay_seconds = delay.map(|d| d.as_secs());
        let fresh = LogFigures {
            checkpoint,
            delay_seconds,
        };
        let refresh = previous.phase != Some(phase)
            || shown.replaced_by(fresh, self.inputs.clock.now, self.inputs.freshness)
            || within(&previous.conditions) != within(extra);
        let (checkpoint_time, delay_seconds) = if refresh {
            (checkpoint.map(api_time), delay_seconds)
        } else {
            (previous.checkpoint_time.clone(), previous.delay_seconds)
        };
        LogBackupStatus {
            phase: Some(phase),
            checkpoint_time,
            delay_seconds,
            start_time: round
                .filter(|r| r.start_scn > 0)
                .map(|r| api_time(scn_time(r.start_scn)))
                .or_else(|| previous.start_time.clone()),
            round_id: round.map(|r| r.round_id).or(previous.round_id),
            storage_directory: round
                .map(|r| r.path.clone())
                .filter(|p| !p.is_empty())
                .or_else(|| previous.storage_directory.clone()),
            service_hosts: self
                .service_hosts
                .clone()
                .or_else(|| previous.service_hosts.clone()),
            failure,
            ..base
        }
    }
}

/// The reason a phase shows while nothing is wrong.
pub fn phase_reason(phase: LogBackupPhase) -> Reason {
    match phase {
        LogBackupPhase::Starting => Reason::Starting,
        LogBackupPhase::InProgress => Reason::InProgress,
        LogBackupPhase::Stopping => Reason::Stopping,
        LogBackupPhase::Stopped => Reason::Stopped,
        LogBackupPhase::Failed => Reason::ArchiveInterrupted,
    }
}

/// OceanBase's `BINDING` for the spec's.
pub fn binding_of(binding: ArchiveBinding) -> Binding {
    match binding {
        ArchiveBinding::Optional => Binding::Optional,
        ArchiveBinding::Mandatory => Binding::Mandatory,
    }
}

/// OceanBase's reason for an interrupted round: COMMENT, with the code when it starts like `-9070(…)`.
fn interrupted_failure(round: &ArchiveRound) -> Failure {
    let code = round
        .comment
        .split('(')
        .next()
        .and_then(|c| c.trim().parse().ok());
    Failure {
        code,
        message: if round.comment.is_empty() {
            format!("archive round {} was interrupted", round.round_id)
        } else {
            round.comment.clone()
        },
    }
}

/// The status after a statement: unchanged when it went through (the next snapshot shows its effect),
/// with the reason when it did not.
pub fn after_step(
    archive: &LogBackup,
    status: LogBackupStatus,
    outcome: Result<(), ObError>,
    now: Timestamp,
) -> LogBackupStatus {
    let health = match outcome {
        Ok(()) => return status,
        // Already in the asked mode: the next snapshot shows it.
        Err(ObError::Server { code, .. }) if codes::already_in_mode(code) => return status,
        Err(ObError::Unreachable(reason)) => Health::Progressing {
            reason: Reason::ClusterUnreachable,
            message: format!("the cluster did not answer: {reason}"),
        },
        Err(ObError::Server { code, message }) => Health::Progressing {
            reason: Reason::Refused,
            message: format!("OceanBase refused ({code}): {message}; retrying"),
        },
        Err(other) => Health::Stalled {
            reason: Reason::InvalidInput,
            message: other.to_string(),
        },
    };
    with_health(status, archive, &health, None, now)
}

/// The status with conditions for `health` plus `extra` and the health's message.
fn with_health(
    status: LogBackupStatus,
    archive: &LogBackup,
    health: &Health,
    extra: Option<Vec<Condition>>,
    now: Timestamp,
) -> LogBackupStatus {
    crate::controller::status::with_health(status, archive.metadata.generation, health, extra, now)
}

/// The status of an archive whose references are wrong: Stalled with the reason, phase kept (or the phase
/// it is heading for).
pub fn stalled(
    archive: &LogBackup,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> LogBackupStatus {
    let previous = archive.status.clone().unwrap_or_default();
    let (phase, waiting) = match archive.spec.desired_state {
        crate::api::log_backup::DesiredArchiveState::Running => {
            (LogBackupPhase::Starting, "waiting to start log archiving")
        }
        crate::api::log_backup::DesiredArchiveState::Stopped => {
            (LogBackupPhase::Stopping, "waiting to stop log archiving")
        }
    };
    let (conditions, message) = crate::controller::summarize(
        &previous.conditions,
        archive.metadata.generation,
        problems,
        Health::Progressing {
            reason: phase_reason(phase),
            message: waiting.into(),
        },
        now,
    );
    LogBackupStatus {
        // Starting and Stopping only say what the operator is heading for, so they follow the desired state;
        // phases observed from OceanBase stay until OceanBase says otherwise.
        phase: Some(match previous.phase {
            Some(LogBackupPhase::Starting | LogBackupPhase::Stopping) | None => phase,
            Some(observed) => observed,
        }),
        conditions,
        observed_generation: archive.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        ..previous
    }
}

#[cfg(test)]
mod tests {
    use crate::oceanbase::State;
    use std::sync::Arc;

    use super::*;
    use crate::timing::STATUS_FRESHNESS;
    use crate::{
        api::{LogBackupSpec, common::ClusterConnection},
        oceanbase::{ArchiveDest, TenantRow, fake},
    };

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("time")
    }

    /// An SCN at `seconds`, with a sub-second part as real SCNs have.
    fn scn(seconds: i64) -> u64 {
        u64::try_from(at(seconds).as_nanosecond()).expect("positive") + 123_456_789
    }

    fn archive(desired_state: DesiredArchiveState) -> LogBackup {
        let mut archive = LogBackup::new(
            "a",
            LogBackupSpec {
                strategy_ref: None,
                cluster: Some(ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: Some("ob".into()),
                    ob_cluster: None,
                }),
                log_destination: None,
                tenant: "tenant1".into(),
                desired_state,
                piece_switch_interval: "1d".into(),
                binding: ArchiveBinding::Optional,
                delay_alert_threshold: "10m".into(),
                second_copy: Default::default(),
            },
        );
        archive.metadata.generation = Some(1);
        archive
    }

    fn seen(
        archivelog: bool,
        dest: Option<(&str, &str)>,
        round: Option<(&str, u64)>,
    ) -> Observation {
        let mut snapshot = fake::snapshot().tenant(TenantRow {
            archivelog,
            ..fake::tenant(1002, "tenant1")
        });
        if let Some((path, state)) = dest {
            let dest = ArchiveDest {
                path: path.into(),
                binding: Binding::Optional,
                piece_switch_interval: "1d".into(),
                state: State::of(state),
            };
            snapshot = snapshot.archive_dest(1002, dest);
        }
        if let Some((status, checkpoint)) = round {
            snapshot = snapshot.round(ArchiveRound {
                round_id: 3,
                start_scn: scn(0),
                checkpoint_scn: checkpoint,
                comment: if status == "INTERRUPTED" {
                    "-9070(can not connect to backup destination)".into()
                } else {
                    String::new()
                },
                ..fake::round(1002, status)
            });
        }
        Observation::Seen {
            snapshot: Arc::new(snapshot.build()),
            at: at(0),
        }
    }

    fn decide_at(archive: &LogBackup, observation: &Observation, now: Timestamp) -> Decision {
        decide_within(archive, observation, now, STATUS_FRESHNESS)
    }

    /// [`decide_at`] with the freshness grain `freshness` (more objects refreshing than the budget affords
    /// a minute each).
    fn decide_within(
        archive: &LogBackup,
        observation: &Observation,
        now: Timestamp,
        freshness: SignedDuration,
    ) -> Decision {
        decide(&Inputs {
            archive,
            cluster_name: "obcluster",
            log_uri: "file:///archive",
            observation,
            clock: Clock::at(now),
            freshness,
        })
        .settled(archive.metadata.generation, now)
    }

    #[test]
    fn starting_sets_the_destination_then_archivelog_and_follows_the_round() {
        let running = archive(DesiredArchiveState::Running);
        let none = decide_at(&running, &seen(false, None, None), at(0));
        assert_eq!(
            (none.step, none.status.phase),
            (Step::SetDest, Some(LogBackupPhase::Starting))
        );
        let deferred = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "DEFER")),
                Some(("SUSPEND", scn(5))),
            ),
            at(10),
        );
        assert_eq!(deferred.step, Step::EnableDest);
        let off = decide_at(
            &running,
            &seen(false, Some(("file:///archive", "ENABLE")), None),
            at(0),
        );
        assert_eq!(off.step, Step::ArchiveMode(true));
        let beginning = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("BEGINNING", scn(1))),
            ),
            at(2),
        );
        assert_eq!(
            (beginning.step, beginning.status.phase),
            (Step::Wait, Some(LogBackupPhase::Starting))
        );
        let doing = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("DOING", scn(50))),
            ),
            at(60),
        );
        assert_eq!(doing.status.phase, Some(LogBackupPhase::InProgress));
        assert_eq!(
            doing.status.delay_seconds,
            Some(9),
            "whole seconds of 9.88 s"
        );
        assert_eq!(doing.status.round_id, Some(3));
        let delay = doing
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == DELAY_WITHIN_THRESHOLD)
            .expect("condition");
        assert_eq!(delay.status, "True");
        let lagging = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("DOING", scn(50))),
            ),
            at(50 + 11 * 60),
        );
        let delay = lagging
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == DELAY_WITHIN_THRESHOLD)
            .expect("condition");
        assert_eq!(
            (delay.status.as_str(), delay.reason.as_str()),
            ("False", "DelayOverThreshold")
        );
    }

    #[test]
    fn the_status_names_the_servers_of_the_tenants_units_and_keeps_them_while_none_are_listed() {
        let running = archive(DesiredArchiveState::Running);
        let doing = Some(("DOING", scn(50)));
        let Observation::Seen {
            snapshot,
            at: seen_at,
        } = seen(true, Some(("file:///archive", "ENABLE")), doing)
        else {
            panic!("seen");
        };
        let mut with_units = (*snapshot).clone();
        with_units.units = vec![
            (1002, "10.0.0.2".into()),
            (1002, "10.0.0.1".into()),
            (1002, "10.0.0.1".into()),
            (1004, "10.0.0.9".into()),
        ];
        let observation = Observation::Seen {
            snapshot: Arc::new(with_units),
            at: seen_at,
        };
        let first = decide_at(&running, &observation, at(60));
        assert_eq!(
            first.status.service_hosts.as_deref(),
            Some("10.0.0.1, 10.0.0.2"),
            "sorted, each once, only the tenant's own"
        );
        let mut kept = running.clone();
        kept.status = Some(first.status.clone());
        let unlisted = seen(true, Some(("file:///archive", "ENABLE")), doing);
        let second = decide_at(&kept, &unlisted, at(61));
        assert_eq!(second.status.service_hosts, first.status.service_hosts);
    }

    #[test]
    fn a_running_archive_with_another_destination_is_not_changed() {
        let running = archive(DesiredArchiveState::Running);
        let other = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///elsewhere", "ENABLE")),
                Some(("DOING", scn(1))),
            ),
            at(2),
        );
        assert_eq!(
            other.step,
            Step::Wait,
            "OceanBase refuses a dest change while archiving runs (1235)"
        );
        assert!(
            other
                .status
                .message
                .as_deref()
                .is_some_and(|m| m.contains("destination differs"))
        );
        // Ready (it archives), but a condition says the spec's destination is not applied yet.
        let applied = other
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "DestinationApplied")
            .map(|c| (c.status.as_str(), c.reason.as_str()));
        assert_eq!(applied, Some(("False", "NeedsArchivingStopped")));
        let same = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("DOING", scn(1))),
            ),
            at(2),
        );
        let applied = same
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "DestinationApplied")
            .map(|c| c.status.as_str());
        assert_eq!(applied, Some("True"));
    }

    #[test]
    fn an_interrupted_round_is_failed_with_its_code_and_comment() {
        let running = archive(DesiredArchiveState::Running);
        let interrupted = decide_at(
            &running,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("INTERRUPTED", scn(1))),
            ),
            at(2),
        );
        assert_eq!(interrupted.status.phase, Some(LogBackupPhase::Failed));
        let failure = interrupted.status.failure.expect("failure");
        assert_eq!(failure.code, Some(-9070));
        assert_eq!(
            failure.message,
            "-9070(can not connect to backup destination)"
        );
    }

    #[test]
    fn stopping_sends_noarchivelog_and_ends_stopped() {
        let stopped = archive(DesiredArchiveState::Stopped);
        let on = decide_at(
            &stopped,
            &seen(
                true,
                Some(("file:///archive", "ENABLE")),
                Some(("DOING", scn(1))),
            ),
            at(2),
        );
        assert_eq!(
            (on.step, on.status.phase),
            (Step::ArchiveMode(false), Some(LogBackupPhase::Stopping))
        );
        let off = decide_at(
            &stopped,
            &seen(false, Some(("file:///archive", "ENABLE")), None),
            at(2),
        );
        assert_eq!(
            (off.step, off.status.phase),
            (Step::Wait, Some(LogBackupPhase::Stopped))
        );
        assert!(
            off.status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        );
    }

    /// The tenant archiving to the spec's destination, its round in `status` at `checkpoint`.
    fn archiving(status: &str, checkpoint: i64) -> Observation {
        seen(
            true,
            Some(("file:///archive", "ENABLE")),
            Some((status, scn(checkpoint))),
        )
    }

    #[test]
    fn steady_archiving_rewrites_the_checkpoint_once_a_minute_and_a_stuck_one_its_delay() {
        let mut running = archive(DesiredArchiveState::Running);
        let first = decide_at(&running, &archiving("DOING", 100), at(101)).status;
        // Whole seconds, as the API server stores them: a finer time would never read back equal.
        let with_nanos = |s: &LogBackupStatus| {
            [&s.start_time, &s.checkpoint_time]
                .into_iter()
                .flatten()
                .any(|t| t.0.subsec_nanosecond() != 0)
        };
        assert!(!with_nanos(&first));
        running.status = Some(first);
        let half_a_minute = decide_at(&running, &archiving("DOING", 130), at(131));
        assert_eq!(
            Some(half_a_minute.status),
            running.status,
            "30 s of steady archiving writes nothing"
        );
        let minute_later = decide_at(&running, &archiving("DOING", 160), at(161));
        assert_eq!(
            minute_later.status.checkpoint_time.map(|t| t.0),
            Some(at(160)),
            "a minute of archiving moves the checkpoint shown"
        );
        // Stuck (INTERRUPTED, the checkpoint frozen at 100): the delay shown keeps up within a minute, and the
        // operator looks again within that minute although nothing wakes it.
        for now in [150, 161, 250] {
            let stuck = decide_at(&running, &archiving("INTERRUPTED", 100), at(now));
            assert!(
                stuck.recheck.is_some_and(|r| r <= Duration::from_secs(60)),
                "{now}: {:?}",
                stuck.recheck
            );
            let (real, shown) = (now - 100, stuck.status.delay_seconds.unwrap_or(0));
            assert!(real - shown < 60, "{now}: {shown} s shown, {real} s real");
            running.status = Some(stuck.status);
        }
        // Stopped: no delay at all.
        let stopped = decide_at(&running, &archiving("STOP", 100), at(300));
        assert_eq!(stopped.status.delay_seconds, None);
    }

    /// Nothing wakes an archive when its checkpoint moves: the decision looks again when the figures shown
    /// are a grain old, and that look rewrites them, although the checkpoint (which OceanBase moves in
    /// steps) moved less than a grain — under a rule by the checkpoint's motion they would trail by two.
    #[test]
    fn the_figures_shown_are_looked_at_and_rewritten_once_read_a_grain_ago() {
        let mut running = archive(DesiredArchiveState::Running);
        // Read at 101, the checkpoint at 100.12: shown as 100 and 0 s (whole seconds), so as read at 100.
        let first = decide_at(&running, &archiving("DOING", 100), at(101));
        assert_eq!(first.recheck, Some(Duration::from_secs(59)), "due at 160");
        running.status = Some(first.status);
        let half = decide_at(&running, &archiving("DOING", 125), at(131));
        assert_eq!(Some(&half.status), running.status.as_ref());
        assert_eq!(half.recheck, Some(Duration::from_secs(29)), "due at 160");
        let due = decide_at(&running, &archiving("DOING", 155), at(160));
        assert_eq!(
            due.status.checkpoint_time.as_ref().map(|t| t.0),
            Some(at(155))
        );
        assert_eq!(due.status.delay_seconds, Some(4));
        assert_eq!(due.recheck, Some(Duration::from_secs(59)), "due at 219");
        // Looked at late (the operator was down): rewritten at once.
        running.status = Some(due.status);
        let late = decide_at(&running, &archiving("DOING", 155), at(400));
        assert_eq!(late.status.delay_seconds, Some(244), "400 - 155.12, whole");
        // OceanBase's clock ahead of the operator's: the checkpoint is later than the look (the delay
        // 0), so the time it was read is unknown; it is rewritten at each look, a grain apart, never held.
        let mut ahead = archive(DesiredArchiveState::Running);
        let first = decide_at(&ahead, &archiving("DOING", 200), at(101));
        assert_eq!(first.recheck, Some(Duration::from_secs(60)));
        ahead.status = Some(first.status);
        let next = decide_at(&ahead, &archiving("DOING", 260), at(161));
        assert_eq!(next.status.checkpoint_time.map(|t| t.0), Some(at(260)));
    }

    /// With more archiving objects than the write budget affords a write a minute each, the grain is
    /// longer: a minute moves nothing, the grain does, and a stuck archive is looked at within it.
    #[test]
    fn a_longer_grain_rewrites_the_checkpoint_once_a_grain() {
        let grain = SignedDuration::from_secs(400);
        let mut running = archive(DesiredArchiveState::Running);
        running.status =
            Some(decide_within(&running, &archiving("DOING", 100), at(101), grain).status);
        for now in [161, 300, 499] {
            let steady = decide_within(&running, &archiving("DOING", now - 1), at(now), grain);
            assert_eq!(
                Some(steady.status),
                running.status,
                "{now}: nothing to write"
            );
        }
        let later = decide_within(&running, &archiving("DOING", 500), at(501), grain);
        assert_eq!(later.status.checkpoint_time.map(|t| t.0), Some(at(500)));
        let stuck = decide_within(&running, &archiving("INTERRUPTED", 100), at(200), grain);
        assert!(
            stuck.recheck.is_some_and(|r| r <= Duration::from_secs(400)),
            "{:?}",
            stuck.recheck
        );
    }
}
