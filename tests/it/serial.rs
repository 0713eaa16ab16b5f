//! Serial consoles on their own port, as nova-serialproxy serves them: a real QEMU guest echoing
//! on a socket chardev (tests/it/common/serial.rs), plain and with TLS and `verify-peer=yes`;
//! tempest's client flow; nova rows; the serial page in Chromium.

use std::time::Duration;

use crate::common::browser::{self, browse};
use crate::common::pki::TestPki;
use crate::common::qemu;
use crate::common::serial::SerialGuest;
use crate::common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const SERIAL_ON: &str = "[serial_console]\nenabled = true\n";

/// Sends `text` in `pieces`-byte messages and reads until its echo came back (10 s at most).
async fn echo_of<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    text: &str,
    pieces: usize,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for piece in text.as_bytes().chunks(pieces) {
        ws.send(Message::binary(piece.to_vec()))
            .await
            .map_err(|e| e.to_string())?;
        if pieces == 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&received).contains(text) {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Binary(data)))) => received.extend_from_slice(&data),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
            other => {
                return Err(format!(
                    "{other:?} after {:?}",
                    String::from_utf8_lossy(&received)
                ))
            }
        }
    }
    Ok(())
}

/// A whole line in one message, as tempest sends it.
pub(crate) async fn echoes<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    text: &str,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    echo_of(ws, text, text.len()).await
}

/// A character a message, as a person types. QEMU's TLS chardev hands a guest UART without a
/// FIFO one byte of a TLS record and the rest only when more data arrives, so a whole line in
/// one message can stall there.
pub(crate) async fn typed<S>(
    ws: &mut tokio_tungstenite::WebSocketStream<S>,
    text: &str,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    echo_of(ws, text, 1).await
}

/// Tempest's serial client: `GET /websockify` with the token in a cookie and subprotocol
/// `binary`.
pub(crate) async fn tempest_connect(
    proxy: &Proxy,
    token: &str,
    protocols: &str,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, u16> {
    let addr = proxy.serial_addr.expect("serial port");
    let cookie = format!("token={token}");
    match ws(
        addr,
        "/websockify",
        &[("Cookie", &cookie), ("Sec-WebSocket-Protocol", protocols)],
    )
    .await
    {
        Ok((socket, response)) => {
            assert_eq!(
                response
                    .headers()
                    .get("sec-websocket-protocol")
                    .map(|v| v.as_bytes()),
                Some(&b"binary"[..])
            );
            Ok(socket)
        }
        Err(error) => Err(refusal(Err::<(), _>(error)).0),
    }
}

#[tokio::test]
async fn tempest_reads_the_guest_through_the_serial_port() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let guest = SerialGuest::start(work.path(), None);
    let proxy = start_proxy(
        SERIAL_ON,
        &format!(
            "s: 127.0.0.1:{} kind=serial\nv: 127.0.0.1:{}\n",
            guest.port,
            guest.vm.addr.port()
        ),
    )
    .await;
    let mut socket = tempest_connect(&proxy, "s", "binary")
        .await
        .expect("upgrade");
    echoes(&mut socket, "hello from tempest\r")
        .await
        .expect("echo");
    drop(socket);
    // Horizon offers ['binary', 'base64']: binary is chosen.
    let mut socket = tempest_connect(&proxy, "s", "binary, base64")
        .await
        .expect("upgrade");
    echoes(&mut socket, "again\r").await.expect("echo");

    // A noVNC token is not served on the serial port, nor a serial token on the noVNC port.
    assert_eq!(
        tempest_connect(&proxy, "v", "binary").await.err(),
        Some(403)
    );
    assert_eq!(refusal(ws(proxy.addr, "/?token=s", &[]).await).0, 403);

    // Like nova-serialproxy, a plain request without an upgrade is 405; the page is there.
    let addr = proxy.serial_addr.expect("serial port");
    for method in ["GET", "HEAD"] {
        let head = raw_http_head(addr, &format!("{method} / HTTP/1.1\r\nHost: x\r\n\r\n")).await;
        assert!(head.starts_with("HTTP/1.1 405"), "{method}: {head}");
    }
    let head = raw_http_head(addr, "GET /serial.html HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn tls_to_the_chardev_with_the_proxy_certificate() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let guest = SerialGuest::start(work.path(), Some(&pki));
    let tokens = format!("s: 127.0.0.1:{} kind=serial\n", guest.port);
    let config = format!(
        "{SERIAL_ON}{}[vncgate]\nserial_tls = true\n",
        pki.vencrypt_config("none")
    );
    let proxy = start_proxy(&config, &tokens).await;
    let mut socket = tempest_connect(&proxy, "s", "binary")
        .await
        .expect("upgrade");
    typed(&mut socket, "over TLS\r").await.expect("echo");
    drop(socket);

    // Without TLS, QEMU's TLS chardev gets nothing it can use: no echo.
    let plain = start_proxy(SERIAL_ON, &tokens).await;
    let mut socket = tempest_connect(&plain, "s", "binary")
        .await
        .expect("upgrade");
    assert!(typed(&mut socket, "in clear\r").await.is_err());

    // Another PKI's client certificate: QEMU (verify-peer=yes) refuses it, the browser is told.
    let other = TestPki::new(work.path(), "other");
    let config = format!(
        "{SERIAL_ON}{}[vncgate]\nserial_tls = true\n",
        other.vencrypt_config("none")
    );
    let foreign = start_proxy(&config, &tokens).await;
    let mut socket = tempest_connect(&foreign, "s", "binary")
        .await
        .expect("upgrade");
    closed_for_tls(&mut socket).await;
}

#[tokio::test]
async fn a_nova_serial_row_opens_on_the_serial_port() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let guest = SerialGuest::start(work.path(), None);
    let proxy = start_proxy(SERIAL_ON, "").await;
    let token = "4f9d2c1e-0000-4000-8000-00000000c0de";
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], guest.port));
    if !nova_row(&proxy, token, "serial", target, None) {
        return;
    }
    let mut socket = tempest_connect(&proxy, token, "binary")
        .await
        .expect("upgrade");
    echoes(&mut socket, "nova row\r").await.expect("echo");
    assert_eq!(
        refusal(ws(proxy.addr, &format!("/?token={token}"), &[]).await).0,
        403
    );
}

#[tokio::test]
async fn text_typed_in_the_serial_page_reaches_the_guest_and_echoes() {
    if !qemu::available() || !browser::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let guest = SerialGuest::start(work.path(), None);
    let proxy = start_proxy(
        SERIAL_ON,
        &format!("s: 127.0.0.1:{} kind=serial\n", guest.port),
    )
    .await;
    let addr = proxy.serial_addr.expect("serial port");
    let url = format!(
        "http://127.0.0.1:{}/serial.html?path=%3Ftoken%3Ds",
        addr.port()
    );
    let found = browse("serial", url, "serial-page").await;
    assert!(
        found["status"]
            .as_str()
            .unwrap_or_default()
            .contains("Connected"),
        "{found}"
    );
    assert!(
        found["terminal"]
            .as_str()
            .unwrap_or_default()
            .contains("typed through vncgate"),
        "{found}"
    );
    // The terminal fills the 1024×768 window, not 80×24, follows the window when it shrinks,
    // and offers the `stty` line that tells the guest.
    let size = |found: &serde_json::Value| -> (u64, u64, u64) {
        let stty = found["stty"].as_str().unwrap_or_default();
        let numbers: Vec<u64> = stty
            .split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect();
        assert_eq!(stty.split_whitespace().next(), Some("stty"), "{found}");
        match numbers[..] {
            [rows, cols] => (rows, cols, found["rows"].as_u64().unwrap_or(0)),
            _ => panic!("{found}"),
        }
    };
    let (rows, cols, drawn) = size(&found["size"]);
    assert!(rows > 24 && cols > 80, "{found}");
    assert_eq!(rows, drawn, "{found}");
    let (fewer_rows, fewer_cols, drawn) = size(&found["smaller"]);
    assert!(fewer_rows < rows && fewer_cols < cols, "{found}");
    assert_eq!(fewer_rows, drawn, "{found}");
}

/// What arrives from the console within `quiet` of silence, or why it ended.
async fn drain<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, quiet: Duration) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut received = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, ws.next()).await {
        if let Message::Binary(data) = message {
            received.extend_from_slice(&data);
        }
    }
    received
}

/// A view-only serial token, by its own attribute or by `default_view_only`, sends the guest
/// nothing: its keys never echo, while a full viewer's keys on the same chardev do. (A QEMU
/// socket chardev takes one client at a time: the two connect one after the other.)
#[tokio::test]
async fn a_view_only_serial_console_never_types() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let guest = SerialGuest::start(work.path(), None);
    let port = guest.port;
    for (config, tokens) in [
        (
            SERIAL_ON.to_owned(),
            format!("w: 127.0.0.1:{port} kind=serial view_only=true\ns: 127.0.0.1:{port} kind=serial\n"),
        ),
        (
            format!("{SERIAL_ON}[vncgate]\ndefault_view_only = true\n"),
            format!("w: 127.0.0.1:{port} kind=serial\ns: 127.0.0.1:{port} kind=serial view_only=false\n"),
        ),
    ] {
        let proxy = start_proxy(&config, &tokens).await;
        let mut watch = tempest_connect(&proxy, "w", "binary").await.expect("upgrade");
        for key in b"typed by the watcher\r" {
            watch.send(Message::binary(vec![*key])).await.expect("send");
        }
        let seen = drain(&mut watch, Duration::from_millis(2000)).await;
        assert!(
            !String::from_utf8_lossy(&seen).contains("watcher"),
            "{config}: a view-only viewer's keys reached the guest: {seen:?}"
        );
        watch.close(None).await.expect("close");
        drop(watch);
        let mut full = tempest_connect(&proxy, "s", "binary").await.expect("upgrade");
        typed(&mut full, "typed by the operator\r").await.expect("echo");
        full.close(None).await.expect("close");
        proxy.stop().await;
    }
}
