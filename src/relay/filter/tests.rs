use super::*;

#[test]
fn client_init_is_always_shared_and_nothing_else_changes() {
    let mut filter = Filter::shared_client_init();
    assert_eq!(filter.apply(Bytes::new()).ok(), Some(Bytes::new()));
    let first = filter.apply(Bytes::from_static(b"\x00\x03\x00")).ok();
    assert_eq!(first, Some(Bytes::from_static(b"\x01\x03\x00")));
    // Later zero bytes are other messages' bytes: untouched.
    let later = Bytes::from_static(b"\x00\x00\x00\x00");
    assert_eq!(filter.apply(later.clone()).ok(), Some(later));
    let mut filter = Filter::shared_client_init();
    let shared = Bytes::from_static(b"\x01");
    assert_eq!(filter.apply(shared.clone()).ok(), Some(shared));
}

#[test]
fn a_view_only_viewer_sends_no_input_whatever_the_chunks() {
    // ClientInit (exclusive), SetEncodings, a key, a pointer event, an update request,
    // a clipboard text, xvp reboot.
    let stream: Vec<u8> = [
        &[0u8][..],
        &[2, 0, 0, 1, 0, 0, 0, 7],
        &[4, 1, 0, 0, 0, 0, 0, 0x61],
        &[5, 1, 0, 10, 0, 20],
        &[3, 0, 0, 0, 0, 0, 0, 10, 0, 10],
        &[6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'],
        &[250, 0, 1, 3],
    ]
    .concat();
    let expected: Vec<u8> = [
        &[1u8][..],
        &[2, 0, 0, 1, 0, 0, 0, 7],
        &[3, 0, 0, 0, 0, 0, 0, 10, 0, 10],
    ]
    .concat();
    for size in 1..stream.len() {
        let mut filter = Filter::view_only(1024);
        let mut out = Vec::new();
        for chunk in stream.chunks(size) {
            let passed = filter.apply(Bytes::copy_from_slice(chunk)).expect("framed");
            out.extend_from_slice(&passed);
        }
        assert_eq!(out, expected, "chunks of {size}");
    }
    let mut filter = Filter::view_only(1024);
    assert!(
        filter.apply(Bytes::from_static(&[1, 9, 9])).is_err(),
        "type 9 is unknown"
    );
}

#[test]
fn pass_hands_every_byte_on_unchanged() {
    let mut filter = Filter::default();
    let chunk = Bytes::from_static(b"\x04\x01\x00\x00\x00\x00\xff\x0d");
    assert_eq!(filter.apply(chunk.clone()).ok(), Some(chunk));
    assert_eq!(filter.apply(Bytes::new()).ok(), Some(Bytes::new()));
}

use crate::console::Clipboard;
use crate::rfb::encodings as enc;

fn policy(view_only: bool, clipboard: Clipboard) -> Policy {
    Policy {
        view_only,
        clipboard,
    }
}

fn run(filter: &mut Filter, bytes: &[u8]) -> Vec<u8> {
    filter
        .apply(Bytes::copy_from_slice(bytes))
        .expect("passed")
        .to_vec()
}

fn set_encodings(list: &[i32]) -> Vec<u8> {
    let mut message = vec![2, 0];
    message.extend_from_slice(&u16::try_from(list.len()).expect("short").to_be_bytes());
    for encoding in list {
        message.extend_from_slice(&encoding.to_be_bytes());
    }
    message
}

const CUT: &[u8] = &[6, 0, 0, 0, 0, 0, 0, 2, b'h', b'i'];
const SERVER_INIT: &[u8] = &[
    0, 4, 0, 4, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0, 0, 0, 0, 0,
];

#[test]
fn an_unrestricted_session_keeps_the_plain_relay() {
    let filters = Filters::rfb(policy(false, Clipboard::Both), 1024);
    assert!(matches!(filters.to_server, Filter::SharedClientInit { .. }));
    assert!(matches!(filters.to_browser, Filter::Pass));
    // Only the guest-to-browser direction needs the server's messages framed.
    for clipboard in [Clipboard::ToGuest, Clipboard::None] {
        let filters = Filters::rfb(policy(false, clipboard), 1024);
        assert!(
            matches!(filters.to_browser, Filter::Server(_)),
            "{clipboard}"
        );
    }
    for (view_only, clipboard) in [(true, Clipboard::Both), (false, Clipboard::FromGuest)] {
        let filters = Filters::rfb(policy(view_only, clipboard), 1024);
        assert!(matches!(filters.to_server, Filter::Client(_)));
        assert!(matches!(filters.to_browser, Filter::Pass));
    }
}

#[test]
fn clipboard_text_flows_only_the_way_the_policy_allows() {
    let asked = [
        enc::TIGHT,
        21,
        enc::EXTENDED_CLIPBOARD,
        enc::RAW,
        enc::CURSOR,
        -260,
    ];
    for clipboard in Clipboard::ALL {
        let Filters {
            mut to_server,
            mut to_browser,
        } = Filters::rfb(policy(false, clipboard), 1024);
        let sent = [&[0u8][..], &set_encodings(&asked), CUT].concat();
        let passed = run(&mut to_server, &sent);
        let framed = !clipboard.from_guest();
        let expected: Vec<i32> = match (clipboard, framed) {
            (Clipboard::Both, _) => asked.to_vec(),
            (_, false) => vec![enc::TIGHT, 21, enc::RAW, enc::CURSOR, -260],
            (_, true) => vec![enc::TIGHT, enc::RAW, enc::CURSOR],
        };
        let mut wanted = [&[1u8][..], &set_encodings(&expected)].concat();
        if clipboard.to_guest() {
            wanted.extend_from_slice(CUT);
        }
        assert_eq!(passed, wanted, "to the server, {clipboard}");

        let received = [SERVER_INIT, &[3, 0, 0, 0, 0, 0, 0, 2, b'o', b'k'], &[2]].concat();
        let passed = run(&mut to_browser, &received);
        let wanted = if clipboard.from_guest() {
            received.clone()
        } else {
            [SERVER_INIT, &[2]].concat()
        };
        assert_eq!(passed, wanted, "to the browser, {clipboard}");
    }
}

#[test]
fn the_browsers_pixel_format_sizes_the_servers_rectangles() {
    let Filters {
        mut to_server,
        mut to_browser,
    } = Filters::rfb(policy(false, Clipboard::None), 1024);
    let rgb565 = [16, 16, 0, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0];
    let set_pixel_format = [&[0u8, 0, 0, 0][..], &rgb565].concat();
    let request = [3, 0, 0, 0, 0, 0, 0, 2, 0, 1];
    run(
        &mut to_server,
        &[&[1u8][..], &set_pixel_format, &request].concat(),
    );
    // A 2×1 raw rectangle of 16-bit pixels, then a cut text that must not pass.
    let update = [0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 7, 7, 7, 7];
    let cut = [3, 0, 0, 0, 0, 0, 0, 1, b'x'];
    let passed = run(&mut to_browser, &[SERVER_INIT, &update, &cut].concat());
    assert_eq!(passed, [SERVER_INIT, &update].concat());
    // Updates may be in flight in the old format: a change now cannot be followed.
    let rgb888 = &SERVER_INIT[4..20];
    let change = [&[0u8, 0, 0, 0][..], rgb888].concat();
    assert!(to_server.apply(Bytes::from(change)).is_err());
}

#[test]
fn a_view_only_viewer_without_clipboard_sends_only_requests() {
    let Filters { mut to_server, .. } = Filters::rfb(policy(true, Clipboard::None), 1024);
    let key = [4, 1, 0, 0, 0, 0, 0, 0x61];
    let request = [3, 1, 0, 0, 0, 0, 0, 2, 0, 1];
    let passed = run(&mut to_server, &[&[0u8][..], &key, CUT, &request].concat());
    assert_eq!(passed, [&[1u8][..], &request].concat());
}
