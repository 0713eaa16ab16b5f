//! Why the console server could not be reached or authenticated.

use super::authd;
use super::policy::NotAllowed;
use crate::console::Thumbprint;
use crate::rfb;

/// A failed backend connection. [`Error::public_reason`] is what the browser may be told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connect failed or timed out.
    #[error("cannot connect to the console server")]
    Connect(#[source] std::io::Error),
    /// The console server's name does not resolve (in time).
    #[error("cannot resolve the console server {host}")]
    Resolve {
        /// The name looked up.
        host: String,
        /// The resolver's failure, or no address, or no answer in time.
        #[source]
        source: std::io::Error,
    },
    /// The target is not one the proxy may connect to.
    #[error("console server refused by policy")]
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
    /// The WebMKS host answered the upgrade with another status than a 4xx.
    #[error("the WebMKS host answered HTTP {0} instead of an upgrade")]
    NotUpgraded(u16),
    /// The ticket's path does not make a WebSocket request (its text is a secret: not shown).
    #[error("the ticket URL is not a valid request")]
    BadTicketUrl,
    /// The WebMKS WebSocket failed otherwise.
    #[error("the WebMKS WebSocket failed")]
    WebSocket(#[source] tokio_tungstenite::tungstenite::Error),
    /// TLS with the console server failed otherwise (a WebMKS host, a serial or SPICE server).
    #[error("TLS with the console server failed")]
    Tls(#[source] std::io::Error),
    /// A TLS client configuration could not be made for the pinned thumbprint.
    #[error("no TLS client configuration for the pinned thumbprint")]
    PinnedConfig(#[source] rustls::Error),
    /// A console that needs TLS, and no client TLS configuration (no VeNCrypt files).
    #[error("no client TLS configuration: set the [vnc] vencrypt_* files")]
    NoTlsConfig,
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
    #[error("the authd exchange failed")]
    Authd(#[from] authd::Error),
}

impl Error {
    /// The `reason` label of `vncgate_backend_failures_total`: connect, timeout, tls, verify,
    /// auth, protocol (or not_allowed).
    pub fn metric_reason(&self) -> &'static str {
        use rfb::Error as Rfb;
        match self {
            Self::Connect(_) | Self::Resolve { .. } => "connect",
            Self::NotAllowed(_) => "not_allowed",
            Self::Unreachable(_) => "protocol",
            Self::NoTlsPort => "tls",
            Self::Thumbprint(_) => "verify",
            Self::TicketRefused(_) => "auth",
            Self::WebSocket(_) | Self::NotUpgraded(_) | Self::BadTicketUrl => "protocol",
            Self::Tls(_) | Self::PinnedConfig(_) | Self::NoTlsConfig => "tls",
            Self::Timeout(_) => "timeout",
            Self::Authd(error) => match error {
                authd::Error::Thumbprint { .. } | authd::Error::NoSecondThumbprint => "verify",
                authd::Error::Refused { .. } | authd::Error::BadTicket => "auth",
                authd::Error::Timeout(_) => "timeout",
                authd::Error::Tls(..) | authd::Error::PinnedConfig(..) => "tls",
                _ => "protocol",
            },
            Self::Rfb(error) => match error {
                Rfb::Timeout(_) => "timeout",
                Rfb::Tls(_) | Rfb::TlsTwice | Rfb::NoTlsConfig | Rfb::DataBeforeTls => "tls",
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
            Self::Connect(_) | Self::Resolve { .. } => "cannot reach the console server",
            Self::NotAllowed(_) => "this console server is not allowed",
            Self::Thumbprint(_) | Self::Authd(authd::Error::Thumbprint { .. }) => {
                "the console server's certificate does not match its thumbprint"
            }
            Self::TicketRefused(_) | Self::Authd(authd::Error::Refused { .. }) => {
                "the console ticket was refused or has expired: request a new console"
            }
            Self::WebSocket(_) | Self::NotUpgraded(_) | Self::BadTicketUrl => {
                "the console server refused the WebSocket"
            }
            Self::Tls(_) | Self::PinnedConfig(_) | Self::NoTlsConfig => {
                "TLS with the console server failed"
            }
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
