//! RFB 3.8 and VeNCrypt 0.2 messages: pure decoders and encoders. No I/O.
//!
//! Every decoder returns `Ok(None)` when `input` holds only part of its message ("need more"),
//! and `Ok(Some((value, consumed)))` once it is whole. Lengths read from the peer are checked
//! against small caps before anything is allocated or awaited.

#![allow(
    clippy::indexing_slicing,
    reason = "offsets come from lengths this framer checked first; fuzzed under fuzz/"
)]

use super::error::Error;
use crate::console::printable;

/// What a decoder returns: `Ok(None)` to need more, else the value and the bytes it used.
pub type Decoded<T> = Result<Option<(T, usize)>, Error>;

/// Length of a ProtocolVersion message: `RFB xxx.yyy\n`.
pub const VERSION_LEN: usize = 12;

/// The only protocol version spoken, to both sides.
pub const VERSION_3_8: &[u8; VERSION_LEN] = b"RFB 003.008\n";

/// Longest failure reason read from a server (nova bug #2155052 caps it the same way); a longer
/// one is not read at all, so a hostile length cannot make the proxy wait for or hold 4 GiB.
pub const MAX_REASON_LEN: u32 = 256;

/// The security type numbers, where the decoders' users look for them.
pub use super::security::{self as security, X509_NONE};

/// A ProtocolVersion as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Major version, 3 for every RFB in use.
    pub major: u16,
    /// Minor version: 3, 7 or 8 (and 889 for Apple).
    pub minor: u16,
}

/// Decodes `RFB xxx.yyy\n`.
///
/// # Errors
/// Anything that is not that shape, shown escaped.
pub fn decode_version(input: &[u8]) -> Decoded<Version> {
    let Some(raw) = input.get(..VERSION_LEN) else {
        return Ok(None);
    };
    let bad = || Error::BadVersion(raw.escape_ascii().to_string());
    if &raw[..4] != b"RFB " || raw[7] != b'.' || raw[11] != b'\n' {
        return Err(bad());
    }
    let number = |digits: &[u8]| -> Result<u16, Error> {
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    let version = Version {
        major: number(&raw[4..7])?,
        minor: number(&raw[8..11])?,
    };
    Ok(Some((version, VERSION_LEN)))
}

/// A server's list of security types, or its reason for offering none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityTypes {
    /// The types offered, in the server's order.
    Offered(Vec<u8>),
    /// Count 0: the server refuses, with this reason (`None` when it was too long to read).
    Refused(Option<String>),
}

/// Decodes the RFB 3.8 security-types message (count, types; or 0, reason length, reason).
///
/// # Errors
/// None beyond "need more": every byte value is meaningful. Unknown types are kept, not refused.
pub fn decode_security_types(input: &[u8]) -> Decoded<SecurityTypes> {
    let Some(&count) = input.first() else {
        return Ok(None);
    };
    if count == 0 {
        return Ok(decode_reason(&input[1..])?
            .map(|(reason, used)| (SecurityTypes::Refused(reason), 1 + used)));
    }
    let end = 1 + usize::from(count);
    Ok(input
        .get(1..end)
        .map(|types| (SecurityTypes::Offered(types.to_vec()), end)))
}

/// Decodes a u32 length and that many bytes of reason. A length over [`MAX_REASON_LEN`] yields
/// `None` having consumed only the length: the text is never read.
///
/// # Errors
/// None; reasons that are not UTF-8 are shown lossily.
pub fn decode_reason(input: &[u8]) -> Decoded<Option<String>> {
    let Some(length) = input.get(..4) else {
        return Ok(None);
    };
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
    if length > MAX_REASON_LEN {
        return Ok(Some((None, 4)));
    }
    let end = 4 + length as usize;
    Ok(input
        .get(4..end)
        .map(|text| (Some(printable(&String::from_utf8_lossy(text))), end)))
}

/// The outcome of authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityResult {
    /// 0: authenticated.
    Ok,
    /// 1 (or 2, "too many attempts"), with the server's reason if it was short enough to read.
    Failed(Option<String>),
}

/// Decodes SecurityResult as RFB 3.8 sends it: a u32, then a reason when it is not 0.
///
/// # Errors
/// A status other than 0, 1 or 2.
pub fn decode_security_result(input: &[u8]) -> Decoded<SecurityResult> {
    let Some(status) = input.get(..4) else {
        return Ok(None);
    };
    match u32::from_be_bytes([status[0], status[1], status[2], status[3]]) {
        0 => Ok(Some((SecurityResult::Ok, 4))),
        1 | 2 => Ok(decode_reason(&input[4..])?
            .map(|(reason, used)| (SecurityResult::Failed(reason), 4 + used))),
        other => Err(Error::BadSecurityResult(other)),
    }
}

/// Decodes the VeNCrypt version (two bytes, major and minor).
///
/// # Errors
/// None beyond "need more".
pub fn decode_vencrypt_version(input: &[u8]) -> Decoded<(u8, u8)> {
    Ok(input.get(..2).map(|v| ((v[0], v[1]), 2)))
}

/// Decodes one byte: VeNCrypt's version ack (0 = ok) or subtype accept (1 = accepted), a
/// browser's chosen security type, a ClientInit.
///
/// # Errors
/// None beyond "need more".
pub fn decode_byte(input: &[u8]) -> Decoded<u8> {
    Ok(input.first().map(|&byte| (byte, 1)))
}

/// Decodes the VeNCrypt subtype list: a count, then that many u32. Unknown subtypes are kept,
/// since servers put odd values there (Xvnc lists a plain 1).
///
/// # Errors
/// A count of 0: the server offers nothing to choose.
pub fn decode_vencrypt_subtypes(input: &[u8]) -> Decoded<Vec<u32>> {
    let Some(&count) = input.first() else {
        return Ok(None);
    };
    if count == 0 {
        return Err(Error::NoX509None(Vec::new()));
    }
    let end = 1 + 4 * usize::from(count);
    Ok(input.get(1..end).map(|raw| {
        let subtypes = raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        (subtypes, end)
    }))
}

/// Decodes the 16-byte VNC authentication challenge.
///
/// # Errors
/// None beyond "need more".
pub fn decode_challenge(input: &[u8]) -> Decoded<[u8; 16]> {
    Ok(input
        .get(..16)
        .and_then(|c| c.try_into().ok())
        .map(|c| (c, 16)))
}

/// The RFB 3.8 security-types failure: count 0, then the reason.
pub fn encode_no_security_types(reason: &str) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&encode_reason(reason));
    out
}

/// SecurityResult failed (1) with a reason, as RFB 3.8 sends it.
pub fn encode_security_failure(reason: &str) -> Vec<u8> {
    let mut out = 1u32.to_be_bytes().to_vec();
    out.extend_from_slice(&encode_reason(reason));
    out
}

/// SecurityResult OK.
pub const SECURITY_OK: [u8; 4] = [0, 0, 0, 0];

fn encode_reason(reason: &str) -> Vec<u8> {
    let bytes = reason.as_bytes();
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn peer_reasons_cannot_forge_log_lines() {
        let reason = "denied\n2026-01-01T00:00:00Z INFO session opened\x1b[2J\u{202e}".as_bytes();
        let mut message = (reason.len() as u32).to_be_bytes().to_vec();
        message.extend_from_slice(reason);
        let decoded = decode_reason(&message)
            .ok()
            .flatten()
            .and_then(|(text, _)| text);
        let text = decoded.unwrap_or_default();
        assert!(!text.contains(['\n', '\x1b', '\u{202e}']), "{text}");
        assert!(text.starts_with("denied\\n2026"), "{text}");
    }

    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            decode_version(b"RFB 003.008\n").ok().flatten(),
            Some((Version { major: 3, minor: 8 }, 12))
        );
        assert_eq!(
            decode_version(b"RFB 003.889\nextra").ok().flatten(),
            Some((
                Version {
                    major: 3,
                    minor: 889
                },
                12
            ))
        );
        assert!(matches!(decode_version(b"RFB 003.00"), Ok(None)));
        for bad in [
            &b"HTTP/1.1 200"[..],
            b"RFB 003,008\n",
            b"RFB 0x3.008\n",
            b"RFB 003.008 ",
            b"RFB +03.008\n",
        ] {
            assert!(
                matches!(decode_version(bad), Err(Error::BadVersion(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn security_types_and_refusals() {
        assert_eq!(
            decode_security_types(&[2, 19, 1]).ok().flatten(),
            Some((SecurityTypes::Offered(vec![19, 1]), 3))
        );
        assert!(matches!(decode_security_types(&[2, 19]), Ok(None)));
        let refused = [0, 0, 0, 0, 6, b'c', b'h', b'e', b'e', b's', b'e'];
        assert_eq!(
            decode_security_types(&refused).ok().flatten(),
            Some((SecurityTypes::Refused(Some("cheese".into())), 11))
        );
        // A 4 GiB reason is not read, and nothing waits for it.
        assert_eq!(
            decode_security_types(&[0, 0xff, 0xff, 0xff, 0xff])
                .ok()
                .flatten(),
            Some((SecurityTypes::Refused(None), 5))
        );
        // 257 bytes: just over the cap, not read either.
        assert_eq!(decode_reason(&[0, 0, 1, 1]).ok().flatten(), Some((None, 4)));
        assert!(matches!(decode_reason(&[0, 0, 1, 0]), Ok(None)));
    }

    #[test]
    fn security_results() {
        assert_eq!(
            decode_security_result(&[0, 0, 0, 0]).ok().flatten(),
            Some((SecurityResult::Ok, 4))
        );
        let failed = [0, 0, 0, 1, 0, 0, 0, 2, b'n', b'o'];
        assert_eq!(
            decode_security_result(&failed).ok().flatten(),
            Some((SecurityResult::Failed(Some("no".into())), 10))
        );
        assert!(matches!(
            decode_security_result(&[0, 0, 0, 1, 0, 0]),
            Ok(None)
        ));
        assert!(matches!(
            decode_security_result(&[0, 0, 0, 7]),
            Err(Error::BadSecurityResult(7))
        ));
    }

    #[test]
    fn vencrypt_messages() {
        assert_eq!(
            decode_vencrypt_version(&[0, 2]).ok().flatten(),
            Some(((0, 2), 2))
        );
        let list = [2, 0, 0, 1, 4, 0, 0, 1, 5];
        assert_eq!(
            decode_vencrypt_subtypes(&list).ok().flatten(),
            Some((vec![260, 261], 9))
        );
        assert!(matches!(decode_vencrypt_subtypes(&list[..8]), Ok(None)));
        assert!(matches!(
            decode_vencrypt_subtypes(&[0]),
            Err(Error::NoX509None(_))
        ));
        // Xvnc puts a plain 1 among its subtypes.
        assert_eq!(
            decode_vencrypt_subtypes(&[2, 0, 0, 1, 4, 0, 0, 0, 1])
                .ok()
                .flatten(),
            Some((vec![260, 1], 9))
        );
    }

    #[test]
    fn encoders_match_nova_bytes() {
        // nova's test_fail: \0\0\0\1 \0\0\0\4 blah
        assert_eq!(encode_security_failure("blah"), b"\0\0\0\x01\0\0\0\x04blah");
        assert_eq!(encode_no_security_types("x"), b"\0\0\0\0\x01x");
    }
}
