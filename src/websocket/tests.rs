use bytes::{Bytes, BytesMut};

use super::decoder::unmask;
use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a browser sends it: masked.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// Decodes `stream` fed `step` bytes at a time; binary chunks are joined between other events.
fn decode_all(stream: &[u8], step: usize, max: usize) -> Result<Vec<Event>, Error> {
    let mut decoder = Decoder::new(max);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut binary = Vec::new();
    for piece in stream.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(event) = decoder.decode(&mut buf)? {
            match event {
                Event::Binary(data) => binary.extend_from_slice(&data),
                other => {
                    if !binary.is_empty() {
                        events.push(Event::Binary(std::mem::take(&mut binary).into()));
                    }
                    events.push(other);
                }
            }
        }
    }
    if !binary.is_empty() {
        events.push(Event::Binary(binary.into()));
    }
    Ok(events)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn frames_decode_the_same_at_every_chunk_size() {
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for len in [0, 1, 5, 125, 126, 127, 65_535, 65_536, 70_001] {
        let data = pattern(len);
        stream.extend(frame(true, 0x2, &data));
        want.extend_from_slice(&data);
    }
    // A fragmented message with a ping between its fragments.
    stream.extend(frame(false, 0x2, b"frag"));
    stream.extend(frame(true, 0x9, b"are you there"));
    stream.extend(frame(false, 0x0, b"men"));
    stream.extend(frame(true, 0x0, b"ted"));
    stream.extend(frame(true, 0xA, b""));
    stream.extend(frame(true, 0x8, &[0x03, 0xe8, b'o', b'k']));
    want.extend_from_slice(b"frag");
    for step in [1, 2, 3, 7, 13, 64, 1000, 4096, stream.len()] {
        let events = decode_all(&stream, step, 1 << 20).expect("valid");
        assert_eq!(
            events,
            vec![
                Event::Binary(Bytes::from(want.clone())),
                Event::Ping(Bytes::from_static(b"are you there")),
                Event::Binary(Bytes::from_static(b"mented")),
                Event::Pong,
                Event::Close(Some(1000)),
            ],
            "step {step}"
        );
    }
}

#[test]
fn unmasking_a_word_at_a_time_matches_a_byte_at_a_time() {
    for len in 0..40 {
        for phase in 0..4 {
            let data = pattern(len);
            let mut fast = data.clone();
            unmask(&mut fast, MASK, phase);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ MASK[(i + phase) % 4])
                .collect();
            assert_eq!(fast, slow, "len {len} phase {phase}");
        }
    }
}

#[test]
fn a_text_message_is_told_once_and_passed_over() {
    let mut stream = frame(false, 0x1, b"hello ");
    stream.extend(frame(true, 0x0, b"world"));
    stream.extend(frame(true, 0x2, b"after"));
    let events = decode_all(&stream, 3, 1024).expect("valid");
    assert_eq!(
        events,
        vec![Event::Text, Event::Binary(Bytes::from_static(b"after"))]
    );
}

/// A name, a stream, and the error it must give.
type Case = (&'static str, Vec<u8>, fn(&Error) -> bool);

#[test]
fn protocol_breaches_are_errors() {
    let unmasked = vec![0x82, 0x01, 0x00];
    let mut reserved = frame(true, 0x2, b"x");
    reserved[0] |= 0x40;
    let mut cases: Vec<Case> = vec![
        ("unmasked", unmasked, |e| matches!(e, Error::Unmasked)),
        ("reserved bit", reserved, |e| matches!(e, Error::Reserved)),
        ("opcode 3", frame(true, 0x3, b""), |e| {
            matches!(e, Error::Opcode(3))
        }),
        ("fragmented ping", frame(false, 0x9, b""), |e| {
            matches!(e, Error::Control)
        }),
        ("long ping", frame(true, 0x9, &[0; 126]), |e| {
            matches!(e, Error::Control)
        }),
        ("lone continuation", frame(true, 0x0, b"x"), |e| {
            matches!(e, Error::Fragment)
        }),
        ("close of one byte", frame(true, 0x8, &[3]), |e| {
            matches!(e, Error::Close)
        }),
        ("close 1005", frame(true, 0x8, &[0x03, 0xed]), |e| {
            matches!(e, Error::Close)
        }),
        ("close 999", frame(true, 0x8, &[0x03, 0xe7]), |e| {
            matches!(e, Error::Close)
        }),
        (
            "close reason not UTF-8",
            frame(true, 0x8, &[0x03, 0xe8, 0xff]),
            |e| matches!(e, Error::Close),
        ),
        ("too big", frame(true, 0x2, &[0; 2000]), |e| {
            matches!(e, Error::TooBig(1024))
        }),
    ];
    let mut nested = frame(false, 0x2, b"a");
    nested.extend(frame(true, 0x2, b"b"));
    cases.push(("message inside a message", nested, |e| {
        matches!(e, Error::Fragment)
    }));
    let mut fragments = frame(false, 0x2, &[0; 600]);
    fragments.extend(frame(true, 0x0, &[0; 600]));
    cases.push(("too big in fragments", fragments, |e| {
        matches!(e, Error::TooBig(1024))
    }));
    for (name, stream, expected) in cases {
        match decode_all(&stream, 1, 1024) {
            Err(error) => assert!(expected(&error), "{name}: {error}"),
            Ok(events) => panic!("{name}: decoded {events:?}"),
        }
    }
}

#[test]
fn a_huge_length_is_refused_before_anything_is_held() {
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&u64::MAX.to_be_bytes());
    header.extend_from_slice(&MASK);
    let mut decoder = Decoder::new(4 << 20);
    let mut buf = BytesMut::from(&header[..]);
    assert!(matches!(decoder.decode(&mut buf), Err(Error::TooBig(_))));
}

#[tokio::test]
async fn the_reader_holds_no_buffer_while_the_browser_is_quiet() {
    use tokio::io::AsyncWriteExt;
    let (near, mut far) = tokio::io::duplex(1 << 20);
    let mut reader = Reader::new(near, Bytes::from(frame(true, 0x2, b"early")), 1 << 20);
    assert_eq!(
        reader.next().await.expect("leftover"),
        Event::Binary(Bytes::from_static(b"early"))
    );
    let big = pattern(300_000);
    far.write_all(&frame(true, 0x2, &big)).await.expect("write");
    let mut got = Vec::new();
    while got.len() < big.len() {
        match reader.next().await.expect("frame") {
            Event::Binary(data) => got.extend_from_slice(&data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, big);
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), reader.next()).await;
    assert!(quiet.is_err(), "nothing more was sent");
    assert_eq!(reader.held(), 0, "a quiet browser costs no buffer");
    drop(far);
    assert!(matches!(reader.next().await, Err(Error::Eof)));
}
