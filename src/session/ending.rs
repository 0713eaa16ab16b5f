//! How a session ended: what its one exit ([`super::Session`]'s `finish`) writes.

/// How a session ended.
pub(super) enum Ending {
    /// It never opened: the upgrade, the browser's greeting or the console server's handshake
    /// failed, with the reason.
    Failed(String),
    /// It opened, then closed.
    Closed {
        bytes_up: u64,
        bytes_down: u64,
        reason: String,
    },
}

impl Ending {
    /// A session that opened and ended before its relay began.
    pub(super) fn closed_at_start(reason: String) -> Self {
        Self::Closed {
            bytes_up: 0,
            bytes_down: 0,
            reason,
        }
    }
}
