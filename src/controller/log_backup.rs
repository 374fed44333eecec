//! LogBackup controller. It checks what the archive refers to and reports `Starting` / `Stopping`, or
//! `Stalled` with the reason; driving OceanBase's archive rounds is the next step of its lifecycle.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile, conditions::Health, error::Problem, health, namespace_of,
    next_action, references::ReferenceCheck, status, summarize,
};
use crate::api::{LogBackup, LogBackupPhase, LogBackupStatus, log_backup::DesiredArchiveState};

impl Reconcile for LogBackup {
    const KIND: &'static str = "LogBackup";

    async fn reconcile(archive: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(archive.as_ref())?;
        let spec = &archive.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let cluster_name = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.log_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        let desired = desired_status(&archive, cluster_name, &check.problems, Timestamp::now());
        status::write(&ctx, archive.as_ref(), archive.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// The status an archive should have, given what was found and what its status already records.
fn desired_status(
    archive: &LogBackup,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> LogBackupStatus {
    let previous = archive.status.clone().unwrap_or_default();
    let (phase, waiting) = match archive.spec.desired_state {
        DesiredArchiveState::Running => {
            (LogBackupPhase::Starting, "waiting to start log archiving")
        }
        DesiredArchiveState::Stopped => (LogBackupPhase::Stopping, "waiting to stop log archiving"),
    };
    let health = health(
        problems,
        Health::Progressing {
            reason: format!("{phase:?}"),
            message: waiting.into(),
        },
    );
    let (conditions, message) = summarize(
        &previous.conditions,
        archive.metadata.generation,
        &health,
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
    use super::*;
    use crate::api::{LogBackupSpec, backup_strategy::ArchiveBinding, common::StrategyReference};

    fn archive(desired_state: DesiredArchiveState) -> LogBackup {
        let mut archive = LogBackup::new(
            "a",
            LogBackupSpec {
                strategy_ref: Some(StrategyReference {
                    name: "demo".into(),
                }),
                cluster: None,
                log_destination: None,
                tenant: "tenant1".into(),
                desired_state,
                piece_switch_interval: "1d".into(),
                binding: ArchiveBinding::Optional,
                delay_alert_threshold: "10m".into(),
            },
        );
        archive.metadata.generation = Some(2);
        archive
    }

    #[test]
    fn the_first_phase_follows_the_desired_state() {
        let now = Timestamp::UNIX_EPOCH;
        let running = desired_status(&archive(DesiredArchiveState::Running), None, &[], now);
        let stopped = desired_status(&archive(DesiredArchiveState::Stopped), None, &[], now);
        assert_eq!(running.phase, Some(LogBackupPhase::Starting));
        assert_eq!(stopped.phase, Some(LogBackupPhase::Stopping));
        assert_eq!(running.observed_generation, Some(2));
    }

    #[test]
    fn stopping_before_archiving_started_says_stopping() {
        let mut archive = archive(DesiredArchiveState::Running);
        archive.status = Some(desired_status(&archive, None, &[], Timestamp::UNIX_EPOCH));
        archive.spec.desired_state = DesiredArchiveState::Stopped;
        assert_eq!(
            desired_status(&archive, None, &[], Timestamp::UNIX_EPOCH).phase,
            Some(LogBackupPhase::Stopping)
        );
    }

    #[test]
    fn recomputing_an_unchanged_archive_gives_the_same_status() {
        let mut archive = archive(DesiredArchiveState::Running);
        let problems = [Problem::elsewhere("SecretNotFound", "Secret s not found")];
        archive.status = Some(desired_status(
            &archive,
            None,
            &problems,
            Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(
            Some(desired_status(&archive, None, &problems, Timestamp::now())),
            archive.status
        );
    }
}
