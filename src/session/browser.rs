//! The browser's half of a session's handshake, over its WebSocket: [`rfb::greeting`]'s state
//! machine driven with a deadline, and single binary messages sent with one.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::relay::Browser;
use crate::rfb::greeting::{Greeted, Greeting};
use crate::rfb::Error;
use crate::websocket::{Event, FrameWriter};

/// No browser handshake message is longer than this; more is a protocol error.
const MAX_GREETING_BUFFER: usize = 4096;

/// Greets the browser as an RFB 3.8 server offering None alone. Returns what the browser sent
/// past its choice (a pipelined ClientInit), which belongs to the console server.
///
/// # Errors
/// A browser that speaks another version, chooses another type (told so), leaves or stalls.
pub(crate) async fn greet<R, W>(
    browser: &mut Browser<R, W>,
    deadline: Instant,
) -> Result<Bytes, Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut greeting, version) = Greeting::start();
    send(&mut browser.writer, version, deadline).await?;
    let mut buffer = BytesMut::new();
    loop {
        let step = match greeting.feed(&mut buffer) {
            Ok(step) => step,
            Err(error) => {
                if let Some(owed) = Greeting::refusal(&error) {
                    let _ = send(&mut browser.writer, owed, deadline).await;
                }
                return Err(error);
            }
        };
        match step {
            Greeted::Done => return Ok(buffer.freeze()),
            Greeted::Send(bytes) => send(&mut browser.writer, bytes, deadline).await?,
            Greeted::NeedMore => {
                if buffer.len() >= MAX_GREETING_BUFFER {
                    let gone = "too much data during the handshake";
                    return Err(Error::BrowserGone(gone.into()));
                }
                receive(browser, &mut buffer, deadline).await?;
            }
        }
    }
}

/// Appends the next binary bytes to `buffer`, answering pings meanwhile.
async fn receive<R, W>(
    browser: &mut Browser<R, W>,
    buffer: &mut BytesMut,
    deadline: Instant,
) -> Result<(), Error>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let event = within(deadline, browser.reader.next()).await?;
        match event {
            Event::Binary(data) => {
                buffer.extend_from_slice(&data);
                return Ok(());
            }
            Event::Ping(payload) => within(deadline, browser.writer.pong(payload)).await?,
            Event::Pong => {}
            Event::Close(_) => return Err(Error::BrowserGone("closed".into())),
            Event::Text => return Err(Error::BrowserGone("sent text".into())),
        }
    }
}

/// Sends one binary message within the deadline.
///
/// # Errors
/// The browser is gone or the deadline passed.
pub(crate) async fn send<W>(
    writer: &mut FrameWriter<W>,
    bytes: impl Into<Bytes>,
    deadline: Instant,
) -> Result<(), Error>
where
    W: AsyncWrite + Unpin,
{
    within(deadline, writer.binary(bytes.into())).await
}

/// `step` within the deadline; a failure or the deadline means the browser is gone.
async fn within<T, E: std::fmt::Display>(
    deadline: Instant,
    step: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    match tokio::time::timeout_at(deadline, step).await {
        Err(_) => Err(Error::BrowserGone("timed out".into())),
        Ok(Err(error)) => Err(Error::BrowserGone(error.to_string())),
        Ok(Ok(value)) => Ok(value),
    }
}
