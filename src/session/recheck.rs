//! Looks the tokens of live sessions up again every `session_recheck_interval`, and ends the
//! sessions whose token was revoked: a line taken out of a token file, a row deleted (`token
//! revoke`, the admin API, nova deleting an instance's tokens), an expiry moved into the past.
//! Every instance sharing the database does this for its own sessions, so a revocation holds
//! across all of them. A token that simply expired is not a revocation: whether its sessions
//! end is `enforce_session_timeout`'s to say.

use crate::chain::chain;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use crate::token::TokenStore;

/// Rechecks until `shutdown`; an interval of zero never does.
pub async fn run(
    registry: Arc<Registry>,
    tokens: Arc<ArcSwap<TokenStore>>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    if interval.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let checked = registry.to_recheck(SystemTime::now());
        if checked.is_empty() {
            continue;
        }
        let tokens = tokens.load_full();
        match tokens.live_among(&checked).await {
            Ok(live) => {
                let ended = registry.revoke(&checked, &live, SystemTime::now());
                if ended > 0 {
                    tracing::info!(
                        sessions = ended,
                        "sessions ended: their tokens were revoked"
                    );
                }
            }
            // An outage proves nothing about the tokens: the sessions go on.
            Err(error) => tracing::debug!(error = %chain(&error), "session recheck skipped"),
        }
    }
}
