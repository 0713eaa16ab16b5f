//! The metrics listener (`[vncgate] metrics_listen`): `GET /metrics` in the Prometheus text
//! format, and `/healthz` and `/readyz` for load balancers and orchestrators. None needs a
//! token, and none says more than a status and the series.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ops::health::Health;
use crate::ops::metrics::{Metrics, CONTENT_TYPE};

#[derive(Clone)]
struct Monitor {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

async fn exposition(State(monitor): State<Monitor>) -> Response {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        monitor.metrics.encode(),
    )
        .into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

async fn readyz(State(monitor): State<Monitor>) -> Response {
    if monitor.health.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// Serves the metrics listener until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: CancellationToken,
) {
    let router = Router::new()
        .route("/metrics", get(exposition))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Monitor { metrics, health });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics listening");
    }
    crate::ops::listener::serve("metrics", listener, router, shutdown).await;
}
