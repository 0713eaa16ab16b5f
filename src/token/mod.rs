//! Console tokens: the secret a browser presents, its hash, and the grant it maps to.
//!
//! A token is never kept or compared in the clear: sources are indexed by its sha256 (nova's
//! `token_hash`), and the final comparison is constant-time.

mod file;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;

pub use file::{parse_line, FileSource, LineError};

/// Tokens longer than this are refused before hashing: nova's are 36 characters, ours 43.
pub const MAX_TOKEN_LEN: usize = 256;

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

impl TokenHash {
    /// Hashes the UTF-8 bytes of a token, unsalted, as nova's `get_sha256_str` does.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex, nova's `token_hash` column.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex characters: enough to follow a token through the logs, useless to guess it.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
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

/// Where a console lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(formatter, "[{}]:{}", self.host, self.port)
        } else {
            write!(formatter, "{}:{}", self.host, self.port)
        }
    }
}

/// What a valid token grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The VNC server.
    pub target: Target,
    /// When the token stops being valid; `None` for file tokens without `expires=`.
    pub expires: Option<SystemTime>,
    /// VNC password for the `vnc` scheme, held by the proxy only.
    pub password: Option<Secret>,
}

impl Grant {
    /// Whether the grant is still valid at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|expires| expires > now)
    }

    /// Time left before expiry, if it expires.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires
            .map(|expires| expires.duration_since(now).unwrap_or_default())
    }
}

/// Why a token was refused. Logged; the browser only sees a 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token in the query or cookie, or one of absurd length.
    Missing,
    /// No source knows it.
    Unknown,
    /// Known, but past its expiry.
    Expired,
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Missing => "no token",
            Self::Unknown => "unknown token",
            Self::Expired => "expired token",
        })
    }
}

/// All token sources, asked in order.
#[derive(Debug, Default)]
pub struct TokenStore {
    files: Option<FileSource>,
}

impl TokenStore {
    /// A store over a websockify-format file or directory.
    pub fn with_files(path: Option<PathBuf>) -> Self {
        Self {
            files: path.map(FileSource::new),
        }
    }

    /// Looks a token up and checks its expiry.
    ///
    /// # Errors
    /// The reason for refusal.
    pub async fn validate(&self, token: &Token) -> Result<Grant, Refusal> {
        let hash = token.hash();
        let grant = match &self.files {
            Some(files) => files.lookup(&hash).await,
            None => None,
        };
        let grant = grant.ok_or(Refusal::Unknown)?;
        if grant.is_live(SystemTime::now()) {
            Ok(grant)
        } else {
            Err(Refusal::Expired)
        }
    }
}
