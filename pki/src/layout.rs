//! The directory layout `pki init` writes, which libvirt, QEMU and nova expect:
//!
//! ```text
//! DIR/ca/{ca-cert.pem,ca-key.pem}
//! DIR/compute/<host>/{ca-cert.pem,server-cert.pem,server-key.pem}   -> /etc/pki/libvirt-vnc
//! DIR/proxy/{ca-cert.pem,client-cert.pem,client-key.pem}            -> /etc/pki/nova-novncproxy
//! DIR/clients/<name>/{ca-cert.pem,client-cert.pem,client-key.pem}   (pki issue client)
//! DIR/https-ca/{ca-cert.pem,ca-key.pem}                             (--https)
//! DIR/https/{cert.pem,key.pem}                                      (--https)
//! ```
//!
//! The CA keys stay in `DIR/ca/` and `DIR/https-ca/` and are never copied anywhere else. The
//! browser-facing HTTPS certificate has a CA of its own: its key often sits on load balancers,
//! and signed by the VNC CA it could impersonate every compute node to the proxy.

use std::path::{Path, PathBuf};

use crate::error::PkiError;
use crate::issue::{Ca, Issued, KeyType};
use crate::profile::{Profile, CA_DAYS};
use crate::store::{self, Mode, Planned};

/// Common name of the CA `pki init` makes.
pub const CA_COMMON_NAME: &str = "vncgate VNC CA";

/// Common name of the CA of the browser-facing HTTPS certificate.
pub const HTTPS_CA_COMMON_NAME: &str = "vncgate HTTPS CA";

/// Default CN of the proxy's client certificate.
pub const DEFAULT_CLIENT_CN: &str = "vncgate";

/// What `pki init` makes.
#[derive(Debug, Clone)]
pub struct InitPlan {
    /// Output directory.
    pub dir: PathBuf,
    /// One entry per compute host: its names, the first being the directory name and CN.
    pub servers: Vec<Vec<String>>,
    /// CN of the proxy's client certificate.
    pub client_common_name: String,
    /// Names for the proxy's own HTTPS certificate, if wanted.
    pub https: Option<Vec<String>>,
    /// Lifetime of leaf certificates, in days.
    pub days: u32,
    /// Key algorithm of every key.
    pub key_type: KeyType,
    /// Replace existing files.
    pub force: bool,
}

/// Paths inside a PKI directory.
pub fn ca_cert(dir: &Path) -> PathBuf {
    dir.join("ca/ca-cert.pem")
}

/// The CA key inside a PKI directory.
pub fn ca_key(dir: &Path) -> PathBuf {
    dir.join("ca/ca-key.pem")
}

/// The HTTPS CA's directory.
pub fn https_ca_dir(dir: &Path) -> PathBuf {
    dir.join("https-ca")
}

/// A compute host's directory (QEMU's `tls-creds-x509` dir, libvirt's `/etc/pki/libvirt-vnc`).
pub fn compute_dir(dir: &Path, host: &str) -> PathBuf {
    dir.join("compute").join(host)
}

/// The proxy's directory (nova's `/etc/pki/nova-novncproxy`).
pub fn proxy_dir(dir: &Path) -> PathBuf {
    dir.join("proxy")
}

/// The CA certificate copied beside a role's files, as QEMU, libvirt and nova want it.
fn ca_copy(at: &Path, ca: &Ca) -> Planned {
    Planned {
        path: at.join("ca-cert.pem"),
        contents: ca.cert_pem.clone(),
        mode: Mode::Public,
    }
}

/// A certificate (0644) and its key (0600).
fn pair(cert: PathBuf, key: PathBuf, issued: Issued) -> [Planned; 2] {
    [
        Planned {
            path: cert,
            contents: issued.cert_pem,
            mode: Mode::Public,
        },
        Planned {
            path: key,
            contents: issued.key_pem,
            mode: Mode::Secret,
        },
    ]
}

fn server_files(
    dir: &Path,
    ca: &Ca,
    names: &[String],
    days: u32,
    key_type: KeyType,
) -> Result<Vec<Planned>, PkiError> {
    let host = names
        .first()
        .ok_or_else(|| PkiError::BadName(String::new()))?;
    if host.contains(['/', '\\']) || host.starts_with('.') {
        return Err(PkiError::BadName(host.clone()));
    }
    let issued = ca.issue(
        &Profile::Server {
            names: names.to_vec(),
        },
        days,
        key_type,
    )?;
    let at = compute_dir(dir, host);
    let [cert, key] = pair(
        at.join("server-cert.pem"),
        at.join("server-key.pem"),
        issued,
    );
    Ok(vec![ca_copy(&at, ca), cert, key])
}

fn client_files(
    at: PathBuf,
    ca: &Ca,
    name: &str,
    days: u32,
    key_type: KeyType,
) -> Result<Vec<Planned>, PkiError> {
    let issued = ca.issue(
        &Profile::Client {
            common_name: name.to_owned(),
        },
        days,
        key_type,
    )?;
    let [cert, key] = pair(
        at.join("client-cert.pem"),
        at.join("client-key.pem"),
        issued,
    );
    Ok(vec![ca_copy(&at, ca), cert, key])
}

/// Creates the CA and every certificate of `plan`, writing all files or none.
///
/// # Errors
/// Existing files without `force` (nothing is written), bad names, I/O.
pub fn init(plan: &InitPlan) -> Result<Vec<PathBuf>, PkiError> {
    let dir = &plan.dir;
    store::check_dir_trust(dir)?;
    // Refuse before the (slow, for RSA) key generation when the answer is known already.
    if !plan.force && ca_key(dir).exists() {
        return Err(PkiError::Exists(vec![ca_key(dir)]));
    }
    let ca = Ca::generate(CA_COMMON_NAME, CA_DAYS.max(plan.days), plan.key_type)?;
    let mut files = vec![
        Planned {
            path: ca_cert(dir),
            contents: ca.cert_pem.clone(),
            mode: Mode::Public,
        },
        Planned {
            path: ca_key(dir),
            contents: ca.key_pem().to_owned(),
            mode: Mode::Secret,
        },
    ];
    for names in &plan.servers {
        files.extend(server_files(dir, &ca, names, plan.days, plan.key_type)?);
    }
    files.extend(client_files(
        proxy_dir(dir),
        &ca,
        &plan.client_common_name,
        plan.days,
        plan.key_type,
    )?);
    if let Some(names) = &plan.https {
        let https_ca = Ca::generate(HTTPS_CA_COMMON_NAME, CA_DAYS.max(plan.days), plan.key_type)?;
        let at = https_ca_dir(dir);
        files.extend(pair(
            at.join("ca-cert.pem"),
            at.join("ca-key.pem"),
            Issued {
                cert_pem: https_ca.cert_pem.clone(),
                key_pem: https_ca.key_pem().to_owned(),
            },
        ));
        let issued = https_ca.issue(
            &Profile::Server {
                names: names.clone(),
            },
            plan.days,
            plan.key_type,
        )?;
        files.extend(pair(
            dir.join("https/cert.pem"),
            dir.join("https/key.pem"),
            issued,
        ));
    }
    store::write_all(&files, plan.force)?;
    Ok(files.into_iter().map(|file| file.path).collect())
}

/// Loads the CA of an existing PKI directory.
///
/// # Errors
/// Missing or unreadable CA files.
pub fn load_ca(dir: &Path) -> Result<Ca, PkiError> {
    let cert = store::read(&ca_cert(dir))?;
    let key = store::read(&ca_key(dir))?;
    Ca::from_pem(&cert, &key)
}

/// `pki issue server`: one more compute host from the existing CA.
///
/// # Errors
/// No CA, existing files without `force`, bad names, I/O.
pub fn issue_server(
    dir: &Path,
    names: &[String],
    days: u32,
    key_type: KeyType,
    force: bool,
) -> Result<Vec<PathBuf>, PkiError> {
    store::check_dir_trust(dir)?;
    let ca = load_ca(dir)?;
    let files = server_files(dir, &ca, names, days, key_type)?;
    store::write_all(&files, force)?;
    Ok(files.into_iter().map(|file| file.path).collect())
}

/// `pki issue client`: one more proxy identity, in `DIR/clients/<name>/`.
///
/// # Errors
/// No CA, existing files without `force`, a bad name, I/O.
pub fn issue_client(
    dir: &Path,
    name: &str,
    days: u32,
    key_type: KeyType,
    force: bool,
) -> Result<Vec<PathBuf>, PkiError> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(PkiError::BadName(name.to_owned()));
    }
    store::check_dir_trust(dir)?;
    let ca = load_ca(dir)?;
    let files = client_files(dir.join("clients").join(name), &ca, name, days, key_type)?;
    store::write_all(&files, force)?;
    Ok(files.into_iter().map(|file| file.path).collect())
}
