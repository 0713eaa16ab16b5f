//! The live sessions of every instance sharing the database, so that any instance's admin API
//! lists and ends them all.
//!
//! Each instance publishes its own sessions (a row each, keyed by instance and session id),
//! renews their expiry while it lives and deletes them as they end; an instance that died
//! leaves rows that expire. Ending a session on another instance is a request written into its
//! row (`end_reason`); the owner reads its requests and ends those sessions itself.

use sqlx::Row;

use super::records::SharedSession;
use super::schema::{SESSION_TABLE as TABLE, SESSION_USER_COLUMNS as USER_COLUMNS};
use super::{now_seconds, SqlStore, StoreError};

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// Whether the shared session table is there (made by `token init-db`).
    ///
    /// # Errors
    /// The probe failed and nothing is known yet.
    pub async fn has_session_table(&self) -> Result<bool, StoreError> {
        self.sessions.present(&self.pool).await
    }

    /// Publishes a session, expiring `ttl_seconds` from now unless renewed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn publish_session(
        &self,
        session: &SharedSession,
        ttl_seconds: i64,
    ) -> Result<(), StoreError> {
        // A table made before its user columns still takes the session, without its person.
        let users = self.session_users.present(&self.pool).await?;
        let (columns, count) = if users {
            (format!(", {USER_COLUMNS}"), 15)
        } else {
            (String::new(), 13)
        };
        let params: Vec<String> = (1..=count).map(|n| self.param(n)).collect();
        let sql = format!(
            "INSERT INTO {TABLE} (instance, id, token_prefix, client_ip, console, target, started, \
             bytes_down, bytes_up, view_only, clipboard, expires, end_reason{columns}) VALUES ({})",
            params.join(", ")
        );
        let query = sqlx::query(&sql)
            .bind(session.instance.clone())
            .bind(as_i64(session.id))
            .bind(session.token_prefix.clone())
            .bind(session.client_ip.clone())
            .bind(session.console.clone())
            .bind(session.target.clone())
            .bind(as_i64(session.started))
            .bind(as_i64(session.bytes_down))
            .bind(as_i64(session.bytes_up))
            .bind(i64::from(session.view_only))
            .bind(session.clipboard.clone())
            .bind(now_seconds() + ttl_seconds)
            .bind(None::<String>);
        let query = if users {
            query.bind(session.user.clone()).bind(session.email.clone())
        } else {
            query
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Updates a published session's byte counts.
    ///
    /// # Errors
    /// The database failed.
    pub async fn update_session_bytes(
        &self,
        instance: &str,
        id: u64,
        down: u64,
        up: u64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE {TABLE} SET bytes_down = {}, bytes_up = {} WHERE instance = {} AND id = {}",
            self.param(1),
            self.param(2),
            self.param(3),
            self.param(4)
        );
        sqlx::query(&sql)
            .bind(as_i64(down))
            .bind(as_i64(up))
            .bind(instance)
            .bind(as_i64(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes a session out of the table (it ended).
    ///
    /// # Errors
    /// The database failed; the row expires by itself.
    pub async fn unpublish_session(&self, instance: &str, id: u64) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM {TABLE} WHERE instance = {} AND id = {}",
            self.param(1),
            self.param(2)
        );
        sqlx::query(&sql)
            .bind(instance)
            .bind(as_i64(id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renews the expiry of `instance`'s rows, and deletes rows that expired (of instances
    /// that died).
    ///
    /// # Errors
    /// The database failed.
    pub async fn renew_sessions(&self, instance: &str, ttl_seconds: i64) -> Result<(), StoreError> {
        let now = now_seconds();
        let renew = format!(
            "UPDATE {TABLE} SET expires = {} WHERE instance = {}",
            self.param(1),
            self.param(2)
        );
        sqlx::query(&renew)
            .bind(now + ttl_seconds)
            .bind(instance)
            .execute(&self.pool)
            .await?;
        let expired = format!("DELETE FROM {TABLE} WHERE expires <= {}", self.param(1));
        sqlx::query(&expired).bind(now).execute(&self.pool).await?;
        Ok(())
    }

    /// Deletes every row of `instance` (at shutdown).
    ///
    /// # Errors
    /// The database failed; the rows expire by themselves.
    pub async fn unpublish_all_sessions(&self, instance: &str) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {TABLE} WHERE instance = {}", self.param(1));
        sqlx::query(&sql).bind(instance).execute(&self.pool).await?;
        Ok(())
    }

    /// The requests to end sessions of `instance`: (id, reason).
    ///
    /// # Errors
    /// The database failed.
    pub async fn end_requests(&self, instance: &str) -> Result<Vec<(u64, String)>, StoreError> {
        let sql = format!(
            "SELECT {}, end_reason FROM {TABLE} WHERE instance = {} AND end_reason IS NOT NULL",
            self.int64("id"),
            self.param(1)
        );
        let rows = sqlx::query(&sql)
            .bind(instance)
            .fetch_all(&self.pool)
            .await?;
        let mut requests = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let reason: String = row.try_get(1)?;
            requests.push((u64::try_from(id).unwrap_or_default(), reason));
        }
        Ok(requests)
    }

    /// Asks `instance` to end session `id` with `reason`: whether such a live session is
    /// published.
    ///
    /// # Errors
    /// The database failed.
    pub async fn request_end(
        &self,
        instance: &str,
        id: u64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE {TABLE} SET end_reason = {} WHERE instance = {} AND id = {} AND expires > {}",
            self.param(1),
            self.param(2),
            self.param(3),
            self.param(4)
        );
        let updated = sqlx::query(&sql)
            .bind(reason)
            .bind(instance)
            .bind(as_i64(id))
            .bind(now_seconds())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(updated > 0)
    }

    /// Every published session that has not expired, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn shared_sessions(&self) -> Result<Vec<SharedSession>, StoreError> {
        let users = if self.session_users.present(&self.pool).await? {
            USER_COLUMNS
        } else {
            "NULL, NULL"
        };
        let sql = format!(
            "SELECT instance, {}, token_prefix, client_ip, console, target, {}, {}, {}, {}, \
             clipboard, {users} FROM {TABLE} WHERE expires > {} ORDER BY started, instance, id",
            self.int64("id"),
            self.int64("started"),
            self.int64("bytes_down"),
            self.int64("bytes_up"),
            self.int64("view_only"),
            self.param(1)
        );
        let rows = sqlx::query(&sql)
            .bind(now_seconds())
            .fetch_all(&self.pool)
            .await?;
        let count = |value: i64| u64::try_from(value).unwrap_or_default();
        let mut sessions = Vec::with_capacity(rows.len());
        for row in rows {
            sessions.push(SharedSession {
                instance: row.try_get(0)?,
                id: count(row.try_get(1)?),
                token_prefix: row.try_get(2)?,
                client_ip: row.try_get(3)?,
                console: row.try_get(4)?,
                target: row.try_get(5)?,
                started: count(row.try_get(6)?),
                bytes_down: count(row.try_get(7)?),
                bytes_up: count(row.try_get(8)?),
                view_only: row.try_get::<i64, _>(9)? != 0,
                clipboard: row.try_get(10)?,
                user: row.try_get(11)?,
                email: row.try_get(12)?,
            });
        }
        Ok(sessions)
    }
}
