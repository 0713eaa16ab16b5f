//! What the browser-facing server needs, and what one accepted connection carries. Each
//! stage gets its own narrow part: the sessions' [`session::Context`] is separate, so that a
//! session knows nothing of HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pages::Pages;
use crate::session;
use crate::token::TokenStore;

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
    /// Browser-facing TLS, when configured.
    pub tls: Option<TlsAcceptor>,
    /// The pages served besides upgrades.
    pub pages: Pages,
    /// Where tokens are looked up.
    pub tokens: TokenStore,
    /// What sessions started here need.
    pub sessions: Arc<session::Context>,
    /// Stops the accept loop; sessions close.
    pub shutdown: CancellationToken,
    /// Every connection and session, for the shutdown wait.
    pub tracker: TaskTracker,
}

/// One accepted browser connection.
pub(crate) struct Connection {
    pub(crate) peer: SocketAddr,
    pub(crate) tls: bool,
    /// Held until the connection, and any session upgraded from it, ends.
    pub(crate) _permit: OwnedSemaphorePermit,
}
