//! The admin API, on its own listener (loopback by default): issue, list and revoke tokens with
//! JSON, for operators without nova, and list and end live sessions (`sessions.rs`). Off unless a bearer secret is configured. The secret is
//! checked before a body is read, and bodies are capped at 16 KiB; [`crate::ops::listener`] bounds
//! the connections.

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request as HttpRequest, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::console::{Clipboard, ConsoleKind, Reach, Secret};
use crate::token::issue::{self, Request};
use crate::token::{hex_prefix, StoreError, LOG_PREFIX, REVOKE_PREFIX};

mod api;
mod sessions;

pub use api::Api;
use api::{error, record};

/// `POST /v1/tokens` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    host: Option<String>,
    port: Option<u16>,
    /// A WebMKS ticket URL instead of host and port.
    url: Option<String>,
    /// The ESXi host certificate's thumbprint, with `url`.
    thumbprint: Option<String>,
    /// A libvirt domain (name or UUID) instead of host and port: its console is found in its
    /// live XML when a session starts.
    domain: Option<String>,
    /// The hypervisor holding `domain`, by its name in `[libvirt] uris`.
    uri: Option<String>,
    /// nova's console type: `novnc` (the default), `serial` or `spice-html5`.
    kind: Option<String>,
    /// A SPICE server's TLS port.
    tls_port: Option<u16>,
    /// A watch link: its sessions may not act.
    #[serde(default)]
    view_only: bool,
    /// Which way the clipboard may flow: `both`, `to-guest`, `from-guest` or `none`.
    clipboard: Option<Clipboard>,
    ttl: Option<u64>,
    instance_uuid: Option<String>,
    #[serde(default)]
    single_use: bool,
    /// Whether its sessions are recorded; absent leaves it to `[vncgate] record`.
    record: Option<bool>,
}

/// `POST /v1/tokens` answer: the only time the token is shown.
#[derive(Debug, Serialize)]
struct IssuedBody {
    token: String,
    hash_prefix: String,
    expires: u64,
    url: String,
}

/// One entry of `GET /v1/tokens`.
#[derive(Debug, Serialize)]
struct ListedBody {
    hash_prefix: String,
    host: String,
    port: u16,
    expires: i64,
    instance_uuid: String,
    single_use: bool,
    kind: String,
}

/// Reads the bearer secret: the whole file, trimmed; empty is refused.
///
/// # Errors
/// Unreadable or empty file.
pub fn read_secret(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let secret = text.trim();
    if secret.len() < 16 {
        return Err(format!(
            "{}: the admin secret must be at least 16 characters",
            path.display()
        ));
    }
    Ok(Secret::new(secret))
}

fn authorised(api: &Api, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant-time; lengths differ only for wrong secrets.
    presented
        .as_bytes()
        .ct_eq(api.secret.expose().as_bytes())
        .into()
}

/// Largest request body: a token request is a few hundred bytes.
const MAX_BODY: usize = 16 * 1024;

/// Every route's gate: the bearer secret, checked before anything reads the body.
async fn require_bearer(State(api): State<Api>, request: HttpRequest, next: Next) -> Response {
    if !authorised(&api, request.headers()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer secret");
    }
    next.run(request).await
}

/// Where a token of `body` leads: a libvirt domain, host and port, or a WebMKS ticket.
fn destination(body: &IssueBody) -> Result<(crate::console::Target, Reach), String> {
    match (&body.domain, &body.host, &body.url) {
        (Some(domain), None, None) => {
            issue::domain_target(domain, body.uri.as_deref()).map(|target| (target, Reach::Direct))
        }
        (Some(_), _, _) => Err("give a domain, or host and port, or a WebMKS url".to_owned()),
        (None, _, _) if body.uri.is_some() => {
            Err("uri names the hypervisor of a domain".to_owned())
        }
        (None, _, _) => issue::destination(
            body.host.as_deref(),
            body.port,
            body.url.as_deref(),
            body.thumbprint.as_deref(),
        ),
    }
}

async fn issue_token(
    State(api): State<Api>,
    body: Result<Json<IssueBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let ttl = body.ttl.map_or(api.default_ttl, Duration::from_secs);
    let (target, reach) = match destination(&body) {
        Ok(destination) => destination,
        Err(message) => return error(StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    // A ticket is good once.
    let single_use = body.single_use || reach != Reach::Direct;
    let kind = match body.kind.as_deref().map(ConsoleKind::from_nova_name) {
        None => ConsoleKind::Novnc,
        Some(Some(kind)) if kind != ConsoleKind::Webmks => kind,
        Some(_) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "kind must be novnc, serial or spice-html5",
            )
        }
    };
    let request = Request {
        person: None,
        kind,
        target,
        tls_port: body.tls_port,
        view_only: body.view_only,
        clipboard: body.clipboard,
        reach,
        ttl,
        instance_uuid: body.instance_uuid,
        single_use,
        record: body.record,
    };
    if let Err(unenforceable) = request.enforceable() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, unenforceable.to_string());
    }
    match issue::issue(&api.store, &api.base_urls, &request).await {
        Ok(issued) => {
            let hash = issued.token.hash();
            tracing::info!(token = %hash.short(), target = %request.target, "token issued through the admin API");
            record(
                api.audit.as_deref(),
                crate::ops::audit::Kind::TokenIssued,
                hash.short(),
                Some(request.target.to_string()),
            );
            let expires = issued
                .expires
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let body = IssuedBody {
                token: issued.token.expose().to_owned(),
                hash_prefix: hash.prefix(),
                expires,
                url: issued.url,
            };
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(failure @ issue::Error::Lifetime) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, failure.to_string())
        }
        Err(failure) => error(StatusCode::SERVICE_UNAVAILABLE, failure.to_string()),
    }
}

async fn list_tokens(State(api): State<Api>) -> Response {
    match api.store.list().await {
        Ok(rows) => {
            let body: Vec<ListedBody> = rows
                .into_iter()
                .map(|row| ListedBody {
                    hash_prefix: hex_prefix(&row.hash, REVOKE_PREFIX),
                    host: row.target.host,
                    port: row.target.port,
                    expires: row.expires,
                    instance_uuid: row.instance_uuid,
                    single_use: row.single_use,
                    kind: row.kind,
                })
                .collect();
            Json(body).into_response()
        }
        Err(failure) => error(StatusCode::SERVICE_UNAVAILABLE, failure.to_string()),
    }
}

async fn revoke_token(State(api): State<Api>, Path(prefix): Path<String>) -> Response {
    match api.store.revoke(&prefix).await {
        Ok(hash) => {
            let short = hex_prefix(&hash, LOG_PREFIX);
            tracing::info!(token = %short, "token revoked through the admin API");
            record(
                api.audit.as_deref(),
                crate::ops::audit::Kind::TokenRevoked,
                short,
                None,
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(failure @ StoreError::NotFound(_)) => error(StatusCode::NOT_FOUND, failure.to_string()),
        Err(failure @ (StoreError::BadPrefix | StoreError::Ambiguous { .. })) => {
            error(StatusCode::BAD_REQUEST, failure.to_string())
        }
        Err(failure) => error(StatusCode::SERVICE_UNAVAILABLE, failure.to_string()),
    }
}

/// Serves the admin API on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, api: Api, shutdown: CancellationToken) {
    let app = Router::new()
        .route("/v1/tokens", get(list_tokens).post(issue_token))
        .route("/v1/tokens/{prefix}", delete(revoke_token))
        .route("/v1/sessions", get(sessions::list_sessions))
        .route("/v1/sessions/{id}", delete(sessions::end_session))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(api.clone(), require_bearer))
        .with_state(api);
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "admin API listening");
    crate::ops::listener::serve("admin API", listener, app, shutdown).await;
}
