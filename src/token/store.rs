//! [`TokenStore`]: every token source asked in order, expiry and single use checked, and the
//! per-token session count kept.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::admission::{Admission, Claim, LocalCount, Refusal, SessionSlot};
use super::file::FileSource;
use super::grant::Grant;
use super::lease::Leases;
use super::secret::{Token, TokenHash};
use super::sql::{SqlStore, StoreError};
use crate::console::ConsoleKind;

/// All token sources: the websockify-format files first (they win a clash: they are local and
/// explicit), then the SQL store.
#[derive(Debug, Default)]
pub struct TokenStore {
    files: Option<FileSource>,
    sql: Option<SqlStore>,
    max_sessions: usize,
    counts: Arc<Mutex<HashMap<TokenHash, usize>>>,
    /// Where the cap is counted across instances, when the database has the lease table.
    leases: Option<Arc<Leases>>,
}

impl TokenStore {
    /// A store over token files and an optional SQL store.
    pub fn new(files: Option<PathBuf>, sql: Option<SqlStore>, max_sessions: usize) -> Self {
        Self {
            files: files.map(FileSource::new),
            sql,
            max_sessions,
            counts: Arc::default(),
            leases: None,
        }
    }

    /// This store, counting `max_sessions_per_token` with `leases` across every instance that
    /// shares the database (when it has the lease table; otherwise in this instance).
    pub fn with_leases(mut self, leases: Arc<Leases>) -> Self {
        self.leases = Some(leases);
        self
    }

    /// A store with new files and a new session cap, and this one's database and live session
    /// counts (a reload).
    pub fn rebuilt(&self, files: Option<PathBuf>, max_sessions: usize) -> Self {
        Self {
            files: files.map(FileSource::new),
            sql: self.sql.clone(),
            max_sessions,
            counts: self.counts.clone(),
            leases: self.leases.clone(),
        }
    }

    /// A store over a websockify-format file or directory only.
    pub fn with_files(path: Option<PathBuf>) -> Self {
        Self::new(path, None, 0)
    }

    /// The SQL store, if any.
    pub fn sql(&self) -> Option<&SqlStore> {
        self.sql.as_ref()
    }

    /// Whether a token would be admitted now, without consuming or counting anything: what it
    /// grants.
    ///
    /// # Errors
    /// The reason it would be refused.
    pub async fn check(&self, token: &Token, serves: &[ConsoleKind]) -> Result<Grant, Refusal> {
        let (grant, _) = self.find(token, serves).await?;
        if grant.is_live(SystemTime::now()) {
            Ok(grant)
        } else {
            Err(Refusal::Expired)
        }
    }

    async fn find(&self, token: &Token, serves: &[ConsoleKind]) -> Result<(Grant, bool), Refusal> {
        let hash = token.hash();
        let mut found = match &self.files {
            Some(files) => files.lookup(&hash).await.map(|grant| (grant, false)),
            None => None,
        };
        if found.is_none() {
            if let Some(sql) = &self.sql {
                found = sql.lookup(&hash).await.map_err(Refusal::unavailable)?;
            }
        }
        match found {
            None => Err(Refusal::Unknown),
            Some((grant, _)) if !serves.contains(&grant.kind) => {
                Err(Refusal::OtherConsole(grant.kind))
            }
            Some(found) => Ok(found),
        }
    }

    /// Looks a token up, checks it is for a console kind in `serves` and not expired, consumes
    /// it if single-use, and takes a session slot.
    ///
    /// # Errors
    /// The reason for refusal.
    pub async fn admit(&self, token: &Token, serves: &[ConsoleKind]) -> Result<Admission, Refusal> {
        let hash = token.hash();
        let (grant, single_use) = self.find(token, serves).await?;
        if !grant.is_live(SystemTime::now()) {
            return Err(Refusal::Expired);
        }
        let slot = self.take_slot(hash).await?;
        if single_use {
            let sql = self.sql.as_ref().ok_or(Refusal::Unknown)?;
            if !sql.consume(&hash).await.map_err(Refusal::unavailable)? {
                return Err(Refusal::AlreadyUsed);
            }
        }
        Ok(Admission {
            grant,
            slot,
            single_use,
        })
    }

    /// Which of `hashes` still name live tokens, in any source: the sessions of the others
    /// were revoked (a line removed, a row deleted, an expiry moved into the past).
    ///
    /// # Errors
    /// The database failed: nothing can be said this time.
    pub async fn live_among(&self, hashes: &[TokenHash]) -> Result<HashSet<TokenHash>, StoreError> {
        let now = SystemTime::now();
        let mut live = HashSet::new();
        let mut rest = Vec::new();
        for hash in hashes {
            let in_files = match &self.files {
                Some(files) => files.lookup(hash).await,
                None => None,
            };
            match in_files {
                Some(grant) if grant.is_live(now) => {
                    live.insert(*hash);
                }
                Some(_) => {}
                None => rest.push(*hash),
            }
        }
        if let (Some(sql), false) = (&self.sql, rest.is_empty()) {
            live.extend(sql.live_hashes(&rest).await?);
        }
        Ok(live)
    }

    async fn take_slot(&self, hash: TokenHash) -> Result<SessionSlot, Refusal> {
        if self.max_sessions == 0 {
            return Ok(SessionSlot {
                _claim: Claim::Uncounted,
            });
        }
        if let Some(leases) = &self.leases {
            if leases.available().await.map_err(Refusal::unavailable)? {
                return match leases.take(hash, self.max_sessions).await {
                    Ok(Some(lease)) => Ok(SessionSlot {
                        _claim: Claim::Shared { _lease: lease },
                    }),
                    Ok(None) => Err(Refusal::TooManySessions(self.max_sessions)),
                    Err(error) => Err(Refusal::unavailable(error)),
                };
            }
        }
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(hash).or_insert(0);
        if *count >= self.max_sessions {
            return Err(Refusal::TooManySessions(self.max_sessions));
        }
        *count += 1;
        Ok(SessionSlot {
            _claim: Claim::Local {
                _count: LocalCount {
                    counts: self.counts.clone(),
                    hash,
                },
            },
        })
    }
}
