//! The server→browser filter of a session whose clipboard may not flow to the browser: every
//! server message framed ([`crate::rfb::server_messages`]) and each ServerCutText dropped whole.
//! Chunks without a cut text go on as they came, without a copy.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::error::Error;
use crate::rfb::pixel_format::PixelSize;
use crate::rfb::server_messages::{FrameError, ServerFramer};

/// The pixel format the browser asked for (SetPixelFormat), passed from the browser→server
/// filter to this one: it sizes the rectangles of the updates that follow.
#[derive(Debug, Clone, Default)]
pub struct PixelCell(Arc<AtomicU16>);

impl PixelCell {
    /// Records the browser's pixel format.
    pub fn set(&self, pixel: PixelSize) {
        self.0.store(pixel.packed(), Ordering::Release);
    }

    fn get(&self) -> u16 {
        self.0.load(Ordering::Acquire)
    }
}

/// Drops the console server's clipboard texts.
#[derive(Debug)]
pub struct ServerFilter {
    framer: ServerFramer,
    pixel: PixelCell,
    /// The packed format last taken from `pixel`.
    seen: u16,
}

impl ServerFilter {
    /// A filter from ServerInit on, taking the browser's pixel format from `pixel`.
    pub fn new(pixel: PixelCell) -> Self {
        Self {
            framer: ServerFramer::new(),
            pixel,
            seen: 0,
        }
    }

    /// The bytes of `chunk` that are not clipboard text.
    ///
    /// # Errors
    /// The stream cannot be framed.
    pub fn apply(&mut self, chunk: Bytes) -> Result<Bytes, Error> {
        let mut kept: Option<BytesMut> = None;
        let mut at = 0;
        while at < chunk.len() {
            if self.framer.at_message() {
                // A format asked for before the first update request sizes every update.
                let packed = self.pixel.get();
                if packed != self.seen {
                    self.seen = packed;
                    if let Some(pixel) = PixelSize::unpacked(packed) {
                        self.framer.set_pixel(pixel);
                    }
                }
            }
            let span = self
                .framer
                .consume(&chunk[at..])
                .map_err(|error| match error {
                    FrameError::PixelFormat(format) => Error::PixelFormat(format),
                    other => Error::Refused(other.to_string()),
                })?;
            let bytes = &chunk[at..at + span.len];
            match (&mut kept, span.cut_text) {
                (None, true) => {
                    tracing::debug!("clipboard text from the console server dropped");
                    kept = Some(BytesMut::from(&chunk[..at]));
                }
                (Some(kept), false) => kept.extend_from_slice(bytes),
                _ => {}
            }
            at += span.len;
        }
        Ok(kept.map_or(chunk, BytesMut::freeze))
    }
}
