//! The certificate profiles: a CA, a VNC server, a console proxy client, the proxy's own HTTPS
//! server. Each fixes its X.509 v3 extensions as gnutls (QEMU, libvirt) and rustls want them.
//! No I/O.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::error::PkiError;

/// Organisation written into every subject, so that QEMU's `tls-authz` can match a set.
pub const ORGANISATION: &str = "vncgate";

/// Default lifetime of the CA, in days (10 years): replacing it means touching every host.
pub const CA_DAYS: u32 = 3650;

/// Default lifetime of server and client certificates, in days: 825, the longest that browsers
/// and most policies have accepted for leaves.
pub const LEAF_DAYS: u32 = 825;

/// Longest lifetime of the browser-facing HTTPS certificate, in days: browsers refuse public
/// leaves valid more than 398 days, and a day's margin covers clock skew at issue.
pub const HTTPS_LEAF_DAYS: u32 = 397;

/// Past this many days of validity, `pki check` warns about an HTTPS certificate.
pub const HTTPS_LEAF_MAX_DAYS: i64 = 398;

/// What a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// The dedicated VNC CA: CA:TRUE, pathlen 0, keyCertSign + cRLSign.
    Ca {
        /// Common name.
        common_name: String,
    },
    /// A compute node's VNC server: serverAuth, SANs for every name.
    Server {
        /// Host names and IP addresses; the first is the CN.
        names: Vec<String>,
    },
    /// The console proxy's VeNCrypt client identity: clientAuth.
    Client {
        /// Common name, e.g. `vncgate` or the proxy's host name.
        common_name: String,
    },
}

/// One name for a subjectAltName: an IP address or a DNS name.
///
/// # Errors
/// A name that is neither.
pub fn san(name: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !valid {
        return Err(PkiError::BadName(name.to_owned()));
    }
    let dns = name
        .to_ascii_lowercase()
        .try_into()
        .map_err(|_| PkiError::BadName(name.to_owned()))?;
    Ok(SanType::DnsName(dns))
}

/// The subject of a client certificate for `common_name`, as libvirt and QEMU print it (GnuTLS,
/// in certificate order): `O=vncgate,CN=NAME`. [`Profile::params`] writes it in this order.
pub fn subject_text(common_name: &str) -> String {
    format!("O={ORGANISATION},CN={common_name}")
}

impl Profile {
    /// The rcgen parameters for this profile, valid for `days` from an hour ago (clock skew).
    ///
    /// # Errors
    /// A bad name, or no randomness for the serial.
    pub fn params(&self, days: u32) -> Result<CertificateParams, PkiError> {
        let mut params = CertificateParams::default();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(i64::from(days));
        params.serial_number = Some(random_serial()?.into());
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, ORGANISATION);
        match self {
            Self::Ca { common_name } => {
                subject.push(DnType::CommonName, common_name.as_str());
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            }
            Self::Server { names } => {
                let first = names
                    .first()
                    .ok_or_else(|| PkiError::BadName(String::new()))?;
                subject.push(DnType::CommonName, first.as_str());
                params.subject_alt_names =
                    names.iter().map(|n| san(n)).collect::<Result<_, _>>()?;
                leaf(&mut params, ExtendedKeyUsagePurpose::ServerAuth);
            }
            Self::Client { common_name } => {
                subject.push(DnType::CommonName, common_name.as_str());
                // A SAN helps tools that ignore the CN; only when the name can be one.
                if let Ok(name) = san(common_name) {
                    params.subject_alt_names = vec![name];
                }
                leaf(&mut params, ExtendedKeyUsagePurpose::ClientAuth);
            }
        }
        params.distinguished_name = subject;
        Ok(params)
    }
}

/// CA:FALSE; digitalSignature and keyEncipherment, since older gnutls (QEMU, libvirt) refuse
/// leaf certificates without keyEncipherment even for EC keys; one extended key usage;
/// authorityKeyIdentifier.
fn leaf(params: &mut CertificateParams, purpose: ExtendedKeyUsagePurpose) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
}

/// 128 random bits with the top bit clear, so the DER integer stays positive and 16 bytes.
fn random_serial() -> Result<Vec<u8>, PkiError> {
    let mut serial = vec![0u8; 16];
    getrandom::fill(&mut serial).map_err(|error| PkiError::Random(error.to_string()))?;
    if let Some(first) = serial.first_mut() {
        // Positive, and not zero.
        *first = (*first & 0x7f) | 0x01;
    }
    Ok(serial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_ip_or_dns_sans() {
        assert!(matches!(san("127.0.0.1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san("[::1]"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san("Compute-1.example"), Ok(SanType::DnsName(_))));
        for bad in ["", "a..b", "-a.example", "has space", "x/y"] {
            assert!(san(bad).is_err(), "{bad:?}");
        }
    }
}
