//! The backend seam: given what a token grants, connect to the console server and hand back a
//! byte stream ready to relay. Transports open the stream (one file each: [`tcp`] today); for
//! RFB consoles the security proxy ([`crate::rfb::driver`]) then authenticates on it. A new
//! transport is a new file here and one match arm in [`Connector::connect`].

pub mod authd;
mod error;
pub mod pinned;
pub mod policy;
mod stream;
pub mod tcp;
mod tls;
pub mod unix;
pub mod webmks;
pub mod ws_bytes;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::console::{AuthScheme, ConsoleKind, Reach, Secret, Target};
use crate::rfb::driver::{self, Security};
use crate::rfb::handshake::Policy;
pub use error::Error;
use policy::TargetPolicy;
pub use stream::{BackendStream, Io};
use tls::{tls_within, Handshake};

/// A console server connection ready to relay.
pub struct Backend {
    /// The stream, positioned where the browser takes over (ClientInit for RFB).
    pub stream: BackendStream,
    /// Bytes already read that belong to the browser.
    pub leftover: Bytes,
    /// The RFB scheme used; `None` for a console relayed as it is.
    pub scheme: Option<AuthScheme>,
    /// How it was reached.
    pub via: Via,
}

impl Backend {
    /// A VNC server after the proxy's RFB handshake.
    fn rfb<S>(
        authenticated: driver::Authenticated<S>,
        stream: impl FnOnce(driver::Secured<S>) -> BackendStream,
    ) -> Self {
        Self {
            stream: stream(authenticated.stream),
            leftover: authenticated.leftover,
            scheme: Some(authenticated.scheme),
            via: Via::Rfb,
        }
    }

    /// A console relayed as it is, from its first byte.
    fn relayed(stream: BackendStream, via: Via) -> Self {
        Self {
            stream,
            leftover: Bytes::new(),
            scheme: None,
            via,
        }
    }
}

/// How a console server was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Through the RFB security proxy (its scheme says more).
    Rfb,
    /// VMware's authd.
    Authd,
    /// Plain TCP, relayed as it is.
    Tcp,
    /// A Unix socket on this host, relayed as it is.
    Unix,
    /// TLS with the proxy's client certificate, relayed as it is.
    Tls,
}

impl Via {
    /// The name logs and the audit trail use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rfb => "rfb",
            Self::Authd => "authd",
            Self::Tcp => "tcp",
            Self::Unix => "unix",
            Self::Tls => "tls",
        }
    }
}

impl Backend {
    /// The scheme's name for logs and the audit trail.
    pub fn scheme_name(&self) -> &'static str {
        self.scheme.map_or(self.via.name(), AuthScheme::name)
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Backend")
            .field("leftover", &self.leftover.len())
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

/// What one connection needs to know about its console.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The kind of console.
    pub kind: ConsoleKind,
    /// Where it is.
    pub target: &'a Target,
    /// How it is reached beyond its address.
    pub reach: &'a Reach,
    /// The VNC password for the `vnc` scheme, if the grant or the configuration has one.
    pub password: Option<Secret>,
    /// The schemes the token allows, overriding the configuration's.
    pub schemes: Option<Vec<AuthScheme>>,
    /// A SPICE server's TLS port.
    pub tls_port: Option<u16>,
    /// Whether a serial or SPICE console's stream is TLS, when the grant knows; otherwise
    /// `serial_tls` and `spice_tls` decide.
    pub tls: Option<bool>,
    /// The target's addresses as checked before the upgrade, if they were.
    pub addresses: Option<Vec<SocketAddr>>,
}

/// Connects to console servers the way the configuration says.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Allowed targets and the schemes for each.
    pub targets: TargetPolicy,
    /// The VeNCrypt client TLS configuration, when `vencrypt` is allowed or serial or SPICE
    /// consoles use TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// TLS to serial consoles (QEMU's socket chardev with `tls-creds`).
    pub serial_tls: bool,
    /// TLS to SPICE servers, on the token's TLS port.
    pub spice_tls: bool,
    /// The directories whose sockets a token may name (`unix_socket_dirs`); empty: none.
    pub unix_dirs: Vec<std::path::PathBuf>,
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
        if let Some(path) = request.target.unix_path() {
            return self.connect_unix(request, path).await;
        }
        // A SPICE server speaks TLS on a port of its own.
        let spice_tls =
            request.kind == ConsoleKind::SpiceHtml5 && request.tls.unwrap_or(self.spice_tls);
        let serial_tls =
            request.kind == ConsoleKind::Serial && request.tls.unwrap_or(self.serial_tls);
        let target = match (spice_tls, request.tls_port) {
            (false, _) => request.target.clone(),
            (true, Some(port)) => Target {
                host: request.target.host.clone(),
                port,
            },
            (true, None) => return Err(Error::NoTlsPort),
        };
        let tcp = self.dial(&request, &target).await?;
        let deadline = Instant::now() + self.handshake_timeout;
        let policy = Policy {
            schemes: self
                .targets
                .schemes_for(request.schemes.as_deref(), tcp.1.ip()),
            password: request.password,
        };
        let tcp = tcp.0;
        let security = |server_name| Security {
            server_name,
            policy,
            tls: self.tls.clone(),
            deadline,
        };
        match (request.kind, request.reach) {
            (ConsoleKind::Novnc, Reach::Direct) => {
                let security = security(server_name(request.target, &tcp));
                let authenticated = driver::authenticate(tcp, security).await?;
                Ok(Backend::rfb(authenticated, BackendStream::from))
            }
            (ConsoleKind::Novnc, Reach::WebMks { path, thumbprint }) => {
                let ws = webmks::open(tcp, request.target, path, thumbprint, deadline).await?;
                // ESXi offers None inside the pinned TLS; the scheme policy still decides.
                let security = security(pinned::server_name(&request.target.host));
                let authenticated = driver::authenticate(ws, security).await?;
                Ok(Backend::rfb(authenticated, |stream| {
                    BackendStream::Other(Box::new(stream))
                }))
            }
            (
                ConsoleKind::Webmks,
                Reach::Authd {
                    ticket,
                    cfg_file,
                    thumbprint,
                },
            ) => {
                let ticket = authd::Ticket {
                    ticket,
                    cfg_file,
                    thumbprint,
                    host: &request.target.host,
                };
                let mks = authd::open(tcp, ticket, deadline).await?;
                Ok(Backend::relayed(
                    BackendStream::Other(Box::new(mks)),
                    Via::Authd,
                ))
            }
            (ConsoleKind::Serial, Reach::Direct) if serial_tls => {
                self.relayed_over_tls(tcp, &target, deadline).await
            }
            (ConsoleKind::SpiceHtml5, Reach::Direct) if spice_tls => {
                self.relayed_over_tls(tcp, &target, deadline).await
            }
            (ConsoleKind::Serial | ConsoleKind::SpiceHtml5, Reach::Direct) => {
                Ok(Backend::relayed(BackendStream::Tcp(tcp), Via::Tcp))
            }
            (kind, _) => Err(Error::Unreachable(kind)),
        }
    }
}

impl Connector {
    /// A console behind a Unix socket on this host, confined to `unix_socket_dirs` again now
    /// that it is reached (a link may have changed since the upgrade was admitted). VNC goes
    /// through the RFB security proxy with the schemes of a loopback address; serial and SPICE
    /// are relayed as they are (SPICE's TLS port is TCP only).
    async fn connect_unix(
        &self,
        request: Request<'_>,
        path: &std::path::Path,
    ) -> Result<Backend, Error> {
        let resolved = unix::confine(path, &self.unix_dirs)
            .map_err(policy::NotAllowed::Socket)?
            .map_err(Error::Connect)?;
        let stream = unix::connect(&resolved, self.connect_timeout)
            .await
            .map_err(Error::Connect)?;
        let deadline = Instant::now() + self.handshake_timeout;
        match (request.kind, request.reach) {
            (ConsoleKind::Novnc, Reach::Direct) => {
                let security = Security {
                    server_name: rustls_pki_types::ServerName::IpAddress(
                        std::net::IpAddr::from(Ipv4Addr::LOCALHOST).into(),
                    ),
                    policy: Policy {
                        schemes: self
                            .targets
                            .schemes_for(request.schemes.as_deref(), Ipv4Addr::LOCALHOST.into()),
                        password: request.password,
                    },
                    tls: self.tls.clone(),
                    deadline,
                };
                let authenticated = driver::authenticate(stream, security).await?;
                Ok(Backend::rfb(authenticated, |secured| {
                    BackendStream::Other(Box::new(secured))
                }))
            }
            (ConsoleKind::Serial, Reach::Direct) if !request.tls.unwrap_or(self.serial_tls) => Ok(
                Backend::relayed(BackendStream::Other(Box::new(stream)), Via::Unix),
            ),
            (ConsoleKind::SpiceHtml5, Reach::Direct) if !request.tls.unwrap_or(self.spice_tls) => {
                Ok(Backend::relayed(
                    BackendStream::Other(Box::new(stream)),
                    Via::Unix,
                ))
            }
            (kind, _) => Err(Error::Unreachable(kind)),
        }
    }

    /// The TCP connection to `target` (to the addresses checked before the upgrade, if any),
    /// with the address reached checked again: a target resolved only now.
    async fn dial(
        &self,
        request: &Request<'_>,
        target: &Target,
    ) -> Result<(TcpStream, SocketAddr), Error> {
        let addresses: Option<Vec<SocketAddr>> = request.addresses.as_ref().map(|addresses| {
            addresses
                .iter()
                .map(|address| SocketAddr::new(address.ip(), target.port))
                .collect()
        });
        let tcp = tcp::connect(target, addresses.as_deref(), self.connect_timeout).await?;
        let peer = tcp.peer_addr().map_err(Error::Connect)?;
        self.targets.check(peer)?;
        Ok((tcp, peer))
    }

    /// A console relayed as it is inside TLS with the proxy's client certificate, the server
    /// checked against the VeNCrypt CA files (a QEMU serial chardev with `tls-creds`, a SPICE
    /// `tls-port`).
    async fn relayed_over_tls(
        &self,
        tcp: TcpStream,
        target: &Target,
        deadline: Instant,
    ) -> Result<Backend, Error> {
        let config = self.tls.clone().ok_or(Error::NoTlsConfig)?;
        let name = server_name(target, &tcp);
        let tls = match tls_within(config, name, tcp, deadline).await {
            Err(Handshake::TimedOut) => {
                return Err(Error::Timeout("the TLS handshake with the console server"))
            }
            Err(Handshake::Failed(error)) => return Err(Error::Tls(error)),
            Ok(tls) => tls,
        };
        Ok(Backend::relayed(
            BackendStream::Other(Box::new(tls)),
            Via::Tls,
        ))
    }

    /// Checks a target before the upgrade, so that a refused one gets 403: resolves it when
    /// the policy restricts addresses and returns the addresses to connect to, all allowed.
    ///
    /// # Errors
    /// [`Error::NotAllowed`] for an address outside the policy; [`Error::Resolve`] for a name
    /// that cannot be checked.
    pub async fn check_target(&self, target: &Target) -> Result<Option<Vec<SocketAddr>>, Error> {
        if let Some(path) = target.unix_path() {
            // A socket that is not there (the VM is not running) is a connection failure, told
            // when it is reached.
            let _resolved =
                unix::confine(path, &self.unix_dirs).map_err(policy::NotAllowed::Socket)?;
            return Ok(None);
        }
        if !self.targets.restricts() {
            if let Ok(ip) = target.host.parse::<std::net::IpAddr>() {
                self.targets.check(SocketAddr::new(ip, target.port))?;
            }
            return Ok(None);
        }
        let addresses = tcp::resolve(target, self.connect_timeout).await?;
        for address in &addresses {
            self.targets.check(*address)?;
        }
        Ok(Some(addresses))
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
