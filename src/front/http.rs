//! One HTTP request: a WebSocket upgrade that passes the Origin and token checks, a page, or a
//! refusal. Nothing is upgraded before both checks pass; an upgraded request becomes a
//! [`Session`].

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::admit::{admit, refuse};
use super::client;
use super::context::{Connection, Front};
use super::headers::Page;
use super::pages::{
    not_allowed, novnc_file, own_page, player_page, serial_page, spice_page, static_file,
    xterm_file, Pages,
};
use super::response::{empty, text, Body};
use super::upgrade::{choose_subprotocol, find_token, OriginCheck};
use crate::console::ConsoleKind;
use crate::session::Session;
use crate::token::{Refusal, Token};

/// Serves one request.
pub(crate) async fn handle(
    front: Arc<Front>,
    connection: Arc<Connection>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if is_websocket(request.headers()) {
        if front.ssl_only && !connection.tls {
            tracing::info!(peer = %connection.peer, "refused: plain HTTP while ssl_only is set");
            front.refused(
                connection.peer.ip(),
                crate::token::RefusalReason::PlainHttp,
                None,
            );
            return Ok(empty(StatusCode::FORBIDDEN));
        }
        return Ok(upgrade(front, connection, request).await);
    }
    let client = client::resolve(
        connection.peer.ip(),
        &front.trusted_proxies,
        front.forwarded_header,
        request.headers(),
    );
    let https = connection.tls || client.forwarded_proto.as_deref() == Some("https");
    let (mut response, page) = page(&front, &connection, request).await;
    front.headers.apply(response.headers_mut(), page, https);
    Ok(response)
}

/// Every request but an upgrade, and the policy its response gets.
async fn page(
    front: &Front,
    connection: &Connection,
    request: Request<Incoming>,
) -> (Response<Body>, Page) {
    if front.ssl_only && !connection.tls {
        tracing::info!(peer = %connection.peer, "refused: plain HTTP while ssl_only is set");
        let refused = text(
            StatusCode::FORBIDDEN,
            "This console proxy accepts HTTPS only.\n",
        );
        return (refused, Page::Static);
    }
    if let Some(response) = super::consoles::serve(front, &request).await {
        return (response, Page::Own);
    }
    if let Some(response) = super::signin::serve(front, connection, &request).await {
        return (response, Page::Own);
    }
    match request.uri().path() {
        "/token-status" => return (token_status(front, connection, &request).await, Page::Own),
        "/healthz" => return (text(StatusCode::OK, "ok\n"), Page::Static),
        "/readyz" if front.health.ready().await => {
            return (text(StatusCode::OK, "ready\n"), Page::Static)
        }
        "/readyz" => {
            return (
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
                Page::Static,
            )
        }
        _ => {}
    }
    let request = match other_port_page(front, connection, request).await {
        Ok(served) => return served,
        Err(request) => request,
    };
    let library = matches!(*request.method(), Method::GET | Method::HEAD);
    if request.uri().path().starts_with("/novnc/") && library {
        return (novnc_file(&front.pages, request).await, Page::Own);
    }
    // The recording player: noVNC for RFB recordings, xterm.js (which writes inline styles)
    // for serial ones.
    if request.uri().path().starts_with("/xterm/") && library {
        return (xterm_file(&front.pages, request).await, Page::Serial);
    }
    if let Some(response) = player_page(&request) {
        return (response, Page::Serial);
    }
    if let Some(response) = super::signin::sign_in_first(front, &request) {
        return (response, Page::Own);
    }
    if let Some(response) = own_page(&front.pages, &request) {
        return (response, Page::Own);
    }
    (static_file(&front.pages, request).await, Page::Static)
}

/// The pages of the serial and SPICE ports; the request back on the console port.
async fn other_port_page(
    front: &Front,
    connection: &Connection,
    request: Request<Incoming>,
) -> Result<(Response<Body>, Page), Request<Incoming>> {
    let library = matches!(*request.method(), Method::GET | Method::HEAD);
    match connection.serves.first() {
        // The serial port: vncgate's serial page and xterm.js, and 405 for anything else.
        Some(ConsoleKind::Serial) => {
            if library && request.uri().path().starts_with("/xterm/") {
                return Ok((xterm_file(&front.pages, request).await, Page::Serial));
            }
            if let Some(response) = super::signin::sign_in_first(front, &request) {
                return Ok((response, Page::Own));
            }
            Ok(match serial_page(&request) {
                Some(response) => (response, Page::Serial),
                None => (not_allowed(), Page::Static),
            })
        }
        // The SPICE port: spice-html5 is its web root, as on nova-spicehtml5proxy, and
        // vncgate's SPICE page is its `/console.html`.
        Some(ConsoleKind::SpiceHtml5) => {
            if let Some(response) = spice_page(&request) {
                // spice-html5 sizes its canvases with inline styles, as xterm.js does.
                return Ok((response, Page::Serial));
            }
            let pages = Pages {
                static_files: front.pages.spice_files.clone(),
                ..Pages::default()
            };
            Ok((static_file(&pages, request).await, Page::Static))
        }
        _ => Err(request),
    }
}

/// Whether the token in the query or cookie would be admitted now (204), is refused (403), or
/// cannot be checked (503). The console page asks before reconnecting, so that a rejected token
/// stops the reconnect loop. Nothing is consumed or counted, but refusals count against the
/// client as the upgrade's do.
async fn token_status(
    front: &Front,
    connection: &Connection,
    request: &Request<Incoming>,
) -> Response<Body> {
    let client = client::resolve(
        connection.peer.ip(),
        &front.trusted_proxies,
        front.forwarded_header,
        request.headers(),
    );
    let mut policy = None;
    let mut reason = None;
    let status = match front.limiter.reserve(client.ip) {
        None => {
            front.refused(client.ip, crate::token::RefusalReason::RateLimited, None);
            StatusCode::TOO_MANY_REQUESTS
        }
        Some(reservation) => {
            let token = presented_token(request);
            let checked = match &token {
                None => Err(Refusal::Missing),
                Some(token) => super::admit::check(front, connection, request, token).await,
            };
            let hash = token.as_ref().map(Token::hash);
            // A libvirt domain is asked where its console is, so that the page can say a
            // guest is not running.
            let checked = match checked {
                Ok(mut grant) => match super::locate::locate(front, &mut grant).await {
                    Ok(()) => Ok(grant),
                    Err(unlocated) => {
                        front.refused(client.ip, unlocated.reason(), hash.as_ref());
                        let status = if unlocated.refuses() {
                            StatusCode::FORBIDDEN
                        } else {
                            reservation.give_back();
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        return token_status_response(
                            status,
                            None,
                            Some(unlocated.public_reason()),
                        );
                    }
                },
                Err(refusal) => Err(refusal),
            };
            match checked {
                Ok(grant) if front.sessions.enforceable(&grant).is_err() => {
                    front.refused(
                        client.ip,
                        crate::token::RefusalReason::PolicyUnenforceable,
                        hash.as_ref(),
                    );
                    StatusCode::FORBIDDEN
                }
                Ok(grant) => {
                    reservation.give_back();
                    policy = Some(front.sessions.policy(&grant));
                    StatusCode::NO_CONTENT
                }
                Err(refusal) => {
                    reason = refusal.public_reason();
                    refuse(front, client.ip, &refusal, hash.as_ref(), reservation)
                }
            }
        }
    };
    let mut response = token_status_response(status, policy, reason);
    // The operator's settings of the page (`console_defaults`), where the page asks anyway.
    if let Some(defaults) = &front.console_defaults {
        response
            .headers_mut()
            .insert("x-console-defaults", defaults.clone());
    }
    response
}

/// `/token-status`'s answer: the status, the session's policy when it would be admitted (a
/// watch link, which way the clipboard may flow), and why it is refused when the page can say
/// more than "rejected" (a virtual machine that is not running).
fn token_status_response(
    status: StatusCode,
    policy: Option<crate::relay::filter::Policy>,
    reason: Option<&'static str>,
) -> Response<Body> {
    let mut response = empty(status);
    // The page shows a watch link as such, and a clipboard that may not flow (the proxy
    // enforces both whatever the page does).
    if let Some(policy) = policy {
        if policy.view_only {
            response
                .headers_mut()
                .insert("x-console-view-only", HeaderValue::from_static("true"));
        }
        response.headers_mut().insert(
            "x-console-clipboard",
            HeaderValue::from_static(policy.clipboard.name()),
        );
    }
    if let Some(reason) = reason {
        response
            .headers_mut()
            .insert("x-console-reason", HeaderValue::from_static(reason));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(token))
        })
}

/// The token a request carries: `?token=` in its query, else the `token` cookie.
fn presented_token<B>(request: &Request<B>) -> Option<Token> {
    let cookies: Vec<&str> = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    find_token(request.uri().query(), &cookies)
        .as_deref()
        .and_then(Token::new)
}

fn is_websocket(headers: &HeaderMap) -> bool {
    header_has_token(headers, header::UPGRADE, "websocket")
        && header_has_token(headers, header::CONNECTION, "upgrade")
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn upgrade(
    front: Arc<Front>,
    connection: Arc<Connection>,
    mut request: Request<Incoming>,
) -> Response<Body> {
    let headers = request.headers();
    let peer = connection.peer;
    if request.method() != Method::GET {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    if header_str(headers, header::SEC_WEBSOCKET_VERSION) != Some("13") {
        tracing::info!(%peer, "refused: WebSocket version other than 13");
        let mut response = empty(StatusCode::UPGRADE_REQUIRED);
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        tracing::info!(%peer, "refused: no Sec-WebSocket-Key");
        return empty(StatusCode::BAD_REQUEST);
    };
    let client = client::resolve(
        peer.ip(),
        &front.trusted_proxies,
        front.forwarded_header,
        headers,
    );
    let peer = client.ip;
    // One refusal reserved before anything is looked up, given back when the upgrade goes on.
    let Some(reservation) = front.limiter.reserve(peer) else {
        tracing::info!(%peer, "refused: too many refusals from this client (max_refusals_per_ip_per_minute)");
        front.refused(peer, crate::token::RefusalReason::RateLimited, None);
        return empty(StatusCode::TOO_MANY_REQUESTS);
    };
    let origin = OriginCheck {
        origin: header_str(headers, header::ORIGIN),
        host: header_str(headers, header::HOST),
        forwarded_proto: client.forwarded_proto.as_deref(),
        tls: connection.tls,
    };
    if let Err(refusal) = origin.verify(&front.allowed_origins) {
        tracing::info!(%peer, reason = %refusal, "refused: Origin check failed");
        front.refused(peer, crate::token::RefusalReason::Origin, None);
        return empty(StatusCode::FORBIDDEN);
    }
    let Some(token) = presented_token(&request) else {
        tracing::info!(%peer, reason = %Refusal::Missing, "refused: token");
        return empty(refuse(&front, peer, &Refusal::Missing, None, reservation));
    };
    let hash = token.hash();
    let person = super::signin::signed_in(&front, request.headers());
    let (admission, addresses) =
        match admit(&front, &connection, peer, &token, person, reservation).await {
            Ok(admitted) => admitted,
            Err(status) => return empty(status),
        };
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let subprotocol = choose_subprotocol(&offered);

    let response = switching_protocols(&key, subprotocol);
    let on_upgrade = hyper::upgrade::on(&mut request);
    let max_message = front.sessions.max_message_size;
    let browser = async move {
        let upgraded = on_upgrade.await?;
        Ok::<_, hyper::Error>(super::stream::open(upgraded, max_message))
    };
    let session = Session::new(&front.sessions, peer, admission, addresses, hash);
    front
        .tracker
        .spawn(session.run(front.sessions.clone(), connection, browser));
    response
}

/// The 101 answer to an upgrade with `key`, naming `subprotocol` when one was chosen.
fn switching_protocols(key: &HeaderValue, subprotocol: Option<&'static str>) -> Response<Body> {
    let mut response = empty(StatusCode::SWITCHING_PROTOCOLS);
    let response_headers = response.headers_mut();
    response_headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    // The accept key is base64 and always a valid header value.
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        response_headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = subprotocol {
        response_headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol),
        );
    }
    response
}
