//! The live sessions through the admin API: `GET /v1/sessions` lists them, `DELETE
//! /v1/sessions/ID` ends one with a reason its page shows (`?reason=` or `{"reason": ...}`).

use std::time::UNIX_EPOCH;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::api::{error, record, Api};
use crate::console::printable;

/// One entry of `GET /v1/sessions`.
#[derive(Debug, Serialize)]
struct SessionBody {
    id: u64,
    token_hash_prefix: String,
    client_ip: String,
    console: &'static str,
    target: String,
    started: u64,
    bytes_to_browser: u64,
    bytes_to_server: u64,
    view_only: bool,
    clipboard: &'static str,
}

/// `DELETE /v1/sessions/ID`'s reason, from the query.
#[derive(Debug, Deserialize)]
pub(super) struct EndQuery {
    reason: Option<String>,
}

/// The longest reason passed on to a browser: it goes into a WebSocket close frame (123 bytes
/// at most, with vncgate's own words in front).
const MAX_REASON: usize = 60;

pub(super) async fn list_sessions(State(api): State<Api>) -> Response {
    let body: Vec<SessionBody> = api
        .sessions
        .list()
        .into_iter()
        .map(|session| SessionBody {
            id: session.id,
            token_hash_prefix: session.token,
            client_ip: session.info.client_ip.to_string(),
            console: session.info.kind.nova_name(),
            target: session.info.target,
            started: session
                .info
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            bytes_to_browser: session.bytes_down,
            bytes_to_server: session.bytes_up,
            view_only: session.info.view_only,
            clipboard: session.info.clipboard.name(),
        })
        .collect();
    Json(body).into_response()
}

pub(super) async fn end_session(
    State(api): State<Api>,
    Path(id): Path<u64>,
    Query(query): Query<EndQuery>,
) -> Response {
    // The reason reaches a browser and a log: printable, and short.
    let reason: String = printable(query.reason.as_deref().unwrap_or("no reason given"))
        .chars()
        .take(MAX_REASON)
        .collect();
    if api.sessions.end(id, &reason) {
        tracing::info!(session = id, %reason, "session ended through the admin API");
        record(
            api.audit.as_deref(),
            "session_ended",
            format!("session {id}"),
            Some(reason),
        );
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("no live session {id} on this instance"),
        )
    }
}
