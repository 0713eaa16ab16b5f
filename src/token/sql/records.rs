//! The rows the token CLI and admin API read and write. No I/O.

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
}

/// What to store for a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its hash.
    pub hash: TokenHash,
    /// Where it leads.
    pub target: Target,
    /// When it expires.
    pub expires: SystemTime,
    /// nova's instance UUID column; vncgate's own tokens put a placeholder there.
    pub instance_uuid: String,
    /// nova's access_url_base column.
    pub access_url_base: String,
    /// Consumed by the first session.
    pub single_use: bool,
}
