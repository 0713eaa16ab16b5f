//! The browser's connection: plain TCP or TLS, told apart by the first byte as websockify does.

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

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
