//! nova's `webmks` rows (the vmwareapi driver's MKS tickets) through VMware's authd exchange,
//! served on the `[mks]` port. No ESXi runs here: the authd side is a fake written from the
//! protocol (tests/it/common/esxi.rs), with real TLS and a real QEMU VNC server behind it; the
//! hostile variants get the treatment hostile RFB servers get in tests/it/rfb_hostile.rs.

use std::net::SocketAddr;

use crate::common::esxi::{authd_script, SelfSigned, BANNER};
use crate::common::fake_vnc::{self, Step};
use crate::common::qemu::{self, Qemu};
use crate::common::rfb::WsBytes;
use crate::common::*;

const TICKET: &str = "5274e9a3-authd-ticket-secret";

/// A proxy with the MKS port on.
async fn mks_proxy() -> Proxy {
    start_proxy(
        "[vncgate]\nhandshake_timeout = 2\n[mks]\nenabled = true\n",
        "",
    )
    .await
}

/// Writes a `webmks` row the way nova's `get_mks_console` does (thumbprint lower case without
/// colons) into the proxy's own database; returns the token.
fn webmks_row(proxy: &Proxy, authd: SocketAddr, thumbprint: &str) -> Option<String> {
    let token = format!("0d9c5d1e-{:04x}-4c55-9a1b-6f2d3e4c5b6a", authd.port());
    let path = serde_json::json!({
        "ticket": TICKET,
        "cfgFile": "/vmfs/volumes/datastore1/vm1/vm1.vmx",
        "thumbprint": thumbprint.replace(':', "").to_lowercase(),
    })
    .to_string();
    nova_row(proxy, &token, "webmks", authd, Some(&path)).then_some(token)
}

fn mks_addr(proxy: &Proxy) -> SocketAddr {
    proxy.mks_addr.expect("the MKS port")
}

#[tokio::test]
async fn a_nova_webmks_row_opens_the_console_through_authd() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let host = SelfSigned::new(work.path(), "esxi-host");
    let vmx = SelfSigned::new(work.path(), "vmx-mks");
    let authd = fake_vnc::serve(authd_script(
        host.server_config(),
        vmx.server_config(),
        &vmx.fingerprint("sha1"),
        vec![Step::Relay(vm.addr)],
    ))
    .await;
    let proxy = mks_proxy().await;
    let Some(token) = webmks_row(&proxy, authd, &host.fingerprint("sha1")) else {
        return;
    };
    let path = format!("/?token={token}");
    // Not on the noVNC port: nova runs a proxy per console kind, and so do vncgate's ports.
    assert_eq!(refusal(ws(proxy.addr, &path, &[]).await).0, 403);
    // On the MKS port the stream is relayed as it is: the client speaks to QEMU itself.
    let (socket, _) = ws(mks_addr(&proxy), &path, &[]).await.expect("upgrade");
    let init = WsBytes::new(socket).handshake().await.expect("console");
    assert!(init.width >= 640, "{init:?}");
    // The ticket is spent: the row went with the session.
    assert_eq!(refusal(ws(mks_addr(&proxy), &path, &[]).await).0, 403);
    // And a noVNC token is not served on the MKS port.
    let backend = echo_backend().await;
    let (novnc, _) = issue_token(&proxy, backend.port(), &[]);
    assert_eq!(
        refusal(ws(mks_addr(&proxy), &format!("/?token={novnc}"), &[]).await).0,
        403
    );
}

/// Runs `script` as the authd and returns the close reason the browser got.
async fn refused_by(script: Vec<Step>, pin: &str) -> String {
    let authd = fake_vnc::serve(script).await;
    let proxy = mks_proxy().await;
    let Some(token) = webmks_row(&proxy, authd, pin) else {
        return "sqlite3 missing".into();
    };
    let (mut socket, _) = ws(mks_addr(&proxy), &format!("/?token={token}"), &[])
        .await
        .expect("upgrade");
    let (code, reason) = next_close(&mut socket).await.expect("a close frame");
    assert_eq!(code, 1011, "{reason}");
    reason
}

#[tokio::test]
async fn hostile_authd_replies_are_refused_with_a_reason() {
    let work = tempfile::tempdir().expect("tempdir");
    let host = SelfSigned::new(work.path(), "esxi-host");
    let vmx = SelfSigned::new(work.path(), "vmx-mks");
    let pin = host.fingerprint("sha1");
    let inner_pin = vmx.fingerprint("sha1");
    let authd = |then| authd_script(host.server_config(), vmx.server_config(), &inner_pin, then);
    let upto = |count: usize| {
        let mut script = authd(vec![]);
        script.truncate(count);
        script
    };
    let failed = "the console server's authentication failed";
    let refused = "the console ticket was refused or has expired";
    let cases: Vec<(&str, Vec<Step>, &str)> = vec![
        (
            "truncated banner",
            vec![Step::Send(BANNER[..10].to_vec())],
            failed,
        ),
        ("closed after TLS", upto(2), failed),
        (
            "a banner with another code",
            vec![Step::Send(b"554 Service unavailable\r\n".to_vec())],
            refused,
        ),
        (
            "the password refused",
            {
                let mut script = upto(4);
                script.push(Step::ExpectLine("PASS "));
                script.push(Step::Send(b"530 Login incorrect\r\n".to_vec()));
                script
            },
            refused,
        ),
        (
            "a megabyte without a line end",
            vec![Step::Send(vec![b'2'; 1 << 20])],
            failed,
        ),
        (
            "data before TLS",
            vec![Step::Send([BANNER, b"garbage"].concat())],
            failed,
        ),
        (
            "a stall after the banner",
            vec![Step::Send(BANNER.to_vec()), Step::Stall],
            "the console server did not answer in time",
        ),
        (
            "no thumbprint in the THUMBPRINT answer",
            {
                let mut script = upto(6);
                script.push(Step::ExpectLine("THUMBPRINT "));
                script.push(Step::Send(b"200 \r\n".to_vec()));
                script
            },
            failed,
        ),
    ];
    for (name, script, expected) in cases {
        let reason = refused_by(script, &pin).await;
        assert!(reason.contains(expected), "{name}: {reason}");
    }
}

#[tokio::test]
async fn either_certificate_not_matching_its_thumbprint_is_refused() {
    let work = tempfile::tempdir().expect("tempdir");
    let host = SelfSigned::new(work.path(), "esxi-host");
    let vmx = SelfSigned::new(work.path(), "vmx-mks");
    let other = SelfSigned::new(work.path(), "someone-else");
    let mismatch = "does not match its thumbprint";
    // The host's certificate is not the row's.
    let script = authd_script(
        host.server_config(),
        vmx.server_config(),
        &vmx.fingerprint("sha1"),
        vec![],
    );
    let reason = refused_by(script, &other.fingerprint("sha1")).await;
    assert!(reason.contains(mismatch), "outer: {reason}");
    // The inner TLS presents another certificate than the THUMBPRINT answer named.
    let script = authd_script(
        host.server_config(),
        vmx.server_config(),
        &other.fingerprint("sha1"),
        vec![],
    );
    let reason = refused_by(script, &host.fingerprint("sha1")).await;
    assert!(reason.contains(mismatch), "inner: {reason}");
}
