//! What every subcommand does first: load the settings (or print every problem and exit 64),
//! and open the token database by the one rule [`SqlStore::open_configured`] keeps.

use std::process::ExitCode;

use super::args::ConfigFiles;
use crate::config::Settings;
use crate::token::{SqlStore, StoreError};

/// sysexits.h `EX_USAGE`: what `check-config`, `serve` and `token` return for a bad
/// configuration.
pub(super) const EX_USAGE: u8 = 64;

/// The settings of `files`; every problem is printed and the exit code is 64.
pub(super) fn load_settings(files: &ConfigFiles) -> Result<Settings, ExitCode> {
    Settings::load(&files.config_file, &files.config_dir).map_err(|error| {
        eprintln!("{error}");
        ExitCode::from(EX_USAGE)
    })
}

/// The configured token database; `init` creates its tables where absent (`token init-db`).
pub(super) async fn open_token_store(
    settings: &Settings,
    init: bool,
) -> Result<SqlStore, StoreError> {
    SqlStore::open_configured(
        settings.database_connection.as_ref(),
        &settings.sqlite_path(),
        init,
    )
    .await
}

/// Runs a subcommand's work on a runtime of its own: success, or its message on standard error
/// after `vncgate NAME:` and failure.
pub(super) fn block_on(
    name: &str,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vncgate {name}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vncgate {name}: {message}");
            ExitCode::FAILURE
        }
    }
}
