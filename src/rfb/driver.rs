//! The only I/O of the security proxy: the RFB handshake with the VNC server over any byte
//! stream the backend transport opened, with the plain→TLS switch for VeNCrypt. One deadline
//! covers the whole handshake, TLS included.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use super::error::Error;
use super::handshake::{Handshake, Output, Policy};
use crate::console::AuthScheme;

/// No server handshake message is longer than this (a 255-entry subtype list is 1021 bytes).
const MAX_HANDSHAKE_BUFFER: usize = 4096;

/// A stream after the handshake: as it was (left; schemes none and vnc) or inside VeNCrypt's
/// TLS (right, boxed: the TLS state is large).
pub type Secured<S> = Either<S, Box<TlsStream<S>>>;

/// How to authenticate to one VNC server.
#[derive(Debug, Clone)]
pub struct Security {
    /// The schemes allowed, in order, and the password for `vnc`.
    pub policy: Policy,
    /// The VeNCrypt client TLS configuration, when `vencrypt` is allowed.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The name the server certificate is checked against (with hostname checks on).
    pub server_name: rustls_pki_types::ServerName<'static>,
    /// When the whole handshake must be over.
    pub deadline: Instant,
}

/// An authenticated VNC server connection, and any bytes it sent past the handshake.
#[derive(Debug)]
pub struct Authenticated<S> {
    /// The stream, positioned at ClientInit.
    pub stream: Secured<S>,
    /// Bytes already read that belong to the browser.
    pub leftover: Bytes,
    /// The scheme used.
    pub scheme: AuthScheme,
}

/// Runs the proxy's client handshake on `stream` until the server accepts it.
///
/// # Errors
/// Anything in [`Error`]: refused, untrusted, timed out, closed.
pub async fn authenticate<S>(stream: S, security: Security) -> Result<Authenticated<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Security {
        policy,
        tls,
        server_name,
        deadline,
    } = security;
    let mut handshake = Handshake::new(policy);
    let mut stream: Secured<S> = Either::Left(stream);
    let mut buffer = BytesMut::with_capacity(512);
    let mut tls_started = false;
    loop {
        match handshake.feed(&mut buffer)? {
            Output::NeedMore => {
                if buffer.len() >= MAX_HANDSHAKE_BUFFER {
                    return Err(Error::Closed(handshake.phase()));
                }
                let phase = handshake.phase();
                let read = tokio::time::timeout_at(deadline, stream.read_buf(&mut buffer)).await;
                match read {
                    Err(_) => return Err(Error::Timeout(phase)),
                    Ok(Err(error)) if tls_started && handshake.awaiting_result() => {
                        tracing::debug!(%error, "read after VeNCrypt TLS failed");
                        return Err(Error::ClosedAfterTls);
                    }
                    Ok(Err(error)) => return Err(Error::Io(error)),
                    Ok(Ok(0)) if tls_started && handshake.awaiting_result() => {
                        return Err(Error::ClosedAfterTls)
                    }
                    Ok(Ok(0)) => return Err(Error::Closed(phase)),
                    Ok(Ok(_)) => {}
                }
            }
            Output::Send(bytes) => {
                let phase = handshake.phase();
                let written = async {
                    stream.write_all(&bytes).await?;
                    stream.flush().await
                };
                match tokio::time::timeout_at(deadline, written).await {
                    Err(_) => return Err(Error::Timeout(phase)),
                    Ok(result) => result?,
                }
            }
            Output::StartTls => {
                if !buffer.is_empty() {
                    return Err(Error::DataBeforeTls);
                }
                let Either::Left(plain) = stream else {
                    return Err(Error::TlsTwice);
                };
                let config = tls.clone().ok_or(Error::NoTlsConfig)?;
                let connecting = TlsConnector::from(config).connect(server_name.clone(), plain);
                let secured = match tokio::time::timeout_at(deadline, connecting).await {
                    Err(_) => return Err(Error::Timeout("the TLS handshake")),
                    Ok(Err(error)) => return Err(tls_error(error)),
                    Ok(Ok(secured)) => secured,
                };
                stream = Either::Right(Box::new(secured));
                tls_started = true;
            }
            Output::Done(scheme) => {
                return Ok(Authenticated {
                    stream,
                    leftover: buffer.freeze(),
                    scheme,
                });
            }
        }
    }
}

/// Sorts a failed TLS handshake into what the operator needs to know.
fn tls_error(error: io::Error) -> Error {
    use rustls::AlertDescription as Alert;
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_))
        | Some(rustls::Error::NoCertificatesPresented) => Error::UntrustedServer(error),
        Some(rustls::Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::CertificateRequired
            | Alert::AccessDenied
            | Alert::UnsupportedCertificate
            | Alert::DecryptError,
        )) => Error::ClosedAfterTls,
        _ if error.kind() == io::ErrorKind::UnexpectedEof => Error::ClosedAfterTls,
        _ => Error::Tls(error),
    }
}
