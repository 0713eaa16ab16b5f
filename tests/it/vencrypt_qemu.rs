//! VeNCrypt X509None with mutual TLS against QEMU's own VNC server (gnutls), with
//! `verify-peer=yes`, and the other schemes against QEMU: certificates minted per test.

use crate::common;
use std::path::Path;

use crate::common::pki::TestPki;
use crate::common::qemu::{self, Qemu};
use crate::common::*;

fn vencrypt_config(pki: &TestPki, schemes: &str, extra: &str) -> String {
    format!("{}{extra}", pki.vencrypt_config(schemes))
}

fn tls_qemu(work: &Path, server_dir: &Path) -> Qemu {
    let object = format!(
        "tls-creds-x509,id=tls0,dir={},endpoint=server,verify-peer=yes",
        server_dir.display()
    );
    Qemu::start(work, ",tls-creds=tls0", &["-object".into(), object])
}

/// A proxy with `config` in front of `vm` refuses the console, saying `wanted` to the browser.
async fn assert_refused(config: &str, vm: &Qemu, wanted: &str) {
    let proxy = start_proxy(config, &format!("vm: {}\n", vm.addr)).await;
    let failure = console_result(&proxy, "vm")
        .await
        .expect_err("the console must be refused");
    assert!(failure.contains(wanted), "wanted {wanted:?}: {failure}");
}

async fn console_result(proxy: &Proxy, token: &str) -> Result<common::rfb::ServerInit, String> {
    let (ws, _) = ws(proxy.addr, &format!("/?token={token}"), &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut rfb = common::rfb::WsBytes::new(ws);
    rfb.handshake().await
}

#[tokio::test]
async fn vencrypt_with_verify_peer_reaches_the_framebuffer() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = tls_qemu(work.path(), &pki.compute());
    let proxy = start_proxy(
        &vencrypt_config(&pki, "vencrypt", ""),
        &format!("vm: {}\n", vm.addr),
    )
    .await;
    let (ws, _) = ws(proxy.addr, "/?token=vm", &[]).await.expect("upgrade");
    let mut rfb = common::rfb::WsBytes::new(ws);
    let init = rfb.handshake().await.expect("console over VeNCrypt");
    assert!(init.name.contains("QEMU"), "{init:?}");
    let rect = rfb
        .framebuffer_update(init.width, init.height)
        .await
        .expect("FramebufferUpdate");
    assert!(rect.2 > 0 && rect.3 > 0, "{rect:?}");
}

#[tokio::test]
async fn a_proxy_certificate_from_another_ca_is_refused_by_qemu() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let stranger = TestPki::new(work.path(), "stranger");
    let vm = tls_qemu(work.path(), &pki.compute());
    // The proxy trusts QEMU's CA but presents a client certificate from another CA.
    let proxy_dir = stranger.proxy();
    let config = format!(
        "[vnc]\nauth_schemes = vencrypt\nvencrypt_client_cert = {}\nvencrypt_client_key = {}\nvencrypt_ca_certs = {}\n",
        proxy_dir.join("client-cert.pem").display(),
        proxy_dir.join("client-key.pem").display(),
        pki.proxy().join("ca-cert.pem").display(),
    );
    assert_refused(&config, &vm, "refused the proxy's certificate").await;
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused_by_the_proxy() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let stranger = TestPki::new(work.path(), "stranger");
    let vm = tls_qemu(work.path(), &stranger.compute());
    assert_refused(
        &vencrypt_config(&pki, "vencrypt", ""),
        &vm,
        "certificate is not trusted",
    )
    .await;
}

#[tokio::test]
async fn vencrypt_then_none_falls_back_on_a_plain_server() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = Qemu::start(work.path(), "", &[]);
    let proxy = start_proxy(
        &vencrypt_config(&pki, "vencrypt,none", ""),
        &format!("vm: {}\n", vm.addr),
    )
    .await;
    let init = console_result(&proxy, "vm")
        .await
        .expect("fallback to none");
    assert!(init.name.contains("QEMU"));
}

#[tokio::test]
async fn vencrypt_only_refuses_a_plain_server_as_a_downgrade() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let vm = Qemu::start(work.path(), "", &[]);
    assert_refused(
        &vencrypt_config(&pki, "vencrypt", ""),
        &vm,
        "offers no allowed security type",
    )
    .await;
}

#[tokio::test]
async fn hostname_verification_when_asked() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    // A server certificate for another name only: fine CA-only, refused with hostname checks.
    vncgate_pki::enrol::issue_server(
        &pki.dir,
        &["compute-9.example".into()],
        30,
        Default::default(),
        false,
    )
    .expect("issue");
    let other = vncgate_pki::layout::compute_dir(&pki.dir, "compute-9.example");
    let vm = tls_qemu(work.path(), &other);
    let lax = start_proxy(
        &vencrypt_config(&pki, "vencrypt", ""),
        &format!("vm: {}\n", vm.addr),
    )
    .await;
    console_result(&lax, "vm")
        .await
        .expect("CA-only verification accepts it");
    assert_refused(
        &vencrypt_config(
            &pki,
            "vencrypt",
            "[vncgate]\nvencrypt_verify_hostname = true\n",
        ),
        &vm,
        "certificate is not trusted",
    )
    .await;
    // The right name passes the strict check.
    let good = tls_qemu(work.path(), &pki.compute());
    let strict_good = start_proxy(
        &vencrypt_config(
            &pki,
            "vencrypt",
            "[vncgate]\nvencrypt_verify_hostname = true\n",
        ),
        &format!("vm: {}\n", good.addr),
    )
    .await;
    console_result(&strict_good, "vm")
        .await
        .expect("name matches 127.0.0.1");
}

#[tokio::test]
async fn vnc_password_against_qemu() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), ",password=on", &[]);
    vm.monitor("change vnc password s3cret");
    let tokens = format!(
        "right: {addr} password=s3cret\nwrong: {addr} password=guess\nnone: {addr}\n",
        addr = vm.addr
    );
    let proxy = start_proxy("[vnc]\nauth_schemes = vnc\n", &tokens).await;
    let init = console_result(&proxy, "right")
        .await
        .expect("password accepted");
    assert!(init.name.contains("QEMU"));
    let failure = console_result(&proxy, "wrong")
        .await
        .expect_err("wrong password");
    assert!(
        failure.contains("refused the proxy's credentials"),
        "{failure}"
    );
    let failure = console_result(&proxy, "none")
        .await
        .expect_err("no password");
    assert!(failure.contains("no password"), "{failure}");

    // A default password from [vncgate] vnc_password_file serves tokens that carry none; a
    // token's own password still wins.
    let secret = work.path().join("vnc-password");
    std::fs::write(&secret, "s3cret\n").expect("password file");
    let config = format!(
        "[vnc]\nauth_schemes = vnc\n[vncgate]\nvnc_password_file = {}\n",
        secret.display()
    );
    let with_default = start_proxy(&config, &tokens).await;
    let init = console_result(&with_default, "none")
        .await
        .expect("default password accepted");
    assert!(init.name.contains("QEMU"));
    assert!(
        console_result(&with_default, "wrong").await.is_err(),
        "the token's own password wins"
    );
}
