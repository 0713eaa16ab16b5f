//! The `vncgate` binary: command line, logging, configuration, then [`vncgate::run`].

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use vncgate::cli::{Cli, Command, ConfigFiles};
use vncgate::config::Settings;

/// sysexits.h `EX_USAGE`: what `check-config` and `serve` return for a bad configuration.
const EX_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(files) => serve(&files),
        Command::CheckConfig(files) => vncgate::check::check_config(&files),
        Command::Pki { command } => vncgate::pki_cli::run(command),
        Command::Token { command } => vncgate::token_cli::run(command),
    }
}

fn serve(files: &ConfigFiles) -> ExitCode {
    let settings = match Settings::load(&files.config_file, files.config_dir.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EX_USAGE);
        }
    };
    vncgate::telemetry::init(settings.debug);
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
        let admin = match (settings.admin_listen, &settings.admin_secret_file) {
            (Some(addr), Some(_)) => {
                Some(tokio::net::TcpListener::bind(addr).await.map_err(|error| {
                    anyhow::anyhow!("cannot listen on {addr} for the admin API: {error}")
                })?)
            }
            _ => None,
        };
        let shutdown = CancellationToken::new();
        vncgate::shutdown::on_signals(shutdown.clone())?;
        vncgate::run_with(settings, listener, admin, shutdown).await?;
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
