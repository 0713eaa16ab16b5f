//! The browser's side of a SPICE channel, framed as it goes past without holding it: the link
//! message (which channel this WebSocket is), the authentication that follows, then each
//! message's header. [`ClientFramer::consume`] says how many of the next bytes belong together
//! and which message they are, so that a view-only policy can refuse a channel and drop the
//! agent's messages. No I/O; imports nothing of the project.
//!
//! The wire (spice-protocol `protocol.h`, little-endian): a 16-byte link header (`REDQ`, major,
//! minor, size) and a `SpiceLinkMess` of that size (connection id, channel type and id, the
//! capability counts and offset, the capabilities); then, when the client's common
//! capabilities hold AUTH_SELECTION, a 4-byte mechanism; then the 128-byte RSA-encrypted
//! ticket; then messages, each behind a 6-byte mini header (type, size) when the client
//! offered MINI_HEADER, which every current server accepts, else behind the 18-byte full one.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

/// SPICE channel types (`SPICE_CHANNEL_*`).
pub mod channel {
    /// The main channel: session control and the guest agent's messages.
    pub const MAIN: u8 = 1;
    /// The display.
    pub const DISPLAY: u8 = 2;
    /// Keyboard and pointer.
    pub const INPUTS: u8 = 3;
    /// The pointer's shape.
    pub const CURSOR: u8 = 4;
    /// Sound from the guest.
    pub const PLAYBACK: u8 = 5;
    /// Sound to the guest (a microphone).
    pub const RECORD: u8 = 6;
}

/// `SPICE_MSGC_MAIN_AGENT_DATA`: the browser's message to the guest agent (clipboard, file
/// transfer, monitor layout).
pub const MAIN_AGENT_DATA: u16 = 107;

/// The link magic, `REDQ`.
const MAGIC: [u8; 4] = *b"REDQ";
/// The largest `SpiceLinkMess` taken: spice-html5 sends about 30 bytes.
const MAX_LINK: u32 = 4096;
/// `SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION` and `SPICE_COMMON_CAP_MINI_HEADER`.
const CAP_AUTH_SELECTION: u32 = 1 << 0;
const CAP_MINI_HEADER: u32 = 1 << 3;
/// `SPICE_COMMON_CAP_AUTH_SPICE`, the ticket mechanism.
const AUTH_SPICE: u32 = 1;
/// An RSA-1024 encrypted ticket.
const TICKET: u64 = 128;

/// What the link message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The session's id: 0 for a console's main channel, then the one the server gave it.
    pub connection_id: u32,
    /// The channel type ([`channel`]).
    pub channel_type: u8,
    /// Which channel of that type.
    pub channel_id: u8,
    /// The client's common capabilities (the first word).
    common_caps: u32,
}

/// Why a browser's SPICE stream cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not `REDQ`.
    #[error("not a SPICE link message")]
    Magic,
    /// A link message longer than the framer takes, or shorter than its fields.
    #[error("a SPICE link message of {0} bytes")]
    LinkSize(u32),
    /// Capabilities outside the link message.
    #[error("SPICE capabilities outside the link message")]
    Capabilities,
    /// SASL or another mechanism whose exchange the framer does not follow.
    #[error("SPICE authentication mechanism {0}")]
    Mechanism(u32),
}

/// What a run of bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The link message, the mechanism or the ticket.
    Link,
    /// A message header; `Some(type)` when these bytes complete it.
    Header(Option<u16>),
    /// The body of a message of this type.
    Body(u16),
}

/// A run of bytes that belong together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// How many of the bytes given.
    pub len: usize,
    /// What they are.
    pub part: Part,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    LinkHeader,
    LinkMess { size: usize },
    Mechanism,
    Ticket { left: u64 },
    Header,
    Body { left: u64 },
}

/// The framer of one browser→server SPICE channel.
#[derive(Debug)]
pub struct ClientFramer {
    expect: Expect,
    /// The link header or message, or a message header, gathered so far.
    held: Vec<u8>,
    link: Option<Link>,
    /// The message in progress.
    message: Option<u16>,
}

impl Default for ClientFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientFramer {
    /// A framer at the start of a channel.
    pub fn new() -> Self {
        Self {
            expect: Expect::LinkHeader,
            held: Vec::new(),
            link: None,
            message: None,
        }
    }

    /// The link message, once it has been read.
    pub fn link(&self) -> Option<Link> {
        self.link
    }

    fn mini_header(&self) -> bool {
        self.link
            .is_some_and(|link| link.common_caps & CAP_MINI_HEADER != 0)
    }

    /// Frames the start of `input`: at least one byte when there is one.
    ///
    /// # Errors
    /// The stream cannot be framed; nothing after it can be either.
    pub fn consume(&mut self, input: &[u8]) -> Result<Span, Error> {
        if input.is_empty() {
            return Ok(Span {
                len: 0,
                part: Part::Link,
            });
        }
        let (len, part) = match self.expect {
            Expect::Ticket { left } | Expect::Body { left } => {
                let len = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let left = left - len as u64;
                let part = match self.expect {
                    Expect::Body { .. } => Part::Body(self.message.unwrap_or_default()),
                    _ => Part::Link,
                };
                self.expect = match self.expect {
                    Expect::Ticket { .. } if left > 0 => Expect::Ticket { left },
                    Expect::Body { .. } if left > 0 => Expect::Body { left },
                    _ => Expect::Header,
                };
                (len, part)
            }
            Expect::LinkHeader => (self.gather(input, 16), Part::Link),
            Expect::LinkMess { size } => (self.gather(input, size), Part::Link),
            Expect::Mechanism => (self.gather(input, 4), Part::Link),
            Expect::Header => {
                let size = if self.mini_header() { 6 } else { 18 };
                (self.gather(input, size), Part::Header(None))
            }
        };
        let before = self.expect;
        self.gathered()?;
        let part = match (part, before) {
            (Part::Header(None), Expect::Header) if self.held.is_empty() => {
                Part::Header(self.message)
            }
            _ => part,
        };
        Ok(Span { len, part })
    }

    /// Takes up to `want` bytes into `held`.
    fn gather(&mut self, input: &[u8], want: usize) -> usize {
        let len = (want - self.held.len()).min(input.len());
        self.held.extend_from_slice(&input[..len]);
        len
    }

    /// Moves on once a gathered field is whole.
    fn gathered(&mut self) -> Result<(), Error> {
        let want = match self.expect {
            Expect::LinkHeader => 16,
            Expect::LinkMess { size } => size,
            Expect::Mechanism => 4,
            Expect::Header if self.mini_header() => 6,
            Expect::Header => 18,
            Expect::Ticket { .. } | Expect::Body { .. } => return Ok(()),
        };
        if self.held.len() < want {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        match self.expect {
            Expect::LinkHeader => {
                if held[..4] != MAGIC {
                    return Err(Error::Magic);
                }
                let size = u32_le(&held, 12);
                if !(18..=MAX_LINK).contains(&size) {
                    return Err(Error::LinkSize(size));
                }
                // At most MAX_LINK, so it fits.
                self.expect = Expect::LinkMess {
                    size: size as usize,
                };
            }
            Expect::LinkMess { .. } => {
                let link = read_link(&held)?;
                self.link = Some(link);
                self.expect = if link.common_caps & CAP_AUTH_SELECTION != 0 {
                    Expect::Mechanism
                } else {
                    Expect::Ticket { left: TICKET }
                };
            }
            Expect::Mechanism => match u32_le(&held, 0) {
                AUTH_SPICE => self.expect = Expect::Ticket { left: TICKET },
                other => return Err(Error::Mechanism(other)),
            },
            Expect::Header => {
                let (kind, size) = if self.mini_header() {
                    (u16_le(&held, 0), u32_le(&held, 2))
                } else {
                    (u16_le(&held, 8), u32_le(&held, 10))
                };
                self.message = Some(kind);
                self.expect = if size == 0 {
                    Expect::Header
                } else {
                    Expect::Body {
                        left: u64::from(size),
                    }
                };
            }
            Expect::Ticket { .. } | Expect::Body { .. } => {}
        }
        Ok(())
    }
}

/// The fields of a `SpiceLinkMess`.
fn read_link(mess: &[u8]) -> Result<Link, Error> {
    let common_count = u32_le(mess, 6);
    let offset = u32_le(mess, 14) as usize;
    let common_caps = if common_count == 0 {
        0
    } else {
        let end = offset.checked_add(4).ok_or(Error::Capabilities)?;
        if offset < 18 || end > mess.len() {
            return Err(Error::Capabilities);
        }
        u32_le(mess, offset)
    };
    Ok(Link {
        connection_id: u32_le(mess, 0),
        channel_type: mess[4],
        channel_id: mess[5],
        common_caps,
    })
}

/// Callers check the length first.
fn u32_le(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u16_le(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}
