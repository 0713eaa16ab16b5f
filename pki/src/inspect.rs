//! `pki check`: reads certificates and keys with x509-parser and says, in plain words, what is
//! wrong with them for VeNCrypt. No network I/O.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pair::{
    check_certificate_file, check_key_file, check_pair, first_certificate, public_key_of,
    signed_by, Chain,
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
    if !dir.join("ca").is_dir() {
        check_dir_as(dir, None, expect, report);
        return;
    }
    // A `pki init` directory: the proxy-client CA, one CA per compute node, and the roles.
    let ca = dir.join("ca/ca-cert.pem");
    check_role_dir(
        &ca,
        Role::Ca,
        Some(&dir.join("ca/ca-key.pem")),
        expect,
        report,
    );
    for node_ca in subdirs(&dir.join("ca/nodes")) {
        check_role_dir(
            &node_ca.join("ca-cert.pem"),
            Role::Ca,
            Some(&node_ca.join("ca-key.pem")),
            expect,
            report,
        );
    }
    let hosts = subdirs(&dir.join("compute"));
    for host in &hosts {
        check_dir_as(host, None, expect, report);
    }
    for path in [dir.join("proxy")]
        .into_iter()
        .chain(subdirs(&dir.join("clients")))
    {
        if path.is_dir() {
            check_dir_as(&path, Some(&ca), expect, report);
        }
    }
    crate::isolation::check_layout(dir, &hosts, report);
    check_https(dir, expect, report);
    crate::libvirt::check(dir, expect, report);
}

/// The sub-directories of `dir`, by name.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
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
}

/// The browser-facing certificate: its own CA, never the VNC CAs.
fn check_https(dir: &Path, expect: &Expectations, report: &mut Report) {
    let https = dir.join("https/cert.pem");
    if !https.exists() {
        return;
    }
    let https_ca = dir.join("https-ca/ca-cert.pem");
    if https_ca.exists() {
        check_role_dir(
            &https_ca,
            Role::Ca,
            Some(&dir.join("https-ca/ca-key.pem")),
            expect,
            report,
        );
    }
    let vnc_cas = std::iter::once(dir.join("ca/ca-cert.pem")).chain(
        subdirs(&dir.join("ca/nodes"))
            .into_iter()
            .map(|n| n.join("ca-cert.pem")),
    );
    let from_vnc_ca = vnc_cas.into_iter().any(|ca| signed_by(&https, &ca));
    if from_vnc_ca {
        report.add(
            Severity::Error,
            &https,
            "the browser-facing HTTPS certificate is signed by a VNC CA: its key, which often \
             sits on load balancers, could then impersonate compute nodes to the proxy. Give it \
             a CA of its own (`pki init --https` makes one in DIR/https-ca/) or a public CA, \
             and re-issue",
        );
    } else if https_ca.exists() {
        check_pair(
            &https,
            &dir.join("https/key.pem"),
            Role::Server,
            Some((&https_ca, Chain::Required)),
            expect,
            report,
        );
    }
    check_https_lifetime(&https, report);
}

/// Browsers refuse a public leaf valid more than 398 days, and tools such as testssl flag one.
fn check_https_lifetime(https: &Path, report: &mut Report) {
    let Ok(certificates) = crate::pair::all_certificates(https) else {
        return;
    };
    let Some((_, cert)) = certificates
        .first()
        .and_then(|der| X509Certificate::from_der(der).ok())
    else {
        return;
    };
    let validity = cert.validity();
    let days = (validity.not_after.timestamp() - validity.not_before.timestamp()) / 86_400;
    if days > crate::profile::HTTPS_LEAF_MAX_DAYS {
        report.add(
            Severity::Warning,
            https,
            format!(
                "the HTTPS certificate is valid {days} days; browsers refuse public leaves valid \
                 more than {} days: re-issue it for at most {}",
                crate::profile::HTTPS_LEAF_MAX_DAYS,
                crate::profile::HTTPS_LEAF_DAYS
            ),
        );
    }
}

/// A directory holding one role's files and its `ca-cert.pem`. A server certificate must chain
/// to a CA in that file (QEMU refuses to start otherwise); a client certificate is checked
/// against `issuer` when it is known (its CA in a `pki init` directory), else against the file
/// when its issuer is there: in the isolated layout the proxy's `ca-cert.pem` holds the compute
/// nodes' CAs, not its own.
fn check_dir_as(dir: &Path, issuer: Option<&Path>, expect: &Expectations, report: &mut Report) {
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
    }
    let has_leaf = dir.join("server-cert.pem").exists() || dir.join("client-cert.pem").exists();
    if has_leaf && own_ca.exists() {
        check_bundle(&own_ca, expect, report);
    }
    let mut any = false;
    for (cert, key, role) in [
        ("server-cert.pem", "server-key.pem", Role::Server),
        ("client-cert.pem", "client-key.pem", Role::Client),
    ] {
        if dir.join(cert).exists() || dir.join(key).exists() {
            any = true;
            let chain = match (role, issuer) {
                (Role::Client, Some(issuer)) => (issuer, Chain::Required),
                (Role::Client, None) => (own_ca.as_path(), Chain::IfPresent),
                _ => (own_ca.as_path(), Chain::Required),
            };
            check_pair(
                &dir.join(cert),
                &dir.join(key),
                role,
                Some(chain),
                expect,
                report,
            );
        }
    }
    if !any {
        if dir.join("ca-key.pem").exists() {
            check_role_dir(
                &own_ca,
                Role::Ca,
                Some(&dir.join("ca-key.pem")),
                expect,
                report,
            );
        } else if own_ca.exists() {
            check_bundle(&own_ca, expect, report);
        } else {
            report.add(
                Severity::Error,
                dir,
                "holds none of ca-cert.pem, server-cert.pem, client-cert.pem",
            );
        }
    }
}

/// Every certificate of a CA file is a CA (the file may be a bundle of several).
fn check_bundle(path: &Path, expect: &Expectations, report: &mut Report) {
    match crate::pair::all_certificates(path) {
        Ok(bundle) if bundle.len() > 1 => {
            report.checked.insert(path.to_path_buf());
            for der in bundle {
                match X509Certificate::from_der(&der) {
                    Ok((_, cert)) => {
                        crate::rules::check_certificate(&cert, Role::Ca, path, expect, report)
                    }
                    Err(error) => report.add(
                        Severity::Error,
                        path,
                        format!("holds a block that is not a valid X.509 certificate: {error}"),
                    ),
                }
            }
        }
        _ => {
            check_certificate_file(path, Role::Ca, None, expect, report);
        }
    }
}

fn check_role_dir(
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
        let chain_ca = ca
            .as_ref()
            .filter(|ca| *ca != path)
            .map(|ca| (ca.as_path(), Chain::Required));
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

/// When the first of the certificates in `path` to expire expires (a CA bundle may hold
/// several), for the expiry metric.
pub fn earliest_expiry(path: &Path) -> Option<std::time::SystemTime> {
    crate::pair::all_certificates(path)
        .ok()?
        .iter()
        .filter_map(|der| X509Certificate::from_der(der).ok())
        .map(|(_, cert)| cert.validity().not_after.timestamp())
        .min()
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(|seconds| std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// The subject of the certificate in `path` as QEMU's `authz-simple` compares it: the DN in
/// certificate order, each comma doubled as QEMU's `-object` syntax wants
/// (`O=vncgate,,CN=vncgate`). `None` when the file holds no certificate.
pub fn qemu_identity(path: &Path) -> Option<String> {
    let der = first_certificate(path).ok()?;
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    let parts: Vec<String> = cert
        .subject()
        .iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .filter_map(|attribute| {
            let name = x509_parser::objects::oid2abbrev(
                attribute.attr_type(),
                x509_parser::objects::oid_registry(),
            )
            .ok()?;
            Some(format!("{name}={}", attribute.as_str().ok()?))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(",").replace(',', ",,"))
}

/// Checks one role's files with the role known: the CA file, a certificate chained to it and
/// its key. `check-config` uses it on the `vencrypt_*` files.
pub fn check_role_files(ca: &Path, cert: &Path, key: &Path, role: Role) -> Report {
    let mut report = Report::default();
    let expect = Expectations::default();
    check_bundle(ca, &expect, &mut report);
    // The CA file holds the CAs the role trusts in its peers; a client's own CA need not be
    // among them (the isolated layout), so its chain is checked only when it is.
    let chain = match role {
        Role::Client => Chain::IfPresent,
        _ => Chain::Required,
    };
    check_pair(cert, key, role, Some((ca, chain)), &expect, &mut report);
    report
}
