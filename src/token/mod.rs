//! Console tokens: the secret a browser presents ([`Token`]), its hash, the [`Grant`] it maps
//! to, and the sources that know it: websockify-format files and nova's `console_auth_tokens`
//! table ([`TokenStore`]).
//!
//! A token is never kept or compared in the clear: sources are indexed by its sha256, and it is
//! hashed before it leaves the front end.

mod admission;
pub mod api;
pub mod claims;
mod file;
mod grant;
pub mod issue;
pub mod jwe;
pub mod jwt;
pub mod lease;
mod line;
mod lookups;
pub mod names;
pub mod redis;
mod secret;
pub mod sql;
mod store;
mod usable;

pub use crate::console::Target;
pub use admission::{Admission, Asked, Caller, Recheck, Refusal, RefusalReason, SessionSlot};
pub use file::FileSource;
pub use grant::{Grant, Person};
pub use line::{parse_line, LineError};
pub use lookups::Lookups;
pub use secret::{hex_prefix, Token, TokenHash, LOG_PREFIX, MAX_TOKEN_LEN, REVOKE_PREFIX};
pub use sql::{SqlStore, StoreError};
pub use store::TokenStore;
