//! The framer's state: what it gathers, what it skips, and the rectangle in progress.

/// What the bytes gathered in `scratch` are, once there are enough of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    ServerInit,
    Type,
    UpdateHeader,
    RectHeader,
    ColourMap,
    CutText,
    Fence,
    Xvp,
    Qemu,
    MessageLength,
    RectLength,
    ScreenCount,
    RreCount,
    TileSubencoding,
    TileFields,
    TightControl,
    TightFilter,
    TightPalette,
    CompactLength,
}

/// Where the stream goes after bytes are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    Message,
    Rect,
    Tile,
    TightData,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum State {
    /// Gathering `want` bytes of `field`.
    Gather { field: Field, want: usize },
    /// Passing `left` bytes over.
    Skip { left: u64, then: Then },
}

/// A rectangle being framed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Rect {
    pub(super) width: u32,
    pub(super) height: u32,
    /// Hextile: the next tile's position.
    pub(super) tile_x: u32,
    pub(super) tile_y: u32,
    /// Hextile: the subencoding of the tile whose fields are gathered.
    pub(super) tile_flags: u8,
    /// Tight: the palette size (0: no palette).
    pub(super) palette: u32,
    /// Tight: the compact length read so far, and how many of its bytes.
    pub(super) compact: u32,
    pub(super) compact_bytes: u8,
}
