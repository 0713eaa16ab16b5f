//! Making tokens: 256 random bits, stored by hash only, and the browser URL built as nova builds
//! `access_url`.

use std::time::{Duration, SystemTime};

use base64::Engine;

use super::secret::Token;
use super::sql::{NewToken, SqlStore, StoreError};
use crate::console::{ticket_target, ConsoleKind, Reach, Target};

/// Bytes of randomness in a token: 256 bits, twice the 128 that suffice.
pub const TOKEN_BYTES: usize = 32;

/// A fresh random token, URL-safe base64 (43 characters).
///
/// # Errors
/// The operating system gave no randomness.
pub fn generate() -> Result<Token, String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| format!("no randomness: {error}"))?;
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Token::new(&text).ok_or_else(|| "token generation failed".to_owned())
}

/// nova's `access_url` for novnc: the base URL with its `path` query parameter extended by
/// `?token=...` and every other parameter kept (`...?path=%3Ftoken%3DX`).
///
/// # Errors
/// A base URL that does not parse.
pub fn access_url(base: &str, token: &Token) -> Result<String, String> {
    let mut url =
        url::Url::parse(base).map_err(|error| format!("novncproxy_base_url {base:?}: {error}"))?;
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let suffix = format!("?token={}", token.expose());
    match pairs.iter_mut().find(|(key, _)| key == "path") {
        Some((_, path)) => path.push_str(&suffix),
        None => pairs.push(("path".into(), suffix)),
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    Ok(url.into())
}

/// Where a new token leads, from what the operator gave: `host` and `port`, or a WebMKS ticket
/// `url` and its `thumbprint`.
///
/// # Errors
/// Neither or both forms, a port of 0, or a bad ticket URL or thumbprint: a message to show.
pub fn destination(
    host: Option<&str>,
    port: Option<u16>,
    url: Option<&str>,
    thumbprint: Option<&str>,
) -> Result<(Target, Reach), String> {
    match (url, host, port) {
        (Some(url), None, None) => ticket_target(url, thumbprint).map_err(|e| e.to_string()),
        (None, Some(host), Some(port)) if !host.is_empty() && port > 0 && thumbprint.is_none() => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let target = Target {
                host: host.to_owned(),
                port,
            };
            Ok((target, Reach::Direct))
        }
        _ => Err("give host and port (1 to 65535), or a WebMKS url and its thumbprint".into()),
    }
}

/// The target of a libvirt domain (name or UUID), on the hypervisor named `hypervisor` when
/// given: `libvirt:DOMAIN` or `libvirt://HYPERVISOR/DOMAIN`.
///
/// # Errors
/// A name a target cannot carry.
pub fn domain_target(domain: &str, hypervisor: Option<&str>) -> Result<Target, String> {
    let text = match hypervisor {
        Some(name) if !name.is_empty() && !name.contains('/') => {
            format!("libvirt://{name}/{domain}")
        }
        Some(name) => return Err(format!("{name:?} is not a hypervisor name")),
        None => format!("libvirt:{domain}"),
    };
    // The same rule the session's lookup applies.
    Target::parse(&text)
        .filter(|target| crate::libvirt::DomainRef::of(target).is_some())
        .ok_or_else(|| format!("{domain:?} is not a domain name or UUID"))
}

/// The public URL of each console kind's port, as nova hands them out.
#[derive(Debug, Clone)]
pub struct BaseUrls {
    /// `[vnc] novncproxy_base_url`.
    pub novnc: String,
    /// `[serial_console] base_url`.
    pub serial: String,
    /// `[spice] html5proxy_base_url`.
    pub spice: String,
}

impl BaseUrls {
    /// The base URL for `kind` (nova's `access_url_base`).
    pub fn base(&self, kind: ConsoleKind) -> &str {
        match kind {
            ConsoleKind::Novnc | ConsoleKind::Webmks => &self.novnc,
            ConsoleKind::Serial => &self.serial,
            ConsoleKind::SpiceHtml5 => &self.spice,
        }
    }

    /// The URL to open for `token` of `kind`: noVNC's `?path=%3Ftoken%3DX` form, or the base
    /// with `token=X` in its query for serial and SPICE, as nova builds `access_url`.
    ///
    /// # Errors
    /// A base URL that does not parse.
    pub fn access_url(&self, kind: ConsoleKind, token: &Token) -> Result<String, String> {
        let base = self.base(kind);
        if matches!(kind, ConsoleKind::Novnc | ConsoleKind::Webmks) {
            return access_url(base, token);
        }
        let mut url = url::Url::parse(base).map_err(|error| format!("{base:?}: {error}"))?;
        url.query_pairs_mut().append_pair("token", token.expose());
        Ok(url.into())
    }
}

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The kind of console.
    pub kind: ConsoleKind,
    /// The console server.
    pub target: Target,
    /// A SPICE server's TLS port.
    pub tls_port: Option<u16>,
    /// Sessions may watch but not act.
    pub view_only: bool,
    /// Which way the clipboard may flow; `None` leaves it to `[vncgate] default_clipboard`.
    pub clipboard: Option<crate::console::Clipboard>,
    /// How it is reached: TCP, or a WebMKS ticket.
    pub reach: Reach,
    /// Lifetime.
    pub ttl: Duration,
    /// nova's instance UUID column (a nil UUID when there is no instance).
    pub instance_uuid: Option<String>,
    /// Consumed by its first session.
    pub single_use: bool,
    /// Whether its sessions are recorded; `None` leaves it to `[vncgate] record`.
    pub record: Option<bool>,
    /// The person it is minted for: it opens only in their signed-in browser.
    pub person: Option<super::grant::Person>,
}

impl Request {
    /// Whether the console's kind can enforce the view-only and clipboard settings asked for.
    ///
    /// # Errors
    /// The part it cannot enforce: such a token is not issued.
    pub fn enforceable(&self) -> Result<(), crate::console::Unenforceable> {
        let clipboard = self.clipboard.unwrap_or_default();
        self.kind.enforces(self.view_only, clipboard)
    }
}

/// An issued token, to show once.
#[derive(Debug)]
pub struct Issued {
    /// The token: shown to the operator once, stored nowhere.
    pub token: Token,
    /// Expiry.
    pub expires: SystemTime,
    /// The URL to open.
    pub url: String,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system gave no randomness.
    #[error("{0}")]
    Random(String),
    /// `novncproxy_base_url` does not parse.
    #[error("{0}")]
    BaseUrl(String),
    /// A lifetime of zero, or past [`MAX_TTL`].
    #[error("the token's lifetime must be 1 to {} seconds", MAX_TTL.as_secs())]
    Lifetime,
    /// The token database refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Longest token lifetime issued: thirty days. A console URL is for a person about to open it;
/// the bound also keeps every expiry within what the clock can hold.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);

/// The instance UUID recorded for tokens that have no instance.
pub const NO_INSTANCE: &str = "00000000-0000-0000-0000-000000000000";

/// Issues a token into `store`.
///
/// # Errors
/// A bad base URL, no randomness, or the database failed.
pub async fn issue(store: &SqlStore, base: &BaseUrls, request: &Request) -> Result<Issued, Error> {
    let (token, new) = new_token(request, base.base(request.kind))?;
    let url = base
        .access_url(request.kind, &token)
        .map_err(Error::BaseUrl)?;
    store.insert(&new).await?;
    Ok(Issued {
        token,
        expires: new.expires,
        url,
    })
}

/// Mints a token into `store` for a page of this proxy (`/consoles`): the token only, no URL.
///
/// # Errors
/// No randomness, a bad lifetime, or the database failed.
pub async fn mint(store: &SqlStore, request: &Request) -> Result<Token, Error> {
    let (token, new) = new_token(request, "")?;
    store.insert(&new).await?;
    Ok(token)
}

/// A fresh token and the row that stores it.
fn new_token(request: &Request, access_url_base: &str) -> Result<(Token, NewToken), Error> {
    let token = generate().map_err(Error::Random)?;
    if request.ttl.is_zero() || request.ttl > MAX_TTL {
        return Err(Error::Lifetime);
    }
    let expires = SystemTime::now()
        .checked_add(request.ttl)
        .ok_or(Error::Lifetime)?;
    let new = NewToken {
        hash: token.hash(),
        kind: request.kind,
        target: request.target.clone(),
        tls_port: request.tls_port,
        reach: request.reach.clone(),
        view_only: request.view_only,
        clipboard: request.clipboard,
        record: request.record,
        expires,
        instance_uuid: request
            .instance_uuid
            .clone()
            .unwrap_or_else(|| NO_INSTANCE.to_owned()),
        access_url_base: access_url_base.to_owned(),
        single_use: request.single_use,
        person: request.person.clone(),
    };
    Ok((token, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> Token {
        Token::new(text).unwrap_or_else(|| panic!("token {text}"))
    }

    #[test]
    fn access_urls_as_nova_builds_them() {
        let t = token("abc");
        assert_eq!(
            access_url("http://h:6080/vnc_auto.html", &t).ok(),
            Some("http://h:6080/vnc_auto.html?path=%3Ftoken%3Dabc".into())
        );
        // An existing path is kept as the prefix; other parameters stay.
        assert_eq!(
            access_url("https://h/vnc_lite.html?path=novnc&lang=de", &t).ok(),
            Some("https://h/vnc_lite.html?path=novnc%3Ftoken%3Dabc&lang=de".into())
        );
        assert!(access_url("not a url", &t).is_err());
    }

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = generate()
            .ok()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        let b = generate()
            .ok()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
