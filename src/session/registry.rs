//! The live sessions of this instance, by id, so that something outside a session can see and
//! end it: the recheck that finds its token revoked, an operator listing and ending sessions.
//! No I/O.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::console::{Clipboard, ConsoleKind};
use crate::relay::SessionBytes;
use crate::token::{Person, Recheck, TokenHash};

/// What an operator sees of a session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The client, as the audit trail names it.
    pub client_ip: IpAddr,
    /// The console kind.
    pub kind: ConsoleKind,
    /// The console server (host:port, printable).
    pub target: String,
    /// When it opened.
    pub started: SystemTime,
    /// Whether it is a watch session.
    pub view_only: bool,
    /// Which way its clipboard may flow.
    pub clipboard: Clipboard,
    /// The person it is for, when the browser was signed in.
    pub user: Option<Person>,
}

/// A live session as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its id on this instance.
    pub id: u64,
    /// The first characters of its token's hash.
    pub token: String,
    /// What it is.
    pub info: SessionInfo,
    /// Bytes to the browser so far.
    pub bytes_down: u64,
    /// Bytes to the console server so far.
    pub bytes_up: u64,
}

/// Every live session.
#[derive(Debug, Default)]
pub struct Registry {
    live: Mutex<HashMap<u64, Live>>,
    /// The last session id handed out; ids are never reused, across reloads too.
    last_id: AtomicU64,
}

#[derive(Debug)]
struct Live {
    hash: TokenHash,
    /// The token's expiry when it was admitted; past it, the token's disappearance is the
    /// expired row being cleaned up, not a revocation.
    expires: Option<SystemTime>,
    /// How the token is looked up again: not at all for single-use tokens, whose row went
    /// with their first session, and JWTs.
    recheck: Recheck,
    revoked: CancellationToken,
    info: SessionInfo,
    bytes: Arc<SessionBytes>,
    /// Set, with the reason, when an operator ends the session.
    ended: Arc<Mutex<Option<String>>>,
    stop: CancellationToken,
}

/// A session's entry; dropping it takes the session off the registry.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<Registry>,
    id: u64,
    revoked: CancellationToken,
    stop: CancellationToken,
    ended: Arc<Mutex<Option<String>>>,
}

/// Why something outside ended a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Its token was revoked.
    Revoked,
    /// An operator ended it, for this reason.
    Ended(String),
}

impl Registered {
    /// Resolves when the session's token was revoked or an operator ended it.
    pub async fn stopped(&self) -> Stopped {
        tokio::select! {
            () = self.revoked.cancelled() => Stopped::Revoked,
            () = self.stop.cancelled() => {
                let reason = self.ended.lock().unwrap_or_else(|p| p.into_inner()).clone();
                Stopped::Ended(reason.unwrap_or_default())
            }
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Live>> {
        // Each update is a single insert or remove: a poisoned map is still whole.
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new session id (from 1).
    pub fn next_id(&self) -> u64 {
        self.last_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Enters session `id`, admitted with the token `hash`.
    pub fn register(
        self: &Arc<Self>,
        id: u64,
        hash: TokenHash,
        expires: Option<SystemTime>,
        recheck: Recheck,
        info: SessionInfo,
        bytes: Arc<SessionBytes>,
    ) -> Registered {
        let revoked = CancellationToken::new();
        let stop = CancellationToken::new();
        let ended = Arc::new(Mutex::new(None));
        self.lock().insert(
            id,
            Live {
                hash,
                expires,
                recheck,
                revoked: revoked.clone(),
                info,
                bytes,
                ended: ended.clone(),
                stop: stop.clone(),
            },
        );
        Registered {
            registry: self.clone(),
            id,
            revoked,
            stop,
            ended,
        }
    }

    /// The live sessions, oldest first.
    pub fn list(&self) -> Vec<Listed> {
        use std::sync::atomic::Ordering;
        let mut listed: Vec<Listed> = self
            .lock()
            .iter()
            .map(|(id, live)| Listed {
                id: *id,
                token: live.hash.short(),
                info: live.info.clone(),
                bytes_down: live.bytes.down.load(Ordering::Relaxed),
                bytes_up: live.bytes.up.load(Ordering::Relaxed),
            })
            .collect();
        listed.sort_by_key(|session| session.id);
        listed
    }

    /// Ends session `id` with `reason` (shown to its browser); whether it was live.
    pub fn end(&self, id: u64, reason: &str) -> bool {
        let sessions = self.lock();
        let Some(live) = sessions.get(&id) else {
            return false;
        };
        *live.ended.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_owned());
        live.stop.cancel();
        true
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tokens to look up again, with how: each once, of sessions whose token had not
    /// expired.
    pub fn to_recheck(&self, now: SystemTime) -> Vec<(TokenHash, Recheck)> {
        let mut checked: HashMap<TokenHash, Recheck> = HashMap::new();
        for live in self.lock().values() {
            if live.recheck.asks() && live.expires.is_none_or(|at| at > now) {
                checked
                    .entry(live.hash)
                    .or_insert_with(|| live.recheck.clone());
            }
        }
        let mut checked: Vec<(TokenHash, Recheck)> = checked.into_iter().collect();
        checked.sort_by_key(|(hash, _)| hash.to_hex());
        checked
    }

    /// Ends the sessions of every token in `checked` that is not in `live`, and says how many.
    /// Sessions that started after the check began are left alone unless their token was one
    /// of those checked.
    pub fn revoke(
        &self,
        checked: &[(TokenHash, Recheck)],
        live: &HashSet<TokenHash>,
        now: SystemTime,
    ) -> usize {
        let mut ended = 0;
        for session in self.lock().values() {
            let unexpired = session.expires.is_none_or(|at| at > now);
            if session.recheck.asks()
                && unexpired
                && checked.iter().any(|(hash, _)| *hash == session.hash)
                && !live.contains(&session.hash)
                && !session.revoked.is_cancelled()
            {
                session.revoked.cancel();
                ended += 1;
            }
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn revoked_tokens_end_their_sessions_and_only_theirs() {
        let registry = Arc::new(Registry::default());
        let now = SystemTime::now();
        let later = Some(now + Duration::from_secs(600));
        let info = || SessionInfo {
            client_ip: "192.0.2.1".parse().expect("ip"),
            kind: ConsoleKind::Novnc,
            target: "10.0.0.1:5900".into(),
            started: now,
            view_only: false,
            clipboard: Clipboard::Both,
            user: None,
        };
        let register = |id, token, expires, recheck| {
            registry.register(
                id,
                TokenHash::of(token),
                expires,
                recheck,
                info(),
                Arc::default(),
            )
        };
        let kept = register(1, "kept", later, Recheck::ByHash);
        let gone = register(2, "gone", later, Recheck::ByHash);
        let single = register(3, "single", later, Recheck::Settled);
        let expired = register(
            4,
            "old",
            Some(now - Duration::from_secs(1)),
            Recheck::ByHash,
        );
        let checked = registry.to_recheck(now);
        assert_eq!(
            checked.len(),
            2,
            "single-use and expired tokens are not looked up"
        );
        let live = HashSet::from([TokenHash::of("kept")]);
        assert_eq!(registry.revoke(&checked, &live, now), 1);
        assert!(gone.revoked.is_cancelled());
        assert!(!kept.revoked.is_cancelled());
        assert!(!single.revoked.is_cancelled());
        assert!(!expired.revoked.is_cancelled());
        drop(gone);
        assert_eq!(registry.len(), 3);
        assert_eq!(
            registry.list().iter().map(|s| s.id).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert!(registry.end(3, "maintenance"));
        assert!(single.stop.is_cancelled());
        assert!(!registry.end(2, "gone already"));
    }
}
