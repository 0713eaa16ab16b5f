//! RFC 6455 frames from the browser, decoded without I/O: [`Decoder::decode`] takes what has
//! arrived and returns the next [`Event`], or `None` until more bytes come.
//!
//! Binary payload is returned as it arrives, unmasked in place, a chunk at a time: the relay
//! writes it on at once and never waits for a whole message. Control frames (at most 125 bytes)
//! are gathered whole.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use bytes::{Buf, Bytes, BytesMut};

use super::error::Error;

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// The longest control frame payload (RFC 6455 §5.5).
const MAX_CONTROL: u64 = 125;

/// What the browser sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Bytes of a binary message, unmasked, in order; a message may come in several.
    Binary(Bytes),
    /// A text message began: RFB is binary, so the caller ends the session.
    Text,
    /// A ping, with its payload for the pong.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close frame, with its code if it had one.
    Close(Option<u16>),
}

/// Where the decoder is in the stream.
#[derive(Debug)]
enum State {
    /// A frame header is next.
    ExpectHeader,
    /// `left` more payload bytes of a binary frame; `phase` is where the mask stands.
    ExpectPayload {
        left: u64,
        mask: [u8; 4],
        phase: usize,
    },
    /// `left` more payload bytes of a text frame, passed over: the caller has been told.
    Discard { left: u64 },
    /// A whole control frame of `len` bytes.
    ExpectControl {
        opcode: u8,
        len: usize,
        mask: [u8; 4],
    },
}

/// Decodes the browser's frames.
#[derive(Debug)]
pub struct Decoder {
    state: State,
    /// Inside a fragmented message: its bytes so far.
    message: Option<u64>,
    /// The message in progress is text, passed over.
    text: bool,
    max_message: u64,
}

impl Decoder {
    /// A decoder refusing messages over `max_message` bytes.
    #[must_use]
    pub fn new(max_message: usize) -> Self {
        Self {
            state: State::ExpectHeader,
            message: None,
            text: false,
            max_message: max_message as u64,
        }
    }

    /// The next event from `buf`, consuming what it used; `None` until more bytes arrive.
    ///
    /// # Errors
    /// A frame that breaks RFC 6455 or the size bound; the connection cannot go on.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, Error> {
        loop {
            match self.state {
                State::ExpectHeader => {
                    let Some(next) = self.header(buf)? else {
                        return Ok(None);
                    };
                    if let Some(event) = next {
                        return Ok(Some(event));
                    }
                }
                State::ExpectPayload { left, mask, phase } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let mut chunk = buf.split_to(take);
                    unmask(&mut chunk, mask, phase);
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::ExpectHeader
                    } else {
                        State::ExpectPayload {
                            left,
                            mask,
                            phase: (phase + take) % 4,
                        }
                    };
                    return Ok(Some(Event::Binary(chunk.freeze())));
                }
                State::Discard { left } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    buf.advance(take);
                    let left = left - take as u64;
                    if left > 0 {
                        self.state = State::Discard { left };
                        return Ok(None);
                    }
                    self.state = State::ExpectHeader;
                }
                State::ExpectControl { opcode, len, mask } => {
                    if buf.len() < len {
                        return Ok(None);
                    }
                    let mut payload = buf.split_to(len);
                    unmask(&mut payload, mask, 0);
                    self.state = State::ExpectHeader;
                    return control(opcode, payload.freeze()).map(Some);
                }
            }
        }
    }

    /// Reads a frame header: `None` when incomplete, `Some(None)` when the frame's payload
    /// follows (or it was an empty data frame), `Some(Some(event))` at the start of a text
    /// message, whose payload is then passed over.
    fn header(&mut self, buf: &mut BytesMut) -> Result<Option<Option<Event>>, Error> {
        let [first, second, ..] = buf[..] else {
            return Ok(None);
        };
        let fin = first & 0x80 != 0;
        if first & 0x70 != 0 {
            return Err(Error::Reserved);
        }
        let opcode = first & 0x0F;
        if second & 0x80 == 0 {
            return Err(Error::Unmasked);
        }
        let (len, at) = match second & 0x7F {
            126 => match buf.get(2..4) {
                Some(ext) => (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(ext) => {
                    let mut len = [0u8; 8];
                    len.copy_from_slice(ext);
                    (u64::from_be_bytes(len), 10)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), 2),
        };
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        let mask = [key[0], key[1], key[2], key[3]];
        match opcode {
            CLOSE | PING | PONG => {
                if !fin || len > MAX_CONTROL {
                    return Err(Error::Control);
                }
                buf.advance(at + 4);
                self.state = State::ExpectControl {
                    opcode,
                    len: len as usize,
                    mask,
                };
                Ok(Some(None))
            }
            TEXT | BINARY | CONTINUATION => {
                let so_far = match (opcode, self.message) {
                    (CONTINUATION, Some(so_far)) => so_far,
                    (CONTINUATION, None) | (TEXT | BINARY, Some(_)) => return Err(Error::Fragment),
                    _ => 0,
                };
                let total = so_far.saturating_add(len);
                if total > self.max_message {
                    return Err(Error::TooBig(self.max_message as usize));
                }
                buf.advance(at + 4);
                self.message = (!fin).then_some(total);
                if opcode != CONTINUATION {
                    self.text = opcode == TEXT;
                }
                if self.text {
                    if len > 0 {
                        self.state = State::Discard { left: len };
                    }
                    // Told once, at the start of the message.
                    let told = (opcode == TEXT).then_some(Event::Text);
                    return Ok(Some(told));
                }
                if len > 0 {
                    self.state = State::ExpectPayload {
                        left: len,
                        mask,
                        phase: 0,
                    };
                }
                Ok(Some(None))
            }
            other => Err(Error::Opcode(other)),
        }
    }
}

/// The event for a whole control frame.
fn control(opcode: u8, payload: Bytes) -> Result<Event, Error> {
    match opcode {
        PING => Ok(Event::Ping(payload)),
        PONG => Ok(Event::Pong),
        _ => {
            if payload.is_empty() {
                return Ok(Event::Close(None));
            }
            let [high, low, ref reason @ ..] = payload[..] else {
                return Err(Error::Close);
            };
            let code = u16::from_be_bytes([high, low]);
            // 1005, 1006 and 1015 are never sent; below 1000 and the unassigned ranges are
            // not valid codes (RFC 6455 §7.4).
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid || std::str::from_utf8(reason).is_err() {
                return Err(Error::Close);
            }
            Ok(Event::Close(Some(code)))
        }
    }
}

/// XORs `data` with `mask`, starting `phase` bytes into it, eight bytes at a time.
pub fn unmask(data: &mut [u8], mask: [u8; 4], phase: usize) {
    let mut rotated = mask;
    rotated.rotate_left(phase % 4);
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (byte, key) in chunks
        .into_remainder()
        .iter_mut()
        .zip(rotated.iter().cycle())
    {
        *byte ^= key;
    }
}
