//! This instance's live sessions, published in the shared database so that the admin API of
//! any instance lists and ends the sessions of all of them.
//!
//! Every [`SYNC_INTERVAL`] the instance publishes the sessions that opened, takes out those
//! that ended, updates byte counts, renews its rows' expiry, and ends the sessions another
//! instance asked it to end. It runs only with a configured database (vncgate's own SQLite file
//! serves one instance); without the table (a database before `token init-db`) it does nothing
//! and each instance lists its own.

use crate::chain::chain;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::registry::{Listed, Registry};
use crate::console::printable;
use crate::token::sql::SharedSession;
use crate::token::{SqlStore, StoreError};

/// How often the published sessions follow the live ones; also how late an end requested
/// through another instance may take effect.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// The most byte-count updates written in one sync: the rest wait for the next, so that a
/// busy instance does not flood a shared database.
const MAX_UPDATES: usize = 256;

/// The longest reason for ending a session passed on to a browser: it goes into a WebSocket
/// close frame (123 bytes at most, with vncgate's own words in front).
pub const MAX_REASON: usize = 60;

/// A reason for ending a session as it may reach a browser and a log: printable, and at most
/// [`MAX_REASON`] characters.
pub fn bounded_reason(text: &str) -> String {
    printable(text).chars().take(MAX_REASON).collect()
}

/// The live sessions of this instance in the shared database.
#[derive(Debug)]
pub struct Directory {
    sql: SqlStore,
    instance: String,
    /// How long a row outlives its instance's last renewal.
    ttl: Duration,
}

impl Directory {
    /// Publishes as `instance`; rows expire `ttl` after their last renewal.
    pub fn new(sql: SqlStore, instance: String, ttl: Duration) -> Self {
        Self { sql, instance, ttl }
    }

    /// This instance's name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn ttl_seconds(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX).max(1)
    }

    /// `session` as this instance publishes it (and its admin API lists it).
    pub fn shared(&self, session: &Listed) -> SharedSession {
        SharedSession {
            instance: self.instance.clone(),
            id: session.id,
            token_prefix: session.token.clone(),
            client_ip: session.info.client_ip.to_string(),
            console: session.info.kind.nova_name().to_owned(),
            target: session.info.target.clone(),
            started: session
                .info
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            bytes_down: session.bytes_down,
            bytes_up: session.bytes_up,
            view_only: session.info.view_only,
            clipboard: session.info.clipboard.name().to_owned(),
            user: session.info.user.as_ref().map(|person| person.sub.clone()),
            email: session
                .info
                .user
                .as_ref()
                .and_then(|person| person.email.clone()),
        }
    }

    /// The sessions every instance published, this one's included; empty without the table.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self) -> Result<Vec<SharedSession>, StoreError> {
        if !self.sql.has_session_table().await? {
            return Ok(Vec::new());
        }
        self.sql.shared_sessions().await
    }

    /// Asks `instance` to end its session `id`: whether it is published there.
    ///
    /// # Errors
    /// The database failed.
    pub async fn request_end(
        &self,
        instance: &str,
        id: u64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        if !self.sql.has_session_table().await? {
            return Ok(false);
        }
        self.sql.request_end(instance, id, reason).await
    }

    /// Follows `registry` until `shutdown`, then takes this instance's rows out.
    pub async fn run(self: Arc<Self>, registry: Arc<Registry>, shutdown: CancellationToken) {
        let mut published: HashMap<u64, (u64, u64)> = HashMap::new();
        let mut tick = tokio::time::interval(SYNC_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => break,
            }
            match self.sync(&registry, &mut published).await {
                Ok(()) => {}
                // The next sync tries again; rows of sessions that end meanwhile expire.
                Err(error) => {
                    tracing::debug!(error = %chain(&error), "live sessions not published")
                }
            }
        }
        if !published.is_empty() {
            if let Err(error) = self.sql.unpublish_all_sessions(&self.instance).await {
                tracing::info!(error = %chain(&error), "published sessions not taken out; they expire by themselves");
            }
        }
    }

    async fn sync(
        &self,
        registry: &Registry,
        published: &mut HashMap<u64, (u64, u64)>,
    ) -> Result<(), StoreError> {
        if !self.sql.has_session_table().await? {
            return Ok(());
        }
        let live: HashMap<u64, Listed> = registry
            .list()
            .into_iter()
            .map(|session| (session.id, session))
            .collect();
        let gone: Vec<u64> = published
            .keys()
            .filter(|id| !live.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            self.sql.unpublish_session(&self.instance, id).await?;
            published.remove(&id);
        }
        let mut updates = 0;
        for (id, session) in &live {
            let bytes = (session.bytes_down, session.bytes_up);
            match published.get(id) {
                None => {
                    self.sql
                        .publish_session(&self.shared(session), self.ttl_seconds())
                        .await?;
                }
                Some(last) if *last != bytes && updates < MAX_UPDATES => {
                    updates += 1;
                    self.sql
                        .update_session_bytes(&self.instance, *id, bytes.0, bytes.1)
                        .await?;
                }
                Some(_) => continue,
            }
            published.insert(*id, bytes);
        }
        self.sql
            .renew_sessions(&self.instance, self.ttl_seconds())
            .await?;
        for (id, reason) in self.sql.end_requests(&self.instance).await? {
            // Written by another instance's admin API, which bounds it; bounded again here,
            // since it goes to a browser and a log.
            let reason = bounded_reason(&reason);
            if registry.end(id, &reason) {
                tracing::info!(
                    session = id,
                    reason,
                    "session ended at another instance's request"
                );
            }
        }
        Ok(())
    }
}
