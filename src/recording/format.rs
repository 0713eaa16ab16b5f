//! What a recording holds: a header line, then one JSON line per chunk.
//!
//! - RFB (`.vncrec`): `{"format":"vncgate-recording","version":1,…}`, then
//!   `[seconds, "s", base64]` for what the console server sent from ServerInit on, and
//!   `[seconds, "c", base64]` for what the browser sent: its ClientInit, SetPixelFormat and
//!   SetEncodings (what replaying needs), and everything else only with `record_input`.
//! - Serial (`.cast`): asciicast v2, the asciinema format: a header object with the same
//!   metadata under `vncgate`, then `[seconds, "o", text]`, and `[seconds, "i", text]` with
//!   `record_input`.
//! - SPICE: the header alone; its channels are not replayable here (docs/OPERATIONS.md).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::Serialize;

use super::error::Error;
use crate::console::ConsoleKind;

/// The format's name in the header.
pub(super) const FORMAT: &str = "vncgate-recording";

/// The format's version.
pub(super) const VERSION: u32 = 1;

/// Who and what a recording is of, for its header.
#[derive(Debug, Clone)]
pub struct Subject {
    /// The session's id within its instance.
    pub session: u64,
    /// The instance that recorded it.
    pub instance: String,
    /// The token's hash prefix (never the token).
    pub token: String,
    /// The console kind.
    pub kind: ConsoleKind,
    /// The console server.
    pub target: String,
    /// The client's address.
    pub client: std::net::IpAddr,
}

/// The metadata at the head of every recording.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: &'static str,
    /// [`VERSION`].
    pub version: u32,
    /// The session's id within its instance.
    pub session: u64,
    /// The instance that recorded it.
    pub instance: String,
    /// The token's hash prefix.
    pub token: String,
    /// nova's name of the console kind.
    pub console: &'static str,
    /// The console server.
    pub target: String,
    /// The client's address.
    pub client: std::net::IpAddr,
    /// RFC 3339, UTC.
    pub start: String,
    /// Unix time, seconds.
    pub start_unix: u64,
    /// Whether the browser's input is recorded.
    pub input: bool,
}

impl Header {
    /// The header of a recording of `subject` starting now.
    pub fn new(subject: &Subject, input: bool) -> Self {
        let now = time::OffsetDateTime::now_utc();
        let start = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Self {
            format: FORMAT,
            version: VERSION,
            session: subject.session,
            instance: subject.instance.clone(),
            token: subject.token.clone(),
            console: subject.kind.nova_name(),
            target: subject.target.clone(),
            client: subject.client,
            start,
            start_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            input,
        }
    }

    /// The start as `YYYYMMDDTHHMMSSZ`, for file names.
    pub fn compact_start(&self) -> String {
        self.start
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'T')
            .take(15)
            .chain(std::iter::once('Z'))
            .collect()
    }
}

/// Turns chunks into lines of the session's format.
pub(super) struct Encoder {
    kind: ConsoleKind,
    header: Header,
    /// The end of a UTF-8 sequence cut by a chunk boundary, from the server (serial).
    carry_out: Vec<u8>,
    /// The same, from the browser.
    carry_in: Vec<u8>,
}

impl Encoder {
    /// The encoder of a `kind` recording.
    pub(super) fn new(kind: ConsoleKind, header: Header) -> Self {
        Self {
            kind,
            header,
            carry_out: Vec::new(),
            carry_in: Vec::new(),
        }
    }

    /// The first line.
    ///
    /// # Errors
    /// The header does not serialise.
    pub(super) fn header(&self) -> Result<Vec<u8>, Error> {
        let mut line = if self.kind == ConsoleKind::Serial {
            serde_json::to_vec(&serde_json::json!({
                "version": 2,
                "width": 80,
                "height": 24,
                "timestamp": self.header.start_unix,
                "title": format!("serial console {}", self.header.target),
                "env": {"TERM": "xterm-256color"},
                "vncgate": self.header,
            }))
        } else {
            serde_json::to_vec(&self.header)
        }
        .map_err(Error::Encode)?;
        line.push(b'\n');
        Ok(line)
    }

    /// The line of one chunk, `at` after the start; `server` says which way it went.
    pub(super) fn event(&mut self, at: Duration, server: bool, bytes: &[u8]) -> Vec<u8> {
        use std::fmt::Write;
        // Written out rather than through a JSON value: this runs for every chunk of a session.
        let seconds = at.as_secs_f64();
        let mut line = String::with_capacity(bytes.len() * 4 / 3 + 32);
        if self.kind == ConsoleKind::Serial {
            let carry = if server {
                &mut self.carry_out
            } else {
                &mut self.carry_in
            };
            let text = utf8_text(carry, bytes);
            if text.is_empty() {
                return Vec::new();
            }
            let code = if server { "o" } else { "i" };
            let text = serde_json::Value::String(text);
            let _ = write!(line, "[{seconds:.6}, \"{code}\", {text}]");
        } else {
            let code = if server { "s" } else { "c" };
            let _ = write!(line, "[{seconds:.6},\"{code}\",\"");
            base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut line);
            line.push_str("\"]");
        }
        line.push('\n');
        line.into_bytes()
    }
}

/// `bytes` after `carry` as text: invalid sequences become U+FFFD, and an incomplete one at
/// the end waits in `carry` for the next chunk.
fn utf8_text(carry: &mut Vec<u8>, bytes: &[u8]) -> String {
    carry.extend_from_slice(bytes);
    let mut text = String::new();
    let mut rest: &[u8] = carry;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                rest = &[];
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                text.push_str(&String::from_utf8_lossy(valid));
                match error.error_len() {
                    Some(bad) => {
                        text.push('\u{fffd}');
                        rest = after.get(bad..).unwrap_or_default();
                    }
                    // Cut at the end: kept for the next chunk.
                    None => {
                        rest = after;
                        break;
                    }
                }
            }
        }
    }
    let kept = rest.to_vec();
    *carry = kept;
    text
}

#[cfg(test)]
mod tests {
    use super::utf8_text;

    #[test]
    fn a_character_cut_between_chunks_is_whole_in_the_text() {
        let mut carry = Vec::new();
        let euro = "€".as_bytes();
        assert_eq!(utf8_text(&mut carry, &[b'a', euro[0], euro[1]]), "a");
        assert_eq!(utf8_text(&mut carry, &[euro[2], b'b']), "€b");
        assert!(carry.is_empty());
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut carry = Vec::new();
        assert_eq!(utf8_text(&mut carry, b"a\xffb"), "a\u{fffd}b");
    }
}
