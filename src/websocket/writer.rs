//! Frames to the browser: each frame is its header and the payload as it came from the console
//! server, written together with one vectored write, never copied into a second buffer.
//! Progress is kept in the writer, so a write interrupted by the end of the relay is finished
//! before anything else is written.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;

/// The longest header a server writes: no mask, a 64-bit length.
pub const MAX_HEADER: usize = 10;

/// The opcode of a binary frame.
pub const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// The longest close reason that fits a control frame beside its code.
const MAX_REASON: usize = 123;

/// The header of a final, unmasked frame of `opcode` with `len` bytes of payload, into `out`;
/// returns its length.
pub fn header(opcode: u8, len: u64, out: &mut [u8; MAX_HEADER]) -> usize {
    out[0] = 0x80 | opcode;
    if len < 126 {
        out[1] = len as u8;
        2
    } else if let Ok(short) = u16::try_from(len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&short.to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&len.to_be_bytes());
        10
    }
}

/// Writes whole frames to `W`.
pub struct FrameWriter<W> {
    write: W,
    header: [u8; MAX_HEADER],
    header_len: usize,
    header_at: usize,
    payload: Bytes,
    payload_at: usize,
    /// Whether the last frame's bytes still need a flush (TLS records in rustls' buffer).
    unflushed: bool,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer on `write`.
    pub fn new(write: W) -> Self {
        Self {
            write,
            header: [0; MAX_HEADER],
            header_len: 0,
            header_at: 0,
            payload: Bytes::new(),
            payload_at: 0,
            unflushed: false,
        }
    }

    /// The write half back, once [`Self::finish`] has returned.
    pub fn into_inner(self) -> W {
        self.write
    }

    /// The write half, for writes outside frames (the relay's splice path), only between
    /// frames: after [`Self::finish`].
    pub fn get_ref(&self) -> &W {
        &self.write
    }

    /// Writes a binary frame of `payload`.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn binary(&mut self, payload: Bytes) -> io::Result<()> {
        self.frame(BINARY, payload).await
    }

    /// Writes a pong answering a ping's `payload`.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn pong(&mut self, payload: Bytes) -> io::Result<()> {
        self.frame(PONG, payload).await
    }

    /// Writes a close frame with `code` and a reason the browser can show (cut at a character
    /// boundary to fit a control frame).
    ///
    /// # Errors
    /// The connection failed.
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut cut = reason.len().min(MAX_REASON);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut payload = Vec::with_capacity(2 + cut);
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        self.frame(CLOSE, payload.into()).await
    }

    /// Writes a close frame without a code (the reply to one that had none).
    ///
    /// # Errors
    /// The connection failed.
    pub async fn close_empty(&mut self) -> io::Result<()> {
        self.frame(CLOSE, Bytes::new()).await
    }

    /// Writes an empty ping.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn ping(&mut self) -> io::Result<()> {
        self.frame(PING, Bytes::new()).await
    }

    async fn frame(&mut self, opcode: u8, payload: Bytes) -> io::Result<()> {
        self.finish().await?;
        self.header_len = header(opcode, payload.len() as u64, &mut self.header);
        self.header_at = 0;
        self.payload = payload;
        self.payload_at = 0;
        self.finish().await
    }

    /// Finishes the frame in progress, if any, and flushes.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn finish(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_finish(cx)).await
    }

    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let header = &self.header[self.header_at..self.header_len];
            let payload = &self.payload[self.payload_at..];
            if header.is_empty() && payload.is_empty() {
                break;
            }
            self.unflushed = true;
            let slices = [IoSlice::new(header), IoSlice::new(payload)];
            let written = ready!(Pin::new(&mut self.write).poll_write_vectored(cx, &slices))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let from_header = written.min(header.len());
            self.header_at += from_header;
            self.payload_at += written - from_header;
        }
        // Written whole: let the payload's buffer go back to the read side.
        self.payload = Bytes::new();
        self.payload_at = 0;
        if self.unflushed {
            ready!(Pin::new(&mut self.write).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn frames_are_whole_whatever_the_writes_take() {
        // A pipe of 7 bytes: every frame takes several partial writes.
        let (near, mut far) = tokio::io::duplex(7);
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.expect("read");
            all
        });
        let mut writer = FrameWriter::new(near);
        writer
            .binary(Bytes::from_static(b"hello"))
            .await
            .expect("small");
        let big = Bytes::from(vec![7u8; 70_000]);
        writer.binary(big.clone()).await.expect("big");
        writer.ping().await.expect("ping");
        writer.pong(Bytes::new()).await.expect("pong");
        writer.close(1000, "bye").await.expect("close");
        drop(writer.into_inner());
        let all = reader.await.expect("join");
        let mut expected = vec![0x82, 5];
        expected.extend_from_slice(b"hello");
        expected.extend_from_slice(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        expected.extend_from_slice(&big);
        expected.extend_from_slice(&[0x89, 0x00, 0x8a, 0x00, 0x88, 5, 0x03, 0xe8]);
        expected.extend_from_slice(b"bye");
        assert_eq!(all, expected);
    }
}
