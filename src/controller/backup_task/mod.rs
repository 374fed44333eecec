//! BackupTask controller: one data backup (docs/contributing/design.md §2.3), driven by
//! [`task::drive`]. The decisions are pure ([`decide`]); this file says what a task refers to (the
//! strategy or its own cluster and destination) and which statements each step sends —
//! `DATA_BACKUP_DEST`, `BACKUP … DESCRIPTION = uid` (after the intent), or `CANCEL BACKUP`.

pub mod decide;
pub mod logical;
pub mod second_copy;

use crate::reason::Reason;
use std::{sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use kube::runtime::controller::Action;

use super::{
    Context, Error, Kind, Reconcile,
    conditions::Health,
    error::Problem,
    ownership,
    references::{self, ReferenceCheck},
    status::StatusView,
    task::{self, Batch, Effect, Prepared, References, Target, Task},
};
use crate::{
    api::{
        BackupTask, BackupTaskPhase, BackupTaskStatus,
        backup_strategy::BackupMethod,
        common::{ClusterConnection, SecondCopy},
    },
    observer::Observation,
    oceanbase::{ObError, Redactor, sql},
    timing::Clock,
};
use decide::{Decision, Inputs, Step};

super::status::status_view!(
    crate::api::BackupTaskStatus,
    crate::api::BackupTaskPhase::is_terminal
);
super::task::submission!(crate::api::BackupTaskStatus);

impl Reconcile for BackupTask {
    const KIND: &'static str = "BackupTask";
    /// The schedule's time of a task (`obbackup.dev/scheduled-at`) is read from the API's list, not the cache.
    const READ_ANNOTATIONS: &'static [&'static str] = &[];

    const CACHED_BY_SHARD: bool = true;

    fn strategy_ref(&self) -> Option<&str> {
        self.spec.strategy_ref.as_ref().map(|r| r.name.as_str())
    }

    fn phase_label(&self) -> Option<&'static str> {
        self.status.as_ref().and_then(StatusView::phase_label)
    }

    fn conditions(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.status.as_ref().map_or(&[], StatusView::conditions)
    }

    fn not_progressing(&self) -> bool {
        Reconcile::conditions(self)
            .iter()
            .any(|c| c.type_ == super::conditions::PROGRESSING && c.status == "False")
    }

    /// A [`task::settled`] task is read for its phase, times, tenant, labels, dump and copy, never again for
    /// its conditions (its reconcile returns at once, and a logical one's too): the cache keeps only a
    /// `Progressing` condition (the not-progressing count). A task that settles no more (a new generation)
    /// arrives whole with the change.
    fn settle_cached(&mut self) {
        if let (true, Some(status)) = (task::settled(self), self.status.as_mut()) {
            status
                .conditions
                .retain(|c| c.type_ == super::conditions::PROGRESSING);
            status.conditions.shrink_to_fit();
        }
    }

    /// Both methods' reconciles return at once for a [`task::settled`] task.
    fn settled(&self) -> bool {
        task::settled(self)
    }

    async fn reconcile(task: Arc<Self>, ctx: Arc<Context>) -> Result<Action, Error> {
        match task.spec.method {
            BackupMethod::Physical => task::drive(task, ctx).await,
            BackupMethod::Logical => super::logical::drive(task, ctx).await,
        }
    }
}

impl Task for BackupTask {
    type Step = Step;
    type Refs = Target;
    const SAFETY_RECHECK: Duration = crate::timing::TASK_SAFETY_RECHECK;

    /// Ended, and its second copy (if any) too.
    fn done(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.phase.is_some_and(BackupTaskPhase::is_terminal)
                && SecondCopy::settled(s.second_backup.as_deref())
        })
    }

    /// A completed set of a strategy with a second backup is copied there, in the background; `cancel: true`
    /// stops the copy.
    async fn background(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        _seen: &Observation,
        decision: &mut Decision,
    ) -> Result<(), Error> {
        second_copy::follow(self, ctx, namespace, target, decision).await
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
                spec.method,
                spec.strategy_ref.as_ref(),
                spec.cluster.as_deref(),
                spec.data_destination.as_ref(),
                &spec.tenant,
            )
            .await?;
        check
            .problems
            .extend(super::references::job_id_problem(self, spec.job_id));
        Ok(Target::of(References::of(placement, check.problems), |p| {
            p.data_destination.clone()
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
    ) -> BackupTaskStatus {
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
            task: self,
            cluster_name: &target.placement.cluster.name,
            data_uri: &target.destination.uri,
            observation,
            clock,
            // Settings come from a flag that parses into a duration far below the limit.
            stall_timeout: SignedDuration::try_from(ctx.settings.backup_stall_timeout)
                .unwrap_or(SignedDuration::MAX),
        })
    }

    /// Only the owner of the tenant's data backup destination changes it or backs up through it.
    async fn conflict(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        step: Step,
    ) -> Result<Option<Problem>, Error> {
        if !matches!(step, Step::SetDataDest | Step::Submit) {
            return Ok(None);
        }
        let tenant = &self.spec.tenant;
        let tenants = [tenant.clone()];
        let cluster = &target.placement.cluster;
        if self.spec.method == BackupMethod::Physical
            && let Some(held) =
                crate::controller::coexistence::problem(ctx, namespace, cluster, &tenants)
        {
            return Ok(Some(held));
        }
        Ok(ownership::backup_problem(
            self,
            &target.placement.cluster,
            &target.destination.uri,
            &ownership::strategies_near(&ctx.catalog, namespace, &target.placement.cluster).await?,
            &ctx.catalog
                .list_where(namespace, |t: &BackupTask| {
                    // A logical dump does not use the tenant's backup destination.
                    t.spec.method == BackupMethod::Physical
                        && t.spec.cluster.is_some()
                        && t.spec.tenant.eq_ignore_ascii_case(tenant)
                })
                .await?,
        ))
    }

    fn effect(step: Step) -> Effect {
        match step {
            Step::Wait => Effect::None,
            Step::SetDataDest => Effect::Send(Kind::Repeatable),
            Step::Submit => Effect::Submit,
            Step::Cancel => Effect::Send(Kind::OneShot),
        }
    }

    async fn prepare(
        &self,
        ctx: &Context,
        namespace: &str,
        target: &Target,
        step: Step,
        status: &BackupTaskStatus,
    ) -> Result<Prepared<BackupTaskStatus>, Error> {
        let tenant = &self.spec.tenant;
        Ok(match step {
            Step::Wait => Prepared::Hold(status.clone()),
            Step::Cancel => Prepared::Send(Batch::plain(vec![sql::cancel_backup(tenant)])),
            Step::SetDataDest => {
                let keys = references::access_keys(ctx, namespace, &target.destination).await?;
                let statement = sql::uri_with_keys(&target.destination.uri, keys.as_ref())
                    .and_then(|uri| sql::set_data_backup_dest(tenant, &uri));
                Prepared::Send(Batch {
                    statements: vec![statement],
                    redactor: Redactor::new(
                        keys.iter()
                            .flat_map(|k| [k.access_id.clone(), k.access_key.clone()]),
                    ),
                })
            }
            Step::Submit => {
                // A strategy that encrypts never gets an unencrypted backup: without its password, no BACKUP.
                let password = match &target.placement.encryption {
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
                            let now = crate::clock::now();
                            return Ok(Prepared::Hold(decide::with_health(
                                status.clone(),
                                self,
                                &health,
                                None,
                                now,
                            )));
                        }
                    },
                    None => None,
                };
                let mut statements = Vec::new();
                if let Some(password) = &password {
                    statements.push(sql::set_encryption(password));
                }
                statements.push(sql::backup(
                    tenant,
                    self.spec.mode == crate::api::backup_task::BackupMode::Incremental,
                    self.spec.plus_archivelog,
                    self.metadata.uid.as_deref().unwrap_or_default(),
                ));
                Prepared::Send(Batch {
                    statements,
                    redactor: Redactor::new(password),
                })
            }
        })
    }

    fn after(
        &self,
        step: Step,
        sent: BackupTaskStatus,
        outcome: Result<(), ObError>,
        now: Timestamp,
    ) -> (BackupTaskStatus, Option<Step>) {
        (decide::after_step(self, step, sent, outcome, now), None)
    }
}

/// A full physical BackupTask `t` of tenant1 at generation 1: through strategy `strategy`, or on cluster
/// `obcluster` (connection Secret `ob`) without one.
#[cfg(test)]
pub(crate) fn sample_task(strategy: Option<&str>) -> BackupTask {
    use crate::api::{
        BackupTaskSpec,
        backup_task::BackupMode,
        common::{ClusterConnection, StrategyReference},
    };
    let mut task = BackupTask::new(
        "t",
        BackupTaskSpec {
            strategy_ref: strategy.map(|name| StrategyReference { name: name.into() }),
            cluster: strategy.is_none().then(|| {
                Box::new(ClusterConnection {
                    name: "obcluster".into(),
                    connection_secret: Some("ob".into()),
                    ob_cluster: None,
                })
            }),
            data_destination: None,
            tenant: "tenant1".into(),
            mode: BackupMode::Full,
            plus_archivelog: false,
            method: Default::default(),
            logical: None,
            job_id: None,
            cancel: false,
            second_copy: None,
        },
    );
    task.metadata.generation = Some(1);
    task
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
        api::{BackupTaskPhase, common::TaskSource},
        controller::{
            conditions::{READY, RECONCILING, STALLED},
            status,
        },
    };

    fn task() -> BackupTask {
        sample_task(Some("demo"))
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
        let status = decide::stalled(&task(), Some("obcluster".into()), &[], at(10));
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
        let status = decide::stalled(&task(), None, &problems, at(10));
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
        task.status = Some(decide::stalled(
            &task,
            Some("obcluster".into()),
            &[],
            at(10),
        ));
        let again = decide::stalled(&task, Some("obcluster".into()), &[], at(99));
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
            decide::stalled(&task, None, &[], at(1)).source,
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
        let desired = decide::stalled(&task, Some("obcluster".into()), &[], at(10));

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
