//! Tokens in SQL, in nova's `console_auth_tokens` table exactly as nova defines it: SQLite by
//! default (a file vncgate creates), or the MySQL/MariaDB or PostgreSQL database several proxies
//! share, such as a nova cell database.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use super::{Grant, Target, TokenHash};

/// Why the token database could not answer. The browser gets 503; the log gets this.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `[database] connection` is not a URL vncgate understands.
    #[error("unsupported database URL scheme {0:?}; understood: sqlite, mysql, mysql+pymysql, mysql+mysqldb, mariadb, mariadb+pymysql, postgresql, postgresql+psycopg2, postgres")]
    Scheme(String),
    /// The database failed or is unreachable (the message never holds the password).
    #[error("token database: {0}")]
    Database(String),
    /// A revoke prefix that is too short, not hex, or matches several tokens.
    #[error("{0}")]
    Prefix(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error.to_string())
    }
}

/// Which SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
    /// PostgreSQL.
    Postgres,
}

/// Turns nova's SQLAlchemy URL into a sqlx URL: `mysql+pymysql://u:p@h/db?charset=utf8` becomes
/// `mysql://u:p@h/db`, `sqlite:////abs/path` becomes a path. Driver options in the query are
/// dropped, since sqlx does not know PyMySQL's.
///
/// # Errors
/// A scheme that is none of the understood ones.
pub fn translate_url(url: &str) -> Result<(String, Dialect), StoreError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| StoreError::Scheme(url.chars().take_while(|c| *c != ':').collect()))?;
    let dialect = match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Dialect::Sqlite,
        "mysql" | "mysql+pymysql" | "mysql+mysqldb" | "mariadb" | "mariadb+pymysql" => {
            Dialect::MySql
        }
        "postgresql" | "postgresql+psycopg2" | "postgresql+psycopg" | "postgres" => {
            Dialect::Postgres
        }
        other => return Err(StoreError::Scheme(other.to_owned())),
    };
    let translated = match dialect {
        // SQLAlchemy: sqlite:///relative and sqlite:////absolute.
        Dialect::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            rest.strip_prefix('/').unwrap_or(rest)
        ),
        Dialect::MySql => format!("mysql://{}", rest.split('?').next().unwrap_or(rest)),
        Dialect::Postgres => format!("postgres://{}", rest.split('?').next().unwrap_or(rest)),
    };
    Ok((translated, dialect))
}

/// nova's table, with its constraint and indexes, for databases vncgate creates itself.
fn schema(dialect: Dialect) -> Vec<String> {
    let id = match dialect {
        Dialect::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::MySql => "id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY",
        Dialect::Postgres => "id SERIAL PRIMARY KEY",
    };
    let time = if dialect == Dialect::Postgres {
        "TIMESTAMP"
    } else {
        "DATETIME"
    };
    let mut statements = vec![format!(
        "CREATE TABLE IF NOT EXISTS console_auth_tokens (created_at {time}, updated_at {time}, {id}, \
         token_hash VARCHAR(255) NOT NULL, console_type VARCHAR(255) NOT NULL, host VARCHAR(255) NOT NULL, \
         port INTEGER NOT NULL, tls_port INTEGER, internal_access_path VARCHAR(255), \
         instance_uuid VARCHAR(36) NOT NULL, expires INTEGER NOT NULL, access_url_base VARCHAR(255), \
         CONSTRAINT uniq_console_auth_tokens0token_hash UNIQUE (token_hash))"
    )];
    // vncgate's own: which tokens are single-use. nova's table stays as nova defines it.
    statements.push("CREATE TABLE IF NOT EXISTS vncgate_single_use (token_hash VARCHAR(255) NOT NULL PRIMARY KEY)".into());
    let indexes = [
        ("console_auth_tokens_instance_uuid_idx", "instance_uuid"),
        ("console_auth_tokens_host_expires_idx", "host, expires"),
        (
            "console_auth_tokens_token_hash_instance_uuid_idx",
            "token_hash, instance_uuid",
        ),
    ];
    for (name, columns) in indexes {
        // MySQL has no CREATE INDEX IF NOT EXISTS; there the table is new, so the index is too.
        let guard = if dialect == Dialect::MySql {
            ""
        } else {
            "IF NOT EXISTS "
        };
        statements.push(format!(
            "CREATE INDEX {guard}{name} ON console_auth_tokens ({columns})"
        ));
    }
    statements
}

/// A token row as `token list` shows it: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// sha256 hex of the token.
    pub hash: String,
    /// Target.
    pub target: Target,
    /// Unix seconds.
    pub expires: i64,
    /// The instance, as nova records it.
    pub instance_uuid: String,
    /// Whether it is consumed by its first session.
    pub single_use: bool,
}

/// What to store for a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its hash.
    pub hash: TokenHash,
    /// Where it leads.
    pub target: Target,
    /// When it expires.
    pub expires: SystemTime,
    /// nova's instance UUID column; vncgate's own tokens put a placeholder there.
    pub instance_uuid: String,
    /// nova's access_url_base column.
    pub access_url_base: String,
    /// Consumed by the first session.
    pub single_use: bool,
}

/// The SQL token source.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

/// The single-use flag as an SQL expression: a count from vncgate's table, or 0 without it.
fn single_use_count(with_table: bool) -> &'static str {
    if with_table {
        "(SELECT COUNT(*) FROM vncgate_single_use s WHERE s.token_hash = t.token_hash)"
    } else {
        "0"
    }
}

/// nova's console type for the VNC proxy.
pub const CONSOLE_TYPE: &str = "novnc";

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl SqlStore {
    /// Opens the database at a nova-style URL. With `create`, the schema is created if absent
    /// (for databases vncgate owns: its SQLite file, or `token init-db`); otherwise nothing in
    /// the database is created or altered. The pool reconnects by itself after an outage.
    ///
    /// # Errors
    /// An unknown URL scheme, or, with `create`, a database that cannot be reached.
    pub async fn open(url: &str, create: bool) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = translate_url(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy(&url)?;
        let store = Self { pool, dialect };
        if create {
            // nova's table, if already there, is left exactly as it is: only vncgate's own
            // table is added beside it.
            let exists = sqlx::query("SELECT token_hash FROM console_auth_tokens WHERE 1 = 0")
                .fetch_all(&store.pool)
                .await
                .is_ok();
            for statement in schema(dialect) {
                if !exists || statement.contains("vncgate_single_use") {
                    sqlx::query(&statement).execute(&store.pool).await?;
                }
            }
        }
        Ok(store)
    }

    /// Opens (creating it and its schema if needed) the embedded SQLite file.
    ///
    /// # Errors
    /// The file or its directory cannot be created.
    pub async fn open_sqlite_file(path: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let fail = |path: &Path, e: std::io::Error| {
            StoreError::Database(format!("{}: {e}", path.display()))
        };
        if let Some(dir) = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| fail(dir, e))?;
        }
        let fresh = !path.exists();
        let store = Self::open(&format!("sqlite:///{}", path.display()), true).await?;
        if fresh {
            // Hashes only, but still nobody else's business.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| fail(path, e))?;
        }
        Ok(store)
    }

    async fn has_single_use_table(&self) -> bool {
        sqlx::query("SELECT token_hash FROM vncgate_single_use WHERE 1 = 0")
            .fetch_all(&self.pool)
            .await
            .is_ok()
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `?` or `$n`, as the dialect wants.
    fn param(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    /// An integer column read as 64 bits in every dialect.
    fn int64(&self, column: &str) -> String {
        match self.dialect {
            Dialect::MySql => format!("CAST({column} AS SIGNED)"),
            _ => format!("CAST({column} AS BIGINT)"),
        }
    }

    /// Checks the database answers.
    ///
    /// # Errors
    /// It does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// A live `novnc` token's grant and whether it is single-use: nova's
    /// `WHERE token_hash = ? AND expires > now`, then the console type.
    ///
    /// # Errors
    /// The database failed.
    pub async fn lookup(&self, hash: &TokenHash) -> Result<Option<(Grant, bool)>, StoreError> {
        // Always ask vncgate's single-use table first, so that a table made while this proxy
        // runs counts at once: a single-use token must never pass as an ordinary one. A nova
        // database without the table answers the plain query.
        let mut outcome = Err(StoreError::Database("not queried".into()));
        for with_table in [true, false] {
            let sql = format!(
                "SELECT host, {port}, {expires}, console_type, {single} AS single_use \
                 FROM console_auth_tokens t WHERE token_hash = {p1} AND expires > {p2}",
                port = self.int64("port"),
                expires = self.int64("expires"),
                single = self.int64(single_use_count(with_table)),
                p1 = self.param(1),
                p2 = self.param(2),
            );
            let query = sqlx::query(&sql).bind(hash.to_hex()).bind(now_seconds());
            outcome = query
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::from);
            if outcome.is_ok() {
                break;
            }
        }
        let row: Option<AnyRow> = outcome?;
        let Some(row) = row else {
            return Ok(None);
        };
        let console_type: String = row.try_get(3)?;
        if console_type != CONSOLE_TYPE {
            return Ok(None);
        }
        let host: String = row.try_get(0)?;
        let port: i64 = row.try_get(1)?;
        let expires: i64 = row.try_get(2)?;
        let single_use: i64 = row.try_get(4)?;
        let Ok(port) = u16::try_from(port) else {
            return Ok(None);
        };
        let grant = Grant {
            target: Target { host, port },
            // An expiry beyond what the clock can hold (a corrupt or hostile row) means no
            // expiry to keep, rather than a panic.
            expires: UNIX_EPOCH.checked_add(Duration::from_secs(expires.max(0) as u64)),
            password: None,
        };
        Ok(Some((grant, single_use > 0)))
    }

    /// Consumes a single-use token: exactly one caller, across every proxy sharing the database,
    /// gets `true`. The token row goes with it.
    ///
    /// # Errors
    /// The database failed.
    pub async fn consume(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        // The token row goes first and decides the winner: a lookup racing this sees either the
        // row with its single-use flag (and then loses here) or no row at all. Deleting the flag
        // first would let a racer see the row without its flag, as an ordinary token.
        let sql = format!(
            "DELETE FROM console_auth_tokens WHERE token_hash = {}",
            self.param(1)
        );
        let won = sqlx::query(&sql)
            .bind(hash.to_hex())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1;
        let sql = format!(
            "DELETE FROM vncgate_single_use WHERE token_hash = {}",
            self.param(1)
        );
        sqlx::query(&sql)
            .bind(hash.to_hex())
            .execute(&self.pool)
            .await?;
        Ok(won)
    }

    /// Stores a new token (its hash only).
    ///
    /// # Errors
    /// The database failed, or single-use was asked of a database without vncgate's table.
    pub async fn insert(&self, token: &NewToken) -> Result<(), StoreError> {
        if token.single_use && !self.has_single_use_table().await {
            return Err(StoreError::Database(
                "single-use tokens need the vncgate_single_use table: run `vncgate token init-db` on a database vncgate may write to".into(),
            ));
        }
        let expires = token
            .expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let sql = format!(
            "INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, instance_uuid, expires, access_url_base) \
             VALUES (CURRENT_TIMESTAMP, {}, '{CONSOLE_TYPE}', {}, {}, {}, {}, {})",
            self.param(1), self.param(2), self.param(3), self.param(4), self.param(5), self.param(6)
        );
        let mut transaction = self.pool.begin().await?;
        sqlx::query(&sql)
            .bind(token.hash.to_hex())
            .bind(token.target.host.clone())
            .bind(i64::from(token.target.port))
            .bind(token.instance_uuid.clone())
            .bind(expires)
            .bind(token.access_url_base.clone())
            .execute(&mut *transaction)
            .await?;
        if token.single_use {
            let sql = format!(
                "INSERT INTO vncgate_single_use (token_hash) VALUES ({})",
                self.param(1)
            );
            sqlx::query(&sql)
                .bind(token.hash.to_hex())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Live `novnc` tokens, soonest expiry first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let mut outcome = Err(StoreError::Database("not queried".into()));
        for with_table in [true, false] {
            let sql = format!(
                "SELECT token_hash, host, {port}, {expires}, instance_uuid, {single} FROM console_auth_tokens t \
                 WHERE expires > {p1} AND console_type = '{CONSOLE_TYPE}' ORDER BY expires",
                port = self.int64("port"),
                expires = self.int64("expires"),
                single = self.int64(single_use_count(with_table)),
                p1 = self.param(1),
            );
            outcome = sqlx::query(&sql)
                .bind(now_seconds())
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from);
            if outcome.is_ok() {
                break;
            }
        }
        let rows = outcome?;
        let mut listed = Vec::new();
        for row in rows {
            let port: i64 = row.try_get(2)?;
            let single: i64 = row.try_get(5)?;
            listed.push(Listed {
                hash: row.try_get(0)?,
                target: Target {
                    host: row.try_get(1)?,
                    port: u16::try_from(port).unwrap_or(0),
                },
                expires: row.try_get(3)?,
                instance_uuid: row.try_get(4)?,
                single_use: single > 0,
            });
        }
        Ok(listed)
    }

    /// Revokes the one token whose hash starts with `prefix` (12 or more hex characters).
    /// Returns the full hash revoked.
    ///
    /// # Errors
    /// A bad or ambiguous prefix, no match, or a database failure.
    pub async fn revoke(&self, prefix: &str) -> Result<String, StoreError> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 12 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(StoreError::Prefix(
                "give 12 or more hex characters of the token's sha256, as `token list` shows"
                    .into(),
            ));
        }
        let sql = format!(
            "SELECT token_hash FROM console_auth_tokens WHERE token_hash LIKE {}",
            self.param(1)
        );
        let rows = sqlx::query(&sql)
            .bind(format!("{prefix}%"))
            .fetch_all(&self.pool)
            .await?;
        let hashes: Vec<String> = rows
            .iter()
            .filter_map(|row| row.try_get::<String, _>(0).ok())
            .collect();
        let hash = match hashes.as_slice() {
            [] => {
                return Err(StoreError::Prefix(format!(
                    "no token's hash starts with {prefix}"
                )))
            }
            [one] => one.clone(),
            _ => {
                return Err(StoreError::Prefix(format!(
                    "{} tokens match {prefix}: give more characters",
                    hashes.len()
                )))
            }
        };
        let sql = format!(
            "DELETE FROM console_auth_tokens WHERE token_hash = {}",
            self.param(1)
        );
        sqlx::query(&sql)
            .bind(hash.clone())
            .execute(&self.pool)
            .await?;
        // Absent in a nova database: nothing to clean there.
        let sql = format!(
            "DELETE FROM vncgate_single_use WHERE token_hash = {}",
            self.param(1)
        );
        let _ = sqlx::query(&sql)
            .bind(hash.clone())
            .execute(&self.pool)
            .await;
        Ok(hash)
    }

    /// Deletes expired rows, as nova-compute's periodic task does. Returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM console_auth_tokens WHERE expires <= {}",
            self.param(1)
        );
        Ok(sqlx::query(&sql)
            .bind(now_seconds())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_urls() {
        let cases = [
            (
                "mysql+pymysql://nova:pw@controller/nova_cell1?charset=utf8",
                "mysql://nova:pw@controller/nova_cell1",
                Dialect::MySql,
            ),
            (
                "mysql://u:p@127.0.0.1:3306/db",
                "mysql://u:p@127.0.0.1:3306/db",
                Dialect::MySql,
            ),
            (
                "postgresql+psycopg2://u:p@h/db",
                "postgres://u:p@h/db",
                Dialect::Postgres,
            ),
            (
                "postgresql://u@h:5433/db",
                "postgres://u@h:5433/db",
                Dialect::Postgres,
            ),
            (
                "sqlite:////var/lib/vncgate/tokens.sqlite",
                "sqlite:///var/lib/vncgate/tokens.sqlite?mode=rwc",
                Dialect::Sqlite,
            ),
            (
                "sqlite:///relative.db",
                "sqlite://relative.db?mode=rwc",
                Dialect::Sqlite,
            ),
        ];
        for (nova, sqlx, dialect) in cases {
            let translated = translate_url(nova).map_err(|e| e.to_string());
            assert_eq!(translated, Ok((sqlx.to_owned(), dialect)), "{nova}");
        }
        for bad in ["oracle://x/y", "mssql+pyodbc://x", "nonsense"] {
            let error = translate_url(bad)
                .map(|_| ())
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default();
            assert!(
                error.contains("understood: sqlite, mysql"),
                "{bad}: {error}"
            );
        }
    }
}
