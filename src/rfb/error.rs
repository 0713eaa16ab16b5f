//! Why the security handshake failed, split by fault: the VNC server's, the browser's, or the
//! proxy's configuration. [`Error::public_reason`] is what the browser may be told.

use super::security;
use crate::console::AuthScheme;

/// Why a console session could not be set up. Peer faults and refusals are split from ours;
/// [`Error::public_reason`] is what the browser may be told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A phase ran past its deadline.
    #[error("the VNC server did not answer in time during {0}")]
    Timeout(&'static str),
    /// The server closed the connection mid-handshake.
    #[error("the VNC server closed the connection during {0}")]
    Closed(&'static str),
    /// The server closed right after VeNCrypt's TLS handshake: QEMU's way of refusing a client
    /// certificate under TLS 1.3 (no alert, no SecurityResult).
    #[error("the VNC server closed the connection after TLS: it probably refused the proxy's client certificate (see the VNC server's log)")]
    ClosedAfterTls,
    /// Reading or writing failed.
    #[error("I/O error with the VNC server")]
    Io(#[from] std::io::Error),
    /// Not a ProtocolVersion message at all.
    #[error("the VNC server sent {0:?} instead of an RFB version")]
    BadVersion(String),
    /// A version other than 3.8.
    #[error("the VNC server speaks RFB {0}.{1}; only 3.8 is supported")]
    UnsupportedVersion(u16, u16),
    /// The server offered no security types, with its reason.
    #[error("the VNC server refused the connection: {}", .0.as_deref().unwrap_or("(reason too long, not read)"))]
    ServerRefused(Option<String>),
    /// None of the configured schemes is offered. With only None offered while `none` is not
    /// allowed, this is the downgrade `auth_schemes` exists to stop.
    #[error(
        "the VNC server offers security types {offered:?}; allowed are {}{}",
        names(allowed),
        downgrade_note(offered)
    )]
    NoAllowedScheme {
        /// What the server offered.
        offered: Vec<u8>,
        /// What the configuration allows.
        allowed: Vec<AuthScheme>,
    },
    /// The `vnc` scheme was chosen but the token grants no password.
    #[error("the VNC server wants a VNC password and none is configured for this target")]
    NoPassword,
    /// VeNCrypt older than 0.2.
    #[error("the VNC server offers VeNCrypt {0}.{1}; 0.2 is required")]
    VencryptVersion(u8, u8),
    /// The server did not accept VeNCrypt 0.2.
    #[error("the VNC server did not accept VeNCrypt 0.2")]
    VencryptVersionRefused,
    /// X509None (260) not offered.
    #[error("the VNC server does not offer VeNCrypt X509None (260); it offers {0:?}")]
    NoX509None(Vec<u32>),
    /// The server answered 0 to the X509None choice.
    #[error("the VNC server rejected VeNCrypt X509None")]
    SubtypeRejected,
    /// The server sent bytes in the clear after TLS was agreed.
    #[error("the VNC server sent data before the TLS handshake")]
    DataBeforeTls,
    /// The TLS handshake failed.
    #[error("TLS with the VNC server failed")]
    Tls(#[source] std::io::Error),
    /// The security handshake asked for TLS a second time.
    #[error("the VNC server's security handshake asked for TLS twice")]
    TlsTwice,
    /// VeNCrypt was chosen and the proxy has no client TLS configuration.
    #[error("no VeNCrypt TLS configuration: set the [vnc] vencrypt_* files")]
    NoTlsConfig,
    /// The server's certificate did not verify.
    #[error("the VNC server's certificate is not trusted")]
    UntrustedServer(#[source] std::io::Error),
    /// SecurityResult failed.
    #[error("the VNC server refused authentication: {}", .0.as_deref().unwrap_or("(no reason, or too long to read)"))]
    AuthFailed(Option<String>),
    /// SecurityResult with a status that means nothing.
    #[error("the VNC server sent security result {0}")]
    BadSecurityResult(u32),
    /// The browser's version was not 3.8.
    #[error("the browser sent {0:?} instead of RFB 003.008")]
    BrowserVersion(String),
    /// The browser chose a security type other than None.
    #[error("the browser chose security type {0}; only 1 (None) is offered")]
    BrowserSecurityType(u8),
    /// The browser went away or broke the WebSocket mid-handshake.
    #[error("the browser left during the handshake: {0}")]
    BrowserGone(String),
}

fn names(schemes: &[AuthScheme]) -> String {
    schemes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn downgrade_note(offered: &[u8]) -> &'static str {
    if offered == [security::NONE] {
        " (the server offers no security at all: downgrade refused)"
    } else {
        ""
    }
}

impl Error {
    /// A short text for the browser (noVNC shows it): what happened, never paths, certificate
    /// contents or the server's own words.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "the console server did not answer in time",
            Self::Closed(_) | Self::Io(_) => "the console server closed the connection",
            Self::ClosedAfterTls => "the console server refused the proxy's certificate",
            Self::BadVersion(_) | Self::UnsupportedVersion(..) | Self::BadSecurityResult(_) => {
                "the console server speaks an unsupported protocol"
            }
            Self::ServerRefused(_) => "the console server refused the connection",
            Self::NoAllowedScheme { .. }
            | Self::VencryptVersion(..)
            | Self::VencryptVersionRefused
            | Self::NoX509None(_)
            | Self::SubtypeRejected => "the console server offers no allowed security type",
            Self::NoPassword => "the console proxy has no password for this console server",
            Self::DataBeforeTls | Self::Tls(_) | Self::TlsTwice | Self::NoTlsConfig => {
                "TLS with the console server failed"
            }
            Self::UntrustedServer(_) => "the console server's certificate is not trusted",
            Self::AuthFailed(_) => "the console server refused the proxy's credentials",
            Self::BrowserVersion(_) | Self::BrowserGone(_) => "protocol error",
            Self::BrowserSecurityType(_) => "Only the security type 1 (NONE) is supported",
        }
    }
}
