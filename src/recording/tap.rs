//! The relay's side of a recording: each chunk queued for the writer without waiting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use crate::console::ConsoleKind;
use crate::rfb::client_messages::{self, ClientMessage};

/// Bytes a session may have queued for its writer: past this the disk is not keeping up.
const QUEUED_BYTES: usize = 32 << 20;

/// What goes to the writer thread.
pub(super) enum Item {
    /// Bytes from the console server.
    Server(Duration, Bytes),
    /// Bytes from the browser (as relayed, after the policy's filter).
    Client(Duration, Bytes),
}

/// Largest browser message held to be classified: the clipboard's own limit and its header.
const MAX_HELD: usize = (1 << 20) + 8;

/// A recording that must go on could not keep up, or its writer failed: the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the recording could not keep up, and this console must be recorded")]
pub struct Overflow;

/// One direction of a session's recording.
pub struct Tap {
    sender: mpsc::SyncSender<Item>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
    started: Instant,
    server: bool,
    upstream: Upstream,
    required: bool,
}

impl Tap {
    pub(super) fn new(
        sender: mpsc::SyncSender<Item>,
        queued: Arc<AtomicUsize>,
        dropped: Arc<AtomicBool>,
        started: Instant,
        server: bool,
        upstream: Upstream,
        required: bool,
    ) -> Self {
        Self {
            sender,
            queued,
            dropped,
            started,
            server,
            upstream,
            required,
        }
    }

    /// Queues what of `chunk` is recorded.
    ///
    /// # Errors
    /// The queue is full or the writer is gone, and the recording is required.
    pub fn record(&mut self, chunk: &Bytes) -> Result<(), Overflow> {
        if self.dropped.load(Ordering::Relaxed) {
            return Ok(());
        }
        let kept = if self.server {
            chunk.clone()
        } else {
            self.upstream.kept(chunk)
        };
        if kept.is_empty() {
            return Ok(());
        }
        let at = self.started.elapsed();
        let length = kept.len();
        let full = self.queued.fetch_add(length, Ordering::Relaxed) + length > QUEUED_BYTES;
        let item = if self.server {
            Item::Server(at, kept)
        } else {
            Item::Client(at, kept)
        };
        if full || self.sender.try_send(item).is_err() {
            self.queued.fetch_sub(length, Ordering::Relaxed);
            if self.required {
                return Err(Overflow);
            }
            if !self.dropped.swap(true, Ordering::Relaxed) {
                tracing::warn!("recording dropped: the disk did not keep up");
            }
        }
        Ok(())
    }
}

/// What of the browser's bytes a recording keeps.
pub(super) enum Upstream {
    /// Everything (`record_input`).
    All,
    /// Nothing (serial and SPICE without `record_input`).
    Nothing,
    /// RFB without input: ClientInit, SetPixelFormat and SetEncodings, what replaying needs.
    Rfb {
        init_seen: bool,
        held: BytesMut,
        /// A message that could not be framed: nothing more is classified.
        lost: bool,
    },
}

impl Upstream {
    pub(super) fn new(kind: ConsoleKind, input: bool) -> Self {
        match (input, kind.is_rfb()) {
            (true, _) => Self::All,
            (false, true) => Self::Rfb {
                init_seen: false,
                held: BytesMut::new(),
                lost: false,
            },
            (false, false) => Self::Nothing,
        }
    }

    fn kept(&mut self, chunk: &Bytes) -> Bytes {
        let (init_seen, held, lost) = match self {
            Self::All => return chunk.clone(),
            Self::Nothing => return Bytes::new(),
            Self::Rfb {
                init_seen,
                held,
                lost,
            } => (init_seen, held, lost),
        };
        if *lost {
            return Bytes::new();
        }
        let mut kept = BytesMut::new();
        let mut chunk = chunk.clone();
        if !*init_seen && chunk.has_remaining() {
            // ClientInit: the shared flag.
            kept.extend_from_slice(&chunk.split_to(1));
            *init_seen = true;
        }
        held.extend_from_slice(&chunk);
        loop {
            match client_messages::frame(held, MAX_HELD) {
                Ok(Some((message, length))) => {
                    let whole = held.split_to(length);
                    if matches!(
                        message,
                        ClientMessage::SetPixelFormat | ClientMessage::SetEncodings
                    ) {
                        kept.extend_from_slice(&whole);
                    }
                }
                Ok(None) if held.len() <= MAX_HELD => break,
                Ok(None) | Err(_) => {
                    *lost = true;
                    held.clear();
                    tracing::debug!("browser messages no longer classified for the recording");
                    break;
                }
            }
        }
        kept.freeze()
    }
}

impl crate::relay::tap::Tap for Tap {
    fn seen(&mut self, chunk: &Bytes) -> Result<(), crate::relay::tap::Unrecorded> {
        self.record(chunk)
            .map_err(|Overflow| crate::relay::tap::Unrecorded)
    }
}

#[cfg(test)]
mod tests {
    use super::Upstream;
    use crate::console::ConsoleKind;
    use bytes::Bytes;

    #[test]
    fn only_what_replay_needs_is_kept_of_the_browsers_bytes() {
        let mut upstream = Upstream::new(ConsoleKind::Novnc, false);
        let pixel_format = [0u8; 20];
        let encodings = [2, 0, 0, 1, 0, 0, 0, 7];
        let key = [4, 1, 0, 0, 0, 0, 0, b'p'];
        let mut stream = vec![1];
        stream.extend_from_slice(&key);
        stream.extend_from_slice(&pixel_format);
        stream.extend_from_slice(&encodings);
        stream.extend_from_slice(&key);
        // Every chunking: a message cut anywhere is still classified whole.
        for cut in 0..stream.len() {
            let mut upstream2 = Upstream::new(ConsoleKind::Novnc, false);
            let (a, b) = stream.split_at(cut);
            let mut kept = upstream2.kept(&Bytes::copy_from_slice(a)).to_vec();
            kept.extend_from_slice(&upstream2.kept(&Bytes::copy_from_slice(b)));
            let mut expected = vec![1];
            expected.extend_from_slice(&pixel_format);
            expected.extend_from_slice(&encodings);
            assert_eq!(kept, expected, "cut at {cut}");
        }
        assert_eq!(upstream.kept(&Bytes::from_static(&[1])).as_ref(), [1]);
    }

    #[test]
    fn serial_input_is_kept_only_when_asked() {
        let typed = Bytes::from_static(b"secret\r");
        assert!(Upstream::new(ConsoleKind::Serial, false)
            .kept(&typed)
            .is_empty());
        assert_eq!(Upstream::new(ConsoleKind::Serial, true).kept(&typed), typed);
    }
}
