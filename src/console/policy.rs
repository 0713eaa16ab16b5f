//! Which console kinds can enforce which session policy. No I/O.
//!
//! A policy the proxy cannot enforce on a kind is refused wherever it could be set (the token
//! file line, `token issue`, the admin API) and at admission, so that no session is listed as
//! restricted while it is not:
//! - noVNC (RFB): view-only and every clipboard direction, by framing the messages;
//! - serial: view-only drops every byte from the browser; a serial line has no clipboard
//!   channel (a paste is typing, as noVNC's paste-as-keys is on an RFB console), so every
//!   clipboard value holds by construction;
//! - SPICE: view-only refuses the channels that act on the guest (inputs, record, smartcard,
//!   usbredir, port, webdav) and drops the agent's messages from the browser on the main
//!   channel; the clipboard travels inside those agent messages, which the proxy does not
//!   frame, so only `both` is accepted;
//! - webmks (VMware MKS through authd): relayed as it is, so neither is accepted.

use std::fmt;

use super::clipboard::Clipboard;
use super::types::ConsoleKind;

/// A session policy a console kind cannot enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unenforceable {
    /// View-only on a kind that cannot drop the browser's input.
    ViewOnly(ConsoleKind),
    /// A clipboard direction on a kind whose clipboard the proxy cannot see.
    Clipboard(ConsoleKind, Clipboard),
}

impl fmt::Display for Unenforceable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ViewOnly(kind) => {
                write!(formatter, "view-only cannot be enforced on {kind} consoles")
            }
            Self::Clipboard(kind, clipboard) => write!(
                formatter,
                "clipboard={clipboard} cannot be enforced on {kind} consoles (only both)"
            ),
        }
    }
}

impl std::error::Error for Unenforceable {}

impl ConsoleKind {
    /// Whether this kind can enforce `view_only` and `clipboard`.
    ///
    /// # Errors
    /// The part of the policy it cannot enforce.
    pub fn enforces(self, view_only: bool, clipboard: Clipboard) -> Result<(), Unenforceable> {
        let (view_only_ok, clipboard_ok) = match self {
            Self::Novnc => (true, true),
            Self::Serial => (true, true),
            Self::SpiceHtml5 => (true, clipboard == Clipboard::Both),
            Self::Webmks => (!view_only, clipboard == Clipboard::Both),
        };
        if view_only && !view_only_ok {
            return Err(Unenforceable::ViewOnly(self));
        }
        if !clipboard_ok {
            return Err(Unenforceable::Clipboard(self, clipboard));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_only_what_it_enforces() {
        for clipboard in Clipboard::ALL {
            for view_only in [false, true] {
                assert_eq!(ConsoleKind::Novnc.enforces(view_only, clipboard), Ok(()));
                assert_eq!(ConsoleKind::Serial.enforces(view_only, clipboard), Ok(()));
            }
        }
        assert_eq!(
            ConsoleKind::SpiceHtml5.enforces(true, Clipboard::Both),
            Ok(())
        );
        assert_eq!(
            ConsoleKind::SpiceHtml5.enforces(false, Clipboard::None),
            Err(Unenforceable::Clipboard(
                ConsoleKind::SpiceHtml5,
                Clipboard::None
            ))
        );
        assert_eq!(ConsoleKind::Webmks.enforces(false, Clipboard::Both), Ok(()));
        assert_eq!(
            ConsoleKind::Webmks.enforces(true, Clipboard::Both),
            Err(Unenforceable::ViewOnly(ConsoleKind::Webmks))
        );
        assert!(ConsoleKind::Webmks
            .enforces(false, Clipboard::ToGuest)
            .is_err());
    }
}
