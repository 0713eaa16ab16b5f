//! Enrolling into an existing PKI directory: `pki issue server` (a compute node, with its own
//! CA, made on first use and added to every proxy's bundle) and `pki issue client` (another
//! proxy identity).

use std::path::{Path, PathBuf};

use crate::error::PkiError;
use crate::issue::{Ca, KeyType};
use crate::layout::{
    ca_cert, ca_key, client_files, host_of, node_ca_certs, node_ca_dir, node_ca_files, proxy_dir,
    server_files, NODE_CA_COMMON_NAME,
};
use crate::profile::CA_DAYS;
use crate::store::{self, Mode, Planned};

/// Loads the CA of an existing PKI directory.
///
/// # Errors
/// Missing or unreadable CA files.
pub fn load_ca(dir: &Path) -> Result<Ca, PkiError> {
    let cert = store::read(&ca_cert(dir))?;
    let key = store::read(&ca_key(dir))?;
    Ca::from_pem(&cert, &key)
}

/// `pki issue server`: one more compute host, or a new certificate for one. The host's CA is
/// made on first use (and kept after), its certificate is added to the `ca-cert.pem` of the
/// proxy and of every `pki issue client` identity, which pick it up on reload.
///
/// # Errors
/// No CA, existing server files without `force` (nothing is written), bad names, I/O.
pub fn issue_server(
    dir: &Path,
    names: &[String],
    days: u32,
    key_type: KeyType,
    force: bool,
) -> Result<Vec<PathBuf>, PkiError> {
    store::check_dir_trust(dir)?;
    let client_ca = load_ca(dir)?;
    let host = host_of(names)?;
    let node_dir = node_ca_dir(dir, host);
    let existing = node_dir.join("ca-key.pem").exists();
    let node_ca = if existing {
        Ca::from_pem(
            &store::read(&node_dir.join("ca-cert.pem"))?,
            &store::read(&node_dir.join("ca-key.pem"))?,
        )?
    } else {
        Ca::generate(
            &format!("{NODE_CA_COMMON_NAME} {host}"),
            CA_DAYS.max(days),
            key_type,
        )?
    };
    let mut files = server_files(dir, &node_ca, &client_ca, names, days, key_type)?;
    if !existing {
        files.extend(node_ca_files(dir, host, &node_ca));
    }
    store::write_all(&files, force)?;
    // The proxies learn the node's CA: appended, never replacing what they trust already.
    let mut written: Vec<PathBuf> = files.into_iter().map(|file| file.path).collect();
    let mut identities = vec![proxy_dir(dir)];
    if let Ok(entries) = std::fs::read_dir(dir.join("clients")) {
        identities.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    for identity in identities {
        let bundle = identity.join("ca-cert.pem");
        if !bundle.is_file() {
            continue;
        }
        let text = store::read(&bundle)?;
        if text.contains(node_ca.cert_pem.trim()) {
            continue;
        }
        let kept = if text.contains("-----BEGIN") {
            text
        } else {
            String::new()
        };
        let update = Planned {
            path: bundle,
            contents: format!("{kept}{}", node_ca.cert_pem),
            mode: Mode::Public,
        };
        store::write_all(std::slice::from_ref(&update), true)?;
        written.push(update.path);
    }
    Ok(written)
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
    let node_cas = node_ca_certs(dir)?;
    let files = client_files(
        dir.join("clients").join(name),
        &ca,
        &node_cas,
        name,
        days,
        key_type,
    )?;
    store::write_all(&files, force)?;
    Ok(files.into_iter().map(|file| file.path).collect())
}
