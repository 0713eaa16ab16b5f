//! The live sessions of this instance, by id, so that something outside a session can end it:
//! the recheck that finds its token revoked. No I/O.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::token::TokenHash;

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
    /// Whether the token is looked up again: not for single-use tokens, whose row went with
    /// their first session.
    recheck: bool,
    revoked: CancellationToken,
}

/// A session's entry; dropping it takes the session off the registry.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<Registry>,
    id: u64,
    revoked: CancellationToken,
}

impl Registered {
    /// Resolves when the session's token was revoked.
    pub async fn revoked(&self) {
        self.revoked.cancelled().await;
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
        recheck: bool,
    ) -> Registered {
        let revoked = CancellationToken::new();
        self.lock().insert(
            id,
            Live {
                hash,
                expires,
                recheck,
                revoked: revoked.clone(),
            },
        );
        Registered {
            registry: self.clone(),
            id,
            revoked,
        }
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tokens to look up again: each once, of sessions whose token had not expired.
    pub fn to_recheck(&self, now: SystemTime) -> Vec<TokenHash> {
        let mut hashes: Vec<TokenHash> = self
            .lock()
            .values()
            .filter(|live| live.recheck && live.expires.is_none_or(|at| at > now))
            .map(|live| live.hash)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        hashes.sort_by_key(TokenHash::to_hex);
        hashes
    }

    /// Ends the sessions of every token in `checked` that is not in `live`, and says how many.
    /// Sessions that started after the check began are left alone unless their token was one
    /// of those checked.
    pub fn revoke(
        &self,
        checked: &[TokenHash],
        live: &HashSet<TokenHash>,
        now: SystemTime,
    ) -> usize {
        let mut ended = 0;
        for session in self.lock().values() {
            let unexpired = session.expires.is_none_or(|at| at > now);
            if session.recheck
                && unexpired
                && checked.contains(&session.hash)
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
        let kept = registry.register(1, TokenHash::of("kept"), later, true);
        let gone = registry.register(2, TokenHash::of("gone"), later, true);
        let single = registry.register(3, TokenHash::of("single"), later, false);
        let expired = registry.register(
            4,
            TokenHash::of("old"),
            Some(now - Duration::from_secs(1)),
            true,
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
    }
}
