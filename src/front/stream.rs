//! The browser's connection: plain TCP or TLS, told apart by the first byte as websockify does.

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

use crate::relay::{splice, Browser};
use crate::websocket::{FrameWriter, Reader};

/// A TLS record of type handshake starts with 22 (RFC 8446 §5.1).
const TLS_HANDSHAKE: u8 = 0x16;

/// What the first byte of a connection says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A TLS ClientHello.
    Tls,
    /// Anything else: plain HTTP, or rubbish that HTTP parsing will refuse.
    Plain,
}

/// Classifies a connection by its first byte.
pub fn sniff(first: u8) -> Sniffed {
    if first == TLS_HANDSHAKE {
        Sniffed::Tls
    } else {
        Sniffed::Plain
    }
}

/// A browser connection: plain TCP (left) or TLS over TCP (right, boxed: the TLS state is
/// large). tokio-util's `Either` does the I/O delegation for the closed set.
pub type FrontStream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// Whether the browser reached us over TLS.
pub fn is_tls(stream: &FrontStream) -> bool {
    matches!(stream, Either::Right(_))
}

/// A browser connection that is not plain TCP: TLS, or one hyper did not give back whole.
pub type NotPlain = Either<Box<TlsStream<TcpStream>>, TokioIo<Upgraded>>;
/// The browser's read half: a TCP socket's, or another stream's.
pub type BrowserRead = Either<OwnedReadHalf, ReadHalf<NotPlain>>;
/// The browser's write half: a TCP socket's (which the relay can splice into), or another's.
pub type BrowserWrite = Either<OwnedWriteHalf, WriteHalf<NotPlain>>;

/// The browser's side of a session on `upgraded`. A plain TCP connection is taken back from
/// hyper as the socket itself, so that the relay can splice into it; bytes hyper read past the
/// request go to the reader first.
pub fn open(upgraded: Upgraded, max_message: usize) -> Browser<BrowserRead, BrowserWrite> {
    let (stream, leftover) = match upgraded.downcast::<TokioIo<FrontStream>>() {
        Ok(parts) => {
            let stream = match parts.io.into_inner() {
                Either::Left(tcp) => Either::Left(tcp),
                Either::Right(tls) => Either::Right(Either::Left(tls)),
            };
            (stream, parts.read_buf)
        }
        Err(upgraded) => (
            Either::Right(Either::Right(TokioIo::new(upgraded))),
            Bytes::new(),
        ),
    };
    let (read, write) = splice::halves(stream);
    Browser {
        reader: Reader::new(read, leftover, max_message),
        writer: FrameWriter::new(write),
    }
}
