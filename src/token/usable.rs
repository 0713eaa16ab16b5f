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
        self.claim(grant, hash, caller).await?;
        if let Some(granted) = &granted {
            grant.narrow(granted.narrowing);
        }
        attribute(grant, caller, granted.map(|granted| granted.rule));
        Ok(())
    }

    /// `require_login`'s claim on a token that names no one, for the signed-in person: in the
    /// database when it has the claim table (every instance, and a restart, knows it), else in
    /// this instance's memory.
    ///
    /// # Errors
    /// [`Refusal::OtherPerson`]: another person claimed it first; [`Refusal::Unavailable`].
    async fn claim(
        &self,
        grant: &Grant,
        hash: TokenHash,
        caller: Caller<'_>,
    ) -> Result<(), Refusal> {
        let (None, Some(sub), Some(_)) = (&grant.person, caller.sub(), caller.claims) else {
            return Ok(());
        };
        let Some(sql) = self.sql() else {
            return caller.claim(grant, hash);
        };
        if !sql.has_claim_table().await.map_err(Refusal::unavailable)? {
            return caller.claim(grant, hash);
        }
        // A token that never expires is claimed for a day, as in memory.
        let until = grant
            .expires
            .unwrap_or_else(|| std::time::SystemTime::now() + super::claims::UNBOUNDED_FOR);
        let until = until
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if sql
            .claim_token(&hash, sub, until)
            .await
            .map_err(Refusal::unavailable)?
        {
            Ok(())
        } else {
            Err(Refusal::OtherPerson)
        }
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
        let (Some(policy), Some(identity)) = (caller.by_project, caller.person) else {
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

/// Names the person a session is for, for the audit trail and the session list: the one the
/// token was minted for (admission checked that they are the one signed in), else whoever is
/// signed in in the browser, with their e-mail; and the access policy's rule that granted it.
/// Nobody for a browser without sign-in.
fn attribute(grant: &mut Grant, caller: Caller<'_>, rule: Option<String>) {
    let Some(identity) = caller.person else {
        return;
    };
    let person = grant.person.get_or_insert_with(|| Person {
        sub: identity.sub.clone(),
        email: None,
        rule: None,
    });
    if person.sub == identity.sub {
        person.email.clone_from(&identity.email);
    }
    if let Some(rule) = rule {
        person.rule.get_or_insert(rule);
    }
}
