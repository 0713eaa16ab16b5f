//! View-only tokens enforced by the proxy: two viewers on one real Xvnc display with an xterm,
//! one read-write and one view-only. The view-only viewer is a raw RFB client that sends keys,
//! clicks and clipboard text anyway, as an attacker would; the screen, read pixel by pixel
//! through the read-write viewer, does not change.

use std::time::Duration;

use crate::common::rfb::{viewer, WsBytes};
use crate::common::xvnc::{self, Xvnc};
use crate::common::*;
use tokio::net::TcpStream;

/// The whole screen as raw 32-bit pixels, read through `viewer`.
async fn snapshot(viewer: &mut WsBytes<TcpStream>, width: u16, height: u16) -> Vec<u8> {
    viewer.raw_screen(width, height).await.expect("screen")
}

/// Press and release each character's keysym (ASCII maps to itself).
async fn type_text(viewer: &mut WsBytes<TcpStream>, text: &str) {
    for byte in text.bytes() {
        for down in [1u8, 0] {
            viewer.write(&[4, down, 0, 0, 0, 0, 0, byte]).await;
        }
    }
}

#[tokio::test]
async fn a_view_only_viewer_changes_nothing_whatever_it_sends() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    server.run_window("xterm", &["-geometry", "80x24+0+0", "-e", "cat"]);
    let proxy = start_proxy(
        "",
        &format!(
            "rw: {addr}\nro: {addr} view_only=true\n",
            addr = server.addr
        ),
    )
    .await;
    let (mut writer, width, height) = viewer(&proxy, "rw").await;
    let (mut watcher, _, _) = viewer(&proxy, "ro").await;
    let before = snapshot(&mut writer, width, height).await;

    // Keys, a click in the xterm, clipboard text, an xvp reboot, a desktop resize: all dropped.
    type_text(&mut watcher, "watcher typed this\r").await;
    watcher.write(&[5, 1, 0, 40, 0, 40]).await;
    watcher.write(&[5, 0, 0, 40, 0, 40]).await;
    watcher
        .write(&[6, 0, 0, 0, 0, 0, 0, 5, b'p', b'a', b's', b't', b'e'])
        .await;
    watcher.write(&[250, 0, 1, 3]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after_watcher = snapshot(&mut writer, width, height).await;
    assert!(
        after_watcher == before,
        "the view-only viewer changed {} bytes of the screen",
        after_watcher
            .iter()
            .zip(&before)
            .filter(|(a, b)| a != b)
            .count()
    );
    // The view-only viewer still sees the screen.
    assert_eq!(
        snapshot(&mut watcher, width, height).await.len(),
        before.len()
    );

    // The read-write viewer's typing shows, on both.
    type_text(&mut writer, "writer typed this\r").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after_writer = snapshot(&mut writer, width, height).await;
    assert!(
        after_writer != before,
        "typing through the read-write viewer changed nothing"
    );
    assert!(snapshot(&mut watcher, width, height).await == after_writer);
}

#[tokio::test]
async fn an_unframeable_message_from_a_view_only_viewer_ends_its_session() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    let proxy = start_proxy("", &format!("ro: {} view_only=true\n", server.addr)).await;
    let (mut watcher, _, _) = viewer(&proxy, "ro").await;
    // Type 9 is no RFB client message: its length cannot be known.
    watcher.write(&[9, 0, 0, 0]).await;
    assert!(watcher.read(1).await.is_err(), "the session must end");
}
