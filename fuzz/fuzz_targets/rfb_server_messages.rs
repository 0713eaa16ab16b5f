//! A console server's stream as the clipboard filter frames it: any bytes, in any chunks, never
//! panic, never hold or claim more than they were given, and come out the same whatever the
//! chunking; with the server filter, no byte outside a cut text is lost.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vncgate::console::Clipboard;
use vncgate::relay::filter::{Filters, Policy};
use vncgate::rfb::server_messages::ServerFramer;

/// Spans of the whole stream as (kept bytes, error seen), fed in chunks of `size`.
fn frame(data: &[u8], size: usize) -> (Vec<u8>, bool) {
    let mut framer = ServerFramer::new();
    let mut kept = Vec::new();
    for chunk in data.chunks(size) {
        let mut at = 0;
        while at < chunk.len() {
            match framer.consume(&chunk[at..]) {
                Ok(span) => {
                    assert!(span.len > 0 && at + span.len <= chunk.len());
                    if !span.cut_text {
                        kept.extend_from_slice(&chunk[at..at + span.len]);
                    }
                    at += span.len;
                }
                Err(_) => return (kept, true),
            }
        }
    }
    (kept, false)
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(1, |b| usize::from(*b % 32) + 1);
    let whole = frame(data, data.len().max(1));
    let chunked = frame(data, split);
    // What was kept before an error does not matter: the session ends there.
    assert_eq!(whole.1, chunked.1, "chunking changed whether the stream frames");
    if !whole.1 {
        assert_eq!(whole.0, chunked.0, "chunking changed the framing");
    }

    let policy = Policy {
        view_only: false,
        clipboard: Clipboard::None,
    };
    let mut filters = Filters::rfb(policy, 4096);
    let mut passed = Vec::new();
    for chunk in data.chunks(split) {
        match filters.to_browser.apply(Bytes::copy_from_slice(chunk)) {
            Ok(out) => passed.extend_from_slice(&out),
            Err(_) => return,
        }
    }
    assert_eq!(passed, whole.0);
});
