//! SPICE consoles on their own port, as nova-spicehtml5proxy serves them: Debian's spice-html5
//! (`spice_auto.html`) in Chromium against a real QEMU SPICE server, plain and on its TLS port
//! with the certificates of `vncgate pki init`; one console's channels on one single-use token;
//! nova rows and the ports' kinds.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::browser::{self, browse};
use common::daemon::free_port;
use common::pki::TestPki;
use common::qemu::{self, Qemu};
use common::*;

const SPICE_ON: &str = "[spice]\nenabled = true\n";

fn spice_html5_available() -> bool {
    Path::new("/usr/share/spice-html5/spice_auto.html").is_file()
        || peer_missing("spice-html5 (apt-get install spice-html5)")
}

/// QEMU with a SPICE server: its plain port, or only a TLS port with `pki`'s certificates.
fn spice_vm(work: &Path, pki: Option<&TestPki>) -> (Qemu, u16) {
    let port = free_port();
    let spice = match pki {
        None => format!("port={port},addr=127.0.0.1,disable-ticketing=on"),
        Some(pki) => format!(
            "tls-port={port},addr=127.0.0.1,x509-dir={},disable-ticketing=on",
            pki.compute().display()
        ),
    };
    let vm = Qemu::start(work, "", &["-spice".into(), spice]);
    (vm, port)
}

fn spice_url(proxy: &Proxy, token: &str) -> String {
    let addr = proxy.spice_addr.expect("SPICE port");
    format!(
        "http://127.0.0.1:{}/spice_auto.html?token={token}",
        addr.port()
    )
}

/// A WebSocket to the SPICE port from loopback address `source` with the token in a cookie, as
/// spice-html5 opens its channels: the HTTP status.
async fn channel_from(source: &str, spice: SocketAddr, token: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind");
    let tcp = socket.connect(spice).await.expect("connect");
    let cookie = format!("token={token}");
    match ws_over(
        tcp,
        &spice.to_string(),
        "/websockify",
        &[("Cookie", &cookie)],
    )
    .await
    {
        Ok(_) => 101,
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

#[tokio::test]
async fn spice_html5_draws_the_guest_through_the_spice_port() {
    if !qemu::available() || !browser::available() || !spice_html5_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let proxy = start_proxy(
        SPICE_ON,
        &format!("sp: 127.0.0.1:{port} kind=spice-html5\n"),
    )
    .await;
    let found = browse("spice", spice_url(&proxy, "sp"), "spice-plain").await;
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert!(
        found["sockets"].as_u64().unwrap_or(0) >= 2,
        "one WebSocket per channel: {found}"
    );
}

#[tokio::test]
async fn spice_over_tls_to_the_tls_port() {
    if !qemu::available() || !browser::available() || !spice_html5_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let (_vm, port) = spice_vm(work.path(), Some(&pki));
    let config = format!(
        "{SPICE_ON}{}[vncgate]\nspice_tls = true\n",
        pki.vencrypt_config("none")
    );
    let tokens = format!("sp: 127.0.0.1:1 kind=spice-html5 tls_port={port}\n");
    let proxy = start_proxy(&config, &tokens).await;
    let found = browse("spice", spice_url(&proxy, "sp"), "spice-tls").await;
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");

    // Another CA's server certificate is refused: the channel closes with a reason.
    let other = TestPki::new(work.path(), "other");
    let config = format!(
        "{SPICE_ON}{}[vncgate]\nspice_tls = true\n",
        other.vencrypt_config("none")
    );
    let foreign = start_proxy(&config, &tokens).await;
    let addr = foreign.spice_addr.expect("SPICE port");
    let (mut socket, _) = ws(addr, "/websockify?token=sp", &[])
        .await
        .expect("upgrade");
    closed_for_tls(&mut socket).await;
}

#[tokio::test]
async fn a_single_use_token_opens_every_channel_of_one_console_and_no_second() {
    if !qemu::available() || !browser::available() || !spice_html5_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let proxy = start_proxy(
        &format!("{SPICE_ON}[vncgate]\nmetrics_listen = 127.0.0.1:0\n"),
        "",
    )
    .await;
    let port_text = port.to_string();
    let out = token_cli(
        &proxy,
        "issue",
        &[
            "--host",
            "127.0.0.1",
            "--port",
            &port_text,
            "--kind",
            "spice-html5",
            "--single-use",
        ],
    );
    let token = out
        .lines()
        .find_map(|line| line.strip_prefix("token:"))
        .map(str::trim)
        .expect("token")
        .to_owned();
    let url = out
        .lines()
        .find_map(|line| line.strip_prefix("url:"))
        .map(str::trim)
        .expect("url");
    assert!(
        url.contains("spice_auto.html?token="),
        "built on html5proxy_base_url: {url}"
    );

    let spice = proxy.spice_addr.expect("SPICE port");
    let watching = {
        let url = spice_url(&proxy, &token);
        tokio::spawn(browse("spice", url, "spice-single-use"))
    };
    // Once the browser's channels are open, the token from another client is a second console.
    let metrics = proxy.metrics_addr.expect("metrics");
    let mut channels = 0;
    for _ in 0..300 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let text = raw_http(
            metrics,
            "GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
        )
        .await;
        channels = text
            .lines()
            .find_map(|line| line.strip_prefix("vncgate_sessions_active "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if channels >= 2 {
            break;
        }
    }
    assert!(channels >= 2, "the console's channels never opened");
    let elsewhere = channel_from("127.0.0.2", spice, &token).await;
    let found = watching.await.expect("join");
    assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert!(found["sockets"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert_eq!(
        elsewhere, 403,
        "a second console opened on a single-use token"
    );
    // And after it closed, none at all.
    assert_eq!(channel_from("127.0.0.1", spice, &token).await, 403);
}

#[tokio::test]
async fn nova_spice_rows_and_each_port_its_own_kind() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let proxy = start_proxy(
        &format!("{SPICE_ON}[serial_console]\nenabled = true\n"),
        &format!("v: 127.0.0.1:{port}\ns: 127.0.0.1:{port} kind=serial\n"),
    )
    .await;
    let token = "7e1c0b2a-0000-4000-8000-00000000spce";
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    if !nova_row(&proxy, token, "spice-html5", target, None) {
        return;
    }
    let spice = proxy.spice_addr.expect("SPICE port");
    let serial = proxy.serial_addr.expect("serial port");
    // The nova row opens on the SPICE port: QEMU's SPICE server answers a link message.
    let (mut socket, _) = ws(spice, &format!("/websockify?token={token}"), &[])
        .await
        .expect("upgrade");
    use futures_util::{SinkExt, StreamExt};
    let mut link = b"REDQ".to_vec();
    link.extend_from_slice(&2u32.to_le_bytes()); // major
    link.extend_from_slice(&2u32.to_le_bytes()); // minor
    link.extend_from_slice(&18u32.to_le_bytes()); // size of what follows
    link.extend_from_slice(&0u32.to_le_bytes()); // connection id
    link.extend_from_slice(&[1, 0]); // main channel, id 0
    link.extend_from_slice(&0u32.to_le_bytes()); // common caps
    link.extend_from_slice(&0u32.to_le_bytes()); // channel caps
    link.extend_from_slice(&18u32.to_le_bytes()); // caps offset
    socket
        .send(tokio_tungstenite::tungstenite::Message::binary(link))
        .await
        .expect("send");
    let reply = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("a reply");
    match reply {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(data))) => {
            assert_eq!(&data[..4], b"REDQ", "SPICE's link reply")
        }
        other => panic!("{other:?}"),
    }
    // Each port admits its own kind only.
    for (addr, token, kind) in [
        (spice, "v", "novnc on the SPICE port"),
        (spice, "s", "serial on the SPICE port"),
        (serial, "v", "novnc on the serial port"),
        (proxy.addr, "s", "serial on the noVNC port"),
        (proxy.addr, token, "spice on the noVNC port"),
        (serial, token, "spice on the serial port"),
    ] {
        let status = refusal(ws(addr, &format!("/websockify?token={token}"), &[]).await).0;
        assert_eq!(status, 403, "{kind}");
    }
}
