//! The browser's RFB messages after ClientInit, framed without I/O so that the proxy can pass or
//! drop each whole message (view-only). Every message type noVNC and QEMU's clients send has a
//! length the first bytes tell; any other type ends the session, because its length cannot be
//! known and guessing would let the rest of the stream be read as other messages.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

/// A client message, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessage {
    /// 0: SetPixelFormat.
    SetPixelFormat,
    /// 2: SetEncodings.
    SetEncodings,
    /// 3: FramebufferUpdateRequest.
    FramebufferUpdateRequest,
    /// 4: KeyEvent.
    KeyEvent,
    /// 5: PointerEvent.
    PointerEvent,
    /// 6: ClientCutText, plain or the extended clipboard form (negative length).
    ClientCutText,
    /// 150: EnableContinuousUpdates.
    EnableContinuousUpdates,
    /// 248: Fence.
    Fence,
    /// 250: xvp (power operations: shutdown, reboot, reset).
    Xvp,
    /// 251: SetDesktopSize.
    SetDesktopSize,
    /// 253: gii (input devices).
    Gii,
    /// 255/0: QEMU extended key event.
    QemuKeyEvent,
    /// 255/1: QEMU audio.
    QemuAudio,
}

impl ClientMessage {
    /// Whether the message acts on the guest (input, clipboard, resize, power): what a
    /// view-only viewer may not send.
    pub fn acts(self) -> bool {
        matches!(
            self,
            Self::KeyEvent
                | Self::PointerEvent
                | Self::ClientCutText
                | Self::Xvp
                | Self::SetDesktopSize
                | Self::Gii
                | Self::QemuKeyEvent
        )
    }
}

/// A message that cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A type (or QEMU subtype) whose length is unknown.
    #[error("unknown client message type {0}")]
    UnknownType(u16),
    /// A clipboard or gii message longer than the proxy takes.
    #[error("a client message of {0} bytes, over the limit")]
    TooLong(usize),
}

fn u16_at(buf: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *buf.get(at)?,
        *buf.get(at + 1)?,
    ])))
}

/// The first message of `buf`: its kind and length, or `None` when more bytes are needed.
/// Variable parts longer than `max` are refused.
///
/// # Errors
/// An unknown type, or a message over `max`.
pub fn frame(buf: &[u8], max: usize) -> Result<Option<(ClientMessage, usize)>, FrameError> {
    use ClientMessage as M;
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let fixed = |message, length: usize| Ok((buf.len() >= length).then_some((message, length)));
    match kind {
        0 => fixed(M::SetPixelFormat, 20),
        2 => match u16_at(buf, 2) {
            Some(count) => fixed(M::SetEncodings, 4 + 4 * count),
            None => Ok(None),
        },
        3 => fixed(M::FramebufferUpdateRequest, 10),
        4 => fixed(M::KeyEvent, 8),
        5 => fixed(M::PointerEvent, 6),
        6 => {
            let Some(bytes) = buf.get(4..8) else {
                return Ok(None);
            };
            let length = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            // The extended clipboard form sends its length negated.
            let length = usize::try_from(length.unsigned_abs()).unwrap_or(usize::MAX);
            if length > max {
                return Err(FrameError::TooLong(length));
            }
            fixed(M::ClientCutText, 8 + length)
        }
        150 => fixed(M::EnableContinuousUpdates, 10),
        248 => match buf.get(8) {
            Some(&length) => fixed(M::Fence, 9 + usize::from(length)),
            None => Ok(None),
        },
        250 => fixed(M::Xvp, 4),
        251 => match buf.get(6) {
            Some(&screens) => fixed(M::SetDesktopSize, 8 + 16 * usize::from(screens)),
            None => Ok(None),
        },
        253 => {
            let (Some(&flags), Some(bytes)) = (buf.get(1), buf.get(2..4)) else {
                return Ok(None);
            };
            // Bit 7 of the endian-and-subtype byte: the length is big-endian.
            let length = if flags & 0x80 != 0 {
                u16::from_be_bytes([bytes[0], bytes[1]])
            } else {
                u16::from_le_bytes([bytes[0], bytes[1]])
            };
            let length = usize::from(length);
            if length > max {
                return Err(FrameError::TooLong(length));
            }
            fixed(M::Gii, 4 + length)
        }
        255 => match buf.get(1) {
            None => Ok(None),
            Some(0) => fixed(M::QemuKeyEvent, 12),
            Some(1) => match u16_at(buf, 2) {
                None => Ok(None),
                // Set format carries format, channels and frequency.
                Some(2) => fixed(M::QemuAudio, 10),
                Some(_) => fixed(M::QemuAudio, 4),
            },
            Some(&sub) => Err(FrameError::UnknownType(0xff00 | u16::from(sub))),
        },
        other => Err(FrameError::UnknownType(u16::from(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn every_message_novnc_sends_is_framed_at_every_prefix() {
        let messages: Vec<(Vec<u8>, ClientMessage)> = vec![
            (
                [
                    vec![0u8; 4],
                    vec![32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0],
                ]
                .concat(),
                ClientMessage::SetPixelFormat,
            ),
            (
                vec![2, 0, 0, 2, 0, 0, 0, 7, 0xff, 0xff, 0xfe, 0xe4],
                ClientMessage::SetEncodings,
            ),
            (
                vec![3, 1, 0, 0, 0, 0, 2, 208, 1, 144],
                ClientMessage::FramebufferUpdateRequest,
            ),
            (vec![4, 1, 0, 0, 0, 0, 0, 0x61], ClientMessage::KeyEvent),
            (vec![5, 1, 0, 10, 0, 20], ClientMessage::PointerEvent),
            (
                vec![6, 0, 0, 0, 0, 0, 0, 3, b'a', b'b', b'c'],
                ClientMessage::ClientCutText,
            ),
            (
                vec![6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc, 1, 2, 3, 4],
                ClientMessage::ClientCutText,
            ),
            (
                vec![150, 1, 0, 0, 0, 0, 2, 208, 1, 144],
                ClientMessage::EnableContinuousUpdates,
            ),
            (
                vec![248, 0, 0, 0, 0, 0, 0, 3, 2, 9, 9],
                ClientMessage::Fence,
            ),
            (vec![250, 0, 1, 2], ClientMessage::Xvp),
            (
                [vec![251, 0, 4, 0, 3, 0, 1, 0], vec![0; 16]].concat(),
                ClientMessage::SetDesktopSize,
            ),
            (vec![253, 0x80, 0, 2, 7, 7], ClientMessage::Gii),
            (vec![253, 0x00, 2, 0, 7, 7], ClientMessage::Gii),
            (
                vec![255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30],
                ClientMessage::QemuKeyEvent,
            ),
            (vec![255, 1, 0, 0], ClientMessage::QemuAudio),
            (
                vec![255, 1, 0, 2, 3, 2, 0, 0, 0xac, 0x44],
                ClientMessage::QemuAudio,
            ),
        ];
        for (bytes, kind) in messages {
            for prefix in 0..bytes.len() {
                assert_eq!(
                    frame(&bytes[..prefix], MAX),
                    Ok(None),
                    "{kind:?} at {prefix}"
                );
            }
            let mut stream = bytes.clone();
            stream.extend_from_slice(&[4, 1]);
            assert_eq!(
                frame(&stream, MAX),
                Ok(Some((kind, bytes.len()))),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn unknown_types_and_huge_lengths_are_refused() {
        assert_eq!(frame(&[1, 0, 0], MAX), Err(FrameError::UnknownType(1)));
        assert_eq!(frame(&[7], MAX), Err(FrameError::UnknownType(7)));
        assert_eq!(frame(&[255, 9], MAX), Err(FrameError::UnknownType(0xff09)));
        let huge = [6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(frame(&huge, MAX), Err(FrameError::TooLong(_))));
        let most_negative = [6, 0, 0, 0, 0x80, 0, 0, 0];
        assert!(matches!(
            frame(&most_negative, MAX),
            Err(FrameError::TooLong(_))
        ));
    }

    #[test]
    fn what_a_view_only_viewer_may_not_send() {
        use ClientMessage as M;
        for kind in [
            M::KeyEvent,
            M::PointerEvent,
            M::ClientCutText,
            M::Xvp,
            M::SetDesktopSize,
            M::Gii,
            M::QemuKeyEvent,
        ] {
            assert!(kind.acts(), "{kind:?}");
        }
        for kind in [
            M::SetPixelFormat,
            M::SetEncodings,
            M::FramebufferUpdateRequest,
            M::EnableContinuousUpdates,
            M::Fence,
            M::QemuAudio,
        ] {
            assert!(!kind.acts(), "{kind:?}");
        }
    }
}
