//! VMware's authd on an ESXi host (port 902), as nova's `webmks` rows need it: the exchange
//! nova-mksproxy did, then the VM's MKS stream, relayed as it is.
//!
//! 1. `220` banner; 2. TLS pinned to the row's thumbprint; 3. `USER ticket` → `331`, `PASS
//! ticket` → `230`; 4. `THUMBPRINT nonce` → `200 SECOND`; 5. `CONNECT cfgFile mks` → `200`;
//! 6. a second TLS inside the first, pinned to SECOND; 7. the nonce; 8. relay.
//!
//! Replies are decoded without I/O ([`reply`]); this file is the I/O, every step under one
//! deadline.

pub mod reply;

use super::tls::{tls_within, Handshake};
use base64::Engine;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

use super::pinned;
use crate::console::{Secret, Thumbprint};
use reply::{Reply, ReplyError};

/// What the exchange was waiting for when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `220`.
    Banner,
    /// TLS with the host.
    Tls,
    /// `331` after `USER`.
    NeedPassword,
    /// `230` after `PASS`.
    LoggedIn,
    /// `200 THUMBPRINT` after `THUMBPRINT`.
    Thumbprint,
    /// `200` after `CONNECT`.
    Connected,
    /// TLS with the VM's MKS service.
    InnerTls,
}

impl Expect {
    fn code(self) -> u16 {
        match self {
            Self::Banner => 220,
            Self::NeedPassword => 331,
            Self::LoggedIn => 230,
            Self::Thumbprint | Self::Connected => 200,
            Self::Tls | Self::InnerTls => 0,
        }
    }
}

/// Why the exchange failed. Never holds the ticket.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host answered another code than the step needs.
    #[error("authd answered {code} ({text}) when {expected:?} was expected")]
    Refused {
        /// The step.
        expected: Expect,
        /// What it answered.
        code: u16,
        /// Its words, made safe for a log.
        text: String,
    },
    /// A reply that is not one.
    #[error("authd sent a malformed reply while {0:?} was expected: {1}")]
    Malformed(Expect, ReplyError),
    /// The connection closed.
    #[error("authd closed the connection while {0:?} was expected")]
    Closed(Expect),
    /// Bytes arrived where TLS had to start.
    #[error("authd sent data before TLS")]
    DataBeforeTls,
    /// The deadline passed.
    #[error("authd did not answer in time ({0:?})")]
    Timeout(Expect),
    /// A certificate that is not the pinned one.
    #[error("{step:?}: {mismatch}")]
    Thumbprint {
        /// Which TLS layer.
        step: Expect,
        /// What was presented.
        mismatch: pinned::Mismatch,
    },
    /// The second thumbprint in the `THUMBPRINT` answer is not one.
    #[error("authd's THUMBPRINT answer holds no thumbprint")]
    NoSecondThumbprint,
    /// Another TLS failure.
    #[error("TLS with authd failed ({0:?})")]
    Tls(Expect, #[source] std::io::Error),
    /// No TLS client configuration could be made for the pinned thumbprint.
    #[error("no TLS client configuration for the pinned thumbprint ({0:?})")]
    PinnedConfig(Expect, #[source] rustls::Error),
    /// A ticket or configuration file name that would break the line protocol.
    #[error("the ticket or configuration file holds a line break or control character")]
    BadTicket,
    /// An I/O error.
    #[error("authd connection failed")]
    Io(#[from] std::io::Error),
}

/// The MKS stream after the exchange: TLS inside TLS.
pub type MksStream = TlsStream<TlsStream<TcpStream>>;

/// What the exchange needs from a `webmks` row.
pub struct Ticket<'a> {
    /// The one-shot ticket.
    pub ticket: &'a Secret,
    /// The VM's configuration file.
    pub cfg_file: &'a str,
    /// The host's certificate.
    pub thumbprint: &'a Thumbprint,
    /// The host, for SNI.
    pub host: &'a str,
}

/// Runs the exchange on `tcp` and returns the VM's MKS stream.
///
/// # Errors
/// Anything in [`Error`].
pub async fn open(
    tcp: TcpStream,
    ticket: Ticket<'_>,
    deadline: Instant,
) -> Result<MksStream, Error> {
    let clean = |text: &str| !text.is_empty() && !text.chars().any(char::is_control);
    if !clean(ticket.ticket.expose()) || !clean(ticket.cfg_file) {
        return Err(Error::BadTicket);
    }
    let mut buffer = BytesMut::with_capacity(256);
    let mut tcp = tcp;
    expect(&mut tcp, &mut buffer, Expect::Banner, deadline).await?;
    if !buffer.is_empty() {
        return Err(Error::DataBeforeTls);
    }
    let name = pinned::server_name(ticket.host);
    let mut outer = tls(
        tcp,
        ticket.thumbprint.clone(),
        name.clone(),
        Expect::Tls,
        deadline,
    )
    .await?;

    let user = format!("USER {}\r\n", ticket.ticket.expose());
    send(&mut outer, user.as_bytes(), Expect::NeedPassword, deadline).await?;
    expect(&mut outer, &mut buffer, Expect::NeedPassword, deadline).await?;
    let pass = format!("PASS {}\r\n", ticket.ticket.expose());
    send(&mut outer, pass.as_bytes(), Expect::LoggedIn, deadline).await?;
    expect(&mut outer, &mut buffer, Expect::LoggedIn, deadline).await?;

    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    let nonce = base64::engine::general_purpose::STANDARD.encode(random);
    let command = format!("THUMBPRINT {nonce}\r\n");
    send(&mut outer, command.as_bytes(), Expect::Thumbprint, deadline).await?;
    let answer = expect(&mut outer, &mut buffer, Expect::Thumbprint, deadline).await?;
    let second = Thumbprint::parse(answer.first_word()).map_err(|_| Error::NoSecondThumbprint)?;

    let connect = format!("CONNECT {} mks\r\n", ticket.cfg_file);
    send(&mut outer, connect.as_bytes(), Expect::Connected, deadline).await?;
    expect(&mut outer, &mut buffer, Expect::Connected, deadline).await?;
    if !buffer.is_empty() {
        return Err(Error::DataBeforeTls);
    }
    let mut inner = tls(outer, second, name, Expect::InnerTls, deadline).await?;
    send(&mut inner, nonce.as_bytes(), Expect::InnerTls, deadline).await?;
    Ok(inner)
}

/// Reads the next reply and checks its code.
async fn expect<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
    step: Expect,
    deadline: Instant,
) -> Result<Reply, Error> {
    loop {
        match reply::decode(buffer) {
            Ok(Some((reply, used))) => {
                let _ = buffer.split_to(used);
                if reply.code != step.code() {
                    return Err(Error::Refused {
                        expected: step,
                        code: reply.code,
                        text: reply.text,
                    });
                }
                return Ok(reply);
            }
            Ok(None) => {}
            Err(error) => return Err(Error::Malformed(step, error)),
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(buffer)).await {
            Err(_) => return Err(Error::Timeout(step)),
            Ok(Ok(0)) => return Err(Error::Closed(step)),
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(Error::Io(error)),
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    step: Expect,
    deadline: Instant,
) -> Result<(), Error> {
    let written = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout_at(deadline, written).await {
        Err(_) => Err(Error::Timeout(step)),
        Ok(result) => Ok(result?),
    }
}

async fn tls<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    pin: Thumbprint,
    name: rustls::pki_types::ServerName<'static>,
    step: Expect,
    deadline: Instant,
) -> Result<TlsStream<S>, Error> {
    let config = pinned::client_config(pin, None).map_err(|e| Error::PinnedConfig(step, e))?;
    match tls_within(config, name, stream, deadline).await {
        Err(Handshake::TimedOut) => Err(Error::Timeout(step)),
        Ok(stream) => Ok(stream),
        Err(Handshake::Failed(error)) => match pinned::mismatch(&error) {
            Some(mismatch) => Err(Error::Thumbprint {
                step,
                mismatch: pinned::Mismatch {
                    presented: mismatch.presented.clone(),
                },
            }),
            None => Err(Error::Tls(step, error)),
        },
    }
}
