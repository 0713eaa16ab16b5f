//! `[oidc]`: sign-in through the organisation's identity provider.

use super::reader::{Exists, Reader};
use super::table as t;
use super::value::{parse_list, parse_seconds};
use crate::signin::{KeyBytes, OidcSettings};

/// The shortest cookie key accepted.
const MIN_COOKIE_KEY: usize = 32;

/// An `http://` URL is accepted only toward this host itself (a provider in a test, or behind a
/// local TLS terminator); everything else must be HTTPS.
fn secure_url(text: &str, what: &str) -> Result<Option<url::Url>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(text).map_err(|_| format!("{text:?} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(Some(url)),
        "http" if loopback => Ok(Some(url)),
        _ => Err(format!(
            "{text:?}: {what} must be an https:// URL (http:// only on loopback)"
        )),
    }
}

/// `[oidc]`: `None` without an issuer.
pub(super) fn oidc(reader: &mut Reader) -> Option<OidcSettings> {
    // Kept as written: the provider must name itself exactly so.
    let issuer = reader.typed(&t::OIDC_ISSUER, |text| {
        Ok(secure_url(text, "issuer")?.map(|_| text.trim().to_owned()))
    });
    let redirect_url = reader.typed(&t::OIDC_REDIRECT_URL, |text| {
        secure_url(text, "redirect_url")
    });
    let client_id = reader.text(&t::OIDC_CLIENT_ID);
    let mut scopes = reader.typed(&t::OIDC_SCOPES, |text| Ok(parse_scopes(text)));
    if !scopes.iter().any(|scope| scope == "openid") {
        scopes.insert(0, "openid".to_owned());
    }
    let groups_claim = reader.text(&t::OIDC_GROUPS_CLAIM);
    let session_lifetime = reader.typed(&t::OIDC_SESSION_LIFETIME, parse_seconds);
    let clock_skew = reader.typed(&t::OIDC_CLOCK_SKEW, parse_seconds);
    let ca_file = reader.text(&t::OIDC_CA_FILE).into();
    let secret_file = reader.path(&t::OIDC_CLIENT_SECRET_FILE, Exists::File);
    let key_file = reader.path(&t::OIDC_COOKIE_KEY_FILE, Exists::File);
    let issuer = issuer?;
    let mut required = |spec: &t::OptionSpec, set: bool| {
        if !set {
            reader.missing(
                spec,
                None,
                "must be set when [oidc] issuer is set".to_owned(),
            );
        }
    };
    required(&t::OIDC_CLIENT_ID, !client_id.is_empty());
    required(&t::OIDC_REDIRECT_URL, redirect_url.is_some());
    required(&t::OIDC_COOKIE_KEY_FILE, key_file.is_some());
    let client_secret = secret_file.and_then(|path| {
        super::features::readable_by_owner_only(reader, &t::OIDC_CLIENT_SECRET_FILE, &path);
        let text = read(reader, &t::OIDC_CLIENT_SECRET_FILE, &path)?;
        let line = String::from_utf8_lossy(&text)
            .lines()
            .next()?
            .trim()
            .to_owned();
        (!line.is_empty()).then(|| crate::console::Secret::new(line))
    });
    let cookie_key = key_file.and_then(|path| {
        super::features::readable_by_owner_only(reader, &t::OIDC_COOKIE_KEY_FILE, &path);
        let bytes = read(reader, &t::OIDC_COOKIE_KEY_FILE, &path)?;
        if bytes.len() < MIN_COOKIE_KEY {
            let at = reader.find(&t::OIDC_COOKIE_KEY_FILE)?;
            reader.problem(
                &at,
                format!(
                    "{} holds {} bytes; at least {MIN_COOKIE_KEY} random bytes are needed \
                     (head -c 64 /dev/urandom > FILE)",
                    path.display(),
                    bytes.len()
                ),
            );
            return None;
        }
        Some(KeyBytes::new(bytes))
    });
    Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        redirect_url: redirect_url?,
        scopes,
        groups_claim,
        cookie_key: cookie_key?,
        session_lifetime,
        ca_file,
        clock_skew,
    })
}

/// `[vncgate] access_policy`: the rules, read and checked now (and again at each reload).
pub(super) fn access_policy(reader: &mut Reader) -> Option<std::sync::Arc<crate::access::Policy>> {
    let path = reader.path(&t::ACCESS_POLICY, Exists::File)?;
    let text = read(reader, &t::ACCESS_POLICY, &path)?;
    let at = reader.find(&t::ACCESS_POLICY)?;
    if reader.find(&t::OIDC_ISSUER).is_none() {
        reader.problem(
            &at,
            "applies to signed-in people: set [oidc] issuer too".to_owned(),
        );
        return None;
    }
    let text = String::from_utf8_lossy(&text);
    match crate::access::Policy::parse(&text) {
        Ok(policy) => Some(std::sync::Arc::new(policy)),
        Err(message) => {
            reader.problem(&at, format!("{}: {message}", path.display()));
            None
        }
    }
}

/// `[vncgate] require_login`: only with `[oidc]`.
pub(super) fn require_login(reader: &mut Reader) -> bool {
    let required = reader.typed(&t::REQUIRE_LOGIN, super::value::parse_bool);
    if required && reader.find(&t::OIDC_ISSUER).is_none() {
        if let Some(at) = reader.find(&t::REQUIRE_LOGIN) {
            reader.problem(&at, "needs sign-in: set [oidc] issuer too".to_owned());
        }
        return false;
    }
    required
}

/// Scopes separated by spaces or commas, as providers and nova-style lists write them.
fn parse_scopes(text: &str) -> Vec<String> {
    parse_list(&text.replace(' ', ","))
}

fn read(reader: &mut Reader, spec: &t::OptionSpec, path: &std::path::Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            let at = reader.find(spec)?;
            reader.problem(&at, format!("cannot read {}: {error}", path.display()));
            None
        }
    }
}
