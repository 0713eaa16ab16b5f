//! A browser's SetPixelFormat and SetEncodings, then a server's updates sized by one server's own
//! Tight pixel rule (TigerVNC, QEMU or libvncserver), with clipboard texts among them, through
//! a `clipboard=none` session's filters: a format the client filter accepts must frame exactly
//! as that server sends it, so every byte but the clipboard texts passes and no text does.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vncgate::console::Clipboard;
use vncgate::relay::filter::{Filters, Policy};
use vncgate::rfb::pixel_format::rules;

const SERVER_INIT: [u8; 26] = [
    0, 8, 0, 8, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0, 0, 0, 0, 2, b'v', b'm',
];

/// Builds a server stream from `data` in the format's sizes: (the stream, what must pass).
fn server_stream(data: &[u8], pixel: usize, tight: usize) -> (Vec<u8>, Vec<u8>) {
    let mut all = SERVER_INIT.to_vec();
    let mut kept = all.clone();
    let mut push = |bytes: &[u8], keep: bool, all: &mut Vec<u8>| {
        all.extend_from_slice(bytes);
        if keep {
            kept.extend_from_slice(bytes);
        }
    };
    for pair in data.chunks(2) {
        let (kind, value) = (pair[0], pair.get(1).copied().unwrap_or(0));
        let (width, height) = (u16::from(value % 8 + 1), u16::from(value / 32 + 1));
        let mut rect = vec![0, 0, 0, 1, 0, 0, 0, 0];
        rect.extend_from_slice(&width.to_be_bytes());
        rect.extend_from_slice(&height.to_be_bytes());
        let area = usize::from(width) * usize::from(height);
        match kind % 5 {
            // Tight fill: one Tight pixel of the colour.
            0 => {
                rect.extend_from_slice(&7i32.to_be_bytes());
                rect.push(0x80);
                rect.extend(std::iter::repeat_n(value, tight));
            }
            // Tight with a two-colour palette: Tight pixels, then one bit a pixel.
            1 => {
                rect.extend_from_slice(&7i32.to_be_bytes());
                rect.extend_from_slice(&[0x40, 1, 1]);
                rect.extend(std::iter::repeat_n(value, 2 * tight));
                let bits = usize::from(width).div_ceil(8) * usize::from(height);
                if bits < 12 {
                    rect.extend(std::iter::repeat_n(value, bits));
                } else {
                    rect.extend_from_slice(&[1, 0]);
                }
            }
            // Raw pixels.
            2 => {
                rect.extend_from_slice(&0i32.to_be_bytes());
                rect.extend(std::iter::repeat_n(value, area * pixel));
            }
            // Hextile: one tile of background only.
            3 => {
                rect.extend_from_slice(&5i32.to_be_bytes());
                rect.push(2);
                rect.extend(std::iter::repeat_n(value, pixel));
            }
            // A clipboard text, then Bell.
            _ => {
                push(&[3, 0, 0, 0, 0, 0, 0, 4], false, &mut all);
                push(&[b's', b'e', b'c', b'r'], false, &mut all);
                push(&[2], true, &mut all);
                continue;
            }
        }
        push(&rect, true, &mut all);
    }
    (all, kept)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 19 {
        return;
    }
    let mut format = [0u8; 16];
    format.copy_from_slice(&data[1..17]);
    let (server, rule) = rules::ALL[usize::from(data[0] % 3)];
    let encodings = usize::from(data[17] % 8);
    let body = &data[18..];

    let policy = Policy {
        view_only: data[0] & 8 != 0,
        clipboard: Clipboard::None,
    };
    let mut filters = Filters::rfb(policy, 4096);
    let mut client = vec![1u8, 0, 0, 0, 0];
    client.extend_from_slice(&format);
    client.extend_from_slice(&[2, 0, 0, u8::try_from(encodings).unwrap_or(0)]);
    for i in 0..encodings {
        let encoding = body.get(i).map_or(0, |b| i32::from(*b as i8) * 3);
        client.extend_from_slice(&encoding.to_be_bytes());
    }
    client.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 8, 0, 8]);
    if filters.to_server.apply(Bytes::from(client)).is_err() {
        return;
    }
    let pixel = usize::from(format[0] / 8);
    let (stream, kept) = server_stream(body, pixel, usize::from(rule(&format)));
    let split = usize::from(data[17] / 8 % 16) + 1;
    let mut passed = Vec::new();
    for chunk in stream.chunks(split) {
        match filters.to_browser.apply(Bytes::copy_from_slice(chunk)) {
            Ok(out) => passed.extend_from_slice(&out),
            Err(error) => panic!("{server} on {format:?}: an accepted format failed: {error}"),
        }
    }
    assert_eq!(passed, kept, "{server} on {format:?}");
});
