//! The only I/O of the security proxy: the TCP connect, the RFB handshake with the VNC server
//! (with the plain→TLS switch for VeNCrypt), and the None handshake with the browser. Every
//! phase has a deadline.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::either::Either;

use super::handshake::{Handshake, Output, Policy};
use super::{wire, Error};
use crate::config::{AuthScheme, Secret};
use crate::token::Target;

/// No server handshake message is longer than this (a 255-entry subtype list is 1021 bytes).
const MAX_HANDSHAKE_BUFFER: usize = 4096;

/// The connection to a VNC server after the handshake: plain TCP (left; schemes none and vnc)
/// or inside VeNCrypt's TLS (right).
pub type BackendStream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// An authenticated VNC server connection, and any bytes it sent past the handshake.
#[derive(Debug)]
pub struct Backend {
    /// The stream, positioned at ClientInit.
    pub stream: BackendStream,
    /// Bytes already read that belong to the browser.
    pub leftover: Bytes,
    /// The scheme used.
    pub scheme: AuthScheme,
}

/// Connects to VNC servers the way the configuration says.
#[derive(Debug, Clone)]
pub struct Connector {
    /// `[vnc] auth_schemes`, in order.
    pub schemes: Vec<AuthScheme>,
    /// The VeNCrypt client TLS configuration, when `vencrypt` is allowed.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Deadline for the TCP connect.
    pub connect_timeout: Duration,
    /// Deadline for the whole RFB handshake, TLS included.
    pub handshake_timeout: Duration,
}

impl Connector {
    /// Connects to `target` and authenticates as the configuration allows.
    ///
    /// # Errors
    /// Anything in [`Error`]: unreachable, refused, untrusted, timed out.
    pub async fn connect(
        &self,
        target: &Target,
        password: Option<Secret>,
    ) -> Result<Backend, Error> {
        let connect = TcpStream::connect((target.host.as_str(), target.port));
        let tcp = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(Error::Connect(error.to_string())),
            Err(_) => return Err(Error::Connect("timed out".into())),
        };
        let _ = tcp.set_nodelay(true);
        let deadline = Instant::now() + self.handshake_timeout;
        let policy = Policy {
            schemes: self.schemes.clone(),
            password,
        };
        self.handshake(tcp, target, policy, deadline).await
    }

    async fn handshake(
        &self,
        tcp: TcpStream,
        target: &Target,
        policy: Policy,
        deadline: Instant,
    ) -> Result<Backend, Error> {
        let mut handshake = Handshake::new(policy);
        let mut stream: BackendStream = Either::Left(tcp);
        let mut buffer = BytesMut::with_capacity(512);
        let mut tls_started = false;
        loop {
            let (used, output) = handshake.handle(&buffer)?;
            buffer.advance(used);
            match output {
                Output::NeedMore if used > 0 => {}
                Output::NeedMore => {
                    if buffer.len() >= MAX_HANDSHAKE_BUFFER {
                        return Err(Error::Closed(handshake.phase()));
                    }
                    let phase = handshake.phase();
                    let read =
                        tokio::time::timeout_at(deadline, stream.read_buf(&mut buffer)).await;
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
                    let Either::Left(tcp) = stream else {
                        return Err(Error::Tls("TLS requested twice".into()));
                    };
                    let config = self
                        .tls
                        .clone()
                        .ok_or_else(|| Error::Tls("no VeNCrypt TLS configuration".into()))?;
                    let name = server_name(target, &tcp);
                    let connecting = TlsConnector::from(config).connect(name, tcp);
                    let tls = match tokio::time::timeout_at(deadline, connecting).await {
                        Err(_) => return Err(Error::Timeout("the TLS handshake")),
                        Ok(Err(error)) => return Err(tls_error(error)),
                        Ok(Ok(tls)) => tls,
                    };
                    stream = Either::Right(Box::new(tls));
                    tls_started = true;
                }
                Output::Done => {
                    let scheme = handshake.chosen().unwrap_or(AuthScheme::None);
                    return Ok(Backend {
                        stream,
                        leftover: buffer.freeze(),
                        scheme,
                    });
                }
            }
        }
    }
}

/// The name the server certificate is checked against: the token's host, or its address when
/// the host is not a valid name. Only checked with `vencrypt_verify_hostname`.
fn server_name(target: &Target, tcp: &TcpStream) -> rustls_pki_types::ServerName<'static> {
    if let Ok(name) = rustls_pki_types::ServerName::try_from(target.host.clone()) {
        return name;
    }
    let ip = tcp
        .peer_addr()
        .map(|addr| addr.ip())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    rustls_pki_types::ServerName::IpAddress(ip.into())
}

/// Sorts a failed TLS handshake into what the operator needs to know.
fn tls_error(error: io::Error) -> Error {
    use rustls::AlertDescription as Alert;
    let detail = error.to_string();
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_))
        | Some(rustls::Error::NoCertificatesPresented) => Error::UntrustedServer(detail),
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
        _ => Error::Tls(detail),
    }
}

/// Browser bytes read during the handshake beyond what it needed (a pipelined ClientInit).
pub type Pipelined = Bytes;

/// The browser's half, after the proxy sent its version: reads the browser's version and,
/// having offered None alone, its choice.
///
/// # Errors
/// A browser that speaks another version, chooses another type (told so), leaves or stalls.
pub async fn greet_browser<S>(
    ws: &mut WebSocketStream<S>,
    deadline: Instant,
) -> Result<Pipelined, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::new();
    let version = read_message(ws, &mut buffer, deadline, wire::decode_version).await?;
    if version != (wire::Version { major: 3, minor: 8 }) {
        return Err(Error::BrowserVersion(format!(
            "{}.{}",
            version.major, version.minor
        )));
    }
    send(ws, vec![1, wire::security::NONE], deadline).await?;
    let choice = read_message(ws, &mut buffer, deadline, wire::decode_byte).await?;
    if choice != wire::security::NONE {
        let failure = Error::BrowserSecurityType(choice);
        let _ = send(
            ws,
            wire::encode_security_failure(failure.public_reason()),
            deadline,
        )
        .await;
        return Err(failure);
    }
    Ok(buffer.freeze())
}

/// Sends one binary message within the deadline.
///
/// # Errors
/// The browser is gone or the deadline passed.
pub async fn send<S>(
    ws: &mut WebSocketStream<S>,
    bytes: Vec<u8>,
    deadline: Instant,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout_at(deadline, ws.send(Message::binary(bytes))).await {
        Err(_) => Err(Error::BrowserGone("timed out".into())),
        Ok(Err(error)) => Err(Error::BrowserGone(error.to_string())),
        Ok(Ok(())) => Ok(()),
    }
}

async fn read_message<S, T>(
    ws: &mut WebSocketStream<S>,
    buffer: &mut BytesMut,
    deadline: Instant,
    decode: fn(&[u8]) -> wire::Decoded<T>,
) -> Result<T, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let decoded = decode(buffer).map_err(|error| match error {
            Error::BadVersion(text) => Error::BrowserVersion(text),
            other => other,
        })?;
        if let Some((value, used)) = decoded {
            buffer.advance(used);
            return Ok(value);
        }
        if buffer.len() >= MAX_HANDSHAKE_BUFFER {
            return Err(Error::BrowserGone(
                "too much data during the handshake".into(),
            ));
        }
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err(Error::BrowserGone("timed out".into())),
            Ok(None) => return Err(Error::BrowserGone("closed".into())),
            Ok(Some(Err(error))) => return Err(Error::BrowserGone(error.to_string())),
            Ok(Some(Ok(Message::Binary(data)))) => buffer.extend_from_slice(&data),
            Ok(Some(Ok(Message::Close(_)))) => return Err(Error::BrowserGone("closed".into())),
            Ok(Some(Ok(_))) => {}
        }
    }
}
