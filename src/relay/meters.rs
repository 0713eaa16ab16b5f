//! Where a relay counts the bytes it moves.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

/// Where a relay counts the bytes it moves, as it moves them.
#[derive(Debug, Clone, Default)]
pub struct Meters {
    /// Console server → browser.
    pub to_browser: Counter,
    /// Browser → console server.
    pub to_server: Counter,
    /// Console server → browser through a pipe: a part of `to_browser`.
    pub spliced: Counter,
    /// This session's own counts, for the live sessions list.
    pub session: Arc<SessionBytes>,
}

/// One session's byte counts so far.
#[derive(Debug, Default)]
pub struct SessionBytes {
    /// Console server → browser.
    pub down: AtomicU64,
    /// Browser → console server.
    pub up: AtomicU64,
}
