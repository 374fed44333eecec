//! RecoveryTask controller (docs/contributing/design.md §2.6): restores a tenant into a target
//! cluster, driven by [`task::drive`]. Decisions are pure ([`decide`], [`crate::windows::point`]); this file says
//! what a restore refers to (the source strategy's windows or its own destinations, the target
//! cluster) and which statements each step sends: the resource unit and pool with `SET DECRYPTION`
//! and `RESTORE … DESCRIPTION` on one session (after the intent), `CANCEL RESTORE`, `ACTIVATE
//! STANDBY`, or dropping the pool and unit it created.

pub mod decide;
pub mod logical;
mod logical_drill;

use crate::reason::Reason;
use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Kind, Reconcile,
    error::Problem,
    references::{self, ReferenceCheck},
    status::StatusView,
    task::{self, Batch, Effect, Prepared, References, Task},
};
use crate::{
    api::{
        BackupStrategy, RecoveryTask, RecoveryTaskPhase, RecoveryTaskSpec, RecoveryTaskStatus,
        common::{ClusterConnection, StorageDestination},
        logical::TenantLogin,
    },
    observer::Observation,
    oceanbase::{ObError, Redactor, sql},
    timing::Clock,
    windows::point::{self, PointCheck},
};
use decide::{Decision, Inputs, Step};

super::status::status_view!(
    crate::api::RecoveryTaskStatus,
    crate::api::RecoveryTaskPhase::is_terminal
);
super::task::submission!(crate::api::RecoveryTaskStatus);

impl Reconcile for RecoveryTask {
    const KIND: &'static str = "RecoveryTask";
    /// When a drill run was made for ([`crate::drill::deadline`]).
    const READ_ANNOTATIONS: &'static [&'static str] = &[crate::drill::DRILL_AT];

    fn strategy_ref(&self) -> Option<&str> {
        self.spec
            .source
            .strategy_ref
            .as_ref()
            .map(|r| r.name.as_str())
    }

    fn phase_label(&self) -> Option<&'static str> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.status.as_ref().map_or(&[], StatusView::conditions)
    }

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        if task.spec.source.logical.is_some() {
            super::logical::drive(task, ctx).await
        } else {
            task::drive(task, ctx).await
        }
    }
}

/// What a restore refers to, resolved.
pub struct Restore {
    /// The cluster restored into.
    target: ClusterConnection,
    /// The cluster the backups come from, as the status shows it.
    source_cluster: Option<String>,
    /// The recovery point against the source's recoverable windows.
    point: PointCheck,
    sources: Sources,
}

impl Task for RecoveryTask {
    type Step = Step;
    type Refs = Restore;
    const SAFETY_RECHECK: Duration = crate::timing::TASK_SAFETY_RECHECK;

    /// Ended, with nothing left to release and no new attempt asked for.
    fn done(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            let retry = s.phase == Some(RecoveryTaskPhase::Failed)
                && s.observed_retry.unwrap_or(0) < self.spec.retry;
            s.phase.is_some_and(RecoveryTaskPhase::is_terminal)
                && s.resource_pool.is_none()
                && !retry
        })
    }

    async fn dereference(
        &self,
        ctx: &Context,
        namespace: &str,
    ) -> Result<References<Restore>, Error> {
        let spec = &self.spec;
        let mut check = ReferenceCheck::new(ctx, namespace);
        check.problems = spec_problems(spec, crate::clock::now());
        check
            .problems
            .extend(super::references::job_id_problem(self, spec.job_id));
        let strategy = match &spec.source.strategy_ref {
            Some(reference) => check.strategy(reference).await?,
            None => {
                for destination in [&spec.source.data_destination, &spec.source.log_destination]
                    .into_iter()
                    .flatten()
                {
                    check.destination(destination).await?;
                }
                None
            }
        };
        let source_cluster = strategy
            .as_ref()
            .map(|s| s.spec.cluster.name.clone())
            .or_else(|| spec.source.cluster_name.clone());
        check.cluster(&spec.target.cluster).await?;
        check.password(spec.decryption.as_ref()).await?;
        if let Some(drill) = &spec.drill {
            check.drill_user(&drill.credentials_secret).await?;
        }
        check
            .problems
            .extend(strategy.as_ref().and_then(logical_source_problem));
        if !check.problems.is_empty() {
            return Ok(References::Wrong {
                problems: check.problems,
                cluster: source_cluster,
            });
        }
        let (data, log) = match &strategy {
            // The source tenant's own directories under the strategy's destinations.
            Some(s) => match &s.spec.log_destination {
                Some(log) => (
                    s.spec.data_destination.for_tenant(&spec.source.tenant),
                    log.for_tenant(&spec.source.tenant),
                ),
                // Refused above: a Physical strategy always has one.
                None => return Ok(References::Incomplete),
            },
            None => match (&spec.source.data_destination, &spec.source.log_destination) {
                (Some(d), Some(l)) => (d.clone(), l.clone()),
                // The schema requires both without a strategy.
                _ => return Ok(References::Incomplete),
            },
        };
        let Some(point) =
            point_check(ctx, namespace, self, strategy.as_ref(), (&data, &log)).await?
        else {
            return Ok(References::Incomplete);
        };
        Ok(References::Found(Restore {
            target: spec.target.cluster.clone(),
            source_cluster,
            point,
            sources: Sources {
                data,
                log,
                names: ResourceNames::of(self),
            },
        }))
    }

    fn cluster(restore: &Restore) -> &ClusterConnection {
        &restore.target
    }

    fn stalled(
        &self,
        cluster: Option<String>,
        problems: &[Problem],
        now: Timestamp,
    ) -> RecoveryTaskStatus {
        decide::stalled(self, cluster, problems, now)
    }

    fn decide(
        &self,
        ctx: &Context,
        restore: &Restore,
        observation: &Observation,
        clock: Clock,
    ) -> Decision {
        let checks = drill_key(self).and_then(|key| ctx.drill_checks.state(&key));
        decide::decide(&Inputs {
            checks: checks.as_ref(),
            task: self,
            target_cluster: &restore.target.name,
            point: &restore.point,
            observation,
            own_pool: restore.sources.names.own_pool(&self.spec),
            source_cluster: restore.source_cluster.as_deref(),
            storage_directory: Some(restore.sources.data.uri.as_str()),
            clock,
        })
    }

    /// A drill at its checks runs them in the background (started once, retried after an outage); its
    /// checks are forgotten once it moved on.
    async fn background(
        &self,
        ctx: &Context,
        namespace: &str,
        restore: &Restore,
        _seen: &Observation,
        decision: &mut Decision,
    ) -> Result<(), Error> {
        let (Some(key), Some(drill)) = (drill_key(self), &self.spec.drill) else {
            return Ok(());
        };
        let status = &decision.status;
        let checking = status.phase == Some(RecoveryTaskPhase::Verifying)
            && status.drill.as_ref().is_none_or(|d| d.verdict.is_none());
        if !checking {
            ctx.drill_checks.forget(&key);
            return Ok(());
        }
        let target = &self.spec.target;
        let Some(connection) = references::tenant_user_connection(
            ctx,
            namespace,
            &restore.target,
            TenantLogin::Secret(&drill.credentials_secret),
            &target.tenant,
        )
        .await?
        else {
            return Ok(());
        };
        // The point the restore reached (OceanBase's restore SCN); the task's creation if none was shown.
        let created = self.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let Some(point) = status.recovery_time.as_ref().map(|t| t.0).or(created) else {
            return Ok(());
        };
        let checks = crate::drill::checks::Checks {
            connection,
            run: drill.clone(),
            point,
        };
        ctx.drill_checks.ensure(&key, &checks);
        Ok(())
    }

    fn effect(step: Step) -> Effect {
        match step {
            Step::Wait => Effect::None,
            Step::Submit => Effect::Submit,
            Step::Cancel | Step::Activate => Effect::Send(Kind::OneShot),
            Step::Release | Step::Drop => Effect::Send(Kind::Repeatable),
        }
    }

    async fn prepare(
        &self,
        ctx: &Context,
        namespace: &str,
        restore: &Restore,
        step: Step,
        status: &RecoveryTaskStatus,
    ) -> Result<Prepared<RecoveryTaskStatus>, Error> {
        let spec = &self.spec;
        let sources = &restore.sources;
        Ok(match step {
            Step::Wait => Prepared::Hold(status.clone()),
            Step::Cancel => {
                Prepared::Send(Batch::plain(vec![sql::cancel_restore(&spec.target.tenant)]))
            }
            Step::Activate => Prepared::Send(Batch::plain(vec![sql::activate_standby(
                &spec.target.tenant,
            )])),
            // Drops the pool (and unit) the task created; nothing to do once the status forgot it.
            Step::Release => match &status.resource_pool {
                None => Prepared::Hold(status.clone()),
                Some(pool) => Prepared::Send(Batch::plain(release_statements(spec, sources, pool))),
            },
            Step::Drop => Prepared::Send(Batch::plain(drop_statements(spec, sources, status))),
            Step::Submit => {
                let password = match &spec.decryption {
                    Some(secret) => references::password(ctx, namespace, secret).await?,
                    None => None,
                };
                let data_keys = references::access_keys(ctx, namespace, &sources.data).await?;
                let log_keys = references::access_keys(ctx, namespace, &sources.log).await?;
                let redactor = Redactor::new(
                    password.iter().cloned().chain(
                        [&data_keys, &log_keys]
                            .into_iter()
                            .flatten()
                            .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
                    ),
                );
                Prepared::Send(Batch {
                    statements: restore_statements(
                        spec,
                        sources,
                        password.as_deref(),
                        [&data_keys, &log_keys],
                        self,
                    ),
                    redactor,
                })
            }
        })
    }

    fn after(
        &self,
        step: Step,
        sent: RecoveryTaskStatus,
        outcome: Result<(), ObError>,
        now: Timestamp,
    ) -> (RecoveryTaskStatus, Option<Step>) {
        decide::after_step(self, step, sent, outcome, now)
    }
}

/// What is known of the task's point before anything is sent: checked against the strategy's windows, or
/// — when the source names a strategy's second copy instead — against what that copy holds; `None` for a
/// physical restore without a point (the schema requires one).
async fn point_check(
    ctx: &Context,
    namespace: &str,
    task: &RecoveryTask,
    strategy: Option<&BackupStrategy>,
    (data, log): (&StorageDestination, &StorageDestination),
) -> Result<Option<PointCheck>, Error> {
    let spec = &task.spec;
    let tenant = &spec.source.tenant;
    let (until, job_id) = (&spec.until, spec.job_id);
    if let Some(job_id) = job_id {
        return Ok(Some(PointCheck::Unverified(format!(
            "mirrors restore job {job_id}, started outside the operator: nothing is checked or sent"
        ))));
    }
    let Some(until) = until else { return Ok(None) };
    let windows = match strategy {
        Some(s) => Some((tenant.clone(), point::strategy_windows(s, tenant))),
        None => {
            let keeps_a_copy = |s: &BackupStrategy| s.spec.second_backup.is_some();
            let strategies = ctx.catalog.list_everywhere(namespace, keeps_a_copy).await?;
            point::second_copy_windows(&strategies, tenant, &data.uri, &log.uri).map(
                |(name, windows)| {
                    (
                        format!("{tenant} in the second copy of strategy {name}"),
                        windows,
                    )
                },
            )
        }
    };
    Ok(Some(match &windows {
        Some((whose, windows)) => point::check(until, whose, Some(windows)),
        None => point::check(until, tenant, None),
    }))
}

/// The key of a drill's checks in the background registry (`None` for a task that is no drill).
fn drill_key(task: &RecoveryTask) -> Option<crate::background::Key> {
    task.spec.drill.as_ref()?;
    let namespace = task.metadata.namespace.as_deref()?;
    Some(crate::background::Key::part(
        namespace,
        &task.name_any(),
        "drill".into(),
    ))
}

/// What a drill drops: its scratch tenant when its restore made it (OceanBase listed the restore), then
/// the pool and unit it created.
fn drop_statements(
    spec: &RecoveryTaskSpec,
    sources: &Sources,
    status: &RecoveryTaskStatus,
) -> Vec<Result<String, ObError>> {
    let mut statements = Vec::new();
    if status.job_id.is_some() {
        statements.push(sql::drop_scratch_tenant(&spec.target.tenant));
    }
    if let Some(pool) = &status.resource_pool {
        statements.extend(release_statements(spec, sources, pool));
    }
    statements
}

/// Drops the pool the task created, and the unit when it created that too.
fn release_statements(
    spec: &RecoveryTaskSpec,
    sources: &Sources,
    pool: &str,
) -> Vec<Result<String, ObError>> {
    let mut statements = vec![sql::drop_resource(true, pool)];
    let own_unit = spec
        .target
        .resources
        .as_ref()
        .is_some_and(|r| r.unit.is_some());
    if own_unit {
        statements.push(sql::drop_resource(false, &sources.names.unit));
    }
    statements
}

/// The resource unit and pool a task creates, named after it (OceanBase names: letters, digits, `_`).
struct ResourceNames {
    unit: String,
    pool: String,
}

impl ResourceNames {
    fn of(task: &RecoveryTask) -> Self {
        let name: String = task
            .name_any()
            .chars()
            .take(80)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let uid: String = task
            .metadata
            .uid
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(8)
            .collect();
        let base = format!("obrt_{name}_{uid}");
        Self {
            unit: format!("{base}_unit"),
            pool: format!("{base}_pool"),
        }
    }

    /// The pool the task creates (none when it restores into an existing pool).
    fn own_pool(&self, spec: &RecoveryTaskSpec) -> Option<&str> {
        spec.target
            .resources
            .as_ref()
            .is_some_and(|r| r.pool_name.is_none())
            .then_some(self.pool.as_str())
    }
}

/// Where the restore reads from, and what it names.
struct Sources {
    data: StorageDestination,
    log: StorageDestination,
    names: ResourceNames,
}

/// The batch that starts a restore, on one session: the unit and pool (if the task makes them), `SET
/// DECRYPTION` (if encrypted), then RESTORE.
fn restore_statements(
    spec: &RecoveryTaskSpec,
    sources: &Sources,
    password: Option<&str>,
    keys: [&Option<sql::AccessKeys>; 2],
    task: &RecoveryTask,
) -> Vec<Result<String, ObError>> {
    let (Some(resources), Some(point)) = (&spec.target.resources, &spec.until) else {
        return vec![Err(ObError::InvalidValue(
            "target.resources and until are required to restore a physical backup".into(),
        ))];
    };
    let names = &sources.names;
    let mut statements = Vec::new();
    if let Some(unit) = &resources.unit {
        statements.push(sql::create_unit(
            &names.unit,
            unit.max_cpu,
            &unit.memory_size,
            unit.log_disk_size.as_deref(),
        ));
    }
    let pool = match &resources.pool_name {
        Some(pool) => pool.clone(),
        None => {
            let unit = resources
                .unit_name
                .clone()
                .unwrap_or_else(|| names.unit.clone());
            statements.push(sql::create_pool(
                &names.pool,
                &unit,
                resources.unit_num,
                &resources.zones,
            ));
            names.pool.clone()
        }
    };
    if let Some(password) = password {
        statements.push(sql::set_decryption(password));
    }
    let uris: Result<Vec<String>, ObError> = [(&sources.data, keys[0]), (&sources.log, keys[1])]
        .into_iter()
        .map(|(d, k)| sql::uri_with_keys(&d.uri, k.as_ref()))
        .collect();
    let until = match (&point.time, point.scn) {
        (Some(_), _) => crate::windows::point::point_time(point).map(sql::RestoreUntil::Time),
        (None, Some(scn)) => u64::try_from(scn).ok().map(sql::RestoreUntil::Scn),
        (None, None) => Some(sql::RestoreUntil::Latest),
    };
    let mut options: Vec<(&str, &str)> = vec![("pool_list", pool.as_str())];
    if let Some(zone) = &spec.target.primary_zone {
        options.push(("primary_zone", zone));
    }
    if let Some(locality) = &spec.target.locality {
        options.push(("locality", locality));
    }
    statements.push(match (uris, until) {
        (Ok(uris), Some(until)) => sql::restore(
            &spec.target.tenant,
            &uris,
            until,
            &options,
            &decide::description(task),
        ),
        (Err(e), _) => Err(e),
        (_, None) => Err(ObError::InvalidValue(
            "the recovery point is not a valid time or SCN".into(),
        )),
    });
    statements
}

/// How far ahead of now a recovery time may lie: a restore waits for the archive to pass its point, so a
/// point a little ahead (or a clock a little behind the cluster's) is waited for; a day ahead is a mistake
/// (a wrong year or month), not a restore to wait weeks for.
const POINT_AHEAD_AT_MOST: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// What is wrong with the spec that the CRD schema cannot tell: a recovery time that is not a real instant,
/// or that lies further ahead of `now` than [`POINT_AHEAD_AT_MOST`].
fn spec_problems(spec: &RecoveryTaskSpec, now: Timestamp) -> Vec<Problem> {
    let Some(time) = spec.until.as_ref().and_then(|until| until.time.as_deref()) else {
        return Vec::new();
    };
    let message = match time.parse::<Timestamp>() {
        Err(e) => format!("until.time {time} is not a valid time: {e}"),
        Ok(point) if point.duration_since(now) > POINT_AHEAD_AT_MOST => format!(
            "until.time {time} lies ahead of now ({now}): a restore reaches a point already archived; \
             fix the time (its date, its zone) or use until.latest"
        ),
        Ok(_) => return Vec::new(),
    };
    vec![Problem::in_spec(Reason::InvalidRecoveryPoint, message)]
}

/// Why a physical restore cannot read `strategy`'s backups, if it cannot: a logical strategy holds dumps.
fn logical_source_problem(
    strategy: &crate::api::BackupStrategy,
) -> Option<crate::controller::error::Problem> {
    (strategy.spec.method == crate::api::backup_strategy::BackupMethod::Logical).then(|| {
        crate::controller::error::Problem::in_spec(
            crate::reason::Reason::DumpNotFound,
            format!(
                "BackupStrategy {} takes logical dumps, which a physical restore cannot read: load one \
                 with source.logical.backupTask",
                strategy.metadata.name.as_deref().unwrap_or_default()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_physical_restore_refuses_a_logical_strategy_as_its_source() {
        let strategy = |method: &str| -> crate::api::BackupStrategy {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
                "metadata": {"name": "dumps"},
                "spec": {
                    "cluster": {"name": "ob", "connectionSecret": "ob"}, "tenants": ["tenant1"],
                    "method": method, "dataDestination": {"uri": "file:///d"},
                    "logDestination": {"uri": "file:///a"},
                    "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"},
                },
            }))
            .expect("strategy")
        };
        let problem = super::logical_source_problem(&strategy("Logical")).expect("refused");
        assert_eq!(problem.reason, crate::reason::Reason::DumpNotFound);
        assert_eq!(problem.fix, crate::controller::error::Fix::Spec);
        assert!(
            problem
                .message
                .contains("BackupStrategy dumps takes logical dumps"),
            "{problem:?}"
        );
        assert!(super::logical_source_problem(&strategy("Physical")).is_none());
    }

    use super::*;

    fn task(until: &str) -> RecoveryTask {
        let spec: RecoveryTaskSpec = serde_norway::from_str(&format!(
            r#"
source: {{strategyRef: {{name: demo}}, tenant: tenant1}}
target:
  cluster: {{name: obcluster, connectionSecret: obcluster-sys}}
  tenant: restored1
  resources: {{unit: {{maxCpu: 2, memorySize: 4G}}, zones: [zone1]}}
until: {until}
"#
        ))
        .expect("valid spec");
        RecoveryTask::new("r", spec)
    }

    #[test]
    fn a_real_instant_is_accepted_and_an_impossible_date_or_a_distant_future_is_not() {
        let now: Timestamp = "2026-11-25T00:00:00Z".parse().expect("now");
        assert_eq!(
            spec_problems(&task("{time: '2026-11-20T08:30:00.5+08:00'}").spec, now),
            vec![]
        );
        assert_eq!(spec_problems(&task("{latest: true}").spec, now), vec![]);
        // Hours ahead: the restore waits for the archive to pass it.
        assert_eq!(
            spec_problems(&task("{time: '2026-11-25T09:00:00Z'}").spec, now),
            vec![]
        );
        for wrong in [
            "{time: '2026-02-30T08:30:00Z'}",
            "{time: '2027-03-01T00:00:00Z'}",
        ] {
            let problems = spec_problems(&task(wrong).spec, now);
            assert_eq!(problems.len(), 1, "{wrong}");
            assert_eq!(problems[0].reason, Reason::InvalidRecoveryPoint);
        }
        let ahead = &spec_problems(&task("{time: '2027-03-01T00:00:00Z'}").spec, now)[0];
        assert!(
            ahead.message.contains("lies ahead of now"),
            "{}",
            ahead.message
        );
    }

    #[test]
    fn a_new_restore_is_pending_and_remembers_its_attempt() {
        let status = decide::stalled(
            &task("{latest: true}"),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(status.observed_retry, Some(0));
        assert_eq!(status.source_cluster_name.as_deref(), Some("obcluster"));
    }

    #[test]
    fn a_restore_is_done_only_when_nothing_is_left_to_release_or_retry() {
        let ended = |phase, pool: Option<&str>, observed_retry| {
            let mut task = task("{latest: true}");
            task.status = Some(RecoveryTaskStatus {
                phase: Some(phase),
                resource_pool: pool.map(str::to_string),
                observed_retry: Some(observed_retry),
                ..RecoveryTaskStatus::default()
            });
            task
        };
        assert!(ended(RecoveryTaskPhase::Completed, None, 0).done());
        assert!(ended(RecoveryTaskPhase::Canceled, None, 0).done());
        assert!(
            !ended(RecoveryTaskPhase::Failed, Some("obrt_r_pool"), 0).done(),
            "the pool it created is still to be dropped"
        );
        let mut retried = ended(RecoveryTaskPhase::Failed, None, 0);
        retried.spec.retry = 1;
        assert!(!retried.done(), "a new attempt was asked for");
        assert!(!ended(RecoveryTaskPhase::InProgress, None, 0).done());
    }
}
