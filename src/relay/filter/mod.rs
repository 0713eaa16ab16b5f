//! Per-direction message filters for the relay: sans-IO parsers that may pass, drop or rewrite
//! whole protocol messages between the browser and the console server. No I/O.
//!
//! A closed set, so an enum: [`Filter::Pass`] relays bytes as they come, at no cost. A policy
//! that needs to see messages (view-only, clipboard direction) adds a variant whose parser
//! holds back a partial message until the rest arrives.

mod client;
mod error;
mod server;
mod spice;

use bytes::Bytes;

pub use client::{held, ClientFilter, Policy, HELD_BUDGET, MAX_CLIPBOARD};
pub use error::Error;
pub use server::{PixelCell, ServerFilter};
pub use spice::SpiceFilter;

use crate::console::{Clipboard, ConsoleKind};

/// One direction's filter.
#[derive(Debug, Default)]
pub enum Filter {
    /// Everything passes unchanged.
    #[default]
    Pass,
    /// The browser's first RFB byte, ClientInit's shared flag, goes on as 1 when it was 0
    /// (exclusive); any other value already means shared. Everything after passes unchanged.
    /// With shared = 0, QEMU (its default share policy) and most VNC servers disconnect every
    /// other viewer of the console: one browser must not knock off the others.
    SharedClientInit {
        /// Whether ClientInit went by.
        done: bool,
    },
    /// ClientInit shared as above, then every client message framed and the session's policy
    /// applied ([`ClientFilter`]).
    Client(Box<ClientFilter>),
    /// Every server message framed, clipboard texts dropped ([`ServerFilter`]).
    Server(Box<ServerFilter>),
    /// Nothing passes: the browser's side of a view-only serial console.
    Discard,
    /// A view-only SPICE channel: the link checked, the agent's messages dropped
    /// ([`SpiceFilter`]).
    Spice(Box<SpiceFilter>),
}

impl Filter {
    /// Takes the next bytes of the direction and returns what goes on now; what it holds back
    /// comes out with a later call.
    ///
    /// # Errors
    /// A message the filter refuses; the session ends.
    pub fn apply(&mut self, chunk: Bytes) -> Result<Bytes, Error> {
        match self {
            Self::Pass => Ok(chunk),
            Self::SharedClientInit { done } => {
                if *done || chunk.is_empty() {
                    return Ok(chunk);
                }
                *done = true;
                // Any non-zero flag already means shared.
                if chunk.first() != Some(&0) {
                    return Ok(chunk);
                }
                let mut shared = chunk.to_vec();
                if let Some(flag) = shared.first_mut() {
                    *flag = 1;
                }
                Ok(Bytes::from(shared))
            }
            Self::Client(filter) => filter.apply(chunk),
            Self::Server(filter) => filter.apply(chunk),
            Self::Discard => Ok(Bytes::new()),
            Self::Spice(filter) => filter.apply(chunk),
        }
    }

    /// The browser→server filter of an RFB console: ClientInit always shared.
    pub fn shared_client_init() -> Self {
        Self::SharedClientInit { done: false }
    }

    /// The browser→server filter of a view-only RFB console; clipboard texts up to `max` bytes
    /// are framed (and dropped).
    pub fn view_only(max: usize) -> Self {
        let policy = Policy {
            view_only: true,
            clipboard: Clipboard::Both,
        };
        Self::Client(Box::new(ClientFilter::new(policy, max, None)))
    }
}

/// The filters of one session, one per direction.
#[derive(Debug, Default)]
pub struct Filters {
    /// Browser → console server.
    pub to_server: Filter,
    /// Console server → browser.
    pub to_browser: Filter,
    /// What sees each direction after its filter (a recording).
    pub taps: super::tap::Taps,
}

impl Filters {
    /// The filters a session of `kind` with `policy` needs; the policy was checked against
    /// the kind at admission ([`ConsoleKind::enforces`]). Clipboard texts up to `max` bytes
    /// are taken.
    pub fn for_console(kind: ConsoleKind, policy: Policy, max: usize) -> Self {
        let to_server = match kind {
            ConsoleKind::Novnc => return Self::rfb(policy, max),
            ConsoleKind::Serial if policy.view_only => Filter::Discard,
            ConsoleKind::SpiceHtml5 if policy.view_only => Filter::Spice(Box::default()),
            ConsoleKind::Serial | ConsoleKind::SpiceHtml5 | ConsoleKind::Webmks => Filter::Pass,
        };
        Self {
            to_server,
            to_browser: Filter::Pass,
            taps: super::tap::Taps::default(),
        }
    }

    /// The filters an RFB session with `policy` needs: the plain relay (ClientInit shared)
    /// unless the policy restricts something; the server's messages are framed only when the
    /// clipboard may not flow to the browser. Clipboard texts up to `max` bytes are taken.
    pub fn rfb(policy: Policy, max: usize) -> Self {
        let restricted = policy.view_only || policy.clipboard != Clipboard::Both;
        if !restricted {
            return Self {
                to_server: Filter::shared_client_init(),
                to_browser: Filter::Pass,
                taps: super::tap::Taps::default(),
            };
        }
        let cell = (!policy.clipboard.from_guest()).then(PixelCell::default);
        let to_browser = match &cell {
            Some(cell) => Filter::Server(Box::new(ServerFilter::new(cell.clone()))),
            None => Filter::Pass,
        };
        Self {
            to_server: Filter::Client(Box::new(ClientFilter::new(policy, max, cell))),
            to_browser,
            taps: super::tap::Taps::default(),
        }
    }
}

#[cfg(test)]
mod tests;
