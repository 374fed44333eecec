//! LogBackup controller: continuous log archiving of one tenant (SPEC §2.4). Decisions are pure
//! ([`decide`]); this file reads what they need, writes the status and sends the one statement a decision
//! asks for (`LOG_ARCHIVE_DEST`, `LOG_ARCHIVE_DEST_STATE`, `ARCHIVELOG` / `NOARCHIVELOG`).

pub mod decide;

use std::sync::Arc;

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Gate, Kind, Reconcile,
    conditions::Health,
    error::Problem,
    health, namespace_of, next_action, ownership,
    references::{self, ReferenceCheck},
    refuse,
    status::{self, StatusView},
    summarize,
};
use crate::{
    api::{
        BackupStrategy, LogBackup, LogBackupPhase, LogBackupStatus, log_backup::DesiredArchiveState,
    },
    observer::{ClusterKey, ObjectKey},
    oceanbase::{Redactor, codes, sql},
};
use decide::{Inputs, Step, after_step, decide};

impl Reconcile for LogBackup {
    const KIND: &'static str = "LogBackup";

    fn phase_label(&self) -> Option<String> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    async fn reconcile(archive: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(archive.as_ref())?;
        let spec = &archive.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let placement = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.log_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        let (Some(placement), true) = (placement, check.problems.is_empty()) else {
            let desired = desired_status(&archive, None, &check.problems, crate::clock::now());
            status::write(&ctx, archive.as_ref(), archive.status.as_ref(), &desired).await?;
            return Ok(next_action(&check.problems));
        };
        let Some(destination) = placement.log_destination.clone() else {
            return Ok(Action::await_change());
        };
        let object = ObjectKey {
            kind: Self::KIND,
            namespace: namespace.clone(),
            name: archive.name_any(),
        };
        // One owner per tenant's archiving: any other LogBackup says who and sends nothing.
        let owner_problem = ownership::archive_problem(
            &archive,
            &placement.cluster,
            &ctx.catalog.list::<BackupStrategy>(&namespace).await?,
            &ctx.catalog
                .list_where(&namespace, |l: &LogBackup| {
                    l.spec.tenant.eq_ignore_ascii_case(&spec.tenant)
                })
                .await?,
        );
        if let Some(problem) = owner_problem {
            let problems = [problem];
            let cluster = Some(placement.cluster.name.clone());
            let desired = desired_status(&archive, cluster, &problems, crate::clock::now());
            return refuse(
                &ctx,
                archive.as_ref(),
                &object,
                archive.status.as_ref(),
                &desired,
                &problems,
            )
            .await;
        }
        let key = ClusterKey {
            namespace: namespace.clone(),
            secret: placement.cluster.connection_secret.clone(),
        };
        let observer = ctx.observers.observe(key, &placement.cluster.name);
        let decision = decide(&Inputs {
            archive: &archive,
            cluster_name: &placement.cluster.name,
            log_uri: &destination.uri,
            observation: &observer.latest(),
            clock: crate::timing::Clock::current(),
        });
        ctx.observers
            .watch(&observer, object, Some(decision.interest.clone()));
        record_threshold(
            &ctx,
            &namespace,
            &placement.cluster.name,
            &archive,
            &observer.latest(),
        );
        let attempt = format!("{:?}", decision.step);
        let key = format!("{namespace}/{}", archive.name_any());
        // Every statement of a LogBackup may be sent again (a destination, a mode): only a refusal holds it.
        if decision.step != Step::Wait
            && let Gate::Refused(wait) = ctx.statements.gate(&key, &attempt, Kind::Repeatable)
        {
            // The status already says why the last attempt failed; try again later, writing nothing now.
            return Ok(Action::requeue(wait));
        }
        status::write(
            &ctx,
            archive.as_ref(),
            archive.status.as_ref(),
            &decision.status,
        )
        .await?;
        let tenant = &spec.tenant;
        let mut redactor = Redactor::default();
        let statement = match decision.step {
            Step::Wait => None,
            Step::EnableDest => Some(sql::set_log_archive_dest_state(tenant, true)),
            Step::ArchiveMode(enable) => Some(sql::archive_mode(tenant, enable)),
            Step::SetDest => {
                let keys = references::access_keys(&ctx, &namespace, &destination).await?;
                let binding = decide::binding_of(spec.binding);
                redactor = Redactor::new(
                    keys.iter()
                        .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
                );
                Some(
                    sql::uri_with_keys(&destination.uri, keys.as_ref()).and_then(|uri| {
                        sql::set_log_archive_dest(
                            tenant,
                            &uri,
                            &binding,
                            &spec.piece_switch_interval,
                        )
                    }),
                )
            }
        };
        if let Some(statement) = statement {
            let outcome = ctx
                .observers
                .execute(&observer, vec![statement], &redactor)
                .await;
            // Already in the asked archive mode counts as done.
            let done = outcome
                .as_ref()
                .map_or_else(|e| e.code().is_some_and(codes::already_in_mode), |()| true);
            ctx.statements.record(
                &key,
                &attempt,
                Kind::Repeatable,
                if done { Ok(()) } else { Err(String::new()) },
            );
            let after = after_step(
                &archive,
                decision.status.clone(),
                outcome,
                crate::clock::now(),
            );
            status::write(&ctx, archive.as_ref(), Some(&decision.status), &after).await?;
            observer.poke();
        }
        Ok(ctx.statements.requeue(
            &key,
            Some(
                decision
                    .recheck
                    .map_or(crate::timing::LOG_SAFETY_RECHECK, crate::clock::real)
                    .min(crate::timing::LOG_SAFETY_RECHECK),
            ),
        ))
    }
}

/// The status of an archive whose references are wrong: Stalled with the reason, phase kept (or the phase
/// it is heading for).
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
            reason: decide::phase_reason(phase),
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

/// The LogBackup's `delayAlertThreshold` as a metric beside the tenant's delay, while it asks for archiving
/// (the delay alert compares the two per tenant); gone when it asks for a stop.
fn record_threshold(
    ctx: &Context,
    namespace: &str,
    cluster: &str,
    archive: &LogBackup,
    observation: &crate::observer::Observation,
) {
    // The tenant as OceanBase spells it, as the delay series does (names ignore case).
    let tenant = match observation {
        crate::observer::Observation::Seen { snapshot, .. } => snapshot
            .tenant(&archive.spec.tenant)
            .map(|t| t.name.clone()),
        _ => None,
    };
    let labels = crate::metrics::TenantLabels {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
        tenant: tenant.unwrap_or_else(|| archive.spec.tenant.clone()),
    };
    if archive.spec.desired_state == DesiredArchiveState::Running {
        ctx.metrics
            .log_backup_delay_threshold
            .get_or_create(&labels)
            .set(decide::alert_threshold(archive).as_secs());
    } else {
        ctx.metrics.log_backup_delay_threshold.remove(&labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LogBackupSpec, backup_strategy::ArchiveBinding, common::StrategyReference};
    use crate::controller::reason::Reason;

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
        let problems = [Problem::elsewhere(
            Reason::SecretNotFound,
            "Secret s not found",
        )];
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
