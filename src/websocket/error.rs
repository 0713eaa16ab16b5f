//! What can go wrong with the browser's WebSocket, and the close codes it is told.

/// Close codes this module sends (RFC 6455 §7.4.1).
pub mod code {
    /// The purpose of the connection was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The server is going away, or the browser stopped answering.
    pub const AWAY: u16 = 1001;
    /// A frame broke the protocol.
    pub const PROTOCOL: u16 = 1002;
    /// A kind of data that is not accepted (text, where RFB is binary).
    pub const UNSUPPORTED: u16 = 1003;
    /// A message broke a policy.
    pub const POLICY: u16 = 1008;
    /// A message larger than `max_message_size`.
    pub const TOO_BIG: u16 = 1009;
    /// The server met a condition that stopped it from fulfilling the request.
    pub const ERROR: u16 = 1011;
}

/// What can go wrong with the browser's WebSocket.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The browser's connection ended without a close frame.
    #[error("connection closed")]
    Eof,
    /// A frame with a reserved bit set: no extension was negotiated.
    #[error("a reserved bit is set")]
    Reserved,
    /// A frame from the browser that is not masked.
    #[error("an unmasked frame")]
    Unmasked,
    /// An opcode RFC 6455 reserves.
    #[error("reserved opcode {0}")]
    Opcode(u8),
    /// A control frame that is fragmented or longer than 125 bytes.
    #[error("a malformed control frame")]
    Control,
    /// A continuation without a message to continue, or a new message inside one.
    #[error("a fragment out of order")]
    Fragment,
    /// A close frame whose code or reason is not valid.
    #[error("a malformed close frame")]
    Close,
    /// A message longer than `max_message_size`.
    #[error("a message over {0} bytes")]
    TooBig(usize),
}

impl Error {
    /// The close code owed to the browser for this error, if it can still receive one.
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Io(_) | Self::Eof => None,
            Self::TooBig(_) => Some(code::TOO_BIG),
            _ => Some(code::PROTOCOL),
        }
    }
}
