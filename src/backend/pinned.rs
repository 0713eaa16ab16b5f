//! TLS to a server known by its certificate's fingerprint only (ESXi's WebMKS and authd): the
//! certificate is accepted when its thumbprint matches the pin, and never by a CA, a name or
//! anything else. The handshake's signatures are still checked, so the server must hold the
//! pinned certificate's key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::console::Thumbprint;

/// The error a pin mismatch becomes inside rustls, found again by [`is_mismatch`].
#[derive(Debug, thiserror::Error)]
#[error("the certificate presented has thumbprint {presented}, not the pinned one")]
pub struct Mismatch {
    /// What the server presented, in the pin's algorithm (not a secret: for the log).
    pub presented: Thumbprint,
}

#[derive(Debug)]
struct PinnedVerifier {
    pin: Thumbprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin is the whole trust decision: an ESXi certificate is usually self-signed, its
        // name and dates say nothing a thumbprint does not.
        if self.pin.matches(end_entity) {
            Ok(ServerCertVerified::assertion())
        } else {
            let presented = self.pin.of_same_kind(end_entity);
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(Mismatch { presented })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client configuration that trusts exactly the certificate `pin` names, with ALPN `alpn`
/// (`http/1.1` for a WebSocket; none for authd).
///
/// # Errors
/// The crypto provider lacks TLS 1.2 and 1.3 (not with ring).
pub fn client_config(
    pin: Thumbprint,
    alpn: Option<&[u8]>,
) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pin, provider }))
        .with_no_client_auth();
    if let Some(alpn) = alpn {
        config.alpn_protocols = vec![alpn.to_vec()];
    }
    Ok(Arc::new(config))
}

/// The mismatch inside a TLS error, if that is what it was.
pub fn mismatch(error: &std::io::Error) -> Option<&Mismatch> {
    let rustls_error = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    match rustls_error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<Mismatch>()
        }
        _ => None,
    }
}

/// The name to send as SNI: the host when it is a DNS name, else its address (no SNI).
pub fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_owned()).unwrap_or_else(|_| {
        ServerName::IpAddress(
            host.parse::<std::net::IpAddr>()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
                .into(),
        )
    })
}
