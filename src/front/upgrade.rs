//! Decisions about a WebSocket upgrade request, before it is accepted: where the token is,
//! whether the Origin may connect, which subprotocol to answer. No I/O.

use std::fmt;

/// Why an Origin was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRefusal {
    /// Present but not `scheme://host[:port]` (includes `null` and empty).
    Malformed,
    /// Its host is neither the Host header's nor in `allowed_origins`.
    ForeignHost(String),
    /// Its scheme does not match how the browser reached the proxy.
    SchemeMismatch {
        /// The Origin's scheme.
        origin: String,
        /// The scheme the browser used, from TLS or `X-Forwarded-Proto`.
        expected: String,
    },
}

impl fmt::Display for OriginRefusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => formatter.write_str("malformed Origin header"),
            Self::ForeignHost(host) => write!(formatter, "Origin host {host:?} is not allowed"),
            Self::SchemeMismatch { origin, expected } => {
                write!(
                    formatter,
                    "Origin scheme {origin} does not match {expected}"
                )
            }
        }
    }
}

/// What the upgrade request says, read from its headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct OriginCheck<'a> {
    /// The `Origin` header, if any.
    pub origin: Option<&'a str>,
    /// The `Host` header, if any.
    pub host: Option<&'a str>,
    /// `X-Forwarded-Proto`, set by a TLS-terminating load balancer.
    pub forwarded_proto: Option<&'a str>,
    /// Whether the connection to us is TLS.
    pub tls: bool,
}

impl OriginCheck<'_> {
    /// nova's rule (CVE-2015-0259): no Origin is a non-browser client and allowed; otherwise the
    /// Origin's host must be the Host header's host or in `allowed`, ports ignored. The scheme
    /// must be the one the browser used to reach the proxy: `X-Forwarded-Proto` when a load
    /// balancer set it, else https on TLS and http without.
    ///
    /// # Errors
    /// The reason for refusal, for the log.
    pub fn verify(&self, allowed: &[String]) -> Result<(), OriginRefusal> {
        let Some(origin) = self.origin else {
            return Ok(());
        };
        let (scheme, origin_host) = split_origin(origin).ok_or(OriginRefusal::Malformed)?;
        let own_host = self.host.and_then(host_name);
        let host_ok = own_host.as_deref() == Some(origin_host.as_str())
            || allowed
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(&origin_host));
        if !host_ok {
            return Err(OriginRefusal::ForeignHost(origin_host));
        }
        let expected = match self.forwarded_proto {
            Some(proto) => normalise_scheme(proto.split(',').next().unwrap_or_default()),
            None if self.tls => "https".to_owned(),
            None => "http".to_owned(),
        };
        if normalise_scheme(&scheme) != expected {
            return Err(OriginRefusal::SchemeMismatch {
                origin: scheme,
                expected,
            });
        }
        Ok(())
    }
}

/// ws and http are one scheme here, as are wss and https.
fn normalise_scheme(scheme: &str) -> String {
    match scheme.trim().to_ascii_lowercase().as_str() {
        "ws" | "http" => "http".to_owned(),
        "wss" | "https" => "https".to_owned(),
        other => other.to_owned(),
    }
}

/// `scheme://host[:port]` into lower-case scheme and host (IPv6 without brackets).
fn split_origin(origin: &str) -> Option<(String, String)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    if scheme.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), host_name(rest)?))
}

/// The host part of `host[:port]` or `[v6][:port]`, lower case; `None` if empty.
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The token from the request's query (`?token=`, the last one wins, as Python's `parse_qs`
/// gives it to nova), else from the `token` cookie.
pub fn find_token(query: Option<&str>, cookies: &[&str]) -> Option<String> {
    let from_query = query.and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .filter(|(name, value)| name == "token" && !value.is_empty())
            .map(|(_, value)| value.into_owned())
            .last()
    });
    from_query.or_else(|| cookies.iter().find_map(|header| cookie_token(header)))
}

/// The `token` cookie of one Cookie header. Malformed pairs are skipped, as nova does.
fn cookie_token(header: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        if name.trim() != "token" {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// `binary` when the client offers it; otherwise none (current noVNC offers nothing).
pub fn choose_subprotocol(offered: &[&str]) -> Option<&'static str> {
    offered
        .iter()
        .flat_map(|header| header.split(','))
        .any(|protocol| protocol.trim() == "binary")
        .then_some("binary")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        origin: Option<&str>,
        host: &str,
        proto: Option<&str>,
        tls: bool,
    ) -> Result<(), OriginRefusal> {
        let allowed = vec!["console.example".to_owned()];
        OriginCheck {
            origin,
            host: Some(host),
            forwarded_proto: proto,
            tls,
        }
        .verify(&allowed)
    }

    #[test]
    fn origin_rules() {
        assert_eq!(check(None, "proxy:6080", None, false), Ok(()));
        assert_eq!(
            check(Some("http://proxy:1234"), "proxy:6080", None, false),
            Ok(())
        );
        assert_eq!(
            check(Some("https://PROXY"), "proxy:6080", None, true),
            Ok(())
        );
        assert_eq!(
            check(Some("https://console.example"), "proxy", None, true),
            Ok(())
        );
        assert_eq!(
            check(
                Some("http://[2001:db8::1]:80"),
                "[2001:db8::1]:6080",
                None,
                false
            ),
            Ok(())
        );
        assert_eq!(
            check(Some("https://evil.example"), "proxy", None, true),
            Err(OriginRefusal::ForeignHost("evil.example".into()))
        );
        for bad in ["", "null", "proxy", "http://", "http://proxy/path"] {
            assert_eq!(
                check(Some(bad), "proxy", None, false),
                Err(OriginRefusal::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scheme_follows_tls_or_forwarded_proto() {
        assert!(matches!(
            check(Some("http://proxy"), "proxy", None, true),
            Err(OriginRefusal::SchemeMismatch { .. })
        ));
        assert!(check(Some("https://proxy"), "proxy", None, false).is_err());
        assert_eq!(
            check(Some("https://proxy"), "proxy", Some("https"), false),
            Ok(())
        );
        assert!(check(Some("http://proxy"), "proxy", Some("https"), false).is_err());
        assert_eq!(
            check(Some("https://proxy"), "proxy", Some("wss, http"), false),
            Ok(())
        );
    }

    #[test]
    fn tokens_from_query_then_cookie() {
        assert_eq!(find_token(Some("token=abc"), &[]), Some("abc".into()));
        assert_eq!(find_token(Some("token=a&token=b"), &[]), Some("b".into()));
        assert_eq!(find_token(Some("token=a%2Bb"), &[]), Some("a+b".into()));
        assert_eq!(find_token(Some("other=1"), &["token=c"]), Some("c".into()));
        assert_eq!(find_token(None, &["?=!; token=\"q\""]), Some("q".into()));
        assert_eq!(find_token(Some("token="), &["path=%3Ftoken%3Dx"]), None);
        assert_eq!(find_token(None, &[]), None);
    }

    #[test]
    fn subprotocols() {
        assert_eq!(choose_subprotocol(&["binary"]), Some("binary"));
        assert_eq!(choose_subprotocol(&["base64, binary"]), Some("binary"));
        assert_eq!(choose_subprotocol(&["base64"]), None);
        assert_eq!(choose_subprotocol(&[]), None);
    }
}
