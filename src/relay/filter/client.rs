//! The browser→server filter of a session with a policy: ClientInit always shared, then every
//! client message framed ([`crate::rfb::client_messages`]) and passed, dropped or rewritten.
//!
//! - view-only drops whatever acts on the guest: keys, pointer, clipboard, resize, power;
//! - a clipboard closed toward the guest drops ClientCutText;
//! - a clipboard not open both ways takes the extended clipboard out of SetEncodings, since
//!   its request/provide exchange needs both directions; the plain form then carries what
//!   may flow;
//! - SetPixelFormat must be on the allow-list ([`PixelSize::framed`]) whose sizes every server
//!   agrees on; any other format ends the session;
//! - when the server's messages are framed too, SetEncodings keeps only what that framer can
//!   size, and SetPixelFormat is handed to it; a format change after updates have begun would
//!   leave updates in flight in an unknown format, so it ends the session.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::Error;
use super::server::PixelCell;
use crate::console::Clipboard;
use crate::rfb::client_messages::{self, ClientMessage};
use crate::rfb::encodings;
use crate::rfb::pixel_format::PixelSize;

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Watch only.
    pub view_only: bool,
    /// Which way the clipboard may flow.
    pub clipboard: Clipboard,
}

/// The browser→server filter of a session with a policy.
#[derive(Debug)]
pub struct ClientFilter {
    policy: Policy,
    /// Whether ClientInit went by.
    done: bool,
    /// The start of a message whose end has not arrived.
    held: BytesMut,
    /// The longest variable part taken (a clipboard text).
    max: usize,
    /// Where the server filter takes the pixel format from, when there is one.
    pixel: Option<PixelCell>,
    /// The pixel format asked for last.
    asked: Option<PixelSize>,
    /// Whether an update was requested: the server may be sending in the current format.
    updating: bool,
}

impl ClientFilter {
    /// A filter from ClientInit on; clipboard texts up to `max` bytes are framed. `pixel` is
    /// the server filter's cell when the server's messages are framed.
    pub fn new(policy: Policy, max: usize, pixel: Option<PixelCell>) -> Self {
        Self {
            policy,
            done: false,
            held: BytesMut::new(),
            max,
            pixel,
            asked: None,
            updating: false,
        }
    }

    /// Takes the next bytes and returns what goes on now.
    ///
    /// # Errors
    /// A message that cannot be framed, or a pixel format change the server filter cannot follow.
    pub fn apply(&mut self, chunk: Bytes) -> Result<Bytes, Error> {
        self.held.extend_from_slice(&chunk);
        let mut out = BytesMut::new();
        if !self.done {
            let Some(&flag) = self.held.first() else {
                return Ok(Bytes::new());
            };
            self.done = true;
            self.held.advance(1);
            out.put_u8(flag.max(1));
        }
        loop {
            let framed = client_messages::frame(&self.held, self.max)
                .map_err(|error| Error::Refused(error.to_string()))?;
            let Some((kind, length)) = framed else {
                break;
            };
            let message = self.held.split_to(length);
            self.pass(kind, &message, &mut out)?;
        }
        Ok(out.freeze())
    }

    fn pass(
        &mut self,
        kind: ClientMessage,
        message: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), Error> {
        if self.policy.view_only && kind.acts() {
            tracing::debug!(?kind, "dropped from a view-only viewer");
            return Ok(());
        }
        match kind {
            ClientMessage::ClientCutText if !self.policy.clipboard.to_guest() => {
                tracing::debug!("clipboard text toward the guest dropped");
            }
            ClientMessage::SetEncodings => self.encodings(message, out),
            ClientMessage::SetPixelFormat => {
                self.pixel_format(message)?;
                out.extend_from_slice(message);
            }
            ClientMessage::FramebufferUpdateRequest | ClientMessage::EnableContinuousUpdates => {
                self.updating = true;
                out.extend_from_slice(message);
            }
            _ => out.extend_from_slice(message),
        }
        Ok(())
    }

    /// SetEncodings with only what may be asked for.
    fn encodings(&self, message: &[u8], out: &mut BytesMut) {
        let framed = self.pixel.is_some();
        let kept: Vec<[u8; 4]> = message[4..]
            .chunks_exact(4)
            .map(|bytes| [bytes[0], bytes[1], bytes[2], bytes[3]])
            .filter(|bytes| {
                let encoding = i32::from_be_bytes(*bytes);
                let clipboard = encoding != encodings::EXTENDED_CLIPBOARD
                    || self.policy.clipboard == Clipboard::Both;
                clipboard && (!framed || encodings::frameable(encoding))
            })
            .collect();
        out.put_slice(&message[..2]);
        // At most the count the browser sent, so it fits.
        out.put_u16(u16::try_from(kept.len()).unwrap_or(u16::MAX));
        for bytes in kept {
            out.put_slice(&bytes);
        }
    }

    fn pixel_format(&mut self, message: &[u8]) -> Result<(), Error> {
        let mut format = [0u8; 16];
        format.copy_from_slice(&message[4..20]);
        // Checked whether or not the server's messages are framed: a restricted session keeps
        // to the formats every server frames alike.
        let pixel = PixelSize::framed(&format).map_err(Error::PixelFormat)?;
        let Some(cell) = &self.pixel else {
            return Ok(());
        };
        if self.updating && self.asked != Some(pixel) {
            return Err(Error::Refused(
                "a pixel format change after updates began cannot be framed".into(),
            ));
        }
        self.asked = Some(pixel);
        cell.set(pixel);
        Ok(())
    }
}
