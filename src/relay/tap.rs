//! What sees each chunk the relay moves one way, after the filter: a session's recording. A
//! tap never waits; one that cannot keep up and must not lose anything ends the relay.

use bytes::Bytes;

/// A tap that could not take a chunk and may not lose it: the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unrecorded;

/// Sees each chunk relayed one way.
pub trait Tap: Send {
    /// Takes `chunk` without waiting.
    ///
    /// # Errors
    /// [`Unrecorded`] when the chunk could not be taken and must not be lost.
    fn seen(&mut self, chunk: &Bytes) -> Result<(), Unrecorded>;
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

/// Passes `chunk` to `tap`, if any.
pub(super) fn seen(tap: &mut Option<Box<dyn Tap>>, chunk: &Bytes) -> Result<(), Unrecorded> {
    match tap {
        Some(tap) => tap.seen(chunk),
        None => Ok(()),
    }
}
