//! The console server's RFB stream from ServerInit on, framed as it goes past without I/O and
//! without holding it: [`ServerFramer::consume`] says how many of the next bytes belong together
//! and whether they are a ServerCutText message, which a clipboard policy drops.
//!
//! Rectangles are framed by their encoding's rules ([`super::encodings`]), by length prefixes
//! where the encoding has them and by walking the tiles and sub-rectangles where it does not;
//! pixels are never decoded. Anything the framer cannot size (an unknown message type, an
//! encoding the client was not allowed to ask for) is an error: the session ends rather than
//! guess, since a wrong guess could pass a clipboard text as pixels.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

mod rectangle;
mod state;

use super::pixel_format::{FormatError, PixelSize};
use rectangle::{Body, TightNext};
use state::{Field, Rect, State, Then};

pub use rectangle::FrameError;

/// A run of bytes that belong together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// How many of the bytes given.
    pub len: usize,
    /// Whether they are (part of) a ServerCutText message.
    pub cut_text: bool,
}

/// The framer of one server stream.
#[derive(Debug)]
pub struct ServerFramer {
    state: State,
    scratch: [u8; 24],
    have: usize,
    pixel: PixelSize,
    /// Why the server's own format (ServerInit) cannot size updates, until the client asks for
    /// one that can.
    unframed: Option<FormatError>,
    /// Rectangles left in the current update (`u16::MAX` counts down until LastRect too).
    rects_left: u16,
    rect: Rect,
    /// Whether the bytes in progress are a ServerCutText's.
    cut_text: bool,
}

impl Default for ServerFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerFramer {
    /// A framer at the start of ServerInit.
    pub fn new() -> Self {
        Self {
            state: State::Gather {
                field: Field::ServerInit,
                want: 24,
            },
            scratch: [0; 24],
            have: 0,
            pixel: PixelSize { bytes: 4, tight: 3 },
            unframed: None,
            rects_left: 0,
            rect: Rect::default(),
            cut_text: false,
        }
    }

    /// Whether the framer is between messages: the next byte is a message type.
    pub fn at_message(&self) -> bool {
        matches!(
            self.state,
            State::Gather {
                field: Field::Type,
                ..
            }
        ) && self.have == 0
    }

    /// Takes the client's pixel format (SetPixelFormat) for the updates that follow.
    pub fn set_pixel(&mut self, pixel: PixelSize) {
        self.pixel = pixel;
        self.unframed = None;
    }

    /// Frames the start of `input`: at least one byte when there is one.
    ///
    /// # Errors
    /// The stream cannot be framed; nothing after it can be either.
    pub fn consume(&mut self, input: &[u8]) -> Result<Span, FrameError> {
        if input.is_empty() {
            return Ok(Span {
                len: 0,
                cut_text: self.cut_text,
            });
        }
        let cut_text = self.cut_text;
        let len = match self.state {
            State::Skip { left, then } => {
                let len = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let left = left - len as u64;
                self.state = State::Skip { left, then };
                if left == 0 {
                    self.after_skip(then)?;
                }
                len
            }
            State::Gather { field, want } => {
                let len = (want - self.have).min(input.len());
                self.scratch[self.have..self.have + len].copy_from_slice(&input[..len]);
                self.have += len;
                if self.have == want {
                    self.have = 0;
                    self.gathered(field)?;
                }
                len
            }
        };
        // A cut text that ends here or starts here (its type byte) claims these bytes.
        Ok(Span {
            len,
            cut_text: cut_text || self.cut_text,
        })
    }

    fn gather(&mut self, field: Field, want: usize) {
        self.state = State::Gather { field, want };
    }

    fn skip(&mut self, left: u64, then: Then) -> Result<(), FrameError> {
        if left == 0 {
            return self.after_skip(then);
        }
        self.state = State::Skip { left, then };
        Ok(())
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.scratch[at], self.scratch[at + 1]])
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.scratch[at],
            self.scratch[at + 1],
            self.scratch[at + 2],
            self.scratch[at + 3],
        ])
    }

    fn next_message(&mut self) {
        self.cut_text = false;
        self.gather(Field::Type, 1);
    }

    fn gathered(&mut self, field: Field) -> Result<(), FrameError> {
        let bytes = u64::from(self.pixel.bytes);
        match field {
            Field::ServerInit => self.server_init()?,
            Field::Type => self.message(self.scratch[0])?,
            Field::UpdateHeader => {
                self.rects_left = self.u16_at(1);
                self.after_skip(Then::Rect)?;
            }
            Field::RectHeader => self.rect_header()?,
            Field::ColourMap => self.skip(6 * u64::from(self.u16_at(3)), Then::Message)?,
            Field::CutText => {
                // The extended clipboard form negates the length.
                let length = i32::from_be_bytes(self.u32_at(3).to_be_bytes());
                self.skip(u64::from(length.unsigned_abs()), Then::Message)?;
            }
            Field::Fence => self.skip(u64::from(self.scratch[7]), Then::Message)?,
            Field::Xvp => self.next_message(),
            Field::Qemu => match (self.scratch[0], self.u16_at(1)) {
                // Audio: end and begin of a stream, or data with a length.
                (1, 0 | 1) => self.next_message(),
                (1, 2) => self.gather(Field::MessageLength, 4),
                (sub, _) => return Err(FrameError::UnknownType(0xff00 | u16::from(sub))),
            },
            Field::MessageLength => self.skip(u64::from(self.u32_at(0)), Then::Message)?,
            Field::RectLength => self.skip(u64::from(self.u32_at(0)), Then::Rect)?,
            Field::ScreenCount => self.skip(16 * u64::from(self.scratch[0]), Then::Rect)?,
            Field::RreCount => {
                let count = u64::from(self.u32_at(0));
                self.skip(bytes + count * (bytes + 8), Then::Rect)?;
            }
            Field::TileSubencoding => self.tile(self.scratch[0])?,
            Field::TileFields => self.tile_fields()?,
            Field::TightControl => self.tight_control(self.scratch[0])?,
            Field::TightFilter => match self.scratch[0] {
                0 | 2 => self.tight_data()?,
                1 => self.gather(Field::TightPalette, 1),
                other => return Err(FrameError::Tight(other)),
            },
            Field::TightPalette => {
                let colours = u32::from(self.scratch[0]) + 1;
                self.rect.palette = colours;
                self.skip(
                    u64::from(colours) * u64::from(self.pixel.tight),
                    Then::TightData,
                )?;
            }
            Field::CompactLength => self.compact_length()?,
        }
        Ok(())
    }

    /// ServerInit's pixel format and the length of the desktop name that follows.
    fn server_init(&mut self) -> Result<(), FrameError> {
        let mut format = [0; 16];
        format.copy_from_slice(&self.scratch[4..20]);
        // A server's own format off the allow-list is fine until an update comes in it.
        match PixelSize::framed(&format) {
            Ok(pixel) => self.pixel = pixel,
            Err(error) => self.unframed = Some(error),
        }
        self.skip(u64::from(self.u32_at(20)), Then::Message)
    }

    /// A Hextile tile's fields: the last gathered byte is the sub-rectangle count.
    fn tile_fields(&mut self) -> Result<(), FrameError> {
        let flags = self.rect.tile_flags;
        let count = u64::from(self.scratch[rectangle::tile_fields(flags, self.pixel) - 1]);
        self.skip(
            count * rectangle::subrect_size(flags, self.pixel),
            Then::Tile,
        )
    }

    /// One byte of Tight's compact length: seven bits a byte, the high bit says another
    /// follows; the third has eight.
    fn compact_length(&mut self) -> Result<(), FrameError> {
        let byte = u32::from(self.scratch[0]);
        let shift = 7 * u32::from(self.rect.compact_bytes);
        self.rect.compact_bytes += 1;
        if self.rect.compact_bytes == 3 {
            self.rect.compact |= byte << shift;
        } else {
            self.rect.compact |= (byte & 0x7f) << shift;
            if byte & 0x80 != 0 {
                self.gather(Field::CompactLength, 1);
                return Ok(());
            }
        }
        self.skip(u64::from(self.rect.compact), Then::Rect)
    }

    fn message(&mut self, kind: u8) -> Result<(), FrameError> {
        match kind {
            0 => match self.unframed {
                Some(error) => return Err(FrameError::PixelFormat(error)),
                None => self.gather(Field::UpdateHeader, 3),
            },
            1 => self.gather(Field::ColourMap, 5),
            2 | 150 => self.next_message(),
            3 => {
                self.cut_text = true;
                self.gather(Field::CutText, 7);
            }
            248 => self.gather(Field::Fence, 8),
            250 => self.gather(Field::Xvp, 3),
            255 => self.gather(Field::Qemu, 3),
            other => return Err(FrameError::UnknownType(u16::from(other))),
        }
        Ok(())
    }

    fn rect_header(&mut self) -> Result<(), FrameError> {
        let (width, height) = (u32::from(self.u16_at(4)), u32::from(self.u16_at(6)));
        let encoding = i32::from_be_bytes([
            self.scratch[8],
            self.scratch[9],
            self.scratch[10],
            self.scratch[11],
        ]);
        self.rect = Rect {
            width,
            height,
            ..Rect::default()
        };
        match rectangle::body(encoding, width, height, self.pixel)? {
            Body::Bytes(count) => self.skip(count, Then::Rect)?,
            Body::Length => self.gather(Field::RectLength, 4),
            Body::RreCount => self.gather(Field::RreCount, 4),
            Body::Screens => self.gather(Field::ScreenCount, 4),
            Body::Tiles => self.next_tile()?,
            Body::Tight => self.gather(Field::TightControl, 1),
            Body::LastRect => {
                self.rects_left = 0;
                self.next_message();
            }
        }
        Ok(())
    }

    /// The next Hextile tile, or the next rectangle after the last tile.
    fn next_tile(&mut self) -> Result<(), FrameError> {
        if self.rect.tile_y >= self.rect.height || self.rect.width == 0 {
            return self.after_skip(Then::Rect);
        }
        self.gather(Field::TileSubencoding, 1);
        Ok(())
    }

    fn tile(&mut self, flags: u8) -> Result<(), FrameError> {
        let rect = self.rect;
        let tile_width = (rect.width - rect.tile_x).min(16);
        let tile_height = (rect.height - rect.tile_y).min(16);
        // The tile after this one, left to right, top to bottom.
        self.rect.tile_x += 16;
        if self.rect.tile_x >= rect.width {
            self.rect.tile_x = 0;
            self.rect.tile_y += 16;
        }
        if flags & 1 != 0 {
            let pixels = u64::from(tile_width) * u64::from(tile_height);
            return self.skip(pixels * u64::from(self.pixel.bytes), Then::Tile);
        }
        let fields = rectangle::tile_fields(flags, self.pixel);
        if flags & 8 == 0 {
            return self.skip(fields as u64, Then::Tile);
        }
        self.rect.tile_flags = flags;
        self.gather(Field::TileFields, fields);
        Ok(())
    }

    fn tight_control(&mut self, control: u8) -> Result<(), FrameError> {
        match rectangle::tight_control(control)? {
            TightNext::Fill => self.skip(u64::from(self.pixel.tight), Then::Rect)?,
            TightNext::Jpeg => self.gather(Field::CompactLength, 1),
            TightNext::Filter => self.gather(Field::TightFilter, 1),
            TightNext::Data => self.tight_data()?,
        }
        Ok(())
    }

    /// The pixel data of a basic Tight rectangle: short data comes as it is, the rest as a
    /// compact length and zlib data.
    fn tight_data(&mut self) -> Result<(), FrameError> {
        let Rect {
            width,
            height,
            palette,
            ..
        } = self.rect;
        let size = rectangle::tight_size(width, height, palette, self.pixel);
        if size < rectangle::TIGHT_MIN_TO_COMPRESS {
            return self.skip(size, Then::Rect);
        }
        self.gather(Field::CompactLength, 1);
        Ok(())
    }

    fn after_skip(&mut self, then: Then) -> Result<(), FrameError> {
        match then {
            Then::Message => self.next_message(),
            // A rectangle is done (or an update's header): the next rectangle, or message.
            Then::Rect if self.rects_left > 0 => {
                self.rects_left -= 1;
                self.gather(Field::RectHeader, 12);
            }
            Then::Rect => self.next_message(),
            Then::Tile => self.next_tile()?,
            Then::TightData => self.tight_data()?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
