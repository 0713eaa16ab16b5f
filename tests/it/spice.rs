//! SPICE consoles on their own port, as nova-spicehtml5proxy serves them: Debian's spice-html5
//! (`spice_auto.html`) in Chromium against a real QEMU SPICE server, plain and on its TLS port
//! with the certificates of `vncgate pki init`; one console's channels on one single-use token;
//! nova rows and the ports' kinds.

use std::net::SocketAddr;
use std::path::Path;

use crate::common::browser::{self, browse};
use crate::common::daemon::free_port;
use crate::common::pki::TestPki;
use crate::common::qemu::{self, Qemu};
use crate::common::*;

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

/// vncgate's own SPICE page for `token`, on the SPICE port beside spice_auto.html.
fn spice_page_url(proxy: &Proxy, token: &str) -> String {
    spice_url(proxy, token).replace("spice_auto.html", "console.html")
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

/// A link message as spice-html5 sends it (AUTH_SELECTION, MINI_HEADER) for `channel_type`.
pub(crate) fn link_message(channel_type: u8) -> Vec<u8> {
    let mut link = b"REDQ".to_vec();
    for word in [2u32, 2, 22, 0] {
        link.extend_from_slice(&word.to_le_bytes());
    }
    link.extend_from_slice(&[channel_type, 0]);
    for word in [1u32, 0, 18, (1 << 0) | (1 << 3)] {
        link.extend_from_slice(&word.to_le_bytes());
    }
    link
}

/// A view-only SPICE console against QEMU's SPICE server: the channels that act on the guest
/// (inputs, record, usbredir, webdav, smartcard, port) close with a reason before QEMU sees
/// them, the main channel gets QEMU's link reply, and spice-html5 still draws the guest.
/// `default_view_only` holds nova's rows the same way.
#[tokio::test]
async fn a_view_only_spice_console_opens_no_channel_that_acts() {
    if !qemu::available() {
        return;
    }
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    for (config, token) in [
        (SPICE_ON.to_owned(), "w"),
        (
            format!("{SPICE_ON}[vncgate]\ndefault_view_only = true\n"),
            "d",
        ),
    ] {
        let proxy = start_proxy(
            &config,
            &format!(
                "w: 127.0.0.1:{port} kind=spice-html5 view_only=true\n\
                 d: 127.0.0.1:{port} kind=spice-html5\n"
            ),
        )
        .await;
        let spice = proxy.spice_addr.expect("SPICE port");
        for channel_type in [3u8, 6, 8, 9, 10, 11] {
            let (mut socket, _) = ws(spice, &format!("/websockify?token={token}"), &[])
                .await
                .expect("upgrade");
            socket
                .send(Message::binary(link_message(channel_type)))
                .await
                .expect("send");
            let closed = next_close(&mut socket).await;
            assert_eq!(
                closed,
                Some((1008, "this console is view-only".to_owned())),
                "{token}: channel type {channel_type}"
            );
        }
        let (mut socket, _) = ws(spice, &format!("/websockify?token={token}"), &[])
            .await
            .expect("upgrade");
        socket
            .send(Message::binary(link_message(1)))
            .await
            .expect("send");
        let reply = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await;
        match reply {
            Ok(Some(Ok(Message::Binary(data)))) => assert_eq!(&data[..4], b"REDQ", "{token}"),
            other => panic!("{token}: the main channel: {other:?}"),
        }
        if browser::available() && spice_html5_available() {
            let found = browse("spice", spice_url(&proxy, token), "spice-view-only").await;
            assert!(found["colours"].as_u64().unwrap_or(0) >= 2, "{found}");
        }
        proxy.stop().await;
    }
}

/// SPICE's clipboard travels inside agent messages the proxy does not frame: a clipboard
/// restriction on a SPICE console is refused wherever it is set (token file, `token issue`,
/// `default_clipboard` at admission), never accepted and ignored.
#[tokio::test]
async fn a_spice_clipboard_restriction_is_refused_not_ignored() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let proxy = start_proxy(
        &format!("{SPICE_ON}[vncgate]\ndefault_clipboard = none\n"),
        &format!(
            "line: 127.0.0.1:{port} kind=spice-html5 clipboard=none\n\
             default: 127.0.0.1:{port} kind=spice-html5\n\
             both: 127.0.0.1:{port} kind=spice-html5 clipboard=both\n"
        ),
    )
    .await;
    let spice = proxy.spice_addr.expect("SPICE port");
    for token in ["line", "default"] {
        let status = refusal(ws(spice, &format!("/websockify?token={token}"), &[]).await).0;
        assert_eq!(status, 403, "{token}");
    }
    assert!(ws(spice, "/websockify?token=both", &[]).await.is_ok());
    let port = port.to_string();
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--kind",
        "spice-html5",
        "--clipboard",
        "to-guest",
    ];
    let output = token_command(&proxy.config_path(), "issue", &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "issued: {stderr}");
    assert!(stderr.contains("cannot be enforced"), "{stderr}");
}

/// The status of one more channel on `token`: 101 when it opened (it is closed again).
async fn channel_status(spice: SocketAddr, token: &str) -> u16 {
    let cookie = format!("token={token}");
    match ws(spice, "/websockify", &[("Cookie", &cookie)]).await {
        Ok(_) => 101,
        Err(error) => refusal(Err::<(), _>(error)).0,
    }
}

/// Further channels of an open SPICE console are admitted only while its token holds: not
/// past its expiry, not once it is revoked, and not past 16 channels for one console (before,
/// an expired token opened 20 and one client held 21 connections on a capped token).
#[tokio::test]
async fn channels_join_only_a_live_token_and_at_most_sixteen() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let expires = now() + 2;
    let proxy = start_proxy(
        &format!("{SPICE_ON}[vncgate]\nmax_sessions_per_token = 1\n"),
        &format!(
            "short: 127.0.0.1:{port} kind=spice-html5 expires={expires}\n\
             held: 127.0.0.1:{port} kind=spice-html5\n"
        ),
    )
    .await;
    let spice = proxy.spice_addr.expect("SPICE port");
    let cookie = |token: &str| format!("token={token}");

    // Past its expiry, the console's token opens no further channel.
    let main = ws(spice, "/websockify", &[("Cookie", &cookie("short"))])
        .await
        .expect("the main channel");
    assert!(wait_until(std::time::Duration::from_secs(5), || now() > expires).await);
    assert_eq!(channel_status(spice, "short").await, 403, "after expiry");
    drop(main);

    // At most 16 channels for one console, on a token capped at one session.
    let mut channels = Vec::new();
    for n in 0..16 {
        let channel = ws(spice, "/websockify", &[("Cookie", &cookie("held"))]).await;
        channels.push(channel.unwrap_or_else(|e| panic!("channel {n}: {e}")));
    }
    assert_eq!(channel_status(spice, "held").await, 429, "a 17th channel");

    // Revoked (its line taken out of the file): no further channel, though the console is
    // open. A lookup trusts what the files said up to 250 ms ago (src/token/file.rs).
    channels.pop();
    std::fs::write(proxy.tokens_path(), "").expect("tokens");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(channel_status(spice, "held").await, 403, "after revocation");
}

/// vncgate's SPICE page (`/console.html` on the SPICE port): spice-html5 draws the guest under
/// vncgate's status line, leaving asks first while connected, and when the token's session
/// times out the page says so and opens no channel again.
#[tokio::test]
async fn the_spice_page_connects_and_says_why_the_session_ended() {
    if !browser::available() || !qemu::available() || !spice_html5_available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let (_vm, port) = spice_vm(work.path(), None);
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 12;
    let proxy = start_proxy(
        &format!("{SPICE_ON}[consoleauth]\nenforce_session_timeout = true\n"),
        &format!("sp: 127.0.0.1:{port} kind=spice-html5 expires={expires}\n"),
    )
    .await;
    let page = spice_page_url(&proxy, "sp");
    let found = browse("expire", page, "spice-page-expired").await;
    assert!(found.get("pageError").is_none(), "{found}");
    assert_eq!(found["connected"], "Connected", "{found}");
    assert!(found["drawn"].as_u64().unwrap_or(0) >= 2, "{found}");
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{found}"
    );
    assert_eq!(
        found["socketsAtEnd"], found["sockets"],
        "no reconnect: {found}"
    );
    assert_eq!(found["leaveAsksWhileConnected"], true, "{found}");
    assert_eq!(found["leaveAsksAfter"], false, "{found}");
}

/// A token the proxy refuses: the SPICE page says the link is invalid and does not loop.
#[tokio::test]
async fn the_spice_page_says_a_bad_link_is_invalid_and_does_not_loop() {
    if !browser::available() || !spice_html5_available() {
        return;
    }
    let proxy = start_proxy(SPICE_ON, "").await;
    let page = spice_page_url(&proxy, "not-a-token");
    let found = browse("badtoken", page, "spice-page-bad-token").await;
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .contains("rejected"),
        "{found}"
    );
    assert_eq!(
        found["sockets"].as_u64(),
        Some(1),
        "no reconnect loop: {found}"
    );
}
