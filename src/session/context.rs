//! What every session shares, and the timers and observers it is built from.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use crate::backend::Connector;
use crate::console::{Clipboard, Secret};
use crate::ops::audit::Audit;
use crate::ops::metrics::Metrics;

/// The timers of every session.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimers {
    /// Deadline of the browser's handshake.
    pub handshake_timeout: Duration,
    /// WebSocket ping period; zero sends none.
    pub ping_interval: Duration,
    /// Longest silence from the browser.
    pub client_timeout: Duration,
    /// Close a live session when its token expires.
    pub enforce_session_timeout: bool,
}

/// Where sessions are counted and recorded.
#[derive(Debug, Clone)]
pub struct Observers {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The audit trail, when configured.
    pub audit: Option<Arc<Audit>>,
}

/// What every session shares: how to reach console servers, the timers, where to count.
#[derive(Debug)]
pub struct Context {
    /// Backend transports and the security proxy.
    pub connector: Connector,
    /// The largest message a browser may send (`max_message_size`).
    pub max_message_size: usize,
    /// The session timers.
    pub timers: SessionTimers,
    /// The VNC password for grants that carry none.
    pub default_password: Option<Secret>,
    /// Where sessions, bytes and backend failures are counted.
    pub metrics: Arc<Metrics>,
    /// The audit trail, when configured.
    pub audit: Option<Arc<Audit>>,
    /// Fires on shutdown: sessions close with 1001.
    pub shutdown: CancellationToken,
    /// The live sessions, for the recheck that ends revoked ones.
    pub registry: Arc<Registry>,
    /// Whether sessions of tokens that do not say are view-only.
    pub default_view_only: bool,
    /// Whether downstream between plain TCP sockets may be spliced.
    pub splice: bool,
    /// Which way the clipboard of sessions whose tokens do not say may flow.
    pub default_clipboard: Clipboard,
    /// Which sessions are recorded, where and how.
    pub recording: crate::config::Recording,
    /// This instance's name, in recordings' headers.
    pub instance: String,
    /// The recordings being written, shared with retention.
    pub live_recordings: Arc<crate::recording::Live>,
}

impl Context {
    /// A context; session ids start at 1. `registry` outlives a reload's new context.
    pub fn new(
        connector: Connector,
        max_message_size: usize,
        timers: SessionTimers,
        default_password: Option<Secret>,
        observers: Observers,
        registry: Arc<Registry>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            connector,
            max_message_size,
            timers,
            default_password,
            metrics: observers.metrics,
            audit: observers.audit,
            shutdown,
            registry,
            default_view_only: false,
            splice: true,
            default_clipboard: Clipboard::Both,
            recording: crate::config::Recording::default(),
            instance: String::new(),
            live_recordings: Arc::default(),
        }
    }
}
