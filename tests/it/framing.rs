//! The server filter's framing against real servers: for each encoding noVNC asks for that the
//! proxy can frame, a session with `clipboard=none` (every server message framed) asks for that
//! encoding and noVNC's pseudo-encodings, and runs while the screen changes (an xterm typed
//! into on Xvnc, the text console's cursor on QEMU) and the guest's clipboard changes. The
//! session must survive, no clipboard text may reach it, and its screen, read raw at the end,
//! must match what an unfiltered viewer of the same display reads.

use std::time::Duration;

use crate::common::qemu::{self, Qemu};
use crate::common::rfb::{update_request, viewer, WsBytes};
use crate::common::xvnc::{self, Xvnc};
use crate::common::*;
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

const MARKER_TEXT: &str = "clipboard marker 5c1e";
const MARKER: &[u8] = MARKER_TEXT.as_bytes();

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

/// Xvnc showing an xterm with 256 background colours (photo-like areas: Tight's JPEG and
/// full-colour paths, coloured Hextile sub-rectangles) above a line that typing changes.
fn colourful_xvnc(work: &std::path::Path) -> Xvnc {
    let mut server = Xvnc::start(work, &["-SecurityTypes".into(), "None".into()]);
    let colours = "for i in $(seq 0 255); do printf '\\033[48;5;%dm  ' $i; done; \
                   printf '\\033[0m\\n'; exec cat";
    server.run_window(
        "xterm",
        &["-geometry", "80x24+0+0", "-e", "sh", "-c", colours],
    );
    server
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
    let mut server = colourful_xvnc(work.path());
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

/// A true-colour PIXEL_FORMAT: bits, depth, maxima, shifts.
fn pixel_format(bits: u8, depth: u8, maxima: [u16; 3], shifts: [u8; 3]) -> [u8; 16] {
    let mut format = [0u8; 16];
    format[0] = bits;
    format[1] = depth;
    format[3] = 1;
    for (i, max) in maxima.iter().enumerate() {
        format[4 + 2 * i..6 + 2 * i].copy_from_slice(&max.to_be_bytes());
    }
    format[10..13].copy_from_slice(&shifts);
    format
}

fn set_pixel_format(format: [u8; 16]) -> Vec<u8> {
    [&[0u8, 0, 0, 0][..], &format].concat()
}

/// Puts `text` on the guest's clipboard with xclip.
fn guest_clipboard(server: &mut Xvnc, work: &std::path::Path, text: &str) {
    let file = work.join(format!("clip-{}.txt", text.len()));
    std::fs::write(&file, text).expect("clip");
    let path = file.display().to_string();
    server.run_client("xclip", &["-quiet", "-selection", "clipboard", "-i", &path]);
}

/// The attack of the security review: depth 24 with a green shift of 9, for which Xvnc sends
/// 4-byte Tight pixels, and a #f8f8f8 screen whose 4th byte (248) reads as a Fence type. The
/// session must end with a reason the browser can show, and the guest's clipboard never reach
/// this `view_only=true clipboard=none` watch link.
#[tokio::test]
async fn a_pixel_format_servers_frame_differently_ends_the_session_against_xvnc() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Xvnc::start(work.path(), &["-SecurityTypes".into(), "None".into()]);
    server.run_window(
        "xterm",
        &["-geometry", "80x24+0+0", "-bg", "#f8f8f8", "-e", "cat"],
    );
    let addr = server.addr;
    let proxy = start_proxy(
        "",
        &format!("watch: {addr} view_only=true clipboard=none\n"),
    )
    .await;
    let (mut watch, width, height) = viewer(&proxy, "watch").await;
    watch
        .write(&set_pixel_format(pixel_format(
            32,
            24,
            [255; 3],
            [24, 9, 0],
        )))
        .await;
    watch.write(&set_encodings(7)).await;
    watch.write(&update_request(false, width, height)).await;
    guest_clipboard(&mut server, work.path(), "clipboard marker 5c1e");
    let mut received = Vec::new();
    let mut ended = None;
    for _ in 0..20 {
        watch.write(&update_request(true, width, height)).await;
        match watch.drain_bytes(Duration::from_millis(150)).await {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(why) => {
                ended = Some(why);
                break;
            }
        }
    }
    assert!(
        !received.windows(MARKER.len()).any(|w| w == MARKER),
        "the guest's clipboard reached a clipboard=none watch link"
    );
    let ended = ended.expect("the session must end on a pixel format it cannot frame");
    assert!(
        ended.contains("1008") || ended.contains("Policy"),
        "closed as a policy refusal: {ended}"
    );
    assert!(ended.contains("pixel format"), "with its reason: {ended}");
}

/// The formats viewers send (noVNC's 32-bit and low-colour ones, Xvnc's own, RGB565, RGB555)
/// × the encodings the proxy frames, each a `clipboard=none` session against Xvnc while the
/// screen and the guest's clipboard change: every session survives and no clipboard text
/// reaches one, while an unrestricted viewer of the same display receives each text.
#[tokio::test]
async fn every_allowed_pixel_format_and_encoding_is_framed_against_xvnc() {
    if !xvnc::available() {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let mut server = colourful_xvnc(work.path());
    let addr = server.addr;
    let proxy = start_proxy(
        "",
        &format!("framed: {addr} clipboard=none\nplain: {addr}\n"),
    )
    .await;
    let formats = [
        ("noVNC 32-bit", pixel_format(32, 24, [255; 3], [0, 8, 16])),
        ("Xvnc's own", pixel_format(32, 24, [255; 3], [16, 8, 0])),
        ("padding low", pixel_format(32, 24, [255; 3], [24, 16, 8])),
        ("RGB565", pixel_format(16, 16, [31, 63, 31], [11, 5, 0])),
        ("RGB555", pixel_format(16, 15, [31, 31, 31], [10, 5, 0])),
        ("BGR233", pixel_format(8, 8, [7, 7, 3], [0, 3, 6])),
        ("noVNC low colour", pixel_format(8, 6, [3, 3, 3], [0, 2, 4])),
    ];
    let (mut reference, _, _) = viewer(&proxy, "plain").await;
    for (round, (name, format)) in formats.into_iter().enumerate() {
        let mut sessions = Vec::new();
        for (encoding_name, encoding) in ENCODINGS {
            let (mut session, width, height) = viewer(&proxy, "framed").await;
            session.write(&set_pixel_format(format)).await;
            session.write(&set_encodings(encoding)).await;
            session.write(&update_request(false, width, height)).await;
            sessions.push((encoding_name, session, width, height));
        }
        let text = format!("{MARKER_TEXT} {round}");
        for step in 0..12u8 {
            if step == 4 {
                guest_clipboard(&mut server, work.path(), &text);
            }
            reference.write(&key_press(b'a' + step)).await;
            for (encoding_name, session, width, height) in &mut sessions {
                session.write(&update_request(true, *width, *height)).await;
                let bytes = session
                    .drain_bytes(Duration::from_millis(40))
                    .await
                    .unwrap_or_else(|e| panic!("{name}, {encoding_name}: the session ended: {e}"));
                assert!(
                    !bytes.windows(MARKER.len()).any(|w| w == MARKER),
                    "{name}, {encoding_name}: clipboard text reached a clipboard=none session"
                );
            }
        }
        for (encoding_name, session, _, _) in &mut sessions {
            let bytes = session
                .drain_bytes(Duration::from_millis(300))
                .await
                .unwrap_or_else(|e| panic!("{name}, {encoding_name}: the session ended: {e}"));
            assert!(
                !bytes.windows(MARKER.len()).any(|w| w == MARKER),
                "{name}, {encoding_name}: clipboard text reached a clipboard=none session"
            );
        }
        // The text was sent: the unrestricted viewer received it.
        let mut got = None;
        while let Ok(Some(body)) = reference.cut_text(Duration::from_secs(10)).await {
            if body == text.as_bytes() {
                got = Some(body);
                break;
            }
        }
        assert!(
            got.is_some(),
            "{name}: the guest's clipboard was never sent"
        );
    }
}
