//! The open phase of a session: SecurityResult OK to the browser of an RFB console, the
//! session's filters, and the bytes either side sent ahead (the console server's past its
//! handshake, the browser's pipelined ClientInit) sent on through them.

use crate::chain::chain;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::browser;
use super::context::Context;
use crate::backend::Backend;
use crate::relay::filter::{Filters, Policy};
use crate::relay::Browser;
use crate::rfb::wire;
use crate::token::Grant;
use crate::websocket::code;

/// Opens the relay's way: the filters the session runs with, or why it ended here.
///
/// # Errors
/// The reason: the browser or the console server went away, or a filter refused what was sent
/// ahead (the browser is told why).
pub(super) async fn start<R, W>(
    context: &Context,
    grant: &Grant,
    policy: Policy,
    ws: &mut Browser<R, W>,
    backend: &mut Backend,
    pipelined: bytes::Bytes,
    deadline: Instant,
) -> Result<Filters, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let rfb = grant.kind.is_rfb();
    // SecurityResult OK as a message of its own: tempest reads exactly these four bytes.
    if rfb {
        browser::send(&mut ws.writer, wire::SECURITY_OK.to_vec(), deadline)
            .await
            .map_err(|error| format!("browser gone: {}", chain(&error)))?;
    }
    // The browser's side of an RFB console goes through the ClientInit filter from its first
    // byte, which may have come with the greeting; the server's side through its filter from
    // the first byte after the handshake. A clipboard text is dropped whole; its length is
    // bounded as a message is.
    let mut filters = Filters::for_console(grant.kind, policy, context.max_message_size);
    if !backend.leftover.is_empty() {
        let leftover = std::mem::take(&mut backend.leftover);
        let leftover = match filters.to_browser.apply(leftover) {
            Ok(leftover) => leftover,
            Err(error) => return Err(refuse(context, ws, error).await),
        };
        browser::send(&mut ws.writer, leftover, deadline)
            .await
            .map_err(|error| format!("browser gone: {}", chain(&error)))?;
    }
    let pipelined = match filters.to_server.apply(pipelined) {
        Ok(pipelined) => pipelined,
        Err(error) => return Err(refuse(context, ws, error).await),
    };
    if !pipelined.is_empty() {
        let written = async {
            backend.stream.write_all(&pipelined).await?;
            backend.stream.flush().await
        };
        written
            .await
            .map_err(|error| format!("console server error: {}", chain(&error)))?;
    }
    Ok(filters)
}

/// Tells the browser why a filter ended the session; the reason for the log.
async fn refuse<R, W>(
    context: &Context,
    ws: &mut Browser<R, W>,
    error: crate::relay::filter::Error,
) -> String
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let closing = ws.writer.close(code::POLICY, error.public_reason());
    let _ = tokio::time::timeout(context.timers.handshake_timeout, closing).await;
    error.to_string()
}
