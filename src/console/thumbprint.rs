//! A certificate pinned by its fingerprint: what a WebMKS ticket and VMware's authd come with,
//! since ESXi certificates are usually self-signed. No I/O.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The SHA-1 (40 hex digits, as vSphere prints it) or SHA-256 (64) fingerprint of a server's
/// DER certificate.
#[derive(Clone, PartialEq, Eq)]
pub enum Thumbprint {
    /// 20 bytes.
    Sha1([u8; 20]),
    /// 32 bytes.
    Sha256([u8; 32]),
}

/// Why a thumbprint was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a thumbprint is 40 (SHA-1) or 64 (SHA-256) hex digits, with or without colons")]
pub struct BadThumbprint;

impl Thumbprint {
    /// Parses `AB:CD:...` or `abcd...`, in either case.
    ///
    /// # Errors
    /// Anything but 40 or 64 hex digits once colons are taken out.
    pub fn parse(text: &str) -> Result<Self, BadThumbprint> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        // Colons only between pairs: "A:BC" is not a fingerprint.
        let grouped = text.trim().split(':');
        if text.contains(':') && grouped.clone().any(|group| group.len() != 2) {
            return Err(BadThumbprint);
        }
        let bytes = hex::decode(&digits).map_err(|_| BadThumbprint)?;
        match bytes.len() {
            20 => Ok(Self::Sha1(bytes.try_into().map_err(|_| BadThumbprint)?)),
            32 => Ok(Self::Sha256(bytes.try_into().map_err(|_| BadThumbprint)?)),
            _ => Err(BadThumbprint),
        }
    }

    /// Whether `der` is the pinned certificate. Compared in constant time: the pin is not a
    /// secret, but there is no reason to say how close a forgery came.
    pub fn matches(&self, der: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        match self {
            Self::Sha1(pin) => Sha1::digest(der).as_slice().ct_eq(pin).into(),
            Self::Sha256(pin) => Sha256::digest(der).as_slice().ct_eq(pin).into(),
        }
    }

    /// Lower-case hex without colons, as nova stores it.
    pub fn to_hex(&self) -> String {
        match self {
            Self::Sha1(bytes) => hex::encode(bytes),
            Self::Sha256(bytes) => hex::encode(bytes),
        }
    }

    /// The thumbprint of `der` in the same algorithm as this one, for a log line saying what
    /// the server presented instead.
    pub fn of_same_kind(&self, der: &[u8]) -> Self {
        match self {
            Self::Sha1(_) => Self::Sha1(Sha1::digest(der).into()),
            Self::Sha256(_) => Self::Sha256(Sha256::digest(der).into()),
        }
    }
}

impl fmt::Display for Thumbprint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Sha1(_) => "sha1",
            Self::Sha256(_) => "sha256",
        };
        write!(formatter, "{name}:{}", self.to_hex())
    }
}

impl fmt::Debug for Thumbprint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_lengths_with_or_without_colons_in_either_case() {
        let der = b"not really a certificate";
        let sha1 = hex::encode(Sha1::digest(der));
        let sha256 = hex::encode(Sha256::digest(der));
        let colons = |hex: &str| {
            hex.as_bytes()
                .chunks(2)
                .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
                .collect::<Vec<_>>()
                .join(":")
        };
        for text in [
            sha1.clone(),
            sha1.to_uppercase(),
            colons(&sha1),
            sha256.clone(),
            colons(&sha256),
        ] {
            let pin = Thumbprint::parse(&text).expect(&text);
            assert!(pin.matches(der), "{text}");
            assert!(!pin.matches(b"another certificate"), "{text}");
        }
        assert_eq!(
            Thumbprint::parse(&colons(&sha1)).map(|t| t.to_hex()),
            Ok(sha1)
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "abcd",
            &"a".repeat(41),
            &"g".repeat(40),
            "A:BC:DE",
            &"ab:".repeat(20),
            &"0".repeat(48),
        ] {
            assert_eq!(Thumbprint::parse(text), Err(BadThumbprint), "{text:?}");
        }
    }
}
