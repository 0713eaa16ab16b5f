//! Why the proxy could not start.

use crate::{tls, token};

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TLS configuration (browser-facing or VeNCrypt) is unusable.
    #[error(transparent)]
    Tls(#[from] tls::Error),
    /// The token database cannot be opened (a bad URL, or an SQLite file that cannot be made).
    #[error(transparent)]
    Store(#[from] token::StoreError),
    /// The admin API's secret cannot be read.
    #[error("[vncgate] admin_secret_file: {0}")]
    AdminSecret(String),
    /// The audit log cannot be opened.
    #[error("[vncgate] audit_log cannot be opened")]
    Audit(#[source] std::io::Error),
    /// The JWT keys cannot be used.
    #[error("[vncgate] jwt_keys cannot be used")]
    JwtKeys(#[source] crate::token::jwt::KeyError),
    /// The sign-in cookie key is too short.
    #[error("[oidc] cookie_key_file: at least 32 bytes are needed")]
    CookieKey,
}
