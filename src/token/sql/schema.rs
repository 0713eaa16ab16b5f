//! The tables vncgate creates where it may: nova's `console_auth_tokens` exactly as nova defines
//! it, and vncgate's own `vncgate_single_use`, `vncgate_session_leases` and
//! `vncgate_live_sessions` beside it. No I/O.

use super::url::Dialect;

/// vncgate's session leases (see `lease.rs`).
pub(super) const LEASE_TABLE: &str = "vncgate_session_leases";

/// vncgate's own: the `jti`s of single-use JWTs already used, until they expire.
pub(super) const JTI_TABLE: &str = "vncgate_used_jti";

/// `require_login`'s claims on tokens (see `claims.rs`).
pub(super) const CLAIM_TABLE: &str = "vncgate_token_claims";

/// vncgate's published live sessions (see `sessions.rs`).
pub(super) const SESSION_TABLE: &str = "vncgate_live_sessions";

/// The columns added to [`SESSION_TABLE`] after it was first made: the signed-in person.
pub(super) const SESSION_USER_COLUMNS: &str = "user_sub, user_email";

/// What adds [`SESSION_USER_COLUMNS`] to a table made before them (`token init-db`).
pub(super) fn session_user_columns() -> [String; 2] {
    ["user_sub", "user_email"]
        .map(|column| format!("ALTER TABLE {SESSION_TABLE} ADD COLUMN {column} VARCHAR(255)"))
}

/// nova's table, with its constraint and indexes, for databases vncgate creates itself.
pub(super) fn schema(dialect: Dialect) -> Vec<String> {
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
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {JTI_TABLE} (jti_hash VARCHAR(64) NOT NULL PRIMARY KEY, expires BIGINT NOT NULL)"
    ));
    // vncgate's own: the live sessions' slots under max_sessions_per_token, across instances.
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {LEASE_TABLE} (token_hash VARCHAR(64) NOT NULL, slot INTEGER NOT NULL, \
         instance VARCHAR(64) NOT NULL, lease BIGINT NOT NULL, expires BIGINT NOT NULL, \
         PRIMARY KEY (token_hash, slot))"
    ));
    // vncgate's own: who claimed which token under require_login, across instances.
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {CLAIM_TABLE} (token_hash VARCHAR(64) NOT NULL PRIMARY KEY, \
         sub VARCHAR(255) NOT NULL, expires BIGINT NOT NULL)"
    ));
    // vncgate's own: every instance's live sessions, for the admin API of any of them.
    statements.push(format!(
        "CREATE TABLE IF NOT EXISTS {SESSION_TABLE} (instance VARCHAR(64) NOT NULL, id BIGINT NOT NULL, \
         token_prefix VARCHAR(16) NOT NULL, client_ip VARCHAR(64) NOT NULL, console VARCHAR(32) NOT NULL, \
         target VARCHAR(300) NOT NULL, started BIGINT NOT NULL, bytes_down BIGINT NOT NULL, \
         bytes_up BIGINT NOT NULL, view_only INTEGER NOT NULL, clipboard VARCHAR(16) NOT NULL, \
         expires BIGINT NOT NULL, end_reason VARCHAR(128), user_sub VARCHAR(255), \
         user_email VARCHAR(255), PRIMARY KEY (instance, id))"
    ));
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
