use super::*;

/// A stream under construction, with what a clipboard filter must keep of it.
#[derive(Default)]
struct Stream {
    all: Vec<u8>,
    kept: Vec<u8>,
}

impl Stream {
    fn keep(&mut self, bytes: &[u8]) -> &mut Self {
        self.all.extend_from_slice(bytes);
        self.kept.extend_from_slice(bytes);
        self
    }

    fn cut_text(&mut self, text: &[u8], extended: bool) -> &mut Self {
        let length = i32::try_from(text.len()).expect("short");
        let length = if extended { -length } else { length };
        self.all.extend_from_slice(&[3, 0, 0, 0]);
        self.all.extend_from_slice(&length.to_be_bytes());
        self.all.extend_from_slice(text);
        self
    }

    fn rect(&mut self, width: u16, height: u16, encoding: i32, body: &[u8]) -> &mut Self {
        let mut header = vec![0, 1, 0, 2];
        header.extend_from_slice(&width.to_be_bytes());
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&encoding.to_be_bytes());
        self.keep(&header).keep(body)
    }
}

fn u32_be(value: usize) -> Vec<u8> {
    u32::try_from(value).expect("fits").to_be_bytes().to_vec()
}

const RGB888: [u8; 16] = [32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0];

fn server_init(format: [u8; 16]) -> Vec<u8> {
    [&[2, 128, 1, 224][..], &format, &[0, 0, 0, 2], b"vm"].concat()
}

/// Every message and encoding the framer knows, with two clipboard texts among them.
fn everything() -> Stream {
    use crate::rfb::encodings as enc;
    let mut s = Stream::default();
    s.keep(&server_init(RGB888));
    s.keep(&[0, 0, 0, 15]);
    s.rect(2, 2, enc::RAW, &[7; 16]);
    s.rect(9, 9, enc::COPY_RECT, &[0, 1, 0, 2]);
    s.rect(
        8,
        8,
        enc::RRE,
        &[&[0, 0, 0, 2][..], &[1; 4], &[2; 24]].concat(),
    );
    // 20×17: four tiles. Raw; background, foreground and two plain sub-rectangles; one
    // coloured sub-rectangle; nothing (the background goes on).
    let hextile = [
        &[1][..],
        &[3; 16 * 16 * 4],
        &[2 | 4 | 8],
        &[5; 4],
        &[6; 4],
        &[2],
        &[9; 4],
        &[8 | 16, 1],
        &[4; 6],
        &[0],
    ]
    .concat();
    s.rect(20, 17, enc::HEXTILE, &hextile);
    s.rect(4, 4, enc::ZRLE, &[&u32_be(5)[..], &[1; 5]].concat());
    s.rect(64, 64, enc::TIGHT, &[0x80, 1, 2, 3]);
    s.rect(
        64,
        64,
        enc::TIGHT,
        &[&[0x90, 0xc8, 0x01][..], &[4; 200]].concat(),
    );
    s.rect(
        16,
        2,
        enc::TIGHT,
        &[0x40, 1, 1, 1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd],
    );
    s.rect(
        10,
        10,
        enc::TIGHT,
        &[&[0x40, 1, 4][..], &[8; 15], &[0x64], &[5; 100]].concat(),
    );
    s.rect(1, 1, enc::TIGHT, &[0x00, 1, 2, 3]);
    let long = 20_000usize;
    let compact = [
        0x80 | (long & 0x7f) as u8,
        0x80 | ((long >> 7) & 0x7f) as u8,
        (long >> 14) as u8,
    ];
    s.rect(
        4,
        4,
        enc::TIGHT,
        &[&[0x40, 2][..], &compact, &vec![6; long]].concat(),
    );
    s.rect(3, 2, enc::CURSOR, &[&[1; 24][..], &[0x80, 0x40]].concat());
    s.rect(
        0,
        0,
        enc::EXTENDED_DESKTOP_SIZE,
        &[&[1, 0, 0, 0][..], &[2; 16]].concat(),
    );
    s.rect(0, 0, enc::DESKTOP_NAME, &[&u32_be(3)[..], b"abc"].concat());
    s.rect(0, 0, enc::QEMU_LED_STATE, &[4]);
    s.cut_text(b"the guest's secret", false);
    s.keep(&[2]);
    s.keep(&[&[1, 0, 0, 0, 0, 2][..], &[7; 12]].concat());
    s.keep(&[248, 0, 0, 0, 0, 0, 0, 1, 3, 9, 9, 9]);
    s.keep(&[250, 0, 1, 1]);
    s.keep(&[255, 1, 0, 1]);
    s.keep(&[&[255, 1, 0, 2][..], &u32_be(5), &[3; 5]].concat());
    s.keep(&[0, 0, 0xff, 0xff]);
    s.rect(1, 1, enc::RAW, &[1; 4]);
    s.rect(0, 0, enc::LAST_RECT, &[]);
    s.cut_text(&[0, 0, 0, 1], true);
    s.cut_text(b"", false);
    s.keep(&[0, 0, 0, 1]);
    s.rect(640, 480, enc::DESKTOP_SIZE, &[]);
    s.keep(&[150, 2]);
    s
}

/// What a clipboard filter keeps of `stream` fed in chunks of `size`.
fn kept(stream: &[u8], size: usize) -> Result<Vec<u8>, FrameError> {
    let mut framer = ServerFramer::new();
    let mut kept = Vec::new();
    for chunk in stream.chunks(size) {
        let mut at = 0;
        while at < chunk.len() {
            let span = framer.consume(&chunk[at..])?;
            assert!(span.len > 0 && at + span.len <= chunk.len());
            if !span.cut_text {
                kept.extend_from_slice(&chunk[at..at + span.len]);
            }
            at += span.len;
        }
    }
    assert!(framer.at_message(), "the stream ends between messages");
    Ok(kept)
}

/// Frames all of `bytes`, none of them a cut text.
fn feed(framer: &mut ServerFramer, bytes: &[u8]) {
    let mut at = 0;
    while at < bytes.len() {
        let span = framer.consume(&bytes[at..]).expect("framed");
        assert!(!span.cut_text);
        at += span.len;
    }
}

#[test]
fn every_message_and_encoding_is_framed_in_any_chunks() {
    let stream = everything();
    for size in (1..64).chain([1000, 4096, stream.all.len()]) {
        assert_eq!(
            kept(&stream.all, size),
            Ok(stream.kept.clone()),
            "chunks of {size}"
        );
    }
}

#[test]
fn a_sixteen_bit_format_sizes_pixels_and_tight_pixels_at_two_bytes() {
    use crate::rfb::encodings as enc;
    let rgb565 = [16, 16, 0, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0];
    let mut s = Stream::default();
    s.keep(&server_init(rgb565)).keep(&[0, 0, 0, 2]);
    s.rect(2, 2, enc::RAW, &[1; 8]);
    s.rect(1, 1, enc::TIGHT, &[0x80, 1, 2]);
    s.cut_text(b"x", false);
    assert_eq!(kept(&s.all, 3), Ok(s.kept.clone()));

    // The client's SetPixelFormat switches a 32-bit server to 16 bits for what follows.
    let mut framer = ServerFramer::new();
    let init = server_init(RGB888);
    feed(&mut framer, &init);
    assert!(framer.at_message());
    framer.set_pixel(PixelSize { bytes: 2, tight: 2 });
    let mut update = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0];
    update.extend_from_slice(&[1; 8]);
    feed(&mut framer, &update);
    assert!(framer.at_message());
}

#[test]
fn what_cannot_be_framed_ends_the_stream() {
    let init = server_init(RGB888);
    let refused = |tail: &[u8]| kept(&[&init[..], tail].concat(), 1).err();
    assert_eq!(refused(&[7]), Some(FrameError::UnknownType(7)));
    assert_eq!(
        refused(&[255, 9, 0, 0]),
        Some(FrameError::UnknownType(0xff09))
    );
    // JPEG, which the client is never allowed to ask for.
    let jpeg = [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 21];
    assert_eq!(refused(&jpeg), Some(FrameError::Encoding(21)));
    let png = [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 7, 0xa0];
    assert_eq!(refused(&png), Some(FrameError::Tight(0xa0)));
    let filter = [0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 7, 0x40, 3];
    assert_eq!(refused(&filter), Some(FrameError::Tight(3)));
    // A server whose own format is off the allow-list: its ServerInit and other messages
    // frame, its first update does not.
    let mut odd = RGB888;
    odd[10..13].copy_from_slice(&[24, 9, 0]);
    let update = [0, 0, 0, 1];
    assert_eq!(kept(&server_init(odd), 5).map(|k| k.len()), Ok(26));
    assert_eq!(
        kept(&[&server_init(odd)[..], &[2], &update].concat(), 5).err(),
        Some(FrameError::PixelFormat(FormatError::Ambiguous))
    );
    odd[0] = 24;
    assert_eq!(
        kept(&[&server_init(odd)[..], &update].concat(), 5).err(),
        Some(FrameError::PixelFormat(FormatError::BitsPerPixel(24)))
    );
    // Once the client asked for a format on the list, updates frame in it.
    let mut framer = ServerFramer::new();
    feed(&mut framer, &server_init(odd));
    framer.set_pixel(PixelSize { bytes: 4, tight: 3 });
    feed(&mut framer, &[0, 0, 0, 0]);
    assert!(framer.at_message());
}

#[test]
fn a_huge_cut_text_is_passed_over_without_holding_it() {
    let mut framer = ServerFramer::new();
    let init = server_init(RGB888);
    feed(&mut framer, &init);
    let header = [3, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff];
    assert_eq!(
        framer.consume(&header[..1]),
        Ok(Span {
            len: 1,
            cut_text: true
        })
    );
    assert_eq!(
        framer.consume(&header[1..]),
        Ok(Span {
            len: 7,
            cut_text: true
        })
    );
    let body = vec![0u8; 1 << 16];
    assert_eq!(
        framer.consume(&body),
        Ok(Span {
            len: 1 << 16,
            cut_text: true
        })
    );
    assert!(!framer.at_message());
}
