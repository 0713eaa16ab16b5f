//! SPICE consoles, each several WebSockets: spice-html5 opens one per SPICE channel (main,
//! display, inputs, cursor, …) on the same token. A console is one token from one client
//! address: its first channel is admitted as any session is (a single-use token consumed, a
//! slot under `max_sessions_per_token` taken); further channels from the same address join it
//! while any of its channels is open, sharing that admission, at most [`MAX_CHANNELS`] at once
//! and never past the token's expiry (the front also asks whether it was revoked). From another
//! address, the token is a second console and meets the usual rules. No I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use std::time::SystemTime;

use crate::token::{Grant, Recheck, Refusal, SessionSlot, TokenHash};

/// The most channels one console may hold open: spice-html5 opens about six (main, display,
/// inputs, cursor, playback, port), spice-gtk a few more with USB redirection.
pub const MAX_CHANNELS: usize = 16;

/// The open consoles of this instance.
#[derive(Debug, Default)]
pub struct Channels {
    open: Mutex<HashMap<(TokenHash, IpAddr), Joinable>>,
}

#[derive(Debug)]
struct Joinable {
    grant: Grant,
    recheck: Recheck,
    /// Alive while any channel is: the console's slot and admission.
    slot: Weak<SessionSlot>,
}

/// What a channel of an open console gets.
#[derive(Debug)]
pub struct Joined {
    /// The console's grant.
    pub grant: Grant,
    /// How its token is looked up again while it lives.
    pub recheck: Recheck,
    /// Its slot, shared by every channel.
    pub slot: Arc<SessionSlot>,
}

impl Channels {
    fn lock(&self) -> MutexGuard<'_, HashMap<(TokenHash, IpAddr), Joinable>> {
        // Each update is one insert or remove: a poisoned map is still whole.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The open console of `hash` from `client`, if one is: joined, or refused when the token
    /// expired or the console holds [`MAX_CHANNELS`] already.
    pub fn join(&self, hash: TokenHash, client: IpAddr) -> Option<Result<Joined, Refusal>> {
        let mut open = self.lock();
        let key = (hash, client);
        let entry = open.get(&key)?;
        let Some(slot) = entry.slot.upgrade() else {
            open.remove(&key);
            return None;
        };
        if entry
            .grant
            .expires
            .is_some_and(|at| at <= SystemTime::now())
        {
            return Some(Err(Refusal::Expired));
        }
        // The channels open hold the slot, and `slot` is one more.
        if Arc::strong_count(&slot) > MAX_CHANNELS {
            return Some(Err(Refusal::TooManySessions(MAX_CHANNELS)));
        }
        Some(Ok(Joined {
            grant: entry.grant.clone(),
            recheck: entry.recheck.clone(),
            slot,
        }))
    }

    /// Records a console just admitted, so that its other channels join it.
    pub fn opened(&self, hash: TokenHash, client: IpAddr, console: &Joined) {
        let mut open = self.lock();
        open.retain(|_, entry| entry.slot.strong_count() > 0);
        open.insert(
            (hash, client),
            Joinable {
                grant: console.grant.clone(),
                recheck: console.recheck.clone(),
                slot: Arc::downgrade(&console.slot),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{ConsoleKind, Target};

    fn grant() -> Grant {
        Grant {
            kind: ConsoleKind::SpiceHtml5,
            ..Grant::direct(Target {
                host: "127.0.0.1".into(),
                port: 5930,
            })
        }
    }

    #[test]
    fn channels_join_while_the_console_is_open_from_the_same_client() {
        let channels = Channels::default();
        let hash = TokenHash::of("spice");
        let here: IpAddr = "192.0.2.1".parse().expect("ip");
        let there: IpAddr = "192.0.2.2".parse().expect("ip");
        let main = Joined {
            grant: grant(),
            recheck: Recheck::Settled,
            slot: Arc::new(SessionSlot::uncounted()),
        };
        channels.opened(hash, here, &main);
        let display = channels.join(hash, here).expect("joins").expect("admitted");
        assert!(!display.recheck.asks());
        assert!(
            Arc::ptr_eq(&display.slot, &main.slot),
            "one slot for the console"
        );
        assert!(
            channels.join(hash, there).is_none(),
            "another client is another console"
        );
        assert!(channels.join(TokenHash::of("other"), here).is_none());
        drop(main);
        assert!(
            channels.join(hash, here).is_some(),
            "a channel still holds it"
        );
        drop(display);
        assert!(
            channels.join(hash, here).is_none(),
            "closed with its last channel"
        );
    }

    #[test]
    fn a_console_holds_at_most_its_channels_and_none_past_expiry() {
        let channels = Channels::default();
        let hash = TokenHash::of("spice");
        let here: IpAddr = "192.0.2.1".parse().expect("ip");
        let main = Joined {
            grant: grant(),
            recheck: Recheck::ByHash,
            slot: Arc::new(SessionSlot::uncounted()),
        };
        channels.opened(hash, here, &main);
        let mut held = Vec::new();
        for _ in 1..MAX_CHANNELS {
            held.push(channels.join(hash, here).expect("open").expect("joins"));
        }
        let over = channels.join(hash, here).expect("open");
        assert!(matches!(over, Err(Refusal::TooManySessions(MAX_CHANNELS))));
        held.pop();
        assert!(channels.join(hash, here).expect("open").is_ok());

        let mut expired = grant();
        expired.expires = Some(SystemTime::now() - std::time::Duration::from_secs(1));
        let late = Joined {
            grant: expired,
            recheck: Recheck::ByHash,
            slot: Arc::new(SessionSlot::uncounted()),
        };
        let other = TokenHash::of("late");
        channels.opened(other, here, &late);
        let refused = channels.join(other, here).expect("open");
        assert!(matches!(refused, Err(Refusal::Expired)));
    }
}
