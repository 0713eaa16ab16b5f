//! The browser's frames read from its connection: [`Reader::next`] drives the [`Decoder`].
//!
//! The read buffer exists only while bytes are arriving: when a read would wait and nothing
//! is left over, the buffer is let go, so a quiet session (most of them, most of the time)
//! holds none. Reads start small and double while they fill the buffer, as the relay's do.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncRead;

use super::decoder::{Decoder, Event};
use super::error::Error;

/// The first read of a burst: a key press or a pointer move is a few bytes.
const READ_MIN: usize = 2 * 1024;
/// The largest read: a paste or a file upload comes in large frames.
const READ_MAX: usize = 256 * 1024;

/// Reads [`Event`]s from the browser.
pub struct Reader<R> {
    read: R,
    buf: BytesMut,
    decoder: Decoder,
    size: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader of `read`, whose first bytes may already be in `leftover` (read past the
    /// upgrade request), refusing messages over `max_message` bytes.
    pub fn new(read: R, leftover: Bytes, max_message: usize) -> Self {
        Self {
            read,
            buf: BytesMut::from(&leftover[..]),
            decoder: Decoder::new(max_message),
            size: READ_MIN,
        }
    }

    /// The next event. Cancel-safe: bytes read stay in the reader.
    ///
    /// # Errors
    /// The connection failed or ended ([`Error::Eof`]), or a frame broke the protocol.
    pub async fn next(&mut self) -> Result<Event, Error> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Event, Error>> {
        loop {
            if let Some(event) = self.decoder.decode(&mut self.buf)? {
                return Poll::Ready(Ok(event));
            }
            if self.buf.capacity() - self.buf.len() < READ_MIN {
                self.buf.reserve(self.size);
            }
            let room = self.buf.capacity() - self.buf.len();
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.read), cx, &mut self.buf) {
                Poll::Pending => {
                    if self.buf.is_empty() {
                        // Nothing pending: hold no buffer while the browser is quiet.
                        self.buf = BytesMut::new();
                        self.size = READ_MIN;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error.into())),
                Poll::Ready(Ok(count)) => {
                    if count == 0 {
                        return Poll::Ready(Err(Error::Eof));
                    }
                    if count >= room {
                        self.size = (self.size * 2).min(READ_MAX);
                    }
                }
            }
        }
    }

    /// Reads until the browser's reply to a close frame: `true` for the reply or the end of
    /// its stream, `false` for a protocol error (bytes may still come and be unread).
    pub async fn close_reply(&mut self) -> bool {
        loop {
            match self.next().await {
                Ok(Event::Close(_)) | Err(Error::Eof) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Reads and drops whatever the browser still sends until it closes its side: a socket closed
    /// with unread bytes is reset, and a reset can overtake the close frame written just before.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn drain(&mut self) -> Result<(), Error> {
        use tokio::io::AsyncReadExt;
        self.buf = BytesMut::new();
        // On the heap: an array here would make every session's future larger for its whole life.
        let mut scratch = vec![0u8; 2048];
        while self.read.read(&mut scratch).await? > 0 {}
        Ok(())
    }

    /// The bytes of buffer held now (none while the browser is quiet).
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.buf.capacity()
    }
}
