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
    /// The database failed or is unreachable.
    #[error("token database: {0}")]
    Database(#[from] sqlx::Error),
}
