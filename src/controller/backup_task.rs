//! BackupTask controller. It checks what the task refers to (its strategy, or its cluster's Secrets) and
//! reports `Pending`, or `Stalled` with the reason; submitting the job to OceanBase is the next step of its
//! lifecycle.

use std::sync::Arc;

use jiff::Timestamp;
use kube::runtime::controller::Action;

use super::{
    Context, Error, Reconcile,
    conditions::Health,
    error::Problem,
    health, namespace_of, next_action,
    references::ReferenceCheck,
    status::{self},
    summarize,
};
use crate::api::{BackupTask, BackupTaskPhase, BackupTaskStatus, common::TaskSource};

impl Reconcile for BackupTask {
    const KIND: &'static str = "BackupTask";

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        let namespace = namespace_of(task.as_ref())?;
        let spec = &task.spec;
        let mut check = ReferenceCheck::new(&ctx, &namespace);
        let cluster_name = check
            .placement(
                spec.strategy_ref.as_ref(),
                spec.cluster.as_ref(),
                spec.data_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        let desired = desired_status(&task, cluster_name, &check.problems, Timestamp::now());
        status::write(&ctx, task.as_ref(), task.status.as_ref(), &desired).await?;
        Ok(next_action(&check.problems))
    }
}

/// The status a task should have, given what was found and what its status already records.
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
            reason: "Pending".into(),
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
        source: previous.source.or(Some(source_of(task))),
        ..previous
    }
}

/// A task a strategy created is `Schedule`, any other `Manual`.
fn source_of(task: &BackupTask) -> TaskSource {
    let owned_by_strategy = task
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "BackupStrategy" && o.controller == Some(true));
    if owned_by_strategy {
        TaskSource::Schedule
    } else {
        TaskSource::Manual
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{Method, Request, Response};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::{Client, client::Body, runtime::events::Reporter};
    use tower_test::mock::Handle;

    use super::*;
    use crate::{
        api::{BackupTaskSpec, backup_task::BackupMode, common::StrategyReference},
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
            "StrategyNotFound",
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
                .all(|c| c.reason == "StrategyNotFound")
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

    fn mock_context() -> (Arc<Context>, ApiHandle) {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let reporter = Reporter {
            controller: "ob-backup-operator".into(),
            instance: None,
        };
        let ctx = Context::new(
            Client::new(service, "ns"),
            Arc::default(),
            "BackupTask",
            reporter,
        );
        (Arc::new(ctx), handle)
    }

    fn strategy_json() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "obbackup.dev/v1alpha1", "kind": "BackupStrategy",
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {
                "cluster": {"name": "obcluster", "connectionSecret": "obcluster-sys"},
                "dataDestination": {"uri": "file:///backup/data"},
                "logDestination": {"uri": "file:///backup/archive"},
                "schedule": {"timeZone": "UTC", "full": "0 1 * * 0"}
            }
        }))
        .expect("JSON")
    }

    /// Answers the strategy lookup the reconcile makes first.
    async fn serve_strategy(handle: &mut ApiHandle) {
        let (request, respond) = handle.next_request().await.expect("a strategy lookup");
        assert_eq!(request.method(), Method::GET);
        assert_eq!(
            request.uri().path(),
            "/apis/obbackup.dev/v1alpha1/namespaces/ns/backupstrategies/demo"
        );
        respond.send_response(Response::new(Body::from(strategy_json())));
    }

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
        let (ctx, mut handle) = mock_context();
        let mut task = task();
        task.metadata.namespace = Some("ns".into());

        let mut stored = serde_json::to_value(&task).expect("JSON");
        let api = tokio::spawn(async move {
            serve_strategy(&mut handle).await;
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
            (handle, applied)
        });
        BackupTask::reconcile(Arc::new(task.clone()), ctx.clone())
            .await
            .expect("first reconcile");
        let (mut handle, applied) = api.await.expect("API mock");
        assert_eq!(applied["status"]["phase"], "Pending");
        assert_eq!(applied["status"]["clusterName"], "obcluster");

        // The object now carries that status: reconciling it again only reads, it writes nothing.
        task.status =
            Some(serde_json::from_value(applied["status"].clone()).expect("a BackupTask status"));
        let api = tokio::spawn(async move {
            serve_strategy(&mut handle).await;
            handle
        });
        let second = tokio::time::timeout(
            Duration::from_secs(10),
            BackupTask::reconcile(Arc::new(task), ctx),
        )
        .await
        .expect("the second reconcile sent a request nobody answers: it tried to write");
        second.expect("second reconcile");
        api.await.expect("API mock");
    }
}
