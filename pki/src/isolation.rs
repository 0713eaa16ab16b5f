//! Compute-node isolation across a `pki init` directory: no node's certificate may be accepted
//! as a VNC client by another node, every node must accept the proxy, and the proxy must trust
//! every node. No network I/O.
//!
//! QEMU with `verify-peer=yes` accepts any client certificate that chains to its `ca-cert.pem`
//! and does not look at its purpose: with one CA for everything, node A's server key opens node
//! B's consoles. One CA per node, plus one for the proxy's client certificate, closes that.

use std::path::{Path, PathBuf};

use crate::pair::signed_by;
use crate::report::{Report, Severity};

/// How to leave a one-CA layout without cutting anyone off.
pub const MIGRATION: &str =
    "To isolate the nodes without downtime: run `vncgate pki issue server HOST` for \
each node (it makes the node's own CA and adds it to DIR/proxy/ca-cert.pem), reload the proxy \
(it then trusts old and new), then install each node's new DIR/compute/HOST/ files and restart \
its VNC servers one node at a time; finally drop the old CA from DIR/proxy/ca-cert.pem";

/// Checks the relations between the roles of the `pki init` directory `dir`.
pub fn check_layout(dir: &Path, hosts: &[PathBuf], report: &mut Report) {
    let proxy_cert = dir.join("proxy/client-cert.pem");
    let proxy_cas = dir.join("proxy/ca-cert.pem");
    let name = |host: &Path| {
        host.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for host in hosts {
        let bundle = host.join("ca-cert.pem");
        let server = host.join("server-cert.pem");
        if !bundle.exists() || !server.exists() {
            continue;
        }
        let accepted: Vec<String> = hosts
            .iter()
            .filter(|other| *other != host)
            .filter(|other| signed_by(&other.join("server-cert.pem"), &bundle))
            .map(|other| name(other))
            .collect();
        if !accepted.is_empty() {
            report.add(
                Severity::Error,
                &bundle,
                format!(
                    "accepts the server certificates of {} as VNC clients: whoever holds one of \
                     those nodes' keys can open the consoles of {}. {MIGRATION}",
                    accepted.join(", "),
                    name(host)
                ),
            );
        }
        if proxy_cert.exists() && !signed_by(&proxy_cert, &bundle) {
            report.add(
                Severity::Error,
                &bundle,
                "does not hold the CA of the proxy's client certificate (DIR/ca/ca-cert.pem): \
                 this node's VNC servers will refuse the proxy",
            );
        }
        if proxy_cas.exists() && !signed_by(&server, &proxy_cas) {
            report.add(
                Severity::Error,
                &proxy_cas,
                format!(
                    "does not hold the CA of compute/{}: the proxy will refuse that node; run \
                     `vncgate pki issue server {}` or add its CA, then reload the proxy",
                    name(host),
                    name(host)
                ),
            );
        }
    }
}
