//! Why the token database could not answer, by kind, so that callers decide by type: the admin
//! API answers 404 for [`StoreError::NotFound`] and 400 for a bad prefix; sessions get 503 for
//! [`StoreError::Database`].

use std::path::PathBuf;

/// A token database failure. The messages never hold the database password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `[database] connection` is not a URL vncgate understands.
    #[error("unsupported database URL scheme {0:?}; understood: sqlite, mysql, mysql+pymysql, mysql+mysqldb, mariadb, mariadb+pymysql, postgresql, postgresql+psycopg2, postgres")]
    Scheme(String),
    /// vncgate's own SQLite file or its directory cannot be made.
    #[error("token database: {}: {source}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A revoke prefix that is too short, too long or not hex.
    #[error("give 12 or more hex characters of the token's sha256, as `token list` shows")]
    BadPrefix,
    /// No token's hash starts with the prefix.
    #[error("no token's hash starts with {0}")]
    NotFound(String),
    /// Several tokens' hashes start with the prefix.
    #[error("{count} tokens match {prefix}: give more characters")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many match.
        count: usize,
    },
    /// Single-use tokens were asked of a database without vncgate's table.
    #[error("token database: single-use tokens need the vncgate_single_use table: run `vncgate token init-db` on a database vncgate may write to")]
    NoSingleUseTable,
    /// The database has no `console_auth_tokens` table: a new database nobody initialised.
    #[error("token database has no console_auth_tokens table: run `vncgate token init-db`, or point [database] connection at nova's cell database")]
    NoTokenTable(#[source] sqlx::Error),
    /// The token API (`token_api_url`) failed or is unreachable.
    #[error("token API lookup failed")]
    Api(#[source] crate::token::api::ApiError),
    /// Redis (`redis_url`) failed or is unreachable.
    #[error("Redis token source failed")]
    Redis(#[source] redis::RedisError),
    /// The database failed or is unreachable.
    #[error("token database failed")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // Each database names the table in its message (SQLite "no such table: …",
        // PostgreSQL "relation \"…\" does not exist", MySQL "Table '…' doesn't exist").
        let tokens_missing = is_missing_table(&error)
            && error
                .as_database_error()
                .is_some_and(|database| database.message().contains("console_auth_tokens"));
        if tokens_missing {
            Self::NoTokenTable(error)
        } else {
            Self::Database(error)
        }
    }
}

/// Whether an error says a column does not exist: PostgreSQL's 42703, MySQL's 42S22, SQLite's
/// "no such column".
pub(super) fn is_missing_column(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    matches!(database.code().as_deref(), Some("42703" | "42S22"))
        || database.message().starts_with("no such column")
}

/// Whether an error says the table does not exist, and nothing else: PostgreSQL's 42P01,
/// MySQL's 42S02, SQLite's "no such table". A privilege error is not this.
pub(super) fn is_missing_table(error: &sqlx::Error) -> bool {
    let Some(database) = error.as_database_error() else {
        return false;
    };
    matches!(database.code().as_deref(), Some("42P01" | "42S02"))
        || database.message().starts_with("no such table")
}
