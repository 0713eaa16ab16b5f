//! Admission at the front, around the token store: a check under the handshake deadline, a
//! refusal's status and its cost to the client's refusal budget, and whether the token of a
//! SPICE console a further channel joins is still live.

use crate::chain::chain;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::StatusCode;

use super::context::{Connection, Front};
use super::limiter::Reservation;
use super::locate::{locate, Unlocated};
use crate::backend;
use crate::console::ConsoleKind;
use crate::session::channels::Joined;
use crate::signin::Identity;
use crate::token::{Refusal, RefusalReason, Token};

/// Whether the token of a console a channel joins is still live: a revoked token opens no
/// more channels. A single-use token's row was consumed by the console's first channel, and a
/// JWT is in no source, so there is nothing to ask; its expiry was checked on joining.
pub(super) async fn still_live(
    front: &Front,
    joined: &Joined,
    hash: crate::token::TokenHash,
) -> Result<(), Refusal> {
    if !joined.recheck.asks() {
        return Ok(());
    }
    let asked = within_handshake(front, async {
        front
            .tokens
            .live_among(&[(hash, joined.recheck.clone())])
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

/// A further channel of a SPICE console this client has open: it joins, while its token holds.
async fn joining(
    front: &Front,
    peer: IpAddr,
    hash: crate::token::TokenHash,
) -> Result<Option<Joined>, Refusal> {
    match front.channels.join(hash, peer) {
        Some(Ok(joined)) => still_live(front, &joined, hash)
            .await
            .map(|()| Some(joined)),
        Some(Err(refusal)) => Err(refusal),
        None => Ok(None),
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

/// A console just admitted: its `libvirt:` target located, and, for SPICE, recorded for its
/// other channels to join.
async fn opened(
    front: &Front,
    peer: IpAddr,
    hash: crate::token::TokenHash,
    spice: bool,
    mut admission: crate::token::Admission,
) -> Result<Joined, Unlocated> {
    locate(front, &mut admission.grant).await?;
    let joined = Joined {
        grant: admission.grant,
        recheck: admission.recheck,
        slot: Arc::new(admission.slot),
    };
    if spice {
        front.channels.opened(hash, peer, &joined);
    }
    Ok(joined)
}

/// The status for a `libvirt:` target not found: 403 for the token's or the guest's matter
/// (not running, no such domain), 503 for the hypervisor's, with the client's refusal given back.
fn unlocated_status(
    front: &Front,
    peer: IpAddr,
    hash: &crate::token::TokenHash,
    unlocated: &Unlocated,
    reservation: Reservation,
) -> StatusCode {
    tracing::info!(%peer, token = %hash.short(), reason = unlocated.public_reason(), error = %chain(unlocated), "refused: virtual machine");
    front.refused(peer, unlocated.reason(), Some(hash));
    if unlocated.refuses() {
        StatusCode::FORBIDDEN
    } else {
        reservation.give_back();
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Admits the token of an upgrade from `peer`: a further channel of an open SPICE console
/// joins it (while its token holds), any other is looked up and admitted; then the session's
/// policy and the console server are checked. The client's reserved refusal is given back
/// when the upgrade goes on, or when a refusal was not its fault.
///
/// # Errors
/// The status of the refusal, logged and counted here.
pub(super) async fn admit(
    front: &Front,
    connection: &Connection,
    peer: IpAddr,
    token: &Token,
    person: Option<Identity>,
    reservation: Reservation,
) -> Result<(Joined, Option<Vec<SocketAddr>>), StatusCode> {
    let hash = token.hash();
    // Another channel of a SPICE console this client has open joins it (session/channels.rs).
    let spice = connection.serves.contains(&ConsoleKind::SpiceHtml5);
    let joined = if spice {
        joining(front, peer, hash).await
    } else {
        Ok(None)
    };
    let joined = match joined {
        Ok(joined) => joined,
        Err(refusal) => {
            tracing::info!(%peer, token = %hash.short(), reason = %refusal, "refused: SPICE channel");
            return Err(refuse(front, peer, &refusal, Some(&hash), reservation));
        }
    };
    let admission = match joined {
        Some(joined) => joined,
        None => match admitted(front, connection, token, person.as_ref()).await {
            Ok(admission) => match opened(front, peer, hash, spice, admission).await {
                Ok(joined) => joined,
                Err(unlocated) => {
                    return Err(unlocated_status(
                        front,
                        peer,
                        &hash,
                        &unlocated,
                        reservation,
                    ))
                }
            },
            Err(refusal) => {
                tracing::info!(%peer, token = %hash.short(), reason = %refusal, "refused: token");
                return Err(refuse(front, peer, &refusal, Some(&hash), reservation));
            }
        },
    };
    if let Err(unenforceable) = front.sessions.enforceable(&admission.grant) {
        tracing::info!(%peer, token = %hash.short(), reason = %unenforceable, "refused: the session's policy cannot be enforced");
        front.refused(peer, RefusalReason::PolicyUnenforceable, Some(&hash));
        return Err(StatusCode::FORBIDDEN);
    }
    let target = &admission.grant.target;
    let addresses = match front.sessions.connector.check_target(target).await {
        Ok(addresses) => addresses,
        Err(error @ backend::Error::NotAllowed(_)) => {
            tracing::info!(%peer, token = %hash.short(), %target, error = %chain(&error), "refused: console server not allowed");
            front.refused(peer, RefusalReason::BackendNotAllowed, Some(&hash));
            return Err(StatusCode::FORBIDDEN);
        }
        Err(error) => {
            tracing::info!(%peer, token = %hash.short(), %target, error = %chain(&error), "refused: console server unresolvable");
            front.refused(peer, RefusalReason::BackendUnresolvable, Some(&hash));
            // Not the client's fault: its refusal is given back.
            reservation.give_back();
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    reservation.give_back();
    Ok((admission, addresses))
}

/// `token` looked up and admitted for the browser's person (and held to the access policy's
/// rules by project), under the handshake deadline.
async fn admitted(
    front: &Front,
    connection: &Connection,
    token: &Token,
    person: Option<&Identity>,
) -> Result<crate::token::Admission, Refusal> {
    within_handshake(front, async {
        let caller = super::signin::caller(front, person);
        front.tokens.admit(token, connection.serves, caller).await
    })
    .await
}

/// Whether `token` would be admitted now for the browser of `request` (`/token-status`).
pub(super) async fn check(
    front: &Front,
    connection: &Connection,
    request: &http::Request<hyper::body::Incoming>,
    token: &crate::token::Token,
) -> Result<crate::token::Grant, crate::token::Refusal> {
    let person = super::signin::signed_in(front, request.headers());
    let caller = super::signin::caller(front, person.as_ref());
    within_handshake(front, front.tokens.check(token, connection.serves, caller)).await
}
