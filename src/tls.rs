//! Builds the rustls configurations once, at start-up: the browser-facing server config and the
//! VeNCrypt client config. No sockets.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::{default_provider, ALL_CIPHER_SUITES};
use rustls::crypto::CryptoProvider;
use rustls::{ServerConfig, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{FrontTls, TlsMinimum};

/// Why a TLS configuration could not be built. Paths are named; contents never are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate file is unreadable or has no certificate.
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A key file is unreadable or holds no private key.
    #[error("cannot read a private key from {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A name in `[console] ssl_ciphers` is no suite rustls has.
    #[error("ssl_ciphers: {0:?} is not a TLS 1.2/1.3 AEAD suite; known: {1}")]
    UnknownCipher(String, String),
    /// rustls refused the combination (a key that does not match the certificate, say).
    #[error("{context}: {source}")]
    Rustls {
        /// Which configuration.
        context: &'static str,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
}

/// OpenSSL's names for the suites rustls has, beside the IANA names rustls uses itself.
const OPENSSL_NAMES: &[(&str, &str)] = &[
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// Reads every certificate in a PEM file.
///
/// # Errors
/// Unreadable file, bad PEM, or no certificate at all.
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let fail = |reason: String| Error::Certificates {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|error| fail(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| fail(error.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// Reads the first private key of a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), since keys
/// come from openssl, certtool and older tools alike.
///
/// # Errors
/// Unreadable file or no private key in it.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| Error::Key {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

fn provider(ciphers: Option<&[String]>) -> Result<CryptoProvider, Error> {
    let mut provider = default_provider();
    if let Some(names) = ciphers {
        let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
        for name in names {
            let iana = OPENSSL_NAMES
                .iter()
                .find(|(openssl, _)| openssl.eq_ignore_ascii_case(name))
                .map_or(name.as_str(), |(_, iana)| iana);
            let suite = ALL_CIPHER_SUITES
                .iter()
                .find(|suite| {
                    suite
                        .suite()
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(iana))
                })
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        OPENSSL_NAMES.iter().map(|(openssl, _)| *openssl).collect();
                    Error::UnknownCipher(name.clone(), known.join(", "))
                })?;
            chosen.push(*suite);
        }
        provider.cipher_suites = chosen;
    }
    Ok(provider)
}

/// The browser-facing TLS configuration: HTTP/1.1 over TLS 1.2+ (or 1.3 only).
///
/// # Errors
/// Unreadable certificate or key, a key that does not match, or unknown cipher names.
pub fn front_config(tls: &FrontTls) -> Result<Arc<ServerConfig>, Error> {
    let certs = load_certificates(&tls.cert)?;
    let key = load_private_key(&tls.key)?;
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.minimum {
        TlsMinimum::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMinimum::Tls13 => &[&rustls::version::TLS13],
    };
    let context = "browser-facing TLS";
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(provider(tls.ciphers.as_deref())?))
            .with_protocol_versions(versions)
            .map_err(|source| Error::Rustls { context, source })?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|source| Error::Rustls { context, source })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's order decides, not the client's: the provider's (AES-GCM, then
    // ChaCha20-Poly1305, strongest first), or `ssl_ciphers` in the order given.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// A server verifier that checks the chain against the VeNCrypt CA only and, unless asked to,
/// not the name: nova checks the CA only, and many deployments' compute certificates name
/// hosts differently from the address in the token. `vencrypt_verify_hostname` turns it on.
#[derive(Debug)]
struct CaOnlyVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    verify_hostname: bool,
}

impl rustls::client::danger::ServerCertVerifier for CaOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError;
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // webpki checks the chain (signatures, validity, serverAuth EKU) before the name,
            // so a name error means everything else passed.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_hostname => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A warning when `vencrypt_ca_certs` holds several CAs (one per compute node, as `pki init`
/// makes them) and server names are not checked: any node's key could then speak for every
/// other node to the proxy.
pub fn several_cas_warning(
    files: &crate::config::VencryptFiles,
    verify_hostname: bool,
) -> Option<String> {
    let count = load_certificates(&files.ca_certs).map_or(0, |certs| certs.len());
    (count > 1 && !verify_hostname).then(|| {
        format!(
            "[vnc] vencrypt_ca_certs holds {count} CAs but [vncgate] vencrypt_verify_hostname is \
             off: a compute node's stolen key could impersonate every other node to the proxy; \
             set vencrypt_verify_hostname = true"
        )
    })
}

/// The VeNCrypt client configuration: the proxy's certificate and key, VNC server certificates
/// verified against `vencrypt_ca_certs` only (never the system roots), TLS 1.2 or 1.3.
///
/// # Errors
/// Unreadable or unusable files, or a key that does not match the certificate.
pub fn backend_config(
    files: &crate::config::VencryptFiles,
    verify_hostname: bool,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let context = "VeNCrypt client TLS";
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certificates(&files.ca_certs)? {
        roots
            .add(cert)
            .map_err(|source| Error::Rustls { context, source })?;
    }
    let provider = Arc::new(default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|error| Error::Certificates {
        path: files.ca_certs.display().to_string(),
        reason: error.to_string(),
    })?;
    let certs = load_certificates(&files.client_cert)?;
    let key = load_private_key(&files.client_key)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| Error::Rustls { context, source })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CaOnlyVerifier {
            inner,
            verify_hostname,
        }))
        .with_client_auth_cert(certs, key)
        .map_err(|source| Error::Rustls { context, source })?;
    Ok(Arc::new(config))
}

/// The client TLS toward the token API: the server's certificate checked against the CAs in
/// `ca` (a bundle, such as the system's), host name included.
///
/// # Errors
/// The file cannot be read or holds no usable CA.
pub fn api_client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, Error> {
    let context = "token API client TLS";
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(load_certificates(ca)?);
    if added == 0 {
        return Err(Error::Certificates {
            path: ca.display().to_string(),
            reason: "no CA certificate in it".into(),
        });
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|source| Error::Rustls { context, source })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
