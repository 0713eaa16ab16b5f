//! Prometheus metrics: the series an operator watches, kept in `prometheus-client` types and
//! written in its text exposition. No I/O beyond reading `/proc/self` for the process's memory
//! and descriptors when scraped.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    reason: &'static str,
}

/// A `direction` label: `to_browser` or `to_server`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Direction {
    direction: &'static str,
}

/// A `source` label: the token source asked.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Source {
    source: &'static str,
}

/// A `result` label for sign-ins: `ok`, or why it failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInResult {
    result: &'static str,
}

/// A `role` label for certificates: `https`, `vencrypt_client`, `vencrypt_ca`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Role {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
    revision: String,
}

/// The process's own series, under Prometheus' standard names.
fn process_series(registry: &mut Registry) -> (Gauge, Gauge) {
    let resident_memory = with_unit(
        registry,
        "process_resident_memory",
        "Resident memory of the vncgate process",
        Unit::Bytes,
        Gauge::default(),
    );
    let open_fds = series(
        registry,
        "process_open_fds",
        "Open file descriptors of the vncgate process",
        Gauge::default(),
    );
    (resident_memory, open_fds)
}

/// Every series of one vncgate process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    sessions_active: Gauge,
    sessions_opened: Counter,
    refusals: Family<Reason, Counter>,
    backend_failures: Family<Reason, Counter>,
    token_lookups: Family<Source, Counter>,
    signins: Family<SignInResult, Counter>,
    bytes: Family<Direction, Counter>,
    bytes_spliced: Counter,
    backend_handshake: Histogram,
    session_duration: Histogram,
    certificate_expiry: Family<Role, Gauge>,
    resident_memory: Gauge,
    open_fds: Gauge,
}

impl Metrics {
    /// The series, registered, at zero; the package version and `revision` (the commit) go
    /// into `vncgate_build_info`.
    pub fn new(revision: &str) -> Self {
        let mut registry = Registry::default();
        let (resident_memory, open_fds) = process_series(&mut registry);
        let own = registry.sub_registry_with_prefix("vncgate");
        let build_info: Family<Version, Gauge> =
            series(own, "build_info", "The version running", Family::default());
        // Prometheus' convention: the release in `version`, the commit in `revision`.
        build_info
            .get_or_create(&Version {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                revision: revision.to_owned(),
            })
            .set(1);
        Self {
            sessions_active: series(own, "sessions_active", "Console sessions open now", Gauge::default()),
            sessions_opened: series(own, "sessions_opened", "Console sessions opened", Counter::default()),
            refusals: series(
                own,
                "refusals",
                "Requests refused before or at the upgrade, by reason",
                Family::default(),
            ),
            backend_failures: series(
                own,
                "backend_failures",
                "Console server connections that failed, by reason",
                Family::default(),
            ),
            token_lookups: series(
                own,
                "token_lookups",
                "Token sources asked, by source (files, names, jwt, api, redis, sql: one database query each)",
                Family::default(),
            ),
            signins: series(
                own,
                "signins",
                "Sign-ins through the identity provider, by result (ok, or why one failed)",
                Family::default(),
            ),
            bytes: series(own, "bytes", "Console bytes relayed, by direction", Family::default()),
            bytes_spliced: series(
                own,
                "bytes_spliced",
                "Console bytes moved to browsers with splice(2), never in the proxy's memory (also in vncgate_bytes_total)",
                Counter::default(),
            ),
            backend_handshake: with_unit(
                own,
                "backend_handshake",
                "Time to connect and authenticate to a console server",
                Unit::Seconds,
                Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            ),
            session_duration: with_unit(
                own,
                "session_duration",
                "How long console sessions lasted",
                Unit::Seconds,
                Histogram::new([1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0]),
            ),
            certificate_expiry: series(
                own,
                "certificate_expiry_timestamp_seconds",
                "When a certificate in use expires (Unix time; the earliest of a CA bundle)",
                Family::default(),
            ),
            registry,
            resident_memory,
            open_fds,
        }
    }

    /// A refusal, by its reason.
    pub fn refused(&self, reason: &'static str) {
        self.refusals.get_or_create(&Reason { reason }).inc();
    }

    /// A sign-in, by its result.
    pub fn signed_in(&self, result: &'static str) {
        self.signins.get_or_create(&SignInResult { result }).inc();
    }

    /// A console server that could not be reached or authenticated, by reason.
    pub fn backend_failed(&self, reason: &'static str) {
        self.backend_failures
            .get_or_create(&Reason { reason })
            .inc();
    }

    /// What counts each ask of a token source, for the token store to call.
    pub fn token_lookups(&self) -> impl Fn(&'static str) + Send + Sync + 'static {
        let family = self.token_lookups.clone();
        move |source| {
            family.get_or_create(&Source { source }).inc();
        }
    }

    /// A session authenticated to its console server after `handshake`.
    pub fn session_opened(&self, handshake: Duration) {
        self.sessions_opened.inc();
        self.sessions_active.inc();
        self.backend_handshake.observe(handshake.as_secs_f64());
    }

    /// A session over, after `lasted`.
    pub fn session_closed(&self, lasted: Duration) {
        self.sessions_active.dec();
        self.session_duration.observe(lasted.as_secs_f64());
    }

    /// The counter of bytes spliced to browsers, for a session to add to as it goes.
    pub fn spliced_counter(&self) -> Counter<u64, AtomicU64> {
        self.bytes_spliced.clone()
    }

    /// The relayed byte counters, for a session to add to as it goes.
    pub fn byte_counters(&self) -> (Counter<u64, AtomicU64>, Counter<u64, AtomicU64>) {
        // One statement each: the family's read guard must be gone before the next
        // `get_or_create` may take its write lock.
        let to_browser = self
            .bytes
            .get_or_create(&Direction {
                direction: "to_browser",
            })
            .clone();
        let to_server = self
            .bytes
            .get_or_create(&Direction {
                direction: "to_server",
            })
            .clone();
        (to_browser, to_server)
    }

    /// When the certificate of `role` expires, or forgets it when `None`.
    pub fn certificate_expires(&self, role: &'static str, at: Option<SystemTime>) {
        let seconds = at
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
            .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX));
        match seconds {
            Some(seconds) => {
                self.certificate_expiry
                    .get_or_create(&Role { role })
                    .set(seconds);
            }
            None => {
                self.certificate_expiry.remove(&Role { role });
            }
        }
    }

    /// The text exposition, with the process's memory and descriptors read now.
    pub fn encode(&self) -> String {
        if let Some(rss) = resident_bytes() {
            self.resident_memory.set(rss);
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(entries.count()).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Registers `metric` under `name` and hands it back (the registry keeps a clone that shares
/// its value).
fn series<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// [`series`] with a unit suffix.
fn with_unit<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Unit,
    metric: M,
) -> M {
    registry.register_with_unit(name, help, unit, metric.clone());
    metric
}

fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: i64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_names_are_exposed() {
        let metrics = Metrics::new("abc");
        metrics.refused("unknown_token");
        metrics.backend_failed("connect");
        metrics.session_opened(Duration::from_millis(20));
        metrics.session_closed(Duration::from_secs(3));
        let (down, up) = metrics.byte_counters();
        down.inc_by(10);
        up.inc_by(2);
        metrics.certificate_expires(
            "https",
            Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
        );
        let text = metrics.encode();
        for name in [
            "vncgate_sessions_active 0",
            "vncgate_sessions_opened_total 1",
            "vncgate_refusals_total{reason=\"unknown_token\"} 1",
            "vncgate_backend_failures_total{reason=\"connect\"} 1",
            "vncgate_bytes_total{direction=\"to_browser\"} 10",
            "vncgate_bytes_total{direction=\"to_server\"} 2",
            "vncgate_backend_handshake_seconds_count 1",
            "vncgate_session_duration_seconds_count 1",
            "vncgate_certificate_expiry_timestamp_seconds{role=\"https\"} 2000000000",
            "vncgate_build_info{version=\"",
            "\",revision=\"abc\"} 1",
            "process_resident_memory_bytes ",
            "process_open_fds ",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
