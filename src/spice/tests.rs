use super::*;

use super::testing::mini;

/// A link header and message as spice-html5 sends them (AUTH_SELECTION and MINI_HEADER in
/// its tests' `caps`).
fn link(channel_type: u8, caps: u32) -> Vec<u8> {
    super::testing::link_message(channel_type, caps)
}

/// What each byte of `stream` is, fed in chunks of `size`.
fn parts(stream: &[u8], size: usize) -> Result<Vec<(usize, Part)>, Error> {
    let mut framer = ClientFramer::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(size) {
        let mut at = 0;
        while at < chunk.len() {
            let span = framer.consume(&chunk[at..])?;
            assert!(span.len > 0 && at + span.len <= chunk.len());
            out.push((span.len, span.part));
            at += span.len;
        }
    }
    Ok(out)
}

/// The bytes of the link and of each message (header and body), whatever the chunking.
fn bytes_by_message(stream: &[u8], size: usize) -> Vec<(Option<u16>, usize)> {
    let mut totals: Vec<(Option<u16>, usize)> = Vec::new();
    let mut header = 0;
    for (len, part) in parts(stream, size).expect("framed") {
        match part {
            Part::Header(None) => header += len,
            Part::Header(Some(kind)) => {
                totals.push((Some(kind), std::mem::take(&mut header) + len))
            }
            Part::Link | Part::Body(_) => {
                let kind = match part {
                    Part::Body(kind) => Some(kind),
                    _ => None,
                };
                match totals.last_mut() {
                    Some((last, total)) if *last == kind => *total += len,
                    _ => totals.push((kind, len)),
                }
            }
        }
    }
    totals
}

#[test]
fn a_spice_html5_channel_frames_alike_in_any_chunks() {
    let stream = [
        link(channel::MAIN, CAP_AUTH_SELECTION | CAP_MINI_HEADER),
        AUTH_SPICE.to_le_bytes().to_vec(),
        vec![9; 128],
        mini(101, &[1, 2, 3, 4]),
        mini(MAIN_AGENT_DATA, &[5; 40]),
        mini(3, &[]),
        mini(106, &[1, 0, 0, 0]),
    ]
    .concat();
    let expected = vec![
        (None, 16 + 22 + 4 + 128),
        (Some(101), 10),
        (Some(MAIN_AGENT_DATA), 46),
        (Some(3), 6),
        (Some(106), 10),
    ];
    for size in 1..=stream.len() {
        assert_eq!(
            bytes_by_message(&stream, size),
            expected,
            "chunks of {size}"
        );
    }
    let mut framer = ClientFramer::new();
    let mut at = 0;
    while framer.link().is_none() {
        at += framer.consume(&stream[at..]).expect("framed").len;
    }
    let link = framer.link().expect("read");
    assert_eq!((link.connection_id, link.channel_type), (7, channel::MAIN));
}

#[test]
fn without_mini_header_or_auth_selection_the_full_forms_frame() {
    let mut full = vec![0u8; 8];
    full.extend_from_slice(&MAIN_AGENT_DATA.to_le_bytes());
    full.extend_from_slice(&3u32.to_le_bytes());
    full.extend_from_slice(&0u32.to_le_bytes());
    full.extend_from_slice(&[1, 2, 3]);
    let stream = [link(channel::MAIN, 0), vec![9; 128], full].concat();
    assert_eq!(
        bytes_by_message(&stream, 5),
        vec![(None, 16 + 22 + 128), (Some(MAIN_AGENT_DATA), 21)]
    );
}

#[test]
fn what_cannot_be_framed_ends_the_channel() {
    let mut bad = link(channel::MAIN, CAP_AUTH_SELECTION);
    bad[0] = b'X';
    assert_eq!(parts(&bad, 100).err(), Some(Error::Magic));
    let mut huge = link(channel::MAIN, 0);
    huge[12..16].copy_from_slice(&100_000u32.to_le_bytes());
    assert_eq!(parts(&huge, 100).err(), Some(Error::LinkSize(100_000)));
    let mut outside = link(channel::MAIN, 0);
    outside[16 + 14..16 + 18].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(parts(&outside, 100).err(), Some(Error::Capabilities));
    let sasl = [
        link(channel::MAIN, CAP_AUTH_SELECTION),
        2u32.to_le_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(parts(&sasl, 3).err(), Some(Error::Mechanism(2)));
}
