//! Compute-node isolation with `pki init`'s layout, against real QEMU with `verify-peer=yes`,
//! two and then three nodes on distinct loopback addresses: a node's own server key cannot open
//! another node's consoles, the proxy's client certificate opens every node, a server at one
//! node's address presenting another node's certificate is refused by the proxy, a node added
//! later with `pki issue server` is reachable after a restart and cannot reach the others, and
//! openssl and certtool accept each chain.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::qemu::{self, Qemu};
use crate::common::*;
use vncgate_pki::layout::{self, InitPlan};

fn init(root: &Path) -> PathBuf {
    let dir = root.join("pki");
    let plan = InitPlan {
        dir: dir.clone(),
        servers: vec![
            vec!["node1".into(), "127.0.0.11".into()],
            vec!["node2".into(), "127.0.0.12".into()],
        ],
        client_common_name: "vncgate".into(),
        https: None,
        days: 30,
        key_type: Default::default(),
        force: false,
        libvirt: false,
    };
    layout::init(&plan).expect("pki init");
    dir
}

/// QEMU on `host` with the certificate directory `certs`, demanding a client certificate.
fn node(work: &Path, host: &str, certs: &Path) -> Qemu {
    let object = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        certs.display()
    );
    Qemu::start_on(host, work, ",tls-creds=tls0", &["-object".into(), object])
}

/// A proxy presenting `identity` (a directory with `cert` and `key`), trusting the proxy
/// bundle of `pki`, with hostname checks as `pki init` advises.
fn proxy_config(pki: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "[vnc]\nauth_schemes = vencrypt\nvencrypt_client_cert = {}\nvencrypt_client_key = {}\nvencrypt_ca_certs = {}\n\
         [vncgate]\nvencrypt_verify_hostname = true\n",
        cert.display(),
        key.display(),
        layout::proxy_dir(pki).join("ca-cert.pem").display(),
    )
}

fn as_proxy(pki: &Path) -> String {
    let proxy = layout::proxy_dir(pki);
    proxy_config(
        pki,
        &proxy.join("client-cert.pem"),
        &proxy.join("client-key.pem"),
    )
}

/// The proxy's config, but with a compute node's server key as its client identity: the
/// attack of a compromised node.
fn as_node(pki: &Path, host: &str) -> String {
    let stolen = layout::compute_dir(pki, host);
    proxy_config(
        pki,
        &stolen.join("server-cert.pem"),
        &stolen.join("server-key.pem"),
    )
}

async fn console(config: &str, vm: &Qemu) -> Result<String, String> {
    let proxy = start_proxy(config, &format!("vm: {}\n", vm.addr)).await;
    let (socket, _) = ws(proxy.addr, "/?token=vm", &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut rfb = rfb::WsBytes::new(socket);
    rfb.handshake().await.map(|init| init.name)
}

#[tokio::test]
async fn a_node_key_cannot_open_another_node_and_the_proxy_opens_every_node() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    let node1 = node(
        work.path(),
        "127.0.0.11",
        &layout::compute_dir(&pki, "node1"),
    );
    let node2 = node(
        work.path(),
        "127.0.0.12",
        &layout::compute_dir(&pki, "node2"),
    );
    // The proxy reaches both nodes.
    for vm in [&node1, &node2] {
        let name = console(&as_proxy(&pki), vm).await;
        assert!(name.as_ref().is_ok_and(|n| n.contains("QEMU")), "{name:?}");
    }
    // node1's server certificate and key, used as a VNC client, are refused by node2.
    let stolen = console(&as_node(&pki, "node1"), &node2).await;
    assert!(
        stolen
            .as_ref()
            .is_err_and(|e| e.contains("refused the proxy's certificate")),
        "node1's key opened node2: {stolen:?}"
    );
    // pki check agrees: the layout is isolated.
    let checked = vncgate_cli(&["pki", "check", pki.to_str().expect("utf8")]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

#[tokio::test]
async fn a_server_at_one_node_presenting_another_nodes_certificate_is_refused() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    // At node2's address, with node1's certificate (what node1's stolen key allows).
    let impostor = node(
        work.path(),
        "127.0.0.12",
        &layout::compute_dir(&pki, "node1"),
    );
    let refused = console(&as_proxy(&pki), &impostor).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("certificate is not trusted")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_node_added_later_is_reachable_after_a_restart_and_isolated() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    let added = vncgate_cli(&[
        "pki",
        "issue",
        "server",
        "node3,127.0.0.13",
        "--dir",
        pki.to_str().expect("utf8"),
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let node1 = node(
        work.path(),
        "127.0.0.11",
        &layout::compute_dir(&pki, "node1"),
    );
    let node3 = node(
        work.path(),
        "127.0.0.13",
        &layout::compute_dir(&pki, "node3"),
    );
    // A proxy started after the issue (a restart) trusts node3's new CA.
    let name = console(&as_proxy(&pki), &node3).await;
    assert!(name.is_ok(), "{name:?}");
    let stolen = console(&as_node(&pki, "node3"), &node1).await;
    assert!(
        stolen
            .as_ref()
            .is_err_and(|e| e.contains("refused the proxy's certificate")),
        "node3's key opened node1: {stolen:?}"
    );
}

#[test]
fn openssl_and_certtool_accept_each_chain() {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    let path = |p: PathBuf| p.to_str().expect("utf8").to_owned();
    let mut chains = vec![(
        path(pki.join("ca/ca-cert.pem")),
        path(layout::proxy_dir(&pki).join("client-cert.pem")),
        "sslclient",
    )];
    for host in ["node1", "node2"] {
        let compute = layout::compute_dir(&pki, host);
        // As QEMU loads it, and as the proxy does.
        chains.push((
            path(compute.join("ca-cert.pem")),
            path(compute.join("server-cert.pem")),
            "sslserver",
        ));
        chains.push((
            path(layout::proxy_dir(&pki).join("ca-cert.pem")),
            path(compute.join("server-cert.pem")),
            "sslserver",
        ));
    }
    for (ca, cert, purpose) in &chains {
        match Command::new("openssl")
            .args(["verify", "-purpose", purpose, "-CAfile", ca, cert])
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "openssl {cert}: {}",
                String::from_utf8_lossy(&out.stdout)
            ),
            Err(_) => {
                peer_missing("openssl");
            }
        }
        match Command::new("certtool")
            .args(["--verify", "--load-ca-certificate", ca, "--infile", cert])
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "certtool {cert}: {}",
                String::from_utf8_lossy(&out.stdout)
            ),
            Err(_) => {
                peer_missing("certtool (gnutls-bin)");
            }
        }
    }
    // And node2's CA does not vouch for node1's certificate.
    let crossed = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            &path(layout::compute_dir(&pki, "node2").join("ca-cert.pem")),
            &path(layout::compute_dir(&pki, "node1").join("server-cert.pem")),
        ])
        .output();
    if let Ok(out) = crossed {
        assert!(
            !out.status.success(),
            "node2's CA file accepts node1's certificate"
        );
    }
}

#[test]
fn check_config_warns_when_several_cas_meet_no_hostname_checks() {
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    let config = work.path().join("vncgate.conf");
    let lax = as_proxy(&pki).replace(
        "vencrypt_verify_hostname = true",
        "vencrypt_verify_hostname = false",
    );
    std::fs::write(&config, &lax).expect("config");
    let (passed, stderr) = check_config(&config);
    assert!(passed, "{stderr}");
    assert!(
        stderr.contains("holds 2 CAs but [vncgate] vencrypt_verify_hostname is off"),
        "{stderr}"
    );
    std::fs::write(&config, as_proxy(&pki)).expect("config");
    let (_, stderr) = check_config(&config);
    assert!(
        !stderr.contains("vencrypt_verify_hostname is off"),
        "{stderr}"
    );
}

/// The `tls-authz` identity `pki init` prints is the form QEMU compares: the proxy passes, and
/// another client of the same CA does not.
#[tokio::test]
async fn qemu_tls_authz_with_the_printed_identity_admits_the_proxy_alone() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = init(work.path());
    let proxy = layout::proxy_dir(&pki);
    let identity =
        vncgate_pki::inspect::qemu_identity(&proxy.join("client-cert.pem")).expect("identity");
    assert_eq!(identity, "O=vncgate,,CN=vncgate");
    let creds = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        layout::compute_dir(&pki, "node1").display()
    );
    let authz = format!("authz-simple,id=auth0,identity={identity}");
    let vm = Qemu::start_on(
        "127.0.0.11",
        work.path(),
        ",tls-creds=tls0,tls-authz=auth0",
        &["-object".into(), creds, "-object".into(), authz],
    );
    let name = console(&as_proxy(&pki), &vm).await;
    assert!(name.is_ok(), "{name:?}");
    vncgate_pki::enrol::issue_client(&pki, "other", 30, Default::default(), false)
        .expect("issue client");
    let other = pki.join("clients/other");
    let refused = console(
        &proxy_config(
            &pki,
            &other.join("client-cert.pem"),
            &other.join("client-key.pem"),
        ),
        &vm,
    )
    .await;
    assert!(
        refused.is_err(),
        "another client passed tls-authz: {refused:?}"
    );
}
