//! One reply line of VMware's authd (`CODE text\r\n`), decoded from a buffer without I/O. The
//! fuzz target `text_parsers` feeds it arbitrary bytes.

/// The longest line read; anything longer is an error, not a reason to buffer more.
pub const MAX_LINE: usize = 1024;

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The rest of the line, without the line end, made safe for a log.
    pub text: String,
}

/// A line that is not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// No line end within [`MAX_LINE`] bytes.
    #[error("a reply line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The line does not start with three digits and a space (or end there).
    #[error("a reply line without a code")]
    NoCode,
}

impl Reply {
    /// The first word of the text (a thumbprint in the answer to `THUMBPRINT`).
    pub fn first_word(&self) -> &str {
        self.text.split_whitespace().next().unwrap_or_default()
    }
}

/// Decodes the first line of `buffer`: the reply and the bytes it took, or `None` when more
/// bytes are needed.
///
/// # Errors
/// A line too long, or one that is not `NNN text`.
pub fn decode(buffer: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let window = buffer.get(..MAX_LINE).unwrap_or(buffer);
    let Some(end) = window.iter().position(|byte| *byte == b'\n') else {
        return if buffer.len() >= MAX_LINE {
            Err(ReplyError::TooLong)
        } else {
            Ok(None)
        };
    };
    let (line, _) = window.split_at(end);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (digits, rest) = line.split_at(line.len().min(3));
    if digits.len() != 3 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ReplyError::NoCode);
    }
    let text = match rest.split_first() {
        None => &[][..],
        Some((b' ', text)) => text,
        Some(_) => return Err(ReplyError::NoCode),
    };
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    let text = crate::console::printable(&String::from_utf8_lossy(text));
    Ok(Some((Reply { code, text }, end + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_as_authd_sends_them() {
        let banner = b"220 VMware Authentication Daemon Version 1.10: SSL Required\r\n331";
        let (reply, used) = decode(banner).expect("valid").expect("whole");
        assert_eq!(reply.code, 220);
        assert!(reply.text.starts_with("VMware Authentication Daemon"));
        assert_eq!(used, banner.len() - 3);
        let (reply, _) = decode(b"200 AB:CD:EF\n").expect("valid").expect("whole");
        assert_eq!((reply.code, reply.first_word()), (200, "AB:CD:EF"));
        let (reply, _) = decode(b"230\r\n").expect("valid").expect("whole");
        assert_eq!((reply.code, reply.text.as_str()), (230, ""));
    }

    #[test]
    fn partial_long_and_malformed_lines() {
        for prefix in 0..8 {
            assert_eq!(decode(&b"331 Password required\r\n"[..prefix]), Ok(None));
        }
        assert_eq!(decode(&[b'2'; MAX_LINE]), Err(ReplyError::TooLong));
        assert_eq!(decode(&vec![b'x'; 1 << 20]), Err(ReplyError::TooLong));
        for bad in [&b"OK\r\n"[..], b"22 x\n", b"2200 x\n", b"220-more\n", b"\n"] {
            assert_eq!(decode(bad), Err(ReplyError::NoCode), "{bad:?}");
        }
        // Control characters never reach a log.
        let (reply, _) = decode(b"500 a\x1b[31mb\n").expect("valid").expect("whole");
        assert!(!reply.text.contains('\x1b'));
    }
}
