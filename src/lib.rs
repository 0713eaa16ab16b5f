//! vncgate: a console proxy from noVNC in the browser to VNC servers.
//!
//! [`run`] serves on a listener until a [`CancellationToken`] fires; everything it needs comes
//! from [`config::Settings`], so tests start it on port 0 exactly as `vncgate serve` does.
//! `docs/ARCHITECTURE.md` maps the modules along the data path: accept → HTTP/upgrade
//! ([`front`]) → admit ([`token`]) → connect ([`backend`], [`rfb`]) → relay ([`relay`]) →
//! close ([`session`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod backend;
pub mod cli;
pub mod config;
pub mod console;
pub mod front;
pub mod health;
pub mod listener;
pub mod metrics;
pub mod monitor;
pub mod relay;
pub mod rfb;
pub mod session;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod token;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::backend::policy::TargetPolicy;
use crate::config::Settings;
use crate::front::headers::SecurityHeaders;
use crate::front::limiter::Limiter;
use crate::front::pages::Pages;
use crate::front::Front;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::token::{SqlStore, TokenStore};

/// The version and the git commit built from, as `vncgate --version` prints them.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("VNCGATE_COMMIT"), ")");

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TLS configuration (browser-facing or VeNCrypt) is unusable.
    #[error("{0}")]
    Tls(#[from] tls::Error),
    /// The token database cannot be opened (a bad URL, or an SQLite file that cannot be made).
    #[error("{0}")]
    Store(#[from] token::StoreError),
    /// The admin API's secret cannot be read.
    #[error("[vncgate] admin_secret_file: {0}")]
    AdminSecret(String),
}

/// Opens the token database for serving. Without `[database] connection`, vncgate's own
/// SQLite file is optional: when it cannot be made, tokens come from files only. An
/// unreachable database is not fatal: sessions get 503 until it answers.
///
/// # Errors
/// A bad URL, or a configured SQLite file that cannot be created.
pub async fn open_token_database(settings: &Settings) -> Result<Option<SqlStore>, Error> {
    let connection = settings.database_connection.as_ref();
    let store = match SqlStore::open_configured(connection, &settings.sqlite_path(), false).await {
        Ok(store) => store,
        Err(error) if connection.is_none() => {
            tracing::info!(%error, "no token database of vncgate's own: tokens come from token_source files only");
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    if let Err(error) = store.ping().await {
        tracing::warn!(%error, "token database unreachable; new sessions get 503 until it answers");
    }
    Ok(Some(store))
}

/// Deletes expired token rows every minute, as nova-compute's periodic task does for nova's.
async fn delete_expired(store: SqlStore, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => match store.delete_expired().await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "expired tokens deleted"),
                Err(error) => tracing::debug!(%error, "expired tokens not deleted"),
            },
            () = shutdown.cancelled() => return,
        }
    }
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
    run_with(settings, listener, None, shutdown).await
}

/// [`run`], with the admin API served on `admin_listener` when a secret is configured.
///
/// # Errors
/// As [`run`], and an unreadable admin secret.
pub async fn run_with(
    settings: Settings,
    listener: TcpListener,
    admin_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let tls = match &settings.tls {
        Some(files) => Some(TlsAcceptor::from(tls::front_config(files)?)),
        None => None,
    };
    let pages = pages(&settings);
    // A token must never lead the proxy to its own admin API.
    let own_listeners = admin_listener
        .as_ref()
        .and_then(|listener| listener.local_addr().ok())
        .into_iter()
        .collect();
    let metrics = Arc::new(Metrics::new(VERSION));
    certificate_expiries(&settings, &metrics);
    let sessions = Arc::new(session_context(
        &settings,
        own_listeners,
        metrics.clone(),
        shutdown.clone(),
    )?);
    let tracker = TaskTracker::new();
    let grace = settings.limits.shutdown_grace;
    let sql = open_token_database(&settings).await?;
    if let (Some(listener), Some((_, secret_file)), Some(store)) =
        (admin_listener, settings.admin_api(), &sql)
    {
        let secret = admin::read_secret(secret_file).map_err(Error::AdminSecret)?;
        let serving = admin::serve(
            listener,
            store.clone(),
            secret,
            settings.base_url.clone(),
            settings.token_ttl,
            shutdown.clone(),
        );
        tracker.spawn(serving);
    }
    if let (Some(store), true) = (
        &sql,
        settings.delete_expired_tokens || settings.database_connection.is_none(),
    ) {
        tracker.spawn(delete_expired(store.clone(), shutdown.clone()));
    }
    let tokens = Arc::new(TokenStore::new(
        settings.token_source.clone(),
        sql,
        settings.max_sessions_per_token,
    ));
    tracker.spawn(session::recheck::run(
        sessions.registry.clone(),
        tokens.clone(),
        settings.limits.session_recheck_interval,
        shutdown.clone(),
    ));
    let health = Arc::new(Health::new(tokens.clone()));
    let front = Arc::new(Front {
        ssl_only: settings.ssl_only,
        allowed_origins: settings.allowed_origins.clone(),
        handshake_timeout: settings.limits.handshake_timeout,
        max_connections: settings.limits.max_connections,
        limiter: Arc::new(Limiter::new(
            settings.limits.max_connections_per_ip,
            settings.limits.max_refusals_per_ip_per_minute,
        )),
        trusted_proxies: settings.edge.trusted_proxies.clone(),
        proxy_protocol: settings.edge.proxy_protocol,
        tls,
        headers: SecurityHeaders::new(
            settings.edge.frame_ancestors.as_deref(),
            &settings.allowed_origins,
        ),
        pages,
        tokens: tokens.clone(),
        sessions: sessions.clone(),
        metrics,
        health,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    if let Ok(addr) = listener.local_addr() {
        let scheme = if front.tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, scheme, "listening");
    }
    front::serve(front, listener).await;
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

/// `vncgate_certificate_expiry_timestamp_seconds` for the certificates in use.
fn certificate_expiries(settings: &Settings, metrics: &Metrics) {
    use vncgate_pki::inspect::earliest_expiry;
    metrics.certificate_expires(
        "https",
        settings
            .tls
            .as_ref()
            .and_then(|tls| earliest_expiry(&tls.cert)),
    );
    let vencrypt = settings.vencrypt.as_ref();
    metrics.certificate_expires(
        "vencrypt_client",
        vencrypt.and_then(|files| earliest_expiry(&files.client_cert)),
    );
    metrics.certificate_expires(
        "vencrypt_ca",
        vencrypt.and_then(|files| earliest_expiry(&files.ca_certs)),
    );
}

/// The static web root and the noVNC library, where they exist.
fn pages(settings: &Settings) -> Pages {
    if settings.web.is_none() {
        tracing::info!("no web root ([DEFAULT] web unset, or the default /usr/share/novnc is absent): only vncgate's own console page is served");
    }
    let static_files = settings
        .web
        .as_ref()
        .map(|web| ServeDir::new(web).append_index_html_on_directories(false));
    let novnc_files = match &settings.novnc_dir {
        Some(dir) if dir.join("core/rfb.js").is_file() => {
            Some(ServeDir::new(dir).append_index_html_on_directories(false))
        }
        Some(dir) => {
            tracing::error!(dir = %dir.display(), "no noVNC library (core/rfb.js) there: the console page cannot work; install the novnc package or set [vncgate] novnc_dir");
            None
        }
        None => None,
    };
    Pages {
        static_files,
        novnc_files,
    }
}

/// What sessions need: the backend connector with its TLS, the WebSocket limits, the timers.
fn session_context(
    settings: &Settings,
    own_listeners: Vec<std::net::SocketAddr>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<session::Context, Error> {
    let limits = &settings.limits;
    // Browsers send little (keys, pointer): a small read buffer keeps idle sessions cheap; it
    // grows by itself for a large message.
    let websocket = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let backend_tls = match &settings.vencrypt {
        Some(files) => Some({
            if let Some(warning) =
                tls::several_cas_warning(files, settings.vencrypt_verify_hostname)
            {
                tracing::warn!("{warning}");
            }
            tls::backend_config(files, settings.vencrypt_verify_hostname)?
        }),
        None => None,
    };
    let connector = backend::Connector {
        targets: TargetPolicy {
            schemes: settings.auth_schemes.clone(),
            schemes_by_network: settings.backends.auth_schemes_by_network.clone(),
            allowed: settings.backends.allowed_backends.clone(),
            own: own_listeners,
        },
        tls: backend_tls,
        connect_timeout: limits.connect_timeout,
        handshake_timeout: limits.handshake_timeout,
    };
    let timers = session::SessionTimers {
        handshake_timeout: limits.handshake_timeout,
        ping_interval: limits.ping_interval,
        client_timeout: limits.client_timeout,
        enforce_session_timeout: settings.enforce_session_timeout,
    };
    Ok(session::Context::new(
        connector,
        websocket,
        timers,
        settings.vnc_password.clone(),
        metrics,
        shutdown,
    ))
}
