//! The browser's RFB messages as the view-only filter frames them: any bytes, in any chunks,
//! never panic, never claim more than they were given, and never let a message through that acts.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vncgate::relay::filter::Filter;
use vncgate::rfb::client_messages::frame;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((_, length))) = frame(rest, 4096) {
        assert!(length > 0 && length <= rest.len());
        rest = &rest[length..];
    }
    let split = data.first().map_or(1, |b| usize::from(*b % 16) + 1);
    let mut filter = Filter::view_only(4096);
    let mut passed = Vec::new();
    for chunk in data.chunks(split) {
        match filter.apply(Bytes::copy_from_slice(chunk)) {
            Ok(out) => passed.extend_from_slice(&out),
            Err(_) => return,
        }
    }
    // What went on, after ClientInit, frames into messages none of which acts.
    let mut rest = passed.get(1..).unwrap_or_default();
    while let Ok(Some((kind, length))) = frame(rest, 4096) {
        assert!(!kind.acts(), "{kind:?} passed a view-only filter");
        rest = &rest[length..];
    }
});
