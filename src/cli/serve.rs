//! `vncgate serve`: settings, logging, the runtime, the listeners, signals, then [`crate::run_with`].

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use super::args::ConfigFiles;
use super::startup::load_settings;

/// Runs the proxy until SIGTERM or SIGINT.
pub fn run(files: &ConfigFiles) -> ExitCode {
    let settings = match load_settings(files) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    crate::telemetry::init(settings.debug);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    raise_descriptor_limit(settings.limits.max_connections);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        let addr = settings.listen_addr()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| anyhow::anyhow!("cannot listen on {addr}: {error}"))?;
        let admin = match settings.admin_api() {
            Some((addr, _)) => {
                Some(tokio::net::TcpListener::bind(addr).await.map_err(|error| {
                    anyhow::anyhow!("cannot listen on {addr} for the admin API: {error}")
                })?)
            }
            None => None,
        };
        let shutdown = CancellationToken::new();
        crate::shutdown::on_signals(shutdown.clone())?;
        crate::run_with(settings, listener, admin, shutdown).await?;
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
            tracing::warn!(%error, "cannot raise the open file limit");
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
