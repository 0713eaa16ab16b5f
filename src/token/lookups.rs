//! The count of each ask of a token source, kept by the metrics (`vncgate_token_lookups_total`)
//! without the token module knowing them.

use std::sync::Arc;

/// Counts each ask of a token source by the source's name (`vncgate_token_lookups_total`).
#[derive(Clone)]
pub struct Lookups(Arc<dyn Fn(&'static str) + Send + Sync>);

impl Lookups {
    /// Counts with `count`.
    pub fn new(count: impl Fn(&'static str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(count))
    }

    pub(super) fn asked(&self, source: &'static str) {
        (self.0)(source);
    }
}

impl Default for Lookups {
    fn default() -> Self {
        Self::new(|_| {})
    }
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Lookups")
    }
}
