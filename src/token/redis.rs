//! Tokens in Redis, as websockify's `TokenRedis` reads them: the key is the token (after
//! `redis_key_prefix` and a colon, websockify's namespace), the value `host:port` or JSON
//! `{"host": "host:port"}`, to which vncgate adds its optional fields (`kind`, `tls_port`,
//! `view_only`, `clipboard`, `record`). A portal that writes keys for websockify writes them for
//! vncgate unchanged.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;

use super::grant::{Extras, Grant};
use super::secret::Token;
use super::sql::StoreError;
use crate::console::Target;

/// How long a Redis lookup, connection included, may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The Redis token source.
pub struct RedisSource {
    client: redis::Client,
    prefix: String,
    connection: Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        formatter
            .debug_struct("RedisSource")
            .finish_non_exhaustive()
    }
}

/// websockify's JSON value, with vncgate's optional fields.
#[derive(Deserialize)]
struct Value {
    host: String,
    #[serde(flatten)]
    extras: Extras,
}

impl RedisSource {
    /// A source on `url` (`redis://[:password@]host:port/db`), keys under `prefix`.
    ///
    /// # Errors
    /// A URL that is not Redis's.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(StoreError::Redis)?;
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}:")
        };
        Ok(Self {
            client,
            prefix,
            connection: Mutex::new(None),
        })
    }

    /// The grant of `token`, if Redis holds it.
    ///
    /// # Errors
    /// Redis unreachable or failing (503 for the browser, never an admission).
    pub async fn lookup(&self, token: &Token) -> Result<Option<Grant>, StoreError> {
        let key = format!("{}{}", self.prefix, token.expose());
        let value: Option<String> = match tokio::time::timeout(TIMEOUT, self.get(&key)).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => {
                // A broken connection is made again next time.
                *self.connection.lock().await = None;
                return Err(StoreError::Redis(error));
            }
            Err(_) => {
                *self.connection.lock().await = None;
                return Err(StoreError::Redis(redis::RedisError::from((
                    redis::ErrorKind::IoError,
                    "no answer in time",
                ))));
            }
        };
        Ok(value.and_then(|value| grant(value.trim())))
    }

    async fn get(&self, key: &str) -> Result<Option<String>, redis::RedisError> {
        let mut slot = self.connection.lock().await;
        let connection = match slot.as_ref() {
            Some(connection) => connection.clone(),
            None => {
                let connection = self.client.get_multiplexed_async_connection().await?;
                *slot = Some(connection.clone());
                connection
            }
        };
        drop(slot);
        let mut connection = connection;
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
    }
}

/// The grant a value names, as websockify parses it: JSON with `host` as `host:port`, or plain
/// `host:port` (or `unix:/path`). A value that is neither grants nothing (as in websockify).
fn grant(value: &str) -> Option<Grant> {
    let (hostport, extras) = if value.starts_with('{') {
        let parsed: Value = serde_json::from_str(value).ok()?;
        (parsed.host, parsed.extras)
    } else {
        (value.to_owned(), Extras::default())
    };
    Grant::direct(Target::parse(&hostport)?).with(extras)
}

#[cfg(test)]
mod tests {
    use super::grant;

    #[test]
    fn websockifys_two_forms_and_vncgates_fields() {
        let plain = grant("10.0.0.5:5901").expect("plain");
        assert_eq!(
            (plain.target.host.as_str(), plain.target.port),
            ("10.0.0.5", 5901)
        );
        let json = grant(r#"{"host": "10.0.0.5:5902", "view_only": true, "kind": "serial"}"#)
            .expect("json");
        assert_eq!(json.target.port, 5902);
        assert_eq!(json.view_only, Some(true));
        assert_eq!(json.kind, crate::console::ConsoleKind::Serial);
        for bad in [
            "",
            "nohost",
            "10.0.0.5:",
            ":5900",
            "{\"port\": 1}",
            "{not json",
            "a b:1",
        ] {
            assert!(grant(bad).is_none(), "{bad:?}");
        }
        assert!(grant(r#"{"host": "h:1", "kind": "teletype"}"#).is_none());
    }
}
