//! SPICE consoles, each several WebSockets: spice-html5 opens one per SPICE channel (main,
//! display, inputs, cursor, …) on the same token. A console is one token from one client
//! address: its first channel is admitted as any session is (a single-use token consumed, a
//! slot under `max_sessions_per_token` taken); further channels from the same address join it
//! while any of its channels is open, sharing that admission. From another address, the token
//! is a second console and meets the usual rules. No I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::token::{Grant, SessionSlot, TokenHash};

/// The open consoles of this instance.
#[derive(Debug, Default)]
pub struct Channels {
    open: Mutex<HashMap<(TokenHash, IpAddr), Joinable>>,
}

#[derive(Debug)]
struct Joinable {
    grant: Grant,
    single_use: bool,
    /// Alive while any channel is: the console's slot and admission.
    slot: Weak<SessionSlot>,
}

/// What a channel of an open console gets.
#[derive(Debug)]
pub struct Joined {
    /// The console's grant.
    pub grant: Grant,
    /// Whether its token was single-use.
    pub single_use: bool,
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

    /// The open console of `hash` from `client`, if one is.
    pub fn join(&self, hash: TokenHash, client: IpAddr) -> Option<Joined> {
        let mut open = self.lock();
        let key = (hash, client);
        let entry = open.get(&key)?;
        match entry.slot.upgrade() {
            Some(slot) => Some(Joined {
                grant: entry.grant.clone(),
                single_use: entry.single_use,
                slot,
            }),
            None => {
                open.remove(&key);
                None
            }
        }
    }

    /// Records a console just admitted, so that its other channels join it.
    pub fn opened(&self, hash: TokenHash, client: IpAddr, console: &Joined) {
        let mut open = self.lock();
        open.retain(|_, entry| entry.slot.strong_count() > 0);
        open.insert(
            (hash, client),
            Joinable {
                grant: console.grant.clone(),
                single_use: console.single_use,
                slot: Arc::downgrade(&console.slot),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{ConsoleKind, Reach, Target};

    fn grant() -> Grant {
        Grant {
            kind: ConsoleKind::SpiceHtml5,
            target: Target {
                host: "127.0.0.1".into(),
                port: 5930,
            },
            reach: Reach::Direct,
            view_only: None,
            clipboard: None,
            tls_port: None,
            expires: None,
            password: None,
            schemes: None,
            instance: None,
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
            single_use: true,
            slot: Arc::new(SessionSlot::uncounted()),
        };
        channels.opened(hash, here, &main);
        let display = channels.join(hash, here).expect("joins");
        assert!(display.single_use);
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
}
