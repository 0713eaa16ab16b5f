//! What follows a rectangle header in each encoding the proxy frames, and the sizes inside
//! Hextile tiles and Tight rectangles. Pure functions of the header and the pixel format.

use crate::rfb::encodings as enc;
use crate::rfb::pixel_format::{FormatError, PixelSize};

/// Why the stream cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A server message type (or QEMU subtype) the framer does not know.
    #[error("unknown server message type {0}")]
    UnknownType(u16),
    /// A rectangle in an encoding the framer cannot size.
    #[error("a rectangle in encoding {0}, which cannot be framed")]
    Encoding(i32),
    /// A Tight rectangle with a compression type or filter Tight does not have.
    #[error("a Tight rectangle with control byte {0:#04x}")]
    Tight(u8),
    /// An update in a pixel format whose sizes are not certain (the server's own, when the
    /// browser asked for none on the allow-list).
    #[error("an update in a pixel format with {0}")]
    PixelFormat(FormatError),
}

/// What comes after a rectangle header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// This many bytes, known from the header.
    Bytes(u64),
    /// A four-byte length, then that many bytes (Zlib, ZRLE, ZYWRLE, DesktopName).
    Length,
    /// A four-byte sub-rectangle count, then the background and the sub-rectangles (RRE).
    RreCount,
    /// A four-byte screen count (one byte and padding), then 16 bytes a screen.
    Screens,
    /// Hextile tiles.
    Tiles,
    /// A Tight compression-control byte.
    Tight,
    /// No body, and no more rectangles in this update.
    LastRect,
}

/// The body of a `width` × `height` rectangle in `encoding`.
///
/// # Errors
/// An encoding the framer cannot size.
pub(super) fn body(
    encoding: i32,
    width: u32,
    height: u32,
    pixel: PixelSize,
) -> Result<Body, FrameError> {
    let area = u64::from(width) * u64::from(height);
    let bytes = u64::from(pixel.bytes);
    Ok(match encoding {
        enc::RAW => Body::Bytes(area * bytes),
        enc::COPY_RECT => Body::Bytes(4),
        enc::RRE => Body::RreCount,
        enc::HEXTILE => Body::Tiles,
        enc::ZLIB | enc::ZRLE | enc::ZYWRLE | enc::DESKTOP_NAME => Body::Length,
        enc::TIGHT => Body::Tight,
        // The cursor's pixels, then a bitmask padded to whole bytes a row.
        enc::CURSOR => Body::Bytes(area * bytes + u64::from(width.div_ceil(8)) * u64::from(height)),
        enc::LAST_RECT => Body::LastRect,
        enc::QEMU_LED_STATE => Body::Bytes(1),
        enc::VMWARE_LED_STATE => Body::Bytes(4),
        enc::EXTENDED_DESKTOP_SIZE => Body::Screens,
        enc::DESKTOP_SIZE
        | enc::QEMU_POINTER_TYPE
        | enc::QEMU_EXTENDED_KEY
        | enc::QEMU_AUDIO
        | enc::XVP
        | enc::FENCE
        | enc::CONTINUOUS_UPDATES
        | enc::EXTENDED_MOUSE_BUTTONS => Body::Bytes(0),
        other => return Err(FrameError::Encoding(other)),
    })
}

/// The bytes of a Hextile tile's background, foreground and count fields for subencoding
/// `flags` (the Raw bit unset).
pub(super) fn tile_fields(flags: u8, pixel: PixelSize) -> usize {
    let bytes = usize::from(pixel.bytes);
    let mut size = 0;
    if flags & 2 != 0 {
        size += bytes;
    }
    if flags & 4 != 0 {
        size += bytes;
    }
    if flags & 8 != 0 {
        size += 1;
    }
    size
}

/// The bytes of one Hextile sub-rectangle: coloured ones carry a pixel.
pub(super) fn subrect_size(flags: u8, pixel: PixelSize) -> u64 {
    if flags & 16 != 0 {
        u64::from(pixel.bytes) + 2
    } else {
        2
    }
}

/// What a Tight compression-control byte says comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TightNext {
    /// A fill colour: one Tight pixel.
    Fill,
    /// JPEG data behind a compact length.
    Jpeg,
    /// A filter id byte.
    Filter,
    /// Pixel data with the copy filter.
    Data,
}

/// The meaning of a Tight compression-control byte (its low four bits reset zlib streams).
///
/// # Errors
/// PNG and the undefined types: not Tight as the client was allowed to ask for it.
pub(super) fn tight_control(control: u8) -> Result<TightNext, FrameError> {
    Ok(match control >> 4 {
        8 => TightNext::Fill,
        9 => TightNext::Jpeg,
        kind if kind & 8 != 0 => return Err(FrameError::Tight(control)),
        kind if kind & 4 != 0 => TightNext::Filter,
        _ => TightNext::Data,
    })
}

/// The uncompressed size of a basic Tight rectangle's pixel data: `palette` colours (0 for
/// none) of one byte each, one bit each for two, else Tight pixels.
pub(super) fn tight_size(width: u32, height: u32, palette: u32, pixel: PixelSize) -> u64 {
    let (width, height) = (u64::from(width), u64::from(height));
    match palette {
        0 => width * height * u64::from(pixel.tight),
        2 => width.div_ceil(8) * height,
        _ => width * height,
    }
}

/// Below this many bytes Tight sends pixel data as it is, without a length or zlib.
pub(super) const TIGHT_MIN_TO_COMPRESS: u64 = 12;
