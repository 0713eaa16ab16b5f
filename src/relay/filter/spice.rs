//! The browser→server filter of a view-only SPICE console: each channel's link message read,
//! the channels that act on the guest refused, and on the main channel the browser's messages
//! to the guest agent (clipboard, file transfer, monitor layout) dropped whole.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use bytes::{Bytes, BytesMut};

use super::error::Error;
use crate::spice::{channel, ClientFramer, Part, MAIN_AGENT_DATA};

/// The channels a view-only viewer may open: they show the guest and act on nothing.
const WATCH: [u8; 4] = [
    channel::MAIN,
    channel::DISPLAY,
    channel::CURSOR,
    channel::PLAYBACK,
];

/// The browser→server filter of a view-only SPICE channel.
#[derive(Debug, Default)]
pub struct SpiceFilter {
    framer: ClientFramer,
    /// A message header whose end has not arrived.
    pending: BytesMut,
    /// Whether the message in progress is dropped.
    dropping: bool,
    /// Whether the link message was checked.
    checked: bool,
}

impl SpiceFilter {
    /// Takes the next bytes and returns what goes on now.
    ///
    /// # Errors
    /// A channel a viewer may not open, or a stream that cannot be framed.
    pub fn apply(&mut self, chunk: Bytes) -> Result<Bytes, Error> {
        let mut out = BytesMut::with_capacity(chunk.len());
        let mut at = 0;
        while at < chunk.len() {
            let span = self
                .framer
                .consume(&chunk[at..])
                .map_err(|error| Error::Refused(error.to_string()))?;
            let bytes = &chunk[at..at + span.len];
            at += span.len;
            match span.part {
                Part::Link => {
                    self.check_link()?;
                    out.extend_from_slice(bytes);
                }
                Part::Header(None) => self.pending.extend_from_slice(bytes),
                Part::Header(Some(kind)) => {
                    self.pending.extend_from_slice(bytes);
                    let header = self.pending.split();
                    self.dropping = self.drops(kind);
                    if self.dropping {
                        tracing::debug!(kind, "agent message from a view-only viewer dropped");
                    } else {
                        out.extend_from_slice(&header);
                    }
                }
                Part::Body(_) if self.dropping => {}
                Part::Body(_) => out.extend_from_slice(bytes),
            }
        }
        Ok(out.freeze())
    }

    /// Refuses a channel that acts on the guest, as soon as the link message is read.
    fn check_link(&mut self) -> Result<(), Error> {
        if self.checked {
            return Ok(());
        }
        let Some(link) = self.framer.link() else {
            return Ok(());
        };
        self.checked = true;
        if WATCH.contains(&link.channel_type) {
            Ok(())
        } else {
            Err(Error::ViewOnlyChannel(link.channel_type))
        }
    }

    fn drops(&self, kind: u16) -> bool {
        let main = self
            .framer
            .link()
            .is_some_and(|link| link.channel_type == channel::MAIN);
        main && kind == MAIN_AGENT_DATA
    }
}
