//! One console session, after the upgrade, as named phases: greet the browser and connect to
//! the console server at the same time, open (`open.rs`), relay; and one exit that writes the
//! closing log line and audit event whatever phase it ended in.
//!
//! Everything a session needs is in its [`Context`]; it knows nothing of HTTP routing or of
//! the accept loop that started it.

mod browser;
pub mod channels;
mod connect;
mod context;
pub mod directory;
mod ending;
mod live;
mod open;
mod policy;
pub mod recheck;
pub mod registry;

pub use context::{Context, Observers, SessionTimers};

use crate::chain::chain;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tracing::Instrument;

use crate::ops::audit::Event;
use crate::ops::metrics::Metrics;
use crate::recording::{self, Recorder, Written};
use crate::relay::splice::Tcp;
use crate::relay::Browser;
use crate::token::{Grant, Recheck, SessionSlot, TokenHash};

/// A session about to start.
pub struct Session {
    id: u64,
    peer: IpAddr,
    grant: Grant,
    recheck: Recheck,
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
            recheck: admission.recheck,
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
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Tcp + Send + 'static,
    {
        let span = tracing::info_span!("session", id = self.id, peer = %self.peer);
        self.serve(&context, upgrade).instrument(span).await;
        drop(held);
    }

    /// The session's one exit: whatever phase it ended in, one closing log line, one audit
    /// event (`session_close` for a session that opened, `session_failed` for one that never
    /// did) and the metrics.
    async fn serve<R, W>(
        mut self,
        context: &Context,
        upgrade: impl Future<Output = Result<Browser<R, W>, hyper::Error>>,
    ) where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Tcp + Send + 'static,
    {
        let started = Instant::now();
        let mut scheme = None;
        let mut recorder = None;
        let ending = self
            .phases(context, upgrade, &mut scheme, &mut recorder)
            .await;
        // Finished whatever phase the session ended in: the file is whole, then audited.
        let recording = match recorder {
            Some(recorder) => Some(recorder.close().await),
            None => None,
        };
        self.finish(context, started, scheme, ending, recording);
    }

    /// Upgrade → greet and connect → open → relay, each phase ending the session with a
    /// reason when it fails.
    async fn phases<R, W>(
        &mut self,
        context: &Context,
        upgrade: impl Future<Output = Result<Browser<R, W>, hyper::Error>>,
        scheme: &mut Option<&'static str>,
        recorder: &mut Option<Recorder>,
    ) -> ending::Ending
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Tcp + Send + 'static,
    {
        let started = Instant::now();
        let mut ws = match upgrade.await {
            Ok(browser) => browser,
            Err(error) => {
                return ending::Ending::Failed(format!("upgrade failed: {}", chain(&error)))
            }
        };
        let target = self.grant.target.clone();
        tracing::info!(target = %target, token = %self.hash.short(), "session opened");
        let deadline = Instant::now() + context.timers.handshake_timeout;
        let (pipelined, mut backend) =
            match self.connect(context, &mut ws, deadline, recorder).await {
                Ok(connected) => connected,
                Err(reason) => return ending::Ending::Failed(reason),
            };
        *scheme = Some(backend.scheme_name());
        tracing::info!(target = %target, scheme = backend.scheme_name(), "console server authenticated");
        context.metrics.session_opened(started.elapsed());
        self.record(
            context,
            Event::now(crate::ops::audit::Kind::SessionOpen),
            *scheme,
        );
        let _open = OpenSession {
            metrics: &context.metrics,
            started,
        };
        let policy = context.policy(&self.grant);
        let started_open = open::start(
            context,
            &self.grant,
            policy,
            &mut ws,
            &mut backend,
            pipelined,
            deadline,
        );
        let filters = match started_open.await {
            Ok(filters) => filters,
            Err(reason) => return ending::Ending::closed_at_start(reason),
        };

        let mut filters = filters;
        if let Some((to_browser, to_server)) = recorder
            .as_ref()
            .and_then(|recorder| recorder.taps(context.recording.required))
        {
            filters.taps.to_browser = Some(Box::new(to_browser));
            filters.taps.to_server = Some(Box::new(to_server));
        }
        self.relay(context, ws, backend, filters, policy).await
    }
}

impl Session {
    /// The one place a session's end is written: the log line, the audit event.
    fn finish(
        &self,
        context: &Context,
        started: Instant,
        scheme: Option<&'static str>,
        ending: ending::Ending,
        recording: Option<Result<Option<Written>, recording::Error>>,
    ) {
        let target = &self.grant.target;
        let duration = started.elapsed();
        match ending {
            ending::Ending::Failed(reason) => {
                tracing::info!(target = %target, %reason, "session closed before it opened");
                let mut failed = Event::now(crate::ops::audit::Kind::SessionFailed);
                recorded(&mut failed, recording);
                failed.duration_s = Some(duration.as_secs_f64());
                failed.reason = Some(reason);
                self.record(context, failed, scheme);
            }
            ending::Ending::Closed {
                bytes_up,
                bytes_down,
                reason,
            } => {
                tracing::info!(
                    target = %target,
                    scheme,
                    bytes_up,
                    bytes_down,
                    duration_ms = duration.as_millis() as u64,
                    %reason,
                    "session closed"
                );
                let mut closed = Event::now(crate::ops::audit::Kind::SessionClose);
                recorded(&mut closed, recording);
                closed.bytes_to_browser = Some(bytes_down);
                closed.bytes_to_server = Some(bytes_up);
                closed.duration_s = Some(duration.as_secs_f64());
                closed.reason = Some(reason);
                self.record(context, closed, scheme);
            }
        }
    }

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
        if let Some(person) = &self.grant.person {
            event.user = Some(person.sub.clone());
            event.email.clone_from(&person.email);
            event.rule.clone_from(&person.rule);
        }
        audit.record(&event);
    }
}

/// Names a session's recording in its closing event: the file, its size and SHA-256, or why
/// there is none.
fn recorded(event: &mut Event, recording: Option<Result<Option<Written>, recording::Error>>) {
    match recording {
        None => {}
        Some(Ok(Some(written))) => {
            event.recording = Some(written.path.display().to_string());
            event.recording_bytes = Some(written.size);
            event.recording_sha256 = Some(written.sha256);
            event.recording_input = Some(written.input);
        }
        Some(Ok(None)) => {
            event.recording_error = Some("dropped: the disk did not keep up".into());
        }
        Some(Err(error)) => {
            tracing::warn!(error = %chain(&error), "recording not finished");
            event.recording_error = Some(chain(&error).to_string());
        }
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
