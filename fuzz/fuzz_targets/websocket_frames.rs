//! A browser's bytes as the WebSocket decoder reads them: any bytes, in any chunks, never
//! panic, and give the same events and the same verdict whatever the chunking.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use vncgate::websocket::{Decoder, Event};

/// The events of the whole input fed in chunks of `size` (binary chunks joined), and whether
/// it ended in an error.
fn decode(data: &[u8], size: usize) -> (Vec<Event>, Vec<u8>, bool) {
    let mut decoder = Decoder::new(4096);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut binary = Vec::new();
    for chunk in data.chunks(size) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Event::Binary(bytes))) => binary.extend_from_slice(&bytes),
                Ok(Some(other)) => events.push(other),
                Ok(None) => break,
                Err(_) => return (events, binary, true),
            }
        }
        assert!(buf.len() <= data.len(), "never holds more than it was given");
    }
    (events, binary, false)
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(1, |b| usize::from(*b % 32) + 1);
    let whole = decode(data, data.len().max(1));
    let chunked = decode(data, split);
    assert_eq!(whole.2, chunked.2, "chunking changed the verdict");
    if !whole.2 {
        assert_eq!(whole.0, chunked.0, "chunking changed the events");
        assert_eq!(whole.1, chunked.1, "chunking changed the payload");
    }
});
