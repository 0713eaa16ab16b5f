//! Logging set-up: `RUST_LOG` if set, else info, or debug with `[DEFAULT] debug = True`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to standard error.
pub fn init(debug: bool) {
    let default = if debug {
        "debug,hyper=info,rustls=info"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never in log files or journald.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
