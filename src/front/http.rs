//! One HTTP request: a WebSocket upgrade that passes the Origin and token checks, a static
//! file, or a refusal. Nothing is upgraded before both checks pass.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tower::ServiceExt;

use super::upgrade::{choose_subprotocol, find_token, OriginCheck};
use super::{Connection, Shared};
use crate::token::Token;

/// Every response body: static files stream, the rest are small.
pub(crate) type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// Serves one request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if shared.settings.ssl_only && !connection.tls {
        tracing::info!(peer = %connection.peer, "refused: plain HTTP while ssl_only is set");
        return Ok(text(
            StatusCode::FORBIDDEN,
            "This console proxy accepts HTTPS only.\n",
        ));
    }
    if is_websocket(request.headers()) {
        return Ok(upgrade(shared, connection, request).await);
    }
    if request.uri().path() == "/token-status" {
        return Ok(token_status(&shared, &request).await);
    }
    if request.uri().path().starts_with("/novnc/")
        && matches!(*request.method(), Method::GET | Method::HEAD)
    {
        return Ok(novnc_file(&shared, request).await);
    }
    if let Some(response) = own_page(&request) {
        return Ok(response);
    }
    Ok(static_file(&shared, request).await)
}

/// vncgate's console page, embedded at build time so that it is found without flags.
const CONSOLE_HTML: &str = include_str!("assets/console.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// The console page and its assets.
fn own_page(request: &Request<Incoming>) -> Option<Response<Body>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    let path = request.uri().path();
    let (body, content_type) = match path {
        "/" | "/console.html" => (CONSOLE_HTML, "text/html; charset=utf-8"),
        "/console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "/console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut response = text(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure_headers(headers);
    Some(response)
}

/// Whether the token in the query or cookie would be admitted now (204), is refused (403), or
/// cannot be checked (503). The console page asks before reconnecting, so that a rejected token
/// stops the reconnect loop. Nothing is consumed or counted.
async fn token_status(shared: &Shared, request: &Request<Incoming>) -> Response<Body> {
    let Some(token) = presented_token(request) else {
        return empty(StatusCode::FORBIDDEN);
    };
    let mut response = match shared.tokens.check(&token).await {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(refusal) => {
            empty(StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN))
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The noVNC library (ES modules) from `[vncgate] novnc_dir`.
async fn novnc_file(shared: &Shared, mut request: Request<Incoming>) -> Response<Body> {
    let Some(files) = &shared.novnc_files else {
        return text(
            StatusCode::NOT_FOUND,
            "The noVNC library is not installed on this console server.\n",
        );
    };
    let stripped = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().trim_start_matches("/novnc").to_owned());
    if let Some(uri) = stripped.and_then(|pq| pq.parse::<http::Uri>().ok()) {
        *request.uri_mut() = uri;
    }
    serve_dir(files, request).await
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
    shared: Arc<Shared>,
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
    let origin = OriginCheck {
        origin: header_str(headers, header::ORIGIN),
        host: header_str(headers, header::HOST),
        forwarded_proto: header_str(headers, "x-forwarded-proto"),
        tls: connection.tls,
    };
    if let Err(refusal) = origin.verify(&shared.settings.allowed_origins) {
        tracing::info!(%peer, reason = %refusal, "refused: Origin check failed");
        return empty(StatusCode::FORBIDDEN);
    }
    let Some(token) = presented_token(&request) else {
        tracing::info!(%peer, reason = "no token", "refused: token");
        return empty(StatusCode::FORBIDDEN);
    };
    let hash = token.hash();
    let admission = match shared.tokens.admit(&token).await {
        Ok(admission) => admission,
        Err(refusal) => {
            tracing::info!(%peer, token = %hash.short(), reason = %refusal, "refused: token");
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::FORBIDDEN);
            return empty(status);
        }
    };
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let subprotocol = choose_subprotocol(&offered);

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
    let on_upgrade = hyper::upgrade::on(&mut request);
    let session = crate::session::Session::new(&shared, admission, hash);
    shared
        .tracker
        .spawn(session.run(shared.clone(), connection, on_upgrade));
    response
}

async fn static_file(shared: &Shared, request: Request<Incoming>) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    // CVE-2021-3654: `//evil.example/%2F..` must never turn into a redirect off-site. Nothing
    // here redirects, and a path that starts with `//` is refused outright, as nova does.
    if request.uri().path().starts_with("//") {
        return text(StatusCode::BAD_REQUEST, "URI must not start with //\n");
    }
    let Some(files) = &shared.static_files else {
        return empty(StatusCode::NOT_FOUND);
    };
    serve_dir(files, request).await
}

async fn serve_dir<B>(files: &tower_http::services::ServeDir, request: Request<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut response = match files.clone().oneshot(request).await {
        Ok(response) => response.map(|body| body.map_err(std::io::Error::other).boxed_unsync()),
        Err(never) => match never {},
    };
    secure_headers(response.headers_mut());
    response
}

fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Console URLs carry the token in their query: never send it on in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
