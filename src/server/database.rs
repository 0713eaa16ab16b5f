//! The token database as the server uses it: opened once at start, and its expired rows
//! deleted now and then.

use crate::chain::chain;
use tokio_util::sync::CancellationToken;

use super::error::Error;
use crate::config::Settings;
use crate::token::SqlStore;

/// Opens the token database for serving. Without `[database] connection`, vncgate's own
/// SQLite file is optional: when it cannot be made, tokens come from files only. An
/// unreachable database is not fatal: sessions get 503 until it answers.
///
/// # Errors
/// A bad URL, or a configured SQLite file that cannot be created.
pub async fn open_token_database(settings: &Settings) -> Result<Option<SqlStore>, Error> {
    let connection = settings.database_connection.as_ref();
    let store = match SqlStore::open_configured(connection, &settings.sqlite_path(), false).await {
        Ok(store) => store,
        Err(error) if connection.is_none() => {
            tracing::info!(error = %chain(&error), "no token database of vncgate's own: tokens come from token_source files only");
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    if let Err(error) = store.ping().await {
        tracing::warn!(error = %chain(&error), "token database unreachable; new sessions get 503 until it answers");
    }
    Ok(Some(store))
}

/// Deletes expired token rows every minute, as nova-compute's periodic task does for nova's.
pub(super) async fn delete_expired(store: SqlStore, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => match store.delete_expired().await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "expired tokens deleted"),
                Err(error) => tracing::debug!(error = %chain(&error), "expired tokens not deleted"),
            },
            () = shutdown.cancelled() => return,
        }
    }
}
