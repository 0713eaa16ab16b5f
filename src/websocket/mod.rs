//! The browser's WebSocket after the upgrade, both ways: a sans-IO frame decoder
//! ([`decoder`]), a reader that holds a buffer only while bytes arrive ([`reader`]) and a
//! writer that sends each frame as its header and the payload from the read buffer in one
//! vectored write ([`writer`]).
//!
//! hyper does the HTTP upgrade; from then on the session speaks RFC 6455 through this module
//! alone. Binary messages are streamed: each chunk of payload is unmasked in place and handed
//! on as it arrives, so a message is never gathered whole and a large one costs no more memory
//! than a small one (`max_message_size` still bounds a message, as an operator expects).

pub mod decoder;
mod error;
pub mod reader;
pub mod writer;

#[cfg(test)]
mod tests;

pub use decoder::{Decoder, Event};
pub use error::{code, Error};
pub use reader::Reader;
pub use writer::FrameWriter;
