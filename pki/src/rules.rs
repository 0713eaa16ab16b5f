//! The rules `pki check` applies to one certificate, and to a certificate against its CA. Each
//! message says what is wrong and what the peers do about it. No I/O.

use std::path::Path;

use x509_parser::prelude::X509Certificate;

use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

use crate::report::{Expectations, Report, Role, Severity, EXPIRY_WARNING_DAYS};

pub(crate) fn check_certificate(
    cert: &X509Certificate<'_>,
    role: Role,
    path: &Path,
    expect: &Expectations,
    report: &mut Report,
) {
    let mut add = |severity, message: String| report.add(severity, path, message);
    validity(cert, &mut add);
    strength(cert, &mut add);
    constraints(cert, role, &mut add);
    usage(cert, role, &mut add);
    if role == Role::Server {
        names(cert, expect, &mut add);
    }
}

/// What each check reports a finding to.
type Add<'a> = dyn FnMut(Severity, String) + 'a;

/// The version and the validity period.
fn validity(cert: &X509Certificate<'_>, add: &mut Add<'_>) {
    if cert.version().0 != 2 {
        add(
            Severity::Error,
            "not an X.509 v3 certificate: it cannot carry the extensions VeNCrypt needs".into(),
        );
    }
    // Validity.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    if now < not_before {
        add(
            Severity::Error,
            format!("not valid yet: valid from {}", cert.validity().not_before),
        );
    }
    if now > not_after {
        add(
            Severity::Error,
            format!("expired on {}", cert.validity().not_after),
        );
    } else if not_after - now < EXPIRY_WARNING_DAYS * 86_400 {
        add(
            Severity::Warning,
            format!(
                "expires on {}, within {EXPIRY_WARNING_DAYS} days",
                cert.validity().not_after
            ),
        );
    }
}

/// The signature algorithm and the key's strength.
fn strength(cert: &X509Certificate<'_>, add: &mut Add<'_>) {
    let algorithm = cert.signature_algorithm.algorithm.to_id_string();
    // md5WithRSA, sha1WithRSA, ecdsa-with-SHA1.
    if [
        "1.2.840.113549.1.1.4",
        "1.2.840.113549.1.1.5",
        "1.2.840.10045.4.1",
    ]
    .contains(&algorithm.as_str())
    {
        add(
            Severity::Error,
            "signed with MD5 or SHA-1, which TLS libraries refuse: reissue it".into(),
        );
    }
    match key_bits(cert) {
        Some(("RSA", bits)) if bits < 2048 => add(
            Severity::Error,
            format!("RSA key of {bits} bits: at least 2048 are needed"),
        ),
        Some(("EC", bits)) if bits < 256 => add(
            Severity::Error,
            format!("EC key of {bits} bits: at least 256 are needed"),
        ),
        _ => {}
    }
}

/// basicConstraints for the role.
fn constraints(cert: &X509Certificate<'_>, role: Role, add: &mut Add<'_>) {
    let constraints = cert
        .basic_constraints()
        .ok()
        .flatten()
        .map(|ext| (ext.critical, ext.value.ca));
    match (role, constraints) {
        (Role::Ca, None) => add(Severity::Error, "has no basicConstraints extension: gnutls (QEMU, libvirt) stops with \"basic constraints do not show a CA\"; reissue the CA with basicConstraints=critical,CA:TRUE".into()),
        (Role::Ca, Some((_, false))) => add(Severity::Error, "is not a CA (basicConstraints CA:FALSE), yet it is used as one".into()),
        (Role::Ca, Some((false, true))) => add(Severity::Warning, "basicConstraints is not marked critical".into()),
        (Role::Server | Role::Client, Some((_, true))) => add(Severity::Error, "is a CA certificate (CA:TRUE) used as a leaf: issue a separate server or client certificate".into()),
        (Role::Server | Role::Client, None) => add(Severity::Warning, "has no basicConstraints extension; CA:FALSE is expected".into()),
        _ => {}
    }
}

/// keyUsage and extendedKeyUsage for the role.
fn usage(cert: &X509Certificate<'_>, role: Role, add: &mut Add<'_>) {
    let rsa = matches!(key_bits(cert), Some(("RSA", _)));
    match (role, cert.key_usage().ok().flatten().map(|ext| *ext.value)) {
        (Role::Ca, Some(usage)) if !usage.key_cert_sign() => add(
            Severity::Error,
            "keyUsage lacks keyCertSign: it cannot sign certificates".into(),
        ),
        (Role::Ca, None) => add(
            Severity::Warning,
            "has no keyUsage extension; keyCertSign and cRLSign are expected".into(),
        ),
        (Role::Server | Role::Client, Some(usage)) => {
            if !usage.digital_signature() {
                add(
                    Severity::Error,
                    "keyUsage lacks digitalSignature, which TLS 1.2 ECDHE and TLS 1.3 need".into(),
                );
            }
            if rsa && !usage.key_encipherment() {
                add(
                    Severity::Warning,
                    "RSA key without keyEncipherment in keyUsage: older gnutls refuses it".into(),
                );
            }
        }
        _ => {}
    }
    let eku = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .map(|ext| ext.value.clone());
    match (role, eku) {
        (Role::Server, Some(eku)) if !eku.server_auth && !eku.any => add(Severity::Error, "extendedKeyUsage lacks serverAuth: rustls and browsers refuse it as a server certificate".into()),
        (Role::Client, Some(eku)) if !eku.client_auth && !eku.any => add(Severity::Error, "extendedKeyUsage lacks clientAuth: it is not a client certificate".into()),
        (Role::Server, None) => add(Severity::Warning, "has no extendedKeyUsage; serverAuth is expected".into()),
        (Role::Client, None) => add(Severity::Warning, "has no extendedKeyUsage; clientAuth is expected".into()),
        _ => {}
    }
}

/// A server's subjectAltName, and each host it must name.
fn names(cert: &X509Certificate<'_>, expect: &Expectations, add: &mut Add<'_>) {
    let names: Vec<_> = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| ext.value.general_names.clone())
        .unwrap_or_default();
    if names.is_empty() {
        add(
            Severity::Error,
            "has no subjectAltName: TLS clients no longer read host names from the CN".into(),
        );
    }
    for host in &expect.hosts {
        if !names.iter().any(|name| san_matches(name, host)) {
            add(
                Severity::Error,
                format!("subjectAltName does not include {host}"),
            );
        }
    }
}

/// How a certificate must relate to a CA file, which may hold several CAs (a bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    /// It must be issued by one of them: a server certificate and the `ca-cert.pem` its QEMU
    /// loads, or a leaf and its known issuer.
    Required,
    /// Checked only when its issuer is among them: a proxy's client certificate beside the
    /// bundle of compute-node CAs it trusts, which need not hold the client's own CA.
    IfPresent,
}

/// Checks `cert` against the CAs of `ca_path`.
pub(crate) fn check_chain(
    cert: &X509Certificate<'_>,
    cas: &[X509Certificate<'_>],
    chain: Chain,
    path: &Path,
    ca_path: &Path,
    report: &mut Report,
) {
    let named: Vec<&X509Certificate<'_>> = cas
        .iter()
        .filter(|ca| ca.subject() == cert.issuer())
        .collect();
    if named.is_empty() {
        if chain == Chain::Required {
            let subjects: Vec<String> = cas
                .iter()
                .map(|ca| format!("\"{}\"", ca.subject()))
                .collect();
            report.add(
                Severity::Error,
                path,
                format!(
                    "was not issued by the CA in {} (issuer \"{}\", CA {})",
                    ca_path.display(),
                    cert.issuer(),
                    subjects.join(", ")
                ),
            );
        }
        return;
    }
    let verified = named
        .iter()
        .any(|ca| cert.verify_signature(Some(ca.public_key())).is_ok());
    if !verified {
        report.add(
            Severity::Error,
            path,
            format!(
                "signature does not verify with the CA in {}: signed by another CA of the same name",
                ca_path.display()
            ),
        );
    }
}

/// Key size in bits as the parser sees it, for the strength rule.
pub(crate) fn key_bits(cert: &X509Certificate<'_>) -> Option<(&'static str, usize)> {
    match cert.public_key().parsed().ok()? {
        PublicKey::RSA(rsa) => Some(("RSA", rsa.key_size())),
        PublicKey::EC(point) => Some(("EC", point.key_size())),
        _ => None,
    }
}

/// Whether a SAN entry names `host` (DNS names without case, IP addresses by value).
pub(crate) fn san_matches(name: &GeneralName<'_>, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match name {
        GeneralName::DNSName(dns) => dns.eq_ignore_ascii_case(host),
        GeneralName::IPAddress(bytes) => match host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => *bytes == ip.octets(),
            Ok(std::net::IpAddr::V6(ip)) => *bytes == ip.octets(),
            Err(_) => false,
        },
        _ => false,
    }
}
