//! Liveness and readiness: `/healthz` says the process serves, `/readyz` whether it takes new
//! sessions now (not while draining, not while the token database does not answer). Load
//! balancers ask often, so the database's answer is kept for a second.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::token::TokenStore;

/// How long a database check is trusted.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The process's readiness.
#[derive(Debug)]
pub struct Health {
    draining: AtomicBool,
    tokens: Arc<TokenStore>,
    checked: Mutex<Option<(Instant, bool)>>,
}

impl Health {
    /// Ready unless draining or the token database fails.
    pub fn new(tokens: Arc<TokenStore>) -> Self {
        Self {
            draining: AtomicBool::new(false),
            tokens,
            checked: Mutex::new(None),
        }
    }

    /// From now on `/readyz` answers 503: the process is going away.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the process is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether new sessions would be taken now.
    pub async fn ready(&self) -> bool {
        if self.is_draining() {
            return false;
        }
        let Some(sql) = self.tokens.sql() else {
            return true;
        };
        let cached = *self
            .checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((at, answer)) = cached {
            if at.elapsed() < CHECK_EVERY {
                return answer;
            }
        }
        let answer = tokio::time::timeout(CHECK_EVERY, sql.ping())
            .await
            .is_ok_and(|result| result.is_ok());
        *self
            .checked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), answer));
        answer
    }
}
