//! Why a filter ended a session.

use crate::rfb::pixel_format::FormatError;

/// Why a filter ended a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message the filter cannot frame or must not pass, with the reason for the log.
    #[error("message refused: {0}")]
    Refused(String),
    /// A pixel format the server filter could not frame with certainty.
    #[error("pixel format refused: {0}")]
    PixelFormat(FormatError),
    /// A SPICE channel that acts on the guest, opened by a view-only viewer.
    #[error("SPICE channel type {0} refused to a view-only viewer")]
    ViewOnlyChannel(u8),
}

impl Error {
    /// What the browser is told, in its close frame.
    pub fn public_reason(&self) -> &'static str {
        match self {
            Self::Refused(_) => "the console proxy refused a message",
            Self::ViewOnlyChannel(_) => "this console is view-only",
            Self::PixelFormat(_) => {
                "the console proxy cannot filter this pixel format: use 24-bit or 16-bit colour"
            }
        }
    }
}
