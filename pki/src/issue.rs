//! Key generation and signing with rcgen. No I/O.

use rcgen::{CertificateParams, Issuer, KeyPair, SignatureAlgorithm};
use rsa::pkcs8::EncodePrivateKey;

use crate::error::PkiError;
use crate::profile::Profile;

/// The key algorithms `pki init --key-type` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256: small, fast, accepted by every current gnutls and rustls.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048 with SHA-256, for old peers.
    Rsa2048,
    /// RSA 3072 with SHA-256.
    Rsa3072,
    /// RSA 4096 with SHA-256.
    Rsa4096,
}

impl KeyType {
    /// The names accepted on the command line.
    pub const NAMES: [&'static str; 5] = [
        "ecdsa-p256",
        "ecdsa-p384",
        "rsa-2048",
        "rsa-3072",
        "rsa-4096",
    ];

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ecdsa-p256" => Self::EcdsaP256,
            "ecdsa-p384" => Self::EcdsaP384,
            "rsa-2048" => Self::Rsa2048,
            "rsa-3072" => Self::Rsa3072,
            "rsa-4096" => Self::Rsa4096,
            _ => return None,
        })
    }

    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// A new key pair. RSA keys are made with the `rsa` crate, as ring (rcgen's backend here)
    /// can sign with RSA but not generate RSA keys.
    ///
    /// # Errors
    /// The backend failed.
    pub fn generate(self) -> Result<KeyPair, PkiError> {
        let bits = match self {
            Self::EcdsaP256 | Self::EcdsaP384 => {
                return Ok(KeyPair::generate_for(self.algorithm())?)
            }
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        };
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
            .map_err(|error| PkiError::Rsa(error.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|error| PkiError::Rsa(error.to_string()))?;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        Ok(KeyPair::from_pkcs8_der_and_sign_algo(
            &der,
            self.algorithm(),
        )?)
    }
}

/// A certificate and its key, both PEM.
#[derive(Clone)]
pub struct Issued {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Issued")
            .field("key_pem", &"MASKED")
            .finish_non_exhaustive()
    }
}

/// A CA that can sign.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// A new self-signed CA.
    ///
    /// # Errors
    /// Key generation or signing failed.
    pub fn generate(common_name: &str, days: u32, key_type: KeyType) -> Result<Self, PkiError> {
        let params = Profile::Ca {
            common_name: common_name.to_owned(),
        }
        .params(days)?;
        let key = key_type.generate()?;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
            key_pem,
        })
    }

    /// An existing CA from its PEM certificate and key.
    ///
    /// # Errors
    /// Either does not parse.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            issuer,
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
        })
    }

    /// The CA's private key, PEM: for writing to `ca/ca-key.pem` only.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a certificate of `profile` with a new key of `key_type`.
    ///
    /// # Errors
    /// A bad name in the profile, or key generation or signing failed.
    pub fn issue(
        &self,
        profile: &Profile,
        days: u32,
        key_type: KeyType,
    ) -> Result<Issued, PkiError> {
        let params: CertificateParams = profile.params(days)?;
        let key = key_type.generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
