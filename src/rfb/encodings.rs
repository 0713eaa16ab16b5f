//! The RFB encodings and pseudo-encodings the proxy can frame in a server's stream. No I/O.
//! The pixel formats that size their rectangles are [`super::pixel_format`]'s.
//!
//! A session whose server messages are framed (a clipboard that must not reach the browser)
//! offers the server only these: a rectangle in any other encoding has no length the proxy
//! could know without decoding it.

/// Raw pixels.
pub const RAW: i32 = 0;
/// CopyRect: a source position.
pub const COPY_RECT: i32 = 1;
/// RRE: a count, a background, sub-rectangles.
pub const RRE: i32 = 2;
/// Hextile: 16×16 tiles, each with a subencoding byte.
pub const HEXTILE: i32 = 5;
/// Zlib: a length-prefixed zlib stream of raw pixels.
pub const ZLIB: i32 = 6;
/// Tight: a compression-control byte, then a fill colour, JPEG or zlib data.
pub const TIGHT: i32 = 7;
/// ZRLE: length-prefixed.
pub const ZRLE: i32 = 16;
/// ZYWRLE: ZRLE's framing.
pub const ZYWRLE: i32 = 17;
/// Pseudo: the cursor shape (pixels and a bitmask).
pub const CURSOR: i32 = -239;
/// Pseudo: the framebuffer was resized; no data.
pub const DESKTOP_SIZE: i32 = -223;
/// Pseudo: the update has no more rectangles.
pub const LAST_RECT: i32 = -224;
/// Pseudo: QEMU's pointer type change; no data.
pub const QEMU_POINTER_TYPE: i32 = -257;
/// Pseudo: QEMU extended key events are supported; no data.
pub const QEMU_EXTENDED_KEY: i32 = -258;
/// Pseudo: QEMU audio is supported; no data.
pub const QEMU_AUDIO: i32 = -259;
/// Pseudo: QEMU keyboard LED state, one byte.
pub const QEMU_LED_STATE: i32 = -261;
/// Pseudo: the desktop's name, length-prefixed.
pub const DESKTOP_NAME: i32 = -307;
/// Pseudo: ExtendedDesktopSize, a screen count and 16 bytes per screen.
pub const EXTENDED_DESKTOP_SIZE: i32 = -308;
/// Pseudo: xvp (the server answers with xvp messages).
pub const XVP: i32 = -309;
/// Pseudo: Fence messages are supported.
pub const FENCE: i32 = -312;
/// Pseudo: continuous updates are supported.
pub const CONTINUOUS_UPDATES: i32 = -313;
/// Pseudo: extended mouse buttons; no data.
pub const EXTENDED_MOUSE_BUTTONS: i32 = -316;
/// Pseudo: VMware's LED state, four bytes.
pub const VMWARE_LED_STATE: i32 = 0x574d_5668;
/// Pseudo: the extended clipboard (its cut texts carry negative lengths and capabilities).
pub const EXTENDED_CLIPBOARD: i32 = 0xc0a1_e5ce_u32 as i32;

/// Whether the proxy can frame a rectangle in `encoding`, or `encoding` is a hint that never
/// appears as one (JPEG quality, compression level, subsampling).
pub fn frameable(encoding: i32) -> bool {
    matches!(
        encoding,
        RAW | COPY_RECT
            | RRE
            | HEXTILE
            | ZLIB
            | TIGHT
            | ZRLE
            | ZYWRLE
            | CURSOR
            | DESKTOP_SIZE
            | LAST_RECT
            | QEMU_POINTER_TYPE
            | QEMU_EXTENDED_KEY
            | QEMU_AUDIO
            | QEMU_LED_STATE
            | DESKTOP_NAME
            | EXTENDED_DESKTOP_SIZE
            | XVP
            | FENCE
            | CONTINUOUS_UPDATES
            | EXTENDED_MOUSE_BUTTONS
            | VMWARE_LED_STATE
    ) || hint(encoding)
}

/// Quality and compression levels (Tight's, and TurboVNC's fine quality and subsampling):
/// they tune the server's choice and never come back as rectangles.
fn hint(encoding: i32) -> bool {
    (-32..=-23).contains(&encoding)
        || (-256..=-247).contains(&encoding)
        || (-512..=-412).contains(&encoding)
        || (-768..=-763).contains(&encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_can_be_framed() {
        for encoding in [RAW, HEXTILE, TIGHT, ZRLE, CURSOR, LAST_RECT, -32, -247] {
            assert!(frameable(encoding), "{encoding}");
        }
        // JPEG, H.264, TightPNG, VMware's cursor, the extended clipboard.
        for encoding in [21, 50, -260, 0x574d_5664, EXTENDED_CLIPBOARD] {
            assert!(!frameable(encoding), "{encoding}");
        }
    }
}
