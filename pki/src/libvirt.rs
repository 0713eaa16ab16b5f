//! `pki init --libvirt`: the same certificates under the names libvirt reads, for `libvirtd
//! --listen` and for the proxy's `qemu+tls://` connections, and the `qemu.conf` lines that put
//! every guest console behind TLS with the node's CA.
//!
//! ```text
//! DIR/libvirt/<host>/CA/cacert.pem                     -> /etc/pki/CA/cacert.pem
//! DIR/libvirt/<host>/libvirt/servercert.pem            -> /etc/pki/libvirt/servercert.pem
//! DIR/libvirt/<host>/libvirt/private/serverkey.pem     -> /etc/pki/libvirt/private/serverkey.pem
//! DIR/libvirt/<host>/qemu.conf                         lines for /etc/libvirt/qemu.conf
//! DIR/libvirt/<host>/libvirtd.conf                     lines for /etc/libvirt/libvirtd.conf
//! DIR/libvirt/client/{cacert.pem,clientcert.pem,clientkey.pem}   the proxy's [libvirt] pki_path
//! ```
//!
//! They are copies of `compute/<host>/` and `proxy/`: libvirtd accepts the proxy's client
//! certificate (its `cacert.pem` holds the proxy-client CA) and nothing another node holds, and
//! the proxy trusts each node's libvirtd through that node's CA. The client's `cacert.pem` also
//! holds the proxy-client CA, since libvirt checks its own certificate against it.

use std::path::Path;

use crate::pair::{check_pair, Chain};
use crate::report::{Expectations, Report, Role};

/// A node's libvirt directory.
pub fn node_dir(dir: &Path, host: &str) -> std::path::PathBuf {
    dir.join("libvirt").join(host)
}

/// The proxy's libvirt client directory (`[libvirt] pki_path`).
pub fn client_dir(dir: &Path) -> std::path::PathBuf {
    dir.join("libvirt/client")
}

/// The `qemu.conf` lines for a node whose QEMU certificates are in `/etc/pki/qemu` (a copy of
/// `compute/<host>/`): VNC, SPICE and serial chardevs on TLS, client certificates required.
pub const QEMU_CONF: &str = "\
# vncgate pki init --libvirt: every guest console on TLS, the proxy's client certificate required.
# Copy compute/<host>/ (ca-cert.pem, server-cert.pem, server-key.pem) to /etc/pki/qemu/.
default_tls_x509_cert_dir = \"/etc/pki/qemu\"
default_tls_x509_verify = 1
vnc_tls = 1
vnc_tls_x509_cert_dir = \"/etc/pki/qemu\"
vnc_tls_x509_verify = 1
spice_tls = 1
spice_tls_x509_cert_dir = \"/etc/pki/qemu\"
chardev_tls = 1
chardev_tls_x509_cert_dir = \"/etc/pki/qemu\"
chardev_tls_x509_verify = 1
";

/// The `libvirtd.conf` lines for `libvirtd --listen` on a node: TLS only, and of the clients
/// the node's `cacert.pem` lets in, only the proxy's certificate (`client_common_name`). libvirt
/// gives a TLS client with `auth_tls = "none"` full access; the proxy opens its connections
/// read-only, and this list keeps any other certificate from the proxy-client CA out.
pub fn libvirtd_conf(client_common_name: &str) -> String {
    let dn = crate::profile::subject_text(client_common_name);
    // An entry is a glob over the DN text: a name with glob or DN syntax in it is left to the
    // operator rather than written wrong.
    let plain = client_common_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c));
    let comment = if plain { "" } else { "#" };
    format!(
        "# vncgate pki init --libvirt: libvirtd --listen on TLS for the proxy (with systemd socket\n\
         # activation, enable libvirtd-tls.socket instead of listen_tls). The files are libvirt's\n\
         # defaults: /etc/pki/CA/cacert.pem, /etc/pki/libvirt/servercert.pem and\n\
         # /etc/pki/libvirt/private/serverkey.pem. Add the DNs of other TLS clients to the list\n\
         # (virt-pki-query-dn clientcert.pem prints one).\n\
         listen_tls = 1\n\
         listen_tcp = 0\n\
         auth_tls = \"none\"\n\
         tls_no_verify_certificate = 0\n\
         {comment}tls_allowed_dn_list = [\"{dn}\"]\n"
    )
}

/// Checks the libvirt layout of a `pki init --libvirt` directory, when there is one: each
/// node's server certificate and key under libvirt's names, chained to its `cacert.pem`, and
/// the proxy's client files.
pub(crate) fn check(dir: &Path, expect: &Expectations, report: &mut Report) {
    let Ok(entries) = std::fs::read_dir(dir.join("libvirt")) else {
        return;
    };
    let mut nodes: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && path.file_name().is_some_and(|name| name != "client"))
        .collect();
    nodes.sort();
    for node in nodes {
        let ca = node.join("CA/cacert.pem");
        check_pair(
            &node.join("libvirt/servercert.pem"),
            &node.join("libvirt/private/serverkey.pem"),
            Role::Server,
            Some((&ca, Chain::Required)),
            expect,
            report,
        );
    }
    let client = client_dir(dir);
    if client.is_dir() {
        check_pair(
            &client.join("clientcert.pem"),
            &client.join("clientkey.pem"),
            Role::Client,
            Some((&client.join("cacert.pem"), Chain::IfPresent)),
            expect,
            report,
        );
    }
}
