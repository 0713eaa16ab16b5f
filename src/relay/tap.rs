//! What sees each chunk the relay moves one way, after the filter: a session's recording. A
//! tap takes a chunk at once while it has room; when it has none the relay waits for it (the
//! direction is slowed, nothing is lost), and a tap that cannot take it at all ends the relay.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A tap that could not take a chunk and may not lose it: the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrecorded;

/// A tap's promise to take a chunk once it has room.
pub type Taking = Pin<Box<dyn Future<Output = Result<(), Unrecorded>> + Send>>;

/// What a tap did with a chunk.
pub enum Seen {
    /// Taken.
    Taken,
    /// Taken once this resolves: the relay waits for it before the next chunk.
    Later(Taking),
    /// Not taken, and it may not be lost.
    Unrecorded,
}

/// Sees each chunk relayed one way.
pub trait Tap: Send {
    /// Takes `chunk`, or says when it will.
    fn seen(&mut self, chunk: &Bytes) -> Seen;
}

/// The taps of one relay, one per direction.
#[derive(Default)]
pub struct Taps {
    /// What the console server sent.
    pub to_browser: Option<Box<dyn Tap>>,
    /// What the browser sent, as relayed.
    pub to_server: Option<Box<dyn Tap>>,
}

impl std::fmt::Debug for Taps {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Taps")
            .field("to_browser", &self.to_browser.is_some())
            .field("to_server", &self.to_server.is_some())
            .finish()
    }
}

impl Taps {
    /// Whether anything taps the relay (then nothing is spliced past it).
    pub fn any(&self) -> bool {
        self.to_browser.is_some() || self.to_server.is_some()
    }
}

/// Passes `chunk` to `tap`, if any, waiting while it has no room.
pub(super) async fn seen(tap: &mut Option<Box<dyn Tap>>, chunk: &Bytes) -> Result<(), Unrecorded> {
    match tap.as_mut().map(|tap| tap.seen(chunk)) {
        None | Some(Seen::Taken) => Ok(()),
        Some(Seen::Later(taken)) => taken.await,
        Some(Seen::Unrecorded) => Err(Unrecorded),
    }
}
