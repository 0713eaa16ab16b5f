//! Why the console server could not be reached or authenticated.

use super::policy::NotAllowed;
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
}

impl Error {
    /// The `reason` label of `vncgate_backend_failures_total`: connect, timeout, tls, verify,
    /// auth, protocol (or not_allowed).
    pub fn metric_reason(&self) -> &'static str {
        use rfb::Error as Rfb;
        match self {
            Self::Connect(_) | Self::Resolve(_) => "connect",
            Self::NotAllowed(_) => "not_allowed",
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
            Self::Rfb(error) => error.public_reason(),
        }
    }
}
