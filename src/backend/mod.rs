//! The backend seam: given what a token grants, connect to the console server and hand back a
//! byte stream ready to relay. Transports open the stream (one file each: [`tcp`] today); for
//! RFB consoles the security proxy ([`crate::rfb::driver`]) then authenticates on it. A new
//! transport is a new file here and one match arm in [`Connector::connect`].

mod error;
pub mod tcp;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::console::{AuthScheme, ConsoleKind, Secret, Target};
use crate::rfb::driver::{self, Secured, Security};
use crate::rfb::handshake::Policy;
pub use error::Error;

/// The connection to a console server after its handshake: plain TCP (left) or inside
/// VeNCrypt's TLS (right).
pub type BackendStream = Secured<TcpStream>;

/// A console server connection ready to relay.
#[derive(Debug)]
pub struct Backend {
    /// The stream, positioned where the browser takes over (ClientInit for RFB).
    pub stream: BackendStream,
    /// Bytes already read that belong to the browser.
    pub leftover: Bytes,
    /// The scheme used.
    pub scheme: AuthScheme,
}

/// What one connection needs to know about its console.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The kind of console.
    pub kind: ConsoleKind,
    /// Where it is.
    pub target: &'a Target,
    /// The VNC password for the `vnc` scheme, if the grant or the configuration has one.
    pub password: Option<Secret>,
}

/// Connects to console servers the way the configuration says.
#[derive(Debug, Clone)]
pub struct Connector {
    /// `[vnc] auth_schemes`, in order.
    pub schemes: Vec<AuthScheme>,
    /// The VeNCrypt client TLS configuration, when `vencrypt` is allowed.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Deadline for the TCP connect.
    pub connect_timeout: Duration,
    /// Deadline for the whole security handshake, TLS included.
    pub handshake_timeout: Duration,
}

impl Connector {
    /// Connects to the console and authenticates as the configuration allows.
    ///
    /// # Errors
    /// Anything in [`Error`]: unreachable, refused, untrusted, timed out.
    pub async fn connect(&self, request: Request<'_>) -> Result<Backend, Error> {
        let tcp = tcp::connect(request.target, self.connect_timeout).await?;
        match request.kind {
            ConsoleKind::Novnc => {
                let security = Security {
                    server_name: server_name(request.target, &tcp),
                    policy: Policy {
                        schemes: self.schemes.clone(),
                        password: request.password,
                    },
                    tls: self.tls.clone(),
                    deadline: Instant::now() + self.handshake_timeout,
                };
                let authenticated = driver::authenticate(tcp, security).await?;
                Ok(Backend {
                    stream: authenticated.stream,
                    leftover: authenticated.leftover,
                    scheme: authenticated.scheme,
                })
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
        .unwrap_or(Ipv4Addr::LOCALHOST.into());
    rustls_pki_types::ServerName::IpAddress(ip.into())
}
