//! Logging set-up: `RUST_LOG` if set, else info, or debug with `[DEFAULT] debug = True`; text
//! or JSON lines (`[vncgate] log_format`); no timestamps under systemd, whose journal adds its
//! own. The level can change on reload.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log level of the running process.
pub struct LevelHandle(reload::Handle<EnvFilter, Registry>);

impl LevelHandle {
    /// The level `debug` (and `RUST_LOG`, which wins) asks for, from now on.
    pub fn set_debug(&self, debug: bool) {
        let _ = self.0.modify(|filter| *filter = filter_for(debug));
    }
}

fn filter_for(debug: bool) -> EnvFilter {
    let default = if debug {
        "debug,hyper=info,rustls=info,sqlx=info"
    } else {
        "info"
    };
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
}

/// Installs the global subscriber, writing to standard error, and returns the level handle.
pub fn init(debug: bool, json: bool) -> Option<LevelHandle> {
    let (filter, handle) = reload::Layer::new(filter_for(debug));
    // journald stamps each line itself; a second timestamp is noise.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    // Colour codes only for a person at a terminal, never in log files or journald.
    let ansi = std::io::stderr().is_terminal() && !journal;
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match (json, journal) {
        (true, true) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .without_time()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        (true, false) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        (false, true) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .without_time()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        (false, false) => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    installed.ok().map(|()| LevelHandle(handle))
}
