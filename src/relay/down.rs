//! The console server → browser direction: each read becomes one binary frame, through the
//! server's filter; between frames, pings and pongs. Sessions with plain TCP on both sides and
//! nothing to filter take the splice path ([`super::splice`]) instead of reading.

use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;

use super::end::End;
use super::filter::Filter;
use super::meters::Meters;
use super::pongs::Pongs;
use super::splice::{Splicer, Tcp};
use super::tap::{Seen, Taking, Tap};
use crate::websocket::FrameWriter;

/// Reads from the VNC server start at this size: a quiet console then costs little memory,
/// which matters with thousands of sessions open.
const READ_MIN: usize = 1024;
/// ... and double while reads fill them, up to this: framebuffer updates come in bursts of
/// hundreds of kilobytes, and each read becomes one WebSocket message.
const READ_MAX: usize = 256 * 1024;

/// Reads of this size or more, where splicing is allowed, go through a pipe instead: a burst.
/// Smaller ones are copied: a small frame costs two system calls copied (a read, one vectored
/// write) and three spliced (into the pipe, the header, out of the pipe), and its copy is cheap.
const SPLICE_FROM: usize = 64 * 1024;

/// The adaptive read size of one session.
#[derive(Debug)]
pub(super) struct ReadSize(pub(super) usize);

impl ReadSize {
    /// The next read size after a read of `filled` bytes into a buffer of the current size.
    pub(super) fn after(&mut self, filled: usize) -> usize {
        if filled >= self.0 {
            self.0 = (self.0 * 2).min(READ_MAX);
        } else if filled < self.0 / 8 {
            self.0 = (self.0 / 2).max(READ_MIN);
        }
        self.0
    }
}

/// The downstream half of a relay, with what it needs from the relay.
pub(super) struct Down<'a, W, R> {
    pub writer: &'a mut FrameWriter<W>,
    pub splicer: &'a mut Splicer,
    pub backend: &'a mut R,
    pub filter: Filter,
    pub tap: Option<Box<dyn Tap>>,
    /// A chunk the tap has not taken yet, and the wait for it.
    pub held: Held,
    pub meters: &'a Meters,
    pub pongs: &'a Pongs,
    pub ping_interval: Duration,
    /// Whether the splice path may be taken.
    pub splice: bool,
    pub bytes: &'a mut u64,
}

/// A chunk the tap has not taken yet, and the wait for it: kept across a ping or a pong that
/// interrupts the wait.
#[derive(Default)]
pub(super) struct Held {
    data: Option<Bytes>,
    waiting: Option<Taking>,
}

impl<W, R> Down<'_, W, R>
where
    W: AsyncWrite + Unpin + Tcp,
    R: AsyncRead + Unpin + Tcp,
{
    /// Runs until the server closes, a write fails or the filter refuses.
    pub(super) async fn run(mut self) -> End {
        // A zero interval means no pings: a year is as good as never and cannot overflow.
        let period = if self.ping_interval.is_zero() {
            Duration::from_secs(365 * 86_400)
        } else {
            self.ping_interval
        };
        let mut ping = tokio::time::interval_at(Instant::now() + period, period);
        let mut splice = self.splice
            && cfg!(target_os = "linux")
            && matches!(self.filter, Filter::Pass)
            && self.tap.is_none()
            && self.backend.tcp().is_some()
            && self.writer.get_ref().tcp().is_some();
        let mut size = ReadSize(READ_MIN);
        let mut buf = BytesMut::new();
        let pongs = self.pongs;
        loop {
            tokio::select! {
                end = self.frame(&mut buf, &mut size, splice) => match end {
                    Some(End::BackendError(error))
                        if splice && error.kind() == ErrorKind::Unsupported =>
                    {
                        tracing::debug!(%error, "splice refused: copying");
                        splice = false;
                    }
                    Some(end) => return end,
                    None => {}
                },
                _ = ping.tick() => {
                    if let Err(error) = self.between_frames().await {
                        return End::BrowserGone(error.to_string());
                    }
                    if let Err(error) = self.writer.ping().await {
                        return End::BrowserGone(error.to_string());
                    }
                }
                () = pongs.ready() => {
                    if let Some(payload) = pongs.take() {
                        if let Err(error) = self.between_frames().await {
                            return End::BrowserGone(error.to_string());
                        }
                        if let Err(error) = self.writer.pong(payload).await {
                            return End::BrowserGone(error.to_string());
                        }
                    }
                }
            }
        }
    }

    /// One frame of the server's bytes; `Some` when the relay ends.
    async fn frame(
        &mut self,
        buf: &mut BytesMut,
        size: &mut ReadSize,
        splice: bool,
    ) -> Option<End> {
        if self.held.data.is_some() {
            return self.release().await;
        }
        if splice && size.0 >= SPLICE_FROM {
            self.spliced(size).await
        } else {
            self.copied(buf, size, splice).await
        }
    }

    fn count(&mut self, count: usize) {
        *self.bytes += count as u64;
        self.meters.to_browser.inc_by(count as u64);
        let session = &self.meters.session.down;
        session.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// One read of the server's bytes, written as a frame; `Some` when the relay ends.
    async fn copied(
        &mut self,
        buf: &mut BytesMut,
        size: &mut ReadSize,
        splice: bool,
    ) -> Option<End> {
        if buf.capacity() == 0 {
            buf.reserve(size.0);
        }
        let count = match self.backend.read_buf(buf).await {
            Ok(0) => return Some(End::BackendClosed),
            Ok(count) => count,
            Err(error) => return Some(End::BackendError(error)),
        };
        self.count(count);
        let data = match self.filter.apply(buf.split().freeze()) {
            Ok(data) => data,
            Err(error) => return Some(End::Refused(error)),
        };
        let next = size.after(count);
        if splice && next >= SPLICE_FROM {
            // A burst: the next reads are spliced and need no buffer.
            *buf = BytesMut::new();
        } else if buf.capacity() > 2 * next {
            // Shrunk: let the large allocation go rather than keep it idle.
            *buf = BytesMut::with_capacity(next);
        } else {
            buf.reserve(next);
        }
        if data.is_empty() {
            return None;
        }
        if let Some(end) = self.hold(data) {
            return Some(end);
        }
        self.release().await
    }

    /// Hands `data` to the tap, and holds it until the tap has taken it.
    fn hold(&mut self, data: Bytes) -> Option<End> {
        match self.tap.as_mut().map(|tap| tap.seen(&data)) {
            Some(Seen::Unrecorded) => return Some(End::Unrecorded),
            Some(Seen::Later(taken)) => self.held.waiting = Some(taken),
            None | Some(Seen::Taken) => {}
        }
        self.held.data = Some(data);
        None
    }

    /// Writes the held chunk once its tap has taken it. Cancel-safe: a wait cut short by a ping
    /// stays in `held` with its chunk, for the next turn of the loop.
    async fn release(&mut self) -> Option<End> {
        if let Some(taken) = self.held.waiting.as_mut() {
            let taken = taken.await;
            self.held.waiting = None;
            if taken.is_err() {
                return Some(End::Unrecorded);
            }
        }
        let data = self.held.data.take()?;
        match self.writer.binary(data).await {
            Ok(()) => None,
            Err(error) => Some(End::BrowserGone(error.to_string())),
        }
    }

    /// One frame of the server's bytes through a pipe; `Some` when the relay ends.
    async fn spliced(&mut self, size: &mut ReadSize) -> Option<End> {
        let not_tcp = || Some(End::BackendError(std::io::Error::other("not a TCP socket")));
        let Some(from) = self.backend.tcp() else {
            return not_tcp();
        };
        let count = match self.splicer.fill(from).await {
            Ok(0) => return Some(End::BackendClosed),
            Ok(count) => count,
            Err(error) => return Some(End::BackendError(error)),
        };
        self.count(count);
        self.meters.spliced.inc_by(count as u64);
        size.after(count);
        let Some(to) = self.writer.get_ref().tcp() else {
            return not_tcp();
        };
        if let Err(error) = self.splicer.finish(to).await {
            return Some(End::BrowserGone(error.to_string()));
        }
        None
    }

    /// Finishes a spliced frame cut off by a ping or a pong, before either is written.
    async fn between_frames(&mut self) -> std::io::Result<()> {
        match self.writer.get_ref().tcp() {
            Some(to) => self.splicer.finish(to).await,
            None => Ok(()),
        }
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
