//! The checks of one certificate file and one key file, and of a pair of them, each adding
//! findings to a report. No network I/O.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::report::{Expectations, Report, Role, Severity};
pub(crate) use crate::rules::Chain;

pub(crate) fn check_pair(
    cert: &Path,
    key: &Path,
    role: Role,
    ca: Option<(&Path, Chain)>,
    expect: &Expectations,
    report: &mut Report,
) {
    let Some(der) = check_certificate_file(cert, role, ca, expect, report) else {
        if !key.exists() {
            report.add(Severity::Error, key, "missing");
        }
        return;
    };
    check_key_file(key, Some(&der), report);
}

/// Whether the certificate in `cert` carries a valid signature of one of the CAs in `ca`.
pub(crate) fn signed_by(cert: &Path, ca: &Path) -> bool {
    let (Ok(cert), Ok(bundle)) = (first_certificate(cert), all_certificates(ca)) else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(&cert) else {
        return false;
    };
    bundle.iter().any(|der| {
        X509Certificate::from_der(der).is_ok_and(|(_, ca)| {
            cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
        })
    })
}

/// Every certificate of a PEM file, in order (a CA bundle holds several).
pub(crate) fn all_certificates(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let found: Vec<Vec<u8>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .map(|der| der.map(|der| der.to_vec()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if found.is_empty() {
        return Err("no CERTIFICATE block in it".into());
    }
    Ok(found)
}

pub(crate) fn first_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let mut iter = CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())?;
    match iter.next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(error)) => Err(error.to_string()),
        None => Err("no CERTIFICATE block in it".into()),
    }
}

/// Checks one certificate file for `role`; returns its DER when it parsed.
pub(crate) fn check_certificate_file(
    path: &Path,
    role: Role,
    ca: Option<(&Path, Chain)>,
    expect: &Expectations,
    report: &mut Report,
) -> Option<Vec<u8>> {
    report.checked.insert(path.to_path_buf());
    let der = match first_certificate(path) {
        Ok(der) => der,
        Err(reason) => {
            let message = if path.exists() {
                format!("not a PEM certificate: {reason}")
            } else {
                "missing".into()
            };
            report.add(Severity::Error, path, message);
            return None;
        }
    };
    let cert = match X509Certificate::from_der(&der) {
        Ok((_, cert)) => cert,
        Err(error) => {
            report.add(
                Severity::Error,
                path,
                format!("not a valid X.509 certificate: {error}"),
            );
            return None;
        }
    };
    crate::rules::check_certificate(&cert, role, path, expect, report);
    if let Some((ca_path, chain)) = ca {
        match all_certificates(ca_path) {
            Ok(bundle) => {
                let parsed: Vec<X509Certificate<'_>> = bundle
                    .iter()
                    .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, ca)| ca))
                    .collect();
                if parsed.len() < bundle.len() {
                    report.add(
                        Severity::Error,
                        ca_path,
                        "holds a block that is not a valid X.509 certificate",
                    );
                }
                crate::rules::check_chain(&cert, &parsed, chain, path, ca_path, report);
            }
            Err(reason) => report.add(
                Severity::Error,
                ca_path,
                format!("cannot read the CA certificate: {reason}"),
            ),
        }
    }
    Some(der)
}

/// The SubjectPublicKeyInfo DER of a private key file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn public_key_of(path: &Path) -> Option<Vec<u8>> {
    let key = PrivateKeyDer::from_pem_file(path).ok()?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).ok()?;
    signer.public_key().map(|spki| spki.to_vec())
}

pub(crate) fn check_key_file(path: &Path, cert: Option<&[u8]>, report: &mut Report) {
    report.checked.insert(path.to_path_buf());
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(_) => {
            report.add(Severity::Error, path, "missing");
            return;
        }
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        report.add(
            Severity::Error,
            path,
            format!("private key readable by others (mode {mode:04o}): chmod 600 it"),
        );
    }
    if PrivateKeyDer::from_pem_file(path).is_err() {
        report.add(
            Severity::Error,
            path,
            "not a PEM private key (PKCS#8, RSA or EC)",
        );
        return;
    }
    let Some(public) = public_key_of(path) else {
        report.add(Severity::Error, path, "private key of an unsupported type");
        return;
    };
    if let Some(der) = cert {
        if let Ok((_, cert)) = X509Certificate::from_der(der) {
            if cert.public_key().raw != public.as_slice() {
                report.add(
                    Severity::Error,
                    path,
                    "does not belong to the certificate beside it (the public keys differ)",
                );
            }
        }
    }
}
