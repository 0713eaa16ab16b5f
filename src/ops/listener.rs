//! A small HTTP listener for the admin API and the metrics endpoint: a connection cap, a
//! deadline on each request head, and a lifetime for each connection, so that idle or slow
//! clients cannot hold it. The axum router decides the rest.

use crate::chain::chain;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 64;
/// Deadline for a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an admin connection lives.
pub const LIFETIME: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until `shutdown`.
/// Serves `router` on `listener` until `shutdown`; `what` names it in the log.
pub async fn serve(
    what: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(error = %chain(&error), listener = what, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::info!(%peer, listener = what, "refused: too many connections");
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(16 * 1024);
            let serving = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(serving);
            tokio::select! {
                result = serving.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, error = %chain(&error), listener = what, "connection ended with an error");
                    }
                    drop(slot);
                    return;
                }
                () = tokio::time::sleep(LIFETIME) => {}
                () = shutdown.cancelled() => {}
            }
            serving.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(HEADER_TIMEOUT, serving).await;
            drop(slot);
        });
    }
}
