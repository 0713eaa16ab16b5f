//! Which pixel formats a restricted session may use, and the sizes that frame their rectangles.
//! No I/O.
//!
//! The size of a Tight pixel (TPIXEL) is where servers part ways: each decides for itself when
//! a 32-bit pixel goes on the wire in three bytes, and a framer that guesses differently from
//! the server reads pixel bytes as message types, which can carry a clipboard text past the
//! filter as the payload of an invented message. So the framer does not guess: it accepts only
//! the formats on which every server's own rule ([`rules`]) gives the same sizes, the formats
//! noVNC and the common viewers send, and refuses the rest.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

/// What a pixel format means for framing: the bytes of a pixel, and of a Tight pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelSize {
    /// Bytes per pixel: 1, 2 or 4.
    pub bytes: u8,
    /// Bytes per Tight pixel (TPIXEL): 3 for 24-bit true colour in 32 bits, else `bytes`.
    pub tight: u8,
}

/// Why a pixel format is refused for a framed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// A bits-per-pixel RFB does not allow.
    #[error("{0} bits per pixel")]
    BitsPerPixel(u8),
    /// A colour map: QEMU refuses one, and no browser client asks for it.
    #[error("a colour map instead of true colour")]
    ColourMap,
    /// A depth outside 1 to the bits per pixel.
    #[error("depth {depth} in {bits} bits per pixel")]
    Depth {
        /// Bits per pixel.
        bits: u8,
        /// The depth.
        depth: u8,
    },
    /// A channel maximum that is not all ones, or channels that overlap or leave the pixel.
    #[error("colour channels that do not fit the pixel")]
    Channels,
    /// A format on which servers size Tight pixels differently.
    #[error("a Tight pixel size that differs between servers")]
    Ambiguous,
}

impl PixelSize {
    /// The sizes of a 16-byte PIXEL_FORMAT on the allow-list:
    /// - 32 bits, depth 24, 8 bits a channel on byte boundaries: Tight pixels of 3 bytes;
    /// - 16 bits, depth up to 16, channels of at most 6 bits: 2 bytes (RGB565, RGB555);
    /// - 8 bits, depth up to 8: 1 byte (noVNC's low-colour BGR222, BGR233).
    ///
    /// Each in true colour, with channels that are runs of ones inside the pixel and do not
    /// overlap. On each of these every server's rule agrees ([`rules`]).
    ///
    /// # Errors
    /// Any other format, with the reason.
    pub fn framed(format: &[u8; 16]) -> Result<Self, FormatError> {
        let [bits, depth, _big_endian, true_colour, ..] = *format;
        let bytes = match bits {
            8 => 1,
            16 => 2,
            32 => 4,
            other => return Err(FormatError::BitsPerPixel(other)),
        };
        if true_colour == 0 {
            return Err(FormatError::ColourMap);
        }
        if depth == 0 || depth > bits {
            return Err(FormatError::Depth { bits, depth });
        }
        let channels = Channels::of(format);
        let mask = channels.mask(bits).ok_or(FormatError::Channels)?;
        if mask.count_ones() > u32::from(depth) {
            return Err(FormatError::Channels);
        }
        if bytes < 4 {
            // No server sizes a Tight pixel below 32 bits other than as the pixel itself, as
            // long as the depth is not 24 (libvncserver looks at the depth alone).
            return match depth {
                24 => Err(FormatError::Ambiguous),
                _ => Ok(Self {
                    bytes,
                    tight: bytes,
                }),
            };
        }
        let byte_aligned = channels.shifts.iter().all(|shift| shift % 8 == 0);
        if depth == 24 && channels.maxima == [255; 3] && byte_aligned {
            Ok(Self { bytes, tight: 3 })
        } else {
            Err(FormatError::Ambiguous)
        }
    }

    /// Packed into 16 bits, for a cell shared between the two directions' filters.
    pub fn packed(self) -> u16 {
        u16::from(self.bytes) << 8 | u16::from(self.tight)
    }

    /// The inverse of [`Self::packed`]; `None` for zero (not set).
    pub fn unpacked(packed: u16) -> Option<Self> {
        let [bytes, tight] = packed.to_be_bytes();
        (bytes != 0).then_some(Self { bytes, tight })
    }
}

/// The three colour channels of a pixel format.
struct Channels {
    maxima: [u16; 3],
    shifts: [u8; 3],
}

impl Channels {
    fn of(format: &[u8; 16]) -> Self {
        let max = |at: usize| u16::from_be_bytes([format[at], format[at + 1]]);
        Self {
            maxima: [max(4), max(6), max(8)],
            shifts: [format[10], format[11], format[12]],
        }
    }

    /// The bits the channels take, when each is a run of ones inside `bits` and none overlaps.
    fn mask(&self, bits: u8) -> Option<u32> {
        let mut taken = 0u32;
        for (max, shift) in self.maxima.iter().zip(self.shifts) {
            let max = u32::from(*max);
            // A maximum is 2^n − 1 with n ≥ 1.
            if max == 0 || max & (max + 1) != 0 {
                return None;
            }
            let width = 32 - max.leading_zeros();
            if u32::from(shift) + width > u32::from(bits) {
                return None;
            }
            let channel = max << shift;
            if taken & channel != 0 {
                return None;
            }
            taken |= channel;
        }
        Some(taken)
    }
}

/// Each server's own rule for the size of a Tight pixel, as its source states it; the
/// allow-list is checked against all of them (tests, the `rfb_pixel_formats` fuzz target).
pub mod rules {
    fn max(format: &[u8; 16], at: usize) -> u16 {
        u16::from_be_bytes([format[at], format[at + 1]])
    }

    fn all_255(format: &[u8; 16]) -> bool {
        [4, 6, 8].iter().all(|&at| max(format, at) == 255)
    }

    fn bytes(format: &[u8; 16]) -> u8 {
        format[0] / 8
    }

    /// TigerVNC (`PixelFormat::is888`): true colour, 32 bits, depth 24, 255 a channel, shifts
    /// on byte boundaries.
    pub fn tigervnc(format: &[u8; 16]) -> u8 {
        let shifts = format[10..13].iter().all(|shift| shift % 8 == 0);
        if format[3] != 0 && format[0] == 32 && format[1] == 24 && all_255(format) && shifts {
            3
        } else {
            bytes(format)
        }
    }

    /// QEMU (`tight_send_framebuffer_update`): 4 bytes a pixel and 255 a channel, whatever
    /// the depth and shifts.
    pub fn qemu(format: &[u8; 16]) -> u8 {
        if format[0] == 32 && all_255(format) {
            3
        } else {
            bytes(format)
        }
    }

    /// libvncserver (`rfbSendRectEncodingTight`): depth 24 and 255 a channel, whatever the
    /// bits per pixel.
    pub fn libvncserver(format: &[u8; 16]) -> u8 {
        if format[1] == 24 && all_255(format) {
            3
        } else {
            bytes(format)
        }
    }

    /// One server's rule: the Tight pixel size of a 16-byte PIXEL_FORMAT.
    pub type Rule = fn(&[u8; 16]) -> u8;

    /// Every rule, by server.
    pub const ALL: [(&str, Rule); 3] = [
        ("TigerVNC", tigervnc),
        ("QEMU", qemu),
        ("libvncserver", libvncserver),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A true-colour format: bits, depth, maxima, shifts.
    fn format(bits: u8, depth: u8, maxima: [u16; 3], shifts: [u8; 3]) -> [u8; 16] {
        let mut f = [0u8; 16];
        f[0] = bits;
        f[1] = depth;
        f[3] = 1;
        for (i, max) in maxima.iter().enumerate() {
            f[4 + 2 * i..6 + 2 * i].copy_from_slice(&max.to_be_bytes());
        }
        f[10..13].copy_from_slice(&shifts);
        f
    }

    /// What the browsers and viewers send: noVNC's 32-bit and low-colour formats, QEMU's and
    /// Xvnc's native ones, RGB565 and RGB555.
    fn common() -> Vec<([u8; 16], PixelSize)> {
        let four = PixelSize { bytes: 4, tight: 3 };
        vec![
            (format(32, 24, [255; 3], [0, 8, 16]), four),
            (format(32, 24, [255; 3], [16, 8, 0]), four),
            (format(32, 24, [255; 3], [24, 16, 8]), four),
            (
                format(16, 16, [31, 63, 31], [11, 5, 0]),
                PixelSize { bytes: 2, tight: 2 },
            ),
            (
                format(16, 15, [31, 31, 31], [10, 5, 0]),
                PixelSize { bytes: 2, tight: 2 },
            ),
            (
                format(8, 8, [7, 7, 3], [0, 3, 6]),
                PixelSize { bytes: 1, tight: 1 },
            ),
            (
                format(8, 6, [3, 3, 3], [0, 2, 4]),
                PixelSize { bytes: 1, tight: 1 },
            ),
        ]
    }

    #[test]
    fn the_formats_viewers_send_are_framed() {
        for (f, size) in common() {
            assert_eq!(PixelSize::framed(&f), Ok(size), "{f:?}");
            for (server, rule) in rules::ALL {
                assert_eq!(rule(&f), size.tight, "{server} on {f:?}");
            }
        }
        let size = PixelSize { bytes: 4, tight: 3 };
        assert_eq!(PixelSize::unpacked(size.packed()), Some(size));
        assert_eq!(PixelSize::unpacked(0), None);
    }

    #[test]
    fn formats_servers_disagree_on_or_rfb_forbids_are_refused() {
        // The format of the finding: TigerVNC sends 4 bytes, the old rule read 3.
        let shifted = format(32, 24, [255; 3], [24, 9, 0]);
        assert_eq!(PixelSize::framed(&shifted), Err(FormatError::Ambiguous));
        // QEMU sends 3 bytes at depth 32, TigerVNC and libvncserver 4.
        let deep = format(32, 32, [255; 3], [16, 8, 0]);
        assert_eq!(PixelSize::framed(&deep), Err(FormatError::Ambiguous));
        // libvncserver sends 3 bytes at depth 24 in 16 bits.
        let mut odd16 = format(16, 16, [31, 63, 31], [11, 5, 0]);
        odd16[1] = 24;
        assert!(PixelSize::framed(&odd16).is_err());
        let mut colour_map = format(8, 8, [7, 7, 3], [0, 3, 6]);
        colour_map[3] = 0;
        assert_eq!(PixelSize::framed(&colour_map), Err(FormatError::ColourMap));
        let mut twenty_four = format(32, 24, [255; 3], [16, 8, 0]);
        twenty_four[0] = 24;
        assert_eq!(
            PixelSize::framed(&twenty_four),
            Err(FormatError::BitsPerPixel(24))
        );
        for bad in [
            format(32, 24, [254, 255, 255], [16, 8, 0]),
            format(32, 24, [255; 3], [16, 12, 0]),
            format(32, 24, [255; 3], [28, 8, 0]),
            format(16, 16, [0, 63, 31], [11, 5, 0]),
            format(32, 16, [255; 3], [16, 8, 0]),
        ] {
            assert!(PixelSize::framed(&bad).is_err(), "{bad:?}");
        }
    }

    /// Every format the allow-list takes, over a sweep of depths, maxima and shifts: each
    /// server's rule gives the size the framer uses.
    #[test]
    fn every_server_agrees_on_every_format_that_is_framed() {
        let mut framed = 0;
        for bits in [8u8, 16, 32] {
            for depth in [6u8, 8, 12, 15, 16, 24, 32] {
                for max in [3u16, 7, 31, 63, 255] {
                    for shifts in [[0, 8, 16], [16, 8, 0], [24, 16, 8], [11, 5, 0], [10, 5, 0]] {
                        for true_colour in [0, 1] {
                            let mut f = format(bits, depth, [max; 3], shifts);
                            f[3] = true_colour;
                            if let Ok(size) = PixelSize::framed(&f) {
                                framed += 1;
                                assert_eq!(size.bytes, bits / 8);
                                for (server, rule) in rules::ALL {
                                    assert_eq!(rule(&f), size.tight, "{server} on {f:?}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(framed > 10, "the sweep framed only {framed} formats");
    }
}
