//! Why the console server could not be reached or authenticated.

use super::authd;
use super::policy::NotAllowed;
use crate::console::Thumbprint;
use crate::rfb;

/// A failed backend connection. [`Error::public_reason`] is what the browser may be told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connect failed or timed out.
    #[error("cannot connect to the VNC server: {0}")]
    Connect(String),
    /// The console server's name does not resolve (in time).
    #[error("cannot resolve the console server: {0}")]
    Resolve(String),
    /// The target is not one the proxy may connect to.
    #[error("console server refused by policy: {0}")]
    NotAllowed(#[from] NotAllowed),
    /// The RFB security handshake failed.
    #[error(transparent)]
    Rfb(#[from] rfb::Error),
    /// A WebMKS host presented another certificate than the pinned one.
    #[error(
        "the WebMKS host's certificate does not match the pinned thumbprint: it presented {0}"
    )]
    Thumbprint(Thumbprint),
    /// The WebMKS host answered the ticket's upgrade with an HTTP status (an expired or used
    /// ticket).
    #[error("the WebMKS host refused the ticket with HTTP {0}")]
    TicketRefused(u16),
    /// The WebMKS WebSocket failed otherwise.
    #[error("the WebMKS WebSocket failed: {0}")]
    WebSocket(String),
    /// TLS with the console server failed otherwise (a WebMKS host, a serial or SPICE server).
    #[error("TLS with the console server failed: {0}")]
    Tls(String),
    /// `spice_tls` is on, and the token names no TLS port.
    #[error("spice_tls is on and the token has no tls_port")]
    NoTlsPort,
    /// A step took too long.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// A token whose console kind cannot be reached the way it says.
    #[error("a {0} console cannot be reached this way")]
    Unreachable(crate::console::ConsoleKind),
    /// VMware's authd exchange failed.
    #[error(transparent)]
    Authd(#[from] authd::Error),
}

impl Error {
    /// The `reason` label of `vncgate_backend_failures_total`: connect, timeout, tls, verify,
    /// auth, protocol (or not_allowed).
    pub fn metric_reason(&self) -> &'static str {
        use rfb::Error as Rfb;
        match self {
            Self::Connect(_) | Self::Resolve(_) => "connect",
            Self::NotAllowed(_) => "not_allowed",
            Self::Unreachable(_) => "protocol",
            Self::NoTlsPort => "tls",
            Self::Thumbprint(_) => "verify",
            Self::TicketRefused(_) => "auth",
            Self::WebSocket(_) => "protocol",
            Self::Tls(_) => "tls",
            Self::Timeout(_) => "timeout",
            Self::Authd(error) => match error {
                authd::Error::Thumbprint { .. } | authd::Error::NoSecondThumbprint => "verify",
                authd::Error::Refused { .. } | authd::Error::BadTicket => "auth",
                authd::Error::Timeout(_) => "timeout",
                authd::Error::Tls(..) => "tls",
                _ => "protocol",
            },
            Self::Rfb(error) => match error {
                Rfb::Timeout(_) => "timeout",
                Rfb::Tls(_) | Rfb::DataBeforeTls => "tls",
                Rfb::UntrustedServer(_) | Rfb::ClosedAfterTls => "verify",
                Rfb::AuthFailed(_)
                | Rfb::NoPassword
                | Rfb::NoAllowedScheme { .. }
                | Rfb::VencryptVersion(..)
                | Rfb::VencryptVersionRefused
                | Rfb::NoX509None(_)
                | Rfb::SubtypeRejected => "auth",
                _ => "protocol",
            },
        }
    }

    /// A short text for the browser: what happened, never addresses, paths or the server's own
    /// words.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Connect(_) | Self::Resolve(_) => "cannot reach the console server",
            Self::NotAllowed(_) => "this console server is not allowed",
            Self::Thumbprint(_) | Self::Authd(authd::Error::Thumbprint { .. }) => {
                "the console server's certificate does not match its thumbprint"
            }
            Self::TicketRefused(_) | Self::Authd(authd::Error::Refused { .. }) => {
                "the console ticket was refused or has expired: request a new console"
            }
            Self::WebSocket(_) => "the console server refused the WebSocket",
            Self::Tls(_) => "TLS with the console server failed",
            Self::Timeout(_) | Self::Authd(authd::Error::Timeout(_)) => {
                "the console server did not answer in time"
            }
            Self::Authd(_) => "the console server's authentication failed",
            Self::Unreachable(_) => "this console cannot be reached",
            Self::NoTlsPort => "this console has no TLS port",
            Self::Rfb(error) => error.public_reason(),
        }
    }
}
