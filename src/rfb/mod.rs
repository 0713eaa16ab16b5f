//! The RFB 3.8 security proxy: the proxy authenticates to the VNC server as a client (VeNCrypt
//! X509None with mutual TLS, VNC password, or none, in the configured order) and shows the
//! browser a plain RFB 3.8 server offering security type None, since the token has already
//! authenticated the user.
//!
//! [`wire`], [`handshake`] (toward the server) and [`greeting`] (toward the browser) do no I/O;
//! [`driver`] runs the server handshake over any byte stream. Nothing here knows of HTTP,
//! WebSockets, tokens or configuration files: only [`crate::console`]'s plain types.

pub mod client_messages;
pub mod driver;
pub mod encodings;
mod error;
pub mod greeting;
pub mod handshake;
pub mod password;
pub mod pixel_format;
pub mod security;
pub mod server_messages;
pub mod wire;

pub use error::Error;
