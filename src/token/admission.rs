//! The outcome of presenting a token: an [`Admission`] with its session slot, or a
//! [`Refusal`] with its HTTP status. No I/O.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use http::StatusCode;

use super::grant::Grant;
use super::lease::Lease;
use super::secret::TokenHash;
use super::sql::StoreError;
use crate::console::ConsoleKind;

/// Why a token was refused. Logged; the browser only sees the HTTP status.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// No token in the query or cookie, or one of absurd length.
    Missing,
    /// No source knows it.
    Unknown,
    /// Known, but past its expiry.
    Expired,
    /// A token for another kind of console than this port serves (a `webmks` token on the
    /// noVNC port): nova runs a proxy per kind, and so does each port here.
    OtherConsole(ConsoleKind),
    /// A single-use token another session already took.
    AlreadyUsed,
    /// `max_sessions_per_token` sessions are open with it already.
    TooManySessions(usize),
    /// The token database did not answer: 503, not 403.
    Unavailable(Arc<StoreError>),
    /// The lookup took longer than the handshake deadline: 503.
    TimedOut,
}

impl Refusal {
    /// The HTTP status for the refused upgrade.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unavailable(_) | Self::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManySessions(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Missing
            | Self::Unknown
            | Self::Expired
            | Self::AlreadyUsed
            | Self::OtherConsole(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The `reason` label of `vncgate_refusals_total`.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing_token",
            Self::Unknown => "unknown_token",
            Self::Expired => "expired",
            Self::OtherConsole(_) => "other_console_type",
            Self::AlreadyUsed => "already_used",
            Self::TooManySessions(_) => "session_cap",
            Self::Unavailable(_) => "database_unavailable",
            Self::TimedOut => "database_timeout",
        }
    }

    /// A refusal for a database that did not answer.
    pub fn unavailable(error: StoreError) -> Self {
        Self::Unavailable(Arc::new(error))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => formatter.write_str("no token"),
            Self::Unknown => formatter.write_str("unknown token"),
            Self::Expired => formatter.write_str("expired token"),
            Self::OtherConsole(kind) => {
                write!(formatter, "a {kind} token, not served on this port")
            }
            Self::AlreadyUsed => formatter.write_str("single-use token already used"),
            Self::TooManySessions(max) => {
                write!(formatter, "token already has {max} sessions open")
            }
            Self::Unavailable(error) => write!(formatter, "token database unavailable: {error}"),
            Self::TimedOut => formatter.write_str("token lookup timed out"),
        }
    }
}

/// A live session's claim on its token; dropping it frees the slot.
#[derive(Debug)]
pub struct SessionSlot {
    pub(super) _claim: Claim,
}

impl SessionSlot {
    /// A slot that counts nothing (no `max_sessions_per_token`).
    pub fn uncounted() -> Self {
        Self {
            _claim: Claim::Uncounted,
        }
    }
}

/// How the slot is held.
#[derive(Debug)]
pub(super) enum Claim {
    /// No cap.
    Uncounted,
    /// Counted in this instance only.
    Local { _count: LocalCount },
    /// A lease in the shared database, counted across instances.
    Shared { _lease: Lease },
}

/// A slot counted in this instance.
#[derive(Debug)]
pub(super) struct LocalCount {
    pub(super) counts: Arc<Mutex<HashMap<TokenHash, usize>>>,
    pub(super) hash: TokenHash,
}

impl Drop for LocalCount {
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
    /// Whether it was a single-use token, consumed by this admission.
    pub single_use: bool,
}
