//! [`Leases`]: this instance's claims on session slots in the shared database, renewed while
//! it lives, given back when each session ends and all at once at shutdown.
//!
//! Only the leases of live sessions are renewed: a lease whose release failed (the database
//! locked or away when its session ended) is released again at each renewal until it goes,
//! and any row of this instance that was not renewed is deleted with it, so an orphan never
//! outlives the database's return by more than one renewal.

use crate::chain::chain;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::secret::TokenHash;
use super::sql::{LeaseKey, SqlStore, StoreError};

/// The leases of one running instance.
#[derive(Debug)]
pub struct Leases {
    sql: SqlStore,
    instance: String,
    ttl: Duration,
    last: AtomicI64,
    /// The leases of live sessions, by their number.
    live: Mutex<BTreeSet<i64>>,
    /// Leases whose release failed, to be released again.
    unreleased: Mutex<Vec<LeaseKey>>,
}

/// A session's lease; dropping it gives the slot back (in the background: a failure leaves
/// the lease to expire).
#[derive(Debug)]
pub struct Lease {
    leases: Arc<Leases>,
    key: LeaseKey,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // No longer live: the next renewal leaves it out, whatever happens to the release.
        lock(&self.leases.live).remove(&self.key.lease);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let leases = self.leases.clone();
        let key = self.key.clone();
        runtime.spawn(async move {
            if let Err(error) = leases.sql.release_lease(&key).await {
                tracing::info!(error = %chain(&error), "session lease not released; released again at the next renewal");
                lock(&leases.unreleased).push(key);
            }
        });
    }
}

/// Each holder changes its set in one step: a poisoned lock still holds a whole set.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Leases {
    /// Leases held as `instance`, expiring `ttl` after their last renewal.
    pub fn new(sql: SqlStore, instance: String, ttl: Duration) -> Self {
        Self {
            sql,
            instance,
            ttl,
            last: AtomicI64::new(0),
            live: Mutex::default(),
            unreleased: Mutex::default(),
        }
    }

    /// The name this instance holds leases under.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn ttl_seconds(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX).max(1)
    }

    /// Whether the database has the lease table, so that the cap holds across instances.
    ///
    /// # Errors
    /// The database could not say.
    pub async fn available(&self) -> Result<bool, StoreError> {
        self.sql.has_lease_table().await
    }

    /// A lease on one of the token's `max` slots, or `None` when every slot is held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn take(
        self: &Arc<Self>,
        hash: TokenHash,
        max: usize,
    ) -> Result<Option<Lease>, StoreError> {
        let lease = self.last.fetch_add(1, Ordering::Relaxed) + 1;
        // Live before its row exists, so that a renewal running meanwhile keeps the row.
        lock(&self.live).insert(lease);
        let taken = self
            .sql
            .take_lease(&hash, max, &self.instance, lease, self.ttl_seconds())
            .await;
        let slot = match taken {
            Ok(Some(slot)) => slot,
            other => {
                lock(&self.live).remove(&lease);
                return other.map(|_| None);
            }
        };
        Ok(Some(Lease {
            leases: self.clone(),
            key: LeaseKey {
                hash,
                slot,
                instance: self.instance.clone(),
                lease,
            },
        }))
    }

    /// Renews this instance's leases every third of their lifetime until `shutdown`, then
    /// gives back the ones still held.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.renew().await,
                () = shutdown.cancelled() => break,
            }
        }
        self.release_all().await;
    }

    /// Releases again the leases whose release failed, then renews the live ones and deletes
    /// every other row of this instance.
    pub async fn renew(&self) {
        let unreleased = std::mem::take(&mut *lock(&self.unreleased));
        for key in unreleased {
            if let Err(error) = self.sql.release_lease(&key).await {
                tracing::debug!(error = %chain(&error), "session lease still not released");
                lock(&self.unreleased).push(key);
            }
        }
        // Reckoned before the live set is read: a lease taken after that expires no earlier,
        // so the deletion of rows not renewed never takes it.
        let expires = SqlStore::lease_expiry(self.ttl_seconds());
        let live: Vec<i64> = lock(&self.live).iter().copied().collect();
        let renewed = self.sql.renew_leases(&self.instance, &live, expires).await;
        if let Err(error) = renewed {
            // Past the lifetime, other instances may take these slots: the cap is then loose,
            // never tight.
            tracing::warn!(error = %chain(&error), "session leases not renewed");
        }
    }

    /// Gives back every lease this instance holds.
    pub async fn release_all(&self) {
        match self.sql.release_all_leases(&self.instance).await {
            Ok(0) => {}
            Ok(count) => tracing::debug!(count, "session leases released"),
            Err(error) => {
                tracing::info!(error = %chain(&error), "session leases not released; they expire by themselves")
            }
        }
    }
}

/// A name for this instance that says where it runs: the host, the process, and random bits
/// so that a restarted process with the same PID is another holder.
pub fn instance_name() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        .take(32)
        .collect::<String>();
    let mut random = [0u8; 6];
    // Without randomness, the PID alone still tells live instances apart.
    let _ = getrandom::fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{}-{random}", std::process::id())
}
