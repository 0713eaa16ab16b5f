//! vncgate: a console proxy from noVNC in the browser to VNC servers.
//!
//! [`run`] serves on a listener until a [`CancellationToken`] fires; everything it needs comes
//! from [`config::Settings`], so tests start it on port 0 exactly as `vncgate serve` does.
//! `docs/ARCHITECTURE.md` maps the modules along the data path: accept → HTTP/upgrade
//! ([`front`]) → admit ([`token`]) → connect ([`backend`], [`rfb`]) → relay ([`relay`]) →
//! close ([`session`]); [`server`] runs it all.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Nothing from outside may panic the process: no unwrap, expect, panic or unchecked index
// outside tests. A framer that indexes buffers whose lengths it has checked says so where it
// allows it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod access;
pub mod admin;
pub mod backend;
pub mod chain;
pub mod cli;
pub mod config;
pub mod console;
pub mod front;
pub mod http_client;
pub mod libvirt;
pub mod ops;
pub mod recording;
pub mod relay;
pub mod rfb;
pub mod server;
pub mod session;
pub mod signin;
pub mod spice;
pub mod tls;
pub mod token;
pub mod websocket;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
pub use server::{open_token_database, Control, Error, Listeners, VERSION};

/// Serves on `listener` until `shutdown` is cancelled, then stops as [`server`] says: no new
/// sessions after `drain_delay`, `shutdown_grace` for the open ones, then close 1001.
///
/// # Errors
/// Only at start-up, when a TLS file (browser-facing or VeNCrypt) cannot be used.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    run_with(settings, listener, None, shutdown).await
}

/// [`run`], with the admin API served on `admin_listener` when a secret is configured.
///
/// # Errors
/// As [`run`], and an unreadable admin secret.
pub async fn run_with(
    settings: Settings,
    listener: TcpListener,
    admin_listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let listeners = Listeners {
        front: listener,
        admin: admin_listener,
        metrics: None,
        consoles: Vec::new(),
    };
    let control = Control {
        stop: shutdown,
        ..Control::default()
    };
    server::serve(settings, listeners, control).await
}
