//! Per-client limits at the edge: how many connections one client address may hold, and how
//! many refusals it may earn a minute before it gets 429 without any token lookup. No I/O.
//!
//! IPv6 clients are counted per /64, the smallest block a client is usually given: counting
//! single addresses would let one host use 2^64 of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Most client addresses tracked for refusals; past it, full buckets are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// The per-client limits of one listener.
#[derive(Debug)]
pub struct Limiter {
    max_connections: AtomicUsize,
    refusals_per_minute: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    connections: HashMap<IpAddr, usize>,
    refusals: HashMap<IpAddr, Bucket>,
}

/// A token bucket: `refusals_per_minute` tokens, refilled evenly over a minute; a refusal
/// takes one, and an empty bucket means 429.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A client's claim on one of its connections; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    limiter: Arc<Limiter>,
    key: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        if let Some(count) = state.connections.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                state.connections.remove(&self.key);
            }
        }
    }
}

/// The address limits are kept under: the address itself for IPv4, its /64 for IPv6.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl Limiter {
    /// Limits of `max_connections` per client (0: none) and `refusals_per_minute` (0: none).
    pub fn new(max_connections: usize, refusals_per_minute: u32) -> Self {
        Self {
            max_connections: AtomicUsize::new(max_connections),
            refusals_per_minute: AtomicU32::new(refusals_per_minute),
            state: Mutex::default(),
        }
    }

    /// New limits, kept with the counts so far (on reload).
    pub fn set_limits(&self, max_connections: usize, refusals_per_minute: u32) {
        self.max_connections
            .store(max_connections, Ordering::Relaxed);
        self.refusals_per_minute
            .store(refusals_per_minute, Ordering::Relaxed);
    }

    fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Relaxed)
    }

    fn refusals_per_minute(&self) -> u32 {
        self.refusals_per_minute.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters stay consistent even if a holder panicked: each update is one statement.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection slot for `ip`, or `None` when it holds `max_connections` already.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let key = key(ip);
        let mut state = self.lock();
        let count = state.connections.entry(key).or_insert(0);
        let max = self.max_connections();
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            limiter: self.clone(),
            key,
        })
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let capacity = f64::from(self.refusals_per_minute());
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * capacity / 60.0).min(capacity);
        bucket.at = now;
    }

    /// Whether `ip` has used up its refusals: it gets 429 before any lookup.
    pub fn is_limited(&self, ip: IpAddr) -> bool {
        if self.refusals_per_minute() == 0 {
            return false;
        }
        let now = Instant::now();
        let mut state = self.lock();
        match state.refusals.get_mut(&key(ip)) {
            Some(bucket) => {
                let mut refilled = *bucket;
                self.refill(&mut refilled, now);
                *bucket = refilled;
                bucket.tokens < 1.0
            }
            None => false,
        }
    }

    /// Counts one refusal against `ip`.
    pub fn refused(&self, ip: IpAddr) {
        if self.refusals_per_minute() == 0 {
            return;
        }
        let now = Instant::now();
        let capacity = f64::from(self.refusals_per_minute());
        let mut state = self.lock();
        if state.refusals.len() >= MAX_TRACKED {
            let full = |bucket: &Bucket| {
                let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
                bucket.tokens + elapsed * capacity / 60.0 >= capacity
            };
            state.refusals.retain(|_, bucket| !full(bucket));
        }
        if state.refusals.len() >= MAX_TRACKED {
            // Every tracked client is mid-flood; a new one is not counted rather than letting
            // the map grow without bound.
            return;
        }
        let bucket = state.refusals.entry(key(ip)).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let mut refilled = *bucket;
        self.refill(&mut refilled, now);
        refilled.tokens = (refilled.tokens - 1.0).max(0.0);
        *bucket = refilled;
    }

    /// How many client addresses are tracked, for tests and metrics.
    pub fn tracked(&self) -> (usize, usize) {
        let state = self.lock();
        (state.connections.len(), state.refusals.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn connections_are_capped_per_client_and_freed_on_drop() {
        let limiter = Arc::new(Limiter::new(2, 0));
        let a = limiter.connect(ip("192.0.2.1"));
        let b = limiter.connect(ip("192.0.2.1"));
        assert!(a.is_some() && b.is_some());
        assert!(limiter.connect(ip("192.0.2.1")).is_none());
        assert!(limiter.connect(ip("192.0.2.2")).is_some(), "another client");
        drop(a);
        assert!(limiter.connect(ip("192.0.2.1")).is_some());
        drop(b);
        assert_eq!(limiter.tracked().0, 0, "nothing kept for idle clients");
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let limiter = Arc::new(Limiter::new(1, 0));
        let _held = limiter.connect(ip("2001:db8:1:2::1"));
        assert!(limiter.connect(ip("2001:db8:1:2::ffff")).is_none());
        assert!(limiter.connect(ip("2001:db8:1:3::1")).is_some());
        let _v4 = limiter.connect(ip("192.0.2.9"));
        assert!(
            limiter.connect(ip("::ffff:192.0.2.9")).is_none(),
            "v4-mapped is v4"
        );
    }

    #[test]
    fn refusals_past_the_limit_are_limited() {
        let limiter = Limiter::new(0, 3);
        let flooder = ip("198.51.100.7");
        for _ in 0..3 {
            assert!(!limiter.is_limited(flooder));
            limiter.refused(flooder);
        }
        assert!(limiter.is_limited(flooder));
        assert!(!limiter.is_limited(ip("198.51.100.8")));
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = Arc::new(Limiter::new(0, 0));
        let held: Vec<_> = (0..100).map(|_| limiter.connect(ip("192.0.2.1"))).collect();
        assert!(held.iter().all(Option::is_some));
        for _ in 0..100 {
            limiter.refused(ip("192.0.2.1"));
        }
        assert!(!limiter.is_limited(ip("192.0.2.1")));
    }
}
