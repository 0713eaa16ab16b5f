//! The relay between a browser's WebSocket and a console server's byte stream, both ways at
//! once, through a [`filter::Filter`] per direction, with pings, a browser timeout, session
//! expiry and shutdown.

pub mod filter;
pub mod frames;
pub mod gate;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use filter::Filters;
use frames::FrameWriter;
use gate::{Gate, GateHandle};
use prometheus_client::metrics::counter::Counter;

/// Reads from the VNC server start at this size: a quiet console then costs little memory,
/// which matters with thousands of sessions open.
const READ_MIN: usize = 1024;
/// ... and double while reads fill them, up to this: framebuffer updates come in bursts of
/// hundreds of kilobytes, and each read becomes one WebSocket message.
const READ_MAX: usize = 256 * 1024;

/// The adaptive read size of one session.
#[derive(Debug)]
struct ReadSize(usize);

impl ReadSize {
    /// The next read size after a read of `filled` bytes into a buffer of the current size.
    fn after(&mut self, filled: usize) -> usize {
        if filled >= self.0 {
            self.0 = (self.0 * 2).min(READ_MAX);
        } else if filled < self.0 / 8 {
            self.0 = (self.0 / 2).max(READ_MIN);
        }
        self.0
    }
}

/// How long a closing handshake may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Timers of one relay.
#[derive(Debug, Clone, Copy)]
pub struct Timers {
    /// WebSocket ping period; zero sends none.
    pub ping_interval: Duration,
    /// Longest silence from the browser (pongs count) before the session is closed.
    pub client_timeout: Duration,
    /// When the token expires, if sessions end with it.
    pub expires: Option<Instant>,
}

/// Where a relay counts the bytes it moves, as it moves them.
#[derive(Debug, Clone, Default)]
pub struct Meters {
    /// Console server → browser.
    pub to_browser: Counter,
    /// Browser → console server.
    pub to_server: Counter,
    /// This session's own counts, for the live sessions list.
    pub session: Arc<SessionBytes>,
}

/// One session's byte counts so far.
#[derive(Debug, Default)]
pub struct SessionBytes {
    /// Console server → browser.
    pub down: AtomicU64,
    /// Browser → console server.
    pub up: AtomicU64,
}

/// Why a relay ended.
#[derive(Debug)]
pub enum End {
    /// The VNC server closed its side.
    BackendClosed,
    /// Reading from or writing to the VNC server failed.
    BackendError(std::io::Error),
    /// The browser sent a close frame, or its connection ended.
    BrowserClosed(Option<u16>),
    /// The WebSocket failed (bad frame, reset, oversized message).
    BrowserError(String),
    /// The browser sent a text message; RFB is binary.
    BrowserText,
    /// Nothing heard from the browser within the client timeout.
    BrowserTimeout,
    /// The token expired and `enforce_session_timeout` is on.
    Expired,
    /// The proxy is shutting down.
    Shutdown,
    /// A filter refused a message (a policy, or a message it cannot frame).
    Refused(filter::Error),
    /// The session's token was revoked.
    Revoked,
    /// An operator ended the session (admin API, `vncgate session kill`), with a reason.
    Ended(String),
}

impl End {
    /// The close frame for the browser, if one is owed. The reason is shown to the user, so it
    /// is short and says nothing of the inside.
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Self::BackendClosed => (
                CloseCode::Normal,
                "the console server closed the connection",
            ),
            Self::BackendError(_) => (
                CloseCode::Error,
                "the connection to the console server failed",
            ),
            Self::BrowserClosed(_) | Self::BrowserError(_) => return None,
            Self::BrowserText => (CloseCode::Unsupported, "only binary messages are accepted"),
            Self::BrowserTimeout => (CloseCode::Away, "no response from the browser"),
            Self::Expired => (CloseCode::Normal, "the console session has expired"),
            Self::Shutdown => (CloseCode::Away, "the console proxy is shutting down"),
            Self::Refused(_) => (CloseCode::Policy, "the console proxy refused a message"),
            Self::Revoked => (CloseCode::Policy, "the console access was revoked"),
            Self::Ended(why) => {
                return Some(CloseFrame {
                    code: CloseCode::Policy,
                    reason: format!("the console session was ended by an administrator: {why}")
                        .into(),
                })
            }
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

impl fmt::Display for End {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BackendClosed => formatter.write_str("console server closed"),
            Self::BackendError(error) => write!(formatter, "console server error: {error}"),
            Self::BrowserClosed(Some(code)) => write!(formatter, "browser closed ({code})"),
            Self::BrowserClosed(None) => formatter.write_str("browser closed"),
            Self::BrowserError(error) => write!(formatter, "browser error: {error}"),
            Self::BrowserText => formatter.write_str("browser sent text"),
            Self::BrowserTimeout => formatter.write_str("browser timed out"),
            Self::Expired => formatter.write_str("token expired"),
            Self::Shutdown => formatter.write_str("shutdown"),
            Self::Refused(error) => write!(formatter, "{error}"),
            Self::Revoked => formatter.write_str("token revoked"),
            Self::Ended(why) => write!(formatter, "ended by an administrator: {why}"),
        }
    }
}

/// What a relay did.
#[derive(Debug)]
pub struct Outcome {
    /// Why it ended.
    pub end: End,
    /// Bytes from the browser to the VNC server.
    pub bytes_up: u64,
    /// Bytes from the VNC server to the browser.
    pub bytes_down: u64,
}

/// Relays until either side ends, the token expires or `stop` resolves (shutdown, a revoked
/// token) with the reason, then closes both sides cleanly: a close frame to the browser where
/// one is owed, a FIN to the VNC server. Frames to the browser are written by the relay itself
/// through `gate` ([`gate`]); tungstenite reads the browser's.
pub async fn relay<W, B>(
    ws: WebSocketStream<Gate<W>>,
    gate: GateHandle<W>,
    backend: B,
    timers: Timers,
    filters: Filters,
    meters: Meters,
    stop: impl std::future::Future<Output = End>,
) -> Outcome
where
    W: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let Some(write) = gate.take() else {
        // The session holds the only handle and gave it straight here: unreachable, and
        // still a clean end rather than a panic.
        return Outcome {
            end: End::BrowserError("the browser connection is not writable".into()),
            bytes_up: 0,
            bytes_down: 0,
        };
    };
    let mut writer = FrameWriter::new(write);
    let (ws_tx, mut ws_rx) = ws.split();
    let (mut backend_rx, mut backend_tx) = tokio::io::split(backend);
    let mut bytes_up = 0u64;
    let mut bytes_down = 0u64;
    let Filters {
        mut to_server,
        mut to_browser,
    } = filters;

    let down = async {
        let mut size = ReadSize(READ_MIN);
        let mut buf = BytesMut::with_capacity(READ_MIN);
        // A zero interval means no pings: a year is as good as never and cannot overflow.
        let period = if timers.ping_interval.is_zero() {
            Duration::from_secs(365 * 86_400)
        } else {
            timers.ping_interval
        };
        let mut ping = tokio::time::interval_at(Instant::now() + period, period);
        loop {
            tokio::select! {
                read = backend_rx.read_buf(&mut buf) => match read {
                    Ok(0) => return End::BackendClosed,
                    Ok(count) => {
                        bytes_down += count as u64;
                        meters.to_browser.inc_by(count as u64);
                        meters.session.down.fetch_add(count as u64, Ordering::Relaxed);
                        let data = match to_browser.apply(buf.split().freeze()) {
                            Ok(data) => data,
                            Err(error) => return End::Refused(error),
                        };
                        if !data.is_empty() {
                            if let Err(error) = writer.binary(data).await {
                                return End::BrowserError(error.to_string());
                            }
                        }
                        let next = size.after(count);
                        if buf.capacity() > 2 * next {
                            // Shrunk: let the large allocation go rather than keep it idle.
                            buf = BytesMut::with_capacity(next);
                        } else {
                            buf.reserve(next);
                        }
                    }
                    Err(error) => return End::BackendError(error),
                },
                _ = ping.tick() => {
                    if let Err(error) = writer.ping().await {
                        return End::BrowserError(error.to_string());
                    }
                }
                // A pong or close reply tungstenite wrote: out between two frames.
                () = gate.held_ready() => {
                    if let Some(held) = gate.take_held() {
                        if let Err(error) = writer.raw(held).await {
                            return End::BrowserError(error.to_string());
                        }
                    }
                }
            }
        }
    };

    let up = async {
        loop {
            let next = tokio::time::timeout(timers.client_timeout, ws_rx.next()).await;
            let message = match next {
                Err(_) => return End::BrowserTimeout,
                Ok(None) => return End::BrowserClosed(None),
                Ok(Some(Err(error))) => return End::BrowserError(error.to_string()),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Binary(data) => {
                    bytes_up += data.len() as u64;
                    meters.to_server.inc_by(data.len() as u64);
                    meters
                        .session
                        .up
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let data = match to_server.apply(data) {
                        Ok(data) => data,
                        Err(error) => return End::Refused(error),
                    };
                    // Flushed each time: over VeNCrypt the last TLS record would otherwise wait in
                    // rustls' buffer while both ends wait for each other (a no-op on plain TCP).
                    let written = async {
                        backend_tx.write_all(&data).await?;
                        backend_tx.flush().await
                    };
                    if let Err(error) = written.await {
                        return End::BackendError(error);
                    }
                }
                Message::Close(frame) => return End::BrowserClosed(frame.map(|f| f.code.into())),
                Message::Text(_) => return End::BrowserText,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    };

    let expiry = async {
        match timers.expires {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };

    let end = tokio::select! {
        end = down => end,
        end = up => end,
        () = expiry => End::Expired,
        end = stop => end,
    };

    // A frame cut off by the end is finished, tungstenite's held frames go out, and the write
    // half goes back for the closing handshake.
    let handed_back = async {
        writer.finish().await?;
        if let Some(held) = gate.take_held() {
            writer.raw(held).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handed_back).await;
    gate.restore(writer.into_inner());
    let mut ws = match ws_tx.reunite(ws_rx) {
        Ok(ws) => ws,
        // Both halves came from the same split above; reunite cannot see a stranger.
        Err(_) => {
            return Outcome {
                end,
                bytes_up,
                bytes_down,
            }
        }
    };
    let mut backend = backend_rx.unsplit(backend_tx);
    let closing = async {
        if let Some(frame) = end.close_frame() {
            let _ = ws.close(Some(frame)).await;
            // Wait for the browser's close reply so the close is clean on both ends.
            while let Some(Ok(_)) = ws.next().await {}
        } else {
            let _ = ws.close(None).await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, backend.shutdown()).await;
    Outcome {
        end,
        bytes_up,
        bytes_down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_size_grows_on_full_reads_and_shrinks_when_quiet() {
        let mut size = ReadSize(READ_MIN);
        let mut current = READ_MIN;
        for _ in 0..10 {
            current = size.after(current);
        }
        assert_eq!(current, READ_MAX);
        for _ in 0..10 {
            current = size.after(1);
        }
        assert_eq!(current, READ_MIN);
        assert_eq!(
            size.after(READ_MIN / 2),
            READ_MIN,
            "a half-full read keeps the size"
        );
    }
}
