//! One console session: after the upgrade, connect to the VNC server within a deadline, relay,
//! and log one line when it opens and one when it closes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

use crate::bridge::{self, Timers};
use crate::front::{Connection, Shared};
use crate::token::{Grant, TokenHash};

/// A session about to start.
pub(crate) struct Session {
    id: u64,
    grant: Grant,
    hash: TokenHash,
}

impl Session {
    pub(crate) fn new(
        shared: &Shared,
        _connection: &Connection,
        grant: Grant,
        hash: TokenHash,
    ) -> Self {
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
        Self { id, grant, hash }
    }

    /// Runs the session to its end.
    pub(crate) async fn run(
        self,
        shared: Arc<Shared>,
        connection: Arc<Connection>,
        on_upgrade: OnUpgrade,
    ) {
        let span = tracing::info_span!("session", id = self.id, peer = %connection.peer);
        self.relay(shared, on_upgrade).instrument(span).await;
        drop(connection);
    }

    async fn relay(self, shared: Arc<Shared>, on_upgrade: OnUpgrade) {
        let started = Instant::now();
        let target = self.grant.target.clone();
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::info!(%error, "upgrade failed");
                return;
            }
        };
        let limits = &shared.settings.limits;
        let mut ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(shared.websocket),
        )
        .await;
        tracing::info!(target = %target, token = %self.hash.short(), "session opened");

        let connect = TcpStream::connect((target.host.as_str(), target.port));
        let backend = match tokio::time::timeout(limits.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            outcome => {
                let reason = match outcome {
                    Ok(Err(error)) => error.to_string(),
                    _ => "connect timed out".to_owned(),
                };
                tracing::info!(target = %target, %reason, "session closed: console server unreachable");
                let frame = CloseFrame {
                    code: CloseCode::Error,
                    reason: "cannot reach the console server".into(),
                };
                let _ = tokio::time::timeout(limits.handshake_timeout, ws.close(Some(frame))).await;
                return;
            }
        };
        let _ = backend.set_nodelay(true);

        let expires = if shared.settings.enforce_session_timeout {
            self.grant
                .remaining(SystemTime::now())
                .map(|left| Instant::now() + left)
        } else {
            None
        };
        let timers = Timers {
            ping_interval: limits.ping_interval,
            client_timeout: limits.client_timeout,
            expires,
        };
        let outcome = bridge::relay(ws, backend, timers, &shared.shutdown).await;
        tracing::info!(
            target = %target,
            bytes_up = outcome.bytes_up,
            bytes_down = outcome.bytes_down,
            duration_ms = started.elapsed().as_millis() as u64,
            reason = %outcome.end,
            "session closed"
        );
    }
}
