//! The token a browser presents, and its sha256: sources are indexed by the hash (nova's
//! `token_hash`), and the final comparison is constant-time. No I/O.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Tokens longer than this are refused before hashing: nova's are 36 characters, ours 43, a
/// JWT signed with a 4096-bit RSA key about 900, that JWT encrypted to another 4096-bit RSA key
/// (a JWE) about 2,100.
pub const MAX_TOKEN_LEN: usize = 4096;

/// A token as presented by a browser. `Debug` prints only its hash prefix.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Takes a presented token, if it is of a sane length.
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty() && text.len() <= MAX_TOKEN_LEN).then(|| Self(text.to_owned()))
    }

    /// Its sha256, as nova stores it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token itself: for printing to the operator who issued it, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Token({})", self.hash().short())
    }
}

/// sha256 of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// How many hex characters of a token's hash the logs and the audit trail show: enough to
/// follow a token through them, useless to guess it.
pub const LOG_PREFIX: usize = 8;

/// How many hex characters of a token's hash `token list` and the admin API show, and the
/// fewest `token revoke` takes.
pub const REVOKE_PREFIX: usize = 12;

/// The first `count` characters of a hash's hex text, as stored (a row may hold anything).
pub fn hex_prefix(hex: &str, count: usize) -> String {
    hex.chars().take(count).collect()
}

impl TokenHash {
    /// Hashes the UTF-8 bytes of a token, unsalted, as nova's `get_sha256_str` does.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex, nova's `token_hash` column.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first [`LOG_PREFIX`] hex characters, for logs and the audit trail.
    pub fn short(&self) -> String {
        hex_prefix(&self.to_hex(), LOG_PREFIX)
    }

    /// The first [`REVOKE_PREFIX`] hex characters, as `token list` shows them.
    pub fn prefix(&self) -> String {
        hex_prefix(&self.to_hex(), REVOKE_PREFIX)
    }

    /// Constant-time equality, so that no timing tells how much of a hash matched.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "TokenHash({})", self.short())
    }
}
