//! Through the proxy to QEMU's own VNC server, as noVNC would: a real ServerInit and a real
//! framebuffer update.

use crate::common::qemu::{self, Qemu};
use crate::common::rfb::WsBytes;
use crate::common::*;

#[tokio::test]
async fn plain_qemu_console_through_the_proxy() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let proxy = start_proxy("", &format!("vm: {}\n", vm.addr)).await;
    let (ws, _) = ws(
        proxy.addr,
        "/websockify?token=vm",
        &[("Sec-WebSocket-Protocol", "binary")],
    )
    .await
    .expect("upgrade");
    let mut rfb = WsBytes::new(ws);
    let init = rfb
        .handshake()
        .await
        .expect("RFB handshake through the proxy");
    // QEMU's std VGA starts at 640x480; SeaBIOS' text mode is 720x400.
    assert!(
        matches!((init.width, init.height), (640, 480) | (720, 400)),
        "{init:?}"
    );
    assert!(init.name.contains("QEMU"), "{init:?}");
    let rect = rfb
        .framebuffer_update(init.width, init.height)
        .await
        .expect("update");
    assert_eq!(rect.4, 0, "raw encoding");
    assert!(rect.2 > 0 && rect.3 > 0, "{rect:?}");
}

/// tempest's test_novnc reads whole WebSocket frames: the version alone, the types alone,
/// exactly four zero bytes, then ServerInit in one frame of 24 + name length bytes.
#[tokio::test]
async fn tempest_frame_by_frame_checks() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let proxy = start_proxy("", &format!("vm: {}\n", vm.addr)).await;
    // tempest sends the URL's query as a cookie, the subprotocol binary, and no Origin.
    let headers = [
        ("Cookie", "path=%3Ftoken%3Dvm"),
        ("Sec-WebSocket-Protocol", "binary"),
    ];
    let (mut ws, response) = ws(proxy.addr, "/?token=vm", &headers)
        .await
        .expect("upgrade");
    assert_eq!(response.status().as_u16(), 101);
    let version = next_binary(&mut ws).await;
    assert_eq!(version, b"RFB 003.008\n");
    ws.send(Message::binary(version)).await.expect("send");
    let types = next_binary(&mut ws).await;
    assert!(types[1..].contains(&1), "{types:?}");
    ws.send(Message::binary(vec![1])).await.expect("send");
    assert_eq!(next_binary(&mut ws).await, vec![0, 0, 0, 0]);
    ws.send(Message::binary(vec![1])).await.expect("send");
    let init = next_binary(&mut ws).await;
    let name_length = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    assert_eq!(init.len(), 24 + name_length);
}

/// tempest's test_novnc_bad_token: refused before the upgrade, with nothing to read.
#[tokio::test]
async fn tempest_bad_token() {
    let proxy = start_proxy("", "").await;
    let request =
        "GET /?token=bad HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Protocol: binary\r\n\r\n";
    let response = raw_http_head(proxy.addr, request).await;
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(
        response.contains("content-length: 0") || response.contains("Content-Length: 0"),
        "{response}"
    );
}

/// A viewer that asks for exclusive access (ClientInit shared = 0) must not knock the other
/// viewers off: vncgate always sends shared = 1. QEMU's default share policy would otherwise
/// disconnect every other client of the display.
#[tokio::test]
async fn an_exclusive_client_init_does_not_disconnect_the_others() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let vm = Qemu::start(work.path(), "", &[]);
    let proxy = start_proxy("", &format!("vm: {}\n", vm.addr)).await;
    let (first, _) = ws(proxy.addr, "/?token=vm", &[]).await.expect("upgrade");
    let mut first = WsBytes::new(first);
    let init = first.handshake().await.expect("first viewer");

    let (second, _) = ws(proxy.addr, "/?token=vm", &[]).await.expect("upgrade");
    let mut second = WsBytes::new(second);
    second.security_none().await.expect("second viewer");
    second.write(&[0]).await; // ClientInit: shared = 0, "disconnect everyone else"
    let header = second.read(24).await.expect("ServerInit");
    let name_length = u32::from_be_bytes(header[20..24].try_into().expect("4"));
    second.read(name_length as usize).await.expect("name");

    // The first viewer still gets its framebuffer.
    let (x, y, w, h, _) = first
        .framebuffer_update(init.width, init.height)
        .await
        .expect("the first viewer was disconnected");
    assert_eq!((x, y), (0, 0));
    assert!(w > 0 && h > 0);
}
