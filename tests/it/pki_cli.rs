//! `vncgate pki` and `vncgate check-config` as an operator runs them, and the chains checked by
//! the verifiers of the other side: openssl and gnutls' certtool (what QEMU and libvirt use).

use crate::common;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::vncgate_cli as vncgate;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn init(dir: &Path) -> Output {
    vncgate(&[
        "pki",
        "init",
        "--dir",
        dir.to_str().expect("utf8"),
        "--server",
        "localhost,127.0.0.1",
        "--server",
        "compute2,10.0.0.2",
        "--https",
        "localhost",
    ])
}

#[test]
fn init_writes_the_layout_and_prints_next_steps() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    let output = init(&dir);
    assert!(output.status.success(), "{}", text(&output));
    for file in [
        "ca/ca-cert.pem",
        "ca/ca-key.pem",
        "compute/localhost/ca-cert.pem",
        "compute/localhost/server-cert.pem",
        "compute/localhost/server-key.pem",
        "compute/compute2/server-cert.pem",
        "proxy/ca-cert.pem",
        "proxy/client-cert.pem",
        "proxy/client-key.pem",
        "https/cert.pem",
        "https/key.pem",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let printed = text(&output);
    for wanted in [
        "vnc_tls = 1",
        "vnc_tls_x509_verify = 1",
        "vnc_tls_x509_cert_dir",
        "auth_schemes = vencrypt",
        "vencrypt_client_cert",
        "/etc/pki/libvirt-vnc",
        "/etc/pki/nova-novncproxy",
    ] {
        assert!(printed.contains(wanted), "{wanted} not printed:\n{printed}");
    }
    let check = vncgate(&["pki", "check", dir.to_str().expect("utf8")]);
    assert!(check.status.success(), "{}", text(&check));
}

#[test]
fn init_twice_refuses_and_changes_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    assert!(init(&dir).status.success());
    let before = std::fs::read(dir.join("ca/ca-cert.pem")).expect("read");
    let again = init(&dir);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read(dir.join("ca/ca-cert.pem")).expect("read"),
        before
    );
}

#[test]
fn issue_more_and_check_a_broken_set() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    assert!(init(&dir).status.success());
    let d = dir.to_str().expect("utf8");
    let server = vncgate(&[
        "pki",
        "issue",
        "server",
        "compute3.example,192.0.2.3",
        "--dir",
        d,
    ]);
    assert!(server.status.success(), "{}", text(&server));
    assert!(dir
        .join("compute/compute3.example/server-cert.pem")
        .is_file());
    let client = vncgate(&["pki", "issue", "client", "proxy-b", "--dir", d]);
    assert!(client.status.success(), "{}", text(&client));
    assert!(dir.join("clients/proxy-b/client-cert.pem").is_file());
    let host = vncgate(&[
        "pki",
        "check",
        &format!("{d}/compute/compute3.example"),
        "--host",
        "192.0.2.3",
    ]);
    assert!(host.status.success(), "{}", text(&host));
    // Break it: the server key of another host.
    std::fs::copy(
        dir.join("compute/compute2/server-key.pem"),
        dir.join("compute/localhost/server-key.pem"),
    )
    .expect("copy");
    let broken = vncgate(&["pki", "check", d]);
    assert!(!broken.status.success());
    assert!(
        text(&broken).contains("does not belong to the certificate beside it"),
        "{}",
        text(&broken)
    );
}

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    found || common::peer_missing(tool)
}

#[test]
fn openssl_and_certtool_accept_the_chains() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    assert!(init(&dir).status.success());
    // Each chain as its verifier loads it: the node's own CA file for its server certificate,
    // the proxy-client CA for the proxy's.
    let ca = dir.join("ca/ca-cert.pem");
    let node_ca = dir.join("compute/localhost/ca-cert.pem");
    let server = dir.join("compute/localhost/server-cert.pem");
    let client = dir.join("proxy/client-cert.pem");
    if have("openssl") {
        for (cert, purpose, anchor) in [
            (&server, "sslserver", &node_ca),
            (&client, "sslclient", &ca),
        ] {
            let output = Command::new("openssl")
                .args(["verify", "-purpose", purpose, "-CAfile"])
                .arg(anchor)
                .arg(cert)
                .output()
                .expect("openssl");
            assert!(output.status.success(), "openssl: {}", text(&output));
        }
        // And openssl refuses each in the other's role.
        let output = Command::new("openssl")
            .args(["verify", "-purpose", "sslserver", "-CAfile"])
            .arg(&ca)
            .arg(&client)
            .output()
            .expect("openssl");
        assert!(!output.status.success());
    }
    if have("certtool") {
        for (cert, anchor) in [(&server, &node_ca), (&client, &ca)] {
            let output = Command::new("certtool")
                .arg("--verify")
                .arg("--load-ca-certificate")
                .arg(anchor)
                .arg("--infile")
                .arg(cert)
                .output()
                .expect("certtool");
            assert!(output.status.success(), "certtool: {}", text(&output));
            assert!(text(&output).contains("Verified"), "{}", text(&output));
        }
    }
}

#[test]
fn check_config_checks_the_vencrypt_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("pki");
    assert!(init(&dir).status.success());
    let config = root.path().join("vncgate.conf");
    let write_config = |cert: &str, key: &str| {
        std::fs::write(
            &config,
            format!(
                "[DEFAULT]\nweb =\n[vnc]\nauth_schemes = vencrypt\nvencrypt_client_cert = {cert}\nvencrypt_client_key = {key}\nvencrypt_ca_certs = {}\n",
                dir.join("proxy/ca-cert.pem").display()
            ),
        )
        .expect("write");
    };
    let proxy = dir.join("proxy");
    write_config(
        &proxy.join("client-cert.pem").display().to_string(),
        &proxy.join("client-key.pem").display().to_string(),
    );
    let ok = vncgate(&[
        "check-config",
        "--config-file",
        config.to_str().expect("utf8"),
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    // The server's certificate given as the proxy's client certificate: wrong role.
    let compute = dir.join("compute/localhost");
    write_config(
        &compute.join("server-cert.pem").display().to_string(),
        &compute.join("server-key.pem").display().to_string(),
    );
    let wrong = vncgate(&[
        "check-config",
        "--config-file",
        config.to_str().expect("utf8"),
    ]);
    assert_eq!(wrong.status.code(), Some(64), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("lacks clientAuth"),
        "{}",
        text(&wrong)
    );
    // Missing files: named with their option.
    write_config("/nonexistent/cert.pem", "/nonexistent/key.pem");
    let missing = vncgate(&[
        "check-config",
        "--config-file",
        config.to_str().expect("utf8"),
    ]);
    assert_eq!(missing.status.code(), Some(64));
    assert!(
        text(&missing)
            .contains("[vnc] vencrypt_client_cert: file /nonexistent/cert.pem does not exist"),
        "{}",
        text(&missing)
    );
}
