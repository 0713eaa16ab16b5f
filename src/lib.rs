//! vncgate: a console proxy from noVNC in the browser to VNC servers.
//!
//! [`run`] serves on a listener until a [`CancellationToken`] fires; everything it needs comes
//! from [`config::Settings`], so tests start it on port 0 exactly as `vncgate serve` does.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bridge;
pub mod check;
pub mod cli;
pub mod config;
pub mod front;
pub mod pki_cli;
pub mod rfb;
pub(crate) mod session;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod token;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::config::Settings;
use crate::front::Shared;
use crate::token::TokenStore;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TLS configuration (browser-facing or VeNCrypt) is unusable.
    #[error("{0}")]
    Tls(#[from] tls::Error),
}

/// Serves on `listener` until `shutdown` is cancelled, then closes every session (WebSocket
/// close 1001) and waits for them up to `[vncgate] shutdown_grace`.
///
/// # Errors
/// Only at start-up, when a TLS file (browser-facing or VeNCrypt) cannot be used.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let tls = match &settings.tls {
        Some(files) => Some(TlsAcceptor::from(tls::front_config(files)?)),
        None => None,
    };
    let static_files = settings
        .web
        .as_ref()
        .map(|web| ServeDir::new(web).append_index_html_on_directories(false));
    let websocket = WebSocketConfig::default()
        .max_message_size(Some(settings.limits.max_message_size))
        .max_frame_size(Some(settings.limits.max_message_size));
    let backend_tls = match &settings.vencrypt {
        Some(files) => Some(tls::backend_config(
            files,
            settings.vencrypt_verify_hostname,
        )?),
        None => None,
    };
    let connector = rfb::driver::Connector {
        schemes: settings.auth_schemes.clone(),
        tls: backend_tls,
        connect_timeout: settings.limits.connect_timeout,
        handshake_timeout: settings.limits.handshake_timeout,
    };
    let tracker = TaskTracker::new();
    let grace = settings.limits.shutdown_grace;
    let shared = Arc::new(Shared {
        tokens: TokenStore::with_files(settings.token_source.clone()),
        settings,
        static_files,
        tls,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
        next_session: AtomicU64::new(1),
        websocket,
        connector,
    });
    if let Ok(addr) = listener.local_addr() {
        let scheme = if shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        tracing::info!(%addr, scheme, "listening");
    }
    front::serve(shared, listener).await;
    tracker.close();
    tracing::info!(sessions = tracker.len(), "shutting down");
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(
            left = tracker.len(),
            "shutdown grace period over; dropping what is left"
        );
    }
    Ok(())
}
