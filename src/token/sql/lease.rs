//! Session leases: `max_sessions_per_token` counted across every instance sharing the
//! database.
//!
//! A token with a cap of N has N slots, rows keyed by `(token_hash, slot)`. A session takes
//! the first free slot with an insert that the primary key makes atomic in every database, so
//! two instances racing for the last slot cannot both win, without locks or transactions. Each
//! instance renews its own leases' expiry; the leases of an instance that died (`kill -9`, a
//! lost host) stop being renewed and are reclaimed once expired.

use super::records::LeaseKey;
use super::schema::LEASE_TABLE as TABLE;
use super::{now_seconds, SqlStore, StoreError, TokenHash};

impl SqlStore {
    /// Whether the lease table is there (made by `token init-db`); without it, sessions are
    /// counted per instance.
    ///
    /// # Errors
    /// The probe failed and nothing is known yet.
    pub async fn has_lease_table(&self) -> Result<bool, StoreError> {
        self.leases.present(&self.pool).await
    }

    /// Takes a free slot among `max` for the token, expiring in `ttl_seconds` unless renewed:
    /// `Some(slot)`, or `None` when all are held by live leases.
    ///
    /// # Errors
    /// The database failed.
    pub async fn take_lease(
        &self,
        hash: &TokenHash,
        max: usize,
        instance: &str,
        lease: i64,
        ttl_seconds: i64,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_seconds();
        // Leases of dead instances free their slots first.
        let reclaim = format!(
            "DELETE FROM {TABLE} WHERE token_hash = {} AND expires <= {}",
            self.param(1),
            self.param(2)
        );
        sqlx::query(&reclaim)
            .bind(hash.to_hex())
            .bind(now)
            .execute(&self.pool)
            .await?;
        let (verb, tail) = self.insert_ignoring();
        let insert = format!(
            "{verb} INTO {TABLE} (token_hash, slot, instance, lease, expires) \
             VALUES ({}, {}, {}, {}, {}){tail}",
            self.param(1),
            self.param(2),
            self.param(3),
            self.param(4),
            self.param(5)
        );
        for slot in 0..i64::try_from(max).unwrap_or(i64::MAX) {
            let taken = sqlx::query(&insert)
                .bind(hash.to_hex())
                .bind(slot)
                .bind(instance)
                .bind(lease)
                .bind(now + ttl_seconds)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if taken == 1 {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }

    /// Gives a lease back.
    ///
    /// # Errors
    /// The database failed: the lease expires by itself.
    pub async fn release_lease(&self, key: &LeaseKey) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM {TABLE} WHERE token_hash = {} AND slot = {} AND instance = {} AND lease = {}",
            self.param(1),
            self.param(2),
            self.param(3),
            self.param(4)
        );
        sqlx::query(&sql)
            .bind(key.hash.to_hex())
            .bind(key.slot)
            .bind(&key.instance)
            .bind(key.lease)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When a lease renewed now for `ttl_seconds` expires (Unix seconds).
    pub fn lease_expiry(ttl_seconds: i64) -> i64 {
        now_seconds() + ttl_seconds
    }

    /// Moves the expiry of `instance`'s leases numbered `live` to `expires`, and
    /// deletes its other rows (leases whose sessions ended but whose release did not reach the
    /// database): an orphan is never renewed. Says how many rows were renewed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn renew_leases(
        &self,
        instance: &str,
        live: &[i64],
        expires: i64,
    ) -> Result<u64, StoreError> {
        let mut renewed = 0;
        // Bounded statements: every dialect takes a few hundred parameters.
        for chunk in live.chunks(500) {
            let list: Vec<String> = (0..chunk.len()).map(|i| self.param(i + 3)).collect();
            let sql = format!(
                "UPDATE {TABLE} SET expires = {} WHERE instance = {} AND lease IN ({})",
                self.param(1),
                self.param(2),
                list.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(expires).bind(instance);
            for lease in chunk {
                query = query.bind(*lease);
            }
            renewed += query.execute(&self.pool).await?.rows_affected();
        }
        // A lease taken after `expires` was reckoned expires at least as late: it stays.
        let sql = format!(
            "DELETE FROM {TABLE} WHERE instance = {} AND expires < {}",
            self.param(1),
            self.param(2)
        );
        let orphans = sqlx::query(&sql)
            .bind(instance)
            .bind(expires)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if orphans > 0 {
            tracing::info!(orphans, "session leases of ended sessions deleted");
        }
        Ok(renewed)
    }

    /// Gives back every lease `instance` holds (at shutdown).
    ///
    /// # Errors
    /// The database failed: the leases expire by themselves.
    pub async fn release_all_leases(&self, instance: &str) -> Result<u64, StoreError> {
        let sql = format!("DELETE FROM {TABLE} WHERE instance = {}", self.param(1));
        Ok(sqlx::query(&sql)
            .bind(instance)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
