//! Console tokens: the secret a browser presents, its hash, and the grant it maps to.
//!
//! A token is never kept or compared in the clear: sources are indexed by its sha256 (nova's
//! `token_hash`), and the final comparison is constant-time.

mod file;
pub mod issue;
pub mod sql;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;

pub use file::{parse_line, FileSource, LineError};
pub use sql::{SqlStore, StoreError};

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

/// Why a token was refused. Logged; the browser only sees the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No token in the query or cookie, or one of absurd length.
    Missing,
    /// No source knows it.
    Unknown,
    /// Known, but past its expiry.
    Expired,
    /// A single-use token another session already took.
    AlreadyUsed,
    /// `max_sessions_per_token` sessions are open with it already.
    TooManySessions(usize),
    /// The token database did not answer: 503, not 403.
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status for the refused upgrade.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unavailable(_) => 503,
            Self::TooManySessions(_) => 429,
            _ => 403,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => formatter.write_str("no token"),
            Self::Unknown => formatter.write_str("unknown token"),
            Self::Expired => formatter.write_str("expired token"),
            Self::AlreadyUsed => formatter.write_str("single-use token already used"),
            Self::TooManySessions(max) => {
                write!(formatter, "token already has {max} sessions open")
            }
            Self::Unavailable(error) => write!(formatter, "token database unavailable: {error}"),
        }
    }
}

/// A live session's claim on its token; dropping it frees the slot.
#[derive(Debug)]
pub struct SessionSlot {
    counts: Arc<Mutex<HashMap<TokenHash, usize>>>,
    hash: TokenHash,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.hash) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.hash);
            }
        }
    }
}

/// A token accepted for one session.
#[derive(Debug)]
pub struct Admission {
    /// What it grants.
    pub grant: Grant,
    /// Its slot under `max_sessions_per_token`.
    pub slot: SessionSlot,
}

/// All token sources: the websockify-format files first (they win a clash: they are local and
/// explicit), then the SQL store.
#[derive(Debug, Default)]
pub struct TokenStore {
    files: Option<FileSource>,
    sql: Option<SqlStore>,
    max_sessions: usize,
    counts: Arc<Mutex<HashMap<TokenHash, usize>>>,
}

impl TokenStore {
    /// A store over token files and an optional SQL store.
    pub fn new(files: Option<PathBuf>, sql: Option<SqlStore>, max_sessions: usize) -> Self {
        Self {
            files: files.map(FileSource::new),
            sql,
            max_sessions,
            counts: Arc::default(),
        }
    }

    /// A store over a websockify-format file or directory only.
    pub fn with_files(path: Option<PathBuf>) -> Self {
        Self::new(path, None, 0)
    }

    /// The SQL store, if any.
    pub fn sql(&self) -> Option<&SqlStore> {
        self.sql.as_ref()
    }

    /// Whether a token would be admitted now, without consuming or counting anything.
    ///
    /// # Errors
    /// The reason it would be refused.
    pub async fn check(&self, token: &Token) -> Result<(), Refusal> {
        let (grant, _) = self.find(token).await?;
        if grant.is_live(SystemTime::now()) {
            Ok(())
        } else {
            Err(Refusal::Expired)
        }
    }

    async fn find(&self, token: &Token) -> Result<(Grant, bool), Refusal> {
        let hash = token.hash();
        let mut found = match &self.files {
            Some(files) => files.lookup(&hash).await.map(|grant| (grant, false)),
            None => None,
        };
        if found.is_none() {
            if let Some(sql) = &self.sql {
                found = sql
                    .lookup(&hash)
                    .await
                    .map_err(|e| Refusal::Unavailable(e.to_string()))?;
            }
        }
        found.ok_or(Refusal::Unknown)
    }

    /// Looks a token up, checks its expiry, consumes it if single-use, and takes a session slot.
    ///
    /// # Errors
    /// The reason for refusal.
    pub async fn admit(&self, token: &Token) -> Result<Admission, Refusal> {
        let hash = token.hash();
        let (grant, single_use) = self.find(token).await?;
        if !grant.is_live(SystemTime::now()) {
            return Err(Refusal::Expired);
        }
        let slot = self.take_slot(hash)?;
        if single_use {
            let sql = self.sql.as_ref().ok_or(Refusal::Unknown)?;
            if !sql
                .consume(&hash)
                .await
                .map_err(|e| Refusal::Unavailable(e.to_string()))?
            {
                return Err(Refusal::AlreadyUsed);
            }
        }
        Ok(Admission { grant, slot })
    }

    fn take_slot(&self, hash: TokenHash) -> Result<SessionSlot, Refusal> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(hash).or_insert(0);
        if self.max_sessions > 0 && *count >= self.max_sessions {
            return Err(Refusal::TooManySessions(self.max_sessions));
        }
        *count += 1;
        Ok(SessionSlot {
            counts: self.counts.clone(),
            hash,
        })
    }
}
