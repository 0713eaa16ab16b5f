//! What the browser-facing server needs, and what one accepted connection carries. Each
//! stage gets its own narrow part: the sessions' [`session::Context`] is separate, so that a
//! session knows nothing of HTTP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::headers::SecurityHeaders;
use super::limiter::{ConnectionSlot, Limiter};
use super::pages::Pages;
use crate::ops::audit::{Audit, Event};
use crate::ops::health::Health;
use crate::ops::metrics::Metrics;
use crate::session;
use crate::token::{RefusalReason, TokenHash, TokenStore};

/// The browser-facing server's context.
pub struct Front {
    /// Refuse plain HTTP (`[DEFAULT] ssl_only`).
    pub ssl_only: bool,
    /// Origin hosts accepted besides the Host header's.
    pub allowed_origins: Vec<String>,
    /// Deadline for the TLS handshake and the request head.
    pub handshake_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Per-client connection and refusal limits.
    pub limiter: Arc<Limiter>,
    /// Load balancers whose forwarding headers (and PROXY header) are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Trusted peers send a PROXY protocol header first.
    pub proxy_protocol: bool,
    /// The one header that names the client behind a trusted proxy.
    pub forwarded_header: crate::config::ForwardedHeader,
    /// Browser-facing TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// The pages served besides upgrades.
    pub pages: Pages,
    /// Their security headers.
    pub headers: SecurityHeaders,
    /// Where tokens are looked up.
    pub tokens: Arc<TokenStore>,
    /// What sessions started here need.
    pub sessions: Arc<session::Context>,
    /// Every token also needs a signed-in browser (`require_login`), and these claims say
    /// whose each token is.
    pub require_login: Option<Arc<crate::token::claims::Claims>>,
    /// Who may open which console when signed in (`access_policy`).
    pub access_policy: Option<Arc<crate::access::Policy>>,
    /// `[vncgate] console_defaults`, for the page (`/token-status`'s `X-Console-Defaults`).
    pub console_defaults: Option<http::HeaderValue>,
    /// The serial port's page origin (`https://host:port`), when the serial port is enabled.
    pub serial_page: Option<String>,
    /// Sign-in through the identity provider (`[oidc]`).
    pub signin: Option<Arc<crate::signin::SignIn>>,
    /// The hypervisors whose domains tokens may name (`[libvirt] uris`).
    pub libvirt: Option<Arc<crate::libvirt::Inventory>>,
    /// The SPICE consoles open here, which their other channels join.
    pub channels: Arc<session::channels::Channels>,
    /// The series refusals count in.
    pub metrics: Arc<Metrics>,
    /// Readiness, for `/readyz`.
    pub health: Arc<Health>,
    /// The audit trail, when configured.
    pub audit: Option<Arc<Audit>>,
    /// Stops the accept loop; sessions close.
    pub shutdown: CancellationToken,
    /// Every connection and session, for the shutdown wait.
    pub tracker: TaskTracker,
}

impl Front {
    /// Counts a refusal of `client` under `reason`, and writes it to the audit trail.
    pub(super) fn refused(&self, client: IpAddr, reason: RefusalReason, token: Option<&TokenHash>) {
        let reason = reason.label();
        self.metrics.refused(reason);
        if let Some(audit) = &self.audit {
            let mut event = Event::now(crate::ops::audit::Kind::Refusal);
            event.client_ip = Some(client);
            event.reason = Some(reason.to_owned());
            event.token_hash = token.map(TokenHash::short);
            audit.record(&event);
        }
    }
}

impl Front {
    /// Counts a refusal of a signed-in person under `reason`, and writes it to the audit trail
    /// with who they are.
    pub(super) fn refused_person(&self, who: &crate::signin::Identity, reason: RefusalReason) {
        let reason = reason.label();
        self.metrics.refused(reason);
        if let Some(audit) = &self.audit {
            let mut event = Event::now(crate::ops::audit::Kind::Refusal);
            event.user = Some(who.sub.clone());
            event.email.clone_from(&who.email);
            event.reason = Some(reason.to_owned());
            audit.record(&event);
        }
    }
}

/// A connection that never upgrades is closed after this, whatever it sends: a keep-alive
/// connection must not hold a slot forever with a request every few seconds.
const MAX_HTTP_LIFETIME: Duration = Duration::from_secs(60);

impl Front {
    /// How long a connection that never upgrades may live: a minute, or six handshake
    /// deadlines where those are shorter.
    pub(super) fn http_lifetime(&self) -> Duration {
        MAX_HTTP_LIFETIME.min(self.handshake_timeout.saturating_mul(6))
    }
}

/// One accepted browser connection.
pub(crate) struct Connection {
    /// The client: the TCP peer, or the address a trusted proxy's PROXY header named.
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    /// The console kinds this port admits.
    pub(crate) serves: &'static [crate::console::ConsoleKind],
    /// Held until the connection, and any session upgraded from it, ends.
    pub(crate) _permit: OwnedSemaphorePermit,
    /// The client's slot under `max_connections_per_ip`, when it is counted.
    pub(crate) _slot: Option<ConnectionSlot>,
}
