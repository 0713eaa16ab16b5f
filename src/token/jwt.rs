//! Signed tokens (JWS), as websockify's `JWTTokenApi` reads them: the token is a JWT whose
//! claims name the console (`host`, `port`), signed by the portal. Nothing is stored: the
//! signature, `exp`, `nbf` and `aud` decide, with vncgate's optional claims (`kind`,
//! `tls_port`, `view_only`, `clipboard`, `record`, `jti`).
//!
//! The algorithm comes from the key, never from the token: an RSA key verifies RS*/PS* only, an
//! EC key ES*, an Ed25519 key EdDSA, a secret HS*; `none` does not exist here, and an HMAC
//! token "signed" with a public key meets a key of another family and fails.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::grant::{Extras, Grant};
use super::jwe::{self, Decryptors, JweError};
use crate::console::Target;

/// Why a JWT-shaped token was refused. Its label goes to the log and the refusal metric; the
/// token itself never does.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The header does not parse, or names an algorithm the key cannot verify.
    #[error("JWT header refused")]
    Header(#[source] jsonwebtoken::errors::Error),
    /// The `kid` names no key of `jwt_keys`.
    #[error("JWT kid {0:?} names no key of jwt_keys")]
    UnknownKey(String),
    /// The signature, the algorithm, or a time or audience claim did not hold.
    #[error("JWT refused")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    /// `host` or `port` missing or not a console address; an unknown `kind` or `clipboard`.
    #[error("JWT claims do not name a console: {0}")]
    Claims(&'static str),
    /// An encrypted token that could not be opened.
    #[error(transparent)]
    Encrypted(#[from] JweError),
}

impl JwtError {
    /// A short reason, for the log line of the refusal.
    pub fn reason(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind as Kind;
        match self {
            Self::Header(_) => "bad header",
            Self::UnknownKey(_) => "unknown kid",
            Self::Claims(_) => "bad claims",
            Self::Encrypted(error) => error.reason(),
            Self::Invalid(error) => match error.kind() {
                Kind::ExpiredSignature => "expired",
                Kind::ImmatureSignature => "not yet valid",
                Kind::InvalidAudience => "wrong audience",
                Kind::InvalidSignature => "bad signature",
                Kind::InvalidAlgorithm => "algorithm not allowed for the key",
                Kind::MissingRequiredClaim(_) => "no exp",
                _ => "invalid",
            },
        }
    }

    /// Whether it is an expiry (refused as expired, like any other token).
    pub fn expired(&self) -> bool {
        matches!(self, Self::Invalid(error) if *error.kind() == jsonwebtoken::errors::ErrorKind::ExpiredSignature)
    }
}

/// Why `jwt_keys` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    /// A PEM that is no RSA, EC or Ed25519 public key.
    #[error("{0}: a PEM file must hold an RSA, EC or Ed25519 public key")]
    Pem(String),
    /// A JWKS that does not parse.
    #[error("{0}: not a JWKS")]
    Jwks(String, #[source] serde_json::Error),
    /// An HMAC secret under 32 bytes.
    #[error("{0}: an HMAC secret needs at least 32 bytes")]
    ShortSecret(String),
    /// Neither `jwt_keys` nor `jwe_keys` is set.
    #[error("neither jwt_keys nor jwe_keys is set")]
    NoKeys,
    /// `jwe_keys` cannot be used.
    #[error(transparent)]
    Private(#[from] jwe::KeyError),
    /// Neither a PEM, a JWKS nor a base64url HMAC secret.
    #[error("{0}: not a PEM public key, a JWKS, or an HMAC secret in base64url (a JWK's k, as websockify reads it)")]
    Secret(String),
}

/// The verifying keys, with the algorithms each may verify.
enum Keys {
    One(DecodingKey, Vec<Algorithm>),
    Set(JwkSet),
}

/// What the configuration says about JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `jwt_keys`: the keys that verify signed tokens. Without it, the public halves of
    /// `jwe_keys` verify them, as websockify reads one key file for both.
    pub keys: Option<std::path::PathBuf>,
    /// `jwe_keys`: the private keys that decrypt encrypted tokens.
    pub jwe_keys: Option<std::path::PathBuf>,
    /// `jwt_audience`: checked when set.
    pub audience: Option<String>,
    /// `jwt_leeway`: the clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// `jwt_require_exp`: a token without `exp` is refused.
    pub require_exp: bool,
}

/// The JWT token source: signed tokens, and signed tokens inside encrypted ones.
pub struct JwtSource {
    keys: Keys,
    decryptors: Option<Decryptors>,
    settings: JwtSettings,
}

impl std::fmt::Debug for JwtSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JwtSource")
            .field("keys", &self.settings.keys)
            .field("jwe_keys", &self.settings.jwe_keys)
            .finish_non_exhaustive()
    }
}

const RSA: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
const EC: [Algorithm; 2] = [Algorithm::ES256, Algorithm::ES384];
const HMAC: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

impl JwtSource {
    /// The source for `settings`, its keys read now.
    ///
    /// # Errors
    /// The key file cannot be read or used.
    pub fn load(settings: JwtSettings) -> Result<Self, KeyError> {
        let keys = verifying_keys(settings.keys.as_deref(), settings.jwe_keys.as_deref())?;
        let decryptors = match &settings.jwe_keys {
            Some(path) => Some(Decryptors::load(path)?),
            None => None,
        };
        Ok(Self {
            keys,
            decryptors,
            settings,
        })
    }

    /// Whether `token` has the shape of a token this source reads: a JWS, or a JWE when
    /// `jwe_keys` is set. Only those are asked of it; any other token goes on to the other
    /// sources.
    pub fn takes(&self, token: &str) -> bool {
        looks_like(token) || (self.decryptors.is_some() && jwe::looks_like(token))
    }

    /// The console a JWT-shaped token grants, and the key of its single use (`jti`), if any.
    ///
    /// # Errors
    /// Why the token is refused.
    pub fn grant(&self, token: &str) -> Result<(Grant, Option<String>), JwtError> {
        match &self.decryptors {
            Some(decryptors) if jwe::looks_like(token) => {
                let inner = decryptors.open(token)?;
                if !looks_like(&inner) {
                    return Err(JweError::NotNested.into());
                }
                self.verify(&inner)
            }
            _ => self.verify(token),
        }
    }

    /// The grant of a signed token.
    fn verify(&self, token: &str) -> Result<(Grant, Option<String>), JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(JwtError::Header)?;
        let (key, algorithms) = match &self.keys {
            Keys::One(key, algorithms) => (key.clone(), algorithms.clone()),
            Keys::Set(set) => {
                let kid = header.kid.clone().unwrap_or_default();
                let jwk = set.find(&kid).ok_or(JwtError::UnknownKey(kid))?;
                let key = DecodingKey::from_jwk(jwk).map_err(JwtError::Header)?;
                (key, family(&jwk.algorithm))
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = algorithms;
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.required_spec_claims.clear();
        if self.settings.require_exp {
            validation.required_spec_claims.insert("exp".into());
        }
        validation.validate_exp = true;
        match &self.settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(JwtError::Invalid)?;
        data.claims.grant()
    }
}

/// Whether `token` has a JWT's shape: three base64url parts, the first a JSON object with `alg`.
/// Only those are asked of [`JwtSource`]; any other token goes on to the other sources.
pub fn looks_like(token: &str) -> bool {
    token.split('.').count() == 3
        && jwe::header::<serde_json::Value>(token).is_some_and(|value| value.get("alg").is_some())
}

/// The keys that verify signatures: `jwt_keys`, else the public halves of `jwe_keys`.
fn verifying_keys(jwt_keys: Option<&Path>, jwe_keys: Option<&Path>) -> Result<Keys, KeyError> {
    match (jwt_keys, jwe_keys) {
        (Some(path), _) => {
            let name = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| KeyError::Read(name.clone(), e))?;
            keys(&name, &bytes)
        }
        (None, Some(path)) => keys(&path.display().to_string(), &jwe::public_pem(path)?),
        (None, None) => Err(KeyError::NoKeys),
    }
}

fn keys(name: &str, bytes: &[u8]) -> Result<Keys, KeyError> {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    if trimmed.starts_with("-----BEGIN") {
        if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
            return Ok(Keys::One(key, RSA.to_vec()));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
            return Ok(Keys::One(key, EC.to_vec()));
        }
        if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
            return Ok(Keys::One(key, vec![Algorithm::EdDSA]));
        }
        return Err(KeyError::Pem(name.to_owned()));
    }
    if trimmed.starts_with('{') {
        let set: JwkSet =
            serde_json::from_str(trimmed).map_err(|e| KeyError::Jwks(name.to_owned(), e))?;
        return Ok(Keys::Set(set));
    }
    // Anything else is an HMAC secret as websockify reads one: a JWK's `k`, the key
    // base64url-encoded.
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed.trim_end_matches('='))
        .map_err(|_| KeyError::Secret(name.to_owned()))?;
    if secret.len() < 32 {
        return Err(KeyError::ShortSecret(name.to_owned()));
    }
    Ok(Keys::One(DecodingKey::from_secret(&secret), HMAC.to_vec()))
}

/// The algorithms a JWK's key type may verify.
fn family(parameters: &AlgorithmParameters) -> Vec<Algorithm> {
    match parameters {
        AlgorithmParameters::RSA(_) => RSA.to_vec(),
        AlgorithmParameters::EllipticCurve(_) => EC.to_vec(),
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        AlgorithmParameters::OctetKey(_) => HMAC.to_vec(),
    }
}

/// A port as websockify's portals write it: a number or a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum Port {
    Number(u16),
    Text(String),
}

/// The claims vncgate reads; others are ignored.
#[derive(Deserialize)]
struct Claims {
    host: Option<String>,
    port: Option<Port>,
    jti: Option<String>,
    exp: Option<u64>,
    #[serde(flatten)]
    extras: Extras,
}

impl Claims {
    fn grant(self) -> Result<(Grant, Option<String>), JwtError> {
        let host = self
            .host
            .filter(|h| !h.is_empty())
            .ok_or(JwtError::Claims("no host"))?;
        let target = match self.port {
            // A Unix socket has no port: `"host": "unix:/path"`.
            None => Target::parse(&host)
                .filter(|target| target.unix_path().is_some())
                .ok_or(JwtError::Claims("no port"))?,
            Some(Port::Number(port)) => Target { host, port },
            Some(Port::Text(text)) => Target {
                host,
                port: text
                    .trim()
                    .parse()
                    .map_err(|_| JwtError::Claims("port is not a number"))?,
            },
        };
        let mut grant = Grant::direct(target)
            .with(self.extras)
            .ok_or(JwtError::Claims("unknown kind or clipboard"))?;
        grant.expires = self.exp.map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
        Ok((grant, self.jti))
    }
}

/// Reads the keys as [`JwtSource::load`] would, for `check-config`.
///
/// # Errors
/// As [`JwtSource::load`].
pub fn check_keys(jwt_keys: Option<&Path>, jwe_keys: Option<&Path>) -> Result<(), KeyError> {
    verifying_keys(jwt_keys, jwe_keys)?;
    if let Some(path) = jwe_keys {
        Decryptors::load(path)?;
    }
    Ok(())
}
