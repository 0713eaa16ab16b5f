//! One console session, after the upgrade: greet the browser and connect to the console server
//! at the same time, then relay; one log line when it opens and one when it closes.
//!
//! Everything a session needs is in its [`Context`]; it knows nothing of HTTP routing or of
//! the accept loop that started it.

mod browser;
pub mod channels;
pub mod directory;
mod policy;
pub mod recheck;
pub mod registry;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::audit::{Audit, Event};
use crate::backend::{self, Connector};
use crate::console::{Clipboard, Secret};
use crate::metrics::Metrics;
use crate::relay::filter::{Filters, Policy};
use crate::relay::splice::Tcp;
use crate::relay::{self, Browser, End, Timers};
use crate::rfb::wire;
use crate::token::{Grant, SessionSlot, TokenHash};
use crate::websocket::code;
use registry::Registry;

/// The timers of every session.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimers {
    /// Deadline of the browser's handshake.
    pub handshake_timeout: Duration,
    /// WebSocket ping period; zero sends none.
    pub ping_interval: Duration,
    /// Longest silence from the browser.
    pub client_timeout: Duration,
    /// Close a live session when its token expires.
    pub enforce_session_timeout: bool,
}

/// Where sessions are counted and recorded.
#[derive(Debug, Clone)]
pub struct Observers {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The audit trail, when configured.
    pub audit: Option<Arc<Audit>>,
}

/// What every session shares: how to reach console servers, the timers, where to count.
#[derive(Debug)]
pub struct Context {
    /// Backend transports and the security proxy.
    pub connector: Connector,
    /// The largest message a browser may send (`max_message_size`).
    pub max_message_size: usize,
    /// The session timers.
    pub timers: SessionTimers,
    /// The VNC password for grants that carry none.
    pub default_password: Option<Secret>,
    /// Where sessions, bytes and backend failures are counted.
    pub metrics: Arc<Metrics>,
    /// The audit trail, when configured.
    pub audit: Option<Arc<Audit>>,
    /// Fires on shutdown: sessions close with 1001.
    pub shutdown: CancellationToken,
    /// The live sessions, for the recheck that ends revoked ones.
    pub registry: Arc<Registry>,
    /// Whether sessions of tokens that do not say are view-only.
    pub default_view_only: bool,
    /// Whether downstream between plain TCP sockets may be spliced.
    pub splice: bool,
    /// Which way the clipboard of sessions whose tokens do not say may flow.
    pub default_clipboard: Clipboard,
}

impl Context {
    /// A context; session ids start at 1. `registry` outlives a reload's new context.
    pub fn new(
        connector: Connector,
        max_message_size: usize,
        timers: SessionTimers,
        default_password: Option<Secret>,
        observers: Observers,
        registry: Arc<Registry>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            connector,
            max_message_size,
            timers,
            default_password,
            metrics: observers.metrics,
            audit: observers.audit,
            shutdown,
            registry,
            default_view_only: false,
            splice: true,
            default_clipboard: Clipboard::Both,
        }
    }
}

/// A session about to start.
pub struct Session {
    id: u64,
    peer: IpAddr,
    grant: Grant,
    single_use: bool,
    /// The target's addresses, as checked before the upgrade.
    addresses: Option<Vec<SocketAddr>>,
    hash: TokenHash,
    /// Held for the session's life: it counts under `max_sessions_per_token` (shared by the
    /// channels of one SPICE console).
    _slot: Arc<SessionSlot>,
}

impl Session {
    /// A session for an admitted token, from the client at `peer`, to the target's
    /// `addresses` where they were checked before the upgrade.
    pub fn new(
        context: &Context,
        peer: IpAddr,
        admission: channels::Joined,
        addresses: Option<Vec<SocketAddr>>,
        hash: TokenHash,
    ) -> Self {
        Self {
            id: context.registry.next_id(),
            peer,
            grant: admission.grant,
            single_use: admission.single_use,
            addresses,
            hash,
            _slot: admission.slot,
        }
    }

    /// Runs the session to its end. `held` (the browser connection's slot under
    /// `max_connections`) is dropped only then.
    pub async fn run<H, R, W>(
        self,
        context: Arc<Context>,
        held: H,
        upgrade: impl Future<Output = Result<Browser<R, W>, hyper::Error>>,
    ) where
        H: Send,
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Tcp,
    {
        let span = tracing::info_span!("session", id = self.id, peer = %self.peer);
        self.serve(&context, upgrade).instrument(span).await;
        drop(held);
    }

    async fn serve<R, W>(
        mut self,
        context: &Context,
        upgrade: impl Future<Output = Result<Browser<R, W>, hyper::Error>>,
    ) where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin + Tcp,
    {
        let started = Instant::now();
        let target = self.grant.target.clone();
        let mut ws = match upgrade.await {
            Ok(browser) => browser,
            Err(error) => {
                tracing::info!(%error, "upgrade failed");
                return;
            }
        };
        tracing::info!(target = %target, token = %self.hash.short(), "session opened");

        // The browser learns the version at once; the console server is reached meanwhile.
        let deadline = Instant::now() + context.timers.handshake_timeout;
        let password = self
            .grant
            .password
            .clone()
            .or_else(|| context.default_password.clone());
        let request = backend::Request {
            kind: self.grant.kind,
            target: &target,
            reach: &self.grant.reach,
            password,
            schemes: self.grant.schemes.clone(),
            tls_port: self.grant.tls_port,
            addresses: self.addresses.take(),
        };
        // An RFB console: the browser is greeted (None) while the server is authenticated. A
        // console relayed as it is (authd's MKS): the browser speaks to the server itself.
        let rfb = self.grant.kind.is_rfb();
        let greeting = async {
            if rfb {
                browser::greet(&mut ws, deadline).await
            } else {
                Ok(bytes::Bytes::new())
            }
        };
        // Boxed: the connect future (TLS and handshake state, about 9 KiB) would otherwise keep
        // its room inside the session's future, on the heap, for as long as the session lives.
        let connect = Box::pin(context.connector.connect(request));
        let (browser, backend) = tokio::join!(greeting, connect);
        // The request held the grant's ticket, if any: it is not needed any more.
        self.grant.reach = crate::console::Reach::Direct;
        let pipelined = match browser {
            Ok(pipelined) => pipelined,
            Err(error) => {
                tracing::info!(target = %target, %error, "session closed: browser handshake failed");
                let closing = ws.writer.close(code::PROTOCOL, "the RFB handshake failed");
                let _ = tokio::time::timeout(context.timers.handshake_timeout, closing).await;
                return;
            }
        };
        let mut backend = match backend {
            Ok(backend) => backend,
            Err(error) => {
                tracing::info!(target = %target, %error, "session closed: console server handshake failed");
                context.metrics.backend_failed(error.metric_reason());
                if rfb {
                    let failure = wire::encode_security_failure(error.public_reason());
                    let _ = browser::send(&mut ws.writer, failure, deadline).await;
                }
                let closing = ws.writer.close(code::ERROR, error.public_reason());
                let _ = tokio::time::timeout(context.timers.handshake_timeout, closing).await;
                return;
            }
        };
        tracing::info!(
            target = %target,
            scheme = backend.scheme_name(),
            "console server authenticated"
        );
        context.metrics.session_opened(started.elapsed());
        self.record(
            context,
            Event::now("session_open"),
            Some(backend.scheme_name()),
        );
        let _open = OpenSession {
            metrics: &context.metrics,
            started,
        };
        // SecurityResult OK as a message of its own: tempest reads exactly these four bytes.
        if rfb
            && browser::send(&mut ws.writer, wire::SECURITY_OK.to_vec(), deadline)
                .await
                .is_err()
        {
            return;
        }
        // The browser's side of an RFB console goes through the ClientInit filter from its
        // first byte, which may have come with the greeting; the server's side through its
        // filter from the first byte after the handshake.
        let policy = context.policy(&self.grant);
        let Policy {
            view_only,
            clipboard,
        } = policy;
        // A clipboard text is dropped whole; its length is bounded as a message is.
        let mut filters = Filters::for_console(self.grant.kind, policy, context.max_message_size);
        if !backend.leftover.is_empty() {
            let leftover = std::mem::take(&mut backend.leftover);
            let Ok(leftover) = filters.to_browser.apply(leftover) else {
                return;
            };
            let Ok(()) = browser::send(&mut ws.writer, leftover, deadline).await else {
                return;
            };
        }
        let pipelined = match filters.to_server.apply(pipelined) {
            Ok(pipelined) => pipelined,
            Err(_) => return,
        };
        if !pipelined.is_empty() {
            let written = async {
                backend.stream.write_all(&pipelined).await?;
                backend.stream.flush().await
            };
            if written.await.is_err() {
                return;
            }
        }

        let expires = if context.timers.enforce_session_timeout {
            self.grant
                .remaining(SystemTime::now())
                .and_then(|left| Instant::now().checked_add(left))
        } else {
            None
        };
        let timers = Timers {
            ping_interval: context.timers.ping_interval,
            client_timeout: context.timers.client_timeout,
            expires,
        };
        let bytes = Arc::new(relay::SessionBytes::default());
        let info = registry::SessionInfo {
            client_ip: self.peer,
            kind: self.grant.kind,
            target: target.to_string(),
            started: SystemTime::now(),
            view_only,
            clipboard,
        };
        let registered = context.registry.register(
            self.id,
            self.hash,
            self.grant.expires,
            !self.single_use,
            info,
            bytes.clone(),
        );
        let stop = async {
            tokio::select! {
                () = context.shutdown.cancelled() => End::Shutdown,
                stopped = registered.stopped() => match stopped {
                    registry::Stopped::Revoked => End::Revoked,
                    registry::Stopped::Ended(reason) => End::Ended(reason),
                },
            }
        };
        let (to_browser, to_server) = context.metrics.byte_counters();
        let meters = relay::Meters {
            to_browser,
            to_server,
            spliced: context.metrics.spliced_counter(),
            session: bytes,
        };
        let scheme = backend.scheme_name();
        // Plain TCP toward the console server is split so that the relay can splice from it.
        let backend_stream = match backend.stream {
            Either::Left(Either::Left(tcp)) => Either::Left(tcp),
            other => Either::Right(other),
        };
        let halves = relay::splice::halves(backend_stream);
        let outcome = relay::relay(ws, halves, timers, context.splice, filters, meters, stop).await;
        drop(registered);
        let mut closed = Event::now("session_close");
        closed.bytes_to_browser = Some(outcome.bytes_down);
        closed.bytes_to_server = Some(outcome.bytes_up);
        closed.duration_s = Some(started.elapsed().as_secs_f64());
        closed.reason = Some(outcome.end.to_string());
        self.record(context, closed, Some(scheme));
        tracing::info!(
            target = %target,
            scheme,
            bytes_up = outcome.bytes_up,
            bytes_down = outcome.bytes_down,
            duration_ms = started.elapsed().as_millis() as u64,
            reason = %outcome.end,
            "session closed"
        );
    }
}

impl Session {
    /// Writes `event` about this session to the audit trail, when there is one.
    fn record(&self, context: &Context, mut event: Event, scheme: Option<&'static str>) {
        let Some(audit) = &context.audit else {
            return;
        };
        event.client_ip = Some(self.peer);
        event.token_hash = Some(self.hash.short());
        event.console = Some(self.grant.kind.nova_name());
        event.target = Some(self.grant.target.to_string());
        event.scheme = scheme;
        event.instance_uuid.clone_from(&self.grant.instance);
        audit.record(&event);
    }
}

/// Counts a session as open until dropped, however the session ends.
struct OpenSession<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl Drop for OpenSession<'_> {
    fn drop(&mut self) {
        self.metrics.session_closed(self.started.elapsed());
    }
}
