//! Why the console server could not be reached or authenticated.

use crate::rfb;

/// A failed backend connection. [`Error::public_reason`] is what the browser may be told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connect failed or timed out.
    #[error("cannot connect to the VNC server: {0}")]
    Connect(String),
    /// The RFB security handshake failed.
    #[error(transparent)]
    Rfb(#[from] rfb::Error),
}

impl Error {
    /// A short text for the browser: what happened, never addresses, paths or the server's own
    /// words.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Connect(_) => "cannot reach the console server",
            Self::Rfb(error) => error.public_reason(),
        }
    }
}
