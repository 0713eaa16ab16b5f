//! SPICE messages as clients send them, for the tests of this module and of the filters.

/// A link header and message for `channel_type` with the common capabilities `caps`.
pub(crate) fn link_message(channel_type: u8, caps: u32) -> Vec<u8> {
    let mut mess = 7u32.to_le_bytes().to_vec();
    mess.extend_from_slice(&[channel_type, 0]);
    // One word of common capabilities, none of the channel's, right after the fields.
    for word in [1u32, 0, 18, caps] {
        mess.extend_from_slice(&word.to_le_bytes());
    }
    let mut all = b"REDQ".to_vec();
    for word in [2u32, 2, u32::try_from(mess.len()).unwrap_or(u32::MAX)] {
        all.extend_from_slice(&word.to_le_bytes());
    }
    all.extend_from_slice(&mess);
    all
}

/// A message behind a mini header.
pub(crate) fn mini(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut message = kind.to_le_bytes().to_vec();
    message.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    message.extend_from_slice(body);
    message
}
