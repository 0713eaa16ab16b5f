//! Reload without drops (SIGHUP): the config files are read again and a new [`Front`] is built
//! from them, with new certificates (HTTPS and VeNCrypt), origins, token files, limits and
//! policies; new connections take it at once, while open sessions keep the one they started
//! with. A broken configuration is refused whole, every problem logged, and the old one serves
//! on. Options that only a restart can change are named, and keep their old values.

use crate::chain::chain;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::build::{self, Lasting};
use super::control::{notify_systemd, Hook};
use crate::config::table::{self as t, OptionSpec};
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
                    tracing::error!(error = %chain(&error), "reload refused; the running configuration stays");
                    record(&lasting, Some(format!("refused: {}", chain(&error))));
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
        let mut event = crate::ops::audit::Event::now(crate::ops::audit::Kind::Reload);
        event.reason = refused;
        audit.record(&event);
    }
}

/// `RELOADING=1` wants the time it began (systemd 253's `Type=notify-reload` checks it).
fn monotonic_now() -> sd_notify::NotifyState<'static> {
    sd_notify::NotifyState::monotonic_usec_now()
        .unwrap_or(sd_notify::NotifyState::Status("reloading"))
}

/// Keeps the running value of `new`'s field when the files changed it: whether they did.
fn restore<T: PartialEq + Clone>(new: &mut T, running: &T) -> bool {
    let changed = new != running;
    if changed {
        new.clone_from(running);
    }
    changed
}

/// Puts the running values of one group of restart-only options back into the settings read
/// now; whether the files changed any.
type Keep = fn(&mut Settings, &Settings) -> bool;

/// Every restart-only option of the table ([`OptionSpec::restart_only`]), by the group it is
/// read in and the fields that hold it. A test holds this to the table.
const KEPT: &[(&[OptionSpec], Keep)] = &[
    (&[t::NOVNCPROXY_HOST, t::NOVNCPROXY_PORT], |new, old| {
        let host = restore(&mut new.listen_host, &old.listen_host);
        restore(&mut new.listen_port, &old.listen_port) | host
    }),
    (&crate::config::PORT_OPTIONS, |new, old| {
        restore(&mut new.console_ports, &old.console_ports)
    }),
    (
        &[
            t::RECORDING_DIR,
            t::RECORDING_MAX_AGE_DAYS,
            t::RECORDING_MAX_TOTAL_BYTES,
        ],
        |new, old| {
            let (new, old) = (&mut new.recording, &old.recording);
            let dir = restore(&mut new.dir, &old.dir);
            let age = restore(&mut new.max_age, &old.max_age);
            restore(&mut new.max_total_bytes, &old.max_total_bytes) | age | dir
        },
    ),
    (&[t::CONNECTION], |new, old| {
        restore(&mut new.database_connection, &old.database_connection)
    }),
    (&[t::SESSION_LEASE_TIMEOUT], |new, old| {
        restore(
            &mut new.limits.session_lease_timeout,
            &old.limits.session_lease_timeout,
        )
    }),
    (&[t::STATE_DIR], |new, old| {
        restore(&mut new.state_dir, &old.state_dir)
    }),
    (&[t::ADMIN_LISTEN, t::ADMIN_SECRET_FILE], |new, old| {
        if new.admin_api() == old.admin_api() {
            return false;
        }
        new.admin_listen = old.admin_listen;
        new.admin_secret_file.clone_from(&old.admin_secret_file);
        true
    }),
    (&[t::METRICS_LISTEN], |new, old| {
        restore(
            &mut new.operations.metrics_listen,
            &old.operations.metrics_listen,
        )
    }),
    (&[t::MAX_CONNECTIONS], |new, old| {
        restore(&mut new.limits.max_connections, &old.limits.max_connections)
    }),
    (&[t::LOG_FORMAT], |new, old| {
        restore(&mut new.operations.json_logs, &old.operations.json_logs)
    }),
];

/// The configuration in the files now, with the options that need a restart kept as they
/// run (each change named in the log), and every problem if it cannot be used.
fn next(current: &Settings) -> Result<Settings, Vec<String>> {
    let mut settings = Settings::load(&current.files, &[]).map_err(|error| {
        error
            .problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    })?;
    for (group, keep) in KEPT {
        if keep(&mut settings, current) {
            let names: Vec<String> = group.iter().map(OptionSpec::label).collect();
            tracing::warn!(
                option = %names.join(", "),
                "changed option needs a restart; the running value stays"
            );
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_restart_only_option_is_kept_and_nothing_else() {
        let kept: Vec<&OptionSpec> = KEPT.iter().flat_map(|(group, _)| group.iter()).collect();
        for spec in t::OPTIONS.iter().filter(|spec| spec.restart_only) {
            let times = kept.iter().filter(|k| **k == spec).count();
            assert_eq!(times, 1, "{} is kept {times} times on reload", spec.label());
        }
        for spec in kept {
            assert!(
                spec.restart_only,
                "{} is kept but not restart_only",
                spec.label()
            );
        }
    }
}
