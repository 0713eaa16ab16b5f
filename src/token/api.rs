//! Tokens looked up over HTTP, as websockify's `BaseTokenAPI` and `JSONTokenApi` do: GET
//! `token_api_url` with the token in place of `%s`; the answer is `host:port` as text, or JSON
//! `{"host", "port"}` with vncgate's optional fields. 404, 403, 401 and 410 mean an unknown
//! token; anything else that is not a 2xx, a timeout or a failed connection is an outage (503,
//! never an admission). Answers are cached for `token_api_cache_ttl`, unknown tokens too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use super::grant::{Extras, Grant};
use super::secret::{Token, TokenHash};
use crate::console::{Secret, Target};
use crate::http_client::HttpClient;

/// How long a lookup, connection included, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The largest answer read.
const MAX_ANSWER: usize = 16 << 10;

/// Answers kept at most: past this the cache starts again.
const MAX_CACHED: usize = 10_000;

/// Why the API could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The URL made with the token does not parse.
    #[error("token_api_url does not make a URL")]
    Url,
    /// No answer: no connection, TLS or HTTP failed, too long, too late.
    #[error("the token API did not answer")]
    Unanswered(#[from] crate::http_client::ClientError),
    /// An answer that is neither a grant nor a refusal.
    #[error("the token API answered HTTP {0}")]
    Status(u16),
}

/// What the configuration says about the token API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `token_api_url`, with `%s` where the token goes.
    pub url: String,
    /// `token_api_cache_ttl`: how long an answer is kept.
    pub cache_ttl: Duration,
    /// `token_api_ca`: the CAs an HTTPS API's certificate is checked against.
    pub ca: std::path::PathBuf,
    /// `token_api_bearer_file`: a bearer token sent with each lookup.
    pub bearer_file: Option<std::path::PathBuf>,
}

/// The HTTP lookup source.
pub struct ApiSource {
    template: String,
    client: HttpClient,
    bearer: Option<Secret>,
    ttl: Duration,
    cache: Mutex<HashMap<TokenHash, (Instant, Option<Grant>)>>,
}

impl std::fmt::Debug for ApiSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApiSource")
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// JSON answers: websockify's `host` and `port`, and vncgate's optional fields.
#[derive(Deserialize)]
struct Answer {
    host: String,
    port: Option<PortField>,
    #[serde(flatten)]
    extras: Extras,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PortField {
    Number(u16),
    Text(String),
}

impl ApiSource {
    /// A source on `template` (with `%s`), verifying HTTPS with `tls`.
    pub fn new(
        template: String,
        tls: Option<Arc<rustls::ClientConfig>>,
        bearer: Option<Secret>,
        ttl: Duration,
    ) -> Self {
        Self {
            template,
            client: HttpClient {
                tls,
                timeout: TIMEOUT,
                max_body: MAX_ANSWER,
            },
            bearer,
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The grant of `token`, if the API knows it.
    ///
    /// # Errors
    /// The API could not answer.
    pub async fn lookup(&self, token: &Token) -> Result<Option<Grant>, ApiError> {
        let hash = token.hash();
        if let Some(cached) = self.cached(&hash) {
            return Ok(cached);
        }
        let answer = self.fetch(token).await?;
        let grant = answer.and_then(|(json, body)| grant(json, &body));
        if !self.ttl.is_zero() {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(hash, (Instant::now(), grant.clone()));
            }
        }
        Ok(grant)
    }

    fn cached(&self, hash: &TokenHash) -> Option<Option<Grant>> {
        let cache = self.cache.lock().ok()?;
        let (at, grant) = cache.get(hash)?;
        (at.elapsed() < self.ttl).then(|| grant.clone())
    }

    /// The answer's body and whether it is JSON, or `None` for an unknown token.
    async fn fetch(&self, token: &Token) -> Result<Option<(bool, Bytes)>, ApiError> {
        let encoded: String =
            url::form_urlencoded::byte_serialize(token.expose().as_bytes()).collect();
        let url = self.template.replace("%s", &encoded);
        let mut request =
            http::Request::get(url).header(http::header::ACCEPT, "application/json, text/plain");
        if let Some(bearer) = &self.bearer {
            request = request.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", bearer.expose()),
            );
        }
        let request = request.body(Bytes::new()).map_err(|_| ApiError::Url)?;
        let response = self.client.send(request).await?;
        let status = response.status();
        let json = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.contains("json"));
        match status.as_u16() {
            200..=299 => Ok(Some((json, response.into_body()))),
            401 | 403 | 404 | 410 => Ok(None),
            other => Err(ApiError::Status(other)),
        }
    }
}

/// The grant an answer names: JSON (by its type or its first byte) or `host:port` text, as
/// websockify's two plugins read them. Anything else grants nothing.
fn grant(json: bool, body: &[u8]) -> Option<Grant> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let grant = if json || text.starts_with('{') {
        let answer: Answer = serde_json::from_str(text).ok()?;
        let target = match answer.port {
            // A Unix socket has no port: `{"host": "unix:/path"}`.
            None => Target::parse(&answer.host).filter(|t| t.unix_path().is_some())?,
            Some(PortField::Number(port)) => {
                Target::parse(&format!("{}:{port}", bracketed(&answer.host)))?
            }
            Some(PortField::Text(port)) => {
                Target::parse(&format!("{}:{}", bracketed(&answer.host), port.trim()))?
            }
        };
        Grant::direct(target).with(answer.extras)?
    } else {
        Grant::direct(Target::parse(text)?)
    };
    Some(grant)
}

/// `host` as the host part of `host:port`: an IPv6 address in brackets.
fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::grant;

    #[test]
    fn both_answer_forms_as_websockify_reads_them() {
        let text = grant(false, b"10.0.0.7:5905\n").expect("text");
        assert_eq!(
            (text.target.host.as_str(), text.target.port),
            ("10.0.0.7", 5905)
        );
        let json = grant(
            true,
            br#"{"host": "10.0.0.7", "port": "5906", "clipboard": "none"}"#,
        )
        .expect("json");
        assert_eq!(json.target.port, 5906);
        assert_eq!(json.clipboard, Some(crate::console::Clipboard::None));
        for bad in [
            &b""[..],
            b"host",
            b"h:",
            b"{\"host\": \"h\"}",
            b"a b:1",
            b"h:0",
        ] {
            assert!(grant(false, bad).is_none(), "{bad:?}");
        }
    }
}
