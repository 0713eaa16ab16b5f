//! Per-client limits at the edge: how many connections one client address may hold, and how
//! many refusals it may earn a minute before it gets 429 without any token lookup. No I/O.
//!
//! A refusal is reserved before the lookup and given back when the lookup admits: checked
//! first and spent after, every lookup in flight at once would pass the check.
//!
//! IPv6 clients are counted per /64, the smallest block a client is usually given: counting
//! single addresses would let one host use 2^64 of them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Most client addresses tracked for refusals; past it, full buckets are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// How many of the oldest tracked clients one refusal looks at to forget full buckets: a
/// bounded step under the lock, never a pass over the whole map.
const EVICTION_BATCH: usize = 32;

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
    /// The refusal buckets' keys, oldest first, for eviction in small batches.
    order: VecDeque<IpAddr>,
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

/// A refusal taken from a client's budget before its token is looked up: spent when dropped,
/// returned by [`Self::give_back`] when the lookup admits.
#[derive(Debug)]
pub struct Reservation {
    /// `None` when nothing was taken (no limit, or a client that could not be tracked).
    limiter: Option<Arc<Limiter>>,
    key: IpAddr,
}

impl Reservation {
    /// Returns the refusal: the request was not refused, or not through the client's fault.
    pub fn give_back(self) {
        let Some(limiter) = &self.limiter else {
            return;
        };
        let capacity = f64::from(limiter.refusals_per_minute());
        let mut state = limiter.lock();
        if let Some(bucket) = state.refusals.get_mut(&self.key) {
            bucket.tokens = (bucket.tokens + 1.0).min(capacity);
        }
    }
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

    /// Whether `ip` has used up its refusals (the front reserves instead: [`Self::reserve`]).
    #[cfg(test)]
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

    /// Takes one refusal from `ip`'s budget before a lookup, or `None` when it has none left
    /// (429). The reservation is spent unless [`Reservation::give_back`] is called.
    pub fn reserve(self: &Arc<Self>, ip: IpAddr) -> Option<Reservation> {
        if self.refusals_per_minute() == 0 {
            return Some(Reservation {
                limiter: None,
                key: key(ip),
            });
        }
        let key = key(ip);
        let now = Instant::now();
        let mut state = self.lock();
        let Some(bucket) = self.bucket(&mut state, key, now) else {
            // Every tracked client is mid-flood: a new one is not counted rather than letting
            // the map grow without bound.
            return Some(Reservation { limiter: None, key });
        };
        if bucket.tokens < 1.0 {
            return None;
        }
        bucket.tokens -= 1.0;
        Some(Reservation {
            limiter: Some(self.clone()),
            key,
        })
    }

    /// Counts one refusal against `ip` that no reservation covered.
    #[cfg(test)]
    pub fn refused(&self, ip: IpAddr) {
        if self.refusals_per_minute() == 0 {
            return;
        }
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(bucket) = self.bucket(&mut state, key(ip), now) {
            bucket.tokens = (bucket.tokens - 1.0).max(0.0);
        }
    }

    /// `key`'s bucket, refilled to `now`; made full when new, after forgetting a few full
    /// ones if the map is at its bound. `None` when it cannot be tracked.
    fn bucket<'a>(
        &self,
        state: &'a mut State,
        key: IpAddr,
        now: Instant,
    ) -> Option<&'a mut Bucket> {
        let capacity = f64::from(self.refusals_per_minute());
        if !state.refusals.contains_key(&key) {
            if state.refusals.len() >= MAX_TRACKED {
                self.evict(state, now);
            }
            if state.refusals.len() >= MAX_TRACKED {
                return None;
            }
            state.refusals.insert(
                key,
                Bucket {
                    tokens: capacity,
                    at: now,
                },
            );
            state.order.push_back(key);
        }
        let bucket = state.refusals.get_mut(&key)?;
        let mut refilled = *bucket;
        self.refill(&mut refilled, now);
        *bucket = refilled;
        Some(bucket)
    }

    /// Forgets the full buckets among the oldest [`EVICTION_BATCH`] tracked clients; the
    /// others go to the back of the line.
    fn evict(&self, state: &mut State, now: Instant) {
        let capacity = f64::from(self.refusals_per_minute());
        for _ in 0..EVICTION_BATCH {
            let Some(oldest) = state.order.pop_front() else {
                return;
            };
            let Some(bucket) = state.refusals.get(&oldest) else {
                continue;
            };
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            if bucket.tokens + elapsed * capacity / 60.0 >= capacity {
                state.refusals.remove(&oldest);
            } else {
                state.order.push_back(oldest);
            }
        }
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
    fn lookups_in_flight_cannot_pass_the_limit_together() {
        let limiter = Arc::new(Limiter::new(0, 3));
        let flooder = ip("198.51.100.7");
        // Ten lookups at once: three reserve, the rest get 429 before any lookup.
        let reserved: Vec<_> = (0..10).filter_map(|_| limiter.reserve(flooder)).collect();
        assert_eq!(reserved.len(), 3);
        assert!(limiter.is_limited(flooder));
        // An admitted lookup gives its refusal back; a refused one keeps it spent.
        let mut reserved = reserved.into_iter();
        if let Some(first) = reserved.next() {
            first.give_back();
        }
        drop(reserved);
        assert!(limiter.reserve(flooder).is_some());
        assert!(limiter.reserve(flooder).is_none());
    }

    #[test]
    fn a_full_map_forgets_full_buckets_a_batch_at_a_time() {
        let limiter = Arc::new(Limiter::new(0, 60));
        let mut state = State::default();
        let long_ago = Instant::now();
        for n in 0..MAX_TRACKED as u32 {
            let key = IpAddr::V4(n.into());
            state.refusals.insert(
                key,
                Bucket {
                    tokens: 60.0,
                    at: long_ago,
                },
            );
            state.order.push_back(key);
        }
        *limiter.lock() = state;
        assert!(limiter.reserve(ip("203.0.113.1")).is_some());
        let (_, tracked) = limiter.tracked();
        assert_eq!(tracked, MAX_TRACKED - EVICTION_BATCH + 1);
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
