//! Per-direction message filters for the relay: sans-IO parsers that may pass, drop or rewrite
//! whole protocol messages between the browser and the console server. No I/O.
//!
//! A closed set, so an enum: [`Filter::Pass`] relays bytes as they come, at no cost. A policy
//! that needs to see messages (view-only, clipboard direction) adds a variant whose parser
//! holds back a partial message until the rest arrives.

use bytes::Bytes;

/// Why a filter ended a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message the filter cannot frame or must not pass, with the reason for the log.
    #[error("message refused: {0}")]
    Refused(String),
}

/// One direction's filter.
#[derive(Debug, Default)]
pub enum Filter {
    /// Everything passes unchanged.
    #[default]
    Pass,
    /// The browser's first RFB byte, ClientInit's shared flag, goes on as 1 whatever it was;
    /// everything after passes unchanged. With shared = 0, QEMU (its default share policy) and
    /// most VNC servers disconnect every other viewer of the console: one browser must not
    /// knock off the others.
    SharedClientInit {
        /// Whether ClientInit went by.
        done: bool,
    },
}

impl Filter {
    /// Takes the next bytes of the direction and returns what goes on now; what it holds back
    /// comes out with a later call.
    ///
    /// # Errors
    /// A message the filter refuses; the session ends.
    pub fn apply(&mut self, chunk: Bytes) -> Result<Bytes, Error> {
        match self {
            Self::Pass => Ok(chunk),
            Self::SharedClientInit { done } => {
                if *done || chunk.is_empty() {
                    return Ok(chunk);
                }
                *done = true;
                if chunk[0] == 1 {
                    return Ok(chunk);
                }
                let mut shared = chunk.to_vec();
                shared[0] = 1;
                Ok(Bytes::from(shared))
            }
        }
    }

    /// The browser→server filter of an RFB console: ClientInit always shared.
    pub fn shared_client_init() -> Self {
        Self::SharedClientInit { done: false }
    }
}

/// The filters of one session, one per direction.
#[derive(Debug, Default)]
pub struct Filters {
    /// Browser → console server.
    pub to_server: Filter,
    /// Console server → browser.
    pub to_browser: Filter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_init_is_always_shared_and_nothing_else_changes() {
        let mut filter = Filter::shared_client_init();
        assert_eq!(filter.apply(Bytes::new()).ok(), Some(Bytes::new()));
        let first = filter.apply(Bytes::from_static(b"\x00\x03\x00")).ok();
        assert_eq!(first, Some(Bytes::from_static(b"\x01\x03\x00")));
        // Later zero bytes are other messages' bytes: untouched.
        let later = Bytes::from_static(b"\x00\x00\x00\x00");
        assert_eq!(filter.apply(later.clone()).ok(), Some(later));
        let mut filter = Filter::shared_client_init();
        let shared = Bytes::from_static(b"\x01");
        assert_eq!(filter.apply(shared.clone()).ok(), Some(shared));
    }

    #[test]
    fn pass_hands_every_byte_on_unchanged() {
        let mut filter = Filter::default();
        let chunk = Bytes::from_static(b"\x04\x01\x00\x00\x00\x00\xff\x0d");
        assert_eq!(filter.apply(chunk.clone()).ok(), Some(chunk));
        assert_eq!(filter.apply(Bytes::new()).ok(), Some(Bytes::new()));
    }
}
