//! How the process steers the server: its sockets, the stop and reload signals, and what
//! systemd is told.

use crate::chain::chain;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::console::ConsoleKind;

/// Called with the new settings after a reload (the log level lives outside the server).
pub type Hook = Arc<dyn Fn(&Settings) + Send + Sync>;

/// The sockets to serve on.
#[derive(Debug)]
pub struct Listeners {
    /// The console port.
    pub front: TcpListener,
    /// The admin API, served when a secret is configured.
    pub admin: Option<TcpListener>,
    /// `/metrics`, `/healthz`, `/readyz`.
    pub metrics: Option<TcpListener>,
    /// The console kinds with ports of their own (`Settings::console_ports`), each with its
    /// listener.
    pub consoles: Vec<(ConsoleKind, TcpListener)>,
}

/// How the process steers the server.
#[derive(Clone, Default)]
pub struct Control {
    /// Begins the stop.
    pub stop: CancellationToken,
    /// Each notification reloads the config files.
    pub reload: Option<Arc<Notify>>,
    /// Called after a reload.
    pub on_reload: Option<Hook>,
}

/// Tells systemd, when it is listening; nothing otherwise.
pub fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::debug!(error = %chain(&error), "systemd notification failed");
    }
}
