//! What every route of the admin API shares: its state, error answers, the audit record.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::console::Secret;
use crate::ops::audit::{Audit, Event};
use crate::session::directory::Directory;
use crate::session::registry::Registry;
use crate::token::issue::BaseUrls;
use crate::token::SqlStore;

/// What the API needs.
#[derive(Clone)]
pub struct Api {
    pub(super) store: SqlStore,
    pub(super) secret: Arc<Secret>,
    pub(super) base_urls: BaseUrls,
    pub(super) default_ttl: Duration,
    pub(super) audit: Option<Arc<Audit>>,
    /// The live sessions of this instance.
    pub(super) sessions: Arc<Registry>,
    /// Every instance's live sessions, through the shared database.
    pub(super) directory: Arc<Directory>,
}

impl Api {
    /// The API over `store`, guarded by `secret`; issued tokens get `default_ttl` and URLs on
    /// `base_url`; issues and revocations go to `audit`.
    pub fn new(
        store: SqlStore,
        secret: Secret,
        base_urls: BaseUrls,
        default_ttl: Duration,
        audit: Option<Arc<Audit>>,
        sessions: Arc<Registry>,
        directory: Arc<Directory>,
    ) -> Self {
        Self {
            store,
            secret: Arc::new(secret),
            base_urls,
            default_ttl,
            audit,
            sessions,
            directory,
        }
    }
}

/// Writes a token event to the audit trail, when there is one.
pub(super) fn record(
    audit: Option<&Audit>,
    kind: crate::ops::audit::Kind,
    hash: String,
    target: Option<String>,
) {
    if let Some(audit) = audit {
        let mut event = Event::now(kind);
        event.token_hash = Some(hash);
        event.target = target;
        event.reason = Some("admin API".into());
        audit.record(&event);
    }
}

/// A JSON error answer.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}
