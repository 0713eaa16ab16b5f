//! A session's policy: what its token says, else the configured defaults, and whether its
//! console's kind can hold it to that.

use super::context::Context;
use crate::relay::filter::Policy;
use crate::token::Grant;

impl Context {
    /// The policy of a session of `grant`: what its token says, else the defaults, narrowed
    /// by the access policy's rule when one granted it.
    pub fn policy(&self, grant: &Grant) -> Policy {
        let mut policy = Policy {
            view_only: grant.view_only.unwrap_or(self.default_view_only),
            clipboard: grant.clipboard.unwrap_or(self.default_clipboard),
        };
        if let Some(narrowing) = grant.narrowed {
            policy.view_only |= narrowing.view_only == Some(true);
            if let Some(clipboard) = narrowing.clipboard {
                policy.clipboard = policy.clipboard.narrowest(clipboard);
            }
        }
        policy
    }

    /// Whether a session of `grant` can be held to its policy: one that cannot is refused at
    /// admission rather than opened unrestricted and listed as restricted.
    ///
    /// # Errors
    /// The part of the policy the console's kind cannot enforce.
    pub fn enforceable(&self, grant: &Grant) -> Result<(), crate::console::Unenforceable> {
        let policy = self.policy(grant);
        grant.kind.enforces(policy.view_only, policy.clipboard)
    }
}
