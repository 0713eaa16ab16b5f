//! Sign-in through the organisation's OpenID Connect provider (`[oidc]`): the authorization
//! code flow with PKCE, `state` and `nonce`, and afterwards a browser session in a sealed,
//! `HttpOnly`, `Secure`, `SameSite=Lax` cookie that ends after `session_lifetime` or at sign-out.
//!
//! Nothing is kept on the proxy: a sign-in under way lives in its own sealed cookie for ten
//! minutes, so that any instance of a cluster (with the same `cookie_key_file`) can finish it.
//! The routes are `/login`, the path of `redirect_url` and `/logout`; the front serves them and
//! records their outcomes.

mod error;
mod identity;
pub mod page;
mod provider;
mod routes;
mod seal;
mod settings;

pub use error::Error;
pub use identity::Identity;
pub use routes::{redirect, Outcome, Route, SignIn};
pub use settings::{KeyBytes, OidcSettings};
