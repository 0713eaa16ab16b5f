//! `pki check`: reads certificates and keys with x509-parser and says, in plain words, what is
//! wrong with them for VeNCrypt. No network I/O.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pair::{
    check_certificate_file, check_key_file, check_pair, first_certificate, public_key_of, signed_by,
};
pub use crate::report::{Expectations, Finding, Report, Role, Severity, EXPIRY_WARNING_DAYS};

/// Checks each path: a `pki init` directory, a QEMU/libvirt certificate directory
/// (`ca-cert.pem`, `server-cert.pem`, `server-key.pem`), a nova proxy directory (`ca-cert.pem`,
/// `client-cert.pem`, `client-key.pem`), or single PEM files.
pub fn check_paths(paths: &[PathBuf], expect: &Expectations) -> Report {
    let mut report = Report::default();
    let mut loose = Vec::new();
    for path in paths {
        if path.is_dir() {
            check_dir(path, expect, &mut report);
        } else if path.exists() {
            loose.push(path.clone());
        } else {
            report.add(Severity::Error, path, "does not exist");
        }
    }
    if !loose.is_empty() {
        check_files(&loose, expect, &mut report);
    }
    report
}

fn check_dir(dir: &Path, expect: &Expectations, report: &mut Report) {
    if dir.join("ca").is_dir() {
        let ca = dir.join("ca/ca-cert.pem");
        check_role_dir(
            dir,
            &ca,
            Role::Ca,
            Some(&dir.join("ca/ca-key.pem")),
            expect,
            report,
        );
        let sub = |name: &str| -> Vec<PathBuf> {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(name))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            found
        };
        for host in sub("compute") {
            check_dir_as(&host, Some(&ca), expect, report);
        }
        for path in [dir.join("proxy")].into_iter().chain(sub("clients")) {
            if path.is_dir() {
                check_dir_as(&path, Some(&ca), expect, report);
            }
        }
        let https = dir.join("https/cert.pem");
        if https.exists() {
            let https_ca = dir.join("https-ca/ca-cert.pem");
            if https_ca.exists() {
                check_role_dir(
                    &dir.join("https-ca"),
                    &https_ca,
                    Role::Ca,
                    Some(&dir.join("https-ca/ca-key.pem")),
                    expect,
                    report,
                );
            }
            if signed_by(&https, &ca) {
                report.add(
                    Severity::Error,
                    &https,
                    "the browser-facing HTTPS certificate is signed by the VNC CA: its key, \
                     which often sits on load balancers, could then impersonate every compute \
                     node to the proxy. Give it a CA of its own (`pki init --https` makes one \
                     in DIR/https-ca/) or a public CA, and re-issue",
                );
            } else if https_ca.exists() {
                check_pair(
                    &https,
                    &dir.join("https/key.pem"),
                    Role::Server,
                    Some(&https_ca),
                    expect,
                    report,
                );
            }
        }
    } else {
        check_dir_as(dir, None, expect, report);
    }
}

/// A directory holding one role's files, with its own `ca-cert.pem` unless `ca` is given.
fn check_dir_as(dir: &Path, ca: Option<&Path>, expect: &Expectations, report: &mut Report) {
    let own_ca = dir.join("ca-cert.pem");
    if dir.join("ca-key.pem").exists()
        && (dir.join("server-cert.pem").exists() || dir.join("client-cert.pem").exists())
    {
        report.add(
            Severity::Error,
            &dir.join("ca-key.pem"),
            "the CA's private key is in a host's directory: remove it; only the CA host needs it",
        );
    }
    if !own_ca.exists() {
        report.add(
            Severity::Error,
            &own_ca,
            "missing: QEMU, libvirt and nova need the CA certificate in this directory too",
        );
    } else if let Some(ca) = ca {
        if std::fs::read(&own_ca).ok() != std::fs::read(ca).ok() {
            report.add(
                Severity::Error,
                &own_ca,
                format!("is not the same CA as {}", ca.display()),
            );
        }
    }
    let standalone = ca.is_none();
    let ca = ca.map(Path::to_path_buf).unwrap_or(own_ca.clone());
    let has_leaf = dir.join("server-cert.pem").exists() || dir.join("client-cert.pem").exists();
    if standalone && has_leaf && own_ca.exists() {
        check_certificate_file(&own_ca, Role::Ca, None, expect, report);
    }
    let mut any = false;
    for (cert, key, role) in [
        ("server-cert.pem", "server-key.pem", Role::Server),
        ("client-cert.pem", "client-key.pem", Role::Client),
    ] {
        if dir.join(cert).exists() || dir.join(key).exists() {
            any = true;
            check_pair(
                &dir.join(cert),
                &dir.join(key),
                role,
                Some(&ca),
                expect,
                report,
            );
        }
    }
    if !any {
        if dir.join("ca-key.pem").exists() {
            check_role_dir(
                dir,
                &own_ca,
                Role::Ca,
                Some(&dir.join("ca-key.pem")),
                expect,
                report,
            );
        } else if own_ca.exists() {
            check_certificate_file(&own_ca, Role::Ca, None, expect, report);
        } else {
            report.add(
                Severity::Error,
                dir,
                "holds none of ca-cert.pem, server-cert.pem, client-cert.pem",
            );
        }
    }
}

fn check_role_dir(
    _dir: &Path,
    cert: &Path,
    role: Role,
    key: Option<&Path>,
    expect: &Expectations,
    report: &mut Report,
) {
    match key {
        Some(key) => check_pair(cert, key, role, None, expect, report),
        None => {
            check_certificate_file(cert, role, None, expect, report);
        }
    }
}

/// Loose files: keys are matched to certificates; a CA among them is used for chains.
fn check_files(paths: &[PathBuf], expect: &Expectations, report: &mut Report) {
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    for path in paths {
        match std::fs::read(path) {
            Err(error) => report.add(Severity::Error, path, format!("cannot read: {error}")),
            Ok(bytes) if PrivateKeyDer::from_pem_slice(&bytes).is_ok() => keys.push(path.clone()),
            Ok(_) => certs.push(path.clone()),
        }
    }
    let ca = certs.iter().find(|path| {
        first_certificate(path)
            .ok()
            .is_some_and(|der| guess_role(path, &der) == Role::Ca)
    });
    let ca = ca.cloned();
    let mut ders = Vec::new();
    for path in &certs {
        let role = first_certificate(path)
            .ok()
            .map_or(Role::Server, |der| guess_role(path, &der));
        let chain_ca = ca.as_ref().filter(|ca| *ca != path).map(PathBuf::as_path);
        if let Some(der) = check_certificate_file(path, role, chain_ca, expect, report) {
            ders.push(der);
        }
    }
    for key in &keys {
        check_key_file(key, None, report);
        let public = public_key_of(key);
        let matched = public.as_ref().is_some_and(|public| {
            ders.iter().any(|der| {
                X509Certificate::from_der(der)
                    .is_ok_and(|(_, c)| c.public_key().raw == public.as_slice())
            })
        });
        if public.is_some() && !matched {
            report.add(
                Severity::Error,
                key,
                "belongs to none of the certificates given",
            );
        }
    }
}

/// The role of a loose file: a CA by its flags, its key usage or its name (`ca-cert.pem`,
/// `cacert.pem`), so that a CA made without basicConstraints is still judged as a CA.
fn guess_role(path: &Path, der: &[u8]) -> Role {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Role::Server;
    };
    let named_ca = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ca"));
    let signs = cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.key_cert_sign());
    if cert.is_ca() || signs || named_ca {
        return Role::Ca;
    }
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth && !eku.value.server_auth => Role::Client,
        _ => Role::Server,
    }
}

/// Checks one role's files with the role known: the CA file, a certificate chained to it and
/// its key. `check-config` uses it on the `vencrypt_*` files.
pub fn check_role_files(ca: &Path, cert: &Path, key: &Path, role: Role) -> Report {
    let mut report = Report::default();
    let expect = Expectations::default();
    check_certificate_file(ca, Role::Ca, None, &expect, &mut report);
    check_pair(cert, key, role, Some(ca), &expect, &mut report);
    report
}
