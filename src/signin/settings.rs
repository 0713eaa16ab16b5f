//! What `[oidc]` says.

use std::path::PathBuf;
use std::time::Duration;

/// Key material that never reaches a log: `Debug` prints `MASKED`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(Vec<u8>);

impl KeyBytes {
    /// Wraps key material.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes, for the one place that uses them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MASKED")
    }
}

/// The sign-in configuration: present when `[oidc] issuer` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as written: discovery is
    /// `ISSUER/.well-known/openid-configuration`, and the provider must name itself the same
    /// (a trailing slash counts).
    pub issuer: String,
    /// This proxy's client ID.
    pub client_id: String,
    /// The client secret, for a confidential client.
    pub client_secret: Option<crate::console::Secret>,
    /// Where the provider sends the browser back; its path is served here.
    pub redirect_url: url::Url,
    /// The scopes asked for, `openid` first.
    pub scopes: Vec<String>,
    /// The claim that lists the person's groups.
    pub groups_claim: String,
    /// Seals the sign-in cookies (at least 32 bytes).
    pub cookie_key: KeyBytes,
    /// How long a browser stays signed in.
    pub session_lifetime: Duration,
    /// The CAs the provider's HTTPS certificate is checked against.
    pub ca_file: PathBuf,
    /// The clock difference allowed with the provider.
    pub clock_skew: Duration,
}
