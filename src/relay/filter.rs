//! Per-direction message filters for the relay: sans-IO parsers that may pass, drop or rewrite
//! whole protocol messages between the browser and the console server. No I/O.
//!
//! A closed set, so an enum: [`Filter::Pass`] relays bytes as they come, at no cost. A policy
//! that needs to see messages (view-only, clipboard direction) adds a variant whose parser
//! holds back a partial message until the rest arrives.

use bytes::{Buf, Bytes, BytesMut};

use crate::rfb::client_messages;

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
    /// The browser's first RFB byte, ClientInit's shared flag, goes on as 1 when it was 0
    /// (exclusive); any other value already means shared. Everything after passes unchanged. With shared = 0, QEMU (its default share policy) and
    /// most VNC servers disconnect every other viewer of the console: one browser must not
    /// knock off the others.
    SharedClientInit {
        /// Whether ClientInit went by.
        done: bool,
    },
    /// ClientInit shared as above, then every client message framed
    /// ([`crate::rfb::client_messages`]): a view-only viewer's input, clipboard, resize and
    /// power messages are dropped; an unframeable message ends the session.
    ViewOnly {
        /// Whether ClientInit went by.
        done: bool,
        /// The start of a message whose end has not arrived.
        held: BytesMut,
        /// The longest variable part taken (a clipboard text).
        max: usize,
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
                // Any non-zero flag already means shared.
                if chunk[0] != 0 {
                    return Ok(chunk);
                }
                let mut shared = chunk.to_vec();
                shared[0] = 1;
                Ok(Bytes::from(shared))
            }
            Self::ViewOnly { done, held, max } => {
                held.extend_from_slice(&chunk);
                let mut out = BytesMut::new();
                if !*done {
                    if held.is_empty() {
                        return Ok(Bytes::new());
                    }
                    *done = true;
                    let shared = held[0].max(1);
                    held.advance(1);
                    out.extend_from_slice(&[shared]);
                }
                loop {
                    match client_messages::frame(held, *max) {
                        Ok(Some((kind, length))) => {
                            let message = held.split_to(length);
                            if kind.acts() {
                                tracing::debug!(?kind, "dropped from a view-only viewer");
                            } else {
                                out.extend_from_slice(&message);
                            }
                        }
                        Ok(None) => break,
                        Err(error) => return Err(Error::Refused(error.to_string())),
                    }
                }
                Ok(out.freeze())
            }
        }
    }

    /// The browser→server filter of an RFB console: ClientInit always shared.
    pub fn shared_client_init() -> Self {
        Self::SharedClientInit { done: false }
    }

    /// The browser→server filter of a view-only RFB console; clipboard texts up to `max` bytes
    /// are framed (and dropped).
    pub fn view_only(max: usize) -> Self {
        Self::ViewOnly {
            done: false,
            held: BytesMut::new(),
            max,
        }
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
    fn a_view_only_viewer_sends_no_input_whatever_the_chunks() {
        // ClientInit (exclusive), SetEncodings, a key, a pointer event, an update request,
        // a clipboard text, xvp reboot.
        let stream: Vec<u8> = [
            &[0u8][..],
            &[2, 0, 0, 1, 0, 0, 0, 7],
            &[4, 1, 0, 0, 0, 0, 0, 0x61],
            &[5, 1, 0, 10, 0, 20],
            &[3, 0, 0, 0, 0, 0, 0, 10, 0, 10],
            &[6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
            &[250, 0, 1, 3],
        ]
        .concat();
        let expected: Vec<u8> = [
            &[1u8][..],
            &[2, 0, 0, 1, 0, 0, 0, 7],
            &[3, 0, 0, 0, 0, 0, 0, 10, 0, 10],
        ]
        .concat();
        for size in 1..stream.len() {
            let mut filter = Filter::view_only(1024);
            let mut out = Vec::new();
            for chunk in stream.chunks(size) {
                let passed = filter.apply(Bytes::copy_from_slice(chunk)).expect("framed");
                out.extend_from_slice(&passed);
            }
            assert_eq!(out, expected, "chunks of {size}");
        }
        let mut filter = Filter::view_only(1024);
        assert!(
            filter.apply(Bytes::from_static(&[1, 9, 9])).is_err(),
            "type 9 is unknown"
        );
    }

    #[test]
    fn pass_hands_every_byte_on_unchanged() {
        let mut filter = Filter::default();
        let chunk = Bytes::from_static(b"\x04\x01\x00\x00\x00\x00\xff\x0d");
        assert_eq!(filter.apply(chunk.clone()).ok(), Some(chunk));
        assert_eq!(filter.apply(Bytes::new()).ok(), Some(Bytes::new()));
    }
}
