//! BackupTask controller: one data backup (SPEC §2.3). The decisions are pure ([`decide`]); this file reads
//! what they need (the strategy or the task's own cluster, the cluster's observation), writes the status,
//! and sends the one statement a decision asks for — `DATA_BACKUP_DEST`, `BACKUP … DESCRIPTION = uid` (after
//! recording the intent), or `CANCEL BACKUP`.

use crate::controller::reason::Reason;
pub mod decide;

use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use kube::{ResourceExt, runtime::controller::Action};

use super::{
    Context, Error, Gate, Kind, Reconcile,
    conditions::Health,
    error::Problem,
    health, namespace_of, next_action, ownership,
    references::{self, Placement, ReferenceCheck},
    refuse,
    status::{self, StatusView},
    summarize,
};
use crate::{
    api::{BackupStrategy, BackupTask, BackupTaskPhase, BackupTaskStatus},
    observer::{ClusterKey, ObjectKey},
    oceanbase::{Redactor, sql},
};
use decide::{Decision, Inputs, Step, after_submit, decide, with_health};

impl Reconcile for BackupTask {
    const KIND: &'static str = "BackupTask";

    fn phase_label(&self) -> Option<String> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    fn not_progressing(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == super::conditions::PROGRESSING && c.status == "False")
        })
    }

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        if status::finished_and_observed(task.status.as_ref(), task.metadata.generation) {
            // Nothing left to do or to show: no reference to read, no cluster to watch. A cluster with years
            // of finished tasks costs nothing per task at start.
            return Ok(Action::await_change());
        }
        let namespace = namespace_of(task.as_ref())?;
        let spec = &task.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let placement = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.data_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        let object = ObjectKey {
            kind: Self::KIND,
            namespace: namespace.clone(),
            name: task.name_any(),
        };
        let (Some(placement), true) = (placement, check.problems.is_empty()) else {
            let terminal = task
                .status
                .as_ref()
                .and_then(|s| s.phase)
                .is_some_and(decide::is_terminal);
            if terminal {
                return Ok(Action::await_change());
            }
            let desired = desired_status(&task, None, &check.problems, crate::clock::now());
            status::write(&ctx, task.as_ref(), task.status.as_ref(), &desired).await?;
            return Ok(next_action(&check.problems));
        };
        let Some(destination) = placement.data_destination.clone() else {
            return Ok(Action::await_change());
        };
        let observer = ctx.observers.observe(
            ClusterKey {
                namespace: namespace.clone(),
                secret: placement.cluster.connection_secret.clone(),
            },
            &placement.cluster.name,
        );
        let decision = decide(&Inputs {
            task: &task,
            cluster_name: &placement.cluster.name,
            data_uri: &destination.uri,
            observation: &observer.latest(),
            clock: crate::timing::Clock::current(),
            // Settings come from a flag that parses into a duration far below the limit.
            stall_timeout: SignedDuration::try_from(ctx.settings.backup_stall_timeout)
                .unwrap_or(SignedDuration::MAX),
        });
        // Only the owner of the tenant's data backup destination changes it or backs up through it.
        if matches!(decision.step, Step::SetDataDest | Step::Submit)
            && let Some(problem) = ownership::backup_problem(
                &task,
                &placement.cluster,
                &destination.uri,
                &ctx.catalog.list::<BackupStrategy>(&namespace).await?,
                &ctx.catalog
                    .list_where(&namespace, |t: &BackupTask| {
                        t.spec.cluster.is_some() && t.spec.tenant.eq_ignore_ascii_case(&spec.tenant)
                    })
                    .await?,
            )
        {
            let problems = [problem];
            let cluster = Some(placement.cluster.name.clone());
            let desired = desired_status(&task, cluster, &problems, crate::clock::now());
            return refuse(
                &ctx,
                task.as_ref(),
                &object,
                task.status.as_ref(),
                &desired,
                &problems,
            )
            .await;
        }
        ctx.observers
            .watch(&observer, object.clone(), decision.interest.clone());
        let attempt = format!("{:?}", decision.step);
        let key = format!("{namespace}/{}", task.name_any());
        let current = task.status.clone();
        let kind = if decision.step == Step::Cancel {
            Kind::OneShot
        } else {
            Kind::Repeatable
        };
        match ctx.statements.gate(&key, &attempt, kind) {
            Gate::Open => {}
            Gate::Refused(wait) => return Ok(Action::requeue(wait)),
            Gate::Settling(wait) => {
                status::write(&ctx, task.as_ref(), current.as_ref(), &decision.status).await?;
                return Ok(Action::requeue(wait));
            }
        }
        if let Some(went_through) =
            act(&ctx, &task, &namespace, &placement, &decision, current).await?
        {
            super::statement_sent(&ctx, &observer, &key, &attempt, kind, went_through);
        }
        let grace = crate::timing::Clock::current()
            .grace_recheck(decision.status.submitted_at.as_ref().map(|t| t.0));
        let wait = decision.interest.as_ref().map(|_| {
            decision
                .recheck
                .map(crate::clock::real)
                .into_iter()
                .chain(grace)
                .fold(crate::timing::TASK_SAFETY_RECHECK, Duration::min)
        });
        Ok(ctx.statements.requeue(&key, wait))
    }
}

/// Writes the decided status and carries out its step. Returns, when a statement was sent, whether it went
/// through (an unanswered BACKUP counts: the lookup by description settles it).
async fn act(
    ctx: &Context,
    task: &BackupTask,
    namespace: &str,
    placement: &Placement,
    decision: &Decision,
    current: Option<BackupTaskStatus>,
) -> Result<Option<bool>, Error> {
    let tenant = &task.spec.tenant;
    let now = crate::clock::now();
    match decision.step {
        Step::Wait => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            Ok(None)
        }
        Step::Cancel => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            let outcome = execute(
                ctx,
                placement,
                namespace,
                vec![sql::cancel_backup(tenant)],
                &Redactor::default(),
            )
            .await;
            if let Err(error) = &outcome {
                tracing::warn!(%error, tenant, "CANCEL BACKUP failed; retrying on the next look");
            }
            Ok(Some(outcome.is_ok()))
        }
        Step::SetDataDest => {
            status::write(ctx, task, current.as_ref(), &decision.status).await?;
            let Some(destination) = &placement.data_destination else {
                return Ok(None);
            };
            let keys = references::access_keys(ctx, namespace, destination).await?;
            let redactor = Redactor::new(
                keys.iter()
                    .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
            );
            let statement = sql::uri_with_keys(&destination.uri, keys.as_ref())
                .and_then(|uri| sql::set_data_backup_dest(tenant, &uri));
            let outcome = execute(ctx, placement, namespace, vec![statement], &redactor).await;
            if let Err(error) = &outcome {
                let health = Health::Progressing {
                    reason: Reason::DestinationRefused,
                    message: format!("setting DATA_BACKUP_DEST failed: {error}"),
                };
                let refused = with_health(decision.status.clone(), task, &health, None, now);
                status::write(ctx, task, Some(&decision.status), &refused).await?;
            }
            Ok(Some(outcome.is_ok()))
        }
        Step::Submit => {
            // A strategy that encrypts never gets an unencrypted backup: without its password, no BACKUP.
            let password = match &placement.encryption {
                Some(secret) => match references::password(ctx, namespace, secret).await? {
                    Some(password) => Some(password),
                    None => {
                        let health = Health::Stalled {
                            reason: Reason::BackupPasswordMissing,
                            message: format!(
                                "the strategy encrypts backups, but Secret {} has no key password",
                                secret.password_secret
                            ),
                        };
                        let stalled =
                            with_health(decision.status.clone(), task, &health, None, now);
                        status::write(ctx, task, current.as_ref(), &stalled).await?;
                        return Ok(None);
                    }
                },
                None => None,
            };
            // The intent goes to the API server before the statement goes to OceanBase.
            let intent = BackupTaskStatus {
                submitted_at: Some(super::conditions::api_time(now)),
                ..decision.status.clone()
            };
            status::write(ctx, task, current.as_ref(), &intent).await?;
            crate::crash::point("intent/BackupTask/after");
            let redactor = Redactor::new(password.clone());
            let mut statements = Vec::new();
            if let Some(password) = &password {
                statements.push(sql::set_encryption(password));
            }
            statements.push(sql::backup(
                tenant,
                task.spec.mode == crate::api::backup_task::BackupMode::Incremental,
                task.spec.plus_archivelog,
                task.metadata.uid.as_deref().unwrap_or_default(),
            ));
            let outcome = execute(ctx, placement, namespace, statements, &redactor).await;
            // An unanswered BACKUP counts as sent: the lookup by description settles it.
            let went_through = outcome
                .as_ref()
                .err()
                .is_none_or(crate::oceanbase::ObError::is_transient);
            let after = after_submit(task, intent.clone(), outcome, crate::clock::now());
            status::write(ctx, task, Some(&intent), &after).await?;
            Ok(Some(went_through))
        }
    }
}

/// Runs statements on the task's cluster (on one session), with secrets in errors hidden.
async fn execute(
    ctx: &Context,
    placement: &Placement,
    namespace: &str,
    statements: Vec<Result<String, crate::oceanbase::ObError>>,
    redactor: &Redactor,
) -> Result<(), crate::oceanbase::ObError> {
    let observer = ctx.observers.observe(
        ClusterKey {
            namespace: namespace.to_string(),
            secret: placement.cluster.connection_secret.clone(),
        },
        &placement.cluster.name,
    );
    ctx.observers.execute(&observer, statements, redactor).await
}

/// The status of a task whose references are wrong: Stalled with the reason, phase kept.
fn desired_status(
    task: &BackupTask,
    cluster_name: Option<String>,
    problems: &[Problem],
    now: Timestamp,
) -> BackupTaskStatus {
    let previous = task.status.clone().unwrap_or_default();
    let health = health(
        problems,
        Health::Progressing {
            reason: Reason::Pending,
            message: "waiting to be submitted to OceanBase".into(),
        },
    );
    let (conditions, message) =
        summarize(&previous.conditions, task.metadata.generation, &health, now);
    BackupTaskStatus {
        phase: Some(previous.phase.unwrap_or(BackupTaskPhase::Pending)),
        conditions,
        observed_generation: task.metadata.generation,
        message,
        cluster_name: cluster_name.or(previous.cluster_name),
        source: previous.source.or(Some(decide::source_of(task))),
        ..previous
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{Method, Request, Response};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::{Client, client::Body};
    use tower_test::mock::Handle;

    use super::*;
    use crate::{
        api::{
            BackupTaskSpec,
            backup_task::BackupMode,
            common::{StrategyReference, TaskSource},
        },
        controller::conditions::{READY, RECONCILING, STALLED},
    };

    fn task() -> BackupTask {
        let mut task = BackupTask::new(
            "t",
            BackupTaskSpec {
                strategy_ref: Some(StrategyReference {
                    name: "demo".into(),
                }),
                cluster: None,
                data_destination: None,
                tenant: "tenant1".into(),
                mode: BackupMode::Full,
                plus_archivelog: false,
                cancel: false,
            },
        );
        task.metadata.generation = Some(1);
        task
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).expect("valid timestamp")
    }

    fn condition<'a>(status: &'a BackupTaskStatus, type_: &str) -> &'a str {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map_or("missing", |c| c.status.as_str())
    }

    #[test]
    fn a_new_task_is_pending_and_reconciling() {
        let status = desired_status(&task(), Some("obcluster".into()), &[], at(10));
        assert_eq!(status.phase, Some(BackupTaskPhase::Pending));
        assert_eq!(status.source, Some(TaskSource::Manual));
        assert_eq!(status.cluster_name.as_deref(), Some("obcluster"));
        assert_eq!(status.observed_generation, Some(1));
        assert_eq!(
            (
                condition(&status, READY),
                condition(&status, RECONCILING),
                condition(&status, STALLED)
            ),
            ("False", "True", "False")
        );
    }

    #[test]
    fn a_missing_reference_stalls_the_task_with_its_reason() {
        let problems = [Problem::elsewhere(
            Reason::StrategyNotFound,
            "BackupStrategy demo not found",
        )];
        let status = desired_status(&task(), None, &problems, at(10));
        assert_eq!(condition(&status, STALLED), "True");
        assert_eq!(
            status.message.as_deref(),
            Some("BackupStrategy demo not found")
        );
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.reason == Reason::StrategyNotFound)
        );
    }

    #[test]
    fn recomputing_an_unchanged_task_gives_the_same_status() {
        let mut task = task();
        task.status = Some(desired_status(&task, Some("obcluster".into()), &[], at(10)));
        let again = desired_status(&task, Some("obcluster".into()), &[], at(99));
        assert_eq!(
            Some(again),
            task.status,
            "nothing changed, so nothing is written"
        );
    }

    #[test]
    fn a_task_created_by_a_strategy_comes_from_its_schedule() {
        let mut task = task();
        task.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "obbackup.dev/v1alpha1".into(),
            kind: "BackupStrategy".into(),
            name: "demo".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        assert_eq!(
            desired_status(&task, None, &[], at(1)).source,
            Some(TaskSource::Schedule)
        );
    }

    type ApiHandle = Handle<Request<Body>, Response<Body>>;

    async fn body_json(request: Request<Body>) -> serde_json::Value {
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .expect("request body");
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    #[tokio::test]
    async fn status_is_server_side_applied_once_and_not_rewritten_when_unchanged() {
        let (service, mut handle): (_, ApiHandle) =
            tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = Context::for_tests(Client::new(service, "ns"), "BackupTask");
        let mut task = task();
        task.metadata.namespace = Some("ns".into());
        let desired = desired_status(&task, Some("obcluster".into()), &[], at(10));

        let mut stored = serde_json::to_value(&task).expect("JSON");
        let api = tokio::spawn(async move {
            let (request, respond) = handle.next_request().await.expect("a status write");
            assert_eq!(request.method(), Method::PATCH);
            assert_eq!(
                request.uri().path(),
                "/apis/obbackup.dev/v1alpha1/namespaces/ns/backuptasks/t/status"
            );
            let query = request.uri().query().unwrap_or_default().to_string();
            assert!(
                query.contains("fieldManager=ob-backup-operator") && query.contains("force=true"),
                "{query}"
            );
            let content_type = request.headers().get("content-type").cloned();
            assert_eq!(
                content_type.as_ref().and_then(|v| v.to_str().ok()),
                Some("application/apply-patch+yaml")
            );
            let applied = body_json(request).await;
            stored["status"] = applied["status"].clone();
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&stored).expect("JSON"),
            )));
            // The phase change is announced with an Event.
            let (event, respond) = handle.next_request().await.expect("an event");
            assert_eq!(
                event.uri().path(),
                "/apis/events.k8s.io/v1/namespaces/ns/events"
            );
            let event = body_json(event).await;
            assert_eq!(
                (event["type"].as_str(), event["reason"].as_str()),
                (Some("Normal"), Some("Pending"))
            );
            respond.send_response(Response::new(Body::from(
                serde_json::to_vec(&event).expect("JSON"),
            )));
            applied
        });
        let wrote = status::write(&ctx, &task, None, &desired)
            .await
            .expect("first write");
        assert!(wrote);
        let applied = api.await.expect("API mock");
        assert_eq!(applied["status"]["phase"], "Pending");
        assert_eq!(applied["status"]["clusterName"], "obcluster");

        // The same status again is no request at all (the mock would hang on one).
        let again = tokio::time::timeout(
            Duration::from_secs(10),
            status::write(&ctx, &task, Some(&desired), &desired),
        )
        .await
        .expect("the second write sent a request nobody answers");
        assert!(!again.expect("second write"));
    }
}
