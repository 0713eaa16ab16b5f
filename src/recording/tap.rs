//! The relay's side of a recording: each chunk handed to the writer at once while the
//! session's queue has room. A queue that is full holds the relay back until the writer catches
//! up (a burst is slowed to the disk's pace, never lost); a writer that makes no progress for
//! [`STALL`] ends a session that must be recorded, or drops a best-effort recording.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::Semaphore;

use crate::console::ConsoleKind;
use crate::relay::tap::{Seen, Unrecorded};
use crate::rfb::client_messages::{self, ClientMessage};

/// Bytes a session may have queued for its writer.
pub(super) const QUEUED_BYTES: usize = 32 << 20;

/// How long a full queue may stay full before the recording counts as failed.
pub(super) const STALL: Duration = Duration::from_secs(10);

/// What goes to the writer thread, and the queue room it holds.
pub(super) enum Item {
    /// Bytes from the console server.
    Server(Duration, Bytes),
    /// Bytes from the browser (as relayed, after the policy's filter).
    Client(Duration, Bytes),
}

impl Item {
    /// The queue room it holds, given back once it is written.
    pub(super) fn room(&self) -> u32 {
        let (Self::Server(_, bytes) | Self::Client(_, bytes)) = self;
        room(bytes.len())
    }
}

fn room(length: usize) -> u32 {
    u32::try_from(length.min(QUEUED_BYTES)).unwrap_or(u32::MAX)
}

/// Largest browser message held to be classified: the clipboard's own limit and its header.
const MAX_HELD: usize = (1 << 20) + 8;

/// What a tap shares with its recording.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) sender: mpsc::Sender<Item>,
    pub(super) queue: Arc<Semaphore>,
    pub(super) dropped: Arc<AtomicBool>,
    pub(super) started: Instant,
    pub(super) required: bool,
}

impl Shared {
    /// A recording that cannot go on: the session ends if it must be recorded, else the
    /// recording is dropped and the session goes on.
    fn failed(&self) -> Result<(), Unrecorded> {
        if self.required {
            return Err(Unrecorded);
        }
        if !self.dropped.swap(true, Ordering::Relaxed) {
            tracing::warn!("recording dropped: the disk did not keep up");
        }
        Ok(())
    }

    fn send(&self, item: Item) -> Result<(), Unrecorded> {
        match self.sender.send(item) {
            Ok(()) => Ok(()),
            // The writer stopped: the file could not be written.
            Err(_) => self.failed(),
        }
    }
}

/// One direction of a session's recording.
pub struct Tap {
    shared: Shared,
    server: bool,
    upstream: Upstream,
}

impl Tap {
    pub(super) fn new(shared: Shared, server: bool, upstream: Upstream) -> Self {
        Self {
            shared,
            server,
            upstream,
        }
    }
}

impl crate::relay::tap::Tap for Tap {
    fn seen(&mut self, chunk: &Bytes) -> Seen {
        if self.shared.dropped.load(Ordering::Relaxed) {
            return Seen::Taken;
        }
        let kept = if self.server {
            chunk.clone()
        } else {
            self.upstream.kept(chunk)
        };
        if kept.is_empty() {
            return Seen::Taken;
        }
        let at = self.shared.started.elapsed();
        let item = if self.server {
            Item::Server(at, kept)
        } else {
            Item::Client(at, kept)
        };
        let need = item.room();
        match self.shared.queue.try_acquire_many(need) {
            Ok(permit) => {
                permit.forget();
                match self.shared.send(item) {
                    Ok(()) => Seen::Taken,
                    Err(Unrecorded) => Seen::Unrecorded,
                }
            }
            Err(_) => {
                let shared = self.shared.clone();
                Seen::Later(Box::pin(async move {
                    let queue = shared.queue.clone();
                    match tokio::time::timeout(STALL, queue.acquire_many_owned(need)).await {
                        Ok(Ok(permit)) => {
                            permit.forget();
                            shared.send(item)
                        }
                        _ => shared.failed(),
                    }
                }))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::{Shared, Tap, Upstream};
    use crate::console::ConsoleKind;
    use crate::relay::tap::{Seen, Tap as _, Unrecorded};
    use bytes::Bytes;
    use std::sync::{mpsc, Arc};

    fn tap_with(room: usize, required: bool) -> (Tap, mpsc::Receiver<super::Item>, Shared) {
        let (sender, receiver) = mpsc::channel();
        let shared = Shared {
            sender,
            queue: Arc::new(tokio::sync::Semaphore::new(room)),
            dropped: Arc::default(),
            started: std::time::Instant::now(),
            required,
        };
        (
            Tap::new(shared.clone(), true, Upstream::All),
            receiver,
            shared,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_holds_the_relay_until_the_writer_catches_up_or_stalls() {
        let chunk = Bytes::from_static(&[0; 8]);
        let (mut tap, receiver, shared) = tap_with(10, true);
        assert!(matches!(tap.seen(&chunk), Seen::Taken));
        let Seen::Later(waiting) = tap.seen(&chunk) else {
            panic!("a second chunk fits only once the first is written");
        };
        let first = receiver.recv().expect("the first chunk");
        shared.queue.add_permits(first.room() as usize);
        assert_eq!(waiting.await, Ok(()));
        // Nothing is written any more: a recording that must go on fails after STALL.
        let Seen::Later(stalled) = tap.seen(&chunk) else {
            panic!("no room");
        };
        assert_eq!(stalled.await, Err(Unrecorded));

        // A best-effort recording is dropped instead, and takes nothing more.
        let (mut tap, _receiver, shared) = tap_with(10, false);
        assert!(matches!(tap.seen(&chunk), Seen::Taken));
        let Seen::Later(stalled) = tap.seen(&chunk) else {
            panic!("no room");
        };
        assert_eq!(stalled.await, Ok(()));
        assert!(shared.dropped.load(std::sync::atomic::Ordering::Relaxed));
        assert!(matches!(tap.seen(&chunk), Seen::Taken));
    }

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
