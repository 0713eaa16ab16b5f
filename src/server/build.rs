//! Builds what serves from [`Settings`]: the browser-facing [`Front`] and the sessions'
//! context, around the parts that outlive a reload ([`Lasting`]). No I/O but reading the
//! certificate and key files named in the settings.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use super::error::Error;
use crate::backend::{self, policy::TargetPolicy};
use crate::config::Settings;
use crate::front::headers::SecurityHeaders;
use crate::front::limiter::Limiter;
use crate::front::pages::Pages;
use crate::front::Front;
use crate::ops::audit::Audit;
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;
use crate::session::registry::Registry;
use crate::session::{self, Observers, SessionTimers};
use crate::tls;
use crate::token::TokenStore;

/// What a reload keeps: counters, live sessions and connections, per-client state, the token
/// database and its session counts, the stop signals.
pub(super) struct Lasting {
    pub(super) metrics: Arc<Metrics>,
    pub(super) audit: Option<Arc<Audit>>,
    pub(super) registry: Arc<Registry>,
    /// Open SPICE consoles, joined by their other channels across a reload.
    pub(super) channels: Arc<crate::session::channels::Channels>,
    pub(super) limiter: Arc<Limiter>,
    pub(super) health: Arc<Health>,
    /// The tokens as configured last: the recheck looks them up here.
    pub(super) tokens: Arc<arc_swap::ArcSwap<TokenStore>>,
    /// Connections and sessions, for the shutdown wait.
    pub(super) connections: TaskTracker,
    /// Stops the accept loop and idle HTTP connections.
    pub(super) stop_accepting: CancellationToken,
    /// Ends the sessions still open when the grace period is over.
    pub(super) stop_sessions: CancellationToken,
    /// The admin API's address: never a target.
    pub(super) own: Vec<SocketAddr>,
    /// The recordings being written, which retention leaves alone.
    pub(super) recordings: Arc<crate::recording::Live>,
    /// Whose each token is, under `require_login`, across reloads.
    pub(super) claims: Arc<crate::token::claims::Claims>,
}

/// A [`Front`] for `settings`.
///
/// # Errors
/// A TLS file that cannot be used.
pub(super) fn front(settings: &Settings, lasting: &Lasting) -> Result<Front, Error> {
    let tls = match &settings.tls {
        Some(files) => Some(TlsAcceptor::from(tls::front_config(files)?)),
        None => None,
    };
    let sessions = Arc::new(sessions(settings, lasting)?);
    lasting.limiter.set_limits(
        settings.limits.max_connections_per_ip,
        settings.limits.max_refusals_per_ip_per_minute,
    );
    let tokens = tokens(settings, lasting)?;
    certificate_expiries(settings, &lasting.metrics);
    // Where the serial page is: /consoles links there, and sign-in may send the browser back.
    let serial_page = settings.serial_page_origin();
    let signin = match &settings.oidc {
        Some(oidc) => Some(Arc::new(signin(oidc, serial_page.clone())?)),
        None => None,
    };
    Ok(Front {
        ssl_only: settings.ssl_only,
        allowed_origins: settings.allowed_origins.clone(),
        handshake_timeout: settings.limits.handshake_timeout,
        max_connections: settings.limits.max_connections,
        limiter: lasting.limiter.clone(),
        trusted_proxies: settings.edge.trusted_proxies.clone(),
        proxy_protocol: settings.edge.proxy_protocol,
        forwarded_header: settings.edge.forwarded_header,
        tls,
        headers: SecurityHeaders::new(
            settings.edge.frame_ancestors.as_deref(),
            &settings.allowed_origins,
        ),
        pages: pages(settings),
        tokens,
        sessions,
        access_policy: settings.access_policy.clone(),
        serial_page,
        // Checked JSON of ASCII words and numbers: always a valid header value.
        console_defaults: (settings.console_defaults.as_deref())
            .and_then(|json| http::HeaderValue::from_str(json).ok()),
        require_login: settings.require_login.then(|| lasting.claims.clone()),
        signin,
        libvirt: settings
            .libvirt
            .as_ref()
            .map(|libvirt| Arc::new(crate::libvirt::Inventory::new(libvirt))),
        channels: lasting.channels.clone(),
        metrics: lasting.metrics.clone(),
        health: lasting.health.clone(),
        audit: lasting.audit.clone(),
        shutdown: lasting.stop_accepting.clone(),
        tracker: lasting.connections.clone(),
    })
}

/// The token sources as configured, replacing the last ones (kept across reloads in
/// `lasting`).
fn tokens(settings: &Settings, lasting: &Lasting) -> Result<Arc<crate::token::TokenStore>, Error> {
    // Read again on each reload: a portal's new key (a new kid) is taken with SIGHUP.
    let jwt = match &settings.jwt {
        Some(jwt) => Some(Arc::new(
            crate::token::jwt::JwtSource::load(jwt.clone()).map_err(Error::JwtKeys)?,
        )),
        None => None,
    };
    let api = match &settings.token_api {
        Some(api) => Some(Arc::new(token_api(api)?)),
        None => None,
    };
    let redis = match &settings.redis {
        Some((url, prefix)) => Some(Arc::new(
            crate::token::redis::RedisSource::new(url.expose(), prefix).map_err(Error::Store)?,
        )),
        None => None,
    };
    let tokens = Arc::new(
        lasting
            .tokens
            .load()
            .rebuilt(
                settings.token_source.clone(),
                jwt,
                settings.max_sessions_per_token,
            )
            .with_names(settings.token_names_dir.clone())
            .with_api(api)
            .with_redis(redis),
    );
    lasting.tokens.store(tokens.clone());
    Ok(tokens)
}

/// Sign-in with `[oidc]`: the provider reached over HTTPS checked against its `ca_file`; the
/// serial port's page, when there is one, may be landed on.
fn signin(
    oidc: &crate::signin::OidcSettings,
    serial_page: Option<String>,
) -> Result<crate::signin::SignIn, Error> {
    let tls = if oidc.issuer.starts_with("https:") {
        Some(tls::api_client_config(&oidc.ca_file)?)
    } else {
        None
    };
    let signin = crate::signin::SignIn::new(oidc.clone(), tls).ok_or(Error::CookieKey)?;
    Ok(match serial_page {
        Some(origin) => signin.landing_on(origin),
        None => signin,
    })
}

/// What sessions need: the backend connector with its TLS, the WebSocket limits, the timers.
fn sessions(settings: &Settings, lasting: &Lasting) -> Result<session::Context, Error> {
    let limits = &settings.limits;
    let backend_tls = match &settings.vencrypt {
        Some(files) => {
            if let Some(warning) =
                tls::several_cas_warning(files, settings.vencrypt_verify_hostname)
            {
                tracing::warn!("{warning}");
            }
            Some(tls::backend_config(
                files,
                settings.vencrypt_verify_hostname,
            )?)
        }
        None => None,
    };
    let connector = backend::Connector {
        targets: TargetPolicy {
            schemes: settings.auth_schemes.clone(),
            schemes_by_network: settings.backends.auth_schemes_by_network.clone(),
            allowed: settings.backends.allowed_backends.clone(),
            own: lasting.own.clone(),
        },
        tls: backend_tls,
        serial_tls: settings.serial_tls,
        spice_tls: settings.spice_tls,
        unix_dirs: settings.backends.unix_socket_dirs.clone(),
        connect_timeout: limits.connect_timeout,
        handshake_timeout: limits.handshake_timeout,
    };
    let timers = SessionTimers {
        handshake_timeout: limits.handshake_timeout,
        ping_interval: limits.ping_interval,
        client_timeout: limits.client_timeout,
        enforce_session_timeout: settings.enforce_session_timeout,
    };
    let mut context = session::Context::new(
        connector,
        limits.max_message_size,
        timers,
        settings.vnc_password.clone(),
        Observers {
            metrics: lasting.metrics.clone(),
            audit: lasting.audit.clone(),
        },
        lasting.registry.clone(),
        lasting.stop_sessions.clone(),
    );
    context.default_view_only = settings.default_view_only;
    context.splice = settings.splice;
    context.default_clipboard = settings.default_clipboard;
    context.recording = settings.recording.clone();
    context.live_recordings = lasting.recordings.clone();
    context.instance = crate::token::lease::instance_name();
    Ok(context)
}

/// `vncgate_certificate_expiry_timestamp_seconds` for the certificates in use.
fn certificate_expiries(settings: &Settings, metrics: &Metrics) {
    use vncgate_pki::inspect::earliest_expiry;
    let https = settings
        .tls
        .as_ref()
        .and_then(|tls| earliest_expiry(&tls.cert));
    metrics.certificate_expires("https", https);
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
    let library = |dir: &Option<std::path::PathBuf>, marker: &str| {
        dir.as_ref()
            .filter(|dir| dir.join(marker).is_file())
            .map(|dir| ServeDir::new(dir).append_index_html_on_directories(false))
    };
    let mut pages = Pages {
        static_files,
        novnc_files,
        xterm_files: library(&settings.xterm_dir, "xterm.js"),
        spice_files: library(&settings.spice_html5_dir, "spice_auto.html"),
        console_html: None,
    };
    if let (Some(_), Some(dir)) = (&pages.novnc_files, &settings.novnc_dir) {
        pages.preload_novnc(dir);
    }
    pages
}

/// The token API source: its TLS roots (for an https URL) and bearer read now.
fn token_api(api: &crate::token::api::ApiSettings) -> Result<crate::token::api::ApiSource, Error> {
    let tls = if api.url.starts_with("https:") {
        Some(tls::api_client_config(&api.ca)?)
    } else {
        None
    };
    let bearer = match &api.bearer_file {
        Some(file) => Some(crate::admin::read_secret(file).map_err(Error::AdminSecret)?),
        None => None,
    };
    Ok(crate::token::api::ApiSource::new(
        api.url.clone(),
        tls,
        bearer,
        api.cache_ttl,
    ))
}
