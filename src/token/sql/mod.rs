//! Tokens in SQL, in nova's `console_auth_tokens` table exactly as nova defines it: SQLite by
//! default (a file vncgate creates), or the MySQL/MariaDB or PostgreSQL database several proxies
//! share, such as a nova cell database.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

mod claims;
mod error;
mod instances;
mod lease;
mod manage;
mod probe;
mod reach;
mod records;
mod schema;
mod sessions;
mod url;

use super::grant::Grant;
use super::secret::TokenHash;
use crate::console::{ConsoleKind, Reach, Secret, Target};
pub use error::StoreError;
use probe::TableProbe;
pub use probe::PROBE_INTERVAL;
pub use records::{LeaseKey, Listed, NewToken, SharedSession};
use schema::schema;
pub use url::{translate_url, Dialect};

/// The SQL token source.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    single_use: Arc<TableProbe>,
    leases: Arc<TableProbe>,
    sessions: Arc<TableProbe>,
    session_users: Arc<TableProbe>,
    claims: Arc<TableProbe>,
}

/// The single-use flag as an SQL expression: a count from vncgate's table, or 0 without it.
pub(super) fn single_use_count(with_table: bool) -> &'static str {
    if with_table {
        "(SELECT COUNT(*) FROM vncgate_single_use s WHERE s.token_hash = t.token_hash)"
    } else {
        "0"
    }
}

pub(super) fn now_seconds() -> i64 {
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
        let store = Self {
            pool,
            dialect,
            single_use: Arc::new(TableProbe::new("vncgate_single_use")),
            leases: Arc::new(TableProbe::new(schema::LEASE_TABLE)),
            sessions: Arc::new(TableProbe::new(schema::SESSION_TABLE)),
            claims: Arc::new(TableProbe::new(schema::CLAIM_TABLE)),
            session_users: Arc::new(TableProbe::columns(
                schema::SESSION_TABLE,
                schema::SESSION_USER_COLUMNS,
            )),
        };
        if create {
            // nova's table, if already there, is left exactly as it is: only vncgate's own
            // table is added beside it.
            let exists = sqlx::query("SELECT token_hash FROM console_auth_tokens WHERE 1 = 0")
                .fetch_all(&store.pool)
                .await
                .is_ok();
            for statement in schema(dialect) {
                if !exists || statement.contains(" vncgate_") {
                    sqlx::query(&statement).execute(&store.pool).await?;
                }
            }
            // A session table made before its user columns gets them.
            if !store.session_users.present(&store.pool).await? {
                for statement in schema::session_user_columns() {
                    sqlx::query(&statement).execute(&store.pool).await?;
                }
                store.session_users.forget();
            }
        }
        Ok(store)
    }

    /// Opens the configured token database: `[database] connection`, else vncgate's own SQLite
    /// file, created on first use. Tables are created in vncgate's own file, and elsewhere only
    /// with `init` (`token init-db`): a configured database, SQLite included (nova's own cell
    /// database may be one), is otherwise read as it is. The one rule for every caller:
    /// `serve`, the token commands and `init-db`.
    ///
    /// # Errors
    /// A bad URL; an own SQLite file that cannot be made; with `init`, a database that cannot
    /// be reached.
    pub async fn open_configured(
        connection: Option<&Secret>,
        own_file: &Path,
        init: bool,
    ) -> Result<Self, StoreError> {
        match connection {
            Some(url) => Self::open(url.expose(), init).await,
            None => Self::open_sqlite_file(own_file).await,
        }
    }

    /// Opens (creating it and its schema if needed) the embedded SQLite file.
    ///
    /// # Errors
    /// The file or its directory cannot be created.
    pub async fn open_sqlite_file(path: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let fail = |path: &Path, source: std::io::Error| StoreError::File {
            path: path.to_path_buf(),
            source,
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

    /// Whether vncgate's single-use table is there, as last probed (see [`TableProbe`]): a
    /// failed probe is never a reason to look a token up without the table, which would let a
    /// consumed single-use token pass as a reusable one.
    ///
    /// # Errors
    /// The probe failed for any reason but the table's absence, and nothing is known yet.
    pub async fn has_single_use_table(&self) -> Result<bool, StoreError> {
        self.single_use.present(&self.pool).await
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `?` or `$n`, as the dialect wants.
    pub(super) fn param(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    /// `INSERT` that does nothing on a clash with the primary key, as the dialect writes it:
    /// the statement's verb and its tail. A clash is then an answer ("taken"), not an error (nor
    /// an ERROR line in the server's log).
    pub(super) fn insert_ignoring(&self) -> (&'static str, &'static str) {
        match self.dialect {
            Dialect::Sqlite => ("INSERT OR IGNORE", ""),
            Dialect::MySql => ("INSERT IGNORE", ""),
            Dialect::Postgres => ("INSERT", " ON CONFLICT DO NOTHING"),
        }
    }

    /// An integer column read as 64 bits in every dialect.
    pub(super) fn int64(&self, column: &str) -> String {
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
        let with_table = self.has_single_use_table().await?;
        let row = self.lookup_row(hash, with_table).await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let console_type: String = row.try_get(3)?;
        let Some(kind) = ConsoleKind::from_nova_name(&console_type) else {
            return Ok(None);
        };
        let host: String = row.try_get(0)?;
        let port: i64 = row.try_get(1)?;
        let expires: i64 = row.try_get(2)?;
        let single_use: i64 = row.try_get(4)?;
        let Ok(port) = u16::try_from(port) else {
            return Ok(None);
        };
        let access_path: Option<String> = row.try_get(6).ok().flatten();
        let view_only = reach::view_only_of(access_path.as_deref());
        let clipboard = reach::clipboard_of(access_path.as_deref());
        let record = reach::record_of(access_path.as_deref());
        let Some(reach) = reach::reach_of(kind, access_path.as_deref()) else {
            tracing::info!(
                console_type,
                "token row without a usable internal_access_path"
            );
            return Ok(None);
        };
        // A ticket is good once: the row that holds it goes with its first session, so the
        // ticket does not stay in the database.
        let single_use = single_use > 0 || reach != Reach::Direct;
        let grant = Grant {
            kind,
            target: Target { host, port },
            reach,
            view_only,
            clipboard,
            record,
            tls_port: row
                .try_get::<Option<i64>, _>(7)
                .ok()
                .flatten()
                .and_then(|port| u16::try_from(port).ok())
                .filter(|port| *port > 0),
            tls: None,
            label: None,
            person: reach::person_of(access_path.as_deref()),
            narrowed: None,
            // An expiry beyond what the clock can hold (a corrupt or hostile row) means no
            // expiry to keep, rather than a panic.
            expires: UNIX_EPOCH.checked_add(Duration::from_secs(expires.max(0) as u64)),
            password: None,
            schemes: None,
            instance: row.try_get::<Option<String>, _>(5).ok().flatten(),
        };
        Ok(Some((grant, single_use)))
    }

    /// Which of `hashes` name tokens that are there and not expired: one query per 200.
    ///
    /// # Errors
    /// The database failed.
    pub async fn live_hashes(
        &self,
        hashes: &[TokenHash],
    ) -> Result<std::collections::HashSet<TokenHash>, StoreError> {
        let mut live = std::collections::HashSet::new();
        for chunk in hashes.chunks(200) {
            let params: Vec<String> = (2..chunk.len() + 2).map(|n| self.param(n)).collect();
            let sql = format!(
                "SELECT token_hash FROM console_auth_tokens WHERE expires > {} AND token_hash IN ({})",
                self.param(1),
                params.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now_seconds());
            for hash in chunk {
                query = query.bind(hash.to_hex());
            }
            for row in query.fetch_all(&self.pool).await? {
                let hex: String = row.try_get(0)?;
                if let Some(hash) = chunk.iter().find(|hash| hash.to_hex() == hex) {
                    live.insert(*hash);
                }
            }
        }
        Ok(live)
    }

    async fn lookup_row(
        &self,
        hash: &TokenHash,
        with_table: bool,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        let sql = format!(
            "SELECT host, {port}, {expires}, console_type, {single} AS single_use, instance_uuid, \
             internal_access_path, {tls_port} \
             FROM console_auth_tokens t WHERE token_hash = {p1} AND expires > {p2}",
            port = self.int64("port"),
            expires = self.int64("expires"),
            tls_port = self.int64("tls_port"),
            single = self.int64(single_use_count(with_table)),
            p1 = self.param(1),
            p2 = self.param(2),
        );
        sqlx::query(&sql)
            .bind(hash.to_hex())
            .bind(now_seconds())
            .fetch_optional(&self.pool)
            .await
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
}
