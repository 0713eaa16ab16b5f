//! The audit trail (`[vncgate] audit_log`): one JSON object a line for every session opened and
//! closed, every refusal, every token issued or revoked, every reload, with the real client
//! address. Appended to a file made 0600 (reopened on SIGHUP, for logrotate), or written to
//! standard error. A token never appears in it: at most the first 8 hex characters of its
//! sha256, as in the logs.

use crate::chain::chain;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::config::AuditTarget;

/// What an event records: its `event` field, by the names operators' tools read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A session opened.
    #[default]
    SessionOpen,
    /// A session that opened closed.
    SessionClose,
    /// An admitted session ended before it opened, with the reason.
    SessionFailed,
    /// An operator ended a session.
    SessionEnded,
    /// An operator asked another instance to end one of its sessions.
    SessionEndRequested,
    /// A request was refused.
    Refusal,
    /// A token was issued.
    TokenIssued,
    /// A token was revoked.
    TokenRevoked,
    /// The configuration was reloaded, or the reload refused.
    Reload,
    /// Retention deleted a recording (`reason` names the rule).
    RecordingDeleted,
    /// Someone signed in through the identity provider.
    SignIn,
    /// A sign-in failed (`reason`).
    SignInFailed,
    /// Someone signed out.
    SignOut,
}

/// One event. Fields that do not apply are left out.
#[derive(Debug, Default, Serialize)]
pub struct Event {
    /// RFC 3339, UTC.
    pub time: String,
    /// What it records.
    pub event: Kind,
    /// The real client address (through `trusted_proxies` and the PROXY protocol).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    /// The first 8 hex characters of the token's sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
    /// The signed-in person's subject at the identity provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Their e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The `access_policy` rule that granted the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The console kind (nova's `console_type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console: Option<&'static str>,
    /// The console server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The scheme used toward it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<&'static str>,
    /// Bytes relayed to the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_to_browser: Option<u64>,
    /// Bytes relayed to the console server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_to_server: Option<u64>,
    /// How long the session lasted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Why it ended, or why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// nova's instance, when the token is a nova row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_uuid: Option<String>,
    /// The session's recording file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    /// Its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_bytes: Option<u64>,
    /// Its SHA-256, hex, as stored (the ciphertext when encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_sha256: Option<String>,
    /// Whether the recording holds the browser's input (`record_input`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_input: Option<bool>,
    /// Why a session that was to be recorded has no recording (a best-effort recording dropped
    /// or failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_error: Option<String>,
}

impl Event {
    /// An event of `kind`, stamped now.
    pub fn now(kind: Kind) -> Self {
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            time,
            event: kind,
            ..Self::default()
        }
    }
}

/// Where events go.
#[derive(Debug)]
pub struct Audit {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

fn open_file(path: &std::path::Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

impl Audit {
    /// The trail `target` names, opened.
    ///
    /// # Errors
    /// The file cannot be opened for appending.
    pub fn open(target: &AuditTarget) -> std::io::Result<Self> {
        Ok(match target {
            AuditTarget::Stderr => Self {
                path: None,
                file: Mutex::new(None),
            },
            AuditTarget::File(path) => Self {
                file: Mutex::new(Some(open_file(path)?)),
                path: Some(path.clone()),
            },
        })
    }

    /// Opens the file again, after logrotate moved it away.
    pub fn reopen(&self) {
        let Some(path) = &self.path else {
            return;
        };
        match open_file(path) {
            Ok(file) => {
                *self
                    .file
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(file);
            }
            Err(error) => {
                tracing::error!(file = %path.display(), error = %chain(&error), "audit log not reopened; writing on to the old file");
            }
        }
    }

    /// Writes one event as one line.
    pub fn record(&self, event: &Event) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let written = match file.as_mut() {
            // One write per line on an O_APPEND file: lines from several writers never mix.
            Some(file) => file.write_all(&line),
            None => std::io::stderr().write_all(&line),
        };
        if let Err(error) = written {
            tracing::error!(error = %chain(&error), "audit event not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_lines_without_empty_fields_in_a_0600_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit.log");
        let audit = Audit::open(&AuditTarget::File(path.clone())).unwrap_or_else(|e| panic!("{e}"));
        let mut event = Event::now(Kind::Refusal);
        event.client_ip = "203.0.113.9".parse().ok();
        event.reason = Some("unknown_token".into());
        audit.record(&event);
        std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap_or_else(|e| panic!("{e}"));
        audit.reopen();
        audit.record(&Event::now(Kind::Reload));
        let rotated = std::fs::read_to_string(dir.path().join("audit.log.1")).unwrap_or_default();
        let line: serde_json::Value = serde_json::from_str(rotated.trim()).unwrap_or_default();
        assert_eq!(line["event"], "refusal");
        assert_eq!(line["client_ip"], "203.0.113.9");
        assert!(line.get("target").is_none());
        let fresh = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(fresh.contains("\"event\":\"reload\""), "{fresh}");
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
    }
}
