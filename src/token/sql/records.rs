//! The rows the token CLI, the admin API and the session leases read and write. No I/O.

use std::time::SystemTime;

use crate::console::Target;
use crate::token::secret::TokenHash;

/// A token row as `token list` shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// sha256 hex of the token.
    pub hash: String,
    /// Target.
    pub target: Target,
    /// Unix seconds.
    pub expires: i64,
    /// The instance, as nova records it.
    pub instance_uuid: String,
    /// Whether it is consumed by its first session.
    pub single_use: bool,
    /// nova's console type.
    pub kind: String,
}

/// What to store for a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its hash.
    pub hash: TokenHash,
    /// The kind of console (nova's `console_type`).
    pub kind: crate::console::ConsoleKind,
    /// Where it leads.
    pub target: Target,
    /// A SPICE server's TLS port (nova's `tls_port`).
    pub tls_port: Option<u16>,
    /// How it is reached beyond its address.
    pub reach: crate::console::Reach,
    /// Its sessions may watch but not act (`view_only`).
    pub view_only: bool,
    /// Which way its sessions' clipboard may flow, when the issuer said.
    pub clipboard: Option<crate::console::Clipboard>,
    /// Whether its sessions are recorded, when the issuer said.
    pub record: Option<bool>,
    /// When it expires.
    pub expires: SystemTime,
    /// nova's instance UUID column; vncgate's own tokens put a placeholder there.
    pub instance_uuid: String,
    /// nova's access_url_base column.
    pub access_url_base: String,
    /// Consumed by the first session.
    pub single_use: bool,
    /// The person it is minted for.
    pub person: Option<crate::token::grant::Person>,
}

/// One session's lease: which slot, held by whom.
#[derive(Debug, Clone)]
pub struct LeaseKey {
    /// The token.
    pub hash: TokenHash,
    /// Its slot, from 0.
    pub slot: i64,
    /// The instance holding it.
    pub instance: String,
    /// This lease among the instance's, so that a late release never frees a slot the same
    /// instance took again for another session.
    pub lease: i64,
}

/// A session as published in the shared table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedSession {
    /// The instance holding it.
    pub instance: String,
    /// Its id on that instance.
    pub id: u64,
    /// The first characters of its token's hash.
    pub token_prefix: String,
    /// The client's address.
    pub client_ip: String,
    /// nova's console type.
    pub console: String,
    /// The console server.
    pub target: String,
    /// When it opened, in Unix seconds.
    pub started: u64,
    /// Bytes to the browser, as last published.
    pub bytes_down: u64,
    /// Bytes to the console server, as last published.
    pub bytes_up: u64,
    /// Whether it may only watch.
    pub view_only: bool,
    /// Which way its clipboard may flow.
    pub clipboard: String,
    /// The signed-in person's `sub`, when there was one.
    pub user: Option<String>,
    /// Their e-mail address, when known.
    pub email: Option<String>,
}
