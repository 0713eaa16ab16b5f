//! [`TokenStore`]: every token source asked in order, expiry and single use checked, and the
//! per-token session count kept.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the jti of a JWT without `exp` is remembered (`jwt_require_exp = false`).
const JTI_WITHOUT_EXP: Duration = Duration::from_secs(30 * 86_400);

use super::admission::{
    Admission, Asked, Caller, Claim, LocalCount, Recheck, Refusal, SessionSlot,
};
use super::api::ApiSource;
use super::file::FileSource;
use super::grant::Grant;
use super::jwt::JwtSource;
use super::lease::Leases;
use super::lookups::Lookups;
use super::names::NamesSource;
use super::redis::RedisSource;
use super::secret::{Token, TokenHash};
use super::sql::{SqlStore, StoreError};
use crate::console::ConsoleKind;

/// All token sources, asked in a fixed order: the websockify-format files first (they win a
/// clash: they are local and explicit), then token-named files, then a JWS or JWE by its
/// shape, then the token API, Redis, and the SQL store.
#[derive(Debug, Default)]
pub struct TokenStore {
    files: Option<FileSource>,
    names: Option<NamesSource>,
    jwt: Option<Arc<JwtSource>>,
    api: Option<Arc<ApiSource>>,
    redis: Option<Arc<RedisSource>>,
    sql: Option<SqlStore>,
    max_sessions: usize,
    counts: Arc<Mutex<HashMap<TokenHash, usize>>>,
    /// Where the cap is counted across instances, when the database has the lease table.
    leases: Option<Arc<Leases>>,
    lookups: Lookups,
}

impl TokenStore {
    /// A store over token files and an optional SQL store.
    pub fn new(files: Option<PathBuf>, sql: Option<SqlStore>, max_sessions: usize) -> Self {
        Self {
            files: files.map(FileSource::new),
            names: None,
            jwt: None,
            api: None,
            redis: None,
            sql,
            max_sessions,
            counts: Arc::default(),
            leases: None,
            lookups: Lookups::default(),
        }
    }

    /// This store, counting each ask of a source with `lookups`.
    pub fn with_lookups(mut self, lookups: Lookups) -> Self {
        self.lookups = lookups;
        self
    }

    /// This store, taking tokens named by the files of `dir` after the token files.
    pub fn with_names(mut self, dir: Option<PathBuf>) -> Self {
        self.names = dir.map(NamesSource::new);
        self
    }

    /// This store, taking JWTs signed for `jwt`'s keys.
    pub fn with_jwt(mut self, jwt: Option<Arc<JwtSource>>) -> Self {
        self.jwt = jwt;
        self
    }

    /// This store, asking the token API after the files and JWTs.
    pub fn with_api(mut self, api: Option<Arc<ApiSource>>) -> Self {
        self.api = api;
        self
    }

    /// This store, asking `redis` for tokens after the files, JWTs and the token API.
    pub fn with_redis(mut self, redis: Option<Arc<RedisSource>>) -> Self {
        self.redis = redis;
        self
    }

    /// This store, counting `max_sessions_per_token` with `leases` across every instance that
    /// shares the database (when it has the lease table; otherwise in this instance).
    pub fn with_leases(mut self, leases: Arc<Leases>) -> Self {
        self.leases = Some(leases);
        self
    }

    /// A store with new files and a new session cap, and this one's database and live session
    /// counts (a reload).
    pub fn rebuilt(
        &self,
        files: Option<PathBuf>,
        jwt: Option<Arc<JwtSource>>,
        max_sessions: usize,
    ) -> Self {
        Self {
            files: files.map(FileSource::new),
            names: None,
            jwt,
            api: None,
            redis: None,
            sql: self.sql.clone(),
            max_sessions,
            counts: self.counts.clone(),
            leases: self.leases.clone(),
            lookups: self.lookups.clone(),
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

    /// The token-file entries with a `label=`, by label.
    pub async fn labelled(&self) -> Vec<(String, Grant)> {
        match &self.files {
            Some(files) => files.labelled().await,
            None => Vec::new(),
        }
    }

    /// Whether a token would be admitted now, without consuming or counting anything: what it
    /// grants.
    ///
    /// # Errors
    /// The reason it would be refused.
    pub async fn check(
        &self,
        token: &Token,
        serves: &[ConsoleKind],
        caller: Caller<'_>,
    ) -> Result<Grant, Refusal> {
        let (mut grant, _) = self.find(token, serves).await?;
        self.usable(&mut grant, token.hash(), caller).await?;
        Ok(grant)
    }

    /// The grant of `token` and how it is used once: `Consumed::No` for a token looked up
    /// again later, else the key its single use is recorded under.
    async fn find(&self, token: &Token, serves: &[ConsoleKind]) -> Result<(Grant, Once), Refusal> {
        let hash = token.hash();
        let mut found = match &self.files {
            Some(files) => {
                self.lookups.asked("files");
                files.lookup(&hash).await.map(|grant| (grant, Once::No))
            }
            None => None,
        };
        if let (None, Some(names)) = (&found, &self.names) {
            self.lookups.asked("names");
            found = names
                .lookup(token)
                .await
                .map(|grant| (grant, Once::Asked(Asked::Names)));
        }
        if let (None, Some(jwt)) = (&found, &self.jwt) {
            if jwt.takes(token.expose()) {
                self.lookups.asked("jwt");
                found = Some(jwt_grant(jwt, token)?);
            }
        }
        if let (None, Some(api)) = (&found, &self.api) {
            self.lookups.asked("api");
            found = api
                .lookup(token)
                .await
                .map_err(|error| Refusal::unavailable(StoreError::Api(error)))?
                .map(|grant| (grant, Once::Asked(Asked::Api)));
        }
        if let (None, Some(redis)) = (&found, &self.redis) {
            self.lookups.asked("redis");
            found = redis
                .lookup(token)
                .await
                .map_err(Refusal::unavailable)?
                .map(|grant| (grant, Once::Asked(Asked::Redis)));
        }
        if found.is_none() {
            if let Some(sql) = &self.sql {
                self.lookups.asked("sql");
                found = sql.lookup(&hash).await.map_err(Refusal::unavailable)?.map(
                    |(grant, single)| (grant, if single { Once::Row(hash) } else { Once::No }),
                );
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
    pub async fn admit(
        &self,
        token: &Token,
        serves: &[ConsoleKind],
        caller: Caller<'_>,
    ) -> Result<Admission, Refusal> {
        let hash = token.hash();
        let (mut grant, once) = self.find(token, serves).await?;
        // Before anything is consumed or claimed: a stranger holding the link must not spend
        // it.
        self.usable(&mut grant, hash, caller).await?;
        let slot = self.take_slot(hash).await?;
        let won = match once {
            Once::No | Once::Jwt(None) | Once::Asked(_) => true,
            Once::Row(key) => {
                let sql = self.sql.as_ref().ok_or(Refusal::Unknown)?;
                sql.consume(&key).await.map_err(Refusal::unavailable)?
            }
            Once::Jwt(Some(key)) => {
                // A jti without a database to record it in cannot be held to single use.
                let sql = self.sql.as_ref().ok_or(Refusal::Unknown)?;
                let until = grant
                    .expires
                    .unwrap_or_else(|| SystemTime::now() + JTI_WITHOUT_EXP)
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let until = i64::try_from(until).unwrap_or(i64::MAX);
                sql.claim_once(&key, until)
                    .await
                    .map_err(Refusal::unavailable)?
            }
        };
        if !won {
            return Err(Refusal::AlreadyUsed);
        }
        Ok(Admission {
            grant,
            slot,
            recheck: match once {
                Once::No => Recheck::ByHash,
                Once::Asked(asked) => Recheck::ByToken(asked, token.clone()),
                Once::Row(_) | Once::Jwt(_) => Recheck::Settled,
            },
        })
    }

    /// Which of the `checked` tokens are still live, each asked of its source: the sessions of
    /// the others were revoked (a line removed, a row deleted, an expiry moved into the past, a
    /// token-named file, Redis key or API answer gone). A source asked by the token that fails
    /// proves nothing: its tokens count as live this time.
    ///
    /// # Errors
    /// The database failed: nothing can be said this time.
    pub async fn live_among(
        &self,
        checked: &[(TokenHash, Recheck)],
    ) -> Result<HashSet<TokenHash>, StoreError> {
        let now = SystemTime::now();
        let mut live = HashSet::new();
        let mut rest = Vec::new();
        for (hash, recheck) in checked {
            match recheck {
                Recheck::Settled => {
                    live.insert(*hash);
                }
                Recheck::ByToken(asked, token) => {
                    if self.still_granted(*asked, token).await {
                        live.insert(*hash);
                    }
                }
                Recheck::ByHash => {
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
            }
        }
        if let (Some(sql), false) = (&self.sql, rest.is_empty()) {
            live.extend(sql.live_hashes(&rest).await?);
        }
        Ok(live)
    }

    /// Whether the source that granted `token` still does (or cannot say now).
    async fn still_granted(&self, asked: Asked, token: &Token) -> bool {
        match asked {
            Asked::Names => match &self.names {
                Some(names) => names.lookup(token).await.is_some(),
                None => false,
            },
            Asked::Api => match &self.api {
                Some(api) => api
                    .lookup(token)
                    .await
                    .map_or(true, |grant| grant.is_some()),
                None => false,
            },
            Asked::Redis => match &self.redis {
                Some(redis) => redis
                    .lookup(token)
                    .await
                    .map_or(true, |grant| grant.is_some()),
                None => false,
            },
        }
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

/// How a token is used once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Once {
    /// Not single use: looked up again while its sessions live.
    No,
    /// A single-use row, consumed under its hash.
    Row(TokenHash),
    /// A JWT, in no source that can be asked again: single use under its `jti` when it has one.
    Jwt(Option<TokenHash>),
    /// From a source asked by the token itself, asked again while its sessions live.
    Asked(Asked),
}

/// A JWT's grant; a refusal says why, with the token's hash and never the token.
fn jwt_grant(jwt: &JwtSource, token: &Token) -> Result<(Grant, Once), Refusal> {
    match jwt.grant(token.expose()) {
        Ok((grant, jti)) => {
            // Keyed apart from token hashes, so that a jti cannot collide with a token.
            let key = jti.map(|jti| TokenHash::of(&format!("jti:{jti}")));
            Ok((grant, Once::Jwt(key)))
        }
        Err(error) if error.expired() => Err(Refusal::Expired),
        Err(error) => {
            tracing::info!(token = %token.hash().short(), reason = error.reason(), error = %crate::chain::chain(&error), "JWT refused");
            Err(Refusal::Unknown)
        }
    }
}
