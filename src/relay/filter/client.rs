//! The browser→server filter of a session with a policy: ClientInit always shared, then every
//! client message framed ([`crate::rfb::client_messages`]) and passed, dropped or rewritten.
//!
//! - view-only drops whatever acts on the guest: keys, pointer, clipboard, resize, power;
//! - a clipboard closed toward the guest drops ClientCutText; a cut text is never held: it is
//!   passed or skipped as it streams, up to [`MAX_CLIPBOARD`];
//! - what a filter does hold (the start of a message whose end has not come) counts against
//!   one budget for the whole process ([`held`]), so that many sessions cannot add up to
//!   more memory than that;
//! - the extended clipboard (UTF-8, any script) stays in SetEncodings when the clipboard may
//!   flow out: the browser's requests for the guest's text (caps, request, peek, which carry
//!   none of its own) pass, and its notify and provide, which offer or carry its text, pass only
//!   when the clipboard may flow in; a clipboard open only toward the guest takes the extended
//!   clipboard out (the server's provide would have to be told from its request), and the plain
//!   (Latin-1) form carries it;
//! - SetPixelFormat must be on the allow-list ([`PixelSize::framed`]) whose sizes every server
//!   agrees on; any other format ends the session;
//! - when the server's messages are framed too, SetEncodings keeps only what that framer can
//!   size, and SetPixelFormat is handed to it; a format change after updates have begun would
//!   leave updates in flight in an unknown format, so it ends the session.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::Error;
use super::server::PixelCell;
use crate::console::Clipboard;
use crate::rfb::client_messages::{self, ClientMessage};
use crate::rfb::encodings;
use crate::rfb::pixel_format::PixelSize;

/// The longest clipboard text taken from a browser: QEMU drops a client whose text is over
/// 1 MiB, and TigerVNC's default is 256 KiB.
pub const MAX_CLIPBOARD: usize = 1 << 20;

/// The most bytes all filters of the process may hold at once.
pub const HELD_BUDGET: usize = 64 << 20;

/// The action bits of an extended clipboard message's flags (caps, request, peek, notify,
/// provide), and those of them that offer or carry the browser's own text (notify, provide).
const ACTIONS: u32 = 0x1f00_0000;
const OFFERS_TEXT: u32 = 0x1800_0000;

/// What the held bytes start with, for the clipboard.
enum CutText {
    /// Not a ClientCutText.
    NotOne,
    /// A ClientCutText whose header went on or was dropped; its text streams after it.
    Started,
    /// A ClientCutText whose header (or extended flags) is not all in yet.
    Incomplete,
}

/// What every filter of the process holds now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// The bytes all filters hold now, for tests and metrics.
pub fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

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
    /// A clipboard text going past: the bytes left, and whether they are passed.
    streaming: Option<(usize, bool)>,
    /// What of `held` is counted against [`HELD_BUDGET`].
    counted: usize,
}

impl Drop for ClientFilter {
    fn drop(&mut self) {
        HELD.fetch_sub(self.counted, Ordering::Relaxed);
    }
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
            streaming: None,
            counted: 0,
        }
    }

    /// Takes the next bytes and returns what goes on now.
    ///
    /// # Errors
    /// A message that cannot be framed, a pixel format the server filter cannot follow, or
    /// more held than the process's budget allows.
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
            if let Some((left, passed)) = self.streaming {
                let now = left.min(self.held.len());
                let bytes = self.held.split_to(now);
                if passed {
                    out.extend_from_slice(&bytes);
                }
                self.streaming = (left > now).then_some((left - now, passed));
                if left > now {
                    break;
                }
            }
            match self.cut_text_starts(&mut out)? {
                CutText::Started => continue,
                CutText::Incomplete => break,
                CutText::NotOne => {}
            }
            let framed = client_messages::frame(&self.held, self.max)
                .map_err(|error| Error::Refused(error.to_string()))?;
            let Some((kind, length)) = framed else {
                break;
            };
            let message = self.held.split_to(length);
            self.pass(kind, &message, &mut out)?;
        }
        self.count_held()?;
        Ok(out.freeze())
    }

    /// How many bytes the filter holds now.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Starts streaming a ClientCutText whose header is in (with the extended form's flags):
    /// the header goes on with its text or is dropped with it.
    fn cut_text_starts(&mut self, out: &mut BytesMut) -> Result<CutText, Error> {
        let Some(header) = self.held.get(..8) else {
            return Ok(CutText::NotOne);
        };
        if header[0] != 6 {
            return Ok(CutText::NotOne);
        }
        // The extended clipboard form sends its length negated, then its flags.
        let signed = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let length = usize::try_from(signed.unsigned_abs()).unwrap_or(usize::MAX);
        if length > MAX_CLIPBOARD.min(self.max) {
            return Err(Error::Refused(format!(
                "a clipboard text of {length} bytes, over the limit"
            )));
        }
        // Text toward the guest.
        let inward = !self.policy.view_only && self.policy.clipboard.to_guest();
        let passed = if signed < 0 {
            if length < 4 {
                return Err(Error::Refused(
                    "an extended clipboard message without its flags".into(),
                ));
            }
            let Some(flags) = self.held.get(8..12) else {
                return Ok(CutText::Incomplete);
            };
            let action = u32::from_be_bytes([flags[0], flags[1], flags[2], flags[3]]) & ACTIONS;
            if action & OFFERS_TEXT == 0 {
                inward || self.policy.clipboard.from_guest()
            } else {
                inward
            }
        } else {
            inward
        };
        let header = self.held.split_to(8);
        if passed {
            out.extend_from_slice(&header);
        } else {
            tracing::debug!(length, "clipboard text toward the guest dropped");
        }
        self.streaming = (length > 0).then_some((length, passed));
        Ok(CutText::Started)
    }

    /// Counts what is held against the process's budget; a filter that would take it past
    /// the budget ends its session. An empty buffer gives its memory back.
    fn count_held(&mut self) -> Result<(), Error> {
        if self.held.is_empty() {
            self.held = BytesMut::new();
        }
        let now = self.held.len();
        if now > self.counted {
            let more = now - self.counted;
            let before = HELD.fetch_add(more, Ordering::Relaxed);
            self.counted = now;
            if before + more > HELD_BUDGET {
                return Err(Error::Refused(
                    "the proxy holds too many partial messages".into(),
                ));
            }
        } else {
            HELD.fetch_sub(self.counted - now, Ordering::Relaxed);
            self.counted = now;
        }
        Ok(())
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
                let clipboard =
                    encoding != encodings::EXTENDED_CLIPBOARD || self.policy.clipboard.from_guest();
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
