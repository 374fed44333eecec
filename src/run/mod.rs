//! `ob-backup-operator run`: check the CRDs, serve probes and metrics, win the lease of a shard (with one
//! shard: the leader lease), then run the controllers for the shards held until SIGTERM (exit 0, leases
//! released) or until a held lease is lost (exit non-zero, so that Kubernetes restarts the replica with a
//! clean slate). Shards won later are reconciled from then on ([`leases`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kube::{Client, api::ListParams, runtime::events::Reporter};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::{
    api::{BackupStrategy, BackupTask, CleanupTask, LogBackup, RecoveryTask},
    controller::{self, FIELD_MANAGER, Reconcile, Settings, WatchScope},
    http::{self, Probe},
    metrics::Metrics,
    readiness::{Readiness, Role},
    shards::Shards,
};

mod leases;

use leases::ShardLeases;

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Namespaces to watch (one or a comma-separated list); every namespace when `None` or empty.
    pub namespace: Option<String>,
    /// Namespace of the leader Lease.
    pub lease_namespace: String,
    /// Name of the leader Lease.
    pub lease_name: String,
    /// This replica's identity in the Lease (its Pod name).
    pub identity: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub http_addr: SocketAddr,
    /// How long a lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How long before expiry the holder renews.
    pub lease_grace: Duration,
    /// How many shards the objects are spread over (1: one leader reconciles everything).
    pub shards: u32,
    /// How many replicas run: each takes about `shards / replicas` shards while all run.
    pub replicas: u32,
    pub settings: Settings,
}

/// Why the operator stopped other than by a shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(#[source] kube::Error),
    /// A CRD is not installed.
    #[error(
        "the CRD {0} is not installed: install crds/ first (kubectl apply -f crds/, or ob-backup-operator crdgen --stdout | kubectl apply -f -)"
    )]
    CrdMissing(String),
    /// The API refused or failed a request needed to start.
    #[error("Kubernetes API request failed: {0}")]
    KubeApi(#[from] kube::Error),
    /// Another replica took the lease of a shard this one held (with one shard: the leader lease).
    #[error("lost a shard's lease; exiting so that this replica restarts with a clean slate")]
    LostLeadership,
    /// The HTTP endpoints could not be served.
    #[error("cannot serve HTTP on {0}: {1}")]
    Http(SocketAddr, #[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(#[source] std::io::Error),
}

/// Runs the operator until it is told to stop.
pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let client = Client::try_default().await.map_err(RunError::Config)?;
    let scope = WatchScope::parse(config.namespace.as_deref().unwrap_or_default());
    let metrics = Arc::new(Metrics::default());
    let readiness = Arc::new(Readiness::new(controller::KINDS));
    let shutdown = CancellationToken::new();
    let mut stop_signal = StopSignal::install()?;

    let listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| RunError::Http(config.http_addr, e))?;
    let probe = Probe {
        metrics: metrics.clone(),
        readiness: readiness.clone(),
    };
    let server = tokio::spawn(http::serve(
        listener,
        probe,
        shutdown.clone().cancelled_owned(),
    ));

    check_crds(&client, &scope).await?;
    tracing::info!(namespace = ?config.namespace, identity = %config.identity, "CRDs present; waiting for a shard's lease");

    let shards = Arc::new(Shards::new(config.shards));
    let mut leases = ShardLeases::new(client.clone(), config.clone(), shards.clone());
    let became_leader = loop {
        leases.step().await?;
        if !shards.held().is_empty() {
            break true;
        }
        // Once a standby, it stays one until it leads: no more Lease reads than that takes.
        if readiness.answer().0 == Role::Starting && leases.all_held_elsewhere() {
            readiness.set_role(Role::Standby);
        }
        tokio::select! {
            () = leases.changed(crate::timing::STANDBY_CHECK) => {}
            () = stop_signal.recv() => break false,
        }
    };
    let result = if became_leader {
        readiness.set_role(Role::Leading);
        let leading = Leading {
            client,
            scope,
            metrics: &metrics,
            readiness: &readiness,
            config: &config,
            shards,
        };
        leading.lead(&shutdown, &mut leases, &mut stop_signal).await
    } else {
        Ok(())
    };

    readiness.set_role(Role::Starting);
    shutdown.cancel();
    // Releasing the leases needs the API. When the API is down, give up after a while: they then simply
    // expire, and the operator must still exit.
    leases.release(crate::timing::LEASE_RELEASE_TIMEOUT).await;
    if let Ok(Ok(Err(error))) =
        tokio::time::timeout(crate::timing::HTTP_DRAIN_TIMEOUT, server).await
    {
        tracing::warn!(%error, "HTTP server stopped with an error");
    }
    result
}

/// What a replica that holds shards runs with.
struct Leading<'a> {
    client: Client,
    scope: WatchScope,
    metrics: &'a Arc<Metrics>,
    readiness: &'a Arc<Readiness>,
    config: &'a RunConfig,
    shards: Arc<Shards>,
}

impl Leading<'_> {
    /// Runs the controllers while this replica holds its shards, taking more as [`ShardLeases`] wins them.
    async fn lead(
        self,
        shutdown: &CancellationToken,
        leases: &mut ShardLeases,
        stop_signal: &mut StopSignal,
    ) -> Result<(), RunError> {
        let held = self.shards.held();
        tracing::info!(identity = %self.config.identity, shards = ?held, "holding shards; starting controllers");
        self.metrics.set_leader(true);
        self.metrics.set_shards_held(held.len());
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(self.config.identity.clone()),
        };
        let controllers = tokio::spawn(controller::run_all(controller::Start {
            client: self.client,
            scope: self.scope,
            metrics: self.metrics.clone(),
            reporter,
            settings: self.config.settings,
            shutdown: shutdown.clone(),
            readiness: self.readiness.clone(),
            shards: self.shards.clone(),
        }));
        let result = loop {
            tokio::select! {
                () = leases.changed(crate::timing::STANDBY_CHECK) => {
                    if let Err(error) = leases.step().await {
                        break Err(error);
                    }
                    self.metrics.set_shards_held(self.shards.held().len());
                }
                () = stop_signal.recv() => break Ok(()),
            }
        };
        shutdown.cancel();
        // Controllers finish the reconciles under way; one stuck on an unreachable API must not keep the
        // process alive past Kubernetes' grace period, so after a while they are aborted.
        let abort = controllers.abort_handle();
        match tokio::time::timeout(crate::timing::CONTROLLERS_TIMEOUT, controllers).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "controllers did not stop cleanly"),
            Err(_) => {
                tracing::warn!(timeout = ?crate::timing::CONTROLLERS_TIMEOUT, "reconciles still running; aborting them");
                abort.abort();
            }
        }
        self.metrics.set_leader(false);
        self.metrics.set_shards_held(0);
        self.metrics.set_shards_filled(0);
        result
    }
}

/// Fails with [`RunError::CrdMissing`] unless every kind can be listed in the watched scope.
async fn check_crds(client: &Client, scope: &WatchScope) -> Result<(), RunError> {
    check_crd::<BackupStrategy>(client, scope).await?;
    check_crd::<BackupTask>(client, scope).await?;
    check_crd::<LogBackup>(client, scope).await?;
    check_crd::<CleanupTask>(client, scope).await?;
    check_crd::<RecoveryTask>(client, scope).await
}

async fn check_crd<K: Reconcile>(client: &Client, scope: &WatchScope) -> Result<(), RunError> {
    for api in scope.apis::<K>(client) {
        match api.list_metadata(&ListParams::default().limit(1)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(RunError::CrdMissing(format!(
                    "{}.{}",
                    K::plural(&()),
                    K::group(&())
                )));
            }
            Err(e) => return Err(RunError::KubeApi(e)),
        }
    }
    Ok(())
}

/// SIGTERM (Kubernetes stopping the Pod) or SIGINT (Ctrl-C).
struct StopSignal {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn install() -> Result<Self, RunError> {
        Ok(Self {
            term: signal(SignalKind::terminate()).map_err(RunError::Signal)?,
            int: signal(SignalKind::interrupt()).map_err(RunError::Signal)?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = self.int.recv() => tracing::info!("SIGINT received; shutting down"),
        }
    }
}

#[cfg(test)]
mod tests {
    use ::http::{Request, Response, StatusCode};
    use kube::client::Body;

    use super::*;

    #[tokio::test]
    async fn a_missing_crd_is_named_with_the_command_that_installs_it() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api = tokio::spawn(async move {
            let (request, respond) = handle.next_request().await.expect("a list request");
            assert_eq!(
                request.uri().path(),
                "/apis/obbackup.dev/v1alpha1/backupstrategies"
            );
            let not_found = serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404,
            });
            let response = Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from(serde_json::to_vec(&not_found).expect("JSON")))
                .expect("response");
            respond.send_response(response);
        });
        let error = check_crds(&Client::new(service, "default"), &WatchScope::default())
            .await
            .expect_err("a missing CRD is an error");
        api.await.expect("API mock");
        assert!(
            matches!(error, RunError::CrdMissing(ref crd) if crd == "backupstrategies.obbackup.dev"),
            "{error}"
        );
        assert!(
            error.to_string().contains("kubectl apply -f crds/"),
            "{error}"
        );
    }
}
