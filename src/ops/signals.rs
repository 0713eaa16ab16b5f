//! Signals: SIGTERM and SIGINT begin the stop, SIGHUP reloads the configuration (and reopens
//! the audit log).

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGTERM or SIGINT.
///
/// # Errors
/// The signal handlers could not be installed.
pub fn on_signals(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping");
        token.cancel();
    });
    Ok(())
}

/// Notifies `reload` on every SIGHUP.
///
/// # Errors
/// The signal handler could not be installed.
pub fn on_hangup(reload: Arc<Notify>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!(signal = "SIGHUP", "reloading");
            reload.notify_one();
        }
    });
    Ok(())
}
