//! `[vncgate] require_login`: a token that names no person is claimed by the first signed-in
//! person whose browser opens it; from then on it opens for them alone. Kept in the token
//! database when it has the claim table (`sql/claims.rs`), else here, in this instance's memory,
//! until the token's expiry (a day at most for tokens that do not expire).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::secret::TokenHash;

/// How long a claim on a token that never expires is kept.
pub(super) const UNBOUNDED_FOR: Duration = Duration::from_secs(86_400);

/// Claims kept at most: past this, expired claims are dropped first, then the oldest.
const MAX_CLAIMS: usize = 100_000;

/// Which person claimed which token.
#[derive(Debug, Default)]
pub struct Claims {
    held: Mutex<HashMap<TokenHash, (String, SystemTime)>>,
}

impl Claims {
    /// Claims the token `hash` for `sub` until `until` (its expiry): whether it is theirs (newly
    /// claimed, or claimed by them before).
    pub fn claim(&self, hash: TokenHash, sub: &str, until: Option<SystemTime>) -> bool {
        let now = SystemTime::now();
        let until = until.unwrap_or(now + UNBOUNDED_FOR);
        // Each update is a few map operations: a poisoned map is still whole.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((owner, end)) = held.get(&hash) {
            if *end > now {
                return owner == sub;
            }
        }
        if held.len() >= MAX_CLAIMS {
            held.retain(|_, (_, end)| *end > now);
            if held.len() >= MAX_CLAIMS {
                let oldest = held
                    .iter()
                    .min_by_key(|(_, (_, end))| *end)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    held.remove(&oldest);
                }
            }
        }
        held.insert(hash, (sub.to_owned(), until));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_person_keeps_the_token() {
        let claims = Claims::default();
        let hash = TokenHash::of("nova-token");
        let later = Some(SystemTime::now() + Duration::from_secs(60));
        assert!(claims.claim(hash, "alice", later));
        assert!(claims.claim(hash, "alice", later));
        assert!(!claims.claim(hash, "bob", later));
        // An expired claim is free again.
        let other = TokenHash::of("other");
        assert!(claims.claim(
            other,
            "alice",
            Some(SystemTime::now() - Duration::from_secs(1))
        ));
        assert!(claims.claim(other, "bob", later));
    }
}
