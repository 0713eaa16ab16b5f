//! The outcome of presenting a token: an [`Admission`] with its session slot, or a
//! [`Refusal`] with its HTTP status. No I/O.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use http::StatusCode;

use super::grant::Grant;
use super::lease::Lease;
use super::secret::{Token, TokenHash};
use super::sql::StoreError;
use crate::console::ConsoleKind;

/// Every reason a request is refused, at the edge or at admission: the `reason` label of
/// `vncgate_refusals_total` and of the audit trail's `refusal` events, written in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// No token.
    MissingToken,
    /// No source knows the token.
    UnknownToken,
    /// The token expired.
    Expired,
    /// A token for another kind of console.
    OtherConsoleType,
    /// A single-use token used already.
    AlreadyUsed,
    /// The token's sessions are at `max_sessions_per_token`.
    SessionCap,
    /// The token database did not answer.
    DatabaseUnavailable,
    /// The lookup outlasted the handshake deadline.
    DatabaseTimeout,
    /// A trusted peer sent no valid PROXY header.
    ProxyProtocol,
    /// The client holds `max_connections_per_ip` connections.
    ConnectionCap,
    /// Plain HTTP while `ssl_only` is set.
    PlainHttp,
    /// The client spent its refusals (`max_refusals_per_ip_per_minute`).
    RateLimited,
    /// A foreign Origin.
    Origin,
    /// A session policy the console's kind cannot enforce.
    PolicyUnenforceable,
    /// A console server outside `allowed_backends`.
    BackendNotAllowed,
    /// A console server whose name does not resolve.
    BackendUnresolvable,
    /// A token's libvirt domain is not running, not there, or has no such console.
    VmUnavailable,
    /// The hypervisor of a token's libvirt domain cannot be asked.
    HypervisorUnavailable,
    /// A token minted for another person than the browser's.
    OtherPerson,
    /// A console `access_policy` does not grant the signed-in person.
    NotGranted,
    /// `require_login`, and the browser is not signed in.
    SignInRequired,
}

impl RefusalReason {
    /// The label.
    pub fn label(self) -> &'static str {
        match self {
            Self::VmUnavailable => "vm_unavailable",
            Self::OtherPerson => "other_person",
            Self::NotGranted => "not_granted",
            Self::SignInRequired => "sign_in_required",
            Self::HypervisorUnavailable => "hypervisor_unavailable",
            Self::MissingToken => "missing_token",
            Self::UnknownToken => "unknown_token",
            Self::Expired => "expired",
            Self::OtherConsoleType => "other_console_type",
            Self::AlreadyUsed => "already_used",
            Self::SessionCap => "session_cap",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::DatabaseTimeout => "database_timeout",
            Self::ProxyProtocol => "proxy_protocol",
            Self::ConnectionCap => "connection_cap",
            Self::PlainHttp => "plain_http",
            Self::RateLimited => "rate_limited",
            Self::Origin => "origin",
            Self::PolicyUnenforceable => "policy_unenforceable",
            Self::BackendNotAllowed => "backend_not_allowed",
            Self::BackendUnresolvable => "backend_unresolvable",
        }
    }
}

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
    /// Minted for a person, or claimed by one, and the browser is not signed in as them.
    OtherPerson,
    /// `require_login`, and the browser is not signed in.
    SignInRequired,
    /// `access_policy` grants the console to none of the signed-in person's rules.
    NotGranted,
}

/// Who opens a token: the person signed in in the browser, and the claims when
/// `require_login` is on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The person signed in in the browser, if any.
    pub person: Option<&'a crate::signin::Identity>,
    /// `require_login`: a signed-in person is needed, and claims the tokens that name no one.
    pub claims: Option<&'a super::claims::Claims>,
    /// `access_policy` rules by nova project, asked for the signed-in person (under
    /// `require_login`, when a rule grants by project).
    pub by_project: Option<&'a crate::access::Policy>,
}

impl Caller<'_> {
    /// The signed-in person's `sub`.
    pub fn sub(&self) -> Option<&str> {
        self.person.map(|who| who.sub.as_str())
    }

    /// Claims a token that names no one for the signed-in person under `require_login`: the
    /// last step of admission, after every check that could refuse it, so that a refused
    /// stranger never claims a token.
    ///
    /// # Errors
    /// [`Refusal::OtherPerson`]: another person claimed it first.
    pub fn claim(&self, grant: &Grant, hash: TokenHash) -> Result<(), Refusal> {
        match (&grant.person, self.sub(), self.claims) {
            (None, Some(sub), Some(claims)) if !claims.claim(hash, sub, grant.expires) => {
                Err(Refusal::OtherPerson)
            }
            _ => Ok(()),
        }
    }
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
            | Self::OtherPerson
            | Self::SignInRequired
            | Self::NotGranted
            | Self::OtherConsole(_) => StatusCode::FORBIDDEN,
        }
    }

    /// Its reason, as `vncgate_refusals_total` and the audit trail label it.
    pub fn metric_reason(&self) -> RefusalReason {
        match self {
            Self::Missing => RefusalReason::MissingToken,
            Self::Unknown => RefusalReason::UnknownToken,
            Self::Expired => RefusalReason::Expired,
            Self::OtherConsole(_) => RefusalReason::OtherConsoleType,
            Self::AlreadyUsed => RefusalReason::AlreadyUsed,
            Self::TooManySessions(_) => RefusalReason::SessionCap,
            Self::Unavailable(_) => RefusalReason::DatabaseUnavailable,
            Self::TimedOut => RefusalReason::DatabaseTimeout,
            Self::OtherPerson => RefusalReason::OtherPerson,
            Self::SignInRequired => RefusalReason::SignInRequired,
            Self::NotGranted => RefusalReason::NotGranted,
        }
    }

    /// Refused when `grant` is expired, minted for another person than the caller's, or (with
    /// `require_login`) opened without a signed-in person.
    ///
    /// # Errors
    /// [`Refusal::Expired`], [`Refusal::SignInRequired`], [`Refusal::OtherPerson`].
    pub fn unusable(grant: &Grant, caller: Caller<'_>) -> Result<(), Self> {
        if !grant.is_live(std::time::SystemTime::now()) {
            return Err(Self::Expired);
        }
        if caller.claims.is_some() && caller.person.is_none() {
            return Err(Self::SignInRequired);
        }
        if grant.opens_for(caller.sub()) {
            Ok(())
        } else {
            Err(Self::OtherPerson)
        }
    }

    /// What the console page may say beyond "rejected", when there is more to say.
    pub fn public_reason(&self) -> Option<&'static str> {
        match self {
            Self::OtherPerson => {
                Some("this console was opened for another person: sign in as them")
            }
            Self::SignInRequired => Some("this console needs you to sign in first"),
            Self::NotGranted => Some("this console is not granted to you"),
            _ => None,
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
            Self::OtherPerson => {
                formatter.write_str("a token minted for or claimed by another person")
            }
            Self::SignInRequired => {
                formatter.write_str("require_login: the browser is not signed in")
            }
            Self::NotGranted => formatter
                .write_str("access_policy grants the console to none of the person's rules"),
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
    /// How its sessions' token is looked up again to end them when it is revoked.
    pub recheck: Recheck,
}

/// How the recheck that ends revoked sessions looks a live session's token up again.
#[derive(Debug, Clone)]
pub enum Recheck {
    /// Nothing to ask: a single-use token consumed by its admission, or a JWT (no source holds
    /// it; its `exp` bounds it).
    Settled,
    /// By its hash, in the token files and the SQL store.
    ByHash,
    /// By the token itself, in the source that granted it: a token-named file, the token API,
    /// Redis. Held in memory while the session lives, never logged.
    ByToken(Asked, Token),
}

impl Recheck {
    /// Whether there is something to ask.
    pub fn asks(&self) -> bool {
        !matches!(self, Self::Settled)
    }
}

/// A source asked by the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `token_names_dir`.
    Names,
    /// `token_api_url`.
    Api,
    /// `redis_url`.
    Redis,
}
