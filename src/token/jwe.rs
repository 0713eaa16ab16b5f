//! Encrypted tokens (JWE), as websockify's `JWTTokenApi` accepts them: a compact JWE whose
//! plaintext is a signed JWT (a JWS), so that the browser that carries the token cannot read
//! the console's address. The portal encrypts to vncgate's public key; `jwe_keys` holds the
//! private keys.
//!
//! What is accepted is decided here, never by the token: an RSA key decrypts `RSA-OAEP` and
//! `RSA-OAEP-256` only (`RSA1_5` is open to padding-oracle attacks), an EC or X25519 key
//! `ECDH-ES` and `ECDH-ES+A*KW`; the content encryptions are AES-GCM and AES-CBC-HMAC-SHA2.
//! A compressed JWE (`zip`) is refused before decryption: it would inflate attacker-chosen
//! data. A JWE whose plaintext is bare claims is refused too: anyone holding the public key can
//! encrypt, so only the signature inside says the portal minted it.

use std::path::Path;

use base64::Engine;
use josekit::jwe::{self, JweContext, JweDecrypter};
use josekit::jwk::{Jwk, JwkSet};
use serde::Deserialize;

/// The algorithms an RSA private key decrypts.
const RSA: [jwe::alg::rsaes::RsaesJweAlgorithm; 2] = [jwe::RSA_OAEP, jwe::RSA_OAEP_256];
/// The algorithms an EC (P-256, P-384, P-521) or X25519 private key decrypts.
const ECDH: [jwe::alg::ecdh_es::EcdhEsJweAlgorithm; 4] = [
    jwe::ECDH_ES,
    jwe::ECDH_ES_A128KW,
    jwe::ECDH_ES_A192KW,
    jwe::ECDH_ES_A256KW,
];
/// The content encryptions accepted (websockify's tests use A256CBC-HS512).
const ENCRYPTIONS: [&str; 6] = [
    "A128GCM",
    "A192GCM",
    "A256GCM",
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
];
/// The smallest RSA modulus taken, in bits (josekit refuses smaller ones too).
const RSA_MIN_BITS: u32 = 2048;

/// Why a JWE-shaped token was not decrypted. The token never appears in it.
#[derive(Debug, thiserror::Error)]
pub enum JweError {
    /// The protected header does not parse.
    #[error("JWE header does not parse")]
    Header,
    /// `zip` is set.
    #[error("compressed JWE refused")]
    Compressed,
    /// The `kid` names no key of `jwe_keys`.
    #[error("JWE kid {0:?} names no key of jwe_keys")]
    UnknownKey(String),
    /// `alg` or `enc` is one the key may not use.
    #[error("JWE algorithm {0:?} not allowed for the key")]
    Algorithm(String),
    /// Decryption failed: another key, or a forged or damaged token.
    #[error("JWE cannot be decrypted with jwe_keys")]
    Decrypt(#[source] josekit::JoseError),
    /// The plaintext is not a signed JWT.
    #[error("JWE does not hold a signed JWT")]
    NotNested,
}

/// Why `jwe_keys` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    /// A PEM that is no RSA (2048 bits or more), EC or X25519 private key.
    #[error("{0}: jwe_keys must hold an RSA (2048 bits or more), EC or X25519 private key, or a JWKS of them")]
    Pem(String),
    /// A JWKS that does not parse or holds no key.
    #[error("{0}: not a JWKS of private keys")]
    Jwks(String),
}

impl JweError {
    /// A short reason, for the log line of the refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Header => "bad JWE header",
            Self::Compressed => "compressed JWE",
            Self::UnknownKey(_) => "unknown JWE kid",
            Self::Algorithm(_) => "JWE algorithm not allowed for the key",
            Self::Decrypt(_) => "cannot decrypt (another key?)",
            Self::NotNested => "JWE without a signed JWT inside",
        }
    }
}

/// One private key: its `kid` when it came from a JWKS, and a decrypter per algorithm it may
/// use.
#[derive(Debug)]
struct PrivateKey {
    kid: Option<String>,
    decrypters: Vec<Box<dyn JweDecrypter>>,
}

/// The keys of `jwe_keys`.
#[derive(Debug)]
pub struct Decryptors {
    keys: Vec<PrivateKey>,
}

/// What the protected header says.
#[derive(Deserialize)]
struct Header {
    alg: String,
    enc: String,
    kid: Option<String>,
    zip: Option<serde_json::Value>,
}

impl Decryptors {
    /// The keys of `path`: one PEM private key (RSA, EC or X25519; PKCS#8 or traditional) as
    /// websockify reads it, or a JWKS of private keys chosen by `kid`.
    ///
    /// # Errors
    /// The file cannot be read, or holds no key that can decrypt.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KeyError::Read(name.clone(), e))?;
        let text = String::from_utf8_lossy(&bytes);
        let keys = if text.trim_start().starts_with('{') {
            let set = JwkSet::from_bytes(&bytes).map_err(|_| KeyError::Jwks(name.clone()))?;
            set.keys()
                .into_iter()
                .map(|jwk| from_jwk(jwk).ok_or_else(|| KeyError::Pem(name.clone())))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![from_pem(&bytes).ok_or_else(|| KeyError::Pem(name.clone()))?]
        };
        if keys.is_empty() {
            return Err(KeyError::Jwks(name));
        }
        Ok(Self { keys })
    }

    /// The plaintext of a compact JWE (the signed JWT inside, for the caller to verify).
    ///
    /// # Errors
    /// Why it cannot be decrypted or is refused.
    pub fn open(&self, token: &str) -> Result<String, JweError> {
        let header: Header = header(token).ok_or(JweError::Header)?;
        if header.zip.is_some() {
            return Err(JweError::Compressed);
        }
        if !ENCRYPTIONS.contains(&header.enc.as_str()) {
            return Err(JweError::Algorithm(header.enc));
        }
        let key = match &header.kid {
            Some(kid) if self.keys.iter().any(|key| key.kid.is_some()) => self
                .keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid))
                .ok_or_else(|| JweError::UnknownKey(kid.clone()))?,
            _ => self
                .keys
                .first()
                .ok_or(JweError::UnknownKey(String::new()))?,
        };
        let decrypter = key
            .decrypters
            .iter()
            .find(|decrypter| decrypter.algorithm().name() == header.alg)
            .ok_or(JweError::Algorithm(header.alg))?;
        let mut context = JweContext::new();
        context.remove_compression("DEF");
        let (plaintext, _) = context
            .deserialize_compact(token, decrypter.as_ref())
            .map_err(JweError::Decrypt)?;
        String::from_utf8(plaintext).map_err(|_| JweError::NotNested)
    }
}

/// Whether `token` has a compact JWE's shape: five base64url parts, the first a JSON object
/// with `enc`.
pub fn looks_like(token: &str) -> bool {
    token.split('.').count() == 5
        && header::<serde_json::Value>(token).is_some_and(|value| value.get("enc").is_some())
}

/// The protected header of a compact JWS or JWE (its first part, base64url JSON), as `T`.
pub fn header<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    let first = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// A PEM private key with its decrypters; `None` if it is no RSA (≥ 2048 bits), EC or X25519
/// private key.
fn from_pem(pem: &[u8]) -> Option<PrivateKey> {
    let key = openssl::pkey::PKey::private_key_from_pem(pem).ok()?;
    let decrypters: Vec<Box<dyn JweDecrypter>> = match key.id() {
        openssl::pkey::Id::RSA if key.bits() >= RSA_MIN_BITS => RSA
            .iter()
            .filter_map(|alg| alg.decrypter_from_pem(pem).ok())
            .map(|d| Box::new(d) as Box<dyn JweDecrypter>)
            .collect(),
        openssl::pkey::Id::EC | openssl::pkey::Id::X25519 => ECDH
            .iter()
            .filter_map(|alg| alg.decrypter_from_pem(pem).ok())
            .map(|d| Box::new(d) as Box<dyn JweDecrypter>)
            .collect(),
        _ => Vec::new(),
    };
    (!decrypters.is_empty()).then_some(PrivateKey {
        kid: None,
        decrypters,
    })
}

/// A JWK private key with its decrypters (those its `alg`, `use` and `key_ops` allow).
fn from_jwk(jwk: &Jwk) -> Option<PrivateKey> {
    let decrypters: Vec<Box<dyn JweDecrypter>> = match jwk.key_type() {
        "RSA" => RSA
            .iter()
            .filter_map(|alg| alg.decrypter_from_jwk(jwk).ok())
            .map(|d| Box::new(d) as Box<dyn JweDecrypter>)
            .collect(),
        "EC" | "OKP" => ECDH
            .iter()
            .filter_map(|alg| alg.decrypter_from_jwk(jwk).ok())
            .map(|d| Box::new(d) as Box<dyn JweDecrypter>)
            .collect(),
        _ => Vec::new(),
    };
    (!decrypters.is_empty()).then(|| PrivateKey {
        kid: jwk.key_id().map(str::to_owned),
        decrypters,
    })
}

/// The public halves of the keys of `path`, as PEM, for the JWS inside a JWE when `jwt_keys`
/// is not set (websockify reads one key file for both). A JWKS is its own public half.
///
/// # Errors
/// The file cannot be read or holds no private key.
pub fn public_pem(path: &Path) -> Result<Vec<u8>, KeyError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| KeyError::Read(name.clone(), e))?;
    if String::from_utf8_lossy(&bytes)
        .trim_start()
        .starts_with('{')
    {
        return Ok(bytes);
    }
    openssl::pkey::PKey::private_key_from_pem(&bytes)
        .and_then(|key| key.public_key_to_pem())
        .map_err(|_| KeyError::Pem(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(json: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_jwe_is_five_parts_whose_header_has_enc() {
        let header = part(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
        assert!(looks_like(&format!("{header}.a.b.c.d")));
        assert!(!looks_like(&format!("{header}.a.b")), "three parts: a JWS");
        let signed = part(r#"{"alg":"RS256"}"#);
        assert!(!looks_like(&format!("{signed}.a.b.c.d")), "no enc");
        assert!(!looks_like("not.a.jwe.at.all"));
    }
}
