//! `vncgate serve`: settings, logging, the runtime, the listeners (bound here, or handed over by
//! systemd's socket activation), signals, then [`crate::server::serve`].

use crate::chain::chain;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::args::ConfigFiles;
use super::startup::load_settings;
use crate::config::Settings;
use crate::server::{Control, Listeners};

/// Runs the proxy until SIGTERM or SIGINT; SIGHUP reloads.
pub fn run(files: &ConfigFiles) -> ExitCode {
    let settings = match load_settings(files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let level = crate::ops::telemetry::init(settings.debug, settings.operations.json_logs);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    raise_descriptor_limit(settings.limits.max_connections);
    // Each recorded session has a writer on a blocking thread for as long as it lasts: as many
    // as sessions may be open, beside the pool's own 512.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(512 + settings.limits.max_connections.max(4096))
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        let listeners = listeners(&settings).await?;
        let control = Control {
            stop: CancellationToken::new(),
            reload: Some(Arc::new(Notify::new())),
            on_reload: level.map(|level| {
                let hook: crate::server::Hook =
                    Arc::new(move |settings: &Settings| level.set_debug(settings.debug));
                hook
            }),
        };
        crate::ops::signals::on_signals(control.stop.clone())?;
        if let Some(reload) = &control.reload {
            crate::ops::signals::on_hangup(reload.clone())?;
        }
        crate::server::serve(settings, listeners, control).await?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("vncgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The console listener (systemd's first socket when it passes one, so that port 443 needs no
/// privilege), and the admin and metrics listeners where configured.
async fn listeners(settings: &Settings) -> anyhow::Result<Listeners> {
    let mut activated = listenfd::ListenFd::from_env();
    let front = match activated.take_tcp_listener(0)? {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            tracing::info!("using the socket systemd passed");
            TcpListener::from_std(listener)?
        }
        None => {
            let addr = settings.listen_addr()?;
            TcpListener::bind(addr)
                .await
                .map_err(|error| anyhow::anyhow!("cannot listen on {addr}: {error}"))?
        }
    };
    let admin = match settings.admin_api() {
        Some((addr, _)) => Some(TcpListener::bind(addr).await.map_err(|error| {
            anyhow::anyhow!("cannot listen on {addr} for the admin API: {error}")
        })?),
        None => None,
    };
    let metrics =
        match settings.operations.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|error| {
                anyhow::anyhow!("cannot listen on {addr} for metrics: {error}")
            })?),
            None => None,
        };
    let mut consoles = Vec::new();
    for port in &settings.console_ports {
        let ip = match &port.host {
            Some(host) => settings.resolve(host, port.port)?.ip(),
            None => settings.listen_addr()?.ip(),
        };
        let what = format!("{} consoles", port.kind);
        consoles.push((port.kind, bind(ip, port.port, &what).await?));
    }
    Ok(Listeners {
        front,
        admin,
        metrics,
        consoles,
    })
}

/// A console kind's own port.
async fn bind(ip: std::net::IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    let addr = std::net::SocketAddr::new(ip, port);
    TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {addr} for {what}: {error}"))
}

/// Raises the soft limit on open files to the hard limit: every session holds two descriptors
/// (browser and console server), and distributions start services with a soft limit of 1024.
/// Warns when `max_connections` cannot fit in what is allowed.
fn raise_descriptor_limit(max_connections: usize) {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft)
        .ok();
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(error = %chain(&error), "cannot raise the open file limit");
            before.unwrap_or(0)
        }
    };
    match before {
        Some(before) if before < limit => {
            tracing::info!(from = before, to = limit, "open file limit raised");
        }
        _ => tracing::debug!(limit, "open file limit"),
    }
    // Two descriptors a session, and some for listeners, the database and token files.
    let needed = (max_connections as u64)
        .saturating_mul(2)
        .saturating_add(64);
    if needed > limit {
        tracing::warn!(
            limit,
            max_connections,
            "the open file limit is below what max_connections needs (2 per session): raise LimitNOFILE or lower [vncgate] max_connections"
        );
    }
}
