//! The operator's side of the token database: issue, list, revoke, and the expiry sweep.

use std::time::UNIX_EPOCH;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::reach::stored_path;
use super::records::{Listed, NewToken};
use super::{now_seconds, single_use_count, SqlStore, StoreError};
use crate::console::{ConsoleKind, Reach, Target};
use crate::token::secret::REVOKE_PREFIX;

impl SqlStore {
    /// Stores a new token (its hash only).
    ///
    /// # Errors
    /// The database failed, or single-use was asked of a database without vncgate's table.
    pub async fn insert(&self, token: &NewToken) -> Result<(), StoreError> {
        // A ticket's row is deleted by its first session whatever the table says.
        let flagged = token.single_use && token.reach == Reach::Direct;
        if flagged && !self.has_single_use_table().await? {
            return Err(StoreError::NoSingleUseTable);
        }
        let access_path = stored_path(
            &token.reach,
            token.view_only,
            token.clipboard,
            token.record,
            token.person.as_ref(),
        );
        let expires = token
            .expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let sql = format!(
            "INSERT INTO console_auth_tokens (created_at, token_hash, console_type, host, port, instance_uuid, expires, access_url_base, internal_access_path, tls_port) \
             VALUES (CURRENT_TIMESTAMP, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            self.param(1), self.param(2), self.param(3), self.param(4), self.param(5), self.param(6), self.param(7), self.param(8), self.param(9)
        );
        let mut transaction = self.pool.begin().await?;
        sqlx::query(&sql)
            .bind(token.hash.to_hex())
            .bind(token.kind.nova_name())
            .bind(token.target.host.clone())
            .bind(i64::from(token.target.port))
            .bind(token.instance_uuid.clone())
            .bind(expires)
            .bind(token.access_url_base.clone())
            .bind(access_path)
            .bind(token.tls_port.map(i64::from))
            .execute(&mut *transaction)
            .await?;
        if flagged {
            let sql = format!(
                "INSERT INTO vncgate_single_use (token_hash) VALUES ({})",
                self.param(1)
            );
            sqlx::query(&sql)
                .bind(token.hash.to_hex())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Live tokens of the console kinds vncgate serves, soonest expiry first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let with_table = self.has_single_use_table().await?;
        let rows = self.list_rows(with_table).await?;
        let mut listed = Vec::new();
        for row in rows {
            let port: i64 = row.try_get(2)?;
            let single: i64 = row.try_get(5)?;
            let kind: String = row.try_get(6)?;
            listed.push(Listed {
                kind,
                hash: row.try_get(0)?,
                target: Target {
                    host: row.try_get(1)?,
                    port: u16::try_from(port).unwrap_or(0),
                },
                expires: row.try_get(3)?,
                instance_uuid: row.try_get(4)?,
                single_use: single > 0,
            });
        }
        Ok(listed)
    }

    async fn list_rows(&self, with_table: bool) -> Result<Vec<AnyRow>, sqlx::Error> {
        let sql = format!(
            "SELECT token_hash, host, {port}, {expires}, instance_uuid, {single}, console_type FROM console_auth_tokens t \
             WHERE expires > {p1} AND console_type IN ({kinds}) ORDER BY expires",
            kinds = ConsoleKind::ALL
                .iter()
                .map(|kind| format!("'{}'", kind.nova_name()))
                .collect::<Vec<_>>()
                .join(", "),
            port = self.int64("port"),
            expires = self.int64("expires"),
            single = self.int64(single_use_count(with_table)),
            p1 = self.param(1),
        );
        sqlx::query(&sql)
            .bind(now_seconds())
            .fetch_all(&self.pool)
            .await
    }

    /// Revokes the one token whose hash starts with `prefix` (12 or more hex characters).
    /// Returns the full hash revoked.
    ///
    /// # Errors
    /// A bad or ambiguous prefix, no match, or a database failure.
    pub async fn revoke(&self, prefix: &str) -> Result<String, StoreError> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < REVOKE_PREFIX
            || prefix.len() > 64
            || !prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(StoreError::BadPrefix);
        }
        let sql = format!(
            "SELECT token_hash FROM console_auth_tokens WHERE token_hash LIKE {}",
            self.param(1)
        );
        let rows = sqlx::query(&sql)
            .bind(format!("{prefix}%"))
            .fetch_all(&self.pool)
            .await?;
        let hashes: Vec<String> = rows
            .iter()
            .filter_map(|row| row.try_get::<String, _>(0).ok())
            .collect();
        let hash = match hashes.as_slice() {
            [] => return Err(StoreError::NotFound(prefix)),
            [one] => one.clone(),
            _ => {
                return Err(StoreError::Ambiguous {
                    prefix,
                    count: hashes.len(),
                })
            }
        };
        let sql = format!(
            "DELETE FROM console_auth_tokens WHERE token_hash = {}",
            self.param(1)
        );
        sqlx::query(&sql)
            .bind(hash.clone())
            .execute(&self.pool)
            .await?;
        // Absent in a nova database: nothing to clean there.
        let sql = format!(
            "DELETE FROM vncgate_single_use WHERE token_hash = {}",
            self.param(1)
        );
        let _ = sqlx::query(&sql)
            .bind(hash.clone())
            .execute(&self.pool)
            .await;
        Ok(hash)
    }

    /// Deletes expired rows, as nova-compute's periodic task does. Returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delete_expired(&self) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM console_auth_tokens WHERE expires <= {}",
            self.param(1)
        );
        let deleted = sqlx::query(&sql)
            .bind(now_seconds())
            .execute(&self.pool)
            .await?
            .rows_affected();
        // Used jtis are kept until their token expires: a database without the table has none.
        let sql = format!(
            "DELETE FROM {} WHERE expires <= {}",
            super::schema::JTI_TABLE,
            self.param(1)
        );
        let _ = sqlx::query(&sql)
            .bind(now_seconds())
            .execute(&self.pool)
            .await;
        Ok(deleted)
    }

    /// Records the single use of a JWT's `jti` (its hash `key`) until `expires`: exactly one
    /// caller, across every proxy sharing the database, gets `true`.
    ///
    /// # Errors
    /// The database failed, or has no `vncgate_used_jti` table (`vncgate token init-db`).
    pub async fn claim_once(
        &self,
        key: &crate::token::TokenHash,
        expires: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO {} (jti_hash, expires) VALUES ({}, {})",
            super::schema::JTI_TABLE,
            self.param(1),
            self.param(2)
        );
        match sqlx::query(&sql)
            .bind(key.to_hex())
            .bind(expires)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}
