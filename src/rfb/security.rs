//! RFB security type numbers (RFC 6143 §7.1.2 and the IANA registry) and the VeNCrypt
//! subtype the proxy uses. No I/O.

/// Invalid: a server's way to say "failed".
pub const INVALID: u8 = 0;
/// No authentication.
pub const NONE: u8 = 1;
/// VNC authentication (DES challenge-response).
pub const VNC: u8 = 2;
/// VeNCrypt.
pub const VENCRYPT: u8 = 19;

/// VeNCrypt subtype X509None: TLS with an X.509-verified server, then no further auth.
pub const X509_NONE: u32 = 260;
