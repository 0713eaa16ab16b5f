//! Who may open which console (`[vncgate] access_policy`), for people signed in through
//! `[oidc]`.

mod policy;

pub use policy::{Console, Granted, Narrowing, Policy};
