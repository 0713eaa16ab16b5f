//! The directory layout `pki init` writes, which libvirt, QEMU and nova expect:
//!
//! ```text
//! DIR/ca/{ca-cert.pem,ca-key.pem}                                   the proxy-client CA
//! DIR/ca/nodes/<host>/{ca-cert.pem,ca-key.pem}                      one CA per compute node
//! DIR/compute/<host>/{ca-cert.pem,server-cert.pem,server-key.pem}   -> /etc/pki/libvirt-vnc
//! DIR/proxy/{ca-cert.pem,client-cert.pem,client-key.pem}            -> /etc/pki/nova-novncproxy
//! DIR/clients/<name>/{ca-cert.pem,client-cert.pem,client-key.pem}   (pki issue client)
//! DIR/https-ca/{ca-cert.pem,ca-key.pem}                             (--https)
//! DIR/https/{cert.pem,key.pem}                                      (--https)
//! DIR/libvirt/...                                                   (--libvirt: libvirt.rs)
//! ```
//!
//! Compute nodes are isolated: each node's server certificate comes from that node's own CA, and
//! `DIR/compute/<host>/ca-cert.pem` holds that CA and the proxy-client CA, so a node's QEMU
//! accepts the proxy's client certificate and refuses every other node's (QEMU checks no key
//! purpose: with one CA for all, node A's server key would open node B's consoles). The proxy's
//! `ca-cert.pem` holds every node's CA, and with `vencrypt_verify_hostname` the name decides
//! which node a certificate may speak for.
//!
//! The CA keys stay under `DIR/ca/` and `DIR/https-ca/` and are never copied anywhere else. The
//! browser-facing HTTPS certificate has a CA of its own: its key often sits on load balancers,
//! and signed by a VNC CA it could impersonate compute nodes to the proxy.

use std::path::{Path, PathBuf};

use crate::error::PkiError;
use crate::issue::{Ca, Issued, KeyType};
use crate::profile::{Profile, CA_DAYS};
use crate::store::{self, Mode, Planned};

/// Common name of the CA of the proxy's client certificates (`DIR/ca/`).
pub const CA_COMMON_NAME: &str = "vncgate proxy client CA";

/// Common name of a compute node's CA, followed by the node's name.
pub const NODE_CA_COMMON_NAME: &str = "vncgate node CA";

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
    /// Also write libvirt's layout and the `qemu.conf` lines (`DIR/libvirt/`).
    pub libvirt: bool,
}

/// Paths inside a PKI directory.
pub fn ca_cert(dir: &Path) -> PathBuf {
    dir.join("ca/ca-cert.pem")
}

/// The CA key inside a PKI directory.
pub fn ca_key(dir: &Path) -> PathBuf {
    dir.join("ca/ca-key.pem")
}

/// A compute node's CA directory.
pub fn node_ca_dir(dir: &Path, host: &str) -> PathBuf {
    dir.join("ca/nodes").join(host)
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

/// A certificate (0644) and its key (0600).
pub(crate) fn pair(cert: PathBuf, key: PathBuf, issued: Issued) -> [Planned; 2] {
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

/// The node's CA (`DIR/ca/nodes/<host>/`), made when `fresh`.
pub(crate) fn node_ca_files(dir: &Path, host: &str, node_ca: &Ca) -> [Planned; 2] {
    let at = node_ca_dir(dir, host);
    pair(
        at.join("ca-cert.pem"),
        at.join("ca-key.pem"),
        Issued {
            cert_pem: node_ca.cert_pem.clone(),
            key_pem: node_ca.key_pem().to_owned(),
        },
    )
}

/// The first name of a server: its directory and CN. Never a path.
pub(crate) fn host_of(names: &[String]) -> Result<&String, PkiError> {
    let host = names
        .first()
        .ok_or_else(|| PkiError::BadName(String::new()))?;
    if host.contains(['/', '\\']) || host.starts_with('.') {
        return Err(PkiError::BadName(host.clone()));
    }
    Ok(host)
}

/// A compute node's directory: its server certificate from its own CA, and a `ca-cert.pem`
/// holding that CA (QEMU's own certificate must chain to it) and the proxy-client CA.
pub(crate) fn server_files(
    dir: &Path,
    node_ca: &Ca,
    client_ca: &Ca,
    names: &[String],
    days: u32,
    key_type: KeyType,
) -> Result<Vec<Planned>, PkiError> {
    let host = host_of(names)?;
    let issued = node_ca.issue(
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
    let bundle = Planned {
        path: at.join("ca-cert.pem"),
        contents: format!("{}{}", node_ca.cert_pem, client_ca.cert_pem),
        mode: Mode::Public,
    };
    Ok(vec![bundle, cert, key])
}

/// A proxy identity: its client certificate from the proxy-client CA, and a `ca-cert.pem` that
/// holds the CAs of the compute nodes it may reach.
pub(crate) fn client_files(
    at: PathBuf,
    client_ca: &Ca,
    node_cas: &str,
    name: &str,
    days: u32,
    key_type: KeyType,
) -> Result<Vec<Planned>, PkiError> {
    let issued = client_ca.issue(
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
    let bundle = Planned {
        path: at.join("ca-cert.pem"),
        contents: bundle_text(node_cas),
        mode: Mode::Public,
    };
    Ok(vec![bundle, cert, key])
}

/// A bundle file's text: the CAs, or a note saying how nodes get in.
fn bundle_text(node_cas: &str) -> String {
    if node_cas.is_empty() {
        "# No compute node yet: `vncgate pki issue server HOST` adds each node's CA here.\n".into()
    } else {
        node_cas.to_owned()
    }
}

/// Every node CA's certificate under `DIR/ca/nodes/`, concatenated in name order.
pub(crate) fn node_ca_certs(dir: &Path) -> Result<String, PkiError> {
    let mut hosts: Vec<PathBuf> = std::fs::read_dir(dir.join("ca/nodes"))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    hosts.sort();
    let mut bundle = String::new();
    for host in hosts {
        let cert = host.join("ca-cert.pem");
        if cert.is_file() {
            bundle.push_str(&store::read(&cert)?);
        }
    }
    Ok(bundle)
}

/// The libvirt copies of the files planned under `compute/<host>/` and `proxy/`, and each
/// node's `qemu.conf` and `libvirtd.conf` lines.
fn libvirt_copies(plan: &InitPlan, planned: &[Planned]) -> Vec<Planned> {
    use crate::libvirt::{client_dir, libvirtd_conf, node_dir, QEMU_CONF};
    let dir = plan.dir.as_path();
    let servers = &plan.servers;
    let hosts = servers.iter().filter_map(|names| names.first());
    let copy = |from: &Path, to: std::path::PathBuf| {
        planned
            .iter()
            .find(|file| file.path == from)
            .map(|file| Planned {
                path: to,
                contents: file.contents.clone(),
                mode: file.mode,
            })
    };
    let mut files = Vec::new();
    for host in hosts {
        let compute = compute_dir(dir, host);
        let at = node_dir(dir, host);
        for (from, to) in [
            ("ca-cert.pem", "CA/cacert.pem"),
            ("server-cert.pem", "libvirt/servercert.pem"),
            ("server-key.pem", "libvirt/private/serverkey.pem"),
        ] {
            files.extend(copy(&compute.join(from), at.join(to)));
        }
        files.push(Planned {
            path: at.join("qemu.conf"),
            contents: QEMU_CONF.to_owned(),
            mode: Mode::Public,
        });
        files.push(Planned {
            path: at.join("libvirtd.conf"),
            contents: libvirtd_conf(&plan.client_common_name),
            mode: Mode::Public,
        });
    }
    let proxy = proxy_dir(dir);
    let client = client_dir(dir);
    // libvirt checks the client's own certificate against this file too: it holds the nodes'
    // CAs and the proxy-client CA.
    let text = |path: &Path| copy(path, PathBuf::new()).map(|file| file.contents);
    if let (Some(nodes), Some(own)) = (text(&proxy.join("ca-cert.pem")), text(&ca_cert(dir))) {
        files.push(Planned {
            path: client.join("cacert.pem"),
            contents: format!("{nodes}{own}"),
            mode: Mode::Public,
        });
    }
    for (from, to) in [
        ("client-cert.pem", "clientcert.pem"),
        ("client-key.pem", "clientkey.pem"),
    ] {
        files.extend(copy(&proxy.join(from), client.join(to)));
    }
    files
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
    let ca_days = CA_DAYS.max(plan.days);
    let ca = Ca::generate(CA_COMMON_NAME, ca_days, plan.key_type)?;
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
    let mut node_cas = String::new();
    for names in &plan.servers {
        let host = host_of(names)?;
        let node_ca = Ca::generate(
            &format!("{NODE_CA_COMMON_NAME} {host}"),
            ca_days,
            plan.key_type,
        )?;
        files.extend(node_ca_files(dir, host, &node_ca));
        files.extend(server_files(
            dir,
            &node_ca,
            &ca,
            names,
            plan.days,
            plan.key_type,
        )?);
        node_cas.push_str(&node_ca.cert_pem);
    }
    files.extend(client_files(
        proxy_dir(dir),
        &ca,
        &node_cas,
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
        // Browsers cap a leaf at 398 days: the HTTPS leaf never asks for more than 397.
        let issued = https_ca.issue(
            &Profile::Server {
                names: names.clone(),
            },
            plan.days.min(crate::profile::HTTPS_LEAF_DAYS),
            plan.key_type,
        )?;
        files.extend(pair(
            dir.join("https/cert.pem"),
            dir.join("https/key.pem"),
            issued,
        ));
    }
    if plan.libvirt {
        let copies = libvirt_copies(plan, &files);
        files.extend(copies);
    }
    store::write_all(&files, plan.force)?;
    Ok(files.into_iter().map(|file| file.path).collect())
}
