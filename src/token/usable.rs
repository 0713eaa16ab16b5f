//! Whether a caller may use a grant: the token's own checks, then `[vncgate] access_policy`'s
//! rules by nova project, then `require_login`'s claim, in this order, so that nothing a
//! refusal would leave behind (a claim) is done before every check passed.
//!
//! The rules by project: under `require_login`, when a
//! rule grants by project, a nova token (a row naming an instance) opens only for a person
//! granted that instance's project (`instances.project_id`, in the database that holds the
//! token), and its sessions are narrowed by the granting rules. Without such a rule, or without
//! `require_login`, nova's tokens stay what nova makes them: bearer links.

use crate::access::{Console, Granted};

use super::admission::{Caller, Refusal};
use super::grant::{Grant, Person};
use super::secret::TokenHash;
use super::store::TokenStore;

impl TokenStore {
    /// Whether `caller` may use `grant` (see [`Refusal::unusable`], the rules by project, and
    /// `require_login`'s claim, in this order): then `grant` as the rules narrow it.
    pub(super) async fn usable(
        &self,
        grant: &mut Grant,
        hash: TokenHash,
        caller: Caller<'_>,
    ) -> Result<(), Refusal> {
        Refusal::unusable(grant, caller)?;
        let granted = self.by_project(grant, caller).await?;
        caller.claim(grant, hash)?;
        if let Some(granted) = granted {
            apply(grant, granted, caller);
        }
        Ok(())
    }

    /// What the rules by project grant `caller`'s person on `grant`: `None` when they do not
    /// apply (no such rule, no `require_login`, a token that names no instance).
    ///
    /// # Errors
    /// [`Refusal::NotGranted`] when none of their rules grants the instance's project (or its
    /// project cannot be found: a rule cannot match nothing); [`Refusal::Unavailable`] when
    /// the database does not answer.
    async fn by_project(
        &self,
        grant: &Grant,
        caller: Caller<'_>,
    ) -> Result<Option<Granted>, Refusal> {
        let Some((policy, identity)) = caller.by_project else {
            return Ok(None);
        };
        let Some(instance) = grant.instance.as_deref() else {
            return Ok(None);
        };
        let store = self.sql().ok_or(Refusal::NotGranted)?;
        let project = store
            .instance_project(instance)
            .await
            .map_err(Refusal::unavailable)?;
        project
            .and_then(|project| policy.grant(identity, Console::Project(&project)))
            .map(Some)
            .ok_or(Refusal::NotGranted)
    }
}

/// `grant` as `granted` to `caller`'s person: narrowed by the rules, and named for the person
/// and the rule (for the audit trail).
fn apply(grant: &mut Grant, granted: Granted, caller: Caller<'_>) {
    grant.narrow(granted.narrowing);
    let Some((_, identity)) = caller.by_project else {
        return;
    };
    let person = grant.person.get_or_insert_with(|| Person {
        sub: identity.sub.clone(),
        email: None,
        rule: None,
    });
    person.rule.get_or_insert(granted.rule);
}
