//! LogBackup controller: continuous log archiving of one tenant (docs/contributing/design.md §2.4),
//! driven by [`task::drive`]. Decisions are pure ([`decide`]); this file says what an archive
//! refers to and which statement each step sends (`LOG_ARCHIVE_DEST`, `LOG_ARCHIVE_DEST_STATE`,
//! `ARCHIVELOG` / `NOARCHIVELOG`). Every one of them may be sent again: only a refusal holds one
//! back.

mod copy_schedule;
pub mod decide;
mod second_copy;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Kind, Reconcile,
    error::Problem,
    ownership,
    references::{self, ReferenceCheck},
    status::StatusView,
    task::{self, Batch, Effect, Prepared, References, Target, Task},
};
use crate::{
    api::{LogBackup, LogBackupStatus, common::ClusterConnection, log_backup::DesiredArchiveState},
    observer::Observation,
    oceanbase::{ObError, Redactor, codes, sql},
    timing::Clock,
};
use decide::{Decision, Inputs, Step, after_step};

// Archiving that stopped or failed may start again: a LogBackup never ends as a task does.
super::status::status_view!(
    crate::api::LogBackupStatus,
    |_| false,
    news = copy_schedule::news,
    steady = steady_part
);

/// The status without its checkpoint and delay and its second copy's, which move by themselves.
fn steady_part(status: &crate::api::LogBackupStatus) -> crate::api::LogBackupStatus {
    crate::api::LogBackupStatus {
        checkpoint_time: None,
        delay_seconds: None,
        second_backup: status.second_backup.clone().map(|copy| {
            crate::api::log_backup::SecondLogCopy {
                checkpoint_time: None,
                delay_seconds: None,
                ..copy
            }
        }),
        ..status.clone()
    }
}

/// A LogBackup submits nothing: its statements may all be sent again.
impl super::task::Submission for crate::api::LogBackupStatus {
    fn unsettled_intent(&self) -> Option<Timestamp> {
        None
    }
    fn with_intent(&self, _now: Timestamp) -> Self {
        self.clone()
    }
}

impl Reconcile for LogBackup {
    const KIND: &'static str = "LogBackup";
    const READ_ANNOTATIONS: &'static [&'static str] = &[];

    fn strategy_ref(&self) -> Option<&str> {
        self.spec.strategy_ref.as_ref().map(|r| r.name.as_str())
    }

    fn phase_label(&self) -> Option<&'static str> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.status.as_ref().map_or(&[], StatusView::conditions)
    }

    /// Archiving: its checkpoint and delay (and its second copy's) move by themselves.
    fn refreshes(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.phase == Some(crate::api::log_backup::LogBackupPhase::InProgress))
    }

    async fn reconcile(archive: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        task::drive(archive, ctx).await
    }
}

impl Task for LogBackup {
    type Step = Step;
    type Refs = Target;
    const SAFETY_RECHECK: Duration = crate::timing::LOG_SAFETY_RECHECK;

    /// Archiving never ends: there is always something to watch.
    fn done(&self) -> bool {
        false
    }

    async fn dereference(
        &self,
        ctx: &Context,
        namespace: &str,
    ) -> Result<References<Target>, Error> {
        let spec = &self.spec;
        let mut check = ReferenceCheck::new(ctx, namespace);
        let placement = check
            .placement(
                crate::api::backup_strategy::BackupMethod::Physical,
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.log_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        Ok(Target::of(References::of(placement, check.problems), |p| {
            p.log_destination.clone()
        }))
    }

    fn cluster(target: &Target) -> &ClusterConnection {
        &target.placement.cluster
    }

    fn stalled(
        &self,
        cluster: Option<String>,
        problems: &[Problem],
        now: Timestamp,
    ) -> LogBackupStatus {
        decide::stalled(self, cluster, problems, now)
    }

    fn decide(
        &self,
        ctx: &Context,
        target: &Target,
        observation: &Observation,
        clock: Clock,
    ) -> Decision {
        decide::decide(&Inputs {
            archive: self,
            cluster_name: &target.placement.cluster.name,
            log_uri: &target.destination.uri,
            observation,
            clock,
            freshness: ctx.writes.freshness(),
        })
    }

    /// One owner per tenant's archiving: any other LogBackup says who and sends nothing.
    async fn conflict(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        _step: Step,
    ) -> Result<Option<Problem>, Error> {
        let tenant = &self.spec.tenant;
        let tenants = [tenant.clone()];
        let cluster = &target.placement.cluster;
        if let Some(held) =
            crate::controller::coexistence::problem(ctx, namespace, cluster, &tenants)
        {
            return Ok(Some(held));
        }
        Ok(ownership::archive_problem(
            self,
            &target.placement.cluster,
            &ownership::strategies_near(&ctx.catalog, namespace, &target.placement.cluster).await?,
            &ctx.catalog
                .list_where(namespace, |l: &LogBackup| {
                    l.spec.tenant.eq_ignore_ascii_case(tenant)
                })
                .await?,
        ))
    }

    async fn background(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        seen: &Observation,
        decision: &mut Decision,
    ) -> Result<(), Error> {
        second_copy::follow(ctx, namespace, self, target, seen, decision).await?;
        let labels = tenant_labels(namespace, &target.placement.cluster.name, self, seen);
        let gauge = &ctx.metrics.second_log_copy_delay;
        match decision
            .status
            .second_backup
            .as_ref()
            .and_then(|c| c.delay_seconds)
        {
            Some(delay) => {
                gauge.get_or_create(&labels).set(delay);
            }
            None => {
                gauge.remove(&labels);
            }
        }
        Ok(())
    }

    fn observed(&self, ctx: &Context, namespace: &str, target: &Target, seen: &Observation) {
        record_threshold(ctx, namespace, &target.placement.cluster.name, self, seen);
    }

    fn effect(step: Step) -> Effect {
        match step {
            Step::Wait => Effect::None,
            Step::SetDest | Step::EnableDest | Step::ArchiveMode(_) => {
                Effect::Send(Kind::Repeatable)
            }
        }
    }

    async fn prepare(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        step: Step,
        status: &LogBackupStatus,
    ) -> Result<Prepared<LogBackupStatus>, Error> {
        let spec = &self.spec;
        let tenant = &spec.tenant;
        Ok(match step {
            Step::Wait => Prepared::Hold(status.clone()),
            Step::EnableDest => {
                Prepared::Send(Batch::plain(vec![sql::set_log_archive_dest_state(
                    tenant, true,
                )]))
            }
            Step::ArchiveMode(enable) => {
                Prepared::Send(Batch::plain(vec![sql::archive_mode(tenant, enable)]))
            }
            Step::SetDest => {
                let keys = references::access_keys(ctx, namespace, &target.destination).await?;
                let binding = decide::binding_of(spec.binding);
                let statement = sql::uri_with_keys(&target.destination.uri, keys.as_ref())
                    .and_then(|uri| {
                        sql::set_log_archive_dest(
                            tenant,
                            &uri,
                            &binding,
                            &spec.piece_switch_interval,
                        )
                    });
                Prepared::Send(Batch {
                    statements: vec![statement],
                    redactor: Redactor::new(
                        keys.iter()
                            .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
                    ),
                })
            }
        })
    }

    fn after(
        &self,
        _step: Step,
        sent: LogBackupStatus,
        outcome: Result<(), ObError>,
        now: Timestamp,
    ) -> (LogBackupStatus, Option<Step>) {
        (after_step(self, sent, outcome, now), None)
    }

    /// Already in the asked archive mode counts as done.
    fn done_anyway(error: &ObError) -> bool {
        error.code().is_some_and(codes::already_in_mode)
    }
}

/// The LogBackup's `delayAlertThreshold` as a metric beside the tenant's delay, while it asks for archiving
/// (the delay alert compares the two per tenant); gone when it asks for a stop.
fn record_threshold(
    ctx: &Context,
    namespace: &str,
    cluster: &str,
    archive: &LogBackup,
    observation: &Observation,
) {
    let labels = tenant_labels(namespace, cluster, archive, observation);
    if archive.spec.desired_state == DesiredArchiveState::Running {
        ctx.metrics
            .log_backup_delay_threshold
            .get_or_create(&labels)
            .set(decide::alert_threshold(archive).as_secs());
    } else {
        ctx.metrics.log_backup_delay_threshold.remove(&labels);
    }
}

/// The archive's tenant's metric labels, the tenant as OceanBase spells it, as the delay series does (names
/// ignore case).
fn tenant_labels(
    namespace: &str,
    cluster: &str,
    archive: &LogBackup,
    observation: &Observation,
) -> crate::metrics::TenantLabels {
    let tenant = match observation {
        Observation::Seen { snapshot, .. } => snapshot
            .tenant(&archive.spec.tenant)
            .map(|t| t.name.clone()),
        _ => None,
    };
    crate::metrics::TenantLabels {
        namespace: namespace.to_string(),
        cluster: cluster.to_string(),
        tenant: tenant.unwrap_or_else(|| archive.spec.tenant.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::LogBackupPhase;
    use crate::api::{LogBackupSpec, backup_strategy::ArchiveBinding, common::StrategyReference};
    use crate::reason::Reason;

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
                second_copy: Default::default(),
            },
        );
        archive.metadata.generation = Some(2);
        archive
    }

    #[test]
    fn the_first_phase_follows_the_desired_state() {
        let now = Timestamp::UNIX_EPOCH;
        let running = decide::stalled(&archive(DesiredArchiveState::Running), None, &[], now);
        let stopped = decide::stalled(&archive(DesiredArchiveState::Stopped), None, &[], now);
        assert_eq!(running.phase, Some(LogBackupPhase::Starting));
        assert_eq!(stopped.phase, Some(LogBackupPhase::Stopping));
        assert_eq!(running.observed_generation, Some(2));
    }

    #[test]
    fn stopping_before_archiving_started_says_stopping() {
        let mut archive = archive(DesiredArchiveState::Running);
        archive.status = Some(decide::stalled(&archive, None, &[], Timestamp::UNIX_EPOCH));
        archive.spec.desired_state = DesiredArchiveState::Stopped;
        assert_eq!(
            decide::stalled(&archive, None, &[], Timestamp::UNIX_EPOCH).phase,
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
        archive.status = Some(decide::stalled(
            &archive,
            None,
            &problems,
            Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(
            Some(decide::stalled(&archive, None, &problems, Timestamp::now())),
            archive.status
        );
    }
}
