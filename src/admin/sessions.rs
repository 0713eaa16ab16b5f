//! The live sessions through the admin API: `GET /v1/sessions` lists them, `DELETE
//! /v1/sessions/ID` ends one with a reason its page shows (`?reason=`). With a shared database
//! (and its `vncgate_live_sessions` table) every instance's sessions are listed, each with its
//! `instance`, and `?instance=NAME` ends a session held by another instance: that instance ends
//! it within [`SYNC_INTERVAL`].

use crate::chain::chain;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::api::{error, record, Api};
use crate::console::printable;
use crate::session::directory::{bounded_reason, SYNC_INTERVAL};
use crate::token::sql::SharedSession;

/// One entry of `GET /v1/sessions`.
#[derive(Debug, Serialize)]
struct SessionBody {
    id: u64,
    /// The instance holding it (this one's for its own).
    instance: String,
    token_hash_prefix: String,
    client_ip: String,
    console: String,
    target: String,
    started: u64,
    /// Exact for this instance's sessions; as last published for the others'.
    bytes_to_browser: u64,
    bytes_to_server: u64,
    view_only: bool,
    clipboard: String,
    /// The signed-in person it is for (their `sub`), when there is one.
    user: Option<String>,
    email: Option<String>,
}

impl SessionBody {
    fn shared(session: SharedSession) -> Self {
        Self {
            id: session.id,
            instance: session.instance,
            token_hash_prefix: session.token_prefix,
            client_ip: session.client_ip,
            console: session.console,
            target: session.target,
            started: session.started,
            bytes_to_browser: session.bytes_down,
            bytes_to_server: session.bytes_up,
            view_only: session.view_only,
            clipboard: session.clipboard,
            user: session.user,
            email: session.email,
        }
    }
}

/// `DELETE /v1/sessions/ID`'s query.
#[derive(Debug, Deserialize)]
pub(super) struct EndQuery {
    reason: Option<String>,
    /// The instance holding the session; this one when absent.
    instance: Option<String>,
}

pub(super) async fn list_sessions(State(api): State<Api>) -> Response {
    let own = api.directory.instance().to_owned();
    let mut body: Vec<SessionBody> = api
        .sessions
        .list()
        .iter()
        .map(|session| SessionBody::shared(api.directory.shared(session)))
        .collect();
    match api.directory.list().await {
        Ok(shared) => body.extend(
            shared
                .into_iter()
                .filter(|session| session.instance != own)
                .map(SessionBody::shared),
        ),
        // This instance's own sessions are still known.
        Err(error) => {
            tracing::warn!(error = %chain(&error), "other instances' sessions could not be listed")
        }
    }
    Json(body).into_response()
}

pub(super) async fn end_session(
    State(api): State<Api>,
    Path(id): Path<u64>,
    Query(query): Query<EndQuery>,
) -> Response {
    // The reason reaches a browser and a log: printable, and short.
    let reason = bounded_reason(query.reason.as_deref().unwrap_or("no reason given"));
    let own = api.directory.instance();
    match query.instance.as_deref() {
        Some(instance) if instance != own => end_elsewhere(&api, instance, id, reason).await,
        _ if api.sessions.end(id, &reason) => {
            tracing::info!(session = id, %reason, "session ended through the admin API");
            record(
                api.audit.as_deref(),
                crate::ops::audit::Kind::SessionEnded,
                format!("session {id}"),
                Some(reason),
            );
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no live session {id} on this instance ({own}); another instance's needs ?instance=NAME"),
        ),
    }
}

/// Asks `instance` to end its session `id`.
async fn end_elsewhere(api: &Api, instance: &str, id: u64, reason: String) -> Response {
    let instance = printable(instance);
    match api.directory.request_end(&instance, id, &reason).await {
        Ok(true) => {
            tracing::info!(session = id, %instance, %reason, "session end requested through the admin API");
            record(
                api.audit.as_deref(),
                crate::ops::audit::Kind::SessionEndRequested,
                format!("session {id} on {instance}"),
                Some(reason),
            );
            let message = format!(
                "instance {instance} ends session {id} within {} s",
                SYNC_INTERVAL.as_secs()
            );
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({ "message": message })),
            )
                .into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("no live session {id} published by instance {instance}"),
        ),
        Err(failure) => {
            tracing::warn!(error = %failure, "session end not requested");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the shared database did not answer",
            )
        }
    }
}
