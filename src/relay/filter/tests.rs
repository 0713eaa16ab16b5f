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
            ..
        } = Filters::rfb(policy(false, clipboard), 1024);
        let sent = [&[0u8][..], &set_encodings(&asked), CUT].concat();
        let passed = run(&mut to_server, &sent);
        let framed = !clipboard.from_guest();
        // The extended clipboard stays where the guest's text may come out.
        let expected: Vec<i32> = if framed {
            vec![enc::TIGHT, enc::RAW, enc::CURSOR]
        } else {
            asked.to_vec()
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

/// An extended clipboard message (negative length, then flags) of `action` with `text`.
fn extended(action: u32, text: &[u8]) -> Vec<u8> {
    let length = i32::try_from(4 + text.len()).expect("short");
    [
        &[6u8, 0, 0, 0][..],
        &(-length).to_be_bytes(),
        &(action | 1).to_be_bytes(),
        text,
    ]
    .concat()
}

#[test]
fn extended_clipboard_requests_pass_where_text_may_come_out_and_offers_where_it_may_go_in() {
    const CAPS: u32 = 1 << 24;
    const REQUEST: u32 = 1 << 25;
    const PEEK: u32 = 1 << 26;
    const NOTIFY: u32 = 1 << 27;
    const PROVIDE: u32 = 1 << 28;
    for (view_only, clipboard) in [
        (false, Clipboard::Both),
        (false, Clipboard::FromGuest),
        (false, Clipboard::ToGuest),
        (false, Clipboard::None),
        (true, Clipboard::Both),
    ] {
        let inward = !view_only && clipboard.to_guest();
        for (action, text, passes) in [
            (CAPS, &b"\0\0\x10\0"[..], inward || clipboard.from_guest()),
            (REQUEST, &b""[..], inward || clipboard.from_guest()),
            (PEEK, &b""[..], inward || clipboard.from_guest()),
            (NOTIFY, &b""[..], inward),
            (PROVIDE, &b"\0\0\0\x05zlib!"[..], inward),
        ] {
            let message = extended(action, text);
            let sent = [&[0u8][..], &message, &[3, 1, 0, 0, 0, 0, 0, 8, 0, 8]].concat();
            // Whole, and a byte at a time (the flags arrive after the header).
            for chunk in [sent.len(), 1] {
                let mut filter = Filters::rfb(policy(view_only, clipboard), 1024).to_server;
                let mut passed = Vec::new();
                for piece in sent.chunks(chunk) {
                    passed.extend(run(&mut filter, piece));
                }
                let mut wanted = vec![1u8];
                if passes {
                    wanted.extend_from_slice(&message);
                }
                // What follows is framed as before, whatever went with the clipboard.
                wanted.extend_from_slice(&[3, 1, 0, 0, 0, 0, 0, 8, 0, 8]);
                assert_eq!(
                    passed, wanted,
                    "{clipboard} view_only={view_only} action={action:#x} chunk={chunk}"
                );
            }
        }
    }
    // Flags that cannot be there: refused, not guessed.
    let mut filter = Filters::rfb(policy(false, Clipboard::FromGuest), 1024).to_server;
    let Filter::Client(client) = &mut filter else {
        panic!("a client filter");
    };
    assert!(client
        .apply(bytes::Bytes::from_static(&[
            0, 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe
        ]))
        .is_err());
}

#[test]
fn the_browsers_pixel_format_sizes_the_servers_rectangles() {
    let Filters {
        mut to_server,
        mut to_browser,
        ..
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

/// A true-colour PIXEL_FORMAT: bits, depth, maxima, shifts.
fn pixel_format(bits: u8, depth: u8, max: u16, shifts: [u8; 3]) -> [u8; 16] {
    let mut format = [0u8; 16];
    format[0] = bits;
    format[1] = depth;
    format[3] = 1;
    for at in [4, 6, 8] {
        format[at..at + 2].copy_from_slice(&max.to_be_bytes());
    }
    format[10..13].copy_from_slice(&shifts);
    format
}

/// What a server following `rule` sends for a Tight fill of `colour` in `format`, then a
/// clipboard text: a fill pixel of the rule's size, padded with the colour's bytes.
fn tight_fill_then_cut(tight: u8, colour: u8) -> Vec<u8> {
    let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 8, 0, 8, 0, 0, 0, 7, 0x80];
    update.extend(std::iter::repeat_n(colour, usize::from(tight)));
    // A Fence header the 4th byte would start if misread, then the cut text.
    update.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 6]);
    update.extend_from_slice(b"secret");
    update
}

/// The finding's attack: depth 24 with a green shift of 9. TigerVNC sends 4-byte Tight pixels
/// for it; a framer that reads 3 takes the 4th byte (248, Fence, for #f8f8f8) as a message
/// type and the clipboard text as its payload. The format is refused before any update.
#[test]
fn a_format_servers_size_differently_ends_a_restricted_session() {
    let crafted = pixel_format(32, 24, 255, [24, 9, 0]);
    let set_pixel_format = [&[0u8, 0, 0, 0][..], &crafted].concat();
    for (view_only, clipboard) in [
        (true, Clipboard::None),
        (false, Clipboard::None),
        (false, Clipboard::ToGuest),
        (true, Clipboard::Both),
        (false, Clipboard::FromGuest),
    ] {
        let Filters { mut to_server, .. } = Filters::rfb(policy(view_only, clipboard), 1024);
        let refused = to_server.apply(Bytes::from([&[1u8][..], &set_pixel_format].concat()));
        assert!(
            matches!(refused, Err(Error::PixelFormat(_))),
            "view_only={view_only} {clipboard}: {refused:?}"
        );
    }
}

/// A sweep of pixel formats against each server's own TPIXEL rule: whatever format the browser
/// asks for and whichever server answers, either the format is refused or the clipboard text
/// is dropped and every other byte passes.
#[test]
fn no_clipboard_text_passes_whatever_format_and_server() {
    use crate::rfb::pixel_format::rules;
    let mut refused = 0;
    let mut framed = 0;
    for bits in [8u8, 16, 24, 32] {
        for depth in [8u8, 16, 24, 32] {
            for max in [3u16, 31, 255] {
                for shifts in [[0, 8, 16], [16, 8, 0], [24, 9, 0], [8, 16, 24], [2, 4, 0]] {
                    let format = pixel_format(bits, depth, max, shifts);
                    for (server, rule) in rules::ALL {
                        let Filters {
                            mut to_server,
                            mut to_browser,
                            ..
                        } = Filters::rfb(policy(true, Clipboard::None), 1024);
                        let asked = [
                            &[1u8, 0, 0, 0, 0][..],
                            &format,
                            &[3, 0, 0, 0, 0, 0, 0, 8, 0, 8],
                        ]
                        .concat();
                        if to_server.apply(Bytes::from(asked)).is_err() {
                            refused += 1;
                            continue;
                        }
                        framed += 1;
                        let update = tight_fill_then_cut(rule(&format), 0xf8);
                        let received = [SERVER_INIT, &update].concat();
                        let passed = to_browser
                            .apply(Bytes::from(received.clone()))
                            .unwrap_or_else(|e| panic!("{server} on {format:?}: {e}"));
                        let cut_at = received.len() - 14;
                        assert_eq!(&passed[..], &received[..cut_at], "{server} on {format:?}");
                    }
                }
            }
        }
    }
    assert!(
        refused > 0 && framed > 0,
        "{refused} refused, {framed} framed"
    );
}

mod spice {
    use super::*;
    use crate::console::ConsoleKind;

    use crate::spice::testing::{link_message, mini};

    /// A link message as spice-html5 sends it, then the mechanism and the ticket.
    fn link(channel_type: u8) -> Vec<u8> {
        let mut all = link_message(channel_type, (1 << 0) | (1 << 3));
        all.extend_from_slice(&1u32.to_le_bytes());
        all.extend_from_slice(&[7; 128]);
        all
    }

    fn view_only() -> Filters {
        Filters::for_console(ConsoleKind::SpiceHtml5, policy(true, Clipboard::Both), 1024)
    }

    #[test]
    fn a_view_only_viewer_opens_no_channel_that_acts_on_the_guest() {
        // Inputs, record, tunnel, smartcard, usbredir, port, webdav, and what comes later.
        for channel_type in [3u8, 6, 7, 8, 9, 10, 11, 12, 200] {
            let Filters { mut to_server, .. } = view_only();
            let refused = to_server.apply(Bytes::from(link(channel_type)));
            assert!(
                matches!(refused, Err(Error::ViewOnlyChannel(t)) if t == channel_type),
                "{channel_type}: {refused:?}"
            );
        }
        for channel_type in [1u8, 2, 4, 5] {
            let Filters { mut to_server, .. } = view_only();
            let stream = link(channel_type);
            assert_eq!(run(&mut to_server, &stream), stream, "{channel_type}");
        }
        // An unrestricted console keeps the plain relay.
        let plain = Filters::for_console(
            ConsoleKind::SpiceHtml5,
            policy(false, Clipboard::Both),
            1024,
        );
        assert!(matches!(plain.to_server, Filter::Pass));
    }

    #[test]
    fn the_agents_messages_from_a_view_only_viewer_are_dropped_whatever_the_chunks() {
        let client_info = mini(101, &[1, 2, 3, 4]);
        let agent_start = mini(106, &[10, 0, 0, 0]);
        let pong = mini(3, &[0; 12]);
        let stream = [
            link(1),
            client_info.clone(),
            agent_start.clone(),
            mini(107, b"clipboard text for the guest"),
            pong.clone(),
            mini(107, &[0; 3000]),
        ]
        .concat();
        let expected = [link(1), client_info, agent_start, pong].concat();
        for size in [1, 2, 3, 5, 7, 64, 1000, stream.len()] {
            let Filters { mut to_server, .. } = view_only();
            let mut out = Vec::new();
            for chunk in stream.chunks(size) {
                out.extend_from_slice(&run(&mut to_server, chunk));
            }
            assert_eq!(out, expected, "chunks of {size}");
        }
    }

    #[test]
    fn a_view_only_serial_console_sends_nothing_to_the_guest() {
        let Filters { mut to_server, .. } =
            Filters::for_console(ConsoleKind::Serial, policy(true, Clipboard::Both), 1024);
        assert!(run(&mut to_server, b"reboot\r").is_empty());
        let Filters { mut to_server, .. } =
            Filters::for_console(ConsoleKind::Serial, policy(false, Clipboard::Both), 1024);
        assert_eq!(run(&mut to_server, b"ls\r"), b"ls\r");
    }
}

/// A ClientCutText is never held whole: a dropped one is skipped as it streams, a passed one
/// goes on as it comes, whatever the chunks; what follows it is framed as usual. Before, a
/// restricted session held each text whole (up to `max_message_size`) before dropping it.
#[test]
fn a_clipboard_text_streams_past_without_being_held() {
    let text = vec![b'x'; MAX_CLIPBOARD];
    let mut cut = vec![6u8, 0, 0, 0];
    cut.extend_from_slice(&u32::try_from(text.len()).expect("fits").to_be_bytes());
    cut.extend_from_slice(&text);
    let key = [4u8, 1, 0, 0, 0, 0, 0, 0x61];
    let request = [3u8, 1, 0, 0, 0, 0, 0, 2, 0, 1];
    let stream = [&[1u8][..], &cut, &request, &key].concat();
    for (view_only, clipboard) in [
        (true, Clipboard::Both),
        (false, Clipboard::None),
        (false, Clipboard::ToGuest),
    ] {
        let Filters { mut to_server, .. } = Filters::rfb(policy(view_only, clipboard), 4 << 20);
        let mut out = Vec::new();
        let mut most_held = 0;
        for chunk in stream.chunks(64 * 1024 + 3) {
            out.extend_from_slice(&run(&mut to_server, chunk));
            let Filter::Client(filter) = &to_server else {
                panic!("a client filter");
            };
            most_held = most_held.max(filter.held_len());
        }
        assert!(
            most_held < 64,
            "{view_only} {clipboard}: held {most_held} bytes"
        );
        let passes = !view_only && clipboard.to_guest();
        let expected = if passes {
            stream.clone()
        } else if view_only {
            [&[1u8][..], &request].concat()
        } else {
            [&[1u8][..], &request, &key].concat()
        };
        assert_eq!(out.len(), expected.len(), "{view_only} {clipboard}");
        assert!(out == expected, "{view_only} {clipboard}");
    }
    // Over the clipboard's own cap: the session ends.
    let mut over = vec![1u8, 6, 0, 0, 0];
    over.extend_from_slice(
        &u32::try_from(MAX_CLIPBOARD + 1)
            .expect("fits")
            .to_be_bytes(),
    );
    let Filters { mut to_server, .. } = Filters::rfb(policy(true, Clipboard::None), 4 << 20);
    assert!(to_server.apply(Bytes::from(over)).is_err());
}

/// What filters hold counts against one budget for the process, and is given back when a
/// filter lets go of it or ends.
#[test]
fn held_bytes_count_against_the_process_budget() {
    let Filters { mut to_server, .. } = Filters::rfb(policy(true, Clipboard::None), 1 << 20);
    // ClientInit, then the first half of a SetEncodings of 60,000 encodings.
    let mut partial = vec![1u8, 2, 0];
    partial.extend_from_slice(&60_000u16.to_be_bytes());
    partial.extend_from_slice(&vec![0u8; 100_000]);
    let before = held();
    run(&mut to_server, &partial);
    assert!(
        held() >= before + 100_000 - 1000,
        "{} then {}",
        before,
        held()
    );
    drop(to_server);
    assert!(held() < before + 100_000, "given back when the filter ends");
}
