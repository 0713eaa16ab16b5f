//! The sign-in routes as the front serves them: the answer, and its outcome in the audit trail
//! and `vncgate_signins_total`.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::client;
use super::context::{Connection, Front};
use super::response::Body;
use crate::ops::audit::{Event, Kind};
use crate::signin::Outcome;

/// The answer to `request` if its path is a sign-in route.
pub(super) async fn serve(
    front: &Front,
    connection: &Connection,
    request: &Request<Incoming>,
) -> Option<Response<Body>> {
    let signin = front.signin.as_ref()?;
    let route = signin.route(request.uri().path())?;
    let (response, outcome) = signin
        .serve(route, request.method(), request.uri(), request.headers())
        .await;
    let client = client::resolve(
        connection.peer.ip(),
        &front.trusted_proxies,
        front.forwarded_header,
        request.headers(),
    );
    record(front, client.ip, outcome);
    Some(response.map(|body| {
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync()
    }))
}

fn record(front: &Front, client: std::net::IpAddr, outcome: Outcome) {
    let (kind, result, who, reason) = match outcome {
        Outcome::SignedIn(identity) => (Kind::SignIn, "ok", Some(identity), None),
        Outcome::Failed(error) => {
            tracing::info!(%client, reason = %crate::chain::chain(&error), "sign-in failed");
            (Kind::SignInFailed, error.label(), None, Some(error.label()))
        }
        Outcome::SignedOut(who) => (Kind::SignOut, "", who, None),
        Outcome::Started | Outcome::Nothing => return,
    };
    if !result.is_empty() {
        front.metrics.signed_in(result);
    }
    if let Some(identity) = &who {
        tracing::info!(%client, user = %identity.sub, event = ?kind, "sign-in");
    }
    if let Some(audit) = &front.audit {
        let mut event = Event::now(kind);
        event.client_ip = Some(client);
        event.user = who.as_ref().map(|identity| identity.sub.clone());
        event.email = who.and_then(|identity| identity.email);
        event.reason = reason.map(str::to_owned);
        audit.record(&event);
    }
}
