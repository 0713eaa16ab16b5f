//! One console session: after the upgrade, authenticate to the VNC server and greet the browser
//! at the same time, then relay; one log line when it opens and one when it closes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::SinkExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

use crate::bridge::{self, Timers};
use crate::front::{Connection, Shared};
use crate::rfb::driver::{greet_browser, send};
use crate::rfb::wire;
use crate::token::{Admission, Grant, SessionSlot, TokenHash};

/// A session about to start.
pub(crate) struct Session {
    id: u64,
    grant: Grant,
    hash: TokenHash,
    /// Held for the session's life: it counts under `max_sessions_per_token`.
    _slot: SessionSlot,
}

impl Session {
    pub(crate) fn new(shared: &Shared, admission: Admission, hash: TokenHash) -> Self {
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
        Self {
            id,
            grant: admission.grant,
            hash,
            _slot: admission.slot,
        }
    }

    /// Runs the session to its end.
    pub(crate) async fn run(
        self,
        shared: Arc<Shared>,
        connection: Arc<Connection>,
        on_upgrade: OnUpgrade,
    ) {
        let span = tracing::info_span!("session", id = self.id, peer = %connection.peer);
        self.serve(&shared, on_upgrade).instrument(span).await;
        // The connection (and its slot under max_connections) is held until here.
        drop(connection);
    }

    async fn serve(self, shared: &Shared, on_upgrade: OnUpgrade) {
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
        let io = TokioIo::new(upgraded);
        let mut ws =
            WebSocketStream::from_raw_socket(io, Role::Server, Some(shared.websocket)).await;
        tracing::info!(target = %target, token = %self.hash.short(), "session opened");

        // The browser learns the version at once; the VNC server is authenticated meanwhile.
        let deadline = Instant::now() + limits.handshake_timeout;
        let browser = async {
            send(&mut ws, wire::VERSION_3_8.to_vec(), deadline).await?;
            greet_browser(&mut ws, deadline).await
        };
        let backend = shared.connector.connect(
            &target,
            self.grant
                .password
                .clone()
                .or_else(|| shared.settings.vnc_password.clone()),
        );
        let (browser, backend) = tokio::join!(browser, backend);
        let pipelined = match browser {
            Ok(pipelined) => pipelined,
            Err(error) => {
                tracing::info!(target = %target, %error, "session closed: browser handshake failed");
                let _ = tokio::time::timeout(limits.handshake_timeout, ws.close(None)).await;
                return;
            }
        };
        let mut backend = match backend {
            Ok(backend) => backend,
            Err(error) => {
                tracing::info!(target = %target, %error, "session closed: console server handshake failed");
                let failure = wire::encode_security_failure(error.public_reason());
                let _ = send(&mut ws, failure, deadline).await;
                let _ = tokio::time::timeout(limits.handshake_timeout, ws.close(None)).await;
                return;
            }
        };
        tracing::debug!(
            scheme = backend.scheme.name(),
            "console server authenticated"
        );
        // SecurityResult OK as a message of its own: tempest reads exactly these four bytes.
        if send(&mut ws, wire::SECURITY_OK.to_vec(), deadline)
            .await
            .is_err()
        {
            return;
        }
        if !backend.leftover.is_empty() {
            let leftover = std::mem::take(&mut backend.leftover);
            if ws.send(Message::Binary(leftover)).await.is_err() {
                return;
            }
        }
        if !pipelined.is_empty() {
            let written = async {
                backend.stream.write_all(&pipelined).await?;
                backend.stream.flush().await
            };
            if written.await.is_err() {
                return;
            }
        }

        let expires = if shared.settings.enforce_session_timeout {
            self.grant
                .remaining(SystemTime::now())
                .and_then(|left| Instant::now().checked_add(left))
        } else {
            None
        };
        let timers = Timers {
            ping_interval: limits.ping_interval,
            client_timeout: limits.client_timeout,
            expires,
        };
        let outcome = bridge::relay(ws, backend.stream, timers, &shared.shutdown).await;
        tracing::info!(
            target = %target,
            scheme = backend.scheme.name(),
            bytes_up = outcome.bytes_up,
            bytes_down = outcome.bytes_down,
            duration_ms = started.elapsed().as_millis() as u64,
            reason = %outcome.end,
            "session closed"
        );
    }
}
