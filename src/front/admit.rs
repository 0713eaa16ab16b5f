//! Admission at the front, around the token store: a check under the handshake deadline, a
//! refusal's status and its cost to the client's refusal budget, and whether the token of a
//! SPICE console a further channel joins is still live.

use std::net::IpAddr;

use http::StatusCode;

use super::context::Front;
use super::limiter::Reservation;
use crate::session::channels::Joined;
use crate::token::Refusal;

/// Whether the token of a console a channel joins is still live: a revoked token opens no
/// more channels. A single-use token's row was consumed by the console's first channel, so
/// there is nothing to ask; its expiry was checked on joining.
pub(super) async fn still_live(
    front: &Front,
    joined: &Joined,
    hash: crate::token::TokenHash,
) -> Result<(), Refusal> {
    if joined.single_use {
        return Ok(());
    }
    let asked = within_handshake(front, async {
        front
            .tokens
            .live_among(&[hash])
            .await
            .map_err(Refusal::unavailable)
    })
    .await?;
    if asked.contains(&hash) {
        Ok(())
    } else {
        Err(Refusal::Unknown)
    }
}

/// A token check under the handshake deadline: a database that does not answer in time is a
/// 503, not a connection held open.
pub(super) async fn within_handshake<T>(
    front: &Front,
    check: impl std::future::Future<Output = Result<T, Refusal>>,
) -> Result<T, Refusal> {
    match tokio::time::timeout(front.handshake_timeout, check).await {
        Ok(result) => result,
        Err(_) => Err(Refusal::TimedOut),
    }
}

/// The status for a refused token. A 403, or a 429 at the token's session cap, keeps the
/// client's reserved refusal spent, so that retrying either costs the client its budget; a 503
/// (the database) is not its fault and gives it back.
pub(super) fn refuse(
    front: &Front,
    client: IpAddr,
    refusal: &Refusal,
    token: Option<&crate::token::TokenHash>,
    reservation: Reservation,
) -> StatusCode {
    front.refused(client, refusal.metric_reason(), token);
    let status = refusal.status();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        reservation.give_back();
    }
    status
}
