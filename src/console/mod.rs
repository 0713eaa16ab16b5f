//! Plain types every layer may use: where a console lives ([`Target`]), what kind it is
//! ([`ConsoleKind`]), how the proxy authenticates to it ([`AuthScheme`]), secrets that never
//! reach a log ([`Secret`]) and peer text made safe for one ([`printable`]). No I/O, and no import from the rest of the crate: this is the leaf
//! that keeps the other modules from importing each other sideways.

mod clipboard;
mod policy;
mod thumbprint;
mod types;
mod webmks;

pub use clipboard::Clipboard;
pub use policy::Unenforceable;
pub use thumbprint::{BadThumbprint, Thumbprint};
pub use types::{printable, AuthScheme, ConsoleKind, Reach, Secret, Target};
pub use webmks::{ticket_target, BadTicket};
