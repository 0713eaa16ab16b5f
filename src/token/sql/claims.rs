//! `require_login`'s claims in the database, so that every instance sharing it (and a
//! restarted one) knows who claimed a token: a row per token, keyed by its hash, taken with an
//! insert the primary key makes atomic, as the session leases are (`lease.rs`).

use sqlx::Row;

use super::schema::CLAIM_TABLE as TABLE;
use super::{now_seconds, SqlStore, StoreError, TokenHash};

impl SqlStore {
    /// Whether the claim table is there (made by `token init-db`); without it, claims are kept
    /// in each instance's memory.
    ///
    /// # Errors
    /// The probe failed and nothing is known yet.
    pub async fn has_claim_table(&self) -> Result<bool, StoreError> {
        self.claims.present(&self.pool).await
    }

    /// Claims the token `hash` for `sub` until `until` (Unix seconds): whether it is theirs
    /// (claimed now, or by them before). A claim past its end is taken over.
    ///
    /// # Errors
    /// The database failed.
    pub async fn claim_token(
        &self,
        hash: &TokenHash,
        sub: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let stale = format!(
            "DELETE FROM {TABLE} WHERE token_hash = {} AND expires <= {}",
            self.param(1),
            self.param(2)
        );
        sqlx::query(&stale)
            .bind(hash.to_hex())
            .bind(now_seconds())
            .execute(&self.pool)
            .await?;
        // A clash on the key means "claimed already": the owner is read back below.
        let (verb, tail) = self.insert_ignoring();
        let insert = format!(
            "{verb} INTO {TABLE} (token_hash, sub, expires) VALUES ({}, {}, {}){tail}",
            self.param(1),
            self.param(2),
            self.param(3)
        );
        sqlx::query(&insert)
            .bind(hash.to_hex())
            .bind(sub.to_owned())
            .bind(until)
            .execute(&self.pool)
            .await?;
        let owner = format!(
            "SELECT sub FROM {TABLE} WHERE token_hash = {}",
            self.param(1)
        );
        let row = sqlx::query(&owner)
            .bind(hash.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<String, _>(0)? == sub,
            // Taken and ended in between: nobody holds it, and this caller may try again.
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_person_keeps_a_token_across_instances() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:///{}", dir.path().join("shared.sqlite").display());
        // Two instances: two pools on one database.
        let one = SqlStore::open(&url, true).await.expect("one");
        let two = SqlStore::open(&url, false).await.expect("two");
        assert!(two.has_claim_table().await.expect("probe"));
        let hash = TokenHash::of("a-nova-token");
        let later = now_seconds() + 600;
        assert!(one.claim_token(&hash, "alice", later).await.expect("claim"));
        assert!(!two.claim_token(&hash, "bob", later).await.expect("claim"));
        assert!(two.claim_token(&hash, "alice", later).await.expect("claim"));
        // A claim past its end is taken over.
        let other = TokenHash::of("an-expired-claim");
        assert!(one
            .claim_token(&other, "alice", now_seconds() - 1)
            .await
            .expect("claim"));
        assert!(two.claim_token(&other, "bob", later).await.expect("claim"));
    }
}
