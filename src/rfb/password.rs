//! VNC authentication (security type 2): the DES challenge-response. No I/O.

use des::cipher::{BlockEncrypt, KeyInit};
use des::Des;

use crate::console::Secret;

/// The response to a 16-byte challenge: each half encrypted with DES, keyed by the first eight
/// bytes of the password (zero-padded) with each byte's bits reversed, as every VNC server does.
pub fn response(password: &Secret, challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (slot, byte) in key.iter_mut().zip(password.expose().bytes()) {
        *slot = byte.reverse_bits();
    }
    let cipher = Des::new(&key.into());
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(block.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // From openssl: `openssl enc -des-ecb -K 0e86ceceeef64e26 -nopad` of eight zero bytes,
        // the key being "password" with each byte's bits reversed.
        let answer = response(&Secret::new("password"), &[0u8; 16]);
        assert_eq!(hex::encode(answer), "ff97502e9422f089ff97502e9422f089");
        // Only the first eight bytes count, as in every VNC server.
        assert_eq!(
            response(&Secret::new("password-long"), &[7u8; 16]),
            response(&Secret::new("password"), &[7u8; 16])
        );
    }
}
