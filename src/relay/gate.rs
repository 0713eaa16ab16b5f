//! The browser's connection shared between tungstenite and the relay's own frame writer.
//!
//! tungstenite keeps the handshake, the reading of the browser's frames and the closing
//! handshake. The server→browser data path is the relay's: while it runs, [`GateHandle`] holds
//! the write half, and whatever tungstenite writes meanwhile (a pong, a close reply) is held in
//! the gate and written by the relay between two of its own frames, so frames never interleave.
//! Data frames then go out as a header and the payload from the read buffer in one vectored
//! write: tungstenite would copy each message into an output buffer first and keep that
//! buffer at its largest size for the rest of the session.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::Notify;

/// The most tungstenite may have held at once: past it, its writes wait until the relay has
/// written them out. A browser that floods pings without reading gets no more than this buffered
/// for it; tungstenite then stops reading from it, as it would on a full socket.
const MAX_HELD: usize = 64 * 1024;

/// The write side: the browser's write half, unless the relay holds it, and what tungstenite
/// wrote while it did.
struct Shared<IO> {
    write: Mutex<Option<WriteHalf<IO>>>,
    held: Mutex<Held>,
    notify: Notify,
}

/// tungstenite's frames held, and its task waiting for room.
#[derive(Default)]
struct Held {
    bytes: BytesMut,
    waiting: Option<Waker>,
}

impl<IO> Shared<IO> {
    fn write(&self) -> MutexGuard<'_, Option<WriteHalf<IO>>> {
        // A panic while holding this lock leaves a usable half (or none) behind.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The browser's connection as tungstenite sees it.
pub struct Gate<IO> {
    read: ReadHalf<IO>,
    shared: Arc<Shared<IO>>,
}

/// The relay's hold on the write side of a [`Gate`].
pub struct GateHandle<IO> {
    shared: Arc<Shared<IO>>,
}

impl<IO: AsyncRead + AsyncWrite> Gate<IO> {
    /// Splits `io`: the gate for tungstenite, the handle for the relay.
    pub fn new(io: IO) -> (Self, GateHandle<IO>) {
        let (read, write) = tokio::io::split(io);
        let shared = Arc::new(Shared {
            write: Mutex::new(Some(write)),
            held: Mutex::new(Held::default()),
            notify: Notify::new(),
        });
        (
            Self {
                read,
                shared: shared.clone(),
            },
            GateHandle { shared },
        )
    }
}

impl<IO> GateHandle<IO> {
    /// Takes the write half: tungstenite's writes are held from now on.
    pub fn take(&self) -> Option<WriteHalf<IO>> {
        self.shared.write().take()
    }

    /// Gives the write half back; call after writing out [`Self::take_held`].
    pub fn restore(&self, write: WriteHalf<IO>) {
        *self.shared.write() = Some(write);
        if let Some(waiting) = self.shared.held().waiting.take() {
            waiting.wake();
        }
    }

    /// What tungstenite wrote since the last call, if anything.
    pub fn take_held(&self) -> Option<Bytes> {
        let mut held = self.shared.held();
        if let Some(waiting) = held.waiting.take() {
            waiting.wake();
        }
        (!held.bytes.is_empty()).then(|| held.bytes.split().freeze())
    }

    /// Resolves when tungstenite has written something to hold.
    pub async fn held_ready(&self) {
        self.shared.notify.notified().await;
    }
}

impl<IO: AsyncRead> AsyncRead for Gate<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Gate<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut write = self.shared.write();
        match write.as_mut() {
            Some(write) => Pin::new(write).poll_write(cx, buf),
            None => {
                let mut held = self.shared.held();
                if held.bytes.len() >= MAX_HELD {
                    held.waiting = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                let room = (MAX_HELD - held.bytes.len()).min(buf.len());
                held.bytes.extend_from_slice(&buf[..room]);
                self.shared.notify.notify_one();
                Poll::Ready(Ok(room))
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.write().as_mut() {
            Some(write) => Pin::new(write).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.write().as_mut() {
            Some(write) => Pin::new(write).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_are_held_while_the_relay_holds_the_write_half() {
        let (near, mut far) = tokio::io::duplex(1024);
        let (mut gate, handle) = Gate::new(near);
        gate.write_all(b"direct").await.expect("write");
        let mut write = handle.take().expect("write half");
        gate.write_all(b"held").await.expect("held");
        gate.flush().await.expect("flush");
        write.write_all(b"relay").await.expect("relay write");
        assert_eq!(handle.take_held().as_deref(), Some(&b"held"[..]));
        assert_eq!(handle.take_held(), None);
        handle.restore(write);
        gate.write_all(b"again").await.expect("write");
        let mut got = [0u8; 16];
        far.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"directrelayagain");
        far.write_all(b"in").await.expect("far write");
        let mut read = [0u8; 2];
        gate.read_exact(&mut read)
            .await
            .expect("read through the gate");
        assert_eq!(&read, b"in");
    }

    #[tokio::test]
    async fn held_writes_are_bounded_and_wait_for_room() {
        use std::time::Duration;
        let (near, _far) = tokio::io::duplex(1024);
        let (mut gate, handle) = Gate::new(near);
        let _write = handle.take().expect("write half");
        let flood = vec![0u8; MAX_HELD + 10];
        // Past the bound the write waits instead of holding more.
        let stalled =
            tokio::time::timeout(Duration::from_millis(100), gate.write_all(&flood)).await;
        assert!(stalled.is_err(), "the write must wait for room");
        let held = handle.take_held().expect("held");
        assert_eq!(held.len(), MAX_HELD);
        // Room again: the rest goes in.
        gate.write_all(&flood[..10]).await.expect("room");
        assert_eq!(handle.take_held().map(|b| b.len()), Some(10));
    }
}
