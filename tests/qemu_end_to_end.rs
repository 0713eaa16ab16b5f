//! Through the proxy to QEMU's own VNC server, as noVNC would: a real ServerInit and a real
//! framebuffer update.

mod common;

use common::qemu::{self, Qemu};
use common::rfb::WsBytes;
use common::*;

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
