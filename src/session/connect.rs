//! The greet-and-connect phase of a session: the browser greeted (an RFB console) while the
//! console server is reached and authenticated, at the same time.

use crate::chain::chain;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use super::context::Context;
use super::{browser, Session};
use crate::backend;
use crate::recording::{self, Recorder};
use crate::relay::Browser;
use crate::rfb::wire;
use crate::websocket::code;

impl Session {
    /// Greets the browser (an RFB console) while the console server is reached and
    /// authenticated; a failure is told to the browser before the reason comes back.
    pub(super) async fn connect<R, W>(
        &mut self,
        context: &Context,
        ws: &mut Browser<R, W>,
        deadline: Instant,
        recorder: &mut Option<Recorder>,
    ) -> Result<(bytes::Bytes, backend::Backend), String>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let password = self
            .grant
            .password
            .clone()
            .or_else(|| context.default_password.clone());
        let target = self.grant.target.clone();
        let request = backend::Request {
            kind: self.grant.kind,
            target: &target,
            reach: &self.grant.reach,
            password,
            schemes: self.grant.schemes.clone(),
            tls_port: self.grant.tls_port,
            tls: self.grant.tls,
            addresses: self.addresses.take(),
        };
        // An RFB console: the browser is greeted (None) while the server is authenticated. A
        // console relayed as it is (authd's MKS): the browser speaks to the server itself.
        let rfb = self.grant.kind.is_rfb();
        let greeting = async {
            if rfb {
                browser::greet(ws, deadline).await
            } else {
                Ok(bytes::Bytes::new())
            }
        };
        // Boxed: the connect future (TLS and handshake state, about 9 KiB) would otherwise keep
        // its room inside the session's future, on the heap, for as long as the session lives.
        let connect = Box::pin(context.connector.connect(request));
        // Before a byte reaches the console: a session that must be recorded and cannot be is
        // refused, never run unrecorded.
        let recording = self.start_recording(context);
        let (browser, backend) = tokio::join!(greeting, connect);
        // The request held the grant's ticket, if any: it is not needed any more.
        self.grant.reach = crate::console::Reach::Direct;
        let pipelined = match browser {
            Ok(pipelined) => pipelined,
            Err(error) => {
                let closing = ws.writer.close(code::PROTOCOL, "the RFB handshake failed");
                let _ = tokio::time::timeout(context.timers.handshake_timeout, closing).await;
                return Err(format!("browser handshake failed: {}", chain(&error)));
            }
        };
        match (backend, recording) {
            (Ok(backend), Ok(recording)) => {
                *recorder = recording;
                Ok((pipelined, backend))
            }
            (_, Err(error)) => {
                tell(context, ws, rfb, error.public_reason(), deadline).await;
                Err(format!("refused: {}", chain(&error)))
            }
            (Err(error), Ok(recording)) => {
                *recorder = recording;
                context.metrics.backend_failed(error.metric_reason());
                tell(context, ws, rfb, error.public_reason(), deadline).await;
                Err(format!(
                    "console server handshake failed: {}",
                    chain(&error)
                ))
            }
        }
    }

    /// The session's recorder, when its token or `[vncgate] record` says so. A recording that
    /// cannot start refuses the session when `recording_required`, else the session goes on
    /// unrecorded and the log says so.
    fn start_recording(&self, context: &Context) -> Result<Option<Recorder>, recording::Error> {
        if !context.recording.records(self.grant.record_wanted()) {
            return Ok(None);
        }
        let subject = recording::Subject {
            session: self.id,
            instance: context.instance.clone(),
            token: self.hash.short(),
            kind: self.grant.kind,
            target: self.grant.target.to_string(),
            client: self.peer,
        };
        match Recorder::start(&context.recording, &subject, &context.live_recordings) {
            Ok(recorder) => {
                tracing::info!(file = %recorder.path().display(), "recording");
                Ok(Some(recorder))
            }
            Err(error) if !context.recording.required => {
                tracing::warn!(error = %chain(&error), "recording unavailable; the session goes on unrecorded (recording_required = false)");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

/// Tells the browser why its session ends before it opened: an RFB security failure (noVNC
/// shows its reason), then a close frame with the reason.
async fn tell<R, W>(
    context: &Context,
    ws: &mut Browser<R, W>,
    rfb: bool,
    reason: &'static str,
    deadline: Instant,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if rfb {
        let failure = wire::encode_security_failure(reason);
        let _ = browser::send(&mut ws.writer, failure, deadline).await;
    }
    let closing = ws.writer.close(code::ERROR, reason);
    let _ = tokio::time::timeout(context.timers.handshake_timeout, closing).await;
}
