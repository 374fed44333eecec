//! RecoveryTask controller (SPEC §2.6): restores a tenant into a target cluster. Decisions are pure
//! ([`decide`], [`point`]); this file reads what they need (the source strategy's windows, the target
//! cluster's observation), writes the status and sends the statements a decision asks for: the resource
//! unit and pool with `SET DECRYPTION` and `RESTORE … DESCRIPTION` on one session (after recording the
//! intent), `CANCEL RESTORE`, `ACTIVATE STANDBY`, or dropping the pool and unit it created.

use crate::controller::reason::Reason;
pub mod decide;
pub mod point;

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Gate, Kind, Reconcile,
    conditions::Health,
    error::Problem,
    health, namespace_of, next_action,
    references::{self, ReferenceCheck},
    status, summarize,
};
use crate::{
    api::{
        RecoveryTask, RecoveryTaskPhase, RecoveryTaskSpec, RecoveryTaskStatus,
        common::StorageDestination,
    },
    observer::{ClusterKey, ClusterObserver, ObjectKey},
    oceanbase::{ObError, Redactor, sql},
};
use decide::{Decision, Inputs, Step, after_submit, decide};

/// Look again this often while waiting for archiving to reach the recovery point.
const POINT_RECHECK: Duration = Duration::from_secs(10);

impl Reconcile for RecoveryTask {
    const KIND: &'static str = "RecoveryTask";

    fn phase_label(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(super::status::StatusView::phase_label)
    }

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(task.as_ref())?;
        let spec = &task.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        check.problems = spec_problems(spec);
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
        if !check.problems.is_empty() {
            let desired =
                desired_status(&task, source_cluster, &check.problems, crate::clock::now());
            status::write(&ctx, task.as_ref(), task.status.as_ref(), &desired).await?;
            return Ok(next_action(&check.problems));
        }
        let (data, log) = match &strategy {
            Some(s) => (
                s.spec.data_destination.clone(),
                s.spec.log_destination.clone(),
            ),
            None => match (&spec.source.data_destination, &spec.source.log_destination) {
                (Some(d), Some(l)) => (d.clone(), l.clone()),
                // The schema requires both without a strategy.
                _ => return Ok(Action::await_change()),
            },
        };
        let windows = strategy.as_ref().map(|s| {
            s.status
                .as_ref()
                .and_then(|st| {
                    st.tenants
                        .iter()
                        .find(|t| t.name.eq_ignore_ascii_case(&spec.source.tenant))
                })
                .map(|t| t.recoverable_windows.clone())
                .unwrap_or_default()
        });
        let point = point::check(&spec.until, &spec.source.tenant, windows.as_deref());
        let observer = ctx.observers.observe(
            ClusterKey {
                namespace: namespace.clone(),
                secret: spec.target.cluster.connection_secret.clone(),
            },
            &spec.target.cluster.name,
        );
        let names = ResourceNames::of(&task);
        let mut decision = decide(&Inputs {
            task: &task,
            target_cluster: &spec.target.cluster.name,
            point: &point,
            observation: &observer.latest(),
            own_pool: names.own_pool(spec),
            clock: crate::timing::Clock::current(),
        });
        decision.status.source_cluster_name = source_cluster;
        ctx.observers.watch(
            &observer,
            ObjectKey {
                kind: Self::KIND,
                namespace: namespace.clone(),
                name: task.name_any(),
            },
            decision.interest.clone(),
        );
        let key = format!("{namespace}/{}", task.name_any());
        let attempt = format!("{:?}", decision.step);
        let kind = if matches!(decision.step, Step::Cancel | Step::Activate) {
            Kind::OneShot
        } else {
            Kind::Repeatable
        };
        match ctx.statements.gate(&key, &attempt, kind) {
            Gate::Open => {}
            Gate::Refused(wait) => return Ok(Action::requeue(wait)),
            Gate::Settling(wait) => {
                status::write(&ctx, task.as_ref(), task.status.as_ref(), &decision.status).await?;
                return Ok(Action::requeue(wait));
            }
        }
        let sources = Sources { data, log, names };
        if let Some(went_through) =
            act(&ctx, &task, &namespace, &observer, &decision, &sources).await?
        {
            super::statement_sent(&ctx, &observer, &key, &attempt, kind, went_through);
        }
        let grace = crate::timing::Clock::current()
            .grace_recheck(decision.status.submitted_at.as_ref().map(|t| t.0));
        let wait = match (&decision.interest, &point) {
            (None, _) => None,
            (Some(_), decide::PointCheck::NotYet(_)) => Some(POINT_RECHECK),
            (Some(_), _) => Some(grace.map_or(crate::timing::TASK_SAFETY_RECHECK, |g| {
                g.min(crate::timing::TASK_SAFETY_RECHECK)
            })),
        };
        Ok(ctx.statements.requeue(&key, wait))
    }
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
            .pool_name
            .is_none()
            .then_some(self.pool.as_str())
    }
}

/// Where the restore reads from, and what it names.
struct Sources {
    data: StorageDestination,
    log: StorageDestination,
    names: ResourceNames,
}

/// Writes the decided status and carries out its step. Returns, when statements were sent, whether they
/// went through.
async fn act(
    ctx: &Context,
    task: &RecoveryTask,
    namespace: &str,
    observer: &ClusterObserver,
    decision: &Decision,
    sources: &Sources,
) -> Result<Option<bool>, Error> {
    let spec = &task.spec;
    let current = task.status.clone();
    match decision.step {
        Step::Wait => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            Ok(None)
        }
        Step::Cancel | Step::Activate => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            let statement = if decision.step == Step::Cancel {
                sql::cancel_restore(&spec.target.tenant)
            } else {
                sql::activate_standby(&spec.target.tenant)
            };
            let outcome = ctx
                .observers
                .execute(observer, vec![statement], &Redactor::default())
                .await;
            if let Err(error) = &outcome {
                tracing::warn!(%error, step = ?decision.step, "restore statement failed; retrying on the next look");
            }
            Ok(Some(outcome.is_ok()))
        }
        Step::Release => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            let released = release(ctx, task, observer, sources, &decision.status).await?;
            Ok(Some(released))
        }
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
            // The intent goes to the API server before anything goes to OceanBase.
            let intent = RecoveryTaskStatus {
                submitted_at: Some(super::conditions::api_time(crate::clock::now())),
                ..decision.status.clone()
            };
            status::write(ctx, task, current.as_ref(), &intent).await?;
            crate::crash::point("intent/RecoveryTask/after");
            let statements = restore_statements(
                spec,
                sources,
                password.as_deref(),
                [&data_keys, &log_keys],
                task,
            );
            let outcome = ctx.observers.execute(observer, statements, &redactor).await;
            let went_through = outcome.as_ref().err().is_none_or(ObError::is_transient);
            let (after, step) = after_submit(task, intent.clone(), outcome, crate::clock::now());
            status::write(ctx, task, Some(&intent), &after).await?;
            if step == Step::Release {
                release(ctx, task, observer, sources, &after).await?;
            }
            Ok(Some(went_through))
        }
    }
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
    let resources = &spec.target.resources;
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
    let until = match (&spec.until.time, spec.until.scn) {
        (Some(_), _) => point::point_time(&spec.until).map(sql::RestoreUntil::Time),
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

/// Drops the pool (and unit) the task created; on success the status forgets the pool.
async fn release(
    ctx: &Context,
    task: &RecoveryTask,
    observer: &ClusterObserver,
    sources: &Sources,
    status_now: &RecoveryTaskStatus,
) -> Result<bool, Error> {
    let Some(pool) = &status_now.resource_pool else {
        return Ok(true);
    };
    let mut statements = vec![sql::drop_resource(true, pool)];
    if task.spec.target.resources.unit.is_some() {
        statements.push(sql::drop_resource(false, &sources.names.unit));
    }
    match ctx
        .observers
        .execute(observer, statements, &Redactor::default())
        .await
    {
        Ok(()) => {
            let released = RecoveryTaskStatus {
                resource_pool: None,
                ..status_now.clone()
            };
            status::write(ctx, task, Some(status_now), &released).await?;
            Ok(true)
        }
        Err(error) => {
            tracing::warn!(%error, pool, "dropping the restore's resource pool failed; retrying later");
            Ok(false)
        }
    }
}

/// What is wrong with the spec that the CRD schema cannot tell: a recovery time that is not a real instant.
fn spec_problems(spec: &RecoveryTaskSpec) -> Vec<Problem> {
    spec.until
        .time
        .as_deref()
        .and_then(|time| time.parse::<Timestamp>().err().map(|e| (time, e)))
        .map(|(time, e)| {
            Problem::in_spec(
                Reason::InvalidRecoveryPoint,
                format!("until.time {time} is not a valid time: {e}"),
            )
        })
        .into_iter()
        .collect()
}

/// The status a restore should have, given what was found and what its status already records.
fn desired_status(
    task: &RecoveryTask,
    source_cluster: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> RecoveryTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let health = health(
        problems,
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting for the pre-flight checks against OceanBase".into(),
        },
    );
    let (conditions, message) =
        summarize(&previous.conditions, task.metadata.generation, &health, now);
    RecoveryTaskStatus {
        phase: Some(previous.phase.unwrap_or(RecoveryTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        source_cluster_name: source_cluster.or(previous.source_cluster_name),
        observed_retry: previous.observed_retry.or(Some(task.spec.retry)),
        ..previous
    }
}

#[cfg(test)]
mod tests {
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
    fn a_real_instant_is_accepted_and_an_impossible_date_is_not() {
        assert_eq!(
            spec_problems(&task("{time: '2026-11-20T08:30:00.5+08:00'}").spec),
            vec![]
        );
        assert_eq!(spec_problems(&task("{latest: true}").spec), vec![]);
        let problems = spec_problems(&task("{time: '2026-02-30T08:30:00Z'}").spec);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, Reason::InvalidRecoveryPoint);
    }

    #[test]
    fn a_new_restore_is_pending_and_remembers_its_attempt() {
        let status = desired_status(
            &task("{latest: true}"),
            Some("obcluster".into()),
            &[],
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(status.phase, Some(RecoveryTaskPhase::Pending));
        assert_eq!(status.observed_retry, Some(0));
        assert_eq!(status.source_cluster_name.as_deref(), Some("obcluster"));
    }
}
