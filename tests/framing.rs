//! The server filter's framing against real servers: for each encoding noVNC asks for that the
//! proxy can frame, a session with `clipboard=none` (every server message framed) asks for that
//! encoding and noVNC's pseudo-encodings, and runs while the screen changes (an xterm typed
//! into on Xvnc, the text console's cursor on QEMU) and the guest's clipboard changes. The
//! session must survive, no clipboard text may reach it, and its screen, read raw at the end,
//! must match what an unfiltered viewer of the same display reads.

mod common;

use std::time::Duration;

use common::qemu::{self, Qemu};
use common::rfb::{update_request, viewer, WsBytes};
use common::xvnc::{self, Xvnc};
use common::*;
use tokio::net::TcpStream;

/// noVNC's preferred encodings that the proxy frames, by name.
const ENCODINGS: [(&str, i32); 6] = [
    ("Tight", 7),
    ("ZRLE", 16),
    ("Hextile", 5),
    ("RRE", 2),
    ("CopyRect", 1),
    ("Raw", 0),
];

/// What noVNC 1.3 sends after its encodings: quality 6 (JPEG inside Tight), compression 2,
/// DesktopSize, LastRect, QEMU extended keys and LED state, ExtendedDesktopSize, xvp, Fence,
/// ContinuousUpdates, DesktopName, the extended clipboard, VMware's cursor and Cursor.
const PSEUDO: [i32; 15] = [
    -26,
    -254,
    -223,
    -224,
    -258,
    -261,
    -308,
    -309,
    -312,
    -313,
    -307,
    0xc0a1_e5ce_u32 as i32,
    0x574d_5664,
    -239,
    -257,
];

const MARKER: &[u8] = b"clipboard marker 5c1e";

fn set_encodings(first: i32) -> Vec<u8> {
    let list: Vec<i32> = std::iter::once(first).chain(PSEUDO).collect();
    let mut message = vec![2, 0];
    message.extend_from_slice(&u16::try_from(list.len()).expect("short").to_be_bytes());
    for encoding in list {
        message.extend_from_slice(&encoding.to_be_bytes());
    }
    message
}

/// Runs one encoding through a filtered session while `act` changes the screen, then compares
/// its raw screen with the unfiltered viewer's.
async fn encoding_survives<F>(
    proxy: &Proxy,
    reference: &mut WsBytes<TcpStream>,
    name: &str,
    encoding: i32,
    mut act: F,
) where
    F: FnMut(usize) -> Option<Vec<u8>>,
{
    let (mut filtered, width, height) = viewer(proxy, "framed").await;
    filtered.write(&set_encodings(encoding)).await;
    filtered.write(&update_request(false, width, height)).await;
    let mut received = Vec::new();
    for step in 0..25 {
        if let Some(keys) = act(step) {
            reference.write(&keys).await;
        }
        filtered.write(&update_request(true, width, height)).await;
        let bytes = filtered
            .drain_bytes(Duration::from_millis(120))
            .await
            .unwrap_or_else(|error| panic!("{name}: the filtered session ended: {error}"));
        received.extend_from_slice(&bytes);
    }
    filtered
        .drain_bytes(Duration::from_millis(800))
        .await
        .unwrap_or_else(|error| panic!("{name}: the filtered session ended: {error}"));
    assert!(
        !received.windows(MARKER.len()).any(|w| w == MARKER),
        "{name}: clipboard text reached a clipboard=none session"
    );
    assert!(received.len() > 1000, "{name}: no update came");
    // A text cursor may blink between the two reads: a few tries.
    let mut matched = false;
    for _ in 0..6 {
        let expected = reference
            .raw_screen(width, height)
            .await
            .unwrap_or_else(|error| panic!("{name}: the reference session: {error}"));
        let seen = filtered
            .raw_screen_keeping(width, height, true)
            .await
            .unwrap_or_else(|error| panic!("{name}: the filtered session: {error}"));
        if seen == expected {
            matched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(matched, "{name}: the filtered screen differs");
}

fn key_press(byte: u8) -> Vec<u8> {
    [[4, 1, 0, 0, 0, 0, 0, byte], [4, 0, 0, 0, 0, 0, 0, byte]].concat()
}

#[tokio::test]
async fn every_encoding_is_framed_against_xvnc() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    // 256 background colours (photo-like areas: Tight's JPEG and full-colour paths, coloured
    // Hextile sub-rectangles) above a line that typing changes.
    let colours = "for i in $(seq 0 255); do printf '\\033[48;5;%dm  ' $i; done; \
                   printf '\\033[0m\\n'; exec cat";
    server.run_client(
        "xterm",
        &["-geometry", "80x24+0+0", "-e", "sh", "-c", colours],
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let addr = server.addr;
    let proxy = start_proxy(
        "",
        &format!("framed: {addr} clipboard=none\nplain: {addr}\n"),
    )
    .await;
    let (mut reference, _, _) = viewer(&proxy, "plain").await;
    let clip = work.path().join("clip.txt");
    std::fs::write(&clip, MARKER).expect("clip");
    let clip = clip.display().to_string();
    for (name, encoding) in ENCODINGS {
        // Mid-run the guest's clipboard changes: a cut text among the updates.
        let mut typed = format!("{name} typed ").into_bytes().into_iter();
        let mut clipboard_set = false;
        encoding_survives(&proxy, &mut reference, name, encoding, |step| {
            if step == 10 && !clipboard_set {
                clipboard_set = true;
                server.run_client("xclip", &["-quiet", "-selection", "clipboard", "-i", &clip]);
            }
            typed.next().map(key_press)
        })
        .await;
    }
}

#[tokio::test]
async fn every_encoding_is_framed_against_qemu() {
    if !qemu::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    // lossy: QEMU may use Tight's gradient filter and JPEG.
    let vm = Qemu::start(work.path(), ",lossy=on", &[]);
    // SeaBIOS reaches its text screen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let addr = vm.addr;
    let proxy = start_proxy(
        "",
        &format!("framed: {addr} clipboard=none\nplain: {addr}\n"),
    )
    .await;
    let (mut reference, _, _) = viewer(&proxy, "plain").await;
    for (name, encoding) in ENCODINGS {
        encoding_survives(&proxy, &mut reference, name, encoding, |_| None).await;
    }
}
