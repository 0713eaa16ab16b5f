//! The connection to a console server after its handshake, by what it is: plain TCP (which the
//! relay can splice from), TCP inside VeNCrypt's TLS, or any other transport (a WebMKS
//! WebSocket, authd's TLS in TLS, TLS to a serial or SPICE server).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

/// Any stream a transport opens beyond TCP (a WebMKS WebSocket, authd's TLS in TLS).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The connection to a console server.
pub enum BackendStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TCP inside VeNCrypt's TLS.
    Vencrypt(Box<TlsStream<TcpStream>>),
    /// Any other transport.
    Other(Box<dyn Io>),
}

impl BackendStream {
    /// The TCP socket itself, when the connection is plain TCP.
    ///
    /// # Errors
    /// Any other connection, given back.
    pub fn into_tcp(self) -> Result<TcpStream, Self> {
        match self {
            Self::Tcp(tcp) => Ok(tcp),
            other => Err(other),
        }
    }
}

impl From<Either<TcpStream, Box<TlsStream<TcpStream>>>> for BackendStream {
    fn from(secured: Either<TcpStream, Box<TlsStream<TcpStream>>>) -> Self {
        match secured {
            Either::Left(tcp) => Self::Tcp(tcp),
            Either::Right(tls) => Self::Vencrypt(tls),
        }
    }
}

impl AsyncRead for BackendStream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(tcp) => Pin::new(tcp).poll_read(context, buf),
            Self::Vencrypt(tls) => Pin::new(tls).poll_read(context, buf),
            Self::Other(other) => Pin::new(other).poll_read(context, buf),
        }
    }
}

impl AsyncWrite for BackendStream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(tcp) => Pin::new(tcp).poll_write(context, buf),
            Self::Vencrypt(tls) => Pin::new(tls).poll_write(context, buf),
            Self::Other(other) => Pin::new(other).poll_write(context, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(tcp) => Pin::new(tcp).poll_flush(context),
            Self::Vencrypt(tls) => Pin::new(tls).poll_flush(context),
            Self::Other(other) => Pin::new(other).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(tcp) => Pin::new(tcp).poll_shutdown(context),
            Self::Vencrypt(tls) => Pin::new(tls).poll_shutdown(context),
            Self::Other(other) => Pin::new(other).poll_shutdown(context),
        }
    }
}
