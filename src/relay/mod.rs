//! The relay between a browser's WebSocket and a console server's byte stream, both ways at
//! once, through a [`filter::Filter`] per direction, with pings, a browser timeout, session
//! expiry and shutdown.

mod down;
pub mod end;
pub mod filter;
mod meters;
mod pongs;
pub mod splice;
pub mod tap;
mod up;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::websocket::{FrameWriter, Reader};
use down::Down;
pub use end::{End, Owed};
use filter::Filters;
pub use meters::{Meters, SessionBytes};
use pongs::Pongs;
use splice::{Splicer, Tcp};
use tap::Taps;
use up::Up;

/// How long a closing handshake may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a browser that has not answered the close gets to read what was queued for it and
/// to close its side.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The browser's side of a session: its frames in, frames out.
pub struct Browser<R, W> {
    /// The browser's frames.
    pub reader: Reader<R>,
    /// Frames to the browser.
    pub writer: FrameWriter<W>,
}

/// Relays until either side ends, the token expires or `stop` resolves (shutdown, a revoked
/// token) with the reason, then closes both sides cleanly: a close frame to the browser where
/// one is owed, a FIN to the VNC server; a browser that did not answer the close is handed back
/// as a [`Linger`] to run on its own. `splice` lets downstream take the splice path where it
/// can ([`splice`]).
pub async fn relay<R, W, BR, BW>(
    browser: Browser<R, W>,
    backend: (BR, BW),
    timers: Timers,
    splice: bool,
    filters: Filters,
    meters: Meters,
    stop: impl std::future::Future<Output = End>,
) -> (Outcome, Option<Linger<R, W>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Tcp,
    BR: AsyncRead + Unpin + Tcp,
    BW: AsyncWrite + Unpin,
{
    let Browser {
        mut reader,
        mut writer,
    } = browser;
    let (mut backend_rx, mut backend_tx) = backend;
    let mut splicer = Splicer::default();
    let pongs = Pongs::default();
    let mut bytes_up = 0u64;
    let mut bytes_down = 0u64;
    let Filters {
        to_server,
        to_browser,
        taps: Taps {
            to_browser: tap_down,
            to_server: tap_up,
        },
    } = filters;

    let down = Down {
        writer: &mut writer,
        splicer: &mut splicer,
        backend: &mut backend_rx,
        filter: to_browser,
        tap: tap_down,
        held: down::Held::default(),
        meters: &meters,
        pongs: &pongs,
        ping_interval: timers.ping_interval,
        splice,
        bytes: &mut bytes_down,
    }
    .run();

    let up = Up {
        reader: &mut reader,
        backend: &mut backend_tx,
        filter: to_server,
        tap: tap_up,
        meters: &meters,
        pongs: &pongs,
        client_timeout: timers.client_timeout,
        bytes: &mut bytes_up,
    }
    .run();

    let end = tokio::select! {
        end = down => end,
        end = up => end,
        () = expiry(timers.expires) => End::Expired,
        end = stop => end,
    };

    // The console server is told at once; the browser is owed the rest of a frame cut off by
    // the end, then the closing handshake.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, backend_tx.shutdown()).await;
    let linger = close_browser(reader, writer, &mut splicer, end.owed()).await;
    (
        Outcome {
            end,
            bytes_up,
            bytes_down,
        },
        linger,
    )
}

/// Resolves at `at`, or never.
async fn expiry(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Finishes what the browser is owed (a frame cut off by the end, then `owed`), and waits for
/// its reply to our close; a browser that did not answer is handed back to linger.
async fn close_browser<R, W>(
    mut reader: Reader<R>,
    mut writer: FrameWriter<W>,
    splicer: &mut Splicer,
    owed: Owed,
) -> Option<Linger<R, W>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Tcp,
{
    // A slow browser still reading what was queued for it is given DRAIN_TIMEOUT to take it.
    let written = async {
        writer.finish().await?;
        if let Some(to) = writer.get_ref().tcp() {
            splicer.finish(to).await?;
        }
        match &owed {
            Owed::Close(code, reason) => writer.close(*code, reason).await?,
            Owed::Reply(Some(code)) => writer.close(*code, "").await?,
            Owed::Reply(None) => writer.close_empty().await?,
            Owed::Nothing => {}
        }
        Ok::<(), std::io::Error>(())
    };
    let written = matches!(
        tokio::time::timeout(DRAIN_TIMEOUT, written).await,
        Ok(Ok(()))
    );
    // After its own close frame, or once gone, the browser sends nothing more; after ours, its
    // reply makes the close clean on both ends.
    let mut clean = !matches!(owed, Owed::Close(..));
    if written && !clean {
        clean = matches!(
            tokio::time::timeout(CLOSE_TIMEOUT, reader.close_reply()).await,
            Ok(true)
        );
    }
    let mut write = writer.into_inner();
    if clean {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, write.shutdown()).await;
        None
    } else {
        Some(Linger { reader, write })
    }
}

/// The browser's side of a session that ended without a clean close: it may still be reading
/// what was queued for it and sending (pongs, keys). Run on its own, after the session's end
/// is accounted for: its socket is shut down for writing, then read until the browser closes,
/// for a bounded time, so that it is not closed over unread bytes, which resets it and
/// discards what the browser has not read yet, the close frame included.
pub struct Linger<R, W> {
    reader: Reader<R>,
    write: W,
}

impl<R, W> Linger<R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    /// Shuts the socket down for writing and reads until the browser closes (10 s at most).
    pub async fn run(mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.write.shutdown()).await;
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, self.reader.drain()).await;
    }
}

#[cfg(test)]
mod tests;
