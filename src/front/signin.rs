//! The sign-in routes as the front serves them: the answer, and its outcome in the audit trail
//! and `vncgate_signins_total`.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::client;
use super::context::{Connection, Front};
use super::response::{empty, Body};
use crate::ops::audit::{Event, Kind};
use crate::signin::{Identity, Outcome};

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

/// Under `require_login`, the console pages send a browser that is not signed in to sign in,
/// and back to the same page afterwards.
pub(super) fn sign_in_first(front: &Front, request: &Request<Incoming>) -> Option<Response<Body>> {
    let signin = front.signin.as_ref()?;
    front.require_login.as_ref()?;
    let path = request.uri().path();
    let console_page = matches!(path, "/" | "/console.html" | "/vnc.html" | "/vnc_lite.html");
    let serial_page = path == "/serial.html";
    if !(console_page || serial_page) || signin.identity(request.headers()).is_some() {
        return None;
    }
    let here = request.uri().path_and_query().map_or(path, |p| p.as_str());
    let location = match (serial_page, &front.serial_page) {
        // The serial port's page signs in at the console port's /login, and comes back here.
        (true, Some(origin)) => signin.login_from(&format!("{origin}{here}")),
        (true, None) => return None,
        (false, _) => {
            let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
            format!("/login?next={next}")
        }
    };
    let mut response = empty(StatusCode::SEE_OTHER);
    let location = HeaderValue::from_str(&location).ok()?;
    response.headers_mut().insert(header::LOCATION, location);
    Some(response)
}

/// Who opens a token: the browser's person, and, under `require_login`, the claims and the
/// access policy's rules by project.
pub(super) fn caller<'a>(
    front: &'a Front,
    person: Option<&'a Identity>,
) -> crate::token::Caller<'a> {
    let claims = front.require_login.as_deref();
    let by_project = front
        .access_policy
        .as_deref()
        .filter(|policy| claims.is_some() && policy.names_projects());
    crate::token::Caller {
        person,
        claims,
        by_project,
    }
}

/// The person signed in in the browser that sent `headers`, if sign-in is on.
pub(super) fn signed_in(front: &Front, headers: &HeaderMap) -> Option<Identity> {
    front.signin.as_ref()?.identity(headers)
}
