//! The operator's HTTP endpoints: `/metrics` (Prometheus), `/healthz` (liveness), `/readyz` (readiness).

use std::sync::Arc;

use axum::{Router, extract::State, http::StatusCode, routing::get};
use tokio::net::TcpListener;

use crate::{
    metrics::Metrics,
    readiness::{Readiness, Role},
};

/// What the endpoints report on.
#[derive(Clone)]
pub struct Probe {
    /// Exported metrics.
    pub metrics: Arc<Metrics>,
    /// Whether this replica can do its job (see [`Readiness`]).
    pub readiness: Arc<Readiness>,
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    probe: Probe,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    }
    axum::serve(listener, router(probe))
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(probe: Probe) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(probe)
}

async fn metrics(
    State(probe): State<Probe>,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    (
        StatusCode::OK,
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        probe.metrics.render(),
    )
}

async fn readyz(State(probe): State<Probe>) -> (StatusCode, &'static str) {
    let (role, ready) = probe.readiness.answer();
    let body = match (role, ready) {
        (Role::Leading, true) => "ok: leading",
        (Role::Leading, false) => "leading; caches not synced yet",
        (Role::Standby, _) => "ok: standby",
        (Role::Starting, _) => "starting: leadership not decided",
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}
