//! Why a relay ended, and what the browser is told.

use std::fmt;

use crate::websocket::code;

use super::filter;

/// Why a relay ended.
#[derive(Debug)]
pub enum End {
    /// The VNC server closed its side.
    BackendClosed,
    /// Reading from or writing to the VNC server failed.
    BackendError(std::io::Error),
    /// The browser sent a close frame (with its code, if any).
    BrowserClosed(Option<u16>),
    /// The browser's connection ended without a close frame, or failed.
    BrowserGone(String),
    /// The browser broke the WebSocket protocol; the close code it is owed.
    BrowserError(u16, String),
    /// The browser sent a text message; RFB is binary.
    BrowserText,
    /// Nothing heard from the browser within the client timeout.
    BrowserTimeout,
    /// The token expired and `enforce_session_timeout` is on.
    Expired,
    /// The proxy is shutting down.
    Shutdown,
    /// A filter refused a message (a policy, or a message it cannot frame).
    Refused(filter::Error),
    /// The session's token was revoked.
    Revoked,
    /// An operator ended the session (admin API, `vncgate session kill`), with a reason.
    Ended(String),
    /// The session must be recorded and its recording could not keep up.
    Unrecorded,
}

/// The close frame owed to the browser.
#[derive(Debug, PartialEq, Eq)]
pub enum Owed {
    /// A close frame with a code and a reason the browser shows; a reply is awaited.
    Close(u16, String),
    /// The reply to the browser's own close frame.
    Reply(Option<u16>),
    /// Nothing: the connection is gone.
    Nothing,
}

impl End {
    /// The close frame owed to the browser. The reason is shown to the user, so it is short
    /// and says nothing of the inside.
    pub fn owed(&self) -> Owed {
        let (code, reason) = match self {
            Self::BackendClosed => (code::NORMAL, "the console server closed the connection"),
            Self::BackendError(_) => (code::ERROR, "the connection to the console server failed"),
            Self::BrowserClosed(code) => return Owed::Reply(*code),
            Self::BrowserGone(_) => return Owed::Nothing,
            Self::BrowserError(code, _) if *code == code::TOO_BIG => {
                (*code, "a message was larger than the console proxy accepts")
            }
            Self::BrowserError(code, _) => (*code, "the browser broke the WebSocket protocol"),
            Self::BrowserText => (code::UNSUPPORTED, "only binary messages are accepted"),
            Self::BrowserTimeout => (code::AWAY, "no response from the browser"),
            Self::Expired => (code::NORMAL, "the console session has expired"),
            Self::Shutdown => (code::AWAY, "the console proxy is shutting down"),
            Self::Refused(error) => (code::POLICY, error.public_reason()),
            Self::Revoked => (code::POLICY, "the console access was revoked"),
            Self::Unrecorded => (
                code::ERROR,
                "this console must be recorded and recording is unavailable",
            ),
            Self::Ended(why) => {
                return Owed::Close(
                    code::POLICY,
                    format!("the console session was ended by an administrator: {why}"),
                )
            }
        };
        Owed::Close(code, reason.into())
    }
}

impl fmt::Display for End {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BackendClosed => formatter.write_str("console server closed"),
            Self::BackendError(error) => write!(formatter, "console server error: {error}"),
            Self::BrowserClosed(Some(code)) => write!(formatter, "browser closed ({code})"),
            Self::BrowserClosed(None) => formatter.write_str("browser closed"),
            Self::BrowserGone(why) => write!(formatter, "browser gone: {why}"),
            Self::BrowserError(_, error) => write!(formatter, "browser error: {error}"),
            Self::BrowserText => formatter.write_str("browser sent text"),
            Self::BrowserTimeout => formatter.write_str("browser timed out"),
            Self::Expired => formatter.write_str("token expired"),
            Self::Shutdown => formatter.write_str("shutdown"),
            Self::Refused(error) => write!(formatter, "{error}"),
            Self::Revoked => formatter.write_str("token revoked"),
            Self::Ended(why) => write!(formatter, "ended by an administrator: {why}"),
            Self::Unrecorded => formatter.write_str("the recording could not keep up"),
        }
    }
}

impl From<crate::websocket::Error> for End {
    fn from(error: crate::websocket::Error) -> Self {
        match error.close_code() {
            Some(code) => Self::BrowserError(code, error.to_string()),
            None => Self::BrowserGone(error.to_string()),
        }
    }
}
