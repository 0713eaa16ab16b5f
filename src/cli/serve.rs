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
