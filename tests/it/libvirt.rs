//! Consoles named by their libvirt domain, against a real libvirtd: a guest with `autoport`
//! gets another VNC port when started again, and the same `libvirt:NAME` token reaches it both
//! times (by name and by UUID); its serial port is reached through a `libvirt:` token too; a
//! stopped guest is refused with "the virtual machine is not running" for the page to show; an
//! unknown domain is refused; `vncgate domains list` shows the guests and their live ports; with
//! libvirtd killed, new sessions get 503 while the live one goes on, and it recovers.

use std::time::Duration;

use crate::browser_console::console_url;
use crate::common::browser::{self, browse, NOVNC};
use crate::common::daemon::free_port;
use crate::common::libvirt::{tls_listen_conf, Guest, Libvirtd, URI};
use crate::common::pki::TestPki;
use crate::common::*;

/// `/token-status` for `token` (over HTTPS): the status and the `x-console-reason` header.
pub(crate) async fn status_and_reason(proxy: &Proxy, ca: &str, token: &str) -> (u16, String) {
    let head = https_head(proxy, ca, &format!("/token-status?token={token}")).await;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let reason = head
        .lines()
        .find_map(|line| line.strip_prefix("x-console-reason: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    (status, reason)
}

/// The response head of `GET path` over HTTPS.
async fn https_head(proxy: &Proxy, ca: &str, path: &str) -> String {
    let mut tls = tls_connect(proxy.addr, ca).await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("request");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// `vncgate domains list` with `config`.
pub(crate) fn domains_list(config: &std::path::Path) -> std::process::Output {
    vncgate_cli(&[
        "domains",
        "list",
        "--config-file",
        config.to_str().expect("path"),
    ])
}

/// Opens the console of `token` to ServerInit over WSS: the desktop name.
pub(crate) async fn desktop_name(proxy: &Proxy, ca: &str, token: &str) -> Result<String, String> {
    let tls = tls_connect(proxy.addr, ca).await;
    let (socket, _) = ws_over(tls, "localhost", &format!("/?token={token}"), &[])
        .await
        .map_err(|e| e.to_string())?;
    let mut rfb = crate::common::rfb::WsBytes::new(socket);
    rfb.handshake().await.map(|init| init.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libvirt_domains_are_found_live_and_refused_when_stopped() {
    let Some(mut libvirtd) = Libvirtd::start() else {
        return;
    };
    let name = format!("vncgate-it-{}", std::process::id());
    let serial_port = free_port();
    let guest = Guest::define(&name, serial_port);
    guest.start();
    let first_port = guest.vnc_port();
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let ca = pki.https_ca_pem();
    let proxy = start_proxy(
        &format!(
            "[DEFAULT]\ncert = {}\nkey = {}\nweb = {NOVNC}\n{}[vncgate]\nnovnc_dir = {NOVNC}\n\
             [serial_console]\nenabled = true\n[spice]\nenabled = true\n[libvirt]\nuris = {URI}\n",
            pki.https_cert().display(),
            pki.https_key().display(),
            pki.vencrypt_config("none"),
        ),
        &format!(
            "vm: libvirt:{name}\nby-uuid: libvirt:{}\nnamed: libvirt://local/{name}\n\
             serial: libvirt:{name} kind=serial\nspice: libvirt:{name} kind=spice-html5\nghost: libvirt:no-such-domain-{}\n",
            guest.uuid,
            std::process::id()
        ),
    )
    .await;

    // The operator's first check.
    let listed = domains_list(&proxy.config_path());
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(
        listed_text.lines().any(|line| line.contains(&name)
            && line.contains("running")
            && line.contains(&format!("vnc 127.0.0.1:{first_port}"))
            && line.contains(&format!("serial 127.0.0.1:{serial_port}"))),
        "{listed_text}"
    );

    // Issued for the domain, as an operator does.
    let issued = token_cli(&proxy, "issue", &["--domain", &name, "--uri", "local"]);
    let issued = issued
        .lines()
        .find_map(|line| line.strip_prefix("token:"))
        .expect("token line")
        .trim()
        .to_owned();
    let unknown_uri = token_command(
        &proxy.config_path(),
        "issue",
        &["--domain", &name, "--uri", "elsewhere"],
    );
    assert!(
        !unknown_uri.status.success(),
        "a hypervisor not in [libvirt] uris"
    );
    for token in ["vm", "by-uuid", "named", issued.as_str()] {
        let desktop = desktop_name(&proxy, &ca, token).await.expect(token);
        assert!(desktop.contains(&name), "{token}: {desktop:?}");
    }
    let serial = tls_connect(proxy.serial_addr.expect("serial port"), &ca).await;
    let (serial_ws, _) = ws_over(serial, "localhost", "/?token=serial", &[])
        .await
        .expect("the guest's serial port through a libvirt: token");
    drop(serial_ws);
    // SPICE: QEMU's SPICE server, found on its autoport, answers a link message.
    let spice = tls_connect(proxy.spice_addr.expect("SPICE port"), &ca).await;
    let (mut spice, _) = ws_over(spice, "localhost", "/websockify?token=spice", &[])
        .await
        .expect("the guest's SPICE server through a libvirt: token");
    use futures_util::{SinkExt, StreamExt};
    spice
        .send(tokio_tungstenite::tungstenite::Message::binary(
            crate::spice::link_message(1),
        ))
        .await
        .expect("link");
    match tokio::time::timeout(Duration::from_secs(10), spice.next()).await {
        Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(data)))) => {
            assert_eq!(data.get(..4), Some(&b"REDQ"[..]), "SPICE's link reply");
        }
        other => panic!("no SPICE link reply: {other:?}"),
    }
    drop(spice);
    if browser::available() {
        let found = browse("display", console_url(&proxy, "vm"), "console-libvirt").await;
        assert!(
            found["status"].as_str().unwrap_or("").contains("Connected"),
            "{found}"
        );
        assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    }
    let (status, reason) = status_and_reason(&proxy, &ca, "ghost").await;
    assert_eq!(
        (status, reason.as_str()),
        (403, "the virtual machine does not exist")
    );

    // Stopped: refused, and the page can say why.
    guest.stop();
    let (status, reason) = status_and_reason(&proxy, &ca, "vm").await;
    assert_eq!(
        (status, reason.as_str()),
        (403, "the virtual machine is not running")
    );
    assert_eq!(refusal(ws(proxy.addr, "/?token=vm", &[]).await).0, 403);

    // Started again with its old port taken: another port, the same token.
    let taken = std::net::TcpListener::bind(("127.0.0.1", first_port)).expect("hold the old port");
    guest.start();
    let second_port = guest.vnc_port();
    assert_ne!(first_port, second_port, "autoport gave the same port");
    drop(taken);
    let desktop = desktop_name(&proxy, &ca, "vm")
        .await
        .expect("the guest on its new port");
    assert!(desktop.contains(&name), "{desktop:?}");

    // libvirtd down: 503 for a new session, the live one goes on; then it recovers.
    if !libvirtd.owned() {
        eprintln!("libvirtd was running before this test: not stopped here");
        return;
    }
    let tls = tls_connect(proxy.addr, &ca).await;
    let (socket, _) = ws_over(tls, "localhost", "/?token=vm", &[])
        .await
        .expect("upgrade");
    let mut live = crate::common::rfb::WsBytes::new(socket);
    let init = live.handshake().await.expect("a live session");
    libvirtd.kill_libvirtd();
    let (status, reason) = status_and_reason(&proxy, &ca, "vm").await;
    assert_eq!(
        (status, reason.as_str()),
        (503, "the hypervisor cannot be asked now")
    );
    live.framebuffer_update(init.width, init.height)
        .await
        .expect("the live session goes on without libvirtd");
    // Back, listening for TLS with the layout `pki init --libvirt` wrote.
    let pki_dir = work.path().join("libvirt-pki");
    let foreign_dir = work.path().join("foreign-pki");
    for dir in [&pki_dir, &foreign_dir] {
        let made = vncgate_cli(&[
            "pki",
            "init",
            "--dir",
            dir.to_str().expect("path"),
            "--server",
            "localhost,127.0.0.1",
            "--libvirt",
        ]);
        assert!(made.status.success(), "{made:?}");
    }
    let tls_port = free_port();
    let conf = work.path().join("libvirtd.conf");
    std::fs::write(&conf, tls_listen_conf(&pki_dir, "localhost", tls_port)).expect("conf");
    libvirtd.restart_libvirtd(&["--listen", "-f", conf.to_str().expect("path")]);
    let recovered = wait_for(Duration::from_secs(40), || async {
        status_and_reason(&proxy, &ca, "vm").await.0 == 204
    })
    .await;
    assert!(recovered, "no recovery after libvirtd came back");

    // qemu+tls:// with the proxy's client files: the guest is listed; another PKI's client
    // certificate is refused by libvirtd.
    let over_tls = |client: &std::path::Path| {
        let config = work.path().join("over-tls.conf");
        std::fs::write(
            &config,
            format!(
                "[vncgate]\nstate_dir = {}\n[libvirt]\nuris = tls=qemu+tls://127.0.0.1:{tls_port}/system\npki_path = {}\n",
                work.path().join("state-tls").display(),
                client.display()
            ),
        )
        .expect("config");
        domains_list(&config)
    };
    let listed = over_tls(&pki_dir.join("libvirt/client"));
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && listed_text.contains(&name),
        "{listed_text}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let foreign = over_tls(&foreign_dir.join("libvirt/client"));
    assert!(
        !foreign.status.success(),
        "a foreign client certificate was accepted: {foreign:?}"
    );
    // Signed by the proxy-client CA too, but not the proxy's DN: tls_allowed_dn_list keeps it
    // out.
    let issued = vncgate_cli(&[
        "pki",
        "issue",
        "client",
        "--dir",
        pki_dir.to_str().expect("path"),
        "other-service",
    ]);
    assert!(issued.status.success(), "{issued:?}");
    let sibling = work.path().join("sibling-client");
    std::fs::create_dir_all(&sibling).expect("dir");
    let issued_dir = pki_dir.join("clients/other-service");
    for (from, to) in [
        (pki_dir.join("libvirt/client/cacert.pem"), "cacert.pem"),
        (issued_dir.join("client-cert.pem"), "clientcert.pem"),
        (issued_dir.join("client-key.pem"), "clientkey.pem"),
    ] {
        std::fs::copy(from, sibling.join(to)).expect("copy");
    }
    let sibling = over_tls(&sibling);
    assert!(
        !sibling.status.success(),
        "another certificate of the proxy-client CA was accepted: {sibling:?}"
    );
    drop(guest);
}
