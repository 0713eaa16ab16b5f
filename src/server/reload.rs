//! Reload without drops (SIGHUP): the config files are read again and a new [`Front`] is built
//! from them, with new certificates (HTTPS and VeNCrypt), origins, token files, limits and
//! policies; new connections take it at once, while open sessions keep the one they started
//! with. A broken configuration is refused whole, every problem logged, and the old one serves
//! on. Options that only a restart can change are named, and keep their old values.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::build::{self, Lasting};
use super::control::{notify_systemd, Hook};
use crate::config::Settings;
use crate::front::Front;

/// Reloads on each `reload` until `stop`.
pub(super) async fn run(
    live: Arc<ArcSwap<Front>>,
    mut current: Settings,
    lasting: Arc<Lasting>,
    reload: Arc<Notify>,
    hook: Option<Hook>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = reload.notified() => {}
            () = stop.cancelled() => return,
        }
        notify_systemd(&[sd_notify::NotifyState::Reloading, monotonic_now()]);
        if let Some(audit) = &lasting.audit {
            audit.reopen();
        }
        match next(&current) {
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "reload refused; the running configuration stays");
                }
                record(&lasting, Some(format!("refused: {}", problems.join("; "))));
            }
            Ok(settings) => match build::front(&settings, &lasting) {
                Err(error) => {
                    tracing::error!(%error, "reload refused; the running configuration stays");
                    record(&lasting, Some(format!("refused: {error}")));
                }
                Ok(front) => {
                    live.store(Arc::new(front));
                    if let Some(hook) = &hook {
                        hook(&settings);
                    }
                    tracing::info!(files = ?settings.files, "configuration reloaded");
                    record(&lasting, None);
                    current = settings;
                }
            },
        }
        notify_systemd(&[sd_notify::NotifyState::Ready]);
    }
}

/// A `reload` audit event; `refused` says why it did not take.
fn record(lasting: &Lasting, refused: Option<String>) {
    if let Some(audit) = &lasting.audit {
        let mut event = crate::ops::audit::Event::now("reload");
        event.reason = refused;
        audit.record(&event);
    }
}

/// `RELOADING=1` wants the time it began (systemd 253's `Type=notify-reload` checks it).
fn monotonic_now() -> sd_notify::NotifyState<'static> {
    sd_notify::NotifyState::monotonic_usec_now()
        .unwrap_or(sd_notify::NotifyState::Status("reloading"))
}

/// Says that a changed option keeps its running value until a restart.
fn needs_restart(name: &str) {
    tracing::warn!(
        option = name,
        "changed option needs a restart; the running value stays"
    );
}

/// Keeps the running value of an option only a restart can change, saying so when the files
/// changed it.
fn restore<T: PartialEq + Clone>(name: &str, new: &mut T, running: &T) {
    if new != running {
        needs_restart(name);
        new.clone_from(running);
    }
}

/// The configuration in the files now, with the options that need a restart kept as they
/// run, and every problem if it cannot be used.
fn next(current: &Settings) -> Result<Settings, Vec<String>> {
    let mut settings = Settings::load(&current.files, None).map_err(|error| {
        error
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    })?;
    // Options read as pairs are kept together.
    let keep = |name: &str, changed: bool| {
        if changed {
            needs_restart(name);
        }
        changed
    };
    if keep(
        "[vnc] novncproxy_host/novncproxy_port",
        settings.listen_host != current.listen_host || settings.listen_port != current.listen_port,
    ) {
        settings.listen_host.clone_from(&current.listen_host);
        settings.listen_port = current.listen_port;
    }
    restore(
        "[mks] enabled/mksproxy_base_url",
        &mut settings.mks_port,
        &current.mks_port,
    );
    restore(
        "[serial_console] enabled/serialproxy_host/serialproxy_port",
        &mut settings.serial_listen,
        &current.serial_listen,
    );
    restore(
        "[spice] enabled/html5proxy_host/html5proxy_port",
        &mut settings.spice_listen,
        &current.spice_listen,
    );
    restore(
        "[database] connection",
        &mut settings.database_connection,
        &current.database_connection,
    );
    restore(
        "[vncgate] session_lease_timeout",
        &mut settings.limits.session_lease_timeout,
        &current.limits.session_lease_timeout,
    );
    restore(
        "[vncgate] state_dir",
        &mut settings.state_dir,
        &current.state_dir,
    );
    if keep(
        "[vncgate] admin_listen/admin_secret_file",
        settings.admin_api() != current.admin_api(),
    ) {
        settings.admin_listen = current.admin_listen;
        settings
            .admin_secret_file
            .clone_from(&current.admin_secret_file);
    }
    restore(
        "[vncgate] metrics_listen",
        &mut settings.operations.metrics_listen,
        &current.operations.metrics_listen,
    );
    restore(
        "[vncgate] max_connections",
        &mut settings.limits.max_connections,
        &current.limits.max_connections,
    );
    restore(
        "[vncgate] log_format",
        &mut settings.operations.json_logs,
        &current.operations.json_logs,
    );
    Ok(settings)
}
