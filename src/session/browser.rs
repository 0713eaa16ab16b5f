//! The browser's half of a session's handshake, over its WebSocket: [`rfb::greeting`]'s state
//! machine driven with a deadline, and single binary messages sent with one.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::rfb::greeting::{Greeted, Greeting};
use crate::rfb::Error;

/// No browser handshake message is longer than this; more is a protocol error.
const MAX_GREETING_BUFFER: usize = 4096;

/// Greets the browser as an RFB 3.8 server offering None alone. Returns what the browser sent
/// past its choice (a pipelined ClientInit), which belongs to the console server.
///
/// # Errors
/// A browser that speaks another version, chooses another type (told so), leaves or stalls.
pub(crate) async fn greet<S>(ws: &mut WebSocketStream<S>, deadline: Instant) -> Result<Bytes, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut greeting, version) = Greeting::start();
    send(ws, version, deadline).await?;
    let mut buffer = BytesMut::new();
    loop {
        let step = match greeting.feed(&mut buffer) {
            Ok(step) => step,
            Err(error) => {
                if let Some(owed) = Greeting::refusal(&error) {
                    let _ = send(ws, owed, deadline).await;
                }
                return Err(error);
            }
        };
        match step {
            Greeted::Done => return Ok(buffer.freeze()),
            Greeted::Send(bytes) => send(ws, bytes, deadline).await?,
            Greeted::NeedMore => {
                if buffer.len() >= MAX_GREETING_BUFFER {
                    let gone = "too much data during the handshake";
                    return Err(Error::BrowserGone(gone.into()));
                }
                receive(ws, &mut buffer, deadline).await?;
            }
        }
    }
}

/// Appends the next binary message's bytes to `buffer`.
async fn receive<S>(
    ws: &mut WebSocketStream<S>,
    buffer: &mut BytesMut,
    deadline: Instant,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err(Error::BrowserGone("timed out".into())),
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => {
                return Err(Error::BrowserGone("closed".into()))
            }
            Ok(Some(Err(error))) => return Err(Error::BrowserGone(error.to_string())),
            Ok(Some(Ok(Message::Binary(data)))) => {
                buffer.extend_from_slice(&data);
                return Ok(());
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Sends one binary message within the deadline.
///
/// # Errors
/// The browser is gone or the deadline passed.
pub(crate) async fn send<S>(
    ws: &mut WebSocketStream<S>,
    bytes: Vec<u8>,
    deadline: Instant,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout_at(deadline, ws.send(Message::binary(bytes))).await {
        Err(_) => Err(Error::BrowserGone("timed out".into())),
        Ok(Err(error)) => Err(Error::BrowserGone(error.to_string())),
        Ok(Ok(())) => Ok(()),
    }
}
